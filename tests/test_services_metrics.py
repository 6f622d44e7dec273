"""MetricsService: counters and timings kept in the metrics cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from glovebox.core.cache_v2 import DisabledCache, MemoryCache, create_diskcache_manager
from glovebox.metrics import MetricsService
from tests.helpers import run_threads


def test_counters_persist_in_the_cache(tmp_path: Path) -> None:
    with create_diskcache_manager(tmp_path, "metrics") as cache:
        metrics = MetricsService(cache)
        assert metrics.increment("builds") == 1
        assert metrics.increment("builds", by=2) == 3
    with create_diskcache_manager(tmp_path, "metrics") as cache:
        assert MetricsService(cache).counter("builds") == 3
        assert MetricsService(cache).counter("other") == 0


def test_concurrent_increments_in_one_process_are_not_lost() -> None:
    cache = MemoryCache("metrics")

    def work() -> None:
        for _ in range(200):
            MetricsService(cache).increment("hits")

    run_threads(work, count=8)
    assert MetricsService(cache).counter("hits") == 1600


def test_timings_are_summarised() -> None:
    metrics = MetricsService(MemoryCache("metrics"))
    metrics.record_timing("compile", 2.0)
    metrics.record_timing("compile", 4.0)
    summary = metrics.timing("compile")
    assert (summary.count, summary.total_seconds) == (2, 6.0)
    assert (summary.min_seconds, summary.max_seconds, summary.mean_seconds) == (2.0, 4.0, 3.0)
    assert metrics.timing("never").mean_seconds is None


def test_timed_block_is_recorded_even_when_it_raises() -> None:
    metrics = MetricsService(MemoryCache("metrics"))
    with pytest.raises(RuntimeError, match="boom"), metrics.timed("failing"):
        raise RuntimeError("boom")
    assert metrics.timing("failing").count == 1


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        MetricsService(MemoryCache("metrics")).record_timing("x", -1)


def test_disabled_metrics_keep_nothing() -> None:
    metrics = MetricsService(DisabledCache("metrics"))
    assert metrics.increment("builds") == 0
    metrics.record_timing("compile", 1.0)
    assert metrics.timing("compile").count == 0
