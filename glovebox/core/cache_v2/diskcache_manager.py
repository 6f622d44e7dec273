"""The persistent backend: one ``diskcache.Cache`` (SQLite) per domain directory.

Guarantees
- Reads never raise for storage reasons: a failing read is logged, counted as an error
  and answered as a miss. Writes that fail raise ``CacheError`` naming key, tag and cause.
- Size is enforced by :meth:`cleanup` and by a periodic check on the write path (inline
  culling is switched off so that evictions can be counted).
- Hit/miss totals add up over every process and run; the manager is fork-safe; every wait
  for the database lock is bounded by the configured timeout; damage is contained. How
  each of these is kept is stated in :mod:`glovebox.core.cache_v2.disk_handle`, where the
  code that keeps it lives.

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

import math
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Final

from glovebox.core.cache_v2.cache_manager import (
    _MISSING,
    MAX_KEY_LENGTH,
    BaseCache,
    validate_key,
    validate_ttl,
)
from glovebox.core.cache_v2.disk_handle import DiskHandle, _ForkGeneration
from glovebox.core.cache_v2.disk_store import DiskStore
from glovebox.core.cache_v2.models import (
    CacheMetadata,
    CacheSettings,
    CacheStats,
    timestamp_to_datetime,
)
from glovebox.errors import CacheError

__all__ = ["DiskCacheManager"]

SIZE_CHECK_EVERY_WRITES = 256

_LIVE = "(expire_time IS NULL OR expire_time > ?)"


class DiskCacheManager(DiskHandle, BaseCache):
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

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        # The hot path: kept to one SQLite read plus in-memory counting.
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
            key = validate_key(key)
        if self._generation == _ForkGeneration.value and not self._closed:
            try:
                value = self._cache.get(key, _MISSING)
            except Exception as exc:  # any failure to produce the value is a miss
                value = self._read_failed(key, exc)
        else:
            value = self._read(key)
        if self._counters.record_lookup(value is not _MISSING):
            self._flush_stats(wait=False)
        return default if value is _MISSING else value

    def _read(self, key: str) -> Any:
        db = self._connection()
        try:
            return db.get(key, _MISSING)
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
        self._flush_stats(wait=True)
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
        return self._counters.stats(
            self.backend,
            self._tag,
            self._directory,
            stored_hits=hits,
            stored_misses=misses,
            entries=entries,
            size_bytes=size,
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
        self._write("store", key, lambda db: db.set(key, value, expire=expire))
        self._after_writes(1)

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        """Store every item in one transaction: all are written, or none."""
        checked = {validate_key(key): value for key, value in items.items()}
        expire = self._ttl(ttl)

        current = ["<none>"]  # the key being stored when a failure happens

        def store(db: DiskStore) -> None:
            with db.transact():
                for key, value in checked.items():
                    current[0] = key
                    db.set(key, value, expire=expire)

        self._write("store (set_many)", lambda: current[0], store)
        self._after_writes(len(items))

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

        current = ["<none>"]

        def remove(db: DiskStore) -> int:
            removed = 0
            with db.transact():
                for key in key_list:
                    current[0] = key
                    # diskcache deletes live rows only; expired ones are cleanup()'s job.
                    removed += bool(db.delete(key))
            return removed

        return self._write("delete", lambda: current[0], remove, frees_space=True)

    def clear(self) -> None:
        """Remove every entry. Hit/miss totals are kept: they describe the cache's history."""
        self._write("clear", "*", lambda db: db.clear(), frees_space=True)

    def cleanup(self) -> int:
        """Remove expired entries, then cull to the size limit. Returns how many went."""

        def clean(db: DiskStore) -> tuple[int, int]:
            # diskcache expires strictly before ``now``; an entry expiring exactly now is
            # already invisible to reads, so it must go too.
            expired = int(db.expire(math.nextafter(time.time(), math.inf)))
            return expired, int(db.cull())

        expired, culled = self._write("cleanup", "*", clean, frees_space=True)
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
                culled = int(db.retry_while_locked(db.cull))
                self._counters.add_evictions(culled)
        except Exception as exc:
            self._record_error(
                "culling to the size limit",
                f"retried after {SIZE_CHECK_EVERY_WRITES} more writes",
                exc,
            )

    def _compute_lock(self, key: str) -> AbstractContextManager[None]:
        self._adopt_after_fork()  # a forked child must not hold the parent's locks
        return self._key_locks.hold(key)
