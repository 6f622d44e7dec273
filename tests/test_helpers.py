"""The shared test helpers fail when what they wait for goes wrong."""

from __future__ import annotations

import threading

import pytest

from glovebox.testing.contract import FakeClock
from tests.helpers import invoke, run_threads


def test_run_threads_calls_the_target_once_per_item_concurrently() -> None:
    seen: list[int] = []
    together = threading.Barrier(3, timeout=30)  # passes only if all three run at once

    def record(item: int) -> None:
        together.wait()
        seen.append(item)

    run_threads(record, over=[1, 2, 3])
    assert sorted(seen) == [1, 2, 3]


def test_run_threads_reraises_what_a_thread_raised() -> None:
    calls: list[int] = []

    def fail_once() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyError("second call")

    with pytest.raises(KeyError, match="second call"):
        run_threads(fail_once, count=3)
    assert len(calls) == 3


def test_run_threads_fails_when_a_thread_outlives_the_timeout() -> None:
    release = threading.Event()

    def block(wait: bool) -> None:
        if wait:
            release.wait(30)

    try:
        with pytest.raises(AssertionError, match=r"1 of 2 threads still running after 0\.2 s"):
            run_threads(block, over=[False, True], timeout=0.2)
    finally:
        release.set()


def test_run_threads_needs_exactly_one_of_count_and_over() -> None:
    with pytest.raises(TypeError, match="exactly one of count= or over="):
        run_threads(print)
    with pytest.raises(TypeError, match="exactly one of count= or over="):
        run_threads(print, count=1, over=[1])


def test_invoke_returns_exit_code_and_both_streams() -> None:
    result = invoke("cache", "no-such-command")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no-such-command" in result.stderr


def test_fake_clock_moves_only_when_advanced() -> None:
    clock = FakeClock()
    start = clock()
    assert clock() == start
    clock.advance(2.5)
    assert clock() == start + 2.5
