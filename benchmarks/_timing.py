"""Timing shared by the benchmarks.

Every figure is measured against a baseline in the same run. Subject and baseline take
turns round by round, so drifting load on the machine hits both alike, and the fastest
round of each side is kept: interference only ever adds time, so the minimum is the best
estimate of a side's own cost.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glovebox.core.cache_v2 import CacheManager

__all__ = [
    "FASTEST",
    "Timing",
    "best_of",
    "interleaved",
    "per_op_ns",
    "print_ratios",
    "rounds_and_ops",
    "seconds",
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
    subject: Callable[[], float],
    baseline: Callable[[], float],
    rounds: int,
    *,
    alternate: bool = False,
) -> tuple[list[float], list[float]]:
    """``rounds`` figures of each side, ``(subject, baseline)``.

    The baseline goes first each round; with ``alternate``, the subject goes first in
    every second round.
    """
    subject_figures: list[float] = []
    baseline_figures: list[float] = []
    for round_ in range(rounds):
        if alternate and round_ % 2:
            subject_figures.append(subject())
            baseline_figures.append(baseline())
        else:
            baseline_figures.append(baseline())
            subject_figures.append(subject())
    return subject_figures, baseline_figures


@dataclass(frozen=True)
class Timing:
    """How a benchmark runs its rounds and summarises them into one figure per side."""

    summary: Callable[[Sequence[float]], float] = min
    alternate: bool = False
    label_width: int = 34

    def compare(
        self,
        name: str,
        subject: Callable[[int], object],
        baseline: Callable[[int], object],
        rounds: int,
        ops: int,
    ) -> float:
        """Per-op time of ``subject`` over ``baseline``'s, rounds interleaved; prints a row."""
        subject_ns, baseline_ns = (
            self.summary(figures)
            for figures in interleaved(
                lambda: per_op_ns(subject, ops),
                lambda: per_op_ns(baseline, ops),
                rounds,
                alternate=self.alternate,
            )
        )
        ratio = subject_ns / baseline_ns
        print(
            f"{name:<{self.label_width}} subject {subject_ns / 1000:9.2f} us"
            f"  baseline {baseline_ns / 1000:9.2f} us  ratio {ratio:5.2f}"
        )
        return ratio

    def set_many_speedup(
        self, cache: CacheManager, batch: Mapping[str, Any], rounds: int, label: str = ""
    ) -> float:
        """How many times faster one ``set_many(batch)`` is than a ``set`` per item."""

        def one_by_one(_: int) -> None:
            for key, value in batch.items():
                cache.set(key, value)

        label = label or f"set_many({len(batch)}) vs {len(batch)} x set"
        return 1 / self.compare(label, lambda _: cache.set_many(batch), one_by_one, rounds, 1)


FASTEST = Timing()


def rounds_and_ops(description: str | None, rounds: int, ops: int = 2000) -> tuple[int, int]:
    """``--rounds`` and ``--ops`` from the command line (defaults as given)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--ops", type=int, default=ops)
    args = parser.parse_args()
    return int(args.rounds), int(args.ops)


def print_ratios(ratios: Mapping[str, float]) -> None:
    """The figures again as ``name=value`` lines, after the table."""
    print()
    for name, value in ratios.items():
        print(f"{name}={value:.2f}")
