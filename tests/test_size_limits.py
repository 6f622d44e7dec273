"""Size limits hold whoever writes: one CLI call, concurrent processes, the workspace cache.

The slack allowed (docs/decisions.md, "Size limits"): after every write the stored size
(diskcache's ``volume()``: SQLite pages plus value files) is within the limit, except that
the entry just written is never evicted; disk usage as ``du`` counts it adds the 256 KiB
space reserve, SQLite's ``-wal``/``-shm`` files and the file system's rounding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glovebox.compilation.build_area import BuildArea, TreeRecord
from glovebox.compilation.cache import (
    WorkspaceCacheSettings,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
)
from glovebox.compilation.firmware_store import FirmwareStore
from glovebox.compilation.levels import trim_to_limit
from glovebox.compilation.locks import file_lock
from glovebox.core.cache_v2 import CacheSettings, DiskCacheManager, disk_usage
from glovebox.core.cache_v2.disk_layout import RESERVE_BYTES
from glovebox.testing import IsolatedConfig
from tests.helpers import REPO_ROOT, child_env, glovebox_ok
from tests.workspace_helpers import make_workspace, service_for

LIMIT_GB = 0.0005
LIMIT = int(LIMIT_GB * 1024**3)  # 524,288 bytes: "524.3 KiB"
VALUE_BYTES = 100_000
# du's view adds the reserve, the database's side files and one directory pair per value
# file (diskcache's two-level layout) plus block rounding.
PER_FILE_ROUNDING = 3 * 4096


def _du_slack(entries: int) -> int:
    return RESERVE_BYTES + 64 * 1024 + PER_FILE_ROUNDING * entries


def test_fifteen_cli_writes_stay_within_the_limit_and_count_evictions(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(f"cache:\n  domains:\n    layout:\n      max_size_gb: {LIMIT_GB}\n")
    value = "v" * VALUE_BYTES
    for index in range(15):
        glovebox_ok("--config", str(config), "cache", "set", f"k{index}", "-", "--tag", "layout",
                    input=value)  # fmt: skip
    out = glovebox_ok("--config", str(config), "cache", "stats", "--tag", "layout", "--json")
    (domain,) = json.loads(out.stdout)["domains"]
    assert domain["size_limit_bytes"] == LIMIT
    assert domain["entries_bytes"] <= LIMIT
    assert domain["entries"] >= 3  # the limit is used, not emptied
    assert domain["evictions"] == 15 - domain["entries"]  # each write evicted, and counted
    assert domain["disk_bytes"] <= LIMIT + _du_slack(domain["entries"])
    keys = glovebox_ok("--config", str(config), "cache", "keys", "--tag", "layout").stdout
    assert "k14" in keys.split()  # the newest stay, the least recently stored went
    assert "k0" not in keys.split()


def test_one_entry_larger_than_the_limit_stays_until_the_next_write(tmp_path: Path) -> None:
    settings = CacheSettings(max_size_gb=200_000 / 1024**3)
    cache = DiskCacheManager(tmp_path / "c", tag="c", settings=settings)
    cache.set("small", b"s" * 50_000)
    cache.set("huge", b"h" * 300_000)  # over the limit alone: the one entry of slack
    assert cache.keys() == ["huge"]
    cache.set("next", b"n" * 50_000)
    assert cache.keys() == ["next"]
    stats = cache.get_stats()
    cache.close()
    assert stats.size_bytes <= 200_000
    assert stats.evictions == 2


_WRITER = """
import sys
from pathlib import Path
from glovebox.core.cache_v2 import CacheSettings, DiskCacheManager

directory, name, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # start together
cache = DiskCacheManager(directory, tag="shared", settings=CacheSettings(
    max_size_gb=limit / 1024**3, timeout=60))
for index in range(10):
    cache.set(f"{name}-{index}", bytes([index]) * 50_000)
cache.close()
"""


def test_eight_concurrent_writer_processes_stay_within_the_limit(tmp_path: Path) -> None:
    directory, limit = tmp_path / "shared", 600_000
    DiskCacheManager(directory, tag="shared").close()  # created once, before the race
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_WRITER), str(directory), f"w{n}", str(limit)],
            stdin=subprocess.PIPE,
            env=child_env(),
            cwd=REPO_ROOT,
            text=True,
        )
        for n in range(8)
    ]
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
    assert [writer.wait(timeout=120) for writer in writers] == [0] * 8
    cache = DiskCacheManager(directory, tag="shared")
    stats = cache.get_stats()
    cache.close()
    assert stats.size_bytes <= limit
    assert stats.entries >= 8  # about eleven 50 KB values fit
    assert stats.entries + stats.evictions == 80  # every write is either held or evicted
    assert disk_usage(directory) <= limit + _du_slack(stats.entries)


# -- the compilation domain: workspaces, firmware and build trees --------------------------


def _config(index: int) -> WorkspaceConfig:
    return WorkspaceConfig(repository="zmkfirmware/zmk", revision=f"v0.{index}.0")


def _service(cache_path: Path, limit: int | None = None) -> ZmkWorkspaceCacheService:
    settings = CacheSettings() if limit is None else CacheSettings(max_size_gb=limit / 1024**3)
    cache = DiskCacheManager(cache_path / "compilation", tag="compilation", settings=settings)
    return ZmkWorkspaceCacheService(
        cache,
        cache_path / "compilation" / "workspace",
        WorkspaceCacheSettings(revision_ttl_days=30, branch_ttl_days=1, exclude_git=False),
    )


def _store(service: ZmkWorkspaceCacheService, tmp_path: Path, index: int) -> str:
    source = make_workspace(tmp_path / f"src{index}", f"v{index}", files=120)
    result = service.cache_workspace(source, _config(index))
    assert result is not None
    return result.entry.key


def _three_workspaces(tmp_path: Path) -> tuple[Path, list[str], int]:
    """Workspaces 0, 1, 2 stored (no limit), then 0 restored: 1 is the least recently used.

    Returns the cache path, the keys and a limit one more workspace crosses.
    """
    cache_path = tmp_path / "cache"
    roomy = _service(cache_path)
    keys = [_store(roomy, tmp_path, index) for index in range(3)]
    restored = roomy.restore_workspace(_config(0), tmp_path / "restored")
    assert restored is not None
    roomy.cache.close()
    one = disk_usage(cache_path / "compilation" / "workspace" / keys[0])
    return cache_path, keys, disk_usage(cache_path / "compilation") + one // 2


def test_workspaces_are_evicted_least_recently_used_first(tmp_path: Path) -> None:
    cache_path, keys, limit = _three_workspaces(tmp_path)
    service = _service(cache_path, limit)
    newest = _store(service, tmp_path, 3)
    stored = {entry.key for entry in service.list_workspaces()}
    stats = service.cache.get_stats()
    service.cache.close()
    assert stored == {keys[0], keys[2], newest}  # 1: used longest ago (0 was restored)
    assert stats.evictions == 1
    assert disk_usage(cache_path / "compilation") <= limit


_RESTORER = """
import sys
from pathlib import Path
from glovebox.compilation.cache import WorkspaceConfig
from tests.test_size_limits import _config, _service

service = _service(Path(sys.argv[1]))

def progress(report):
    print("RESTORING", flush=True)
    sys.stdin.readline()

service.restore_workspace(_config(int(sys.argv[2])), Path(sys.argv[3]), progress=progress)
print("DONE", flush=True)
"""


def test_a_workspace_being_restored_by_a_live_process_is_never_evicted(tmp_path: Path) -> None:
    cache_path, keys, limit = _three_workspaces(tmp_path)
    restorer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_RESTORER), str(cache_path), "1",
         str(tmp_path / "restoring")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(), cwd=REPO_ROOT, text=True,
    )  # fmt: skip
    assert restorer.stdout is not None
    assert restorer.stdin is not None
    try:
        assert restorer.stdout.readline().strip() == "RESTORING"
        service = _service(cache_path, limit)
        newest = _store(service, tmp_path, 3)
        stored = {entry.key for entry in service.list_workspaces()}
        service.cache.close()
    finally:
        restorer.stdin.write("\n" * 1000)
        restorer.stdin.close()
        restorer.wait(timeout=120)
        restorer.stdout.close()
    assert restorer.returncode == 0
    # 1 is the least recently used but held by the restore: 2 went in its place.
    assert stored == {keys[0], keys[1], newest}
    assert (tmp_path / "restoring").is_dir()


def _age(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def test_firmware_and_build_trees_are_evicted_with_workspaces_by_last_use(
    tmp_path: Path,
) -> None:
    cache_path = tmp_path / "cache"
    service = _service(cache_path)
    ws = _store(service, tmp_path, 0)
    _age(service.store.root / ws / "entry.json", 3_000)
    firmware = FirmwareStore(cache_path / "compilation" / "firmware")
    old_fw, new_fw = "a" * 40, "b" * 40
    for key, when in ((old_fw, 1_000), (new_fw, 4_000)):
        firmware.put(key, {"glove80": os.urandom(60_000)}, {})
        _age(firmware.root / key / "entry.json", when)
    area = BuildArea(cache_path / "compilation" / "builds")
    trees = {"idle": ("zmk-idle", 2_000), "busy": ("zmk-busy", 500)}
    for tree_key, when in trees.values():
        (area.tree(tree_key) / "zmk").mkdir(parents=True)
        (area.tree(tree_key) / "zmk" / "big.o").write_bytes(os.urandom(60_000))
        area.write_record(TreeRecord(tree_key, "e", "c" * 40, None))
        _age(area.root / tree_key / "workspace.json", when)
    root = cache_path / "compilation"
    with file_lock(area.root / "zmk-busy" / "tree.lock", timeout=1):  # a build runs
        # Just under what is held: one removal is enough, and it is the oldest idle one.
        assert trim_to_limit(cache_path, disk_usage(root) - 1, workspaces=service.store) == [
            f"firmware {old_fw}"
        ]
        removed = trim_to_limit(cache_path, disk_usage(root) - 1, workspaces=service.store)
        assert removed == ["build tree zmk-idle"]
        removed = trim_to_limit(cache_path, 0, workspaces=service.store, keep=new_fw)
        assert removed == [f"workspace {ws}"]  # the busy tree and the kept firmware stay
    assert area.record("zmk-busy") is not None
    assert firmware.get(new_fw, ["glove80"]) is not None
    assert service.cache.get_stats().evictions == 3
    service.cache.close()


def test_workspace_cleanup_brings_the_domain_within_its_limit(tmp_path: Path) -> None:
    cache_path, keys, _limit = _three_workspaces(tmp_path)
    tight = disk_usage(cache_path / "compilation") - 1
    service = _service(cache_path, tight)
    result = service.cleanup()
    service.cache.close()
    assert result.evicted == [f"workspace {keys[1]}"]
    assert result.removed_count == 1
    assert disk_usage(cache_path / "compilation") <= tight


@pytest.mark.parametrize("limit", [1, 10_000])
def test_a_limit_below_what_cannot_go_removes_everything_else_and_stops(
    tmp_path: Path, limit: int
) -> None:
    cache_path, keys, _ = _three_workspaces(tmp_path)
    service = _service(cache_path)
    removed = trim_to_limit(cache_path, limit, workspaces=service.store, keep=keys[2])
    service.cache.close()
    assert sorted(removed) == sorted(f"workspace {key}" for key in keys[:2])


@pytest.mark.parametrize(
    "command",
    [("cache", "workspace", "cleanup"), ("cache", "cleanup", "--tag", "compilation"),
     ("cache", "prune", "--tag", "compilation", "--yes")],
)  # fmt: skip
def test_cleanup_commands_bring_the_workspace_cache_within_the_limit(
    isolated_config: IsolatedConfig, tmp_path: Path, command: tuple[str, ...]
) -> None:
    service = service_for(isolated_config)
    keys = [_store(service, tmp_path, index) for index in range(3)]
    service.cache.close()
    domain = isolated_config.cache_path / "compilation"
    limit = disk_usage(domain) - disk_usage(domain / "workspace" / keys[1]) // 2
    config = tmp_path / "small.yaml"
    config.write_text(
        f"cache:\n  domains:\n    compilation:\n      max_size_gb: {limit / 1024**3!r}\n"
    )
    glovebox_ok("--config", str(config), *command)
    assert disk_usage(domain) <= limit
    left = {p.name for p in (domain / "workspace").iterdir() if not p.name.startswith(".")}
    assert left == {keys[1], keys[2]}  # the least recently used went
    out = glovebox_ok("--config", str(config), "cache", "stats", "--tag", "compilation", "--json")
    (stats,) = json.loads(out.stdout)["domains"]
    assert stats["evictions"] == 1


def test_a_workspace_this_thread_holds_is_never_evicted(tmp_path: Path) -> None:
    cache_path, keys, _ = _three_workspaces(tmp_path)
    service = _service(cache_path)
    with service.hold(_config(1)):  # held across a build, as the firmware service does
        removed = trim_to_limit(cache_path, 1, workspaces=service.store, keep=keys[2])
    service.cache.close()
    assert removed == [f"workspace {keys[0]}"]
