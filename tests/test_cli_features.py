"""Scriptable commands: --json schemas, dir, info, remove, prune, stats --zero, stdin values,
--quiet, tables that keep keys whole, truthful help and shell completion."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console

from glovebox.cli.cache_inspect import _zero as zero_counts
from glovebox.cli.completion import complete_tags, complete_workspace_keys
from glovebox.cli.formatting import SCHEMA_VERSION, parse_age, plain_columns, print_table
from glovebox.compilation.cache.archive import extract_archive
from glovebox.compilation.cache.models import WorkspaceProgress
from glovebox.core.cache_v2 import CacheManager, MemoryCache
from glovebox.testing import IsolatedConfig
from tests.helpers import glovebox_ok as ok
from tests.helpers import run_glovebox as run
from tests.workspace_helpers import make_workspace

SELECT = ["--repository", "zmkfirmware/zmk", "--revision", "v0.3.0"]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def as_json(*args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ok(*args, "--json").stdout)
    return document


# --json -----------------------------------------------------------------------------------

DOMAIN_FIELDS = {
    "tag", "strategy", "decided_by", "disabled_by", "backend", "directory", "location", "entries",
    "entries_bytes", "disk_bytes", "workspace_bytes", "size_limit_bytes", "hits", "misses",
    "hit_rate", "evictions", "errors", "unusable", "damaged",
}  # fmt: skip
WORKSPACE_FIELDS = {
    "key", "repository", "branch", "revision", "manifest_hash", "path", "disk_bytes",
    "apparent_bytes", "file_count", "created_at", "expires_at", "hardlinked",
}  # fmt: skip


def test_every_json_document_has_its_documented_schema(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    ok("cache", "workspace", "add", str(make_workspace(tmp_path / "ws")), *SELECT)
    ok("cache", "set", "k", "v", "--tag", "layout")
    documents = {
        "cache stats": as_json("cache", "stats"),
        "cache show": as_json("cache", "show"),
        "cache keys": as_json("cache", "keys", "--tag", "layout"),
        "cache get": as_json("cache", "get", "k", "--tag", "layout"),
        "cache cleanup": as_json("cache", "cleanup"),
        "cache info": as_json("cache", "info"),
        "cache workspace list": as_json("cache", "workspace", "list"),
        "cache workspace cleanup": as_json("cache", "workspace", "cleanup"),
    }
    key = documents["cache workspace list"]["workspaces"][0]["key"]
    documents["cache workspace show"] = as_json("cache", "workspace", "show", key)
    docs = DOCS.read_text(encoding="utf-8")
    for command, document in documents.items():
        assert document["schema_version"] == SCHEMA_VERSION
        assert document["command"] == command
        assert f"`glovebox {command} --json`" in docs, command
        for field in document:
            assert f"`{field}`" in docs, (command, field)
    for name in ("cache stats", "cache show"):
        for domain in documents[name]["domains"]:
            # The compilation domain also reports its levels (firmware, workspaces, builds).
            extra = {"levels"} if domain["tag"] == "compilation" else set()
            assert set(domain) == DOMAIN_FIELDS | extra, (name, domain["tag"])
        assert documents[name]["domains"][0]["tag"] == "compilation"
    assert documents["cache keys"]["keys"] == ["k"]
    got = documents["cache get"]
    assert (got["found"], got["value"], got["type"]) == (True, "v", "str")
    assert set(documents["cache workspace list"]["workspaces"][0]) == WORKSPACE_FIELDS
    assert set(documents["cache workspace show"]["workspace"]) == WORKSPACE_FIELDS
    assert {d["tag"] for d in documents["cache cleanup"]["domains"]} >= {"layout", "default"}
    assert documents["cache workspace cleanup"]["removed"] == 0
    for field in DOMAIN_FIELDS | WORKSPACE_FIELDS:
        assert f"`{field}`" in docs, field


def test_get_json_of_a_miss_says_not_found(isolated_config: IsolatedConfig) -> None:
    ok("cache", "set", "k", "v")
    result = run("cache", "get", "absent", "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (document["found"], document["value"]) == (False, None)


# dir and info -------------------------------------------------------------------------------


def test_dir_prints_only_the_path(isolated_config: IsolatedConfig) -> None:
    root = isolated_config.cache_path
    assert ok("cache", "dir").stdout == f"{root}\n"
    assert ok("cache", "dir", "--tag", "layout").stdout == f"{root / 'layout'}\n"
    assert run("cache", "dir", "--tag", "lyout").returncode == 2


def test_info_shows_root_configuration_files_size_and_limits(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    user_file = tmp_path / "mine.yaml"
    user_file.write_text("cache:\n  domains:\n    layout:\n      max_size_gb: 1\n")
    ok("cache", "set", "k", "v")
    out = ok("--config", str(user_file), "cache", "info").stdout
    assert f"cache root:    {isolated_config.cache_path}" in out
    default_yaml = out.index("default.yaml")
    assert out.index(str(user_file)) > default_yaml  # in the order they are applied
    assert "disk usage:" in out
    document = json.loads(ok("--config", str(user_file), "cache", "info", "--json").stdout)
    limits = {d["tag"]: d["size_limit_bytes"] for d in document["domains"]}
    assert limits["layout"] == 1024**3
    assert limits["metrics"] == 2 * 1024**3
    assert document["disk_bytes"] > 0


# remove, prune, stats --zero ------------------------------------------------------------------


def test_remove_matches_a_glob_shows_the_count_and_confirms(
    isolated_config: IsolatedConfig,
) -> None:
    for key in ("glove80:a", "glove80:b", "other"):
        ok("cache", "set", key, "v")
    declined = run("cache", "remove", "glove80:*", input="n\n")
    assert declined.returncode == 1
    assert "2 keys in 'default' match 'glove80:*'" in declined.stderr
    assert "nothing was removed" in declined.stderr
    assert len(as_json("cache", "keys")["keys"]) == 3
    assert "removed 2 keys" in ok("cache", "remove", "glove80:*", "--yes").stdout
    assert as_json("cache", "keys")["keys"] == ["other"]
    assert run("cache", "remove", "nothing*", "--yes").returncode == 1


def test_stats_zero_resets_the_counts(isolated_config: IsolatedConfig) -> None:
    ok("cache", "set", "k", "v", "--tag", "layout")
    ok("cache", "get", "k", "--tag", "layout")
    ok("cache", "stats", "--zero")
    layout = next(d for d in as_json("cache", "stats")["domains"] if d["tag"] == "layout")
    assert (layout["hits"], layout["misses"], layout["entries"]) == (0, 0, 1)


class _CountsKeeper(MemoryCache):
    """A cache of no built-in class that keeps stored counts and offers to reset them."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.resets = 0

    def reset_stats(self) -> None:
        self.resets += 1


class _Found:
    """What ``stats --zero`` reads: the stored handle of each tag."""

    def __init__(self, caches: dict[str, CacheManager | None]) -> None:
        self.caches = caches

    @contextmanager
    def stored(self, tag: str) -> Iterator[CacheManager | None]:
        yield self.caches[tag]


def test_stats_zero_asks_each_cache_whether_it_can_reset_its_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    keeper = _CountsKeeper("kept")
    found = _Found({"kept": keeper, "memory": MemoryCache("memory"), "absent": None})
    zero_counts(cast(Any, found), ["kept", "memory", "absent"])
    assert keeper.resets == 1
    assert capsys.readouterr().out.strip() == "hit/miss counts zeroed: kept"


def test_prune_removes_expired_old_entries_and_orphaned_workspaces(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    ok("cache", "set", "old", "v", "--tag", "layout")
    ok("cache", "set", "new", "v", "--tag", "layout")
    ok("cache", "set", "brief", "v", "--tag", "layout", "--ttl", "0.001")
    database = isolated_config.cache_path / "layout" / "cache.db"
    with sqlite3.connect(database) as connection:  # stored 40 days ago
        connection.execute(
            "UPDATE Cache SET store_time = store_time - 40 * 86400 WHERE key = 'old'"
        )
    orphan = isolated_config.cache_path / "compilation" / "workspace" / ("z_" + "0" * 21)
    ok("cache", "workspace", "add", str(make_workspace(tmp_path / "ws")), *SELECT)
    key = as_json("cache", "workspace", "list")["workspaces"][0]["key"]
    orphan = orphan.with_name(key.rsplit("-", 1)[0] + "-" + "a" * 20)
    (orphan / "tree").mkdir(parents=True)

    out = ok("cache", "prune", "--older-than", "30d", "--yes").stdout
    assert "layout: removed 1 expired and 1 older than 30d entries" in out
    assert "1 orphaned workspaces" in out
    assert as_json("cache", "keys", "--tag", "layout")["keys"] == ["new"]
    assert not orphan.exists()
    assert len(as_json("cache", "workspace", "list")["workspaces"]) == 1


def test_prune_refuses_a_malformed_age(isolated_config: IsolatedConfig) -> None:
    result = run("cache", "prune", "--older-than", "30 days")
    assert result.returncode == 2
    assert "30d, 12h, 90m" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600)]
)
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


# set from stdin, --quiet ----------------------------------------------------------------------


def test_set_dash_reads_the_value_from_stdin(isolated_config: IsolatedConfig) -> None:
    value = "x" * 1_000_000  # far beyond what argv should carry
    ok("cache", "set", "big", "-", input=value + "\n")
    assert ok("cache", "get", "big").stdout == value + "\n"


def test_quiet_prints_results_but_no_chatter(isolated_config: IsolatedConfig) -> None:
    ok("cache", "set", "k", "v")
    assert ok("--quiet", "cache", "clear", "--yes").stdout == ""
    ok("cache", "set", "k", "v")
    assert ok("--quiet", "cache", "get", "k").stdout == "v\n"


def test_no_progress_draws_no_bar(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    source = make_workspace(tmp_path / "ws", files=50)
    result = ok("--no-progress", "cache", "workspace", "add", str(source), *SELECT)
    assert result.stderr == ""


def test_archive_extraction_reports_progress_by_bytes(tmp_path: Path) -> None:
    archive = tmp_path / "ws.tar"
    payload = os.urandom(3 * 1024 * 1024)
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("ws/blob")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    reports: list[WorkspaceProgress] = []
    extract_archive(archive, tmp_path / "out", progress=reports.append)
    assert len(reports) > 3
    assert {r.bytes_total for r in reports} == {archive.stat().st_size}
    done = [r.bytes_done for r in reports]
    assert done == sorted(done)
    assert done[-1] == archive.stat().st_size


# Tables ----------------------------------------------------------------------------------------


def test_piped_tables_keep_keys_and_paths_on_one_line(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    ok("cache", "workspace", "add", str(make_workspace(tmp_path / "ws")), *SELECT)
    key = as_json("cache", "workspace", "list")["workspaces"][0]["key"]
    listed = ok("cache", "workspace", "list").stdout.splitlines()
    assert any(line.startswith(key + " ") for line in listed)
    stats = ok("cache", "stats").stdout
    assert f"{isolated_config.cache_path / 'compilation'}\n" in stats


def test_terminal_tables_at_80_columns_never_cut_whole_columns() -> None:
    key = "zmkfirmware_zmk_a-very-long-branch-name-1bff47174b6854fc9aaf"
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)
    rows = [[key, "zmkfirmware/zmk", "main", "1.0 MiB", "10", "1d", "in 7d"]]
    columns = ("key", "repository", "revision", "disk usage", "files", "age", "expires")
    print_table("ZMK workspaces", columns, rows, console=console)
    assert key in screen.getvalue()


def test_plain_columns_align_without_padding_the_last() -> None:
    assert plain_columns(("a", "bb"), [["xyz", "1"]]) == "a    bb\nxyz  1"


# Help and completion ---------------------------------------------------------------------------


def test_help_tells_the_truth(isolated_config: IsolatedConfig) -> None:
    stats_help = " ".join(ok("cache", "stats", "--help").stdout.split())
    assert "default: every domain" in stats_help
    for command in ("show", "delete", "export"):
        usage = ok("cache", "workspace", command, "--help").stdout
        assert "[KEY]" in usage, command


def test_tags_complete_from_domains_and_disk(isolated_config: IsolatedConfig) -> None:
    ok("cache", "set", "k", "v", "--tag", "lab")
    assert complete_tags(None, "la") == ["lab", "layout"]  # type: ignore[arg-type]
    env = {"_GLOVEBOX_COMPLETE": "complete_bash", "COMP_WORDS": "glovebox cache keys --tag la"}
    completed = run(env={**env, "COMP_CWORD": "4"})
    assert completed.stdout.split() == ["lab", "layout"]


def test_workspace_keys_complete(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    ok("cache", "workspace", "add", str(make_workspace(tmp_path / "ws")), *SELECT)
    key = as_json("cache", "workspace", "list")["workspaces"][0]["key"]
    assert complete_workspace_keys(None, "zmk") == [key]  # type: ignore[arg-type]
    assert complete_workspace_keys(None, "nope") == []  # type: ignore[arg-type]
    env = {
        "_GLOVEBOX_COMPLETE": "complete_bash",
        "COMP_WORDS": "glovebox cache workspace show zm",
        "COMP_CWORD": "4",
    }
    assert run(env=env).stdout.split() == [key]
