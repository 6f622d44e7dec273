"""The no-op backend used whenever caching is switched off or storage is unusable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from glovebox.core.cache_v2.cache_manager import MISSING, BaseCache, validate_key, validate_ttl
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import CacheMetadata, CacheStats
from glovebox.core.cache_v2.policy import validate_tag

__all__ = ["DisabledCache"]


class DisabledCache(BaseCache):
    """Stores nothing: every read misses, every write is accepted and forgotten.

    Input is still validated, so code that works against ``DisabledCache`` in tests does
    not break when a real backend is switched on.
    """

    backend = "disabled"
    persistent: Final = False  # stores nothing

    def __init__(self, tag: str | None = None, *, reason: str | None = None) -> None:
        self._tag = validate_tag(tag)
        self.reason = reason
        """Why a cache that was asked for could not be opened (``None``: switched off)."""
        self._key_locks = KeyLocks()

    @property
    def stores(self) -> bool:
        return False

    @property
    def unusable(self) -> str | None:
        return self.reason

    def get(self, key: str, default: Any = None) -> Any:
        key = validate_key(key)
        return default

    def _peek(self, key: str) -> Any:
        return MISSING

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        key = validate_key(key)
        validate_ttl(ttl)

    def exists(self, key: str) -> bool:
        key = validate_key(key)
        return False

    def delete(self, key: str) -> bool:
        key = validate_key(key)
        return False

    def delete_many(self, keys: Iterable[str]) -> int:
        for key in keys:
            validate_key(key)
        return 0

    def clear(self) -> None:
        return None

    def keys(self) -> list[str]:
        return []

    def get_metadata(self, key: str) -> CacheMetadata | None:
        key = validate_key(key)
        return None

    def get_stats(self) -> CacheStats:
        return CacheStats(backend=self.backend, tag=self._tag)

    def cleanup(self) -> int:
        return 0

    def close(self) -> None:
        return None

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        for key in items:
            validate_key(key)
        validate_ttl(ttl)

    def touch(self, key: str, ttl: float | None = None) -> bool:
        key = validate_key(key)
        validate_ttl(ttl)
        return False

    def __repr__(self) -> str:
        return f"DisabledCache(tag={self._tag!r})"
