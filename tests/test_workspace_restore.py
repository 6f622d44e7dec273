"""Restoring cached workspaces: copy, hardlink (with modification detection), reflink."""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from pathlib import Path

import pytest

from glovebox.compilation.cache import (
    RestoreStrategy,
    WorkspaceEntry,
    WorkspaceProgress,
    ZmkWorkspaceCacheService,
)
from glovebox.errors import WorkspaceError
from glovebox.testing import IsolatedConfig
from tests.workspace_helpers import ZMK_V03, make_workspace, service_for, snapshot

SOURCE_FILE = Path("zmk/app/src/d0/f0.c")


@pytest.fixture
def cached(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> tuple[ZmkWorkspaceCacheService, WorkspaceEntry]:
    service = service_for(isolated_config)
    result = service.cache_workspace(make_workspace(tmp_path / "ws", files=40), ZMK_V03)
    assert result is not None
    return service, result.entry


def test_copy_restore_reproduces_the_tree_with_independent_files(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    result = service.restore_workspace(ZMK_V03, tmp_path / "out")
    assert result is not None
    assert (result.requested, result.used, result.fallback_reason) == ("copy", "copy", None)
    out = tmp_path / "out"
    assert snapshot(out) == snapshot(entry.path)
    assert result.file_count == entry.file_count
    assert result.size_bytes == entry.size_bytes
    src, dst = entry.path / SOURCE_FILE, out / SOURCE_FILE
    assert src.stat().st_ino != dst.stat().st_ino
    assert src.stat().st_mtime_ns == dst.stat().st_mtime_ns  # times preserved
    assert os.access(out / "zephyr/scripts/tool.sh", os.X_OK)  # modes preserved
    assert os.readlink(out / "zephyr/kernel-link") == "kernel"  # symlinks stay symlinks
    dst.write_text("edited")
    assert service.get_cached_workspace(ZMK_V03) is not None  # a copy never touches the cache


def test_restore_without_git_leaves_out_git_directories(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, _ = cached
    assert service.restore_workspace(ZMK_V03, tmp_path / "out", include_git=False) is not None
    assert not list((tmp_path / "out").rglob(".git"))
    assert (tmp_path / "out" / SOURCE_FILE).is_file()


def test_restore_into_an_existing_empty_directory(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    (tmp_path / "out").mkdir()
    assert service.restore_workspace(ZMK_V03, tmp_path / "out") is not None
    assert snapshot(tmp_path / "out") == snapshot(entry.path)


def test_restore_refuses_a_non_empty_destination_and_changes_nothing(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, _ = cached
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="not empty"):
        service.restore_workspace(ZMK_V03, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_unknown_strategy_is_rejected_with_the_accepted_ones(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, _ = cached
    with pytest.raises(WorkspaceError, match="copy, hardlink, reflink"):
        service.restore_workspace(ZMK_V03, tmp_path / "out", "symlink")


def test_restore_of_an_uncached_config_returns_none(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    assert service_for(isolated_config).restore_workspace(ZMK_V03, tmp_path / "out") is None
    assert not (tmp_path / "out").exists()


def test_hardlink_restore_shares_files_with_the_cache(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    result = service.restore_workspace(ZMK_V03, tmp_path / "out", RestoreStrategy.HARDLINK)
    assert result is not None
    assert result.used is RestoreStrategy.HARDLINK
    assert (tmp_path / "out" / SOURCE_FILE).stat().st_ino == (
        entry.path / SOURCE_FILE
    ).stat().st_ino
    assert snapshot(tmp_path / "out") == snapshot(entry.path)
    after = service.get_cached_workspace(ZMK_V03)
    assert after is not None
    assert after.hardlinked


def test_writing_in_place_through_a_hardlink_drops_the_entry(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    service.restore_workspace(ZMK_V03, tmp_path / "out", "hardlink")
    with open(tmp_path / "out" / SOURCE_FILE, "r+") as handle:  # in place, same inode
        handle.write("X")
    assert service.get_cached_workspace(ZMK_V03) is None
    assert not (service.root / entry.key).exists()
    assert service.cache.get(f"workspace:{entry.key}") is None
    assert service.restore_workspace(ZMK_V03, tmp_path / "again", "copy") is None


def test_chmod_through_a_hardlink_drops_the_entry(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, _ = cached
    service.restore_workspace(ZMK_V03, tmp_path / "out", "hardlink")
    (tmp_path / "out" / SOURCE_FILE).chmod(0o600)
    assert service.get_cached_workspace(ZMK_V03) is None


def test_replacing_or_deleting_linked_files_does_not_affect_the_cache(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    before = snapshot(entry.path)
    out = tmp_path / "out"
    service.restore_workspace(ZMK_V03, out, "hardlink")
    replacement = out / "new.tmp"
    replacement.write_text("rewritten by rename, like git and editors do")
    os.replace(replacement, out / SOURCE_FILE)
    (out / "zmk/app/src/d3/f3.c").unlink()
    (out / "build").mkdir()
    (out / "build" / "zmk.uf2").write_text("firmware")
    assert service.get_cached_workspace(ZMK_V03) is not None
    assert snapshot(entry.path) == before


def append_through_a_hardlink(service: ZmkWorkspaceCacheService, out: Path) -> None:
    """Restore by hardlink into ``out``, then append to a file there (and so in the entry)."""
    service.restore_workspace(ZMK_V03, out, "hardlink")
    with open(out / SOURCE_FILE, "a") as handle:
        handle.write("appended")


def test_cleanup_drops_an_entry_modified_through_a_hardlink(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    append_through_a_hardlink(service, tmp_path / "out")
    result = service.cleanup()
    assert result.modified == [entry.key]
    assert not (service.root / entry.key).exists()


def test_a_modified_entry_is_not_handed_out_by_a_later_hardlink_restore(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, _ = cached
    append_through_a_hardlink(service, tmp_path / "first")
    assert service.restore_workspace(ZMK_V03, tmp_path / "second", "hardlink") is None
    assert not (tmp_path / "second").exists()


def _filesystem_can_reflink(directory: Path) -> bool:
    with tempfile.TemporaryDirectory(dir=directory) as probe:
        src, dst = Path(probe, "a"), Path(probe, "b")
        src.write_bytes(b"x" * 4096)
        with open(src, "rb") as s, open(dst, "wb") as d:
            try:
                fcntl.ioctl(d.fileno(), 0x40049409, s.fileno())
            except OSError as exc:
                if exc.errno in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL):
                    return False
                raise
    return True


def test_reflink_is_used_where_supported_and_reported_as_copy_otherwise(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    result = service.restore_workspace(ZMK_V03, tmp_path / "out", "reflink")
    assert result is not None
    assert result.requested is RestoreStrategy.REFLINK
    if _filesystem_can_reflink(tmp_path):
        assert (result.used, result.fallback_reason) == (RestoreStrategy.REFLINK, None)
    else:
        assert result.used is RestoreStrategy.COPY
        assert result.fallback_reason is not None
        assert "reflink" in result.fallback_reason
    assert snapshot(tmp_path / "out") == snapshot(entry.path)
    assert (tmp_path / "out" / SOURCE_FILE).stat().st_ino != (
        entry.path / SOURCE_FILE
    ).stat().st_ino


def test_progress_reports_every_file_up_to_the_totals(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    reports: list[WorkspaceProgress] = []
    result = service.cache_workspace(
        make_workspace(tmp_path / "ws", files=400), ZMK_V03, progress=reports.append
    )
    assert result is not None
    assert reports[0].files_done == 0
    assert reports[-1].files_done == reports[-1].files_total
    assert reports[-1].bytes_done == reports[-1].bytes_total > 0
    assert [r.files_done for r in reports] == sorted(r.files_done for r in reports)
    assert len(reports) > 3  # several updates for a bar, not just start and end
    restored: list[WorkspaceProgress] = []
    service.restore_workspace(ZMK_V03, tmp_path / "out", progress=restored.append)
    assert restored[-1].files_done == restored[-1].files_total
    assert restored[-1].operation == "copy"


def test_restore_without_a_readable_manifest_walks_the_tree(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    (service.root / entry.key / "manifest").write_text("garbage without separators\n")
    result = service.restore_workspace(ZMK_V03, tmp_path / "out")
    assert result is not None
    assert snapshot(tmp_path / "out") == snapshot(entry.path)


def test_a_hardlinked_entry_without_its_manifest_cannot_be_vouched_for(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    service.restore_workspace(ZMK_V03, tmp_path / "out", "hardlink")
    (service.root / entry.key / "manifest").unlink()
    assert service.get_cached_workspace(ZMK_V03) is None
    assert not (service.root / entry.key).exists()


def test_restore_uses_the_manifest_written_when_the_entry_was_sealed(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry], tmp_path: Path
) -> None:
    service, entry = cached
    lines = (service.root / entry.key / "manifest").read_text().splitlines()
    kinds = {line.split("\0")[0] for line in lines}
    assert kinds == {"d", "f", "l"}
    assert len([line for line in lines if line.startswith("f")]) + 1 == entry.file_count


def test_directory_modes_and_times_are_restored(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    source = make_workspace(tmp_path / "ws")
    locked = source / "zmk" / "app"
    os.utime(locked, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    locked.chmod(0o550)
    assert service.cache_workspace(source, ZMK_V03) is not None
    for strategy in ("copy", "hardlink"):
        out = tmp_path / f"out-{strategy}"
        assert service.restore_workspace(ZMK_V03, out, strategy) is not None
        restored = out / "zmk" / "app"
        assert restored.stat().st_mode & 0o777 == 0o550
        assert restored.stat().st_mtime_ns == 1_600_000_000_000_000_000
        assert (restored / "src" / "d0" / "f0.c").is_file()


def test_hardlink_across_filesystems_falls_back_to_copy(
    cached: tuple[ZmkWorkspaceCacheService, WorkspaceEntry],
) -> None:
    service, entry = cached
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == entry.path.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the test's cache")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        out = Path(other) / "out"
        result = service.restore_workspace(ZMK_V03, out, "hardlink")
        assert result is not None
        assert result.used is RestoreStrategy.COPY
        assert result.fallback_reason is not None
        assert "EXDEV" in result.fallback_reason
        assert snapshot(out) == snapshot(entry.path)
