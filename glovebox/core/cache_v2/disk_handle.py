"""One process's handle on a domain's SQLite store: opening, fork adoption, hit/miss
flushing, bounded lock waits and damage recovery (the base of ``DiskCacheManager``).

Guarantees
- Hit/miss totals are kept in the database's own ``hits``/``misses`` settings, so they add
  up over every process and run. They are counted in memory and added in one short
  transaction per batch; diskcache's built-in statistics would turn every read into a
  write transaction instead.
- Fork-safe: after ``fork()`` the child opens its own SQLite connection on first use and
  never touches (or closes) the parent's.
- Every wait for the database lock ends after the configured timeout (see
  :mod:`glovebox.core.cache_v2.disk_store`): a write then raises ``CacheError`` saying the
  database is locked and how long we waited; statistics are saved without waiting on the
  read path and within the timeout by ``close()``, or else kept (or, at close, dropped
  with a WARNING) but never counted twice.
- Damage is contained: a database found malformed during use is moved aside like one
  found at open and the operation is tried once more on a fresh database; a value file
  whose size changed is a miss and its entry is dropped; when the disk is full, a
  deletion frees the space reserve and is tried once more.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import diskcache

from glovebox.core.cache_v2.cache_manager import _MISSING
from glovebox.core.cache_v2.counters import Counters
from glovebox.core.cache_v2.disk_store import (
    CACHE_DB_NAME,
    DamagedValue,
    DiskStore,
    LockWaitExpired,
    PrivateDisk,
    PrivateJSONDisk,
    current_identity,
    is_disk_full,
    is_locked,
    is_malformed,
    move_aside,
    prepare_files,
    recovery_lock,
    release_reserve,
    unwrap,
)
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import DEFAULT_SETTINGS, CacheSettings
from glovebox.errors import CacheError, UnusableStorageError

__all__ = ["DiskHandle"]

T = TypeVar("T")

# Messages go to the backend's logger: one name to filter for all that DiskCacheManager reports.
logger = logging.getLogger("glovebox.core.cache_v2.diskcache_manager")


class _ForkGeneration:
    """Counts forks in this process lineage; cheaper to compare than calling getpid()."""

    value = 0
    # Connections inherited from a parent are parked here, never closed by the child.
    abandoned: ClassVar[list[object]] = []

    @classmethod
    def bump(cls) -> None:
        cls.value += 1


os.register_at_fork(after_in_child=_ForkGeneration.bump)


class DiskHandle:
    """State and upkeep of one domain's store; the cache operations live in the subclass."""

    def __init__(
        self,
        directory: Path | str,
        *,
        tag: str = "default",
        settings: CacheSettings = DEFAULT_SETTINGS,
    ) -> None:
        self._tag = tag
        self._directory = Path(directory)
        self._settings = settings
        self._size_limit = settings.size_limit_bytes
        self._default_ttl = settings.default_ttl
        self._key_locks = KeyLocks(self._directory / "locks")
        self._closed = False
        self._cache = self._open()
        self._reset_counters()

    # -- lifecycle -----------------------------------------------------------------

    def _open(self) -> DiskStore:
        self._generation = _ForkGeneration.value
        disk = PrivateJSONDisk if self._settings.serializer == "json" else PrivateDisk
        prepare_files(self._directory)
        try:
            store = DiskStore(
                str(self._directory),
                timeout=float(self._settings.timeout),
                disk=disk,
                size_limit=self._size_limit,
                cull_limit=0,
                statistics=0,
                eviction_policy="least-recently-stored",
            )
        except LockWaitExpired as exc:
            if not is_locked(exc):  # not a lock at all: say what it is
                full = is_disk_full(exc) or shutil.disk_usage(self._directory).free < 65536
                raise UnusableStorageError(
                    f"cannot open cache {self._tag!r}: {self._directory / CACHE_DB_NAME}: "
                    f"{exc.__cause__}"
                    + (
                        f"; the disk holding {self._directory} is full: free space there"
                        if full
                        else ""
                    )
                ) from exc
            raise UnusableStorageError(
                f"cannot open cache {self._tag!r}: {self._directory / CACHE_DB_NAME} {exc} "
                f"(the configured timeout is {self._settings.timeout} s)"
            ) from exc
        self._identity = current_identity(self._directory)
        return store

    def _reset_counters(self) -> None:
        self._counters = Counters()
        self._writes_since_size_check = 0

    def _connection(self) -> diskcache.Cache:
        """This process's open diskcache handle; raises ``CacheError`` once closed."""
        self._adopt_after_fork()
        if self._closed:
            raise CacheError(f"cache {self._tag!r} at {self._directory} is closed")
        return self._cache

    def _adopt_after_fork(self) -> None:
        """In a forked child, replace the parent's connection, locks and counters with our own."""
        if self._generation != _ForkGeneration.value:
            self._reopen_after_fork()

    def _reopen_after_fork(self) -> None:
        # The inherited counters and connection belong to the parent: forget them without
        # closing anything, then open this process's own connection.
        _ForkGeneration.abandoned.append(self._cache)
        self._key_locks = KeyLocks(self._directory / "locks")
        self._reset_counters()
        if not self._closed:
            self._cache = self._open()
        else:
            self._generation = _ForkGeneration.value

    def close(self) -> None:
        """Flush counters and close the connection. Safe to call any number of times."""
        self._adopt_after_fork()
        if self._closed:
            return
        hits, misses = self._counters.take_pending()
        if (hits or misses) and not self._save_counts(hits, misses, wait=True):
            logger.warning(
                "cache %r (%s): %d hits and %d misses of this process were not saved "
                "(the database stayed busy or failing for the %s s timeout)",
                self._tag,
                self._directory,
                hits,
                misses,
                self._settings.timeout,
            )
        self._closed = True
        self._cache.close()

    # -- upkeep ------------------------------------------------------------------

    def _read_failed(self, key: str, exc: Exception) -> Any:
        """Log a failed read and deal with damage it revealed; the read is a miss."""
        if isinstance(exc, DamagedValue):
            self._record_error(f"reading key {key!r}", "answered as a miss, entry dropped", exc)
            self._drop_damaged(key, exc.filename)
        else:
            self._record_error(f"reading key {key!r}", "answered as a miss", exc)
            if is_malformed(exc):
                self._recover_damaged(exc)
        return _MISSING

    def _drop_damaged(self, key: str, filename: str) -> None:
        """Remove the entry of ``key`` that points at the damaged value file ``filename``."""
        db = self._connection()

        def drop() -> None:
            db_key, raw = db._disk.put(key)
            with db.transact():
                db._sql(
                    "DELETE FROM Cache WHERE key = ? AND raw = ? AND filename = ?",
                    (db_key, raw, filename),
                )
            db._disk.remove(filename)

        try:
            db.retry_while_locked(drop)
        except Exception as exc:
            self._record_error(f"dropping the damaged entry of key {key!r}", "left in place", exc)

    def _flush_stats(self, *, wait: bool) -> None:
        """Add this process's pending hit/miss counts to the database's totals.

        ``wait=False`` (the read path) tries once without waiting for the lock; counts
        that could not be saved are kept for the next attempt.
        """
        if self._closed:
            return
        hits, misses = self._counters.take_pending()
        if (hits or misses) and not self._save_counts(hits, misses, wait=wait):
            self._counters.give_back(hits, misses)

    def _save_counts(self, hits: int, misses: int, *, wait: bool) -> bool:
        """Add ``hits``/``misses`` to the stored totals in one transaction; False if not done."""
        db = self._connection()

        def add() -> None:
            with db.transact():
                db.reset("hits", int(db.reset("hits")) + hits)
                db.reset("misses", int(db.reset("misses")) + misses)

        try:
            if wait:
                db.retry_while_locked(add)
            else:
                db.set_busy_timeout(0)
                try:
                    add()
                finally:
                    db.set_busy_timeout(self._settings.timeout)
        except Exception as exc:
            if isinstance(exc, LockWaitExpired) or is_locked(exc):
                logger.debug("cache %r: hit/miss counts not saved yet: %s", self._tag, exc)
            else:
                self._record_error(
                    "saving hit/miss counts", "kept in memory for the next attempt", exc
                )
            return False
        return True

    def _write(
        self,
        operation: str,
        key: str | Callable[[], str],
        call: Callable[[DiskStore], T],
        *,
        frees_space: bool = False,
    ) -> T:
        """Run a write with the lock wait bounded; raise ``CacheError`` saying what failed.

        A malformed database is moved aside and the write tried once more on a fresh one;
        a deletion (``frees_space``) that finds the disk full frees the space reserve and
        is tried once more.
        """
        retried = False
        while True:
            db = self._connection()
            try:
                return db.retry_while_locked(lambda db=db: call(db))  # type: ignore[no-any-return]
            except Exception as exc:
                if not retried and is_malformed(exc):
                    self._recover_damaged(exc)
                elif not retried and frees_space and is_disk_full(exc):
                    if not release_reserve(self._directory):
                        raise self._write_error(operation, key, exc) from exc
                    logger.warning(
                        "cache %r: the disk holding %s is full; released the space reserve to %s",
                        self._tag,
                        self._directory,
                        operation,
                    )
                else:
                    raise self._write_error(operation, key, exc) from exc
                retried = True

    def _recover_damaged(self, exc: BaseException) -> None:
        """Move a malformed database aside (once, whichever thread or process sees it first)."""
        with recovery_lock():
            if self._closed:
                return
            if current_identity(self._directory) == self._identity:
                try:
                    move_aside(self._directory, self._tag, exc)
                except OSError as move_error:
                    logger.warning(
                        "cache %r: could not move the damaged %s aside: %s",
                        self._tag,
                        self._directory,
                        move_error,
                    )
                    return
            # Another thread or process already replaced it: use the new database.
            self._cache.close()
            self._key_locks = KeyLocks(self._directory / "locks")
            self._cache = self._open()

    def _record_error(self, failure: str, outcome: str, exc: BaseException) -> None:
        """Count and log a failure the caller recovers from; ``outcome`` says how."""
        self._counters.add_error()
        exc = unwrap(exc)
        logger.warning(
            "cache %r (%s): %s failed (%s: %s); %s",
            self._tag,
            self._directory,
            failure,
            type(exc).__name__,
            exc,
            outcome,
        )

    def _write_error(
        self, operation: str, key: str | Callable[[], str], exc: BaseException
    ) -> CacheError:
        self._counters.add_error()
        key = key if isinstance(key, str) else key()
        where = f"cache {self._tag!r} ({self._directory}): could not {operation} key {key!r}"
        if isinstance(exc, LockWaitExpired):
            return CacheError(
                f"{where}: {self._directory / CACHE_DB_NAME} is locked by another process; "
                f"waited {exc.waited:.1f} s (the configured timeout is {self._settings.timeout} s)"
            )
        if is_disk_full(exc):
            return CacheError(
                f"{where}: the disk is full: no space left for {self._directory}; free space "
                "there or remove entries (glovebox cache clear / cleanup)"
            )
        cause = unwrap(exc)
        return CacheError(f"{where}: {type(cause).__name__}: {cause}")
