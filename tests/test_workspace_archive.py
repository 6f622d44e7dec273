"""Importing workspaces from directories and archives, exporting them to archives."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from glovebox.compilation.cache import (
    CacheWorkspaceResult,
    WorkspaceProgress,
    ZmkWorkspaceCacheService,
)
from glovebox.errors import WorkspaceError
from glovebox.testing import IsolatedConfig
from tests.workspace_helpers import (
    ZMK_MAIN,
    ZMK_V03,
    make_workspace,
    service_for,
    snapshot,
)


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar", ".tar.xz"])
def test_export_then_import_round_trips_a_workspace(
    tmp_path: Path, suffix: str, service: ZmkWorkspaceCacheService, sample: CacheWorkspaceResult
) -> None:
    archive = tmp_path / f"ws{suffix}"
    reports: list[WorkspaceProgress] = []
    assert service.export_workspace(ZMK_V03, archive, progress=reports.append) == archive
    assert reports[-1].files_done == reports[-1].files_total
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    imported = service.import_workspace(archive, ZMK_MAIN)
    assert imported is not None
    assert imported.method == "archive"
    assert snapshot(imported.entry.path) == snapshot(sample.entry.path)
    assert imported.entry.file_count == sample.entry.file_count


def test_zip_round_trip_of_a_workspace_without_symlinks(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    source = make_workspace(tmp_path / "ws")
    (source / "zephyr" / "kernel-link").unlink()
    cached = service.cache_workspace(source, ZMK_V03)
    assert cached is not None
    service.export_workspace(ZMK_V03, tmp_path / "ws.zip")
    imported = service.import_workspace(tmp_path / "ws.zip", ZMK_MAIN)
    assert imported is not None
    assert snapshot(imported.entry.path) == snapshot(cached.entry.path)


@pytest.mark.usefixtures("sample")
def test_zip_export_refuses_symlinks_instead_of_corrupting_them(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    with pytest.raises(WorkspaceError, match=r"symlink.*\.tar\.gz"):
        service.export_workspace(ZMK_V03, tmp_path / "ws.zip")
    assert list(tmp_path.glob("*.zip")) == []
    assert list(tmp_path.glob(".*partial")) == []


def test_import_from_a_directory_copies_it(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    source = make_workspace(tmp_path / "ws")
    result = service.import_workspace(source, ZMK_V03)
    assert result is not None
    assert result.method == "copy"
    assert source.is_dir()


@pytest.mark.usefixtures("sample")
def test_export_without_git(tmp_path: Path, service: ZmkWorkspaceCacheService) -> None:
    service.export_workspace(ZMK_V03, tmp_path / "ws.tgz", include_git=False)
    with tarfile.open(tmp_path / "ws.tgz") as tf:
        names = tf.getnames()
    assert not [n for n in names if "/.git" in n]
    assert any(n.endswith("zmk/app/src/d0/f0.c") for n in names)


def test_export_of_an_uncached_workspace_fails_clearly(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    with pytest.raises(WorkspaceError, match="not cached"):
        service_for(isolated_config).export_workspace(ZMK_V03, tmp_path / "x.tar.gz")


def test_unsupported_archive_type_names_the_accepted_ones(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    bogus = tmp_path / "ws.rar"
    bogus.write_bytes(b"not an archive")
    with pytest.raises(WorkspaceError, match=r"\.zip, \.tar, \.tar\.gz"):
        service_for(isolated_config).import_workspace(bogus, ZMK_V03)


def test_a_corrupt_archive_never_becomes_an_entry(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    bad = tmp_path / "ws.tar.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(WorkspaceError, match="not a readable"):
        service.import_workspace(bad, ZMK_V03)
    assert service.get_cached_workspace(ZMK_V03) is None
    assert [p.name for p in service.root.iterdir()] == [".locks"]


def test_archive_members_escaping_the_target_are_refused(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as zf:
        zf.writestr("../escaped.txt", "boom")
    with pytest.raises(WorkspaceError, match="escapes"):
        service.import_workspace(evil_zip, ZMK_V03)
    evil_tar = tmp_path / "evil.tar"
    with tarfile.open(evil_tar, "w") as tf:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"boom"))
    with pytest.raises(WorkspaceError, match="escapes"):
        service.import_workspace(evil_tar, ZMK_V03)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (service.root / "escaped.txt").exists()
    assert service.get_cached_workspace(ZMK_V03) is None
