"""The workspace cache's entries: directories, their records, locks and atomic publication.

Layout under ``<cache root>/compilation/workspace/``::

    <key>/                  a published entry (appears only by rename, complete)
        tree/               the workspace itself
        entry.json          entry id, config, counts (written before publication)
        manifest            dirs, symlinks, files with size/mode/mtime (see tree.py)
        hardlinked          present once the entry was handed out by hardlink
        used                touched at each restore: its time is the entry's last use
    .stage-<key>-<nonce>/   an entry being built (never read as cached)
    .trash-<key>-<nonce>/   a replaced or deleted entry being removed
    .locks/<key>.lock       the key's lock (threads and processes)

Each entry also has a record in the compilation cache (``workspace:<key>``, with the
entry's TTL): a plain dict of JSON types carrying the ``entry_id`` also written into
``entry.json``. The directory is the truth: an entry is served only when its directory
exists *and* its ``entry.json`` carries the id the record names (:meth:`WorkspaceStore.check`).

Guarantees: an entry directory is either absent or complete, because it only ever comes
into existence by ``rename`` of a finished staging directory (:meth:`WorkspaceStore.publishing`).
Replacing renames the old entry to trash first, so a reader sees the old entry, nothing,
or the new entry. The record is written after the rename: a crash in between leaves a
directory whose id matches no record, which is never served and is removed by cleanup,
as are staging and trash directories left by a killed process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import ValidationError

from glovebox.compilation.cache.models import (
    METADATA_PREFIX,
    WorkspaceConfig,
    WorkspaceEntry,
    is_valid_key,
    metadata_key,
)
from glovebox.compilation.cache.tree import TreeListing, first_difference, scan_tree, write_manifest
from glovebox.core.cache_v2 import CacheManager, replaced_at
from glovebox.errors import GloveboxError, WorkspaceError

__all__ = [
    "ENTRY_FILE",
    "HARDLINKED_FILE",
    "MANIFEST_FILE",
    "TREE_DIR",
    "EntryCheck",
    "EntryState",
    "Leftover",
    "Publication",
    "WorkspaceStore",
]

logger = logging.getLogger(__name__)

TREE_DIR = "tree"
ENTRY_FILE = "entry.json"
MANIFEST_FILE = "manifest"
HARDLINKED_FILE = "hardlinked"
USED_FILE = "used"
STAGE_PREFIX = ".stage-"
TRASH_PREFIX = ".trash-"
LOCKS_DIR = ".locks"


class EntryState(StrEnum):
    """What :meth:`WorkspaceStore.check` found under a key."""

    ABSENT = "absent"  # no live record (a directory without one is cleanup's to remove)
    SERVABLE = "servable"  # directory and record agree (and, if verified, files unchanged)
    IN_FLIGHT = "in-flight"  # they disagree and the lock is not held: maybe mid-publication
    ORPHAN = "orphan"  # a record without its directory, unreadable, or of another entry
    MODIFIED = "modified"  # handed out by hardlink, and a file changed through a link


@dataclass(frozen=True, slots=True)
class EntryCheck:
    """The state of one key, its entry when servable, and why it is not otherwise."""

    state: EntryState
    entry: WorkspaceEntry | None = None
    reason: str = ""


@dataclass(slots=True)
class Publication:
    """The entry being built inside :meth:`WorkspaceStore.publishing`.

    The caller fills ``tree``. If it moved the caller's own directory there, it sets
    ``give_back`` to that directory's path, so a failure renames the tree back.
    """

    staging: Path
    give_back: Path | None = None
    replaced: bool = False
    _entry: WorkspaceEntry | None = field(default=None, repr=False)

    @property
    def tree(self) -> Path:
        return self.staging / TREE_DIR

    @property
    def entry(self) -> WorkspaceEntry:
        """The published entry (available once the ``with`` block has been left)."""
        if self._entry is None:
            raise RuntimeError("the entry is published only when the with block is left")
        return self._entry


@dataclass(frozen=True, slots=True)
class Leftover:
    """A staging or trash directory and the key it belonged to."""

    path: Path
    key: str


class WorkspaceStore:
    """Entries of the workspace cache: directories under ``root`` and records in ``cache``."""

    def __init__(self, root: Path, cache: CacheManager, *, lock_timeout: float) -> None:
        self.root = root
        self.cache = cache
        self.lock_timeout = lock_timeout
        self._held = threading.local()

    def ensure(self) -> None:
        """Create the root and its lock directory (owner-only); refuse a linked lock dir."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        locks = self.root / LOCKS_DIR
        locks.mkdir(exist_ok=True, mode=0o700)
        if locks.is_symlink():
            raise WorkspaceError(
                f"{locks} is a symlink: the workspace cache keeps its locks in a directory of "
                "its own; remove the link and try again"
            )

    def entry_dir(self, key: str) -> Path:
        """``key``'s entry directory; a key of any other shape is refused (never a path)."""
        _require_valid(key)
        return self.root / key

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
        _require_valid(key)  # the lock file's name is built from the key
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
        lock = FileLock(
            self.root / LOCKS_DIR / f"{key}.lock", timeout=wait if blocking else 0, mode=0o600
        )
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

    @contextmanager
    def lock_if_free(self, key: str) -> Iterator[bool]:
        """Hold ``key``'s lock only if nobody holds it, this thread included (never waits).

        For removing an entry nobody is using: :meth:`lock` is re-entrant, so a thread that
        holds ``key`` across a build would otherwise be handed it again.
        """
        held: dict[str, int] = self._held.__dict__.setdefault("counts", {})
        if held.get(key):
            yield False
            return
        with self.lock(key, blocking=False) as acquired:
            yield acquired

    # Staging and publication -------------------------------------------------------------

    @contextmanager
    def publishing(self, key: str, config: WorkspaceConfig, ttl: float) -> Iterator[Publication]:
        """Build ``key``'s next entry in a staging directory and publish it on success.

        Holds the key's lock throughout. The caller fills ``publication.tree`` inside the
        ``with`` block; on leaving it the entry is sealed (manifest and ``entry.json``),
        renamed into place (an older entry goes to trash first), its record written last,
        and the trash purged. On any failure the staging directory is deleted, after a
        moved tree has been handed back, and nothing is published.
        """
        with self.lock(key):
            publication = Publication(self.new_staging(key))
            try:
                yield publication
                trash = self._seal_and_publish(key, config, ttl, publication)
            except BaseException:
                back = publication.give_back
                if back is not None and publication.tree.exists() and not back.exists():
                    os.rename(publication.tree, back)  # the caller's workspace, returned
                self.purge(publication.staging)
                raise
            if trash is not None:
                self.purge(trash)

    def _seal_and_publish(
        self, key: str, config: WorkspaceConfig, ttl: float, publication: Publication
    ) -> Path | None:
        """List and describe the staging directory, publish it, then write its record."""
        staging = publication.staging
        listing = scan_tree(publication.tree)
        write_manifest(listing, staging / MANIFEST_FILE)
        record = _new_record(key, config, listing, ttl)
        self.write_entry_file(staging, record)
        trash = self.publish(key, staging)
        try:
            self.cache.set(metadata_key(key), record, ttl=ttl)
        except BaseException:
            # No record, no entry: take the new one back out and put any older one back.
            os.rename(self.entry_dir(key), staging)
            if trash is not None:
                os.rename(trash, self.entry_dir(key))
            raise
        publication.replaced = trash is not None
        publication._entry = _entry_from_record(record, key, self.root, hardlinked=False)
        return trash

    def new_staging(self, key: str) -> Path:
        """A fresh, empty staging directory for ``key`` (a sibling of the entry)."""
        self.ensure()
        path = self.root / f"{STAGE_PREFIX}{key}-{secrets.token_hex(6)}"
        path.mkdir(mode=0o700)
        return path

    def write_entry_file(self, staging: Path, record: dict[str, Any]) -> None:
        """Write ``entry.json`` durably: it is what binds the directory to its record."""
        fd = os.open(staging / ENTRY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as out:
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
        """Delete ``key``'s directory (one rename out of place, then purge) and its record.

        The caller holds the key's lock. True if there was either.
        """
        dest = self.entry_dir(key)
        removed = dest.exists()
        if removed:
            self.purge(self._to_trash(key, dest))
        return self.cache.delete(metadata_key(key)) or removed

    def _to_trash(self, key: str, path: Path) -> Path:
        trash = self.root / f"{TRASH_PREFIX}{key}-{secrets.token_hex(6)}"
        os.rename(path, trash)
        return trash

    def purge(self, path: Path) -> None:
        """Delete what is already out of place (staging or trash): normally a directory,
        but whatever stood under an entry's name (a file, a symlink) goes too."""
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, onerror=_make_writable_and_retry)

    # Checking ------------------------------------------------------------------------------

    def check(
        self, key: str, *, verify: bool, locked: bool, count_lookup: bool = False
    ) -> EntryCheck:
        """Whether ``key``'s entry can be served, and if not, why.

        ``locked`` says the caller holds the key's lock: a directory and record that
        disagree are then an orphan (no publisher can be between its rename and its
        record), otherwise possibly in flight. ``verify`` compares a hardlinked entry's
        files with its manifest. Nothing is changed: callers decide what to remove.
        ``count_lookup`` counts the record read as a hit or miss of the compilation cache
        (a build looking for its workspace); inspection and cleanup leave the counts alone.
        """
        read = self.cache.get if count_lookup else self.cache.peek
        record = read(metadata_key(key))
        if record is None and verify:
            record = self._readopt(key)
        if record is None:
            return EntryCheck(EntryState.ABSENT)
        marker = self.read_entry_file(key)
        if marker is None:
            return EntryCheck(EntryState.ORPHAN, reason="its directory is missing")
        if not isinstance(record, dict) or marker.get("entry_id") != record.get("entry_id"):
            if not locked:
                return EntryCheck(EntryState.IN_FLIGHT, reason="directory and metadata disagree")
            return EntryCheck(EntryState.ORPHAN, reason="its directory belongs to another entry")
        entry = _entry_from_record(record, key, self.root, hardlinked=self.is_hardlinked(key))
        if entry is None:
            return EntryCheck(EntryState.ORPHAN, reason="its metadata is unreadable")
        if entry.path.is_symlink() or not entry.path.is_dir():
            return EntryCheck(EntryState.ORPHAN, reason=f"its {TREE_DIR}/ directory is missing")
        if verify and entry.hardlinked:
            difference = self.modification(key)
            if difference is not None:
                reason = f"modified through a hardlink ({difference})"
                return EntryCheck(EntryState.MODIFIED, reason=reason)
        return EntryCheck(EntryState.SERVABLE, entry)

    def _readopt(self, key: str) -> dict[str, Any] | None:
        """The record of an entry whose record was lost with a damaged database, rebuilt.

        Only an entry published before the compilation database was replaced (see
        ``replaced_at``), not expired, whose tree matches its manifest, is taken back: its
        ``entry.json`` is the record it was published with. The record is stored again;
        if that fails the entry is still served this once.
        """
        replaced = replaced_at(self.root.parent)
        marker = self.read_entry_file(key) if replaced is not None else None
        if replaced is None or marker is None:
            return None
        entry = _entry_from_record(marker, key, self.root, hardlinked=self.is_hardlinked(key))
        now = datetime.now(UTC)
        if (
            entry is None
            or entry.created_at.timestamp() >= replaced
            or (entry.expires_at is not None and entry.expires_at <= now)
            or entry.path.is_symlink()
            or not entry.path.is_dir()
            or self.modification(key) is not None
        ):
            return None
        ttl = None if entry.expires_at is None else (entry.expires_at - now).total_seconds()
        try:
            self.cache.set(metadata_key(key), marker, ttl=ttl)
        except GloveboxError as exc:
            logger.warning("workspace %s: its lost record could not be stored again: %s", key, exc)
        logger.warning(
            "workspace %s: its record was lost with the damaged compilation database; taken "
            "back after its files matched its manifest",
            key,
        )
        return marker

    def modification(self, key: str) -> str | None:
        """The first way ``key``'s tree differs from its manifest, or None."""
        entry_dir = self.entry_dir(key)
        return first_difference(entry_dir / TREE_DIR, entry_dir / MANIFEST_FILE)

    def mark_hardlinked(self, key: str) -> None:
        (self.entry_dir(key) / HARDLINKED_FILE).touch()

    def mark_used(self, key: str) -> None:
        """Record that ``key``'s entry was just used (best effort: a read-only cache stays so)."""
        with contextlib.suppress(OSError):
            (self.entry_dir(key) / USED_FILE).touch()

    def last_used(self, key: str) -> float:
        """When ``key``'s entry was last restored, else published (epoch seconds; 0 if unknown)."""
        entry_dir = self.entry_dir(key)
        stamps = []
        for name in (USED_FILE, ENTRY_FILE):
            with contextlib.suppress(OSError):
                stamps.append((entry_dir / name).stat().st_mtime)
        return max(stamps, default=0.0)

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

    def recorded_keys(self) -> list[str]:
        """Keys that have a record in the compilation cache (with or without a directory).

        A record under the workspace prefix whose key has another shape was not written by
        this store (``glovebox cache set`` can write anything): it is left alone, with a
        WARNING, and no path is ever built from it.
        """
        keys = []
        for cache_key in self.cache.keys():
            if not cache_key.startswith(METADATA_PREFIX):
                continue
            key = cache_key.removeprefix(METADATA_PREFIX)
            if is_valid_key(key):
                keys.append(key)
            else:
                logger.warning(
                    "compilation cache record %r ignored: not a workspace key "
                    "('<slug>-<20 hex digits>'); delete it with 'glovebox cache delete'",
                    _shorten(cache_key),
                )
        return keys

    def leftovers(self) -> list[Leftover]:
        """Staging and trash directories (in progress or abandoned: the key lock tells)."""
        if not self.root.is_dir():
            return []
        found = []
        for e in os.scandir(self.root):
            for prefix in (STAGE_PREFIX, TRASH_PREFIX):
                if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False):
                    key = e.name[len(prefix) :].rsplit("-", 1)[0]
                    if is_valid_key(key):
                        found.append(Leftover(Path(e.path), key))
                    else:
                        logger.warning(
                            "%s ignored: its name holds no workspace key, so no lock can "
                            "tell whether it is in use; remove it by hand if it is stale",
                            e.path,
                        )
        return found


def _new_record(
    key: str, config: WorkspaceConfig, listing: TreeListing, ttl: float
) -> dict[str, Any]:
    """A fresh record (new entry id) describing ``listing`` as ``key``'s content.

    JSON types only, so reading it back never depends on a class being importable.
    """
    created = datetime.now(UTC)
    return {
        "key": key,
        "entry_id": secrets.token_hex(16),
        "config": config.model_dump(mode="json"),
        "size_bytes": listing.total_bytes,
        "file_count": listing.file_count,
        "created_at": created.isoformat(),
        "expires_at": (created + timedelta(seconds=ttl)).isoformat(),
    }


def _entry_from_record(
    record: Any, key: str, root: Path, *, hardlinked: bool
) -> WorkspaceEntry | None:
    """The entry a record describes, or None if the record is not a valid one."""
    if not isinstance(record, dict):
        return None
    if record.get("key") != key or not is_valid_key(key):
        return None  # a record naming another (or no valid) key describes no entry here
    try:
        expires = record["expires_at"]
        return WorkspaceEntry(
            key=key,
            config=WorkspaceConfig.model_validate(record["config"]),
            path=root / key / TREE_DIR,
            entry_id=record["entry_id"],
            size_bytes=record["size_bytes"],
            file_count=record["file_count"],
            created_at=datetime.fromisoformat(record["created_at"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            hardlinked=hardlinked,
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def _require_valid(key: str) -> None:
    if not is_valid_key(key):
        raise WorkspaceError(
            f"invalid workspace key {_shorten(key)!r}: expected '<slug>-<20 hex digits>' as "
            "listed by 'glovebox cache workspace list'"
        )


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
