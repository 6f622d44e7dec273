"""What the CLI reports is true: sizes, clearing, counting, creating, disabled and broken caches.

Every test runs the installed ``glovebox`` script in a subprocess, with ``HOME`` and the
XDG directories below the test's ``tmp_path`` (the ``isolated_config`` fixture).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from glovebox.core.cache_v2 import disk_usage
from glovebox.testing import IsolatedConfig
from tests.faults.lock_holder import lock_held
from tests.helpers import glovebox_ok as ok
from tests.helpers import run_glovebox as run
from tests.other_user import as_nobody
from tests.workspace_helpers import make_workspace

SELECT = ["--repository", "zmkfirmware/zmk", "--revision", "v0.3.0"]
DOMAINS = ["compilation", "default", "layout", "metrics", "moergo"]


def as_json(*args: str, **kwargs: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ok(*args, "--json", **kwargs).stdout)
    return document


def domain(document: dict[str, Any], tag: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in document["domains"] if d["tag"] == tag)
    return found


def files_below(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")) if root.exists() else []


# Sizes -------------------------------------------------------------------------------------


def test_sizes_are_disk_usage_including_workspaces(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    source = make_workspace(tmp_path / "ws", files=3)
    (source / "zmk" / "blob").write_bytes(os.urandom(2 * 1024 * 1024))
    for index in range(300):  # tiny files: each takes a whole block on disk
        (source / "zmk" / f"tiny{index}").write_text("x")
    ok("cache", "workspace", "add", str(source), *SELECT)

    stats = domain(as_json("cache", "stats", "--tag", "compilation"), "compilation")
    directory = isolated_config.cache_path / "compilation"
    assert abs(stats["disk_bytes"] - disk_usage(directory)) < 256 * 1024  # as du counts it
    assert stats["workspace_bytes"] >= 2 * 1024 * 1024 + 300 * 512
    assert stats["disk_bytes"] > stats["workspace_bytes"] > 0
    assert stats["size_limit_bytes"] == 2 * 1024**3

    (entry,) = as_json("cache", "workspace", "list")["workspaces"]
    # 300 one-byte files: 300 bytes apparent, at least 300 blocks allocated.
    assert entry["disk_bytes"] >= entry["apparent_bytes"] + 300 * 512
    assert entry["disk_bytes"] == disk_usage(Path(entry["path"]).parent)

    table = ok("cache", "stats", "--tag", "compilation").stdout
    assert "of 2.0 GiB" in table
    assert "workspaces 3." in table  # 2 MiB of data plus a block for each small file
    shown = ok("cache", "show").stdout
    assert "of 2.0 GiB" in shown


# Clearing ------------------------------------------------------------------------------------


def test_clear_compilation_removes_entries_and_workspaces(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    source = make_workspace(tmp_path / "ws", files=20)
    ok("cache", "workspace", "add", str(source), *SELECT)
    ok("cache", "set", "build:1", "x", "--tag", "compilation")

    declined = run("cache", "clear", "--tag", "compilation", input="n\n")
    assert declined.returncode == 1
    assert "'compilation': 2 entries" in declined.stdout + declined.stderr
    assert "on disk?" in declined.stdout + declined.stderr
    assert "nothing was cleared" in declined.stderr
    assert len(as_json("cache", "workspace", "list")["workspaces"]) == 1

    cleared = ok("cache", "clear", "--tag", "compilation", "--yes").stdout
    assert "cleared 2 entries from 'compilation' and 1 workspace" in cleared
    workspace_root = isolated_config.cache_path / "compilation" / "workspace"
    left = [p.name for p in workspace_root.iterdir() if p.name != ".locks"]
    assert left == []
    assert as_json("cache", "workspace", "list")["workspaces"] == []
    assert domain(as_json("cache", "stats"), "compilation")["workspace_bytes"] < 64 * 1024


def test_clear_all_clears_every_domain(isolated_config: IsolatedConfig) -> None:
    for tag in ("layout", "metrics", "extra"):
        ok("cache", "set", "k", "v", "--tag", tag)
    out = ok("cache", "clear", "--all", "--yes").stdout
    for tag in ("layout", "metrics", "extra"):
        assert f"cleared 1 entry from {tag!r}" in out
        assert as_json("cache", "keys", "--tag", tag)["keys"] == []


# Looking never changes the numbers, never creates ------------------------------------------


def _lookup_totals() -> dict[str, tuple[int, int]]:
    document = as_json("cache", "stats")
    return {d["tag"]: (d["hits"], d["misses"]) for d in document["domains"]}


def test_inspection_commands_count_no_hits_or_misses(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    ok("cache", "workspace", "add", str(make_workspace(tmp_path / "ws")), *SELECT)
    ok("cache", "set", "k", "v", "--tag", "layout")
    ok("cache", "get", "k", "--tag", "layout")
    assert run("cache", "get", "absent", "--tag", "layout").returncode == 1
    before = _lookup_totals()
    assert before["layout"] == (1, 1)
    key = as_json("cache", "workspace", "list")["workspaces"][0]["key"]
    for args in (
        ["cache", "workspace", "list"],
        ["cache", "workspace", "show", key],
        ["cache", "workspace", "show", *SELECT],
        ["cache", "workspace", "cleanup"],
        ["cache", "stats"],
        ["cache", "show"],
        ["cache", "keys", "--tag", "layout"],
        ["cache", "keys", "--tag", "compilation"],
        ["cache", "info"],
    ):
        ok(*args)
    assert _lookup_totals() == before


def test_read_only_commands_create_nothing(isolated_config: IsolatedConfig) -> None:
    root = isolated_config.cache_path
    for args in (
        ["cache", "show"],
        ["cache", "stats"],
        ["cache", "stats", "--tag", "layout"],
        ["cache", "keys"],
        ["cache", "keys", "--tag", "metrics"],
        ["cache", "info"],
        ["cache", "dir", "--tag", "layout"],
        ["cache", "workspace", "list"],
        ["cache", "cleanup"],
        ["cache", "show", "--json"],
    ):
        ok(*args)
    assert run("cache", "get", "k").returncode == 1  # a miss in a domain never written
    assert run("cache", "get", "k", "--tag", "lyout").returncode == 2
    assert run("cache", "stats", "--tag", "lyuot").returncode == 2
    assert files_below(root) == []
    ok("cache", "set", "k", "v", "--tag", "brand-new")  # set still creates a new tag
    assert (root / "brand-new" / "cache.db").is_file()


def test_unknown_tag_names_the_known_tags_and_a_close_one(isolated_config: IsolatedConfig) -> None:
    result = run("cache", "get", "k", "--tag", "lyout")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: no cache named 'lyout'; did you mean 'layout'?")
    assert "known caches: compilation, default, layout, metrics, moergo" in line
    far = run("cache", "keys", "--tag", "zzzzzz")
    assert far.returncode == 2
    assert "did you mean" not in far.stderr


# Caching disabled --------------------------------------------------------------------------


def test_global_disable_is_reported_and_what_is_on_disk_stays_visible(
    isolated_config: IsolatedConfig,
) -> None:
    ok("cache", "set", "k", "v")
    off = {"GLOVEBOX_CACHE_GLOBAL": "disabled"}

    stored = run("cache", "set", "k2", "v", env=off)
    assert stored.returncode == 2
    assert "disabled" in stored.stderr
    assert "GLOVEBOX_CACHE_GLOBAL=disabled" in stored.stderr
    assert "nothing was stored" in stored.stderr

    got = run("cache", "get", "k", env=off)
    assert got.returncode == 2
    assert "GLOVEBOX_CACHE_GLOBAL=disabled" in got.stderr
    assert "miss" not in got.stderr

    stats = run("cache", "stats", "--json", env=off)
    assert "caching is disabled by GLOVEBOX_CACHE_GLOBAL=disabled" in stats.stderr
    default = domain(json.loads(stats.stdout), "default")
    assert default["entries"] == 1
    assert default["disabled_by"] == "GLOVEBOX_CACHE_GLOBAL=disabled"
    assert ok("cache", "keys", env=off).stdout == "k\n"

    cleared = ok("cache", "clear", "--yes", env=off)
    assert "cleared 1 entry from 'default'" in cleared.stdout
    assert "GLOVEBOX_CACHE_GLOBAL" in cleared.stderr
    assert run("cache", "get", "k").returncode == 1  # really gone from disk
    assert as_json("cache", "keys")["keys"] == []


def test_disabled_workspace_cache_still_lists_what_is_on_disk(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    ok("cache", "workspace", "add", str(make_workspace(tmp_path / "ws")), *SELECT)
    off = {"GLOVEBOX_CACHE_COMPILATION": "disabled"}
    listed = json.loads(ok("cache", "workspace", "list", "--json", env=off).stdout)
    assert len(listed["workspaces"]) == 1
    added = run("cache", "workspace", "add", str(make_workspace(tmp_path / "b")), *SELECT, env=off)
    assert added.returncode == 2
    assert "GLOVEBOX_CACHE_COMPILATION=disabled" in added.stderr


# A cache that could not be opened ----------------------------------------------------------


def test_lock_held_past_the_timeout_fails_set_but_not_get(isolated_config: IsolatedConfig) -> None:
    ok("cache", "set", "k", "v")
    database = isolated_config.cache_path / "default" / "cache.db"
    with lock_held(database):
        fast = {"GLOVEBOX__CACHE__TIMEOUT": "1"}
        stored = run("cache", "set", "k2", "v", env=fast)
        assert stored.returncode == 2
        assert "locked" in stored.stderr
        assert "nothing was stored" in stored.stderr
        got = run("cache", "get", "k", env=fast)  # readers pass a writer (SQLite WAL)
        assert (got.returncode, got.stdout) == (0, "v\n"), got.stderr
    assert ok("cache", "get", "k").stdout == "v\n"


def test_unwritable_cache_root_fails_set_and_get() -> None:
    # Another user's cache root (root-owned, 0755): the dropped user cannot use it.
    # The checkout may sit where nobody cannot enter: as_nobody() makes it reachable.
    with as_nobody() as nobody:
        base = nobody.base / "user"
        cache = base / "cache"
        (cache / "glovebox" / "default").mkdir(parents=True, mode=0o755)
        for directory in (base, cache, cache / "glovebox", cache / "glovebox" / "default"):
            os.chmod(directory, 0o755)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(base),
            "XDG_CACHE_HOME": str(cache),
            "XDG_CONFIG_HOME": str(base / "config"),
        }

        def glovebox(*args: str) -> subprocess.CompletedProcess[str]:
            return nobody.run([*nobody.glovebox, *args], env=env)

        try:
            stored = glovebox("cache", "set", "k", "v")
            assert stored.returncode == 2, stored.stderr
            assert "could not be opened" in stored.stderr
            assert "nothing was stored" in stored.stderr
            sqlite3.connect(cache / "glovebox" / "default" / "cache.db").close()
            got = glovebox("cache", "get", "k")
            assert got.returncode == 2, got.stderr
            assert "could not be opened" in got.stderr
            assert "miss" not in got.stderr
        finally:
            shutil.rmtree(base)
