"""A damaged cache database is reported by reads, moved aside (alone, byte for byte) by a
write, listed with its size, and removed by ``cache clear --all``.

Everything runs through the installed ``glovebox`` script against real SQLite files; the
damage is done the way a disk or a careless user would: bytes overwritten in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from glovebox.core.cache_v2 import CACHE_DB_NAME, CacheSettings, reset_shared_cache_instances
from glovebox.testing import IsolatedConfig
from tests.helpers import glovebox_ok, run_glovebox
from tests.workspace_helpers import ZMK_V03, make_workspace, service_for

READ_ONLY = [
    ("cache", "workspace", "list"),
    ("cache", "show"),
    ("cache", "show", "--json"),
    ("cache", "stats"),
    ("cache", "keys", "--tag", "compilation"),
    ("cache", "info"),
    ("cache", "info", "--json"),
    ("cache", "get", "a", "--tag", "compilation"),
]


def quarantine(root: Path) -> list[Path]:
    return sorted(root.glob("*.corrupt-*"))


def damaged_compilation(config: IsolatedConfig, tmp_path: Path) -> tuple[Path, bytes]:
    """A compilation domain with an entry and a cached workspace, then garbage in cache.db."""
    glovebox_ok("cache", "set", "a", "b", "--tag", "compilation")
    service = service_for(config)
    assert service.cache_workspace(make_workspace(tmp_path / "ws", files=20), ZMK_V03)
    reset_shared_cache_instances()
    database = config.cache_path / "compilation" / CACHE_DB_NAME
    garbage = os.urandom(database.stat().st_size)
    database.write_bytes(garbage)
    return database, garbage


def test_read_only_commands_report_damage_and_move_nothing(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    database, garbage = damaged_compilation(isolated_config, tmp_path)
    for command in READ_ONLY:
        result = run_glovebox(*command)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert result.returncode == (1 if command[1] == "get" else 0), (command, result.stderr)
        assert quarantine(isolated_config.cache_path) == [], command
        assert database.read_bytes() == garbage, command  # not a byte written
        assert (isolated_config.cache_path / "compilation" / "workspace").is_dir()
    shown = run_glovebox("cache", "show")
    row = next(line for line in shown.stdout.splitlines() if line.startswith("compilation"))
    assert "damaged" in row
    assert "is damaged" in shown.stderr
    record = json.loads(run_glovebox("cache", "show", "--json").stdout)
    (compilation,) = [d for d in record["domains"] if d["tag"] == "compilation"]
    assert "is damaged" in compilation["damaged"]


def test_a_write_moves_only_the_database_and_keeps_workspaces_usable(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    database, garbage = damaged_compilation(isolated_config, tmp_path)
    glovebox_ok("cache", "set", "c", "d", "--tag", "compilation")

    (aside,) = quarantine(isolated_config.cache_path)
    assert aside.name.startswith("compilation.corrupt-")
    assert (aside / CACHE_DB_NAME).read_bytes() == garbage  # byte for byte as found
    assert not (aside / "workspace").exists()
    assert glovebox_ok("cache", "get", "c", "--tag", "compilation").stdout.strip() == "d"
    assert database.read_bytes() != garbage

    # The workspace stayed, and a build's lookup takes it back after checking its files.
    service = service_for(isolated_config)
    entry = service.get_cached_workspace(ZMK_V03)
    assert entry is not None
    assert (entry.path / "zmk" / ".git" / "HEAD").is_file()
    reset_shared_cache_instances()
    listed = json.loads(glovebox_ok("cache", "workspace", "list", "--json").stdout)
    assert [w["key"] for w in listed["workspaces"]] == [entry.key]


def test_damage_inside_a_valid_file_is_moved_as_found(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    from glovebox.core.cache_v2 import create_diskcache_manager

    cache = create_diskcache_manager(
        isolated_config.cache_path, "layout", settings=CacheSettings(timeout=5)
    )
    cache.set_many({f"k{i}": "v" * 300 for i in range(400)})
    cache.close()
    database = isolated_config.cache_path / "layout" / CACHE_DB_NAME
    with open(database, "r+b") as handle:  # the header stays valid: pages are garbage
        handle.seek(4096 * 2)
        handle.write(os.urandom(4096 * 3))
    damaged = database.read_bytes()
    for command in (("cache", "show"), ("cache", "keys", "--tag", "layout")):
        result = run_glovebox(*command)
        assert "Traceback" not in result.stderr
        assert database.read_bytes() == damaged, command
        assert quarantine(isolated_config.cache_path) == []

    glovebox_ok("cache", "clear", "--tag", "layout", "--yes")  # a write reads every page

    (aside,) = quarantine(isolated_config.cache_path)
    assert (aside / CACHE_DB_NAME).read_bytes() == damaged
    glovebox_ok("cache", "set", "fresh", "1", "--tag", "layout")
    assert glovebox_ok("cache", "get", "fresh", "--tag", "layout").stdout.strip() == "1"


def test_quarantine_is_listed_with_its_size_and_removed_by_clear_all(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    damaged_compilation(isolated_config, tmp_path)
    glovebox_ok("cache", "set", "c", "d", "--tag", "compilation")
    (aside,) = quarantine(isolated_config.cache_path)

    for command in ("show", "info"):
        text = glovebox_ok("cache", command).stdout
        assert "quarantined" in text, command
        assert str(aside) in text.replace("\n", ""), command
        record = json.loads(glovebox_ok("cache", command, "--json").stdout)
        (listed,) = record["quarantined"]
        assert listed["path"] == str(aside)
        assert listed["tag"] == "compilation"
        assert listed["disk_bytes"] >= len((aside / CACHE_DB_NAME).read_bytes()) > 0

    cleared = glovebox_ok("cache", "clear", "--all", "--yes")
    assert "removed 1 quarantined folder" in cleared.stdout + cleared.stderr
    assert quarantine(isolated_config.cache_path) == []
    record = json.loads(glovebox_ok("cache", "show", "--json").stdout)
    assert record["quarantined"] == []
