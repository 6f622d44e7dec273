"""The in-process backend (strategy ``memory``): bounded, TTL-aware, least-recently-used.

Values are stored pickled, as on disk, so a caller mutating a value it got back cannot
change the cache, sizes are real, and unpicklable values fail the same way everywhere.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from glovebox.core.cache_v2.cache_manager import MISSING, BaseCache, validate_key, validate_ttl
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import (
    CacheMetadata,
    CacheSettings,
    CacheStats,
    timestamp_to_datetime,
)
from glovebox.core.cache_v2.policy import validate_tag
from glovebox.errors import CacheError, InvalidArgumentError

__all__ = ["MemoryCache", "open_cache"]


@dataclass(slots=True)
class _Entry:
    blob: bytes
    stored_at: float
    expires_at: float | None

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


class MemoryCache(BaseCache):
    """A thread-safe dict-backed cache holding at most ``max_entries`` entries."""

    backend = "memory"
    persistent: Final = False  # entries die with the process

    def __init__(
        self,
        tag: str | None = None,
        *,
        max_entries: int = 10_000,
        default_ttl: float | None = None,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise InvalidArgumentError(
                f"max_entries must be a positive integer, got {max_entries!r}"
            )
        self._tag = validate_tag(tag)
        self._max_entries = max_entries
        self._default_ttl = validate_ttl(default_ttl)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._key_locks = KeyLocks()
        self._hits = self._misses = self._evictions = 0

    def _live_entry(self, key: str, now: float) -> _Entry | None:
        # Expired entries stay until cleanup() (or LRU eviction), so cleanup's count is
        # the number of expired entries, as on disk.
        entry = self._entries.get(key)
        return entry if entry is not None and entry.live(now) else None

    def get(self, key: str, default: Any = None) -> Any:
        key = validate_key(key)
        with self._lock:
            entry = self._live_entry(key, time.time())
            if entry is None:
                self._misses += 1
                return default
            self._hits += 1
            self._entries.move_to_end(key)
            blob = entry.blob
        return pickle.loads(blob)

    def _peek(self, key: str) -> Any:
        with self._lock:
            entry = self._live_entry(key, time.time())
        return MISSING if entry is None else pickle.loads(entry.blob)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.set_many({key: value}, ttl)

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        keyed = {validate_key(key): value for key, value in items.items()}
        checked = validate_ttl(ttl)
        lifetime = self._default_ttl if checked is None else checked
        blobs: dict[str, bytes] = {}
        for key, value in keyed.items():
            try:
                blobs[key] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                raise CacheError(
                    f"cache {self._tag!r} (memory): could not store key {key!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        now = time.time()
        expires = None if lifetime is None else now + lifetime
        with self._lock:
            for key, blob in blobs.items():
                self._entries[key] = _Entry(blob, now, expires)
                self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
                self._evictions += 1

    def exists(self, key: str) -> bool:
        key = validate_key(key)
        with self._lock:
            return self._live_entry(key, time.time()) is not None

    def delete(self, key: str) -> bool:
        return self.delete_many([key]) == 1

    def delete_many(self, keys: Iterable[str]) -> int:
        key_list = [validate_key(key) for key in keys]
        removed = 0
        with self._lock:
            now = time.time()
            for key in key_list:
                if self._live_entry(key, now) is not None:
                    del self._entries[key]
                    removed += 1
        return removed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[str]:
        now = time.time()
        with self._lock:
            return [key for key, entry in self._entries.items() if entry.live(now)]

    def get_metadata(self, key: str) -> CacheMetadata | None:
        key = validate_key(key)
        with self._lock:
            entry = self._live_entry(key, time.time())
        if entry is None:
            return None
        return CacheMetadata(
            key=key,
            stored_at=timestamp_to_datetime(entry.stored_at),
            expires_at=timestamp_to_datetime(entry.expires_at),
            size_bytes=len(entry.blob),
        )

    def get_stats(self) -> CacheStats:
        now = time.time()
        with self._lock:
            live = [entry for entry in self._entries.values() if entry.live(now)]
            return CacheStats(
                backend=self.backend,
                tag=self._tag,
                hits=self._hits,
                misses=self._misses,
                entries=len(live),
                size_bytes=sum(len(entry.blob) for entry in live),
                evictions=self._evictions,
            )

    def touch(self, key: str, ttl: float | None = None) -> bool:
        key = validate_key(key)
        checked = validate_ttl(ttl)
        lifetime = self._default_ttl if checked is None else checked
        with self._lock:
            now = time.time()
            entry = self._live_entry(key, now)
            if entry is None:
                return False
            entry.expires_at = None if lifetime is None else now + lifetime
            return True

    def cleanup(self) -> int:
        now = time.time()
        with self._lock:
            expired = [key for key, entry in self._entries.items() if not entry.live(now)]
            for key in expired:
                del self._entries[key]
        return len(expired)

    def close(self) -> None:
        """Nothing to release; entries stay until the process exits or ``clear()``."""


def open_cache(root: Path, name: str, settings: CacheSettings) -> MemoryCache:
    """The ``memory`` backend's opener (``root`` is unused: entries live in this process)."""
    return MemoryCache(name, default_ttl=settings.default_ttl)
