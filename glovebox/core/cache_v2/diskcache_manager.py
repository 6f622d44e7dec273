"""The persistent backend: one ``diskcache.Cache`` (SQLite) per domain directory.

Guarantees
- Reads never raise for storage reasons: a failing read is logged, counted as an error
  and answered as a miss. Writes that fail raise ``CacheError`` naming key, tag and cause.
- Hit/miss totals are kept in the database's own ``hits``/``misses`` settings, so they add
  up over every process and run. They are counted in memory and added in one short
  transaction per batch; diskcache's built-in statistics would turn every read into a
  write transaction instead.
- Size is enforced by :meth:`cleanup` and by a periodic check on the write path (inline
  culling is switched off so that evictions can be counted).
- The manager is fork-safe: after ``fork()`` the child opens its own SQLite connection
  on first use and never touches (or closes) the parent's.

Use of diskcache internals
- The hot read path (:meth:`get`) calls diskcache's public ``Cache.get`` directly, skipping
  only this class's own :meth:`_connection` call when the fork generation and the closed
  flag already say the connection is usable.
- Three read-only queries have no public equivalent and run SQL on diskcache's private
  ``_sql`` and ``_disk`` helpers against its ``Cache`` table: :meth:`keys` (live keys
  only, ``iterkeys`` includes expired ones), :meth:`get_metadata` (store time and stored
  size) and the live-entry count of :meth:`get_stats` (``len()`` counts expired entries).
  Every write goes through diskcache's public API (its file handling for large values and
  its size/count triggers stay its own). The ``diskcache>=5.6,<6`` pin in
  ``pyproject.toml`` protects these queries; the contract tests exercise each of them.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Final

import diskcache

from glovebox.core.cache_v2.cache_manager import (
    _MISSING,
    MAX_KEY_LENGTH,
    BaseCache,
    validate_key,
    validate_ttl,
)
from glovebox.core.cache_v2.counters import Counters
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import (
    DEFAULT_SETTINGS,
    CacheMetadata,
    CacheSettings,
    CacheStats,
    timestamp_to_datetime,
)
from glovebox.errors import CacheError

__all__ = ["DiskCacheManager"]

logger = logging.getLogger(__name__)

SIZE_CHECK_EVERY_WRITES = 256

_LIVE = "(expire_time IS NULL OR expire_time > ?)"


class _ForkGeneration:
    """Counts forks in this process lineage; cheaper to compare than calling getpid()."""

    value = 0
    # Connections inherited from a parent are parked here, never closed by the child.
    abandoned: ClassVar[list[object]] = []

    @classmethod
    def bump(cls) -> None:
        cls.value += 1


os.register_at_fork(after_in_child=_ForkGeneration.bump)


class DiskCacheManager(BaseCache):
    """A ``CacheManager`` storing entries in ``<directory>/cache.db`` via diskcache."""

    backend = "disk"
    persistent: Final = True  # entries live in SQLite on disk

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

    def _open(self) -> diskcache.Cache:
        self._generation = _ForkGeneration.value
        disk = diskcache.JSONDisk if self._settings.serializer == "json" else diskcache.Disk
        return diskcache.Cache(
            str(self._directory),
            timeout=float(self._settings.timeout),
            disk=disk,
            size_limit=self._size_limit,
            cull_limit=0,
            statistics=0,
            eviction_policy="least-recently-stored",
        )

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
        self._flush_stats()
        self._closed = True
        self._cache.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def settings(self) -> CacheSettings:
        return self._settings

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        # The hot path: kept to one SQLite read plus in-memory counting.
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
            key = validate_key(key)
        if self._generation == _ForkGeneration.value and not self._closed:
            try:
                value = self._cache.get(key, _MISSING)
            except Exception as exc:  # any failure to produce the value is a miss
                self._record_error(f"reading key {key!r}", "answered as a miss", exc)
                value = _MISSING
        else:
            value = self._read(key)
        if self._counters.record_lookup(value is not _MISSING):
            self._flush_stats()
        return default if value is _MISSING else value

    def _read(self, key: str) -> Any:
        db = self._connection()
        try:
            return db.get(key, _MISSING)
        except Exception as exc:  # any failure to produce the value is a miss
            self._record_error(f"reading key {key!r}", "answered as a miss", exc)
            return _MISSING

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
                f"SELECT key, raw FROM Cache WHERE {_LIVE} ORDER BY rowid", (time.time(),)
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
        self._flush_stats()
        db = self._connection()
        try:
            hits, misses = int(db.reset("hits")), int(db.reset("misses"))
            ((entries,),) = db._sql(
                f"SELECT COUNT(*) FROM Cache WHERE {_LIVE}", (time.time(),)
            ).fetchall()
            size = int(db.volume())
        except Exception as exc:
            self._record_error(
                "reading statistics", "reported zero entries, size and stored hits/misses", exc
            )
            hits = misses = entries = size = 0
        counts = self._counters.snapshot()
        return CacheStats(
            backend=self.backend,
            tag=self._tag,
            directory=self._directory,
            hits=hits + counts.pending_hits,
            misses=misses + counts.pending_misses,
            entries=entries,
            size_bytes=size,
            evictions=counts.evictions,
            errors=counts.errors,
        )

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
        db = self._connection()
        try:
            db.set(key, value, expire=expire)
        except Exception as exc:
            raise self._write_error("store", key, exc) from exc
        self._after_writes(1)

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        """Store every item in one transaction: all are written, or none."""
        checked = {validate_key(key): value for key, value in items.items()}
        expire = self._ttl(ttl)
        db = self._connection()
        key = "<none>"
        try:
            with db.transact(retry=True):
                for key, value in checked.items():
                    db.set(key, value, expire=expire)
        except Exception as exc:
            raise self._write_error("store (set_many)", key, exc) from exc
        self._after_writes(len(items))

    def touch(self, key: str, ttl: float | None = None) -> bool:
        """Give a live entry a new expiry (``None``: the default TTL). False if absent."""
        key = validate_key(key)
        expire = self._ttl(ttl)
        db = self._connection()
        try:
            return bool(db.touch(key, expire=expire, retry=True))
        except Exception as exc:
            raise self._write_error("touch", key, exc) from exc

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if a live entry was removed."""
        key = validate_key(key)
        return self.delete_many([key]) == 1

    def delete_many(self, keys: Iterable[str]) -> int:
        """Remove ``keys`` in one transaction; returns how many live entries were removed."""
        key_list = [validate_key(key) for key in keys]
        db = self._connection()
        removed = 0
        key = "<none>"
        try:
            with db.transact(retry=True):
                for key in key_list:
                    # diskcache deletes live rows only; expired ones are cleanup()'s job.
                    removed += bool(db.delete(key, retry=True))
        except Exception as exc:
            raise self._write_error("delete", key, exc) from exc
        return removed

    def clear(self) -> None:
        """Remove every entry. Hit/miss totals are kept: they describe the cache's history."""
        db = self._connection()
        try:
            db.clear(retry=True)
        except Exception as exc:
            raise self._write_error("clear", "*", exc) from exc

    def cleanup(self) -> int:
        """Remove expired entries, then cull to the size limit. Returns how many went."""
        db = self._connection()
        try:
            # diskcache expires strictly before ``now``; an entry expiring exactly now is
            # already invisible to reads, so it must go too.
            expired = int(db.expire(math.nextafter(time.time(), math.inf), retry=True))
            culled = int(db.cull(retry=True))
        except Exception as exc:
            raise self._write_error("cleanup", "*", exc) from exc
        self._counters.add_evictions(culled)
        return expired + culled

    # -- helpers -------------------------------------------------------------------

    def _ttl(self, ttl: float | None) -> float | None:
        checked = validate_ttl(ttl)
        return self._default_ttl if checked is None else checked

    def _after_writes(self, count: int) -> None:
        self._writes_since_size_check += count
        if self._writes_since_size_check < SIZE_CHECK_EVERY_WRITES:
            return
        self._writes_since_size_check = 0
        db = self._connection()
        try:
            if db.volume() > self._size_limit:
                culled = int(db.cull(retry=True))
                self._counters.add_evictions(culled)
        except Exception as exc:
            self._record_error(
                "culling to the size limit",
                f"retried after {SIZE_CHECK_EVERY_WRITES} more writes",
                exc,
            )

    def _flush_stats(self) -> None:
        """Add this process's pending hit/miss counts to the database's totals."""
        hits, misses = self._counters.take_pending()
        if not (hits or misses) or self._closed:
            return
        db = self._connection()
        try:
            with db.transact(retry=True):
                db.reset("hits", int(db.reset("hits")) + hits)
                db.reset("misses", int(db.reset("misses")) + misses)
        except Exception as exc:
            # Keep the counts for the next attempt rather than losing them.
            self._counters.give_back(hits, misses)
            self._record_error("saving hit/miss counts", "kept in memory for the next attempt", exc)

    def _record_error(self, failure: str, outcome: str, exc: BaseException) -> None:
        """Count and log a failure the caller recovers from; ``outcome`` says how."""
        self._counters.add_error()
        logger.warning(
            "cache %r (%s): %s failed (%s: %s); %s",
            self._tag,
            self._directory,
            failure,
            type(exc).__name__,
            exc,
            outcome,
        )

    def _write_error(self, operation: str, key: str, exc: BaseException) -> CacheError:
        self._counters.add_error()
        return CacheError(
            f"cache {self._tag!r} ({self._directory}): could not {operation} key {key!r}: "
            f"{type(exc).__name__}: {exc}"
        )

    def _compute_lock(self, key: str) -> AbstractContextManager[None]:
        self._adopt_after_fork()  # a forked child must not hold the parent's locks
        return self._key_locks.hold(key)
