"""Entries of the workspace cache: the one servable check, publishing, and its inputs."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from glovebox.compilation.cache import (
    RestoreStrategy,
    WorkspaceCacheSettings,
    ZmkWorkspaceCacheService,
    compilation_settings,
    workspace_key,
)
from glovebox.compilation.cache.store import EntryState, WorkspaceStore
from glovebox.compilation.zmk_west_service import create_default_zmk_west_service
from glovebox.config.models import CompilationSection
from glovebox.core.cache_v2 import DisabledCache, DiskCacheManager, MemoryCache
from glovebox.errors import ConfigError, WorkspaceError
from glovebox.testing import IsolatedConfig
from tests.workspace_helpers import ZMK_MAIN, ZMK_V03, cache_sample, make_workspace, service_for

SETTINGS = WorkspaceCacheSettings.from_section(CompilationSection())


class PersistentMemoryCache(MemoryCache):
    persistent = True  # type: ignore[misc]


class VolatileDiskCache(DiskCacheManager):
    persistent = False  # type: ignore[misc]


def test_backends_report_whether_they_persist(tmp_path: Path) -> None:
    disk = DiskCacheManager(tmp_path / "disk", tag="compilation")
    try:
        assert disk.persistent is True
    finally:
        disk.close()
    assert MemoryCache("compilation").persistent is False
    assert DisabledCache("compilation").persistent is False


def test_the_workspace_cache_is_enabled_exactly_when_its_cache_persists(tmp_path: Path) -> None:
    memory = PersistentMemoryCache("compilation")
    enabled = ZmkWorkspaceCacheService(memory, tmp_path / "a", SETTINGS)
    assert enabled.enabled
    stored = enabled.cache_workspace(make_workspace(tmp_path / "ws-a"), ZMK_V03)
    assert stored is not None
    assert enabled.get_cached_workspace(ZMK_V03) is not None

    volatile = VolatileDiskCache(tmp_path / "disk", tag="compilation")
    try:
        disabled = ZmkWorkspaceCacheService(volatile, tmp_path / "b", SETTINGS)
        assert not disabled.enabled
        assert disabled.cache_workspace(make_workspace(tmp_path / "ws-b"), ZMK_V03) is None
        assert volatile.keys() == []
    finally:
        volatile.close()


def cached_store(isolated_config: IsolatedConfig, tmp_path: Path) -> tuple[WorkspaceStore, str]:
    service = service_for(isolated_config)
    result = cache_sample(service, tmp_path)
    return service.store, result.entry.key


def test_a_published_entry_is_servable(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    store, key = cached_store(isolated_config, tmp_path)
    check = store.check(key, verify=True, locked=False)
    assert check.state is EntryState.SERVABLE
    assert check.entry is not None
    assert check.entry.key == key


def test_a_key_without_a_record_is_absent(isolated_config: IsolatedConfig) -> None:
    store = service_for(isolated_config).store
    assert store.check(workspace_key(ZMK_MAIN), verify=True, locked=True).state is (
        EntryState.ABSENT
    )


def test_disagreeing_ids_are_in_flight_unlocked_and_an_orphan_under_the_lock(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    store, key = cached_store(isolated_config, tmp_path)
    marker = store.root / key / "entry.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "entry_id": "other"}))
    assert store.check(key, verify=False, locked=False).state is EntryState.IN_FLIGHT
    orphan = store.check(key, verify=False, locked=True)
    assert orphan.state is EntryState.ORPHAN
    assert orphan.entry is None
    assert "another entry" in orphan.reason


def test_a_record_without_its_directory_is_an_orphan(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    store, key = cached_store(isolated_config, tmp_path)
    store.purge(store.root / key)
    check = store.check(key, verify=False, locked=False)
    assert (check.state, check.reason) == (EntryState.ORPHAN, "its directory is missing")


def test_an_unreadable_record_is_an_orphan(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    store, key = cached_store(isolated_config, tmp_path)
    record = store.cache.get(f"workspace:{key}")
    store.cache.set(f"workspace:{key}", {"entry_id": record["entry_id"]})
    check = store.check(key, verify=False, locked=False)
    assert (check.state, check.reason) == (EntryState.ORPHAN, "its metadata is unreadable")


def test_a_hardlinked_entry_changed_in_place_is_modified_only_when_verified(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    store, key = cached_store(isolated_config, tmp_path)
    store.mark_hardlinked(key)
    (store.root / key / "tree" / "zmk" / "app" / "src" / "d0" / "f0.c").write_text("changed\n")
    assert store.check(key, verify=False, locked=True).state is EntryState.SERVABLE
    check = store.check(key, verify=True, locked=True)
    assert check.state is EntryState.MODIFIED
    assert "zmk/app/src/d0/f0.c" in check.reason


def test_a_failure_inside_publishing_publishes_nothing_and_keeps_the_old_entry(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    store, key = cached_store(isolated_config, tmp_path)
    before = store.check(key, verify=False, locked=False).entry

    def interrupted() -> None:
        with store.publishing(key, ZMK_V03, ttl=60) as new:
            new.tree.mkdir()
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted()
    after = store.check(key, verify=False, locked=False).entry
    assert before is not None
    assert after is not None
    assert after.entry_id == before.entry_id
    assert sorted(p.name for p in store.root.iterdir()) == [".locks", key]


def test_a_failure_inside_publishing_gives_a_moved_tree_back(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    store = service_for(isolated_config).store
    source = make_workspace(tmp_path / "ws")

    def interrupted() -> None:
        with store.publishing(workspace_key(ZMK_V03), ZMK_V03, ttl=60) as new:
            source.rename(new.tree)
            new.give_back = source
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted()
    assert (source / ".west" / "config").is_file()
    assert [p.name for p in store.root.iterdir()] == [".locks"]


def test_publishing_reports_the_entry_and_whether_it_replaced_one(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    store = service_for(isolated_config).store
    key = workspace_key(ZMK_V03)
    for number, replaced in ((1, False), (2, True)):
        with store.publishing(key, ZMK_V03, ttl=60) as new:
            make_workspace(new.tree, f"v{number}")
        assert new.replaced is replaced
        assert new.entry.key == key
        assert store.check(key, verify=False, locked=False).entry == new.entry


def test_restore_strategy_has_one_parser_for_arguments_and_settings() -> None:
    assert RestoreStrategy.parse("hardlink") is RestoreStrategy.HARDLINK
    assert RestoreStrategy.parse(RestoreStrategy.REFLINK) is RestoreStrategy.REFLINK
    with pytest.raises(WorkspaceError, match=r"unknown restore strategy 'symlink'.*copy, hard"):
        RestoreStrategy.parse("symlink")
    with pytest.raises(ConfigError, match=r"^compilation\.x: expected one of copy, hardlink"):
        RestoreStrategy.parse(3, setting="compilation.x")


def test_a_validated_compilation_section_is_used_as_is(isolated_config: IsolatedConfig) -> None:
    assert compilation_settings(isolated_config) is isolated_config.compilation


def test_duck_typed_configurations_get_the_configuration_models_defaults(
    isolated_config: IsolatedConfig,
) -> None:
    assert compilation_settings(types.SimpleNamespace()) == CompilationSection()
    user_config = types.SimpleNamespace(
        cache_path=isolated_config.cache_path, cache_strategy="enabled"
    )
    service = create_default_zmk_west_service(user_config)
    defaults = CompilationSection()
    assert service.restore_strategy is defaults.workspace_restore_strategy
    assert service.download_timeout == defaults.workspace_download_timeout
    assert service.workspace_service.settings == WorkspaceCacheSettings.from_section(defaults)


def test_the_configuration_model_does_not_load_the_compilation_services() -> None:
    probe = (
        "import sys, glovebox.config.models\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('glovebox.compilation'))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
