"""The persistent backend: one ``diskcache.Cache`` (SQLite) per domain directory.

Layout: ``<root>/<tag>/cache.db`` per tag; a damaged database (with its ``-wal``/``-shm``
files and value files) is moved aside to ``<root>/<tag>.corrupt-<UTC stamp>-<pid>/``
(never deleted by the engine; ``glovebox cache clear --all`` removes such folders).

:class:`DiskCacheManager` is the whole backend in one class. It composes
:class:`~glovebox.core.cache_v2.backends.disk_store.DiskStore` (diskcache with bounded
lock waits, private and size-checked value files), :class:`Counters` (hit/miss batching)
and :class:`KeyLocks` (the ``get_or_set`` lock files).

Guarantees
- Reads never raise for storage reasons: a failing read is logged, counted as an error
  and answered as a miss. Writes that fail raise ``CacheError`` naming key, tag and cause.
- Size is enforced after every write, whichever process writes: diskcache's cheap
  ``volume()`` (SQLite pages plus the value files' recorded sizes) is compared with the
  limit and, when it is over, the least recently stored entries (never one this write
  stored) are deleted until it is within (:meth:`DiskCacheManager._evict_over_limit`).
  Evictions are added to the database's own ``glovebox_evictions`` setting, so
  ``cache stats`` reports them over every process and run. diskcache's inline culling
  stays off: its ``cull`` deletes ten entries at a time, far past the limit.
- Hit/miss totals are kept in the database's own ``hits``/``misses`` settings, so they add
  up over every process and run. They are counted in memory and added in one short
  transaction per batch; diskcache's built-in statistics would turn every read into a
  write transaction instead.
- Fork-safe: after ``fork()`` the child opens its own SQLite connection on first use and
  never touches (or closes) the parent's (see :mod:`glovebox.core.cache_v2.forks`).
- Every wait for the database lock ends after the configured timeout: a write then raises
  ``CacheError`` saying the database is locked and how long we waited; statistics are
  saved without waiting on the read path and within the timeout by ``close()``, or else
  kept (or, at close, dropped with a WARNING) but never counted twice.
- Damage is contained: a database found malformed (looked at read-only when it is opened,
  or by any operation) makes reads answer misses with one WARNING, and moves nothing; the
  next write moves the damaged database files aside, byte for byte as found, and is tried
  once more on a fresh database. A value file whose size changed is a miss and its entry
  is dropped; when the disk is full, a deletion frees the space reserve and is tried once
  more.

Pickled values are signed with HMAC-SHA256 under the user's key (kept outside the cache
root, see :mod:`glovebox.core.cache_v2.signing`) and verified before they are loaded: a
value that does not verify is a miss, a WARNING and a deletion, and is never unpickled.
Directories are also created private (0700) and an existing root that others can write,
or that another user owns, is refused.

Use of diskcache internals
- The hot read path (:meth:`DiskCacheManager.get`) calls ``DiskStore.lookup``: one
  SELECT on diskcache's ``Cache`` table through this thread's connection (diskcache's
  private ``_local``/``_con``) and the disk's ``fetch``, i.e. ``Cache.get`` without the
  steps this store's settings make useless; that saving pays for verifying signed
  values. It skips the :meth:`_connection` call when the fork generation and the closed
  flag already say the connection is usable.
- Three read-only queries have no public equivalent and run SQL on diskcache's private
  ``_sql`` and ``_disk`` helpers against its ``Cache`` table: ``keys`` (live keys only,
  ``iterkeys`` includes expired ones), ``get_metadata`` (store time and stored size) and
  the live-entry count of ``get_stats`` (``len()`` counts expired entries). Every write
  goes through diskcache's public API (its file handling for large values and its
  size/count triggers stay its own), except eviction for size: it runs in diskcache's
  ``_transact`` (so removed value files are deleted after the commit, as diskcache's own
  ``cull`` does) and keeps its count in a ``Settings`` row of its own.
  The ``diskcache>=5.6,<6`` pin in ``pyproject.toml``
  protects these queries; the backend contract suite exercises each of them.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Final, TypeVar

import diskcache

from glovebox.core.cache_v2.backends.disk_store import (
    CACHE_DB_NAME,
    DamagedStore,
    DamagedValue,
    DiskStore,
    LockWaitExpired,
    PrivateDisk,
    PrivateJSONDisk,
    UntrustedValue,
    current_identity,
    is_disk_full,
    is_locked,
    is_malformed,
    mark_replaced,
    move_aside,
    prepare_files,
    probe_damage,
    recovery_lock,
    release_reserve,
    unwrap,
)
from glovebox.core.cache_v2.cache_manager import (
    MAX_KEY_LENGTH,
    MISSING,
    BaseCache,
    validate_key,
    validate_ttl,
)
from glovebox.core.cache_v2.counters import Counters
from glovebox.core.cache_v2.disk_layout import CORRUPT_MARKER, REPLACED_NAME
from glovebox.core.cache_v2.forks import Forks
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import (
    DEFAULT_SETTINGS,
    CacheMetadata,
    CacheSettings,
    CacheStats,
    timestamp_to_datetime,
)
from glovebox.errors import CacheError, UnusableStorageError

__all__ = ["DiskCacheManager", "open_cache"]

T = TypeVar("T")

# One logger name to filter for all that the disk backend reports (kept from its old module).
logger = logging.getLogger("glovebox.core.cache_v2.diskcache_manager")

EVICTIONS_SETTING = "glovebox_evictions"

_LIVE = "(expire_time IS NULL OR expire_time > ?)"


class DiskCacheManager(BaseCache):
    """A ``CacheManager`` storing entries in ``<directory>/cache.db`` via diskcache."""

    backend = "disk"
    persistent: Final = True  # entries live in SQLite on disk

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def settings(self) -> CacheSettings:
        return self._settings

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
        self._damage: BaseException | None = None
        self._cache: DiskStore | DamagedStore = self._open()
        self._counters = Counters()

    @property
    def damaged(self) -> str | None:
        """Why the database is known to be damaged (reads answer misses; the next write
        moves it aside and starts an empty one), else None."""
        if self._damage is None:
            return None
        return f"{self._directory / CACHE_DB_NAME} is damaged ({unwrap(self._damage)})"

    # -- lifecycle -----------------------------------------------------------------

    def _open(self) -> DiskStore | DamagedStore:
        """This process's handle; a :class:`DamagedStore` if the database is damaged.

        Damage is looked for read-only first, so that diskcache's set-up never writes into
        a damaged file; nothing is moved here (a read must never move anything).
        """
        self._generation = Forks.generation
        disk = PrivateJSONDisk if self._settings.serializer == "json" else PrivateDisk
        prepare_files(self._directory)
        self._identity = current_identity(self._directory)
        damage = probe_damage(self._directory, float(self._settings.timeout))
        if damage is not None:
            return self._damaged_store(damage)
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
        except sqlite3.DatabaseError as exc:
            if not is_malformed(exc):
                raise
            return self._damaged_store(exc)
        self._damage = None
        return store

    def _damaged_store(self, cause: BaseException) -> DamagedStore:
        self._note_damage(cause)
        return DamagedStore(self._directory, cause)

    def _note_damage(self, cause: BaseException) -> None:
        """Remember (and say once per handle) that the database is damaged."""
        if self._damage is not None:
            return
        self._damage = cause
        logger.warning(
            "cache %r: %s is damaged (%s); reads answer misses, and the next write moves it "
            "aside to %s<time>-<pid>/ and starts an empty database",
            self._tag,
            self._directory / CACHE_DB_NAME,
            unwrap(cause),
            self._directory.name + CORRUPT_MARKER,
        )

    def _reset_counters(self) -> None:
        self._counters = Counters()

    def _connection(self) -> diskcache.Cache:
        """This process's open diskcache handle; raises ``CacheError`` once closed."""
        self._adopt_after_fork()
        if self._closed:
            raise CacheError(f"cache {self._tag!r} at {self._directory} is closed")
        return self._cache

    def _adopt_after_fork(self) -> None:
        """In a forked child, replace the parent's connection, locks and counters with our own."""
        if self._generation != Forks.generation:
            self._reopen_after_fork()

    def _reopen_after_fork(self) -> None:
        # The inherited counters and connection belong to the parent: forget them without
        # closing anything, then open this process's own connection.
        Forks.abandoned.append(self._cache)
        self._key_locks = KeyLocks(self._directory / "locks")
        self._reset_counters()
        if not self._closed:
            self._cache = self._open()
        else:
            self._generation = Forks.generation

    def close(self) -> None:
        """Flush counters and close the connection. Safe to call any number of times."""
        self._adopt_after_fork()
        if self._closed:
            return
        hits, misses = self._counters.take_pending()
        if self._damage is not None:
            hits = misses = 0  # no database to add them to: dropped without a word
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
        elif isinstance(exc, UntrustedValue):
            self._record_error(
                f"verifying the value of key {key!r}",
                "it was not loaded; answered as a miss, entry dropped",
                exc,
            )
            self._drop_untrusted(key, exc)
        else:
            self._record_error(f"reading key {key!r}", "answered as a miss", exc)
        return MISSING

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

    def _drop_untrusted(self, key: str, found: UntrustedValue) -> None:
        """Remove the entry of ``key`` holding the value that failed verification.

        Only the row still holding what was read goes: a valid value stored meanwhile by
        another process stays.
        """
        db = self._connection()

        def drop() -> None:
            db_key, raw = db._disk.put(key)
            with db.transact():
                removed = db._sql(
                    "DELETE FROM Cache WHERE key = ? AND raw = ? AND filename IS ? AND value IS ?",
                    (db_key, raw, found.filename, found.inline),
                ).rowcount
            if removed and found.filename is not None:
                db._disk.remove(found.filename)

        try:
            db.retry_while_locked(drop)
        except Exception as exc:
            self._record_error(f"dropping the unverified entry of key {key!r}", "left", exc)

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
        """Move a malformed database aside (once, whichever thread or process sees it first).

        Only writes get here: reads report damage (:meth:`_note_damage`) and move nothing.
        """
        with recovery_lock():
            if self._closed:
                return
            if current_identity(self._directory) == self._identity:
                try:
                    move_aside(self._directory, self._tag, exc, self._cache.close)
                    mark_replaced(self._directory)
                except OSError as move_error:
                    logger.warning(
                        "cache %r: could not move the damaged %s aside: %s",
                        self._tag,
                        self._directory / CACHE_DB_NAME,
                        move_error,
                    )
                    return
            # Moved (by us, another thread or another process): use the new database.
            self._cache.close()
            self._damage = None
            self._cache = self._open()

    def _record_error(self, failure: str, outcome: str, exc: BaseException) -> None:
        """Count and log a failure the caller recovers from; ``outcome`` says how.

        Damage of the database itself is said once (:meth:`_note_damage`), not per call.
        """
        self._counters.add_error()
        if is_malformed(exc):
            self._note_damage(exc)
            return
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

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        # The hot path: kept to one SQLite read plus in-memory counting.
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
            key = validate_key(key)
        if self._generation == Forks.generation and not self._closed:
            try:
                value = self._cache.lookup(key, MISSING)
            except Exception as exc:  # any failure to produce the value is a miss
                value = self._read_failed(key, exc)
        else:
            value = self._read(key)
        if self._counters.record_lookup(value is not MISSING):
            self._flush_stats(wait=False)
        return default if value is MISSING else value

    def _read(self, key: str) -> Any:
        db = self._connection()
        try:
            return db.get(key, MISSING)
        except Exception as exc:  # any failure to produce the value is a miss
            return self._read_failed(key, exc)

    def _peek(self, key: str) -> Any:
        return self._read(key)

    def exists(self, key: str) -> bool:
        key = validate_key(key)
        db = self._connection()
        try:
            return key in db  # diskcache's __contains__ ignores expired entries
        except Exception as exc:
            self._record_error(f"checking key {key!r}", "answered as not cached", exc)
            return False

    def keys(self) -> list[str]:
        """Keys of live entries (expired entries not yet cleaned up are left out)."""
        db = self._connection()
        try:
            rows = db._sql(
                # A key stored pickled is never a key of ours (they are strings): left out.
                f"SELECT key, raw FROM Cache WHERE raw = 1 AND {_LIVE} ORDER BY rowid",
                (time.time(),),
            ).fetchall()
            return [db._disk.get(db_key, raw) for db_key, raw in rows]
        except Exception as exc:
            self._record_error("listing keys", "answered with no keys", exc)
            return []

    def get_metadata(self, key: str) -> CacheMetadata | None:
        """What SQLite holds for ``key``: store time, expiry and stored size in bytes."""
        key = validate_key(key)
        db = self._connection()
        try:
            db_key, raw = db._disk.put(key)
            rows = db._sql(
                "SELECT store_time, expire_time, size, filename, length(value) FROM Cache"
                f" WHERE key = ? AND raw = ? AND {_LIVE}",
                (db_key, raw, time.time()),
            ).fetchall()
        except Exception as exc:
            self._record_error(f"reading metadata of key {key!r}", "answered as no metadata", exc)
            return None
        if not rows:
            return None
        ((store_time, expire_time, size, filename, inline_size),) = rows
        return CacheMetadata(
            key=key,
            stored_at=timestamp_to_datetime(store_time),
            expires_at=timestamp_to_datetime(expire_time),
            size_bytes=size if filename else inline_size,
        )

    def get_stats(self) -> CacheStats:
        self._flush_stats(wait=True)
        db = self._connection()
        try:
            hits, misses = int(db.reset("hits")), int(db.reset("misses"))
            ((entries,),) = db._sql(
                f"SELECT COUNT(*) FROM Cache WHERE {_LIVE}", (time.time(),)
            ).fetchall()
            size = int(db.volume())
            evictions = _stored_evictions(db)
        except Exception as exc:
            self._record_error(
                "reading statistics", "reported zero entries, size and stored hits/misses", exc
            )
            hits = misses = entries = size = evictions = 0
        return self._counters.stats(
            self.backend,
            self._tag,
            self._directory,
            stored_hits=hits,
            stored_misses=misses,
            stored_evictions=evictions,
            entries=entries,
            size_bytes=size,
        )

    def add_evictions(self, count: int) -> None:
        """Add ``count`` to the stored evictions (removals for size made outside the
        database, e.g. the compilation domain's workspaces); never raises."""
        if count <= 0:
            return
        db = self._connection()
        try:
            db.retry_while_locked(lambda: _add_stored_evictions(db, count))
        except Exception as exc:
            self._record_error("counting evictions", "the count was not saved", exc)

    def reset_stats(self) -> None:
        """Set the stored hit/miss totals (and this process's pending counts) to zero."""
        self._counters.take_pending()
        db = self._connection()
        try:
            with db.transact(retry=True):
                db.reset("hits", 0)
                db.reset("misses", 0)
        except Exception as exc:
            self._counters.add_error()
            raise CacheError(
                f"cache {self._tag!r} ({self._directory}): could not reset the hit/miss "
                f"counts: {type(exc).__name__}: {exc}"
            ) from exc

    # -- writes --------------------------------------------------------------------

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        key = validate_key(key)
        expire = self._ttl(ttl)
        self._write("store", key, lambda db: db.set(key, value, expire=expire))
        self._after_writes((key,))

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        """Store every item in one transaction: all are written, or none."""
        checked = {validate_key(key): value for key, value in items.items()}
        expire = self._ttl(ttl)

        current = "<none>"  # the key being stored when a failure happens, for the message

        def store(db: DiskStore) -> None:
            nonlocal current
            with db.transact():
                for key, value in checked.items():
                    current = key
                    db.set(key, value, expire=expire)

        self._write("store (set_many)", lambda: current, store)
        self._after_writes(checked)

    def touch(self, key: str, ttl: float | None = None) -> bool:
        """Give a live entry a new expiry (``None``: the default TTL). False if absent."""
        key = validate_key(key)
        expire = self._ttl(ttl)
        return bool(self._write("touch", key, lambda db: db.touch(key, expire=expire)))

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if a live entry was removed."""
        key = validate_key(key)
        return self.delete_many([key]) == 1

    def delete_many(self, keys: Iterable[str]) -> int:
        """Remove ``keys`` in one transaction; returns how many live entries were removed."""
        key_list = [validate_key(key) for key in keys]

        current = "<none>"  # the key being deleted when a failure happens, for the message

        def remove(db: DiskStore) -> int:
            nonlocal current
            removed = 0
            with db.transact():
                for key in key_list:
                    current = key
                    # diskcache deletes live rows only; expired ones are cleanup()'s job.
                    removed += bool(db.delete(key))
            return removed

        return self._write("delete", lambda: current, remove, frees_space=True)

    def clear(self) -> None:
        """Remove every entry. Hit/miss totals are kept: they describe the cache's history.

        Records lost with a damaged database are no longer taken back from the files that
        predate it (``REPLACED_NAME`` goes): clearing removed them on purpose.
        """
        self._write("clear", "*", lambda db: db.clear(), frees_space=True)
        (self._directory / REPLACED_NAME).unlink(missing_ok=True)

    def cleanup(self) -> int:
        """Remove expired entries, then evict to the size limit. Returns how many went."""

        def clean(db: DiskStore) -> tuple[int, int]:
            # diskcache expires strictly before ``now``; an entry expiring exactly now is
            # already invisible to reads, so it must go too.
            expired = int(db.expire(math.nextafter(time.time(), math.inf)))
            return expired, self._evict(db, ())

        expired, evicted = self._write("cleanup", "*", clean, frees_space=True)
        return expired + evicted

    # -- helpers -------------------------------------------------------------------

    def _ttl(self, ttl: float | None) -> float | None:
        checked = validate_ttl(ttl)
        return self._default_ttl if checked is None else checked

    def _after_writes(self, written: Iterable[str]) -> None:
        """Bring the cache back within its size limit after a write (see :meth:`_evict`).

        One cheap ``volume()`` read when within the limit. A failure is logged and
        counted; the next write (or ``cleanup``) tries again.
        """
        db = self._connection()
        try:
            if _volume(db) > self._size_limit:
                db.retry_while_locked(lambda: self._evict(db, written))
        except Exception as exc:
            self._record_error(
                "evicting to the size limit", "tried again after the next write", exc
            )

    def _evict(self, db: DiskStore, written: Iterable[str]) -> int:
        """Delete least recently stored entries until ``volume()`` is within the limit.

        Runs in one write transaction, so concurrent writers evict one after another and
        each sees the others' entries. The keys in ``written`` (what the caller has just
        stored) are never evicted: a single entry larger than the limit stays until the
        next write. Returns the number evicted, also added to the stored evictions.
        """
        kept = {db._disk.put(key) for key in written}
        evicted = 0
        with db._transact(retry=False) as (sql, cleanup):
            for _round in range(8):  # each round frees what the estimate says is over
                over = _volume(db) - self._size_limit
                if over <= 0:
                    break
                victims: list[tuple[int, str | None]] = []
                freed = 0
                rows = sql(
                    "SELECT rowid, key, raw, filename, size, length(value) FROM Cache"
                    " ORDER BY store_time"
                )
                for rowid, db_key, raw, filename, size, inline in rows:
                    if (db_key, raw) in kept:
                        continue
                    victims.append((rowid, filename))
                    freed += (size if filename else inline or 0) or 1
                    if freed >= over:
                        break
                rows.close()
                if not victims:
                    break
                for start in range(0, len(victims), 500):
                    chunk = victims[start : start + 500]
                    sql(
                        f"DELETE FROM Cache WHERE rowid IN ({','.join('?' * len(chunk))})",
                        [rowid for rowid, _ in chunk],
                    )
                for _, filename in victims:
                    cleanup(filename)
                evicted += len(victims)
            if evicted:
                _add_stored_evictions(db, evicted)
        return evicted

    def _compute_lock(self, key: str) -> AbstractContextManager[None]:
        self._adopt_after_fork()  # a forked child must not hold the parent's locks
        return self._key_locks.hold(key)


def _volume(db: DiskStore) -> int:
    """diskcache's ``volume()`` (database pages plus value bytes) in one statement."""
    ((volume,),) = db._sql(
        "SELECT page_count * ? + (SELECT value FROM Settings WHERE key = 'size')"
        " FROM pragma_page_count()",
        (db._page_size,),
    ).fetchall()
    return int(volume)


def _stored_evictions(db: DiskStore) -> int:
    rows = db._sql("SELECT value FROM Settings WHERE key = ?", (EVICTIONS_SETTING,)).fetchall()
    return int(rows[0][0]) if rows else 0


def _add_stored_evictions(db: DiskStore, count: int) -> None:
    db._sql(
        "INSERT INTO Settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
        (EVICTIONS_SETTING, count),
    )


def _check_private(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise UnusableStorageError(
            f"{path} is owned by uid {info.st_uid}, not by the current user "
            f"(uid {os.geteuid()}); use a cache root you own (chown it or set XDG_CACHE_HOME)"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnusableStorageError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"cached values are unpickled, so fix it with: chmod go-w {path}"
        )


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    # OperationalError covers "locked", "unable to open", "disk I/O": not the file's fault.
    return not isinstance(exc, sqlite3.OperationalError)


def open_cache(root: Path, name: str, settings: CacheSettings) -> DiskCacheManager:
    """The ``disk`` backend's opener: the cache in ``root/name``, made ready in one pass.

    ``root`` and ``root/name`` are created (0700) and vetted once here: owned by the
    current user, not writable by others, usable; otherwise ``UnusableStorageError``. A
    damaged database is moved aside (never deleted) and a fresh one opened.
    """
    directory = root / name
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(root)
        directory.mkdir(mode=0o700, exist_ok=True)
        _check_private(directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise UnusableStorageError(f"{directory} is not writable by the current user")
    except OSError as exc:
        raise UnusableStorageError(
            f"cannot create cache directory {directory}: {exc.strerror or exc}"
        ) from exc
    # A damaged database opens as damaged: reads answer misses and the first write moves
    # it aside (never deleted) and starts an empty one.
    try:
        return DiskCacheManager(directory, tag=name, settings=settings)
    except sqlite3.DatabaseError as exc:
        raise UnusableStorageError(f"cannot open {directory / CACHE_DB_NAME}: {exc}") from exc
    except OSError as exc:
        raise UnusableStorageError(f"cannot open cache in {directory}: {exc}") from exc
