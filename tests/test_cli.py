"""The ``glovebox cache`` commands, through typer's runner and the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glovebox.testing import IsolatedConfig
from tests.helpers import invoke

GLOVEBOX = Path(sys.executable).parent / "glovebox"


def test_set_get_keys_delete_round_trip(isolated_config: IsolatedConfig) -> None:
    assert invoke("cache", "set", "greeting", "hello", "--tag", "demo")[0] == 0
    assert invoke("cache", "get", "greeting", "--tag", "demo")[:2] == (0, "hello\n")
    assert invoke("cache", "keys", "--tag", "demo")[:2] == (0, "greeting\n")
    assert invoke("cache", "delete", "greeting", "--tag", "demo")[0] == 0
    code, _, err = invoke("cache", "get", "greeting", "--tag", "demo")
    assert code == 1
    assert "miss" in err
    assert (isolated_config.cache_path / "demo" / "cache.db").is_file()


def test_stats_lists_domains_with_counts(isolated_config: IsolatedConfig) -> None:
    invoke("cache", "set", "k", "v", "--tag", "layout")
    invoke("cache", "get", "k", "--tag", "layout")
    invoke("cache", "get", "absent", "--tag", "layout")
    code, out, _ = invoke("cache", "stats", "--tag", "layout")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("layout "))
    cells = row.split()  # piped: plain columns
    assert cells[:3] == ["layout", "disk", "1"]
    assert cells[-4:-1] == ["1", "1", "50%"]


def test_clear_needs_confirmation_unless_yes(isolated_config: IsolatedConfig) -> None:
    invoke("cache", "set", "k", "v")
    result = invoke("cache", "clear", input="n\n")
    assert result.exit_code == 1
    assert invoke("cache", "get", "k")[0] == 0
    code, out, _ = invoke("cache", "clear", "--yes")  # every domain
    assert code == 0
    assert "cleared 1 entry from 'default'\n" in out
    assert "layout: nothing to clear\n" in out
    assert invoke("cache", "get", "k")[0] == 1


def test_cleanup_reports_each_domain(isolated_config: IsolatedConfig) -> None:
    code, out, _ = invoke("cache", "cleanup")
    assert code == 0
    for domain in ("compilation", "layout", "metrics", "moergo", "default"):
        assert f"{domain}: removed 0 entries" in out


def test_invalid_tag_is_a_clear_error(isolated_config: IsolatedConfig) -> None:
    code, _, err = invoke("cache", "keys", "--tag", "../etc")
    assert code == 2
    assert "invalid cache tag '../etc'" in err


def test_invalid_environment_word_is_a_clear_error(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "sometimes")
    code, _, err = invoke("cache", "keys", "--tag", "layout")
    assert code == 2
    assert "GLOVEBOX_CACHE_LAYOUT" in err
    assert "'sometimes'" in err


def test_installed_script_shows_coordination_with_debug(isolated_config: IsolatedConfig) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GLOVEBOX), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "60"},
            check=False,
            timeout=60,
        )

    first = run("--debug", "cache", "set", "greeting", "hello", "--tag", "demo")
    assert first.returncode == 0, first.stderr
    root = isolated_config.cache_path.resolve()
    assert f"Creating new shared cache instance: {root}:demo" in first.stderr
    second = run("cache", "get", "greeting", "--tag", "demo")
    assert (second.returncode, second.stdout) == (0, "hello\n")
    assert "Creating new shared cache instance" not in second.stderr  # no --debug, no noise
    stats = run("cache", "stats", "--tag", "demo")
    assert stats.returncode == 0
    assert "100%" in stats.stdout  # the hit of the previous process was persisted
