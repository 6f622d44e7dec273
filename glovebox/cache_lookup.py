"""A tag -> cache lookup, for code that only knows the tag at run time (the CLI).

``KNOWN_DOMAINS`` names the standard domain tags that are always listed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from glovebox.core.cache_v2 import (
    KNOWN_DOMAINS,
    CacheManager,
    create_cache_from_user_config,
    evict_shared_cache_instance,
    validate_tag,
)

__all__ = ["KNOWN_DOMAINS", "TaggedCaches"]

logger = logging.getLogger(__name__)


class TaggedCaches:
    """The cache of any tag under one user configuration.

    Tags in ``providers`` (``"default"`` stands for ``None``) are answered by those
    callables, so an override of a domain's provider is seen here too. Any other tag gets
    ``create_cache_from_user_config(user_config, tag=tag)``, remembered until
    :meth:`close` releases it (close it and evict it from the coordinator).
    """

    def __init__(
        self,
        user_config: Any,
        providers: Mapping[str, Callable[[], CacheManager]] | None = None,
    ) -> None:
        self._user_config = user_config
        self._providers = dict(providers or {})
        self._lock = threading.Lock()
        self._own: dict[str | None, CacheManager] = {}

    @property
    def user_config(self) -> Any:
        return self._user_config

    def get(self, tag: str | None) -> CacheManager:
        """The cache for ``tag`` (``None``: the default cache); ``InvalidArgumentError`` for a
        bad tag."""
        provider = self._providers.get(validate_tag(tag))  # "" is refused, not the default
        if provider is not None:
            return provider()
        cache = self._own.get(tag)
        if cache is None:
            with self._lock:
                cache = self._own.get(tag)
                if cache is None:
                    cache = create_cache_from_user_config(self._user_config, tag=tag)
                    self._own[tag] = cache
        return cache

    def __getitem__(self, tag: str | None) -> CacheManager:
        return self.get(tag)

    def close(self) -> None:
        """Release the caches this object opened itself (provider-backed tags are not ours)."""
        with self._lock:
            caches, self._own = list(self._own.values()), {}
        for cache in caches:
            try:
                evict_shared_cache_instance(cache)
            except Exception:  # one failing close must not keep the others open
                logger.exception("closing cache %r failed", cache)
