"""Checks of what callers hand the workspace service: paths and strategy names."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from glovebox.compilation.cache.models import RestoreStrategy
from glovebox.errors import WorkspaceError

__all__ = ["check_destination", "is_within", "parse_strategy", "try_rename"]


def parse_strategy(value: RestoreStrategy | str) -> RestoreStrategy:
    """``value`` as a strategy, or a WorkspaceError naming the accepted ones."""
    try:
        return RestoreStrategy(value)
    except ValueError:
        accepted = ", ".join(s.value for s in RestoreStrategy)
        raise WorkspaceError(f"unknown restore strategy {value!r}; accepted: {accepted}") from None


def check_destination(dest: Path) -> None:
    """Refuse a restore target that would overwrite anything (it must be new or empty)."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise WorkspaceError(f"cannot restore into {dest}: it exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise WorkspaceError(
            f"cannot restore into {dest}: the directory is not empty (nothing was changed)"
        )


def try_rename(source: Path, target: Path) -> tuple[bool, str | None]:
    """Rename if both are on one filesystem; (False, reason) across filesystems."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        return False, "source is on another filesystem than the cache: copied"
    return True, None


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both resolved)."""
    return path == root or root in path.parents
