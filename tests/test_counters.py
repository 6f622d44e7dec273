"""Batched hit/miss counting: nothing is lost, nothing is counted twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from glovebox.core.cache_v2.counters import Counters
from glovebox.core.cache_v2.models import CacheStats
from tests.helpers import run_threads


def test_a_flush_is_due_after_the_lookup_budget() -> None:
    counters = Counters(flush_every_lookups=3, flush_every_seconds=1e9)
    assert [counters.record_lookup(hit) for hit in (True, False, True)] == [False, False, True]
    assert counters.take_pending() == (2, 1)
    assert counters.take_pending() == (0, 0)


def test_a_flush_is_due_after_the_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    counters = Counters(flush_every_lookups=10**9, flush_every_seconds=5)
    due = [counters.record_lookup(True) for _ in range(64)]
    assert not any(due)
    now[0] += 6
    due = [counters.record_lookup(True) for _ in range(64)]
    assert due.count(True) == 1  # the clock is read on every 64th lookup
    assert counters.take_pending() == (128, 0)


def test_counts_given_back_are_kept_for_the_next_batch() -> None:
    counters = Counters()
    counters.record_lookup(True)
    hits, misses = counters.take_pending()
    counters.record_lookup(False)
    counters.give_back(hits, misses)
    assert counters.take_pending() == (1, 1)


def test_no_count_is_lost_under_concurrent_threads() -> None:
    counters = Counters(flush_every_lookups=10**9)

    def work() -> None:
        for i in range(5000):
            counters.record_lookup(i % 2 == 0)

    run_threads(work, count=8)
    assert counters.take_pending() == (20_000, 20_000)


def test_evictions_and_errors_are_reported_in_snapshots() -> None:
    counters = Counters()
    counters.add_evictions(4)
    counters.add_error()
    counters.record_lookup(False)
    snapshot = counters.snapshot()
    assert (snapshot.pending_hits, snapshot.pending_misses) == (0, 1)
    assert (snapshot.evictions, snapshot.errors) == (4, 1)


def test_stats_add_the_pending_counts_to_the_stored_totals() -> None:
    counters = Counters()
    counters.record_lookup(True)
    counters.record_lookup(False)
    counters.record_lookup(False)
    counters.add_evictions(2)
    counters.add_error()
    stats = counters.stats(
        "disk",
        "layout",
        Path("/somewhere"),
        stored_hits=10,
        stored_misses=20,
        entries=3,
        size_bytes=400,
    )
    assert stats == CacheStats(
        backend="disk",
        tag="layout",
        directory=Path("/somewhere"),
        hits=11,
        misses=22,
        entries=3,
        size_bytes=400,
        evictions=2,
        errors=1,
    )
    remote = counters.stats(
        "redis",
        "layout",
        "redis://host/0 gb:layout:*",
        stored_hits=0,
        stored_misses=0,
        entries=0,
        size_bytes=0,
    )
    assert (remote.directory, remote.location) == (None, "redis://host/0 gb:layout:*")
