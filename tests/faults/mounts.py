"""Small real filesystems for fault tests: a tmpfs of a given size, and filling one up."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["fill_up", "small_tmpfs"]


@contextmanager
def small_tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A ``size`` tmpfs mounted on ``mount_point`` (created) for the block; skips the test
    where mounting is not permitted (it needs root)."""
    mount_point.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def fill_up(directory: Path, name: str = "filler") -> Path:
    """Write ``directory/name`` until the filesystem holding it is full; returns the file."""
    path = directory / name
    with open(path, "wb", buffering=0) as handle:
        for size in (65536, 4096, 1):
            chunk = b"\0" * size
            while True:
                try:
                    handle.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(handle.fileno())
    return path
