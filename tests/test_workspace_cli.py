"""``glovebox cache workspace ...`` through typer's runner and the installed script."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

import glovebox.cli.workspace as workspace_cli
from glovebox.compilation.cache import workspace_key
from glovebox.testing import IsolatedConfig
from tests.helpers import GLOVEBOX, CliResult, run_child
from tests.helpers import invoke as invoke_cli
from tests.workspace_helpers import ZMK_V03, make_workspace

SELECT = ["--repository", "zmkfirmware/zmk", "--revision", "v0.3.0"]


def invoke(*args: str) -> CliResult:
    return invoke_cli("cache", "workspace", *args)


def test_add_list_show_export_delete_round_trip(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    source = make_workspace(tmp_path / "ws", files=30)
    code, out, err = invoke("add", str(source), *SELECT)
    assert code == 0, err
    key = workspace_key(ZMK_V03)
    assert f"cached {key}" in out
    assert "by copy" in out

    code, out, _ = invoke("list")
    assert code == 0
    for header in ("repository", "revision", "disk usage", "files", "age", "expires"):
        assert header in out
    assert "zmkfirmware/zmk" in out
    assert "v0.3.0" in out
    assert "in 30d" in out

    code, out, _ = invoke("show", key)
    assert code == 0
    assert "path:" in out
    assert str(isolated_config.cache_path / "compilation" / "workspace" / key / "tree") in out
    assert invoke("show", *SELECT)[1] == out

    archive = tmp_path / "exported.tar.gz"
    code, out, err = invoke("export", key, str(archive))
    assert code == 0, err
    assert archive.is_file()

    assert invoke("delete", key)[:2] == (0, f"deleted {key}\n")
    code, _, err = invoke("show", key)
    assert code == 1
    assert "not cached" in err
    assert invoke("delete", key)[0] == 1

    code, out, err = invoke("add", str(archive), "--repository", "zmkfirmware/zmk", "-b", "main")
    assert code == 0, err
    assert "by archive" in out


def test_add_with_move_takes_the_directory(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    source = make_workspace(tmp_path / "ws")
    code, out, err = invoke("add", str(source), *SELECT, "--move")
    assert code == 0, err
    assert "by move" in out
    assert not source.exists()


def test_cleanup_reports_what_it_removed(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    invoke("add", str(make_workspace(tmp_path / "ws")), *SELECT)
    root = isolated_config.cache_path / "compilation" / "workspace"
    (root / f".stage-{workspace_key(ZMK_V03)}-0123456789ab").mkdir()
    code, out, _ = invoke("cleanup")
    assert code == 0
    assert "removed 1:" in out
    assert "1 interrupted" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["show"], "give an entry KEY"),
        (["show", "../../etc"], "invalid workspace key"),
        (["show", "--repository", "not-a-repo", "--branch", "main"], "owner/name"),
        (["show", "--repository", "zmkfirmware/zmk"], "exactly one"),
        (["export", "out.rar", "-r", "zmkfirmware/zmk", "-b", "main"], "unsupported archive"),
        (["export", "out.tgz", "-r", "zmkfirmware/zmk", "-b", "main"], "not cached"),
    ],
)
def test_bad_input_is_a_clear_error(
    isolated_config: IsolatedConfig, args: list[str], fragment: str
) -> None:
    code, _, err = invoke(*args)
    assert code == 2
    assert fragment in err


def test_add_of_a_missing_source_fails_without_storing(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    code, _, err = invoke("add", str(tmp_path / "missing"), *SELECT)
    assert code == 2
    assert "no such file or directory" in err
    assert "v0.3.0" not in invoke("list")[1]


def test_copies_draw_a_progress_bar(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(
        workspace_cli, "err_console", Console(file=screen, force_terminal=True, width=100)
    )
    source = make_workspace(tmp_path / "ws", files=300)
    assert invoke("add", str(source), *SELECT)[0] == 0
    drawn = screen.getvalue()
    assert "caching" in drawn
    assert "━" in drawn  # the bar itself
    total = sum(
        1
        for p in source.rglob("*")
        if p.is_file() and not p.is_symlink() and p.relative_to(source).parts[0] != "build"
    )
    assert f"/{total}" in drawn


def test_installed_script_lists_workspaces(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    source = make_workspace(tmp_path / "ws")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_child([GLOVEBOX, "cache", "workspace", *args], env=os.environ, timeout=60)

    added = run("add", str(source), *SELECT)
    assert added.returncode == 0, added.stderr
    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert workspace_key(ZMK_V03) in listed.stdout
    assert "ZMK workspaces (1)" in listed.stdout
