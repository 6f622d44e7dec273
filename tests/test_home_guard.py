"""The suite's guard against writes below the real home directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import conftest


def test_paths_below_home_are_recognised(tmp_path: Path) -> None:
    home = tmp_path / "me"
    assert conftest.touches_real_home(home / ".cache" / "glovebox", home)
    assert conftest.touches_real_home(str(home), home)
    assert not conftest.touches_real_home(tmp_path / "meme", home)
    assert not conftest.touches_real_home(3, home)


def test_writing_below_the_real_home_is_blocked_and_recorded() -> None:
    target = conftest.REAL_HOME / ".cache" / "glovebox-guard-probe" / "x"
    before = len(conftest.home_writes)
    with pytest.raises(PermissionError, match="real home"):
        target.parent.mkdir(parents=True)
    assert len(conftest.home_writes) == before + 1
    del conftest.home_writes[before:]  # the attempt was this test's own probe
    assert not target.parent.exists()
