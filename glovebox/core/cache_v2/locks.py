"""Per-key locks that serialise computing a value (``get_or_set``'s stampede protection).

Keys map onto a fixed number of stripes, so memory and lock files stay bounded however
many keys there are. Unrelated keys that share a stripe may wait for each other; the
locks are re-entrant, so a computation that itself calls ``get_or_set`` on a key sharing
its stripe does not deadlock.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import filelock

__all__ = ["KeyLocks", "stripe_index"]

STRIPES = 64


def stripe_index(key: str, stripes: int = STRIPES) -> int:
    """Map ``key`` to one of ``stripes`` slots, the same slot in every process."""
    digest = hashlib.blake2b(key.encode(), digest_size=2).digest()
    return int.from_bytes(digest, "big") % stripes


class KeyLocks:
    """Striped re-entrant locks; with a directory, also exclusive across processes.

    Within a process, a thread lock per stripe; across processes, a ``filelock`` lock
    file per stripe in ``directory`` (flock-based: released by the OS if the holder dies).
    Not fork-safe by itself: a forked child must build a new ``KeyLocks``.
    """

    def __init__(self, directory: Path | None = None, stripes: int = STRIPES) -> None:
        self._directory = directory
        self._thread_locks = [threading.RLock() for _ in range(stripes)]
        self._file_locks: dict[int, filelock.FileLock] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        stripe = stripe_index(key, len(self._thread_locks))
        with self._thread_locks[stripe]:
            if self._directory is None:
                yield
                return
            lock = self._file_locks.get(stripe)
            if lock is None:
                import filelock  # only computing a value takes a lock: not needed to read

                self._directory.mkdir(mode=0o700, exist_ok=True)
                # Owner-only, like every file of the cache (the umask is left alone).
                lock = filelock.FileLock(str(self._directory / f"{stripe:02x}.lock"), mode=0o600)
                self._file_locks[stripe] = lock
            with lock:
                yield
