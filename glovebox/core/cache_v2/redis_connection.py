"""The Redis backend's connection to its server: one pool per process, and outage handling.

Guarantees
- Reads answer a miss when the server fails; writes raise :class:`CacheError` naming the
  server (password masked). After a failure, calls fail fast without connecting for
  ``retry_interval`` seconds (one WARNING per outage, per server and process); the first
  call after that tries again, and success ends the outage.
- Fork-safe: a forked child builds its own connection pool on first use and never uses,
  or closes, its parent's connections.
- Hit/miss counts are added to the shared statistics in batches.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from glovebox.core.cache_v2.cache_manager import _MISSING, validate_ttl
from glovebox.core.cache_v2.counters import Counters
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.policy import validate_tag
from glovebox.core.cache_v2.redis_codec import (
    DELETE_SCRIPT,
    RELEASE_SCRIPT,
    TOUCH_SCRIPT,
    InvalidValueError,
    ValueCodec,
)
from glovebox.core.cache_v2.redis_settings import RedisSettings
from glovebox.core.cache_v2.redis_wire import Wire
from glovebox.errors import CacheError, ConfigError

__all__ = ["RedisConnection", "RedisUnavailableError"]

# Messages go to the backend's logger: one name to filter for all that RedisCache reports.
logger = logging.getLogger("glovebox.core.cache_v2.redis_cache")

STATS_FLUSH_OPERATIONS = 1000
STATS_FLUSH_SECONDS = 5.0
_CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisUnavailableError(CacheError):
    """The Redis server could not be reached (or is inside its back-off period)."""


class _Generation:
    """Counts forks in this process lineage; state built in another generation is stale."""

    value = 0

    @classmethod
    def bump(cls) -> None:
        cls.value += 1
        _Breaker.forget_all()


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


os.register_at_fork(after_in_child=_Generation.bump)


def _now_us() -> int:
    return int(time.time() * 1_000_000)


class RedisConnection:
    """One domain's namespace on a server, reached through this process's pool and the
    server's circuit breaker; the cache operations live in the subclass."""

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
        """Build this process's connection pool (no connection is made until first use)."""
        settings = self._settings
        self._generation = _Generation.value
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
                f"cache {self._tag!r}: Redis url {self._server!r} is not usable: "
                f"{settings.scrub(str(exc))}"
            ) from None
        self._client = redis.Redis(connection_pool=pool)
        connection_class, connection_kwargs = pool.connection_class, dict(pool.connection_kwargs)
        self._wire = Wire(lambda: connection_class(**connection_kwargs))
        self._delete_script = self._client.register_script(DELETE_SCRIPT)
        self._touch_script = self._client.register_script(TOUCH_SCRIPT)
        self._release_script = self._client.register_script(RELEASE_SCRIPT)
        self._breaker = _Breaker.for_server(self._server, settings.retry_interval)
        self._counters = Counters(STATS_FLUSH_OPERATIONS, STATS_FLUSH_SECONDS)
        self._key_locks = KeyLocks()

    def _check_process(self) -> None:
        if self._generation != _Generation.value:
            # Inherited from the parent: its sockets are the parent's to use and close.
            if self._closed:
                self._generation = _Generation.value
            else:
                self._start()
        if self._closed:
            raise CacheError(f"cache {self._tag!r} on Redis {self._server} is closed")

    def close(self) -> None:
        """Flush pending counts and disconnect. Safe to call any number of times."""
        if self._generation != _Generation.value:
            self._generation = _Generation.value
            self._closed = True  # the pool is the parent's: leave it alone
            return
        if self._closed:
            return
        self._flush_stats()
        self._closed = True
        self._wire.close()
        self._client.connection_pool.disconnect()

    # -- calling the server ----------------------------------------------------------

    def _call(self, operation: str, key: str, action: Callable[[redis.Redis], Any]) -> Any:
        """Run ``action`` against the server through the breaker; raise ``CacheError``."""
        self._check_process()
        if not self._breaker.allow():
            raise self._unavailable(operation, key, None)
        try:
            result = action(self._client)
        except _CONNECTION_ERRORS as exc:
            raise self._unavailable(operation, key, exc) from None
        except redis.RedisError as exc:
            self._breaker.succeeded()  # the server answered
            raise self._error(operation, key, exc) from None
        self._breaker.succeeded()
        return result

    def _unavailable(
        self, operation: str, key: str, exc: BaseException | None
    ) -> RedisUnavailableError:
        self._counters.add_error()
        if exc is not None:
            self._breaker.failed(self._describe(exc))
            cause = self._breaker.last_failure
        else:
            cause = (
                f"not retried for up to {self._breaker.interval:g}s after: "
                f"{self._breaker.last_failure}"
            )
        return RedisUnavailableError(
            f"cache {self._tag!r}: could not {operation} key {key!r}: Redis server "
            f"{self._server} is unreachable ({cause})"
        )

    def _error(self, operation: str, key: str, exc: BaseException) -> CacheError:
        self._counters.add_error()
        return CacheError(
            f"cache {self._tag!r} on Redis {self._server}: could not {operation} key "
            f"{key!r}: {self._describe(exc)}"
        )

    def _describe(self, exc: BaseException) -> str:
        return self._settings.scrub(f"{type(exc).__name__}: {exc}")[:500]

    def _read(
        self, operation: str, key: str, action: Callable[[redis.Redis], Any], fallback: Any
    ) -> Any:
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
            raise ValueError(f"cache key must be encodable as UTF-8, got {key[:80]!r}") from None

    def _decode(
        self,
        key: str,
        name: bytes,
        blob: bytes,
        read: Callable[[bytes, bytes, int], Any] | None = None,
    ) -> Any:
        """``read`` (default: the codec's ``decode``) applied to ``blob``; ``_MISSING`` if
        the value is rejected, which is logged and counted as an error."""
        try:
            return (read or self._codec.decode)(name, blob, _now_us())
        except InvalidValueError as exc:
            self._reject(key, exc)
            return _MISSING

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

        def add(client: redis.Redis) -> None:
            pipe = client.pipeline(transaction=False)
            pipe.hincrby(self._stats_key, "hits", hits)
            pipe.hincrby(self._stats_key, "misses", misses)
            pipe.execute()

        try:
            self._call("flush statistics", "*", add)
        except CacheError:
            self._counters.give_back(hits, misses)  # tried again with the next batch
