"""The directory is the truth: reconciliation of directories and metadata by cleanup()."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from glovebox.compilation.cache import (
    CacheWorkspaceResult,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
)
from glovebox.testing.contract import FakeClock
from tests.workspace_helpers import ZMK_MAIN, ZMK_V03, make_workspace


def test_metadata_without_a_directory_is_dropped_on_lookup(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    shutil.rmtree(service.root / sample.entry.key)
    assert service.get_cached_workspace(ZMK_V03) is None
    assert service.cache.get(f"workspace:{sample.entry.key}") is None


def test_cleanup_drops_metadata_whose_directory_is_gone(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    shutil.rmtree(service.root / sample.entry.key)
    assert service.cleanup().stale_metadata == [sample.entry.key]
    assert service.cache.keys() == []


def test_cleanup_removes_a_directory_without_metadata(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    service.cache.delete(f"workspace:{sample.entry.key}")
    assert service.list_workspaces() == []  # not servable, so not listed
    assert service.cleanup().expired_or_orphaned == [sample.entry.key]
    assert not (service.root / sample.entry.key).exists()


def test_cleanup_removes_expired_entries_and_keeps_live_ones(
    tmp_path: Path, clock: FakeClock, service: ZmkWorkspaceCacheService
) -> None:
    branch = service.cache_workspace(make_workspace(tmp_path / "a"), ZMK_MAIN)
    pinned = service.cache_workspace(make_workspace(tmp_path / "b"), ZMK_V03)
    assert branch is not None
    assert pinned is not None
    clock.advance(2 * 86400)  # past the branch's 1 day, within the revision's 30 days
    assert service.get_cached_workspace(ZMK_MAIN) is None
    result = service.cleanup()
    assert result.expired_or_orphaned == [branch.entry.key]
    assert not (service.root / branch.entry.key).exists()
    assert service.get_cached_workspace(ZMK_V03) is not None


def test_a_directory_whose_entry_id_differs_from_the_metadata_is_not_served(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    record = service.cache.get(f"workspace:{sample.entry.key}")
    service.cache.set(f"workspace:{sample.entry.key}", {**record, "entry_id": "0" * 32})
    assert service.get_cached_workspace(ZMK_V03) is None
    assert service.cleanup().expired_or_orphaned == [sample.entry.key]


def test_cleanup_removes_abandoned_staging_and_trash_directories(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    stage = service.store.new_staging(sample.entry.key)
    (stage / "tree").mkdir()
    trash = service.root / f".trash-{sample.entry.key}-abcdef012345"
    trash.mkdir()
    result = service.cleanup()
    assert sorted(result.leftovers) == sorted([stage.name, trash.name])
    assert not stage.exists()
    assert not trash.exists()
    assert service.get_cached_workspace(ZMK_V03) is not None


def test_cleanup_skips_keys_another_operation_holds(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    service.cache.delete(f"workspace:{sample.entry.key}")  # would be removed if not busy
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # another thread: the lock is re-entrant within one thread
        with service.store.lock(sample.entry.key):
            holding.set()
            release.wait(timeout=60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(timeout=60)
    assert service.cleanup().skipped_busy == [sample.entry.key]
    release.set()
    holder.join(timeout=60)
    assert service.cleanup().expired_or_orphaned == [sample.entry.key]


def test_unrelated_compilation_cache_keys_are_left_alone(service: ZmkWorkspaceCacheService) -> None:
    service.cache.set("build:abc", {"firmware": "x"})
    service.cleanup()
    assert service.cache.get("build:abc") == {"firmware": "x"}


def test_replacing_an_entry_reports_it_and_serves_the_new_tree(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    config = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")
    first = service.cache_workspace(make_workspace(tmp_path / "a", "old"), config)
    second = service.cache_workspace(make_workspace(tmp_path / "b", "new"), config)
    assert first is not None
    assert second is not None
    assert second.replaced
    assert second.entry.entry_id != first.entry.entry_id
    entry = service.get_cached_workspace(config)
    assert entry is not None
    assert entry.entry_id == second.entry.entry_id
    assert {p.read_text().split(":")[0] for p in entry.path.rglob("*.c")} == {"new"}
    assert [p.name for p in service.root.iterdir() if p.name.startswith(".")] == [".locks"]


def test_removal_makes_read_only_directories_writable_before_retrying(tmp_path: Path) -> None:
    # As root the kernel ignores the mode, so the hook is exercised directly: it must
    # grant the owner write access to the parent and then perform the failed call.
    from glovebox.compilation.cache.store import _make_writable_and_retry

    parent = tmp_path / "ro"
    (parent / "child").mkdir(parents=True)
    parent.chmod(0o555)
    _make_writable_and_retry(os.rmdir, str(parent / "child"), None)
    assert not (parent / "child").exists()
    assert parent.stat().st_mode & 0o700 == 0o700
