"""The shared backend (strategy ``redis``): one Redis server serving many machines.

:class:`RedisCache` is the whole backend in one class. It composes this process's
:class:`RedisConnection` (a ``redis.Redis`` client and its pool for scripts, SCAN and
pipelines, a :class:`~glovebox.core.cache_v2.redis_wire.Wire` for the hot single-command
path, the server's circuit breaker and the fork generation they belong to), a
:class:`~glovebox.core.cache_v2.redis_codec.ValueCodec` (signed values), :class:`Counters`
and the server-wide ``get_or_set`` lock (:class:`_ServerLock`, below).

Guarantees
- Entries of domain ``tag`` live under ``<prefix>:<tag>:<key>``; ``keys()``, ``clear()``
  and the statistics SCAN that namespace only. Bookkeeping keys (``<prefix>:<tag>#stats``
  and ``<prefix>:<tag>#lock:<key>``) cannot collide with any domain's entries, because a
  tag never contains ``#`` or ``:``. Nothing here ever flushes a database.
- Expiry is Redis's own (``PX``); each value also carries its deadline, so an entry is
  never served after it even where the server has not yet dropped it.
- Values are signed (see :mod:`glovebox.core.cache_v2.redis_codec`); a value that fails
  verification is a miss, a WARNING and an error count, and is never unpickled.
- ``get``/``exists``/``get_many``/``set``/``set_many``/``delete_many``/``touch`` are one
  round trip each (``set_many`` is one MULTI/EXEC transaction, ``delete_many`` and
  ``touch`` are atomic scripts); hit/miss counts are added to the shared statistics in
  batches.
- Outages: reads answer a miss when the server fails; writes raise :class:`CacheError`
  naming the server (password masked). After a failure, calls fail fast without
  connecting for ``retry_interval`` seconds (one WARNING per outage, per server and
  process); the first call after that tries again, and success ends the outage.
- Fork-safe: a forked child builds its own connection pool on first use and never uses,
  or closes, its parent's connections (see :mod:`glovebox.core.cache_v2.forks`).
- ``get_or_set`` runs one computation per key at a time on every machine using the
  server: a thread holds its process's stripe lock, then the server-wide lock
  ``<prefix>:<tag>#lock:<key>``. Waiting is bounded by ``lock_timeout`` (plus one socket
  timeout): a crashed holder's lock expires by itself. With the server unusable for
  locking, the value is computed without the shared lock rather than not at all.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from glovebox.core.cache_v2.cache_manager import (
    MAX_KEY_LENGTH,
    MISSING,
    BaseCache,
    validate_key,
    validate_ttl,
)
from glovebox.core.cache_v2.counters import Counters
from glovebox.core.cache_v2.forks import Forks
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import (
    CacheMetadata,
    CacheSettings,
    CacheStats,
    timestamp_to_datetime,
)
from glovebox.core.cache_v2.policy import validate_tag
from glovebox.core.cache_v2.redis_codec import (
    DEADLINE_END,
    DELETE_SCRIPT,
    RELEASE_SCRIPT,
    TOUCH_SCRIPT,
    InvalidValueError,
    ValueCodec,
    deadline_field,
    is_live,
    read_times,
)
from glovebox.core.cache_v2.redis_settings import (
    SECRET_ENV_VAR,
    URL_ENV_VAR,
    RedisSettings,
    settings_from_environment,
)
from glovebox.core.cache_v2.redis_wire import Argument, Wire
from glovebox.errors import CacheError, ConfigError, InvalidArgumentError

__all__ = [
    "SECRET_ENV_VAR",
    "URL_ENV_VAR",
    "RedisCache",
    "RedisConnection",
    "RedisUnavailableError",
    "open_cache",
    "settings_from_environment",
]

# The logger keeps the name of the backend's first module: one name to filter for it.
logger = logging.getLogger("glovebox.core.cache_v2.redis_cache")

SCAN_BATCH = 1000
_CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisUnavailableError(CacheError):
    """The Redis server could not be reached (or is inside its back-off period)."""


class _Breaker:
    """Circuit breaker for one server, shared by every cache of this process using it."""

    _registry: ClassVar[dict[str, _Breaker]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, server: str, interval: float) -> None:
        self.server = server
        self.interval = interval
        self.down = False
        self.last_failure = ""
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_server(cls, server: str, interval: float) -> _Breaker:
        with cls._registry_lock:
            breaker = cls._registry.get(server)
            if breaker is None:
                breaker = cls._registry[server] = cls(server, interval)
            return breaker

    @classmethod
    def forget_all(cls) -> None:
        cls._registry = {}
        cls._registry_lock = threading.Lock()

    def allow(self) -> bool:
        """True if a call may go to the server now (always, unless in an outage).

        In an outage one caller per back-off period is let through to probe the server;
        everyone else fails fast.
        """
        if not self.down:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.interval
            return True

    def failed(self, reason: str) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.interval
            self.last_failure = reason
            started, self.down = not self.down, True
        if started:
            logger.warning(
                "Redis server %s is unreachable (%s): cache reads answer a miss and writes "
                "fail; trying again at most every %gs",
                self.server,
                reason,
                self.interval,
            )

    def succeeded(self) -> None:
        if not self.down:
            return
        with self._lock:
            ended, self.down = self.down, False
        if ended:
            logger.info("Redis server %s is reachable again", self.server)


# A forked child must not share its parent's outage state.
Forks.in_child(_Breaker.forget_all)


def _now_us() -> int:
    return int(time.time() * 1_000_000)


class RedisConnection:
    """One process's connection to the Redis server of one cache.

    Holds what belongs to the process that built it: the ``redis.Redis`` client and its
    pool (scripts, SCAN, pipelines), the :class:`Wire` (single commands on the hot path),
    the registered scripts, and the server's circuit breaker, with the fork generation
    they were built in. Nothing connects until first use. A forked child never uses, or
    closes, its parent's connection: its cache builds a new one (see :meth:`current`).

    :meth:`call` runs an action through the breaker and turns failures into the cache's
    errors (``RedisUnavailableError`` for an unreachable server, ``CacheError`` for an
    error reply); counting them is the cache's business.
    """

    __slots__ = (
        "breaker",
        "client",
        "delete_script",
        "generation",
        "release_script",
        "server",
        "settings",
        "tag",
        "touch_script",
        "wire",
    )

    def __init__(self, settings: RedisSettings, *, tag: str, server: str) -> None:
        self.settings = settings
        self.tag = tag
        self.server = server
        self.generation = Forks.generation
        try:
            pool = redis.ConnectionPool.from_url(
                settings.url,
                socket_connect_timeout=settings.connect_timeout,
                socket_timeout=settings.socket_timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
            # Values are bytes; a URL asking for decoded replies must not change that.
            pool.connection_kwargs["decode_responses"] = False
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"cache {tag!r}: Redis url {server!r} is not usable: {settings.scrub(str(exc))}"
            ) from None
        self.client = redis.Redis(connection_pool=pool)
        connection_class, connection_kwargs = pool.connection_class, dict(pool.connection_kwargs)
        self.wire = Wire(lambda: connection_class(**connection_kwargs))
        self.delete_script = self.client.register_script(DELETE_SCRIPT)
        self.touch_script = self.client.register_script(TOUCH_SCRIPT)
        self.release_script = self.client.register_script(RELEASE_SCRIPT)
        self.breaker = _Breaker.for_server(server, settings.retry_interval)

    @property
    def current(self) -> bool:
        """Built by this process (not inherited through ``fork()``)."""
        return self.generation == Forks.generation

    def close(self) -> None:
        """Disconnect the wire and the pool (never called for an inherited connection)."""
        self.wire.close()
        self.client.connection_pool.disconnect()

    def call(self, operation: str, key: str, action: Callable[[RedisConnection], Any]) -> Any:
        """Run ``action`` with this connection through the breaker; raise ``CacheError``."""
        breaker = self.breaker
        if not breaker.allow():
            raise self.unavailable(operation, key, None)
        try:
            result = action(self)
        except _CONNECTION_ERRORS as exc:
            raise self.unavailable(operation, key, exc) from None
        except redis.RedisError as exc:
            breaker.succeeded()  # the server answered
            raise self.error(operation, key, exc) from None
        breaker.succeeded()
        return result

    def unavailable(
        self, operation: str, key: str, exc: BaseException | None
    ) -> RedisUnavailableError:
        """The error for a server that failed (``exc``: the breaker records an outage) or
        that the breaker keeps out of use (``exc`` None)."""
        if exc is not None:
            self.breaker.failed(self.describe(exc))
            cause = self.breaker.last_failure
        else:
            cause = (
                f"not retried for up to {self.breaker.interval:g}s after: "
                f"{self.breaker.last_failure}"
            )
        return RedisUnavailableError(
            f"cache {self.tag!r}: could not {operation} key {key!r}: Redis server "
            f"{self.server} is unreachable ({cause})"
        )

    def error(self, operation: str, key: str, exc: BaseException) -> CacheError:
        """The error for a failure the server reported (it answered)."""
        return CacheError(
            f"cache {self.tag!r} on Redis {self.server}: could not {operation} key "
            f"{key!r}: {self.describe(exc)}"
        )

    def describe(self, exc: BaseException) -> str:
        return self.settings.scrub(f"{type(exc).__name__}: {exc}")[:500]


Action = Callable[[RedisConnection], Any]
"""What :meth:`RedisConnection.call` runs: a function of this process's connection."""

Call = Callable[[str, str, Action], Any]
"""``RedisCache._call``: run an action on the server through the breaker, or raise."""


class _ServerLock:
    """The lock ``get_or_set`` holds while computing a key, on every machine at once.

    A thread holds its process's stripe lock, then the server-wide lock
    ``<prefix>:<tag>#lock:<key>`` (a random token set with NX and an expiry of
    ``lock_timeout``, released by a script that deletes it only if the token is ours).
    """

    def __init__(self, call: Call, prefix: bytes, tag: str, settings: RedisSettings) -> None:
        self._call = call
        self._prefix = prefix
        self._tag = tag
        self._settings = settings
        self._local = KeyLocks()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """This process's stripe lock, then the server-wide lock of ``key``."""
        with self._local.hold(key):
            name = self._prefix + key.encode()
            token = self._acquire(key, name)
            try:
                yield
            finally:
                if token is not None:
                    with suppress(CacheError):  # if not released, it expires by itself
                        self._call(
                            "release lock",
                            key,
                            lambda link: link.release_script(keys=[name], args=[token]),
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
                    "lock", key, lambda link: link.client.set(name, token, nx=True, px=lock_ms)
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


class RedisCache(BaseCache):
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

    def __init__(
        self,
        settings: RedisSettings | None = None,
        *,
        tag: str | None = None,
        default_ttl: float | None = None,
        serializer: str = "pickle",
    ) -> None:
        self._settings = settings = settings or RedisSettings()
        self._tag = validate_tag(tag)
        self._default_ttl = validate_ttl(default_ttl)
        self._server = settings.masked_url
        secret = settings.secret
        try:
            self._codec = ValueCodec(
                serializer, None if secret is None else secret.get_secret_value().encode()
            )
        except ValueError as exc:
            if serializer == "pickle":
                raise ConfigError(
                    f"cache {self._tag!r} on Redis {self._server}: pickled values on a shared "
                    "server must be signed, and no secret is configured: set cache.redis.secret "
                    "(or GLOVEBOX_CACHE_REDIS_SECRET) to a random string of at least 16 "
                    "characters, or use serializer 'json'"
                ) from None
            raise ConfigError(f"cache {self._tag!r}: {exc}") from None
        namespace = f"{settings.key_prefix}:{self._tag}"
        self._namespace = (namespace + ":").encode()
        self._stats_key = (namespace + "#stats").encode()
        self._lock_prefix = (namespace + "#lock:").encode()
        self._closed = False
        self._start()

    # -- lifecycle -----------------------------------------------------------------

    def _start(self) -> None:
        """This process's connection (none is made until first use), counts and lock."""
        self._link = RedisConnection(self._settings, tag=self._tag, server=self._server)
        self._counters = Counters()
        self._server_lock = _ServerLock(self._call, self._lock_prefix, self._tag, self._settings)

    def _check_process(self) -> None:
        if not self._link.current:
            # Inherited from the parent: its sockets are the parent's to use and close.
            if self._closed:
                self._link.generation = Forks.generation
            else:
                self._start()
        if self._closed:
            raise CacheError(f"cache {self._tag!r} on Redis {self._server} is closed")

    def close(self) -> None:
        """Flush pending counts and disconnect. Safe to call any number of times."""
        if not self._link.current:
            self._link.generation = Forks.generation
            self._closed = True  # the pool is the parent's: leave it alone
            return
        if self._closed:
            return
        self._flush_stats()
        self._closed = True
        self._link.close()

    # -- calling the server ----------------------------------------------------------

    def _call(self, operation: str, key: str, action: Action) -> Any:
        """Run ``action`` on this process's connection; a failure is counted and raised."""
        self._check_process()
        try:
            return self._link.call(operation, key, action)
        except CacheError:
            self._counters.add_error()
            raise

    def _read(self, operation: str, key: str, action: Action, fallback: Any) -> Any:
        """Like :meth:`_call`, but a failure is logged and answered with ``fallback``."""
        self._check_process()  # a closed cache raises, as on disk
        try:
            return self._call(operation, key, action)
        except RedisUnavailableError:
            return fallback  # warned once per outage by the breaker
        except CacheError as exc:
            logger.warning("%s; treated as a miss", exc)
            return fallback

    def _name(self, key: str) -> bytes:
        try:
            return self._namespace + key.encode()
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"cache key must be encodable as UTF-8, got {key[:80]!r}"
            ) from None

    def _decode(
        self,
        key: str,
        name: bytes,
        blob: bytes,
        read: Callable[[bytes, bytes, int], Any] | None = None,
    ) -> Any:
        """``read`` (default: the codec's ``decode``) applied to ``blob``; ``MISSING`` if
        the value is rejected, which is logged and counted as an error."""
        try:
            return (read or self._codec.decode)(name, blob, _now_us())
        except InvalidValueError as exc:
            self._reject(key, exc)
            return MISSING

    def _reject(self, key: str, reason: InvalidValueError) -> None:
        self._counters.add_error()
        logger.warning(
            "cache %r on Redis %s: value of key %r rejected (%s); treated as a miss",
            self._tag,
            self._server,
            key,
            reason,
        )

    # -- statistics ------------------------------------------------------------------

    def _flush_stats(self) -> None:
        """Add this process's pending hit/miss counts to the shared totals."""
        hits, misses = self._counters.take_pending()
        if not (hits or misses) or self._closed:
            return

        def add(link: RedisConnection) -> None:
            pipe = link.client.pipeline(transaction=False)
            pipe.hincrby(self._stats_key, "hits", hits)
            pipe.hincrby(self._stats_key, "misses", misses)
            pipe.execute()

        try:
            self._call("flush statistics", "*", add)
        except CacheError:
            self._counters.give_back(hits, misses)  # tried again with the next batch

    # -- the shared get_or_set lock ---------------------------------------------------

    def _compute_lock(self, key: str) -> AbstractContextManager[None]:
        self._check_process()
        return self._server_lock.hold(key)

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        if type(key) is not str or not key or len(key) > MAX_KEY_LENGTH:
            validate_key(key)
        name = self._name(key)
        link = self._link
        if link.generation == Forks.generation and not (self._closed or link.breaker.down):
            # The hot path: one GET, no wrapper frames. Failures go the way of _call's.
            try:
                blob: bytes | None = link.wire.call(b"GET", name)
            except _CONNECTION_ERRORS as exc:
                self._counters.add_error()
                link.unavailable("read", key, exc)
                blob = None
            except redis.RedisError as exc:
                self._counters.add_error()
                logger.warning("%s; treated as a miss", link.error("read", key, exc))
                blob = None
        else:
            blob = self._read("read", key, lambda link: link.wire.call(b"GET", name), None)
        value = MISSING if blob is None else self._decode(key, name, blob)
        if self._counters.record_lookup(value is not MISSING):
            self._flush_stats()
        return default if value is MISSING else value

    def _peek(self, key: str) -> Any:
        name = self._name(key)
        blob = self._read("read", key, lambda link: link.wire.call(b"GET", name), None)
        return MISSING if blob is None else self._decode(key, name, blob)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The present ``keys``' values, fetched with one MGET."""
        key_list = [validate_key(key) for key in keys]
        if not key_list:
            return {}
        names = [self._name(key) for key in key_list]
        blobs: list[bytes | None] = self._read(
            "read (get_many)",
            key_list[0],
            lambda link: link.wire.call(b"MGET", *names),
            [None] * len(names),
        )
        found: dict[str, Any] = {}
        flush = False
        for key, name, blob in zip(key_list, names, blobs, strict=True):
            value = MISSING if blob is None else self._decode(key, name, blob)
            flush |= self._counters.record_lookup(value is not MISSING)
            if value is not MISSING:
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
        blob = self._read("exists", key, lambda link: link.wire.call(b"GET", name), None)
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
            lambda link: link.client.scan(cursor=cursor, match=pattern, count=SCAN_BATCH),
        )
        return page

    def _heads(self, operation: str, names: list[bytes]) -> list[tuple[bytes, int]]:
        """(header, stored length) of each name, in one round trip."""

        def fetch(link: RedisConnection) -> list[Any]:
            pipe = link.client.pipeline(transaction=False)
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

        def fetch(link: RedisConnection) -> list[Any]:
            pipe = link.client.pipeline(transaction=False)
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
                "read statistics",
                "*",
                lambda link: link.client.hmget(self._stats_key, ["hits", "misses"]),
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
        info = self._call("read server info", "*", lambda link: link.client.info("server"))
        memory = self._call("read server info", "*", lambda link: link.client.info("memory"))
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
            self._call("store", key, lambda link: link.wire.call(b"SET", name, stored, b"PX", px))
        else:
            self._call("store", key, lambda link: link.wire.call(b"SET", name, stored))

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
            "store (set_many)", next(iter(items)), lambda link: link.wire.transaction(commands)
        )

    def touch(self, key: str, ttl: float | None = None) -> bool:
        """Give a live entry a new expiry (``None``: the default TTL). False if absent."""
        validate_key(key)
        lifetime, px = self._expiry(ttl)
        name = self._name(key)
        now = _now_us()
        deadline = 0 if lifetime is None else now + int(lifetime * 1_000_000)
        args: list[int | bytes | str] = [now, deadline_field(deadline), px]
        return bool(
            self._call("touch", key, lambda link: link.touch_script(keys=[name], args=args))
        )

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
            self._call(
                "delete", key_list[0], lambda link: link.delete_script(keys=names, args=args)
            )
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
        self._call("clear", "*", lambda link: link.client.unlink(*names))

    def _delete_expired(self, names: list[bytes], now: int) -> int:
        args: list[int | bytes | str] = [now, "expired"]
        return int(
            self._call("cleanup", "*", lambda link: link.delete_script(keys=names, args=args))
        )

    def _store_computed(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``get_or_set``'s computed value; with the server unreachable, skip storing
        (the outage has been reported once already) and let the caller have the value."""
        with suppress(RedisUnavailableError):
            self.set(key, value, ttl=ttl)


def open_cache(root: Path, name: str, settings: CacheSettings) -> RedisCache:
    """The ``redis`` backend's opener (``root`` is unused: entries live on the server)."""
    redis_settings = settings.redis if settings.redis is not None else settings_from_environment()
    return RedisCache(
        redis_settings, tag=name, default_ttl=settings.default_ttl, serializer=settings.serializer
    )
