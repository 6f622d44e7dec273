"""The files of one disk cache: the diskcache handle, its value files and what can go wrong.

:class:`DiskStore` is ``diskcache.Cache`` with four guarantees added:

- Bounded waits. diskcache retries a locked database for 60 s while it opens, and without
  bound wherever a caller asks it to retry. Here every retry stops at the configured
  timeout, and a database that is already set up opens without writing, so another process
  holding the write lock delays nobody's reads.
- No memory map. SQLite's memory map turns a file shortened by another process into SIGBUS
  in ours; with ``mmap_size=0`` the same damage is an ordinary error.
- Private files. ``cache.db`` is created 0600 before SQLite sees it (SQLite gives its -wal
  and -shm files the database's mode), value files are made 0600 in directories made 0700.
  The process umask is never touched.
- Checked value files. A value stored in its own file carries its size in the file name;
  a file whose size differs is reported as :class:`DamagedValue` instead of being read.

The directory also holds ``space.reserve``, a small file deleted when the disk is full so
that deleting entries (which appends to SQLite's write-ahead log) can still work.

The failure classifiers (:func:`is_locked`, :func:`is_disk_full`, :func:`is_malformed`)
look through diskcache's ``Timeout`` (raised ``from None`` over the SQLite error) to the cause.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import ENOVAL, UNKNOWN

from glovebox.core.cache_v2.disk_layout import (
    CACHE_DB_NAME,
    CORRUPT_MARKER,
    RESERVE_BYTES,
    RESERVE_NAME,
)

__all__ = [
    "CACHE_DB_NAME",
    "CORRUPT_MARKER",
    "RESERVE_BYTES",
    "RESERVE_NAME",
    "DamagedValue",
    "DiskStore",
    "LockWaitExpired",
    "PrivateDisk",
    "PrivateJSONDisk",
    "current_identity",
    "is_disk_full",
    "is_locked",
    "is_malformed",
    "make_private",
    "move_aside",
    "prepare_files",
    "recovery_lock",
    "release_reserve",
    "unwrap",
]

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700

_SIZED_NAME = re.compile(r"-(\d+)\.val$")


class DamagedValue(Exception):
    """A value file whose size is not the size stored with it (changed behind our back)."""

    def __init__(self, filename: str, expected: int, found: int | None) -> None:
        self.filename = filename
        shown = "missing" if found is None else f"{found} bytes"
        super().__init__(f"value file {filename} holds {shown}, {expected} bytes were stored")


# -- failure classification ----------------------------------------------------------


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def unwrap(exc: BaseException) -> BaseException:
    """The SQLite error under diskcache's bare ``Timeout``, else ``exc`` itself."""
    context = exc.__context__
    if isinstance(exc, diskcache.Timeout) and context is not None:
        return context
    return exc


def _sqlite_says(cause: BaseException, words: str) -> bool:
    return isinstance(cause, sqlite3.OperationalError) and words in str(cause)


def is_locked(exc: BaseException) -> bool:
    """The failure is another connection holding the database lock."""
    return any(
        _sqlite_says(cause, "locked")
        or (isinstance(cause, diskcache.Timeout) and cause.__context__ is None)
        for cause in _causes(exc)
    )


def is_disk_full(exc: BaseException) -> bool:
    return any(
        _sqlite_says(cause, "disk is full")
        or (isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT))
        for cause in _causes(exc)
    )


def is_malformed(exc: BaseException) -> bool:
    """The database file itself is damaged (not locked, not unreadable, not full)."""
    return any(
        isinstance(cause, sqlite3.DatabaseError) and not isinstance(cause, sqlite3.OperationalError)
        for cause in _causes(exc)
    )


# -- file modes and the space reserve ----------------------------------------------------


def make_private(path: Path, mode: int) -> None:
    """``chmod`` ``path`` to ``mode`` if it exists and has other bits (best effort)."""
    try:
        if os.stat(path).st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:
        pass


def _create_private_file(path: Path) -> None:
    # On failure SQLite reports the real problem when it opens the file.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))


def _ensure_reserve(directory: Path) -> None:
    path = directory / RESERVE_NAME
    if path.exists():
        make_private(path, FILE_MODE)
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(RESERVE_BYTES))
    except OSError:
        # No room for it now: try again at the next open rather than keep a partial file.
        path.unlink(missing_ok=True)


def release_reserve(directory: Path) -> bool:
    """Delete the space reserve; True if there was one to free."""
    try:
        (directory / RESERVE_NAME).unlink()
    except OSError:
        return False
    return True


def prepare_files(directory: Path) -> None:
    """Owner-only modes for what SQLite will open, and a space reserve, before opening."""
    with contextlib.suppress(OSError):  # diskcache reports a directory it cannot make
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    make_private(directory, DIR_MODE)
    database = directory / CACHE_DB_NAME
    if not database.exists():
        _create_private_file(database)
    for path in (database, directory / f"{CACHE_DB_NAME}-wal", directory / f"{CACHE_DB_NAME}-shm"):
        make_private(path, FILE_MODE)
    make_private(directory / "locks", DIR_MODE)
    _ensure_reserve(directory)


def move_aside(directory: Path, tag: str, reason: BaseException) -> Path:
    """Rename a damaged cache directory to ``<dir>.corrupt-<UTC stamp>-<pid>``, make a new one.

    Nothing is deleted: the damaged files stay for inspection. Logged as a WARNING.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = directory.with_name(f"{directory.name}{CORRUPT_MARKER}{stamp}-{os.getpid()}")
    logger.warning(
        "cache %r: %s is not a usable database (%s); moved the directory to %s and "
        "started an empty cache",
        tag,
        directory / CACHE_DB_NAME,
        reason,
        aside,
    )
    directory.rename(aside)
    directory.mkdir(mode=DIR_MODE)
    return aside


# -- value files ---------------------------------------------------------------------


class _PrivateCheckedFiles:
    """Mixed into diskcache's ``Disk`` classes: private value files that carry their size."""

    _directory: str

    def filename(self, key: Any = UNKNOWN, value: Any = UNKNOWN) -> tuple[str, str]:
        filename, full_path = super().filename(key, value)  # type: ignore[misc]
        base = Path(self._directory)
        for part in Path(filename).parents[:-1][::-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(base / part, DIR_MODE)
        return filename, full_path

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[Any, ...]:
        size, mode, filename, db_value = super().store(value, read, key=key)  # type: ignore[misc]
        if filename is None:
            return size, mode, filename, db_value
        base = Path(self._directory)
        sized = filename[: -len(".val")] + f"-{size}.val"
        os.rename(base / filename, base / sized)
        os.chmod(base / sized, FILE_MODE)
        # diskcache recreates the directories if another process removed them meanwhile.
        for part in Path(sized).parents[:-1]:
            make_private(base / part, DIR_MODE)
        return size, mode, sized, db_value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if filename is not None:
            match = _SIZED_NAME.search(filename)
            if match is not None:
                expected = int(match.group(1))
                try:
                    found: int | None = os.stat(os.path.join(self._directory, filename)).st_size
                except FileNotFoundError:
                    found = None  # deleted by a concurrent delete: diskcache answers a miss
                if found is not None and found != expected:
                    raise DamagedValue(filename, expected, found)
        return super().fetch(mode, filename, value, read)  # type: ignore[misc]


class PrivateDisk(_PrivateCheckedFiles, diskcache.Disk):  # type: ignore[misc]
    """Pickle serialisation (diskcache's default) with private, size-checked value files."""


class PrivateJSONDisk(_PrivateCheckedFiles, diskcache.JSONDisk):  # type: ignore[misc]
    """JSON serialisation with private, size-checked value files."""


# -- the handle ------------------------------------------------------------------------

# Settings a set-up database must hold to be used without running diskcache's set-up.
_REQUIRED_SETTINGS = ("count", "size", "hits", "misses", "eviction_policy", "size_limit")


class DiskStore(diskcache.Cache):  # type: ignore[misc]
    """``diskcache.Cache`` whose waits for the database lock end after ``timeout`` seconds.

    Opening runs diskcache's set-up (which writes its settings) within the timeout; if the
    lock stays held and the database is already set up, the settings are read instead,
    so the handle works for reads at once and writes report the lock.
    """

    def __init__(self, directory: str, *, timeout: float, disk: type, **settings: Any) -> None:
        self._lock_wait = float(timeout)
        settings["sqlite_mmap_size"] = 0
        started = time.monotonic()
        try:
            super().__init__(directory, timeout=timeout, disk=disk, **settings)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or not self._adopt_set_up(directory, timeout, disk, settings):
                raise LockWaitExpired(time.monotonic() - started) from exc
            logger.debug(
                "cache in %s opened without updating its settings: the database is locked "
                "by another process",
                directory,
            )

    def _adopt_set_up(
        self, directory: str, timeout: float, disk: type, settings: dict[str, Any]
    ) -> bool:
        self.close()
        self._timeout = timeout
        try:
            stored = dict(self._sql("SELECT key, value FROM Settings").fetchall())
            self._sql("SELECT rowid FROM Cache LIMIT 0").fetchall()
            ((page_size,),) = self._sql("PRAGMA page_size").fetchall()
        except sqlite3.Error:
            return False
        if not all(name in stored for name in _REQUIRED_SETTINGS):
            return False
        merged = {**stored, **settings}
        for name, value in merged.items():
            setattr(self, name, value)
        disk_args = {name[5:]: value for name, value in merged.items() if name.startswith("disk_")}
        self._disk = disk(directory, **disk_args)
        self._page_size = page_size
        return True

    def reset(self, key: str, value: Any = ENOVAL, update: bool = True) -> Any:
        # Databases written before the memory map was switched off still store 64 MiB.
        if key == "sqlite_mmap_size" and value is not ENOVAL:
            value = 0
        return super().reset(key, value, update)

    @property
    def _sql_retry(self) -> Callable[..., sqlite3.Cursor]:
        # diskcache's version retries "database is locked" for 60 s; this one for the timeout.
        sql = self._sql
        limit = self._lock_wait

        def execute(statement: str, *args: Any) -> sqlite3.Cursor:
            deadline = time.monotonic() + limit
            while True:
                try:
                    return sql(statement, *args)  # type: ignore[no-any-return]
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(0.001)

        return execute

    def set_busy_timeout(self, seconds: float) -> None:
        """How long this thread's connection lets SQLite wait for a lock."""
        self._sql(f"PRAGMA busy_timeout = {max(0, int(seconds * 1000))}")

    def retry_while_locked(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` (a diskcache call made with ``retry=False``) until it gets the lock.

        SQLite's busy handler waits up to the timeout for each attempt; an attempt that
        fails early is repeated with the time left, so the whole call waits at most the
        timeout. Raises :class:`LockWaitExpired` (chained to the SQLite error) after that.
        """
        started = time.monotonic()
        deadline = started + self._lock_wait
        shortened = False
        try:
            while True:
                try:
                    return call()
                except (sqlite3.OperationalError, diskcache.Timeout) as exc:
                    if not is_locked(exc):
                        raise
                    remaining = deadline - time.monotonic()
                    if remaining <= 0.001:
                        raise LockWaitExpired(time.monotonic() - started) from exc
                    self.set_busy_timeout(remaining)
                    shortened = True
                    time.sleep(min(0.005, remaining / 2))
        finally:
            if shortened:
                self.set_busy_timeout(self._lock_wait)


class LockWaitExpired(Exception):
    """The database stayed locked by another connection for the whole timeout."""

    def __init__(self, waited: float) -> None:
        self.waited = waited
        super().__init__(f"database is locked by another process; waited {waited:.1f} s")


def current_identity(directory: Path) -> tuple[int, int] | None:
    """(device, inode) of the database file now at ``directory``, None if absent."""
    try:
        info = os.stat(directory / CACHE_DB_NAME)
    except OSError:
        return None
    return info.st_dev, info.st_ino


_recovery_lock = threading.Lock()


def recovery_lock() -> threading.Lock:
    """Serialises moving damaged directories aside within this process."""
    return _recovery_lock
