"""The view of a cache that services use: a failing cache costs a miss, never the job.

A service (layout compile, metrics, the MoErgo client, the firmware build's workspace
lookups) uses its cache to go faster; it must finish when that cache cannot be read or
written - a Redis server that is down, a full disk, a database locked past the timeout.
:class:`BestEffortCache` wraps a cache and turns the project's ``CacheError`` family into
a miss (reads) or a no-op (writes).

Guarantees
- One WARNING per cache and process, naming the cache (tag and where it lives) and what
  failed first. The backends' own warnings about that cache (one per failed read, the
  Redis outage notice, unsaved hit/miss counts at exit) are folded into it: shown at
  DEBUG level only.
- After a failure the view leaves the cache alone for :data:`BYPASS_SECONDS` (reads miss,
  writes are dropped at once), so a locked database costs one timeout, not one per call;
  then it tries again.
- Bad arguments (a key that is not a string, a negative ttl) still raise: they are the
  caller's mistakes, not the cache's.

Commands whose job is the cache itself (``glovebox cache set``...) use the cache directly
and fail with its error.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from glovebox.core.cache_v2.cache_manager import BaseCache, CacheManager
from glovebox.core.cache_v2.models import CacheMetadata, CacheStats
from glovebox.errors import CacheError

__all__ = ["BYPASS_SECONDS", "BestEffortCache", "best_effort", "describe", "forget_cache_failures"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

BYPASS_SECONDS = 30.0
"""How long a view leaves a cache alone after it failed, before trying it again."""

# The loggers the backends report through; their warnings about a cache this module has
# reported (or met inside a guarded call) are folded into the one WARNING.
BACKEND_LOGGERS = (
    "glovebox.core.cache_v2.diskcache_manager",
    "glovebox.core.cache_v2.backends.disk_store",
    "glovebox.core.cache_v2.redis_cache",
)


def describe(cache: CacheManager) -> str:
    """``cache 'layout' (/path/to/layout)`` or ``cache 'layout' (Redis redis://...)``."""
    directory = getattr(cache, "directory", None)
    server = getattr(cache, "server", None)
    if directory is not None:
        where = str(directory)
    elif server is not None:
        where = f"Redis {server}"
    else:
        where = type(cache).__name__
    return f"cache {cache.tag!r} ({where})"


class _Health:
    """What this process knows about one cache: reported yet, and skipped until when."""

    def __init__(self, tag: str, name: str, location: str) -> None:
        self.tag = tag
        self.name = name
        self.location = location
        self.reported = False
        self.skip_until = 0.0


class _Registry:
    """Process-wide health per cache instance, and the filter folding backend warnings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_cache: weakref.WeakKeyDictionary[Any, _Health] = weakref.WeakKeyDictionary()
        self._reported_locations: set[str] = set()
        self._local = threading.local()

    def health(self, cache: CacheManager) -> _Health:
        with self._lock:
            try:
                found = self._by_cache.get(cache)
            except TypeError:  # not weakly referenceable: health lives with the view
                found = None
            if found is None:
                name = describe(cache)
                directory = getattr(cache, "directory", None)
                server = getattr(cache, "server", None)
                location = str(directory if directory is not None else server or name)
                found = _Health(cache.tag, name, location)
                with suppress(TypeError):
                    self._by_cache[cache] = found
            return found

    def failed(self, health: _Health, what: str) -> None:
        """Record a failure of the cache behind ``health``; the first one is a WARNING."""
        with self._lock:
            health.skip_until = time.monotonic() + BYPASS_SECONDS
            first, health.reported = not health.reported, True
            self._reported_locations.add(health.location)
        if first:
            logger.warning(
                "%s cannot be used: %s; going on without it (reads are misses, nothing is "
                "stored; tried again after %gs)",
                health.name,
                _shorten(_without_name(what, health.tag)),
                BYPASS_SECONDS,
            )
        else:
            logger.debug("%s still failing: %s", health.name, what)

    @contextmanager
    def guarding(self, health: _Health) -> Iterator[None]:
        """Attribute backend warnings logged by this thread meanwhile to ``health``."""
        outer = getattr(self._local, "health", None)
        self._local.health = health
        try:
            yield
        finally:
            self._local.health = outer

    def filter(self, record: logging.LogRecord) -> bool:
        """Logging filter on the backends' loggers (see the module docs)."""
        if record.levelno != logging.WARNING:
            return True
        health: _Health | None = getattr(self._local, "health", None)
        if health is not None:
            self.failed(health, record.getMessage())
        elif not self._reported_locations or not any(
            location in record.getMessage() for location in self._reported_locations
        ):
            return True
        # Folded into the one WARNING: kept for --debug, shown at DEBUG level.
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True

    def forget(self) -> None:
        """Forget every failure seen (tests that want to see the WARNING again)."""
        with self._lock:
            self._by_cache = weakref.WeakKeyDictionary()
            self._reported_locations = set()


_registry = _Registry()
for _name in BACKEND_LOGGERS:
    logging.getLogger(_name).addFilter(_registry.filter)


def _without_name(what: str, tag: str) -> str:
    """``what`` without a leading ``cache 'tag' (...):`` (the WARNING names the cache)."""
    if what.startswith(f"cache {tag!r}"):
        _, colon, rest = what.partition(": ")
        if colon:
            return rest
    return what


def _shorten(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


_MISSING: Any = object()


class BestEffortCache(BaseCache):
    """``cache`` as a service should use it: failures are misses and no-ops (module docs).

    ``inner`` is the wrapped cache; ``tag``, ``persistent``, ``stores`` and ``unusable``
    are its own.
    """

    def __init__(self, cache: CacheManager) -> None:
        self._inner = cache
        self._tag = cache.tag
        self._health = _registry.health(cache)

    @property
    def inner(self) -> CacheManager:
        return self._inner

    @property
    def persistent(self) -> bool:
        return self._inner.persistent

    @property
    def stores(self) -> bool:
        return self._inner.stores

    @property
    def unusable(self) -> str | None:
        return self._inner.unusable

    @property
    def failing(self) -> bool:
        """True while this cache is being left alone after a failure."""
        return time.monotonic() < self._health.skip_until

    def __repr__(self) -> str:
        return f"BestEffortCache({self._inner!r})"

    def attempt(self, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        """``call()``, or ``fallback()`` if the cache is failing or ``call`` raises a
        ``CacheError`` (which is reported). For work that uses the cache indirectly."""
        if self.failing:
            return fallback()
        with _registry.guarding(self._health):
            try:
                return call()
            except CacheError as exc:
                _registry.failed(self._health, str(exc))
        return fallback()

    def _value(self, call: Callable[[], T], answer: T) -> T:
        return self.attempt(call, lambda: answer)

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        return self._value(lambda: self._inner.get(key, default), default)

    def peek(self, key: str, default: Any = None) -> Any:
        return self._value(lambda: self._inner.peek(key, default), default)

    def _peek(self, key: str) -> Any:
        return self.peek(key, _MISSING)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(keys)
        return self._value(lambda: self._inner.get_many(wanted), {})

    def exists(self, key: str) -> bool:
        return self._value(lambda: self._inner.exists(key), False)

    def keys(self) -> list[str]:
        return self._value(self._inner.keys, [])

    def get_metadata(self, key: str) -> CacheMetadata | None:
        return self._value(lambda: self._inner.get_metadata(key), None)

    def get_stats(self) -> CacheStats:
        backend = str(getattr(self._inner, "backend", type(self._inner).__name__))
        return self._value(self._inner.get_stats, CacheStats(backend=backend, tag=self._tag))

    # -- writes --------------------------------------------------------------------

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._value(lambda: self._inner.set(key, value, ttl=ttl), None)

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        self._value(lambda: self._inner.set_many(items, ttl=ttl), None)

    def touch(self, key: str, ttl: float | None = None) -> bool:
        return self._value(lambda: self._inner.touch(key, ttl=ttl), False)

    def delete(self, key: str) -> bool:
        return self._value(lambda: self._inner.delete(key), False)

    def delete_many(self, keys: Iterable[str]) -> int:
        wanted = list(keys)
        return self._value(lambda: self._inner.delete_many(wanted), 0)

    def clear(self) -> None:
        self._value(self._inner.clear, None)

    def cleanup(self) -> int:
        return self._value(self._inner.cleanup, 0)

    def close(self) -> None:
        self._value(self._inner.close, None)

    def get_or_set(self, key: str, compute: Callable[[], T], ttl: float | None = None) -> T:
        """The cached value, or ``compute()``'s; a cache failure never loses the result."""
        computed: list[T] = []

        def computing() -> T:
            value = compute()
            computed.append(value)
            return value

        return self.attempt(
            lambda: self._inner.get_or_set(key, computing, ttl=ttl),
            lambda: computed[0] if computed else compute(),
        )


def best_effort(cache: CacheManager) -> CacheManager:
    """``cache`` for a service: wrapped in :class:`BestEffortCache` unless it cannot fail
    (it stores nothing, like ``DisabledCache``) or is wrapped already."""
    if isinstance(cache, BestEffortCache) or not cache.stores:
        return cache
    return BestEffortCache(cache)


def forget_cache_failures() -> None:
    """Forget which caches failed in this process (for tests)."""
    _registry.forget()
