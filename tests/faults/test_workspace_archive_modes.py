"""Archive round trips keep permission bits; hostile archives are refused or defused."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from glovebox.compilation.cache import ZmkWorkspaceCacheService
from glovebox.errors import WorkspaceError
from tests.workspace_helpers import ZMK_MAIN, ZMK_V03

MODES = {
    "zmk/run.sh": 0o755,
    "zmk/owner-only.sh": 0o700,
    "zmk/readonly.txt": 0o444,
    "zmk/group-writable.txt": 0o664,
    "zmk/private.txt": 0o600,
    "zmk/plain.c": 0o644,
}
DIR_MODES = {"zmk": 0o755, "zmk/locked": 0o555, "zmk/shared": 0o775}


def moded_workspace(root: Path) -> Path:
    for rel in DIR_MODES:
        (root / rel).mkdir(parents=True, exist_ok=True)
    (root / "zmk" / "locked" / "inside.txt").write_text("x\n")
    for rel, mode in MODES.items():
        (root / rel).write_text(f"{rel}\n")
        (root / rel).chmod(mode)
    for rel, mode in DIR_MODES.items():
        (root / rel).chmod(mode)
    return root


def modes_under(root: Path) -> dict[str, int]:
    return {rel: stat.S_IMODE((root / rel).stat().st_mode) for rel in [*MODES, *DIR_MODES]}


def import_archive(service: ZmkWorkspaceCacheService, archive: Path) -> Path:
    result = service.import_workspace(archive, ZMK_MAIN)
    assert result is not None
    return result.entry.path


def assert_import_refused(service: ZmkWorkspaceCacheService, archive: Path, reason: str) -> None:
    """Importing ``archive`` fails with ``reason`` and leaves no workspace cached."""
    with pytest.raises(WorkspaceError, match=reason):
        service.import_workspace(archive, ZMK_MAIN)
    assert service.list_workspaces() == []


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.gz", ".tar.xz"])
def test_round_trip_keeps_permission_bits(
    tmp_path: Path, suffix: str, service: ZmkWorkspaceCacheService
) -> None:
    source = moded_workspace(tmp_path / "ws")
    cached = service.cache_workspace(source, ZMK_V03)
    assert cached is not None
    assert modes_under(cached.entry.path) == {**MODES, **DIR_MODES}
    archive = tmp_path / f"ws{suffix}"
    service.export_workspace(ZMK_V03, archive)
    imported = import_archive(service, archive)
    assert modes_under(imported) == {**MODES, **DIR_MODES}
    assert (imported / "zmk" / "locked" / "inside.txt").read_text() == "x\n"


def tar_with(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(
    name: str, mode: int = 0o644, data: bytes = b"data\n"
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def special_member(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info, None


def test_tar_setuid_and_setgid_bits_are_never_extracted(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    archive = tar_with(
        tmp_path / "suid.tar.gz",
        file_member("ws/zmk/suid", 0o4755),
        file_member("ws/zmk/sgid", 0o2775),
        file_member("ws/zmk/sticky", 0o1777),
    )
    root = import_archive(service, archive)
    assert stat.S_IMODE((root / "zmk" / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "zmk" / "sgid").stat().st_mode) == 0o775
    assert stat.S_IMODE((root / "zmk" / "sticky").stat().st_mode) == 0o777


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (file_member("ws/../../evil"), "escapes"),
        (file_member("../evil"), "escapes"),
        (special_member("ws/link", tarfile.SYMTYPE, "/etc/passwd"), "absolute"),
        (special_member("ws/link", tarfile.SYMTYPE, "../../../etc"), "escapes"),
        (special_member("ws/hard", tarfile.LNKTYPE, "/etc/passwd"), "absolute"),
        (special_member("ws/dev", tarfile.CHRTYPE), "device"),
        (special_member("ws/blk", tarfile.BLKTYPE), "device"),
        (special_member("ws/fifo", tarfile.FIFOTYPE), "device"),
    ],
)
def test_hostile_tar_members_are_refused_and_nothing_is_cached(
    tmp_path: Path,
    member: tuple[tarfile.TarInfo, bytes | None],
    reason: str,
    service: ZmkWorkspaceCacheService,
) -> None:
    archive = tar_with(tmp_path / "evil.tar.gz", file_member("ws/ok.c"), member)
    assert_import_refused(service, archive, reason)
    assert not (tmp_path / "evil").exists()
    assert [p.name for p in service.root.iterdir() if not p.name.startswith(".locks")] == []


def test_an_absolute_tar_member_lands_inside_the_entry(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    target = tmp_path / "planted-abs"
    archive = tar_with(tmp_path / "abs.tar.gz", file_member(str(target)))
    root = import_archive(service, archive)
    assert not target.exists()
    planted = [p for p in root.rglob("planted-abs")]
    assert len(planted) == 1
    assert service.root in planted[0].parents


def test_a_tar_member_written_through_a_symlink_is_refused(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tar_with(
        tmp_path / "evil.tar.gz",
        special_member("ws/out", tarfile.SYMTYPE, str(outside)),
        file_member("ws/out/planted"),
    )
    with pytest.raises(WorkspaceError, match="refused"):
        service.import_workspace(archive, ZMK_MAIN)
    assert list(outside.iterdir()) == []


ZipMember = tuple[str, int, bytes]
REGULAR = stat.S_IFREG | 0o644


def zip_with(path: Path, *members: ZipMember) -> Path:
    """A zip of Unix members (mode 0: a member written by a system without Unix modes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, mode, data in members:
            info = zipfile.ZipInfo(name)
            info.create_system = 3 if mode else 0
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def test_zip_setuid_bits_are_dropped_and_plain_modes_kept(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    archive = zip_with(
        tmp_path / "ws.zip",
        ("ws/suid", stat.S_IFREG | 0o4755, b"x"),
        ("ws/sgid", stat.S_IFREG | 0o2750, b"x"),
        ("ws/plain", stat.S_IFREG | 0o640, b"x"),
        ("ws/nomode", 0, b"x"),
    )
    root = import_archive(service, archive)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in root.iterdir()}
    assert modes == {"suid": 0o755, "sgid": 0o750, "plain": 0o640, "nomode": 0o644}


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        pytest.param([("/abs/evil", REGULAR, b"/etc")], "escapes", id="absolute"),
        pytest.param([("ws/../../evil", REGULAR, b"/etc")], "escapes", id="dot-dot"),
        pytest.param([("C:/evil", REGULAR, b"/etc")], "escapes", id="drive"),
        pytest.param([("ws/link", stat.S_IFLNK | 0o777, b"/etc")], "symlink", id="symlink"),
        pytest.param([("ws/dev", stat.S_IFCHR | 0o644, b"/etc")], "device", id="device"),
        pytest.param([("ws/fifo", stat.S_IFIFO | 0o644, b"/etc")], "device", id="fifo"),
        pytest.param(
            [("ws/a", REGULAR, b"x"), ("ws/a/b", REGULAR, b"y")],
            "cannot extract",
            id="members-collide",
        ),
    ],
)
def test_hostile_zip_members_are_refused_before_anything_is_written(
    tmp_path: Path, members: list[ZipMember], reason: str, service: ZmkWorkspaceCacheService
) -> None:
    archive = zip_with(tmp_path / "evil.zip", ("ws/ok.c", REGULAR, b"x"), *members)
    assert_import_refused(service, archive, reason)
    assert not (tmp_path / "evil").exists()
