"""The CLI runs on the container: --config, cache show, layout, and the installed script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glovebox.core.cache_v2 import get_cache_instance_count
from glovebox.testing import IsolatedConfig
from tests.helpers import invoke

# `layout FILE` (show) checks the layout as a compile does: a complete two-layer Glove80 layout.
LAYOUT = {
    "keyboard": "glove80",
    "title": "Demo",
    "layer_names": ["layer_0", "layer_1"],
    "layers": [[{"value": "&kp", "params": [{"value": "A"}]}] * 80, [{"value": "&trans"}] * 80],
}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows(output: str) -> dict[str, list[str]]:
    """Table rows of `cache show`, by tag (cells stripped; piped output is plain columns)."""
    table: dict[str, list[str]] = {}
    for line in output.splitlines():
        if "│" in line:
            cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        else:
            cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 8 and cells[0] != "tag":
            table[cells[0]] = cells
    return table


def test_cache_show_reports_every_domain(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    config = write(
        tmp_path / "gb.yaml",
        "cache:\n  domains:\n    metrics:\n      strategy: disabled\n"
        "    layout:\n      strategy: memory\n",
    )
    code, out, err = invoke("cache", "set", "k", "v", "--tag", "moergo")
    assert code == 0, err
    assert invoke("cache", "get", "k", "--tag", "moergo")[0] == 0
    assert invoke("cache", "get", "nope", "--tag", "moergo")[0] == 1

    code, out, err = invoke("--config", str(config), "cache", "show")

    assert code == 0, err
    table = rows(out)
    assert set(table) == {"compilation", "default", "layout", "metrics", "moergo"}
    assert table["metrics"][1:4] == ["disabled", "gb.yaml:4", "disabled"]
    assert table["layout"][1:4] == ["memory", "gb.yaml:6", "memory"]
    assert table["compilation"][1:4] == ["enabled", "default.yaml:19 (cache_strategy)", "disk"]
    moergo = table["moergo"]
    assert moergo[4] == "moergo/"
    assert moergo[5] == "1"  # entries
    assert "KiB of 2.0 GiB" in moergo[6]  # disk usage of the size limit
    assert moergo[7] == "50%"  # one hit, one miss, persisted across runs
    assert str(isolated_config.cache_path) in out
    assert str(config) in out


def test_cache_show_includes_domains_named_only_in_the_config(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = write(
        tmp_path / "c.yaml", "cache:\n  domains:\n    firmware:\n      strategy: memory\n"
    )
    code, out, err = invoke("--config", str(config), "cache", "show")
    assert code == 0, err
    assert rows(out)["firmware"][1:4] == ["memory", "c.yaml:4", "memory"]


def test_cache_show_names_the_environment_when_it_decides(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "disabled")
    code, out, err = invoke("cache", "show")
    assert code == 0, err
    assert rows(out)["layout"][1:4] == ["disabled", "env GLOVEBOX_CACHE_LAYOUT", "disabled"]


def test_bad_config_file_is_reported_with_exit_code_2(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = write(tmp_path / "bad.yaml", "cache:\n  domains:\n    layout:\n      strategy: x\n")
    code, _, err = invoke("--config", str(config), "cache", "show")
    assert code == 2
    assert "bad.yaml:4: cache.domains.layout.strategy" in err


def test_layout_second_run_is_a_cache_hit(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    layout = write(tmp_path / "layout.json", json.dumps(LAYOUT))
    code, first, err = invoke("layout", str(layout))
    assert code == 0, err
    assert "cache: miss" in first
    assert "layers: 2 (layer_0, layer_1)" in first
    code, second, err = invoke("layout", str(layout))
    assert code == 0, err
    assert "cache: hit" in second
    code, out, _ = invoke("cache", "keys", "--tag", "layout")
    assert out.count("processed:") == 1


def test_layout_errors_exit_2(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    code, _, err = invoke("layout", str(tmp_path / "missing.json"))
    assert code == 2
    assert "missing.json: layout file not found" in err


def test_commands_release_caches_when_done(isolated_config: IsolatedConfig) -> None:
    assert invoke("cache", "set", "a", "1")[0] == 0
    assert invoke("cache", "stats")[0] == 0
    assert get_cache_instance_count() == 0


def test_clear_and_cleanup_use_the_configured_root(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    root = tmp_path / "elsewhere"
    config = write(tmp_path / "c.yaml", f"cache_path: {root}\n")
    assert invoke("--config", str(config), "cache", "set", "k", "v", "--tag", "layout")[0] == 0
    assert (root / "layout" / "cache.db").is_file()
    assert not (isolated_config.cache_path / "layout").exists()
    code, out, _ = invoke("--config", str(config), "cache", "clear", "--tag", "layout", "--yes")
    assert code == 0
    assert "cleared 1 entry" in out
    code, out, _ = invoke("--config", str(config), "cache", "cleanup")
    assert code == 0
    assert "layout: removed 0 entries" in out


def test_app_without_the_composition_root_explains_itself() -> None:
    result = invoke("cache", "show", obj=None)
    assert result.exit_code == 2
    assert "containers.cli:main" in result.stderr


def _glovebox_script() -> str:
    script = Path(sys.executable).with_name("glovebox")
    found = str(script) if script.exists() else shutil.which("glovebox")
    assert found, "the glovebox console script is not installed"
    return found


def test_installed_script_runs_show_and_layout(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = write(tmp_path / "c.yaml", "cache:\n  domains:\n    metrics:\n      strategy: off\n")
    layout = write(tmp_path / "layout.json", json.dumps(LAYOUT))
    env = {**os.environ}
    script = _glovebox_script()
    runs = [
        subprocess.run(
            [script, "--config", str(config), "layout", str(layout)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert "cache: miss" in runs[0].stdout
    assert "cache: hit" in runs[1].stdout
    show = subprocess.run(
        [script, "--config", str(config), "cache", "show"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert show.returncode == 0, show.stderr
    table = rows(show.stdout)
    assert table["metrics"][1:4] == ["disabled", "c.yaml:4", "disabled"]
    assert table["layout"][5] == "1"
