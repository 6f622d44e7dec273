"""Timing shared by the benchmarks.

Every figure is measured against a baseline in the same run. Subject and baseline take
turns round by round, so drifting load on the machine hits both alike, and the fastest
round of each side is kept: interference only ever adds time, so the minimum is the best
estimate of a side's own cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from glovebox.core.cache_v2 import CacheManager

__all__ = [
    "best_of",
    "compare",
    "interleaved",
    "per_op_ns",
    "seconds",
    "set_many_speedup",
]


def seconds(action: Callable[[], object]) -> float:
    """Wall time of one call of ``action``."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_of(repeats: int, action: Callable[[], object]) -> float:
    """Fastest of ``repeats`` calls of ``action``, in seconds."""
    return min(seconds(action) for _ in range(repeats))


def per_op_ns(action: Callable[[int], object], ops: int) -> float:
    """Mean nanoseconds of ``action(i)`` over ``i`` in ``range(ops)``."""
    start = time.perf_counter_ns()
    for i in range(ops):
        action(i)
    return (time.perf_counter_ns() - start) / ops


def interleaved(
    subject: Callable[[], float], baseline: Callable[[], float], rounds: int
) -> tuple[list[float], list[float]]:
    """``rounds`` figures of each side, ``(subject, baseline)``, the baseline first each round."""
    subject_figures: list[float] = []
    baseline_figures: list[float] = []
    for _ in range(rounds):
        baseline_figures.append(baseline())
        subject_figures.append(subject())
    return subject_figures, baseline_figures


def compare(
    name: str,
    subject: Callable[[int], object],
    baseline: Callable[[int], object],
    rounds: int,
    ops: int,
) -> float:
    """Best per-op time of ``subject`` over ``baseline``'s, rounds interleaved; prints a row."""
    subject_ns, baseline_ns = interleaved(
        lambda: per_op_ns(subject, ops), lambda: per_op_ns(baseline, ops), rounds
    )
    ratio = min(subject_ns) / min(baseline_ns)
    print(
        f"{name:<34} subject {min(subject_ns) / 1000:8.2f} us"
        f"  baseline {min(baseline_ns) / 1000:8.2f} us  ratio {ratio:5.2f}"
    )
    return ratio


def set_many_speedup(cache: CacheManager, value: Any, rounds: int, *, items: int = 1000) -> float:
    """How many times faster one ``set_many`` of ``items`` entries is than as many ``set``."""
    batch = {f"batch:{i}": value for i in range(items)}

    def one_by_one(_: int) -> None:
        for key in batch:
            cache.set(key, value)

    label = f"set_many({items}) vs {items} x set"
    return 1 / compare(label, lambda _: cache.set_many(batch), one_by_one, rounds, 1)
