"""The firmware result level: finished ``.uf2`` images, keyed by everything that made them.

An entry is a directory ``<compilation>/firmware/<key>/`` holding one ``<board>.uf2`` per
board and ``entry.json`` (sizes and SHA-256 of each image). It is written in a staging
directory and renamed into place, so an entry is complete or absent; a served image is
checked against its recorded digest, so a damaged entry is a miss, never bad firmware.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glovebox.compilation.locks import file_lock, try_file_lock

__all__ = ["FIRMWARE_KEY_VERSION", "FirmwareEntry", "FirmwareStore", "firmware_key"]

FIRMWARE_KEY_VERSION = 1
"""Bump when what goes into a firmware key changes meaning."""

_ENTRY_FILE = "entry.json"
_LOCKS = ".locks"
_REQUESTS = ".requests"
_STAGING = ".staging-"


def firmware_key(
    *,
    keymap: bytes,
    conf: bytes,
    boards: Sequence[str],
    repository: str,
    commit: str,
    runner: str,
    image: str | None,
    generator_version: int,
) -> str:
    """SHA-256 over the firmware's inputs; ``commit`` is the resolved ZMK commit, never a
    branch name, so a branch that moved (and was refreshed) gives a new key."""
    identity = {
        "v": FIRMWARE_KEY_VERSION,
        "keymap": hashlib.sha256(keymap).hexdigest(),
        "conf": hashlib.sha256(conf).hexdigest(),
        "boards": list(boards),
        "repository": repository,
        "commit": commit,
        "runner": runner,
        "image": image,
        "generator": generator_version,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class FirmwareEntry:
    """A stored result: one image path per board, in board order."""

    key: str
    images: dict[str, Path]
    created_at: str
    meta: dict[str, Any]


class FirmwareStore:
    """Stored firmware images under ``root`` (``<cache_path>/compilation/firmware``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _entry_dir(self, key: str) -> Path:
        if len(key) != 40 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a firmware key: {key!r}")
        return self.root / key

    def lock(self, key: str, *, timeout: float) -> contextlib.AbstractContextManager[None]:
        """Held while ``key`` is built: an identical build waits, then is served."""
        self._entry_dir(key)
        return file_lock(
            self.root / _LOCKS / f"{key}.lock",
            timeout=timeout,
            what=f"an identical firmware build ({key[:12]})",
        )

    def get(self, key: str, boards: Sequence[str]) -> FirmwareEntry | None:
        """The complete entry for ``key`` with images for ``boards``, or None."""
        directory = self._entry_dir(key)
        try:
            record = json.loads((directory / _ENTRY_FILE).read_text(encoding="utf-8"))
            recorded = record["images"]
            images = {}
            for board in boards:
                path = directory / f"{board}.uf2"
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() != recorded[board]["sha256"]:
                    return None
                images[board] = path
            entry = FirmwareEntry(key, images, str(record["created_at"]), dict(record["meta"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with contextlib.suppress(OSError):  # the last use, for eviction by size
            os.utime(directory / _ENTRY_FILE)
        return entry

    def last_used(self, key: str) -> float:
        """When ``key`` was last stored or served (epoch seconds; 0 when unknown)."""
        try:
            return (self.root / key / _ENTRY_FILE).stat().st_mtime
        except OSError:
            return 0.0

    def try_hold(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """``key``'s build lock if no build of it runs right now (yields whether it was free)."""
        return try_file_lock(self.root / _LOCKS / f"{key}.lock")

    def put(self, key: str, images: Mapping[str, bytes], meta: Mapping[str, Any]) -> FirmwareEntry:
        """Store ``images`` (board -> bytes) as ``key``; an existing complete entry wins."""
        directory = self._entry_dir(key)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f"{_STAGING}{key[:12]}-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            recorded = {}
            for board, data in images.items():
                _write_synced(staging / f"{board}.uf2", data)
                recorded[board] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            record = {
                "key": key,
                "created_at": datetime.now(UTC).isoformat(),
                "images": recorded,
                "meta": dict(meta),
            }
            _write_synced(staging / _ENTRY_FILE, json.dumps(record, indent=1).encode())
            if directory.exists():
                shutil.rmtree(directory)  # incomplete or damaged (get() refused it)
            os.rename(staging, directory)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        entry = self.get(key, list(images))
        if entry is None:
            raise OSError(f"firmware entry {key} could not be read back after it was written")
        return entry

    def remember_request(self, request: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """Record which workspace a request (options as given) resolved to; best effort.

        Lets a repeat build find its firmware entry without validating the repository
        and revision again (see :func:`glovebox.firmware.hit.served_from_cache`).
        """
        path = self.root / _REQUESTS / f"{_request_digest(request)}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            temporary.write_text(json.dumps(dict(answer)), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            pass

    def recall_request(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """What :meth:`remember_request` recorded for ``request``, or None."""
        path = self.root / _REQUESTS / f"{_request_digest(request)}.json"
        try:
            answer = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return answer if isinstance(answer, dict) else None

    def entries(self) -> Iterator[Path]:
        """Directories of stored entries (complete or not)."""
        if not self.root.is_dir():
            return
        for child in self.root.iterdir():
            if not child.name.startswith(".") and child.is_dir():
                yield child

    def clear(self) -> int:
        """Remove every entry (and leftovers of interrupted writes); returns the count."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for child in self.root.iterdir():
            if child.name == _LOCKS:
                continue
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
                removed += not child.name.startswith(".")
        return removed


def _request_digest(request: Mapping[str, Any]) -> str:
    canonical = json.dumps(dict(request), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
