"""The filesystem side of the workspace cache: listing, manifests and materialising trees.

Copies go through the kernel (``copy_file_range``, falling back to ``sendfile``), one
open/copy/close per file with the mode and times taken from the scan, spread over a few
threads: no Python byte loop and none of ``shutil.copy2``'s extra stat/chmod/xattr calls.

An entry's manifest, written once when the entry is sealed (before it is published),
lists every directory, symlink and regular file with its size, permission bits and
modification time in nanoseconds. Restores read it instead of walking the tree again.
It also guards hardlinks: a hardlinked restore shares inodes with the cache, so a tool
that rewrites a file in place (instead of writing a new file and renaming it) changes
the cached copy too. Writing through a link changes the size or the mtime, ``chmod``
changes the mode; :func:`first_difference` finds either. Renaming, deleting or creating
files in a restored workspace never touches the cache. A writer that puts back the
original size and mtime after changing the content is not detected; the tools that
build ZMK (west, git, cmake, ninja) do not do that.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from glovebox.compilation.cache.models import ProgressCallback, RestoreStrategy, WorkspaceProgress
from glovebox.errors import WorkspaceError

__all__ = [
    "ALWAYS_EXCLUDED_TOP_LEVEL",
    "FileRecord",
    "TransferOutcome",
    "TreeListing",
    "check_destination",
    "first_difference",
    "materialize",
    "read_manifest",
    "remove_excluded",
    "scan_tree",
    "try_rename",
    "write_manifest",
]

logger = logging.getLogger(__name__)

# Only the top-level build directory is a build product: zephyr itself ships source
# directories named "build" (e.g. zephyr/scripts/build), which must be kept.
ALWAYS_EXCLUDED_TOP_LEVEL = frozenset({"build"})
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
_CHUNK = 64  # files per worker task: large enough to amortise scheduling, small for progress


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One regular file of a tree, with the stat fields the copy and the checks need."""

    rel: str
    size: int
    mode: int
    mtime_ns: int


@dataclass(slots=True)
class TreeListing:
    """Everything under a root that a copy must reproduce, excludes already applied."""

    root: Path
    dirs: list[str] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)
    symlinks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def file_count(self) -> int:
        """Regular files plus symlinks (what a user would count as files)."""
        return len(self.files) + len(self.symlinks)


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    used: RestoreStrategy
    fallback_reason: str | None


def _is_excluded(rel_parts: Sequence[str], name: str, exclude_git: bool) -> bool:
    if not rel_parts and name in ALWAYS_EXCLUDED_TOP_LEVEL:
        return True
    return exclude_git and name == ".git"


def scan_tree(root: Path, *, exclude_git: bool = False) -> TreeListing:
    """List ``root`` (not following symlinks), leaving out ``build/`` and optionally ``.git``.

    One thread on purpose: spreading the ``stat`` calls over threads was measured slower
    (the per-entry Python work holds the GIL). Files other than regular files,
    directories and symlinks (sockets, fifos) are skipped: a workspace has none.
    """
    listing = TreeListing(root=root)
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(root), ())]
    while stack:
        current, parts = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if _is_excluded(parts, entry.name, exclude_git):
                    continue
                rel = "/".join((*parts, entry.name))
                if entry.is_symlink():
                    listing.symlinks.append((rel, os.readlink(entry.path)))
                elif entry.is_dir(follow_symlinks=False):
                    listing.dirs.append(rel)
                    stack.append((entry.path, (*parts, entry.name)))
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    listing.files.append(FileRecord(rel, st.st_size, st.st_mode, st.st_mtime_ns))
    return listing


def remove_excluded(root: Path, *, exclude_git: bool) -> None:
    """Delete, inside ``root``, what :func:`scan_tree` would leave out (after a move)."""
    for name in ALWAYS_EXCLUDED_TOP_LEVEL:
        target = root / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
    if exclude_git:
        for current, dirnames, filenames in os.walk(root):
            if ".git" in dirnames:
                dirnames.remove(".git")
                shutil.rmtree(os.path.join(current, ".git"))
            if ".git" in filenames:  # a worktree's or submodule's gitfile
                os.unlink(os.path.join(current, ".git"))


def try_rename(source: Path, target: Path) -> tuple[bool, str | None]:
    """Rename if both are on one filesystem; (False, reason) across filesystems."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        return False, "source is on another filesystem than the cache: copied"
    return True, None


def check_destination(dest: Path) -> None:
    """Refuse a restore target that would overwrite anything (it must be new or empty)."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise WorkspaceError(f"cannot restore into {dest}: it exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise WorkspaceError(
            f"cannot restore into {dest}: the directory is not empty (nothing was changed)"
        )


# Manifests ----------------------------------------------------------------------------

_SEP = "\0"


def write_manifest(listing: TreeListing, target: Path) -> None:
    """Store ``listing`` in ``target`` (one line per directory, symlink and file)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(f"d{_SEP}{rel}\n" for rel in listing.dirs)
        out.writelines(f"l{_SEP}{rel}{_SEP}{dest}\n" for rel, dest in listing.symlinks)
        out.writelines(
            f"f{_SEP}{f.rel}{_SEP}{f.size}{_SEP}{f.mode}{_SEP}{f.mtime_ns}\n" for f in listing.files
        )


def read_manifest(manifest: Path, root: Path, *, exclude_git: bool = False) -> TreeListing | None:
    """The listing stored in ``manifest`` (rooted at ``root``), or None if unreadable."""
    listing = TreeListing(root=root)
    try:
        with open(manifest, encoding="utf-8", newline="\n") as handle:
            for line in handle:
                kind, rel, *rest = line.rstrip("\n").split(_SEP)
                if exclude_git and ".git" in rel.split("/"):
                    continue
                if kind == "f":
                    size, mode, mtime_ns = (int(value) for value in rest)
                    listing.files.append(FileRecord(rel, size, mode, mtime_ns))
                elif kind == "d":
                    listing.dirs.append(rel)
                elif kind == "l":
                    listing.symlinks.append((rel, rest[0]))
                else:
                    return None
    except (OSError, ValueError, UnicodeDecodeError, IndexError):
        return None
    return listing


def first_difference(tree: Path, manifest: Path) -> str | None:
    """The first file of ``tree`` that no longer matches ``manifest``, or ``None``.

    An unreadable manifest counts as a difference: the entry cannot be vouched for.
    """
    listing = read_manifest(manifest, tree)
    if listing is None:
        return f"{manifest.name} is missing or unreadable"
    base = os.fspath(tree)
    for record in listing.files:
        try:
            st = os.stat(os.path.join(base, record.rel), follow_symlinks=False)
        except FileNotFoundError:
            return f"{record.rel}: deleted"
        if st.st_size != record.size or st.st_mtime_ns != record.mtime_ns:
            return f"{record.rel}: content changed (size or modification time differs)"
        if st.st_mode != record.mode:
            return f"{record.rel}: permissions changed"
    return None


# Materialising ------------------------------------------------------------------------


def _copy_data(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy ``size`` bytes in the kernel; ``sendfile`` where ``copy_file_range`` is refused."""
    remaining = size
    use_range = True
    while remaining > 0:
        if use_range:
            try:
                copied = os.copy_file_range(src_fd, dst_fd, remaining)
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE:
                    raise
                use_range = False
                continue
        else:
            copied = os.sendfile(dst_fd, src_fd, None, remaining)
        if copied == 0:  # the source shrank while we copied: keep what exists
            break
        remaining -= copied


class _Transfer:
    """Materialises one listing at ``dest`` with one strategy (may switch to copy once)."""

    def __init__(self, listing: TreeListing, dest: Path, strategy: RestoreStrategy) -> None:
        self.listing = listing
        self.src = os.fspath(listing.root)
        self.dest = os.fspath(dest)
        self.strategy = strategy
        self.fallback_reason: str | None = None
        self._switch = threading.Lock()
        self._umask = _current_umask()

    def _fall_back(self, reason: str) -> None:
        with self._switch:
            if self.strategy is not RestoreStrategy.COPY:
                logger.info("falling back to copy: %s", reason)
                self.strategy = RestoreStrategy.COPY
                self.fallback_reason = reason

    def one(self, record: FileRecord) -> None:
        src = os.path.join(self.src, record.rel)
        dst = os.path.join(self.dest, record.rel)
        if self.strategy is RestoreStrategy.HARDLINK:
            try:
                os.link(src, dst)
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                self._fall_back(f"hardlink refused ({errno.errorcode.get(exc.errno or 0)})")
        src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
        try:
            mode = record.mode & 0o7777
            dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
            try:
                if mode & self._umask:  # the umask took bits away (0664 under umask 022)
                    os.fchmod(dst_fd, mode)
                if self.strategy is RestoreStrategy.REFLINK:
                    try:
                        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
                    except OSError as exc:
                        if exc.errno not in _NO_REFLINK:
                            raise
                        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
                        self._fall_back(f"reflink not supported by this filesystem ({name})")
                        _copy_data(src_fd, dst_fd, record.size)
                else:
                    _copy_data(src_fd, dst_fd, record.size)
                os.utime(dst_fd, ns=(record.mtime_ns, record.mtime_ns))
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)

    def chunk(self, records: Sequence[FileRecord]) -> tuple[int, int]:
        for record in records:
            self.one(record)
        return len(records), sum(r.size for r in records)


def _current_umask() -> int:
    """The process's umask, read without changing it (another thread may create files).

    Linux reports it in ``/proc/self/status``; where it cannot be read, every bit is
    assumed masked, so every copied file gets its mode set explicitly.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o7777


def _chunks(files: list[FileRecord]) -> Iterator[list[FileRecord]]:
    for start in range(0, len(files), _CHUNK):
        yield files[start : start + _CHUNK]


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def materialize(
    listing: TreeListing,
    dest: Path,
    strategy: RestoreStrategy,
    *,
    progress: ProgressCallback | None = None,
    operation: str = "copy",
) -> TransferOutcome:
    """Reproduce ``listing`` under ``dest`` (which must not exist) with ``strategy``.

    Hardlink and reflink fall back to copying when the filesystem refuses them; the
    outcome says which strategy was really used and why. On error ``dest`` is left
    partially filled: callers build into a staging directory they can discard.
    """
    os.mkdir(dest)
    base = os.fspath(dest)
    _make_dirs(base, listing.dirs)
    for rel, target in listing.symlinks:
        os.symlink(target, os.path.join(base, rel))
    transfer = _Transfer(listing, dest, strategy)
    total_files, total_bytes = len(listing.files), listing.total_bytes
    report: Callable[[int, int], None] = (
        (
            lambda files, size: progress(
                WorkspaceProgress(
                    operation=operation,
                    files_done=files,
                    files_total=total_files,
                    bytes_done=size,
                    bytes_total=total_bytes,
                )
            )
        )
        if progress is not None
        else (lambda files, size: None)
    )
    report(0, 0)
    chunks = list(_chunks(listing.files))
    if chunks:
        # The first chunk runs alone so a refused hardlink/reflink switches the strategy
        # once, before the pool starts, instead of failing in every worker at once.
        done_files, done_bytes = transfer.chunk(chunks[0])
        report(done_files, done_bytes)
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            futures = [pool.submit(transfer.chunk, c) for c in chunks[1:]]
            try:
                for future in as_completed(futures):
                    files, size = future.result()
                    done_files += files
                    done_bytes += size
                    report(done_files, done_bytes)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    # Directory modes and times last: creating entries inside a directory updates its
    # mtime, and a read-only source directory must stay writable until it is filled.
    src_root = os.fspath(listing.root)
    pairs = [(os.path.join(src_root, rel), os.path.join(base, rel)) for rel in listing.dirs]
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        list(
            pool.map(
                _copy_dir_attributes, [pairs[i : i + _CHUNK] for i in range(0, len(pairs), _CHUNK)]
            )
        )
    _copy_dir_attributes([(src_root, base)])
    return TransferOutcome(transfer.strategy, transfer.fallback_reason)


def _make_dirs(base: str, dirs: list[str]) -> None:
    """Create ``dirs`` under ``base``, level by level, each level spread over workers.

    Measured about twice as fast as one thread for a workspace's ~2,000 directories.
    """
    by_depth: dict[int, list[str]] = {}
    for rel in dirs:
        by_depth.setdefault(rel.count("/"), []).append(rel)

    def make(batch: list[str]) -> None:
        for rel in batch:
            os.mkdir(os.path.join(base, rel))

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        for depth in sorted(by_depth):
            level = by_depth[depth]
            # list() surfaces the first error of the level before the next level starts.
            list(pool.map(make, [level[i : i + _CHUNK] for i in range(0, len(level), _CHUNK)]))


def _copy_dir_attributes(pairs: Sequence[tuple[str, str]]) -> None:
    for src, dst in pairs:
        st = os.stat(src, follow_symlinks=False)
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
