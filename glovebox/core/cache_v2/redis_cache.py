"""The shared backend (strategy ``redis``): one Redis server serving many machines.

Guarantees
- Entries of domain ``tag`` live under ``<prefix>:<tag>:<key>``; ``keys()``, ``clear()``
  and the statistics SCAN that namespace only. Bookkeeping keys (``<prefix>:<tag>#stats``
  and ``<prefix>:<tag>#lock:<key>``) cannot collide with any domain's entries, because a
  tag never contains ``#`` or ``:``. Nothing here ever flushes a database.
- Expiry is Redis's own (``PX``); each value also carries its deadline, so an entry is
  never served after it even where the server has not yet dropped it.
- Values are signed (see :mod:`redis_codec`); a value that fails verification is a miss,
  a WARNING and an error count, and is never unpickled.
- ``get``/``exists``/``get_many``/``set``/``set_many``/``delete_many``/``touch`` are one
  round trip each (``set_many`` is one MULTI/EXEC transaction, ``delete_many`` and
  ``touch`` are atomic scripts); hit/miss counts are added to the shared statistics in
  batches.
- Outage handling (reads answer a miss, writes raise, fail fast for ``retry_interval``)
  and fork safety are kept by :mod:`glovebox.core.cache_v2.redis_connection`; the
  ``get_or_set`` lock across machines by :mod:`glovebox.core.cache_v2.redis_lock`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from typing import Any

import redis

from glovebox.core.cache_v2.cache_manager import (
    _MISSING,
    MAX_KEY_LENGTH,
    BaseCache,
    validate_key,
    validate_ttl,
)
from glovebox.core.cache_v2.models import CacheMetadata, CacheStats, timestamp_to_datetime
from glovebox.core.cache_v2.redis_codec import (
    DEADLINE_END,
    deadline_field,
    is_live,
    read_times,
)
from glovebox.core.cache_v2.redis_connection import (
    _CONNECTION_ERRORS,
    RedisUnavailableError,
    _Generation,
    _now_us,
)
from glovebox.core.cache_v2.redis_lock import RedisSharedLock
from glovebox.core.cache_v2.redis_settings import (
    SECRET_ENV_VAR,
    URL_ENV_VAR,
    RedisSettings,
    settings_from_environment,
)
from glovebox.core.cache_v2.redis_wire import Argument
from glovebox.errors import CacheError

__all__ = [
    "SECRET_ENV_VAR",
    "URL_ENV_VAR",
    "RedisCache",
    "RedisUnavailableError",
    "settings_from_environment",
]

logger = logging.getLogger(__name__)

SCAN_BATCH = 1000


class RedisCache(RedisSharedLock, BaseCache):
    """A ``CacheManager`` whose entries live on a (shared) Redis server."""

    backend = "redis"
    persistent = True

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def settings(self) -> RedisSettings:
        return self._settings

    @property
    def server(self) -> str:
        """The server's URL with any password masked."""
        return self._server

    @property
    def namespace(self) -> str:
        """The key prefix of this domain's entries: ``<prefix>:<tag>:``."""
        return self._namespace.decode()

    def __repr__(self) -> str:
        return (
            f"RedisCache(tag={self._tag!r}, server={self._server!r}, namespace={self.namespace!r})"
        )

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH:
            validate_key(key)
        name = self._name(key)
        if self._generation == _Generation.value and not (self._closed or self._breaker.down):
            # The hot path: one GET, no wrapper frames. Failures go the way of _call's.
            try:
                blob: bytes | None = self._wire.call(b"GET", name)
            except _CONNECTION_ERRORS as exc:
                self._unavailable("read", key, exc)
                blob = None
            except redis.RedisError as exc:
                logger.warning("%s; treated as a miss", self._error("read", key, exc))
                blob = None
        else:
            blob = self._read("read", key, lambda _: self._wire.call(b"GET", name), None)
        value = _MISSING if blob is None else self._decode(key, name, blob)
        if self._counters.record_lookup(value is not _MISSING):
            self._flush_stats()
        return default if value is _MISSING else value

    def _peek(self, key: str) -> Any:
        name = self._name(key)
        blob = self._read("read", key, lambda _: self._wire.call(b"GET", name), None)
        return _MISSING if blob is None else self._decode(key, name, blob)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The present ``keys``' values, fetched with one MGET."""
        key_list = [validate_key(key) for key in keys]
        if not key_list:
            return {}
        names = [self._name(key) for key in key_list]
        blobs: list[bytes | None] = self._read(
            "read (get_many)",
            key_list[0],
            lambda _: self._wire.call(b"MGET", *names),
            [None] * len(names),
        )
        found: dict[str, Any] = {}
        flush = False
        for key, name, blob in zip(key_list, names, blobs, strict=True):
            value = _MISSING if blob is None else self._decode(key, name, blob)
            flush |= self._counters.record_lookup(value is not _MISSING)
            if value is not _MISSING:
                found[key] = value
        if flush:
            self._flush_stats()
        return found

    def exists(self, key: str) -> bool:
        """True if ``get`` would return a value: live, and its signature checks out.

        Fetches the value (one GET) and verifies it as ``get`` does, but never unpickles
        it; a rejected value is a WARNING and an error count here too.
        """
        validate_key(key)
        name = self._name(key)
        blob = self._read("exists", key, lambda _: self._wire.call(b"GET", name), None)
        return blob is not None and self._verify(key, name, blob)

    def _verify(self, key: str, name: bytes, blob: bytes) -> bool:
        """True if ``blob`` holds a live value that verifies (it is never unpickled)."""
        return self._decode(key, name, blob, self._codec.present) is True

    def _scan(self, operation: str) -> Iterator[list[bytes]]:
        """This namespace's Redis keys in batches (SCAN: the server is never blocked)."""
        cursor = 0
        while True:
            cursor, batch = self._scan_page(operation, cursor)
            if batch:
                yield batch
            if cursor == 0:
                return

    def _scan_page(self, operation: str, cursor: int) -> tuple[int, list[bytes]]:
        pattern = self._namespace + b"*"
        page: tuple[int, list[bytes]] = self._call(
            operation,
            "*",
            lambda client: client.scan(cursor=cursor, match=pattern, count=SCAN_BATCH),
        )
        return page

    def _heads(self, operation: str, names: list[bytes]) -> list[tuple[bytes, int]]:
        """(header, stored length) of each name, in one round trip."""

        def fetch(client: redis.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.getrange(name, 0, DEADLINE_END - 1)
                pipe.strlen(name)
            return pipe.execute(raise_on_error=False)

        replies = self._call(operation, "*", fetch)
        heads = replies[0::2]
        lengths = replies[1::2]
        return [
            (head if isinstance(head, bytes) else b"", length if isinstance(length, int) else 0)
            for head, length in zip(heads, lengths, strict=True)
        ]

    def _live_entries(self, operation: str) -> list[tuple[int, bytes, int]]:
        """(store time, name, size) of every live entry of this namespace."""
        now = _now_us()
        live: list[tuple[int, bytes, int]] = []
        for names in self._scan(operation):
            for name, (head, length) in zip(names, self._heads(operation, names), strict=True):
                times = read_times(head)
                if times is not None and is_live(times, now):
                    live.append((times.stored_us, name, length))
        return live

    def keys(self) -> list[str]:
        """Keys of live entries, oldest store first (SCAN of this namespace only)."""
        try:
            entries = sorted(self._live_entries("list keys"))
        except RedisUnavailableError:
            return []
        except CacheError as exc:
            logger.warning("%s; listed as empty", exc)
            return []
        start = len(self._namespace)
        return [name[start:].decode() for _, name, _ in entries]

    def get_metadata(self, key: str) -> CacheMetadata | None:
        """Store time from the value's header; expiry from the server (PTTL); stored size.

        None where ``exists`` is False: absent, expired, or a value that fails verification.
        """
        validate_key(key)
        name = self._name(key)

        def fetch(client: redis.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            pipe.get(name)
            pipe.pttl(name)
            return pipe.execute()

        blob, pttl = self._read("get_metadata", key, fetch, [None, -2])
        now = time.time()
        if blob is None or pttl == -2 or not self._verify(key, name, blob):
            return None
        times = read_times(blob[:DEADLINE_END])
        if times is None:  # pragma: no cover - verified values have a header
            return None
        return CacheMetadata(
            key=key,
            stored_at=timestamp_to_datetime(times.stored_us / 1_000_000),
            expires_at=None if pttl < 0 else timestamp_to_datetime(now + pttl / 1000),
            size_bytes=len(blob),
        )

    def get_stats(self) -> CacheStats:
        """Shared hit/miss totals (every machine) plus this process's unflushed counts."""
        self._flush_stats()
        hits = misses = entries = size = 0
        try:
            totals = self._call(
                "read statistics", "*", lambda c: c.hmget(self._stats_key, ["hits", "misses"])
            )
            hits, misses = (int(value or 0) for value in totals)
            live = self._live_entries("read statistics")
            entries, size = len(live), sum(length for _, _, length in live)
        except RedisUnavailableError:
            pass
        except CacheError as exc:
            logger.warning("%s", exc)
        return self._counters.stats(
            self.backend,
            self._tag,
            f"{self._server} {self.namespace}*",
            stored_hits=hits,
            stored_misses=misses,
            entries=entries,
            size_bytes=size,
        )

    def server_info(self) -> dict[str, Any]:
        """What ``cache show`` reports about the server: version and memory in use."""
        info = self._call("read server info", "*", lambda client: client.info("server"))
        memory = self._call("read server info", "*", lambda client: client.info("memory"))
        return {
            "server": self._server,
            "version": str(info.get("redis_version", "unknown")),
            "used_memory": int(memory.get("used_memory", 0)),
        }

    # -- writes --------------------------------------------------------------------

    def _expiry(self, ttl: float | None) -> tuple[float | None, int]:
        """(lifetime in seconds or None, expiry in whole milliseconds or 0)."""
        checked = validate_ttl(ttl)
        lifetime = self._default_ttl if checked is None else checked
        if lifetime is None:
            return None, 0
        return lifetime, max(1, int(-(-lifetime * 1000 // 1)))

    def _encode(
        self, key: str, name: bytes, value: Any, lifetime: float | None, now: float
    ) -> bytes:
        deadline = 0 if lifetime is None else int((now + lifetime) * 1_000_000)
        try:
            return self._codec.encode(name, value, int(now * 1_000_000), deadline)
        except Exception as exc:
            self._counters.add_error()
            raise CacheError(
                f"cache {self._tag!r} on Redis {self._server}: could not store key {key!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        validate_key(key)
        lifetime, px = self._expiry(ttl)
        name = self._name(key)
        stored = self._encode(key, name, value, lifetime, time.time())
        if px:
            self._call("store", key, lambda _: self._wire.call(b"SET", name, stored, b"PX", px))
        else:
            self._call("store", key, lambda _: self._wire.call(b"SET", name, stored))

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        """Store every item atomically in one round trip: all are written, or none.

        One MULTI/EXEC transaction holding a SET per item, sent in one piece: the server
        runs nothing else between its SETs, so readers see the whole batch or none of
        it, and a SET refused while queueing (server out of memory) discards them all.
        """
        for key in items:
            validate_key(key)
        if not items:
            return
        lifetime, px = self._expiry(ttl)
        now = time.time()
        commands: list[tuple[Argument, ...]] = []
        for key, value in items.items():
            name = self._name(key)
            stored = self._encode(key, name, value, lifetime, now)
            commands.append((b"SET", name, stored, b"PX", px) if px else (b"SET", name, stored))
        self._call(
            "store (set_many)", next(iter(items)), lambda _: self._wire.transaction(commands)
        )

    def touch(self, key: str, ttl: float | None = None) -> bool:
        """Give a live entry a new expiry (``None``: the default TTL). False if absent."""
        validate_key(key)
        lifetime, px = self._expiry(ttl)
        name = self._name(key)
        now = _now_us()
        deadline = 0 if lifetime is None else now + int(lifetime * 1_000_000)
        args: list[int | bytes | str] = [now, deadline_field(deadline), px]
        return bool(self._call("touch", key, lambda _: self._touch_script(keys=[name], args=args)))

    def delete(self, key: str) -> bool:
        validate_key(key)
        return self.delete_many([key]) == 1

    def delete_many(self, keys: Iterable[str]) -> int:
        """Remove ``keys`` in one atomic script; returns how many live entries went."""
        key_list = [validate_key(key) for key in keys]
        if not key_list:
            return 0
        names = [self._name(key) for key in key_list]
        args: list[int | bytes | str] = [_now_us(), "live"]
        return int(
            self._call("delete", key_list[0], lambda _: self._delete_script(keys=names, args=args))
        )

    def clear(self) -> None:
        """Remove every entry of this domain (and nothing else). Hit/miss totals stay."""
        for names in self._scan("clear"):
            self._unlink(names)

    def cleanup(self) -> int:
        """Remove entries past their deadline that the server still holds; usually 0.

        Redis expires entries itself, so there is normally nothing to do; entries remain
        only when this machine's clock is ahead of the writer's or the server's.
        """
        now = _now_us()
        removed = 0
        for names in self._scan("cleanup"):
            expired = [
                name
                for name, (head, _) in zip(names, self._heads("cleanup", names), strict=True)
                if (times := read_times(head)) is not None and not is_live(times, now)
            ]
            if expired:
                removed += self._delete_expired(expired, now)
        return removed

    def _unlink(self, names: list[bytes]) -> None:
        self._call("clear", "*", lambda client: client.unlink(*names))

    def _delete_expired(self, names: list[bytes], now: int) -> int:
        args: list[int | bytes | str] = [now, "expired"]
        return int(self._call("cleanup", "*", lambda _: self._delete_script(keys=names, args=args)))

    def _store_computed(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``get_or_set``'s computed value; with the server unreachable, skip storing
        (the outage has been reported once already) and let the caller have the value."""
        with suppress(RedisUnavailableError):
            self.set(key, value, ttl=ttl)
