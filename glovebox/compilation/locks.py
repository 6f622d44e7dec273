"""Advisory file locks with a bounded wait, shared or exclusive.

Firmware builds coordinate through ``flock`` on small lock files: the kernel releases a
lock when its process dies (Ctrl-C, SIGKILL), so a crashed build never blocks the next
one, and every wait ends after ``timeout`` seconds with an error saying what was busy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from glovebox.errors import WorkspaceError

__all__ = ["file_lock", "try_file_lock"]

_POLL = 0.05


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


@contextlib.contextmanager
def file_lock(
    path: Path, *, timeout: float, shared: bool = False, what: str = "the lock"
) -> Iterator[None]:
    """Hold ``path`` locked (shared or exclusive), waiting at most ``timeout`` seconds."""
    fd = _open(path)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkspaceError(
                        f"gave up waiting for {what} after {timeout:g} s ({path} is held by "
                        "another glovebox process); try again when it has finished"
                    ) from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """Lock ``path`` exclusively if it is free right now; yields whether it was."""
    fd = _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
