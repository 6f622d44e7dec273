"""The backend table: backend name -> the function that opens a cache with it.

Every way of opening a cache (the coordinator, the factories) goes through
:func:`open_backend`, so a new backend is one module plus one :func:`register_backend`
call below. Strategy words that select a backend map to backend names in
:data:`STRATEGY_BACKENDS`, the only place that knows that mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.memory_cache import MemoryCache
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.core.cache_v2.policy import Strategy
from glovebox.core.cache_v2.storage import open_disk_cache, prepare_directory
from glovebox.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "STRATEGY_BACKENDS",
    "BackendOpener",
    "backend_for_strategy",
    "open_backend",
    "register_backend",
]

BackendOpener = Callable[[Path, str, CacheSettings], CacheManager]
"""Opens a cache given the resolved cache root, the tag's name and the settings.

An opener may raise ``UnusableStorageError`` when its storage cannot be used; the
coordinator then hands out a ``DisabledCache`` with a WARNING.
"""

BACKENDS: dict[str, BackendOpener] = {}

# Strategy -> backend name. DISABLED has no backend: it is answered by DisabledCache.
STRATEGY_BACKENDS: dict[Strategy, str] = {
    Strategy.ENABLED: "disk",
    Strategy.MEMORY: "memory",
    Strategy.REDIS: "redis",
}


def register_backend(name: str, opener: BackendOpener) -> None:
    """Make ``name`` usable as ``CacheSettings.backend`` (replaces an earlier opener)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a backend name must be a non-empty str, got {name!r}")
    BACKENDS[name] = opener


def open_backend(root: Path, name: str, settings: CacheSettings) -> CacheManager:
    """Open the cache ``name`` under ``root`` with ``settings.backend``'s opener."""
    opener = BACKENDS.get(settings.backend)
    if opener is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(
            f"cache {name!r}: unknown cache backend {settings.backend!r}; known backends: {known}"
        )
    instance = opener(root, name, settings)
    logger.debug("cache %r keeps its data %s", name, _where(instance, settings.backend, root))
    return instance


def _where(instance: CacheManager, backend: str, root: Path) -> str:
    """Where an opened cache keeps its data, for the debug log: a directory only for a
    backend that has one (a Redis domain names its server, masked, and key namespace)."""
    server = getattr(instance, "server", None)
    if isinstance(server, str):
        return f"on the {backend} server {server} under {getattr(instance, 'namespace', '?')}"
    if backend == "memory":
        return "in the memory of this process"
    return f"on {backend} in {getattr(instance, 'directory', root)}"


def backend_for_strategy(strategy: Strategy) -> str:
    """The backend name a (non-disabled) strategy selects."""
    try:
        return STRATEGY_BACKENDS[strategy]
    except KeyError:
        raise ValueError(f"strategy {strategy.value!r} does not select a backend") from None


def _open_disk(root: Path, name: str, settings: CacheSettings) -> CacheManager:
    return open_disk_cache(prepare_directory(root, name), tag=name, settings=settings)


def _open_memory(root: Path, name: str, settings: CacheSettings) -> CacheManager:
    return MemoryCache(name, default_ttl=settings.default_ttl)


register_backend("disk", _open_disk)


def _open_redis(root: Path, name: str, settings: CacheSettings) -> CacheManager:
    # Imported on first use: processes that never use Redis do not load redis-py.
    from glovebox.core.cache_v2.redis_cache import RedisCache, settings_from_environment

    redis = settings.redis if settings.redis is not None else settings_from_environment()
    return RedisCache(
        redis, tag=name, default_ttl=settings.default_ttl, serializer=settings.serializer
    )


register_backend("memory", _open_memory)
register_backend("redis", _open_redis)
