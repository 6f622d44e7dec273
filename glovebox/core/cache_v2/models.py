"""Typed results of cache operations: statistics and per-entry metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CacheMetadata", "CacheStats", "DiskCacheConfig"]


class DiskCacheConfig(BaseModel):
    """Settings of one disk-backed cache instance."""

    model_config = ConfigDict(frozen=True)

    directory: Path
    max_size_gb: float = Field(default=2, gt=0)
    timeout: float = Field(default=30, gt=0)
    serializer: str = Field(default="pickle", pattern="^(pickle|json)$")

    @property
    def size_limit_bytes(self) -> int:
        return int(self.max_size_gb * 1024**3)


class CacheStats(BaseModel):
    """Counters of one cache instance.

    ``hits``/``misses`` of a disk cache are the totals persisted in its database (all
    processes, all runs) plus this process's counts not yet flushed. ``evictions`` and
    ``errors`` count what this process saw.
    """

    model_config = ConfigDict(frozen=True)

    backend: str
    tag: str
    directory: Path | None = None
    hits: int = 0
    misses: int = 0
    entries: int = 0
    size_bytes: int = 0
    evictions: int = 0
    errors: int = 0

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups, or ``None`` before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None


class CacheMetadata(BaseModel):
    """What the backend stored about one entry. ``None`` means the backend does not know."""

    model_config = ConfigDict(frozen=True)

    key: str
    stored_at: datetime | None
    expires_at: datetime | None
    size_bytes: int | None

    @property
    def ttl_remaining(self) -> float | None:
        """Seconds until expiry, or ``None`` for entries that never expire."""
        if self.expires_at is None:
            return None
        return (self.expires_at - datetime.now(UTC)).total_seconds()


def timestamp_to_datetime(value: float | None) -> datetime | None:
    """Unix seconds (as stored by the backends) to an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)
