"""What a command started by the ``glovebox`` script builds before (or without) the container.

Building the container costs a cached command more than its work: dependency-injector
alone imports asyncio and pydantic's core. So the script's start-up
(:func:`containers.cli.startup`) only loads the configuration (from its validated
snapshot when it is warm) and begins a :class:`Runtime`. The commands that serve from
the cache - ``cache get``, ``layout compile``, ``firmware compile`` - open the one or two
caches they read through the coordinator's factory
(:func:`~glovebox.core.cache_v2.create_cache_from_user_config`: the same shared instance
per tag the container would hold) and build the one service they need as the container's
builder would. Every other command, and a cached command that falls back to real work
(a firmware build), gets the container, configured from the same loaded configuration.

Under :func:`containers.cli.attach` (tests, embedding applications) there is no runtime:
the commands take everything from the given container, so its overrides apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glovebox.cache_lookup import TaggedCaches
    from glovebox.core.cache_v2 import CacheManager
    from glovebox.layout import LayoutService

__all__ = ["DIRECT_COMMANDS", "Runtime", "begin", "container_ready", "direct"]

logger = logging.getLogger(__name__)

DIRECT_COMMANDS = frozenset({"cache get", "layout compile", "firmware compile"})
"""Commands (by path below ``glovebox``) that start without the container; every other
command has it built before its body runs."""


class _Current:
    """This process's runtime (None: not started by the script, or closed)."""

    runtime: Runtime | None = None


class Runtime:
    """The loaded configuration, the caches opened directly, and the container on demand.

    ``build_container`` configures and wires the container from ``user_config`` and
    returns the function that shuts it down.
    """

    def __init__(self, user_config: Any, build_container: Callable[[], Callable[[], None]]):
        self.user_config = user_config
        self._build_container = build_container
        self._stop_container: Callable[[], None] | None = None
        self._caches: TaggedCaches | None = None

    @property
    def container_built(self) -> bool:
        return self._stop_container is not None

    def container(self) -> None:
        """Build and wire the container (once)."""
        if self._stop_container is None:
            self._stop_container = self._build_container()

    def caches(self) -> TaggedCaches:
        """Caches by tag, each from the coordinator's factory (opened on first use)."""
        if self._caches is None:
            from glovebox.cache_lookup import TaggedCaches

            self._caches = TaggedCaches(self.user_config)
        return self._caches

    def cache(self, tag: str | None) -> CacheManager:
        return self.caches().get(tag)

    def layout_service(self) -> LayoutService:
        """The layout service over the layout cache (as ``containers.builders`` builds it)."""
        from glovebox.layout import LayoutService

        return LayoutService(self.cache("layout"))

    def close(self) -> None:
        """Close the caches opened here, then shut the container down (if it was built)."""
        if _Current.runtime is self:
            _Current.runtime = None
        caches, self._caches = self._caches, None
        stop, self._stop_container = self._stop_container, None
        try:
            if caches is not None:
                caches.close()
        finally:
            if stop is not None:
                stop()


def begin(user_config: Any, build_container: Callable[[], Callable[[], None]]) -> Runtime:
    """Start this process's runtime (the ``glovebox`` script's start-up calls this)."""
    runtime = _Current.runtime = Runtime(user_config, build_container)
    return runtime


def direct() -> Runtime | None:
    """The runtime, if this command may build its objects without the container: it was
    started by the script and the container has not been built."""
    runtime = _Current.runtime
    if runtime is None or runtime.container_built:
        return None
    return runtime


def container_ready() -> None:
    """Make sure the container the commands inject from is built and wired.

    A no-op under :func:`containers.cli.attach`, whose container is wired already.
    """
    if _Current.runtime is not None:
        _Current.runtime.container()
