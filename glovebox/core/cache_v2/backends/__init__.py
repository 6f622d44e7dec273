"""The backend table: backend name -> the function that opens a cache with it.

Every way of opening a cache (the coordinator, the factories) goes through
:func:`open_backend`. A backend is one module in this package holding its cache class
whole and an ``open_cache(root, name, settings)`` function; it is registered below by
module path, so its module (and what it imports: diskcache, redis-py) is loaded only when
a cache with that backend is first opened. Another package adds a backend the same way::

    register_backend("s3", "mypackage.s3cache", "open_cache")

or with the opener itself (``register_backend("s3", open_s3)``). Strategy words that
select a backend map to backend names in :data:`STRATEGY_BACKENDS`, the only place that
knows that mapping. ``glovebox.testing.contract`` holds the behaviour every backend must
show; run it against a new backend.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.core.cache_v2.policy import Strategy
from glovebox.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "STRATEGY_BACKENDS",
    "BackendOpener",
    "LazyOpener",
    "backend_for_strategy",
    "open_backend",
    "register_backend",
]

BackendOpener = Callable[[Path, str, CacheSettings], CacheManager]
"""Opens a cache given the resolved cache root, the tag's name and the settings.

An opener may raise ``UnusableStorageError`` when its storage cannot be used; the
coordinator then hands out a ``DisabledCache`` with a WARNING.
"""


class LazyOpener:
    """An opener named by module path and attribute, imported on its first call."""

    __slots__ = ("_opener", "module_path", "name")

    def __init__(self, module_path: str, name: str) -> None:
        self.module_path = module_path
        self.name = name
        self._opener: BackendOpener | None = None

    def load(self) -> BackendOpener:
        """The opener itself (imports its module the first time)."""
        if self._opener is None:
            opener: Any = getattr(importlib.import_module(self.module_path), self.name)
            if not callable(opener):
                raise ConfigError(
                    f"cache backend {self.module_path}:{self.name} is not callable "
                    f"(got {type(opener).__name__}); register a function "
                    "(root, name, settings) -> CacheManager"
                )
            self._opener = opener
        return self._opener

    def __call__(self, root: Path, name: str, settings: CacheSettings) -> CacheManager:
        return self.load()(root, name, settings)

    def __repr__(self) -> str:
        return f"LazyOpener({self.module_path!r}, {self.name!r})"


BACKENDS: dict[str, BackendOpener] = {}

# Strategy -> backend name. DISABLED has no backend: it is answered by DisabledCache.
STRATEGY_BACKENDS: dict[Strategy, str] = {
    Strategy.ENABLED: "disk",
    Strategy.MEMORY: "memory",
    Strategy.REDIS: "redis",
}


def register_backend(name: str, opener: BackendOpener | str, attribute: str | None = None) -> None:
    """Make ``name`` usable as ``CacheSettings.backend`` (replaces an earlier registration).

    ``opener`` is the opening function, or the path of the module that holds it, with
    ``attribute`` naming it there (imported on first use).
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a backend name must be a non-empty str, got {name!r}")
    if isinstance(opener, str):
        if not attribute:
            raise ConfigError(
                f"backend {name!r}: registering by module path {opener!r} needs the name "
                "of the opening function in that module"
            )
        BACKENDS[name] = LazyOpener(opener, attribute)
    elif callable(opener):
        BACKENDS[name] = opener
    else:
        raise ConfigError(
            f"backend {name!r}: expected an opening function or a module path, "
            f"got {type(opener).__name__}"
        )


def open_backend(root: Path, name: str, settings: CacheSettings) -> CacheManager:
    """Open the cache ``name`` under ``root`` with ``settings.backend``'s opener."""
    opener = BACKENDS.get(settings.backend)
    if opener is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(
            f"cache {name!r}: unknown cache backend {settings.backend!r}; known backends: {known}"
        )
    if type(opener) is LazyOpener:
        opener = opener.load()  # called directly: the wrapper would only forward
    instance = opener(root, name, settings)
    if logger.isEnabledFor(logging.DEBUG):
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
        raise ConfigError(f"strategy {strategy.value!r} does not select a backend") from None


register_backend("disk", "glovebox.core.cache_v2.backends.disk", "open_cache")
register_backend("memory", "glovebox.core.cache_v2.backends.memory", "open_cache")
register_backend("redis", "glovebox.core.cache_v2.backends.redis", "open_cache")
