"""Restores and exports never write into the cache, where cleanup would never find them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glovebox.compilation.cache import ZmkWorkspaceCacheService, workspace_key
from glovebox.compilation.zmk_west_service import create_default_zmk_west_service
from glovebox.errors import WorkspaceError
from glovebox.testing import IsolatedConfig
from tests import fake_west
from tests.workspace_helpers import ZMK_V03, cache_sample, service_for


def cached_service(isolated_config: IsolatedConfig, tmp_path: Path) -> ZmkWorkspaceCacheService:
    service = service_for(isolated_config)
    cache_sample(service, tmp_path)
    return service


def inside_places(service: ZmkWorkspaceCacheService) -> dict[str, Path]:
    key = workspace_key(ZMK_V03)
    cache_path = service.root.parent.parent
    return {
        "entry tree": service.root / key / "tree" / "restored",
        "entry": service.root / key / "restored",
        "beside entries": service.root / "restored",
        "the workspace root": service.root,
        "locks": service.root / ".locks" / "restored",
        "compilation cache": service.root.parent / "restored",
        "another domain": cache_path / "layout" / "restored",
        "cache root": cache_path / "restored",
        "with dots": service.root / "x" / ".." / "restored",
    }


@pytest.mark.parametrize(
    "place",
    [
        "entry tree",
        "entry",
        "beside entries",
        "the workspace root",
        "locks",
        "compilation cache",
        "another domain",
        "cache root",
        "with dots",
    ],
)
def test_restoring_into_the_cache_is_refused(
    isolated_config: IsolatedConfig, tmp_path: Path, place: str
) -> None:
    service = cached_service(isolated_config, tmp_path)
    before = sorted(p.relative_to(service.root) for p in service.root.rglob("*"))
    dest = inside_places(service)[place]
    with pytest.raises(WorkspaceError, match="inside the cache"):
        service.restore_workspace(ZMK_V03, dest)
    assert sorted(p.relative_to(service.root) for p in service.root.rglob("*")) == before
    assert service.cleanup().removed_count == 0


def test_a_symlink_leading_into_the_cache_is_refused(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    service = cached_service(isolated_config, tmp_path)
    os.symlink(service.root, tmp_path / "sneaky")
    with pytest.raises(WorkspaceError, match="inside the cache"):
        service.restore_workspace(ZMK_V03, tmp_path / "sneaky" / "restored")
    assert not (service.root / "restored").exists()


def test_exporting_into_the_cache_is_refused(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    service = cached_service(isolated_config, tmp_path)
    target = service.root / workspace_key(ZMK_V03) / "tree" / "ws.tar.gz"
    with pytest.raises(WorkspaceError, match="inside the cache"):
        service.export_workspace(ZMK_V03, target)
    assert not target.exists()
    assert service.get_cached_workspace(ZMK_V03) is not None


def test_restoring_next_to_the_cache_is_still_allowed(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    service = cached_service(isolated_config, tmp_path)
    cache_path = service.root.parent.parent
    dest = cache_path.parent / "glovebox-workspace"  # a sibling whose name starts the same
    result = service.restore_workspace(ZMK_V03, dest)
    assert result is not None
    assert (dest / "zmk" / "app" / "src").is_dir()


def test_a_build_into_the_cache_is_refused_before_west_runs(
    isolated_config: IsolatedConfig, tmp_path: Path, west_log: Path
) -> None:
    west = create_default_zmk_west_service(isolated_config)
    dest = isolated_config.cache_path / "layout" / "build-here"
    with pytest.raises(WorkspaceError, match="inside the cache"):
        west.prepare_workspace(ZMK_V03, dest)
    assert fake_west.calls(west_log) == []
    assert not dest.exists()
