"""The disk layout of a cache root: preparing a domain directory, opening its database
safely, and listing the tags that have one.

Layout: ``<root>/<tag>/cache.db`` per tag; a damaged domain directory is moved aside to
``<root>/<tag>.corrupt-<UTC stamp>-<pid>`` (never deleted).

Values are unpickled from disk, so whoever can write the cache directory can run code in
this process. Directories are therefore created private (0700) and an existing root that
others can write, or that another user owns, is refused.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

from glovebox.core.cache_v2.disk_store import CACHE_DB_NAME, CORRUPT_MARKER, move_aside
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.errors import UnusableStorageError

__all__ = [
    "CACHE_DB_NAME",
    "CORRUPT_MARKER",
    "disk_usage",
    "disk_usage_with_part",
    "list_tags",
    "open_disk_cache",
    "prepare_directory",
]

logger = logging.getLogger(__name__)


def _check_private(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise UnusableStorageError(
            f"{path} is owned by uid {info.st_uid}, not by the current user "
            f"(uid {os.geteuid()}); use a cache root you own (chown it or set XDG_CACHE_HOME)"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnusableStorageError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"cached values are unpickled, so fix it with: chmod go-w {path}"
        )


def prepare_directory(cache_root: Path, name: str) -> Path:
    """Create (0700) and vet ``cache_root/name``; raise ``UnusableStorageError`` if unusable."""
    directory = cache_root / name
    try:
        cache_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(cache_root)
        directory.mkdir(mode=0o700, exist_ok=True)
        _check_private(directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise UnusableStorageError(f"{directory} is not writable by the current user")
    except OSError as exc:
        raise UnusableStorageError(
            f"cannot create cache directory {directory}: {exc.strerror or exc}"
        ) from exc
    return directory


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    # OperationalError covers "locked", "unable to open", "disk I/O": not the file's fault.
    return not isinstance(exc, sqlite3.OperationalError)


def list_tags(root: Path) -> list[str]:
    """Sorted names of the directories under ``root`` holding a cache database.

    Directories moved aside as corrupt are left out; a missing root has no tags.
    """
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return sorted(
        entry.name
        for entry in entries
        if CORRUPT_MARKER not in entry.name and entry.is_dir() and (entry / CACHE_DB_NAME).is_file()
    )


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk for ``path`` and everything below it, as ``du`` counts them.

    Blocks actually allocated (``st_blocks * 512``), each hardlinked file once, symlinks
    not followed; entries that vanish or cannot be read while walking are skipped. A
    missing path uses 0 bytes.
    """
    return disk_usage_with_part(path, None)[0]


def disk_usage_with_part(path: Path, part: Path | None) -> tuple[int, int]:
    """:func:`disk_usage` of ``path``, and how much of it lies below ``part``, in one walk."""
    inside = None if part is None else os.fspath(part)
    seen: set[tuple[int, int]] = set()
    total = in_part = 0
    pending = [(os.fspath(path), False)]
    while pending:
        current, below = pending.pop()
        below = below or current == inside
        try:
            info = os.lstat(current)
        except OSError:
            continue
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            identity = (info.st_dev, info.st_ino)
            if identity in seen:
                continue
            seen.add(identity)
        total += info.st_blocks * 512
        if below:
            in_part += info.st_blocks * 512
        if stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(current) as entries:
                    pending.extend((entry.path, below) for entry in entries)
            except OSError:
                continue
    return total, in_part


def open_disk_cache(directory: Path, *, tag: str, settings: CacheSettings) -> DiskCacheManager:
    """Open the cache in ``directory``; a damaged database is moved aside, never deleted."""

    def attempt() -> DiskCacheManager:
        return DiskCacheManager(directory, tag=tag, settings=settings)

    try:
        return attempt()
    except sqlite3.DatabaseError as exc:
        if not _is_corruption(exc):
            raise UnusableStorageError(f"cannot open {directory / CACHE_DB_NAME}: {exc}") from exc
        move_aside(directory, tag, exc)
        return attempt()
    except OSError as exc:
        raise UnusableStorageError(f"cannot open cache in {directory}: {exc}") from exc
