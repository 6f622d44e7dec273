"""The fault campaign's own bookkeeping (benchmarks/faults.py)."""

from __future__ import annotations

from benchmarks.faults import acknowledged


def test_a_cut_off_last_line_acknowledges_nothing() -> None:
    # A writer killed while printing leaves "AC" or "ACK k1-2" (a shorter, wrong key).
    assert acknowledged("ACK k0-1\nERR full\nACK k0-1") == (["k0-1"], ["full"])
    assert acknowledged("ACK") == ([], [])


def test_complete_lines_are_all_counted() -> None:
    assert acknowledged("ACK a\nACK b\n") == (["a", "b"], [])
