"""Usage counters and timings kept in the metrics domain's cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from glovebox.core.cache_v2 import CacheManager, best_effort

__all__ = ["MetricsService", "TimingSummary"]

# One lock for every MetricsService in the process: services are cheap objects built per
# use, while the counters they update live in one shared cache. Updates from other
# processes are not serialised (metrics are advisory; see docs/decisions.md).
_update_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class TimingSummary:
    count: int = 0
    total_seconds: float = 0.0
    min_seconds: float | None = None
    max_seconds: float | None = None

    @property
    def mean_seconds(self) -> float | None:
        return self.total_seconds / self.count if self.count else None

    def add(self, seconds: float) -> TimingSummary:
        return TimingSummary(
            count=self.count + 1,
            total_seconds=self.total_seconds + seconds,
            min_seconds=seconds if self.min_seconds is None else min(self.min_seconds, seconds),
            max_seconds=seconds if self.max_seconds is None else max(self.max_seconds, seconds),
        )


class MetricsService:
    """Counts events and records durations. With a disabled cache, nothing is kept."""

    def __init__(self, cache: CacheManager) -> None:
        self._cache = cache
        self._store = best_effort(cache)  # a failing cache costs a miss, not the call

    @property
    def cache(self) -> CacheManager:
        return self._cache

    def increment(self, name: str, by: int = 1) -> int:
        """Add ``by`` to counter ``name``; returns the new value (0 forever if disabled)."""
        key = f"counter:{name}"
        with _update_lock:
            value = int(self._store.get(key, 0)) + by
            self._store.set(key, value)
        return int(self._store.get(key, 0))

    def counter(self, name: str) -> int:
        return int(self._store.get(f"counter:{name}", 0))

    def record_timing(self, name: str, seconds: float) -> TimingSummary:
        """Fold one duration into the summary for ``name``."""
        if seconds < 0:
            raise ValueError(f"timing {name!r}: a duration cannot be negative, got {seconds}")
        key = f"timing:{name}"
        with _update_lock:
            summary = self._summary(key).add(seconds)
            self._store.set(key, summary)
        return summary

    def timing(self, name: str) -> TimingSummary:
        return self._summary(f"timing:{name}")

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Record how long the ``with`` block took (also when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record_timing(name, time.perf_counter() - start)

    def _summary(self, key: str) -> TimingSummary:
        value = self._store.get(key)
        return value if isinstance(value, TimingSummary) else TimingSummary()
