"""The cross-process lock of the Redis backend's ``get_or_set``.

Guarantees
- One computation per key at a time on every machine using the server: a thread holds
  its process's stripe lock, then the server-wide lock ``<prefix>:<tag>#lock:<key>``.
- Waiting is bounded by ``lock_timeout`` (plus one socket timeout): a crashed holder's
  lock expires by itself. With the server unusable for locking, the value is computed
  without the shared lock rather than not at all.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress

from glovebox.core.cache_v2.redis_connection import RedisConnection, RedisUnavailableError
from glovebox.errors import CacheError

__all__ = ["RedisSharedLock"]

# Messages go to the backend's logger: one name to filter for all that RedisCache reports.
logger = logging.getLogger("glovebox.core.cache_v2.redis_cache")


class RedisSharedLock(RedisConnection):
    """A connection that can hold a key's lock across every process using the server."""

    def _compute_lock(self, key: str) -> AbstractContextManager[None]:
        self._check_process()
        return self._shared_lock(key)

    @contextmanager
    def _shared_lock(self, key: str) -> Iterator[None]:
        """This process's stripe lock, then the server-wide lock of ``key``."""
        with self._key_locks.hold(key):
            name = self._lock_prefix + key.encode()
            token = self._acquire(key, name)
            try:
                yield
            finally:
                if token is not None:
                    with suppress(CacheError):  # if not released, it expires by itself
                        self._call(
                            "release lock",
                            key,
                            lambda _: self._release_script(keys=[name], args=[token]),
                        )

    def _acquire(self, key: str, name: bytes) -> str | None:
        """Take the server-wide lock; None if the server cannot be used for locking.

        A crashed holder's lock expires after ``lock_timeout``, so waiting is bounded
        by it (plus one socket timeout): then the lock is free or taken by a newer holder.
        """
        token = secrets.token_hex(16)
        lock_ms = int(self._settings.lock_timeout * 1000)
        give_up = time.monotonic() + self._settings.lock_timeout + self._settings.socket_timeout
        pause = 0.002
        while True:
            try:
                if self._call(
                    "lock", key, lambda client: client.set(name, token, nx=True, px=lock_ms)
                ):
                    return token
            except CacheError as exc:
                if not isinstance(exc, RedisUnavailableError):
                    logger.warning("%s; computing without the shared lock", exc)
                return None
            if time.monotonic() >= give_up:
                logger.warning(
                    "cache %r: lock of key %r still held after %gs; computing anyway",
                    self._tag,
                    key,
                    self._settings.lock_timeout,
                )
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
