"""``glovebox layout compile|show`` end to end: in process and through the installed script."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import glovebox.layout.files as layout_files
from glovebox.layout import LayoutError
from glovebox.testing import IsolatedConfig
from tests.helpers import GLOVEBOX, env_without_glovebox, invoke, run_child
from tests.layout_helpers import binding, make_layout, write_layout


def run_script(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    home = {
        "HOME": str(cwd / "home"),
        "XDG_CACHE_HOME": str(cwd / "xdg-cache"),
        "XDG_CONFIG_HOME": str(cwd / "xdg-config"),
    }
    return run_child([GLOVEBOX, *args], cwd=cwd, env=env_without_glovebox({**home, **env}))


def test_the_specs_debug_command_works_as_written(tmp_path: Path) -> None:
    write_layout(tmp_path / "input.json", make_layout(title="Spec"))
    first = run_script(tmp_path, "--debug", "layout", "compile", "input.json", "output/")
    assert first.returncode == 0, first.stderr
    cache_root = (tmp_path / "xdg-cache" / "glovebox").resolve()
    assert f"Creating new shared cache instance: {cache_root}:layout" in first.stderr
    assert "compiled (not in the cache)" in first.stderr
    assert "(compiled)" in first.stdout
    keymap = (tmp_path / "output" / "input.keymap").read_text(encoding="utf-8")
    assert " * Spec\n" in keymap
    assert (tmp_path / "output" / "input.conf").is_file()

    second = run_script(tmp_path, "--debug", "layout", "compile", "input.json", "output/")
    assert second.returncode == 0, second.stderr
    assert "served from the layout cache" in second.stderr
    assert "(from cache)" in second.stdout
    assert (tmp_path / "output" / "input.keymap").read_text(encoding="utf-8") == keymap


def test_script_with_layout_cache_disabled_compiles_and_stores_nothing(tmp_path: Path) -> None:
    write_layout(tmp_path / "input.json", make_layout())
    for _ in range(2):
        result = run_script(
            tmp_path, "layout", "compile", "input.json", "out", GLOVEBOX_CACHE_LAYOUT="disabled"
        )
        assert result.returncode == 0, result.stderr
        assert "(compiled)" in result.stdout
    assert (tmp_path / "out" / "input.keymap").is_file()
    assert not (tmp_path / "xdg-cache" / "glovebox" / "layout").exists()


def test_script_reports_a_syntax_error_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"layer_names": [\n  "Base",,\n]}', encoding="utf-8")
    result = run_script(tmp_path, "layout", "compile", "bad.json", "out")
    assert result.returncode == 2
    assert "bad.json:2:10: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_several_inputs_and_a_directory_compile_in_one_call(
    tmp_path: Path, isolated_config: IsolatedConfig
) -> None:
    one = write_layout(tmp_path / "in" / "one.json", make_layout(title="One"))
    write_layout(tmp_path / "dir" / "two.json", make_layout(title="Two"))
    write_layout(tmp_path / "dir" / "three.json", make_layout(title="Three"))
    (tmp_path / "dir" / "notes.txt").write_text("not a layout", encoding="utf-8")
    out = tmp_path / "nested" / "out"
    code, stdout, stderr = invoke("layout", "compile", str(one), str(tmp_path / "dir"), str(out))
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "one.conf",
        "one.keymap",
        "three.conf",
        "three.keymap",
        "two.conf",
        "two.keymap",
    ]
    assert " * Three\n" in (out / "three.keymap").read_text(encoding="utf-8")
    assert stdout.count("(compiled)") == 3


def test_one_bad_layout_means_no_output_at_all(
    tmp_path: Path, isolated_config: IsolatedConfig
) -> None:
    good = write_layout(tmp_path / "good.json", make_layout())
    broken = make_layout()
    broken["layers"][1][54] = {"value": 7}
    bad = write_layout(tmp_path / "bad.json", broken)
    out = tmp_path / "out"
    code, _, stderr = invoke("layout", "compile", str(good), str(bad), str(out))
    assert code == 2
    assert f"{bad}: layers[1][54].value: " in stderr
    assert "nothing written: 1 of 2 layouts failed" in stderr
    assert not out.exists()


def test_duplicate_output_names_and_missing_inputs_are_refused(
    tmp_path: Path, isolated_config: IsolatedConfig
) -> None:
    first = write_layout(tmp_path / "a" / "same.json", make_layout())
    second = write_layout(tmp_path / "b" / "same.json", make_layout())
    code, _, stderr = invoke("layout", "compile", str(first), str(second), str(tmp_path / "o"))
    assert code == 2
    assert "would write the same same.keymap" in stderr
    code, _, stderr = invoke("layout", "compile", str(tmp_path / "nope.json"), str(tmp_path / "o"))
    assert code == 2
    assert "nope.json: layout file not found" in stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = invoke("layout", "compile", str(empty), str(tmp_path / "o"))
    assert code == 2
    assert "holds no *.json layout files" in stderr


def test_no_cache_neither_reads_nor_writes_the_cache(
    tmp_path: Path, isolated_config: IsolatedConfig
) -> None:
    source = write_layout(tmp_path / "layout.json", make_layout())
    out = str(tmp_path / "out")
    for _ in range(2):
        code, stdout, _ = invoke("layout", "compile", "--no-cache", str(source), out)
        assert code == 0
        assert "(compiled)" in stdout
    assert not (isolated_config.cache_path / "layout").exists()
    assert invoke("layout", "compile", str(source), out)[1].endswith("(compiled)\n")
    assert invoke("layout", "compile", str(source), out)[1].endswith("(from cache)\n")
    code, stdout, _ = invoke("layout", "compile", "--no-cache", str(source), out)
    assert "(compiled)" in stdout


def test_output_replaces_old_files_atomically(
    tmp_path: Path, isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_layout(tmp_path / "layout.json", make_layout())
    out = tmp_path / "out"
    out.mkdir()
    (out / "layout.keymap").write_text("old keymap", encoding="utf-8")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", broken_replace)
        code, _, stderr = invoke("layout", "compile", str(source), str(out))
    assert code == 2  # an output that cannot be written (docs/cli.md, exit codes)
    assert "cannot write output: No space left on device" in stderr
    assert (out / "layout.keymap").read_text(encoding="utf-8") == "old keymap"
    assert sorted(p.name for p in out.iterdir()) == ["layout.keymap"]  # no temporary left
    assert invoke("layout", "compile", str(source), str(out))[0] == 0
    assert (out / "layout.keymap").read_text(encoding="utf-8").startswith("/*\n")


def test_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("x", encoding="utf-8")
    with pytest.raises(LayoutError, match="output exists and is not a directory"):
        layout_files.write_outputs(occupied, [])


def test_show_and_its_older_form(tmp_path: Path, isolated_config: IsolatedConfig) -> None:
    document = make_layout(title="Shown")
    document["layers"][0][0] = binding("&mo", 1)
    source = write_layout(tmp_path / "layout.json", document)
    code, stdout, _ = invoke("layout", "show", str(source))
    assert code == 0
    assert "layout: Shown (glove80)" in stdout
    assert "layers: 2 (Base, Lower)" in stdout
    assert "cache: miss" in stdout
    code, stdout, _ = invoke("layout", str(source))
    assert code == 0
    assert "cache: hit" in stdout
