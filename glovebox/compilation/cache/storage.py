"""On-disk layout of the workspace cache, per-key locks and atomic publication.

Layout under ``<cache root>/compilation/workspace/``::

    <key>/                  a published entry (appears only by rename, complete)
        tree/               the workspace itself
        entry.json          entry id, config, counts (written before publication)
        manifest            dirs, symlinks, files with size/mode/mtime (see manifest.py)
        hardlinked          present once the entry was handed out by hardlink
    .stage-<key>-<nonce>/   an entry being built (never read as cached)
    .trash-<key>-<nonce>/   a replaced or deleted entry being removed
    .locks/<key>.lock       the key's lock (threads and processes)

Guarantees: an entry directory is either absent or complete, because it only ever comes
into existence by ``rename`` of a finished staging directory. Replacing renames the old
entry to trash first, so a reader sees the old entry, nothing, or the new entry. Staging
and trash directories left by a killed process are removed by ``cleanup``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from glovebox.compilation.cache.keying import is_valid_key
from glovebox.errors import WorkspaceError

__all__ = ["ENTRY_FILE", "HARDLINKED_FILE", "MANIFEST_FILE", "TREE_DIR", "WorkspaceStore"]

logger = logging.getLogger(__name__)

TREE_DIR = "tree"
ENTRY_FILE = "entry.json"
MANIFEST_FILE = "manifest"
HARDLINKED_FILE = "hardlinked"
STAGE_PREFIX = ".stage-"
TRASH_PREFIX = ".trash-"
LOCKS_DIR = ".locks"


@dataclass(frozen=True, slots=True)
class Leftover:
    """A staging or trash directory and the key it belonged to."""

    path: Path
    key: str


class WorkspaceStore:
    """Directories, locks and atomic renames of the workspace cache (no metadata)."""

    def __init__(self, root: Path, *, lock_timeout: float = 600.0) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self._held = threading.local()

    def ensure(self) -> None:
        (self.root / LOCKS_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)

    def entry_dir(self, key: str) -> Path:
        if not is_valid_key(key):
            raise WorkspaceError(
                f"invalid workspace key {key!r}: expected '<slug>-<20 hex digits>' as listed "
                "by 'glovebox cache workspace list'"
            )
        return self.root / key

    def tree_dir(self, key: str) -> Path:
        return self.entry_dir(key) / TREE_DIR

    # Locks -----------------------------------------------------------------------------

    @contextmanager
    def lock(
        self, key: str, *, blocking: bool = True, timeout: float | None = None
    ) -> Iterator[bool]:
        """Hold ``key``'s lock; yields False (without holding it) if not blocking and busy.

        A fresh ``FileLock`` per acquisition: its own file descriptor, so the ``flock``
        excludes other threads of this process as well as other processes, and the kernel
        releases it when a holder dies (a SIGKILL never leaves a key locked). Re-entrant
        per thread: a thread already holding ``key`` gets it again at once, so a caller
        may hold a key across several service calls. ``timeout`` (seconds) overrides the
        store's default wait.
        """
        held: dict[str, int] = self._held.__dict__.setdefault("counts", {})
        if held.get(key):
            held[key] += 1
            try:
                yield True
            finally:
                held[key] -= 1
            return
        self.ensure()
        wait = self.lock_timeout if timeout is None else timeout
        lock = FileLock(self.root / LOCKS_DIR / f"{key}.lock", timeout=wait if blocking else 0)
        try:
            lock.acquire()
        except Timeout as exc:
            if not blocking:
                yield False
                return
            raise WorkspaceError(
                f"workspace {key}: still locked after {wait:.0f}s by another operation on it "
                "(a long copy, restore or west download); try again when it has finished"
            ) from exc
        held[key] = 1
        try:
            yield True
        finally:
            held.pop(key, None)
            lock.release()

    # Staging and publication -------------------------------------------------------------

    def new_staging(self, key: str) -> Path:
        """A fresh, empty staging directory for ``key`` (a sibling of the entry)."""
        self.ensure()
        path = self.root / f"{STAGE_PREFIX}{key}-{secrets.token_hex(6)}"
        path.mkdir(mode=0o700)
        return path

    def write_entry_file(self, staging: Path, record: dict[str, Any]) -> None:
        """Write ``entry.json`` durably: it is what binds the directory to its metadata."""
        target = staging / ENTRY_FILE
        with open(target, "w", encoding="utf-8") as out:
            json.dump(record, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())

    def read_entry_file(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self.entry_dir(key) / ENTRY_FILE, encoding="utf-8") as handle:
                data = json.load(handle)
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def publish(self, key: str, staging: Path) -> Path | None:
        """Move ``staging`` into place as ``key``'s entry; returns the replaced entry's trash.

        The caller holds the key's lock and purges the returned trash directory. The old
        entry goes to trash by rename before the new one arrives by rename: never a mix.
        """
        dest = self.entry_dir(key)
        trash = self._to_trash(key, dest) if dest.exists() else None
        os.rename(staging, dest)
        _fsync_dir(self.root)
        return trash

    def remove(self, key: str) -> bool:
        """Take ``key``'s entry out of place (one rename), then delete it. Caller holds the lock."""
        dest = self.entry_dir(key)
        if not dest.exists():
            return False
        trash = self._to_trash(key, dest)
        self.purge(trash)
        return True

    def _to_trash(self, key: str, path: Path) -> Path:
        trash = self.root / f"{TRASH_PREFIX}{key}-{secrets.token_hex(6)}"
        os.rename(path, trash)
        return trash

    def purge(self, path: Path) -> None:
        """Delete a directory that is already out of place (staging or trash)."""
        if path.exists():
            shutil.rmtree(path, onerror=_make_writable_and_retry)

    def mark_hardlinked(self, key: str) -> None:
        (self.entry_dir(key) / HARDLINKED_FILE).touch()

    def is_hardlinked(self, key: str) -> bool:
        return (self.entry_dir(key) / HARDLINKED_FILE).exists()

    # Enumeration -------------------------------------------------------------------------

    def entry_keys(self) -> list[str]:
        """Keys of the published entry directories (the truth about what is stored)."""
        if not self.root.is_dir():
            return []
        return sorted(
            e.name
            for e in os.scandir(self.root)
            if e.is_dir(follow_symlinks=False) and is_valid_key(e.name)
        )

    def leftovers(self) -> list[Leftover]:
        """Staging and trash directories (in progress or abandoned: the key lock tells)."""
        if not self.root.is_dir():
            return []
        found = []
        for e in os.scandir(self.root):
            for prefix in (STAGE_PREFIX, TRASH_PREFIX):
                if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False):
                    key = e.name[len(prefix) :].rsplit("-", 1)[0]
                    found.append(Leftover(Path(e.path), key))
        return found


def _make_writable_and_retry(func: Any, path: str, exc_info: Any) -> None:
    """rmtree error hook: a read-only directory (kept from the workspace) blocks deleting
    its entries for non-root users; grant the owner write access and retry once."""
    parent = os.path.dirname(path)
    for target in (parent, path):
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, stat.S_IMODE(os.stat(target).st_mode) | stat.S_IRWXU)
    func(path)


def _fsync_dir(path: Path) -> None:
    """Persist a rename: without it a power cut could forget the new directory entry."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
