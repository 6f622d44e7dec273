"""Reading and writing workspace archives (.zip, .tar, .tar.gz/.tgz, .tar.xz).

Extraction refuses members that would land outside the target (absolute paths, ``..``,
links pointing out) and special files (devices, fifos): tar goes through the standard
library's ``data`` filter, zip members are checked before anything is written (zip
symlinks are refused: export never writes them). Permission bits survive a round trip
in both formats, except setuid, setgid and sticky, which are never extracted. Writing goes
to a hidden sibling then is renamed, so an interrupted export never leaves a truncated
archive under the requested name.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal, cast

from glovebox.compilation.cache.models import ProgressCallback, WorkspaceProgress
from glovebox.compilation.cache.tree import TreeListing
from glovebox.errors import WorkspaceError

__all__ = [
    "ARCHIVE_SUFFIXES",
    "archive_format",
    "extract_archive",
    "extraction_filter",
    "write_archive",
]

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz")
_TAR_COMPRESSION: dict[str, Literal["", "gz", "xz"]] = {
    ".tar": "",
    ".tar.gz": "gz",
    ".tgz": "gz",
    ".tar.xz": "xz",
}


def archive_format(path: Path) -> str:
    """The archive suffix of ``path`` (one of ``ARCHIVE_SUFFIXES``) or a WorkspaceError."""
    name = path.name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise WorkspaceError(
        f"{path}: unsupported archive type; accepted: {', '.join(ARCHIVE_SUFFIXES)}"
    )


class _ReadProgress(io.RawIOBase):
    """A seekable binary file that reports how far into it reading has got."""

    def __init__(self, raw: BinaryIO, total: int, progress: ProgressCallback) -> None:
        super().__init__()
        self._raw = raw
        self._total = total
        self._progress = progress
        self._reported = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        position = self._raw.tell()
        # Report every 256 KiB (and at the end), not on each small read.
        if position - self._reported >= 1 << 18 or position >= self._total:
            self._reported = position
            self._progress(
                WorkspaceProgress(
                    operation="extract",
                    files_done=0,
                    files_total=0,
                    bytes_done=min(position, self._total),
                    bytes_total=self._total,
                )
            )
        return int(count or 0)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def extract_archive(
    archive: Path, target: Path, *, progress: ProgressCallback | None = None
) -> Path:
    """Extract ``archive`` into the new directory ``target``; return the workspace root.

    When the archive holds a single top-level directory (as ``export`` writes it), that
    directory is the workspace root; otherwise ``target`` itself is. ``progress`` is told
    how many bytes of the archive have been read (operation ``"extract"``).
    """
    fmt = archive_format(archive)
    target.mkdir()
    try:
        with open(archive, "rb") as raw:
            source: BinaryIO = raw
            if progress is not None:
                total = os.fstat(raw.fileno()).st_size
                source = cast(BinaryIO, _ReadProgress(raw, total, progress))
            _extract(source, archive, fmt, target)
            if progress is not None:  # the end of an archive (padding) is never read
                progress(
                    WorkspaceProgress(
                        operation="extract",
                        files_done=0,
                        files_total=0,
                        bytes_done=total,
                        bytes_total=total,
                    )
                )
    except tarfile.FilterError as exc:
        reason = f"{_filter_reason(exc)} ({_flat(exc)})"
        raise WorkspaceError(f"{archive}: refused, {reason}") from exc
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise WorkspaceError(f"{archive}: not a readable {fmt} archive ({_flat(exc)})") from exc
    except OSError as exc:
        raise WorkspaceError(f"{archive}: cannot extract into {target}: {_flat(exc)}") from exc
    children = list(target.iterdir())
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return target


def _extract(source: BinaryIO, archive: Path, fmt: str, target: Path) -> None:
    if fmt == ".zip":
        with zipfile.ZipFile(source) as zf:
            _extract_zip(zf, archive, target)
    else:
        with tarfile.open(fileobj=source, mode="r:*") as tf:
            tf.extractall(target, filter=_keep_permissions)


def _flat(exc: BaseException, limit: int = 300) -> str:
    """``exc`` as one line of bounded length (tarfile lists every method it tried)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def _keep_permissions(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """The ``data`` filter's safety checks, with the member's own permission bits kept.

    The ``data`` filter also rewrites modes (0444 and 0664 both come out 0644); a workspace
    needs its read-only and group-writable files back as they were. Setuid, setgid and
    sticky bits are still dropped.
    """
    safe = tarfile.data_filter(member, dest)
    if safe is None or not (safe.isreg() or safe.isdir()):
        return safe
    return safe.replace(mode=member.mode & 0o777 & ~_SPECIAL_BITS, deep=False)


# The same rules for other readers of workspace tars (the remote tier's streams).
extraction_filter = _keep_permissions


def _filter_reason(exc: tarfile.FilterError) -> str:
    if isinstance(exc, tarfile.SpecialFileError):
        return "a member is a device or other special file"
    if isinstance(exc, tarfile.AbsolutePathError | tarfile.AbsoluteLinkError):
        return "a member has an absolute path"
    return "a member escapes the archive root"


def _extract_zip(zf: zipfile.ZipFile, archive: Path, target: Path) -> None:
    """Extract every member of ``zf`` into ``target`` with its permission bits.

    All names and types are checked before anything is written. Directory modes are set
    last, so a read-only directory is filled first.
    """
    members: list[tuple[zipfile.ZipInfo, Path, int, bool]] = []
    for info in zf.infolist():
        name = info.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]) or "\0" in name:
            raise WorkspaceError(f"{archive}: refused, member {name!r} escapes the archive root")
        unix_mode = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = stat.S_IFMT(unix_mode)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            what = "a symlink" if kind == stat.S_IFLNK else "a device or other special file"
            raise WorkspaceError(
                f"{archive}: refused, member {name!r} is {what}; a zip workspace holds only "
                "files and directories (use .tar.gz for symlinks)"
            )
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        default = 0o755 if is_dir else 0o644
        mode = (stat.S_IMODE(unix_mode) or default) & ~_SPECIAL_BITS
        members.append((info, target.joinpath(*parts), mode, is_dir))
    directories: list[tuple[Path, int]] = []
    for info, path, mode, is_dir in members:
        if is_dir:
            path.mkdir(parents=True, exist_ok=True)
            directories.append((path, mode))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with zf.open(info) as source, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)
        os.chmod(path, mode)
    for path, mode in reversed(directories):
        os.chmod(path, mode)


def write_archive(
    listing: TreeListing,
    archive: Path,
    *,
    top: str,
    progress: ProgressCallback | None = None,
) -> None:
    """Write ``listing`` into ``archive`` under the top-level directory ``top``."""
    fmt = archive_format(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f".{archive.name}.{secrets.token_hex(4)}.partial")
    total_files, total_bytes = len(listing.files), listing.total_bytes
    done_files = done_bytes = 0

    def tick(size: int) -> None:
        nonlocal done_files, done_bytes
        done_files += 1
        done_bytes += size
        if progress is not None and (done_files % 64 == 0 or done_files == total_files):
            progress(
                WorkspaceProgress(
                    operation="export",
                    files_done=done_files,
                    files_total=total_files,
                    bytes_done=done_bytes,
                    bytes_total=total_bytes,
                )
            )

    root = listing.root
    if fmt == ".zip" and listing.symlinks:
        raise WorkspaceError(
            f"{archive}: the workspace has {len(listing.symlinks)} symlink(s), which zip cannot "
            f"keep (e.g. {listing.symlinks[0][0]}); export to .tar.gz instead"
        )
    try:
        if fmt == ".zip":
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for rel in listing.dirs:
                    zf.write(root / rel, f"{top}/{rel}/")
                for f in listing.files:
                    zf.write(root / f.rel, f"{top}/{f.rel}")
                    tick(f.size)
        else:
            with _open_tar_for_writing(partial, _TAR_COMPRESSION[fmt]) as tf:
                tf.add(root, arcname=top, recursive=False)
                for rel in listing.dirs:
                    tf.add(root / rel, arcname=f"{top}/{rel}", recursive=False)
                for f in listing.files:
                    tf.add(root / f.rel, arcname=f"{top}/{f.rel}", recursive=False)
                    tick(f.size)
                for rel, _ in listing.symlinks:
                    tf.add(root / rel, arcname=f"{top}/{rel}", recursive=False)
        os.replace(partial, archive)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _open_tar_for_writing(path: Path, compression: Literal["", "gz", "xz"]) -> tarfile.TarFile:
    if compression == "gz":
        return tarfile.open(path, "w:gz")
    if compression == "xz":
        return tarfile.open(path, "w:xz")
    return tarfile.open(path, "w")
