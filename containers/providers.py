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
from typing import Any, Self, TypeVar, cast

from dependency_injector import providers

from glovebox.cache_lookup import TaggedCaches
from glovebox.core.cache_v2 import (
    CacheManager,
    create_cache_from_user_config,
    evict_shared_cache_instance,
)

__all__ = ["DomainCachesSingleton", "TaggedCacheSingleton"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _release(instance: CacheManager) -> None:
    """Close ``instance`` and drop it from the coordinator's registry (if it is there)."""
    try:
        evict_shared_cache_instance(instance)
    except Exception:  # one failing close must not keep the container's other caches open
        logger.exception("closing cache %r failed", instance)


class _OwningSingleton(providers.Singleton[T]):
    """A ``Singleton`` whose ``reset()`` also releases the instance it created.

    Subclasses say how to build the instance (``_build``) and how to let go of it
    (``_release``); overrides never reach ``_release``, only what this provider built.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._instance: T | None = None
        super().__init__(self._create, *args, **kwargs)

    def _create(self, *args: Any, **kwargs: Any) -> T:
        instance = self._build(*args, **kwargs)
        self._instance = instance
        return instance

    def _build(self, *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    def _release(self, instance: T) -> None:
        raise NotImplementedError

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> Self:
        if memo is not None and id(self) in memo:
            return cast(Self, memo[id(self)])
        copied = cast(Self, super().__deepcopy__(memo))
        # The base class copied our bound _create; the copy must record into itself.
        copied.set_provides(copied._create)
        return copied

    def reset(self) -> Any:
        """Forget the instance, then release it."""
        instance, self._instance = self._instance, None
        context = super().reset()
        if instance is not None:
            self._release(instance)
        return context


class TaggedCacheSingleton(_OwningSingleton[CacheManager]):
    """One coordinated cache for ``tag``, configured by the ``user_config`` provider.

    Overrides (``provider.override(DisabledCache())``) work as for any provider; the
    real instance is untouched while overridden and returns when the override is reset.
    ``reset()`` closes the instance and evicts it from the coordinator.
    """

    def __init__(self, user_config: Any = None, tag: str | None = None) -> None:
        # dependency-injector copies providers by calling the class without arguments and
        # then restoring args/kwargs; the defaults above exist for that.
        super().__init__(user_config, tag=tag)

    @property
    def tag(self) -> str | None:
        value: str | None = self.kwargs.get("tag")
        return value

    def _build(self, user_config: Any, tag: str | None = None) -> CacheManager:
        return create_cache_from_user_config(user_config, tag=tag)

    def _release(self, instance: CacheManager) -> None:
        _release(instance)


class DomainCachesSingleton(_OwningSingleton[TaggedCaches]):
    """A singleton :class:`TaggedCaches` that is closed by ``reset_singletons()``.

    ``known`` maps tag names to provider delegates (``layout_cache.provider``), so a tag
    with its own provider resolves through it, overrides included.
    """

    def __init__(self, user_config: Any = None, known: Any = None) -> None:
        super().__init__(user_config, known)

    def _build(self, user_config: Any, known: Any) -> TaggedCaches:
        return TaggedCaches(user_config, known)

    def _release(self, instance: TaggedCaches) -> None:
        instance.close()
