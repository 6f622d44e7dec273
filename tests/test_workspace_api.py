"""The workspace cache API: configs, keys, settings, the factory, store and lookup."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from glovebox.compilation.cache import (
    CacheWorkspaceResult,
    WorkspaceCacheSettings,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
    compilation_settings,
    create_compilation_cache_service,
    is_valid_key,
    manifest_hash,
    workspace_key,
)
from glovebox.core.cache_v2 import DisabledCache, create_cache_from_user_config
from glovebox.errors import ConfigError, WorkspaceError
from glovebox.testing import IsolatedConfig
from tests.workspace_helpers import (
    ZMK_MAIN,
    ZMK_V03,
    cache_sample,
    make_workspace,
    service_for,
    snapshot,
    versions_in,
)


def test_factory_returns_the_shared_compilation_cache(isolated_config: IsolatedConfig) -> None:
    cache, service = create_compilation_cache_service(isolated_config)
    assert cache is create_cache_from_user_config(isolated_config, tag="compilation")
    assert cache.tag == "compilation"
    assert service.cache is cache
    assert service.root == isolated_config.cache_path / "compilation" / "workspace"


def test_same_repository_and_revision_share_one_key() -> None:
    again = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")
    assert workspace_key(ZMK_V03) == workspace_key(again)
    assert is_valid_key(workspace_key(ZMK_V03))


def test_different_revisions_branches_and_manifests_get_different_keys(tmp_path: Path) -> None:
    manifest = tmp_path / "west.yml"
    manifest.write_text("manifest: {}\n")
    configs = [
        ZMK_MAIN,
        ZMK_V03,
        WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.2.0"),
        WorkspaceConfig(repository="zmkfirmware/zmk", revision="main"),  # pinned, not branch
        WorkspaceConfig(repository="someone/zmk", branch="main"),
        WorkspaceConfig(
            repository="zmkfirmware/zmk", branch="main", manifest_hash=manifest_hash(manifest)
        ),
    ]
    assert len({workspace_key(c) for c in configs}) == len(configs)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"repository": "zmk", "branch": "main"}, "owner/name"),
        ({"repository": "zmkfirmware/zmk"}, "exactly one"),
        ({"repository": "zmkfirmware/zmk", "branch": "a", "revision": "b"}, "exactly one"),
        ({"repository": "zmkfirmware/zmk", "branch": "bad..ref"}, "not a valid git"),
        ({"repository": "zmkfirmware/zmk", "branch": "-x"}, "not a valid git"),
        ({"repository": "zmkfirmware/zmk", "branch": "main", "manifest_hash": "XYZ"}, "hex"),
        ({"repository": "zmkfirmware/zmk", "branch": "main", "extra": 1}, "extra"),
    ],
)
def test_invalid_configs_are_rejected_with_the_reason(
    fields: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        WorkspaceConfig.model_validate(fields)


def settings_from_user_config(user_config: object) -> WorkspaceCacheSettings:
    return WorkspaceCacheSettings.from_section(compilation_settings(user_config))


def test_ttl_defaults_are_30_days_pinned_and_1_day_for_branches() -> None:
    settings = settings_from_user_config(types.SimpleNamespace())
    assert settings.ttl_seconds(ZMK_V03) == 30 * 86400
    assert settings.ttl_seconds(ZMK_MAIN) == 1 * 86400


def test_ttls_and_git_exclusion_come_from_the_user_config() -> None:
    section = types.SimpleNamespace(
        workspace_ttl_revision_days=7, workspace_ttl_branch_days=0.5, workspace_exclude_git=True
    )
    settings = settings_from_user_config(types.SimpleNamespace(compilation=section))
    assert settings.ttl_seconds(ZMK_V03) == 7 * 86400
    assert settings.ttl_seconds(ZMK_MAIN) == 43200
    assert settings.exclude_git is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workspace_ttl_branch_days", 0),
        ("workspace_ttl_revision_days", "30"),
        ("workspace_ttl_revision_days", True),
        ("workspace_exclude_git", "yes"),
    ],
)
def test_bad_ttl_settings_name_the_setting(name: str, value: object) -> None:
    section = types.SimpleNamespace(**{name: value})
    with pytest.raises(ConfigError, match=f"compilation.{name}"):
        settings_from_user_config(types.SimpleNamespace(compilation=section))


def test_metadata_records_the_configured_ttl(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    result = cache_sample(service, tmp_path, ZMK_MAIN)
    meta = service.cache.get_metadata(f"workspace:{result.entry.key}")
    assert meta is not None
    assert meta.ttl_remaining is not None
    assert 86400 - 60 < meta.ttl_remaining <= 86400
    assert result.entry.expires_at is not None
    assert abs((result.entry.expires_at - result.entry.created_at).total_seconds() - 86400) < 1


def test_cache_then_lookup_reports_real_counts(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    source = make_workspace(tmp_path / "ws", files=12)
    expected = {k: v for k, v in snapshot(source).items() if not k.startswith("build")}
    result = service.cache_workspace(source, ZMK_V03)
    assert result is not None
    assert result.method == "copy"
    assert not result.replaced
    entry = service.get_cached_workspace(ZMK_V03)
    assert entry is not None
    assert entry.path == service.root / entry.key / "tree"
    assert snapshot(entry.path) == expected
    files = [p for p in entry.path.rglob("*") if p.is_file() or p.is_symlink()]
    assert entry.file_count == len(files)
    assert entry.size_bytes == sum(p.stat().st_size for p in files if not p.is_symlink())
    assert source.is_dir()  # a copy leaves the source alone


def test_versions_are_isolated(tmp_path: Path, service: ZmkWorkspaceCacheService) -> None:
    service.cache_workspace(make_workspace(tmp_path / "a", "main-tree"), ZMK_MAIN)
    service.cache_workspace(make_workspace(tmp_path / "b", "v03-tree"), ZMK_V03)
    main, v03 = service.get_cached_workspace(ZMK_MAIN), service.get_cached_workspace(ZMK_V03)
    assert main is not None
    assert v03 is not None
    assert versions_in(main.path) == {"main-tree"}
    assert versions_in(v03.path) == {"v03-tree"}
    assert [e.key for e in service.list_workspaces()] == [v03.key, main.key]  # newest first


def test_top_level_build_is_never_cached_but_nested_build_dirs_are(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    assert not (sample.entry.path / "build").exists()
    assert (sample.entry.path / "zephyr" / "scripts" / "build" / "gen.py").is_file()
    assert (sample.entry.path / "zmk" / ".git" / "HEAD").is_file()


def test_git_directories_are_excluded_when_configured(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    user_config = types.SimpleNamespace(
        cache_path=isolated_config.cache_path,
        cache_strategy="enabled",
        compilation=types.SimpleNamespace(workspace_exclude_git=True),
    )
    _, service = create_compilation_cache_service(user_config)
    for move in (False, True):
        source = make_workspace(tmp_path / f"ws-{move}")
        result = service.cache_workspace(source, ZMK_V03, move=move)
        assert result is not None
        assert not list(result.entry.path.rglob(".git")), f"move={move}"


def test_move_ingests_by_rename(tmp_path: Path, service: ZmkWorkspaceCacheService) -> None:
    source = make_workspace(tmp_path / "ws")
    inode = (source / "zmk" / "app" / "src" / "d0" / "f0.c").stat().st_ino
    result = service.cache_workspace(source, ZMK_V03, move=True)
    assert result is not None
    assert result.method == "move"
    assert result.fallback_reason is None
    assert not source.exists()
    moved = result.entry.path / "zmk" / "app" / "src" / "d0" / "f0.c"
    assert moved.stat().st_ino == inode  # the same file, not a copy
    assert not (result.entry.path / "build").exists()


def test_move_across_filesystems_falls_back_to_copy(isolated_config: IsolatedConfig) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == isolated_config.cache_path.parent.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the test's cache")
    import tempfile

    with tempfile.TemporaryDirectory(dir=shm) as other:
        source = make_workspace(Path(other) / "ws")
        expected = {k: v for k, v in snapshot(source).items() if not k.startswith("build")}
        service = service_for(isolated_config)
        result = service.cache_workspace(source, ZMK_V03, move=True)
        assert result is not None
        assert result.method == "copy"
        assert result.fallback_reason is not None
        assert "filesystem" in result.fallback_reason
        assert not source.exists()  # move semantics kept
        assert snapshot(result.entry.path) == expected


def test_caching_something_that_is_not_a_directory_fails_clearly(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    with pytest.raises(WorkspaceError, match="not a directory"):
        service.cache_workspace(tmp_path / "missing", ZMK_V03)


def test_disabled_compilation_cache_stores_nothing_and_cleans_nothing(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enabled = service_for(isolated_config)
    kept = enabled.cache_workspace(make_workspace(tmp_path / "kept"), ZMK_MAIN)
    assert kept is not None
    monkeypatch.setenv("GLOVEBOX_CACHE_COMPILATION", "disabled")
    cache, service = create_compilation_cache_service(isolated_config)
    assert isinstance(cache, DisabledCache)
    assert not service.enabled
    source = make_workspace(tmp_path / "ws")
    assert service.cache_workspace(source, ZMK_V03, move=True) is None
    assert source.is_dir()  # move=True did not take the workspace away
    assert service.get_cached_workspace(ZMK_MAIN) is None
    assert service.cleanup().removed_count == 0
    assert service.delete_workspace(ZMK_MAIN) is False
    assert kept.entry.path.is_dir()  # a temporarily disabled cache deletes nothing


def test_delete_removes_directory_and_metadata(
    service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    assert service.delete_workspace(ZMK_V03) is True
    assert not (service.root / sample.entry.key).exists()
    assert service.cache.get(f"workspace:{sample.entry.key}") is None
    assert service.delete_workspace(ZMK_V03) is False


def test_invalid_keys_are_refused_before_touching_the_disk(
    service: ZmkWorkspaceCacheService,
) -> None:
    for key in ("../etc", "", "a/b-0123456789abcdef0123"):
        with pytest.raises(WorkspaceError, match="invalid workspace key"):
            service.delete_by_key(key)


def test_a_directory_overlapping_the_cache_is_refused(
    isolated_config: IsolatedConfig, service: ZmkWorkspaceCacheService
) -> None:
    service.root.mkdir(parents=True, exist_ok=True)
    inside = service.root / "sneaky"
    inside.mkdir()
    for source in (inside, isolated_config.cache_path):
        with pytest.raises(WorkspaceError, match="overlaps the workspace cache"):
            service.cache_workspace(source, ZMK_V03, move=True)
    assert inside.is_dir()


def test_a_failed_move_gives_the_workspace_back(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import glovebox.compilation.cache.store as store_module

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "write_manifest", broken)
    service = service_for(isolated_config)
    source = make_workspace(tmp_path / "ws")
    with pytest.raises(OSError, match="disk full"):
        service.cache_workspace(source, ZMK_V03, move=True)
    assert (source / "zmk" / "app" / "src" / "d0" / "f0.c").is_file()
    assert service.get_cached_workspace(ZMK_V03) is None
    assert [p.name for p in service.root.iterdir()] == [".locks"]


def test_a_symlinked_source_is_refused_rather_than_moving_the_link(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    real = make_workspace(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(WorkspaceError, match="symlinks are refused"):
        service_for(isolated_config).cache_workspace(link, ZMK_V03, move=True)
    assert link.is_symlink()
    assert real.is_dir()
