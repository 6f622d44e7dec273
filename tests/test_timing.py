"""The benchmarks' shared timing: round order and how rounds become one figure."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from benchmarks._timing import Timing, interleaved
from glovebox.core.cache_v2 import MemoryCache


def recorder(order: list[str], side: str) -> Callable[[], float]:
    def figure() -> float:
        order.append(side)
        return float(len(order))

    return figure


def test_the_baseline_goes_first_in_every_round_by_default() -> None:
    order: list[str] = []
    subject, baseline = interleaved(recorder(order, "s"), recorder(order, "b"), 3)
    assert order == ["b", "s", "b", "s", "b", "s"]
    assert (subject, baseline) == ([2.0, 4.0, 6.0], [1.0, 3.0, 5.0])


def test_alternating_rounds_swap_which_side_goes_first() -> None:
    order: list[str] = []
    interleaved(recorder(order, "s"), recorder(order, "b"), 4, alternate=True)
    assert order == ["b", "s", "s", "b", "b", "s", "s", "b"]


def test_compare_divides_the_summaries_of_each_side(capsys: pytest.CaptureFixture[str]) -> None:
    summarised: list[int] = []

    def summary(figures: Sequence[float]) -> float:
        summarised.append(len(figures))
        return 3.0 if len(summarised) == 1 else 2.0  # the subject's first, then the baseline's

    ratio = Timing(summary=summary, label_width=10).compare("row", abs, abs, rounds=5, ops=10)
    assert summarised == [5, 5]
    assert ratio == 1.5
    assert capsys.readouterr().out.startswith("row        subject")


def test_set_many_speedup_stores_the_whole_batch(capsys: pytest.CaptureFixture[str]) -> None:
    cache = MemoryCache("bench")
    batch = {f"k{i}": i for i in range(20)}
    speedup = Timing().set_many_speedup(cache, batch, rounds=2)
    assert speedup > 0
    assert cache.get_many(batch) == batch
    assert "set_many(20) vs 20 x set" in capsys.readouterr().out
