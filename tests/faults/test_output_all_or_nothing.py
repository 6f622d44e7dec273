"""``layout compile`` output is all or nothing, even when the disk fills up midway.

A real 32 KiB tmpfs that already holds ``ok.keymap`` receives three layouts whose output
does not fit: the directory must be left exactly as it was (same names, same bytes, same
inode for ``ok.keymap``), with one error line naming the directory and the full disk.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from glovebox.layout import LayoutError, compile_layout
from glovebox.layout.files import write_outputs
from tests.faults.mounts import small_tmpfs
from tests.helpers import GLOVEBOX, env_without_glovebox, run_child
from tests.layout_helpers import make_layout, write_layout

Snapshot = dict[str, tuple[bytes, int]]


def snapshot(directory: Path) -> Snapshot:
    """Every entry of ``directory`` (hidden ones too): its bytes and inode."""
    return {
        path.name: (path.read_bytes(), path.stat().st_ino) for path in sorted(directory.iterdir())
    }


def three_layouts(directory: Path) -> list[Path]:
    """``ok`` is small; ``lt7`` and ``mo9`` carry long titles, so the three do not fit."""
    return [
        write_layout(directory / "ok.json", make_layout(title="ok")),
        write_layout(directory / "lt7.json", make_layout(title="lt7 " * 3000)),
        write_layout(directory / "mo9.json", make_layout(title="mo9 " * 3000)),
    ]


def compile_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = {
        "HOME": str(cwd / "home"),
        "XDG_CACHE_HOME": str(cwd / "xdg-cache"),
        "XDG_CONFIG_HOME": str(cwd / "xdg-config"),
    }
    return run_child(
        [GLOVEBOX, "layout", "compile", *args], cwd=cwd, env=env_without_glovebox(home)
    )


def test_a_full_disk_leaves_the_output_directory_as_it_was(tmp_path: Path) -> None:
    three_layouts(tmp_path)
    with small_tmpfs(tmp_path / "full", "32k") as full:
        (full / "ok.keymap").write_text("the user's own keymap\n", encoding="utf-8")
        before = snapshot(full)
        result = compile_script(tmp_path, "ok.json", "lt7.json", "mo9.json", "full/")
        after = snapshot(full)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert after == before
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: full: cannot write output: No space left on device (the disk is full); "
        "nothing was changed"
    ]
    assert result.stdout == ""


def test_a_full_disk_removes_the_output_directory_it_created(tmp_path: Path) -> None:
    three_layouts(tmp_path)
    with small_tmpfs(tmp_path / "full", "32k") as full:
        result = compile_script(tmp_path, "ok.json", "lt7.json", "mo9.json", "full/new/deeper")
        left = sorted(p.name for p in full.iterdir())
    assert result.returncode == 2, result.stderr
    assert "No space left on device" in result.stderr
    assert left == []


def test_output_that_fits_replaces_the_old_files_and_leaves_nothing_hidden(
    tmp_path: Path,
) -> None:
    sources = three_layouts(tmp_path)
    with small_tmpfs(tmp_path / "roomy", "4m") as roomy:
        (roomy / "ok.keymap").write_text("old\n", encoding="utf-8")
        result = compile_script(tmp_path, "ok.json", "lt7.json", "mo9.json", "roomy")
        names = sorted(p.name for p in roomy.iterdir())
        keymap = (roomy / "ok.keymap").read_text(encoding="utf-8")
    assert result.returncode == 0, result.stderr
    assert names == sorted(f"{s.stem}.{kind}" for s in sources for kind in ("keymap", "conf"))
    assert keymap == compile_layout(sources[0]).keymap


def test_a_rename_failing_midway_puts_back_what_was_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = three_layouts(tmp_path)
    compiled = [(source, compile_layout(source)) for source in sources]
    out = tmp_path / "out"
    out.mkdir()
    (out / "ok.keymap").write_text("mine\n", encoding="utf-8")
    (out / "lt7.conf").write_text("mine too\n", encoding="utf-8")
    before = snapshot(out)
    real_replace = os.replace
    calls: list[Any] = []

    def failing_fourth(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 4:  # ok.keymap, ok.conf, lt7.keymap done; lt7.conf fails
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_fourth)
    with pytest.raises(LayoutError, match=r"out: cannot write output: Input/output error"):
        write_outputs(out, compiled)
    monkeypatch.setattr(os, "replace", real_replace)
    assert snapshot(out) == before
    written = write_outputs(out, compiled)
    assert [keymap.name for keymap, _ in written] == ["ok.keymap", "lt7.keymap", "mo9.keymap"]
    assert (out / "ok.keymap").read_text(encoding="utf-8") == compiled[0][1].keymap
