"""Providers that hand out coordinated caches and know how to let go of them.

:class:`TaggedCacheSingleton` is ``providers.Singleton`` specialised for one cache tag: its
instance is exactly what ``create_cache_from_user_config(user_config, tag=...)`` returns
(the coordinator's shared instance), and its ``reset()`` - which
``container.reset_singletons()`` calls - closes that instance and evicts it from the
coordinator, so the next resolution opens a fresh one. Resolution after the first call
is the C-implemented Singleton fast path; nothing here runs per call.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from dependency_injector import providers

from glovebox.core.cache_v2 import (
    CacheManager,
    create_cache_from_user_config,
    evict_shared_cache_instance,
)
from glovebox.domains import DomainCaches

__all__ = ["DomainCachesSingleton", "TaggedCacheSingleton"]

logger = logging.getLogger(__name__)


def _release(instance: CacheManager) -> None:
    """Close ``instance`` and drop it from the coordinator's registry (if it is there)."""
    try:
        evict_shared_cache_instance(instance)
    except Exception:  # one failing close must not keep the container's other caches open
        logger.exception("closing cache %r failed", instance)


class TaggedCacheSingleton(providers.Singleton[CacheManager]):
    """One coordinated cache for ``tag``, configured by the ``user_config`` provider.

    Overrides (``provider.override(DisabledCache())``) work as for any provider; the
    real instance is untouched while overridden and returns when the override is reset.
    """

    def __init__(self, user_config: Any = None, tag: str | None = None) -> None:
        # dependency-injector copies providers by calling the class without arguments and
        # then restoring args/kwargs; the defaults above exist for that.
        self._instance: CacheManager | None = None
        super().__init__(self._create, user_config, tag=tag)

    @property
    def tag(self) -> str | None:
        value: str | None = self.kwargs.get("tag")
        return value

    def _create(self, user_config: Any, tag: str | None) -> CacheManager:
        instance = create_cache_from_user_config(user_config, tag=tag)
        self._instance = instance
        return instance

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> TaggedCacheSingleton:
        if memo is not None and id(self) in memo:
            return cast(TaggedCacheSingleton, memo[id(self)])
        copied = cast(TaggedCacheSingleton, super().__deepcopy__(memo))
        # The base class copied our bound _create; the copy must record into itself.
        copied.set_provides(copied._create)
        return copied

    def reset(self) -> Any:
        """Forget the instance; close it and evict it from the coordinator."""
        instance, self._instance = self._instance, None
        context = super().reset()
        if instance is not None:
            _release(instance)
        return context


class DomainCachesSingleton(providers.Singleton[DomainCaches]):
    """A singleton :class:`DomainCaches` that is closed by ``reset_singletons()``.

    ``known`` maps tag names to provider delegates (``layout_cache.provider``), so a tag
    with its own provider resolves through it, overrides included.
    """

    def __init__(self, user_config: Any = None, known: Any = None) -> None:
        self._instance: DomainCaches | None = None
        super().__init__(self._create, user_config, known)

    def _create(self, user_config: Any, known: Any) -> DomainCaches:
        self._instance = DomainCaches(user_config, known)
        return self._instance

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> DomainCachesSingleton:
        if memo is not None and id(self) in memo:
            return cast(DomainCachesSingleton, memo[id(self)])
        copied = cast(DomainCachesSingleton, super().__deepcopy__(memo))
        copied.set_provides(copied._create)
        return copied

    def reset(self) -> Any:
        instance, self._instance = self._instance, None
        context = super().reset()
        if instance is not None:
            instance.close()
        return context
