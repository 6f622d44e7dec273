"""This process's statistics of one cache, with hit/miss counts batched for persistence.

Counting happens in memory under a lock (a read must not become a write); the owner asks
:meth:`Counters.record_lookup` whether a flush is due, takes the pending counts with
:meth:`take_pending`, and hands them back with :meth:`give_back` if persisting failed, so
no count is lost or added twice.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from glovebox.core.cache_v2.models import CacheStats

__all__ = ["Counters", "CountersSnapshot"]

FLUSH_EVERY_LOOKUPS = 1000
FLUSH_EVERY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CountersSnapshot:
    pending_hits: int
    pending_misses: int
    evictions: int
    errors: int


class Counters:
    """Thread-safe counters; ``pending_*`` are hits/misses not yet persisted."""

    def __init__(
        self,
        flush_every_lookups: int | None = None,
        flush_every_seconds: float | None = None,
    ) -> None:
        # None: the module's FLUSH_EVERY_* as they are now (read at construction).
        self._lock = threading.Lock()
        self._flush_every_lookups = (
            FLUSH_EVERY_LOOKUPS if flush_every_lookups is None else flush_every_lookups
        )
        self._flush_every_seconds = (
            FLUSH_EVERY_SECONDS if flush_every_seconds is None else flush_every_seconds
        )
        self._hits = self._misses = self._lookups = 0
        self._evictions = self._errors = 0
        self._last_flush = time.monotonic()

    def record_lookup(self, hit: bool) -> bool:
        """Count one lookup; True when the pending counts are due to be persisted.

        Due after ``flush_every_lookups`` lookups, or once ``flush_every_seconds`` have
        passed (the clock is read every 64 lookups only, to keep reads cheap).
        """
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1
            lookups = self._lookups = self._lookups + 1
        return lookups >= self._flush_every_lookups or (
            not lookups & 63 and time.monotonic() - self._last_flush > self._flush_every_seconds
        )

    def take_pending(self) -> tuple[int, int]:
        """Hand over the pending (hits, misses) and start counting from zero."""
        with self._lock:
            pending = (self._hits, self._misses)
            self._hits = self._misses = self._lookups = 0
            self._last_flush = time.monotonic()
        return pending

    def give_back(self, hits: int, misses: int) -> None:
        """Return counts whose persistence failed, to be tried again with the next batch."""
        with self._lock:
            self._hits += hits
            self._misses += misses

    def add_evictions(self, count: int) -> None:
        with self._lock:
            self._evictions += count

    def add_error(self) -> None:
        with self._lock:
            self._errors += 1

    def snapshot(self) -> CountersSnapshot:
        with self._lock:
            return CountersSnapshot(self._hits, self._misses, self._evictions, self._errors)

    def stats(
        self,
        backend: str,
        tag: str,
        where: Path | str,
        *,
        stored_hits: int,
        stored_misses: int,
        stored_evictions: int = 0,
        entries: int,
        size_bytes: int,
    ) -> CacheStats:
        """Statistics of a cache: the stored totals plus this process's pending counts.

        ``where`` is the cache's directory, or a description of where a backend without
        one keeps its entries.
        """
        counts = self.snapshot()
        return CacheStats(
            backend=backend,
            tag=tag,
            directory=where if isinstance(where, Path) else None,
            location=where if isinstance(where, str) else None,
            hits=stored_hits + counts.pending_hits,
            misses=stored_misses + counts.pending_misses,
            entries=entries,
            size_bytes=size_bytes,
            evictions=stored_evictions + counts.evictions,
            errors=counts.errors,
        )
