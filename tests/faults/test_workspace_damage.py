"""Entries damaged behind the cache's back are never served and can be replaced."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from glovebox.compilation.cache import ZmkWorkspaceCacheService, workspace_key
from glovebox.errors import WorkspaceError
from glovebox.testing import IsolatedConfig
from tests.helpers import invoke
from tests.workspace_helpers import ZMK_V03, make_workspace, service_for, versions_in


@pytest.mark.usefixtures("sample")
def test_an_entry_whose_tree_was_deleted_is_a_miss_and_is_dropped(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    entry_dir = service.root / workspace_key(ZMK_V03)
    shutil.rmtree(entry_dir / "tree")
    assert service.get_cached_workspace(ZMK_V03) is None
    assert service.restore_workspace(ZMK_V03, tmp_path / "out") is None
    assert not (tmp_path / "out").exists()
    assert not entry_dir.exists()


@pytest.mark.usefixtures("sample")
def test_an_entry_whose_tree_became_a_file_is_a_miss(service: ZmkWorkspaceCacheService) -> None:
    tree = service.root / workspace_key(ZMK_V03) / "tree"
    shutil.rmtree(tree)
    tree.write_text("not a tree")
    assert service.list_workspaces() == []  # the lookup drops it on the way
    assert not tree.parent.exists()
    assert service.cleanup().removed_count == 0


def test_a_file_standing_where_an_entry_belongs_is_replaced(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    service.cache_workspace(make_workspace(tmp_path / "ws", "v1"), ZMK_V03)
    entry_dir = service.root / workspace_key(ZMK_V03)
    shutil.rmtree(entry_dir)
    entry_dir.write_text("not a directory")
    assert service.get_cached_workspace(ZMK_V03) is None
    result = service.cache_workspace(make_workspace(tmp_path / "ws2", "v2"), ZMK_V03)
    assert result is not None
    assert versions_in(result.entry.path) == {"v2"}
    assert [p.name for p in service.root.iterdir() if p.name.startswith(".trash")] == []


def test_an_unreadable_gzip_is_refused_in_one_line(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(WorkspaceError, match="not a readable") as caught:
        service_for(isolated_config).import_workspace(broken, ZMK_V03)
    assert "\n" not in str(caught.value)
    code, _, err = invoke(
        "cache", "workspace", "add", str(broken), "-r", "zmkfirmware/zmk", "--revision", "v1"
    )
    assert code == 2
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert tarfile.is_tarfile(broken) is False
