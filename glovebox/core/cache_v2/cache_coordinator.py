"""One cache instance per (cache root, tag), shared by the whole process.

The registry key is ``f"{cache_root.resolve()}:{tag or 'default'}"``. Creating an
instance happens under a lock, so concurrent first requests for a tag get one object. The
warm path (a key seen before) is a dictionary lookup keyed by the root exactly as the
caller spelt it, so it needs no lock and touches no file.

The registry never deletes data: :func:`reset_shared_cache_instances` closes instances
and forgets them. After ``fork()`` the child starts with an empty registry, so it opens
its own connections instead of sharing the parent's (the engine's one fork hook,
:mod:`glovebox.core.cache_v2.forks`, empties it).
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from glovebox.core.cache_v2.backends import open_backend
from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.disabled_cache import DisabledCache
from glovebox.core.cache_v2.forks import Forks
from glovebox.core.cache_v2.models import (
    DEFAULT_BACKEND,
    DEFAULT_MAX_SIZE_GB,
    DEFAULT_SERIALIZER,
    DEFAULT_SETTINGS,
    DEFAULT_TIMEOUT,
    CacheSettings,
    Serializer,
)
from glovebox.core.cache_v2.policy import validate_tag
from glovebox.errors import UnusableStorageError

__all__ = [
    "CacheCoordinator",
    "cleanup_shared_cache_instances",
    "evict_shared_cache_instance",
    "get_cache_instance_count",
    "get_cache_instance_keys",
    "get_coordinator",
    "get_shared_cache_instance",
    "reset_shared_cache_instances",
]

logger = logging.getLogger("glovebox.core.cache_v2")


@dataclass(frozen=True, slots=True)
class _Slot:
    """A registered instance and the settings it was created with (later requests with
    other settings are warned about)."""

    key: str
    settings: CacheSettings
    instance: CacheManager


class CacheCoordinator:
    """The registry of live cache instances (normally one per process, see module docs)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._slots: dict[str, _Slot] = {}
        # (root as given, tag) -> slot: the lock-free warm path.
        self._by_request: dict[tuple[str, str], _Slot] = {}

    def after_fork_in_child(self) -> None:
        """Forget the parent's instances (without closing them: they are the parent's)."""
        self._lock = threading.RLock()
        self._slots = {}
        self._by_request = {}

    def get(
        self,
        cache_root: Path | str,
        tag: str | None = None,
        *,
        enabled: bool = True,
        settings: CacheSettings = DEFAULT_SETTINGS,
    ) -> CacheManager:
        """Return the shared instance for ``(cache_root, tag)``, creating it if needed."""
        if not enabled:
            return DisabledCache(tag)
        return self.instance(cache_root, validate_tag(tag), settings)

    def instance(self, cache_root: Path | str, name: str, settings: CacheSettings) -> CacheManager:
        """:meth:`get` for a ``name`` that ``validate_tag`` returned (it is not checked again).

        The warm path is one dictionary lookup. The first request resolves the root,
        opens the backend under the lock and registers the instance under both keys; an
        unusable storage gives a ``DisabledCache`` saying why, with a WARNING.
        """
        request = (str(cache_root), name)
        slot = self._by_request.get(request)
        if slot is None:
            root = Path(cache_root).expanduser().resolve()
            key = f"{root}:{name}"
            with self._lock:
                slot = self._slots.get(key)
                if slot is None:
                    try:
                        instance = open_backend(root, name, settings)
                    except UnusableStorageError as exc:
                        logger.warning("cache %r disabled: %s", name, exc)
                        return DisabledCache(name, reason=str(exc))
                    logger.debug("Creating new shared cache instance: %s", key)
                    slot = _Slot(key, settings, instance)
                    self._slots[key] = slot
                else:
                    logger.debug("Reusing existing shared cache instance: %s", key)
                self._by_request[request] = slot
        else:
            logger.debug("Reusing existing shared cache instance: %s", slot.key)
        if slot.settings is not settings and slot.settings != settings:
            logger.warning(
                "shared cache %s was created with %s; a request with %s gets the existing "
                "instance unchanged (reset the instances to apply new settings)",
                slot.key,
                slot.settings.describe(),
                settings.describe(),
            )
        return slot.instance

    def evict(self, instance: CacheManager) -> bool:
        """Close ``instance`` and drop it from the registry; False if it was not registered."""
        with self._lock:
            keys = [key for key, slot in self._slots.items() if slot.instance is instance]
            for key in keys:
                del self._slots[key]
            self._by_request = {
                request: slot
                for request, slot in self._by_request.items()
                if slot.instance is not instance
            }
        instance.close()
        return bool(keys)

    def reset(self) -> None:
        """Close every instance and empty the registry. Data on disk is left alone."""
        with self._lock:
            slots = list(self._slots.values())
            self._slots = {}
            self._by_request = {}
        for slot in slots:
            try:
                slot.instance.close()
            except Exception:  # one broken instance must not keep the others open
                logger.exception("closing shared cache instance %s failed", slot.key)

    def count(self) -> int:
        return len(self._slots)

    def keys(self) -> list[str]:
        return sorted(self._slots)

    def instances(self) -> dict[str, CacheManager]:
        with self._lock:
            return {key: slot.instance for key, slot in self._slots.items()}

    def cleanup_all(self) -> dict[str, int]:
        """Run ``cleanup()`` on every instance; returns removed-entry counts by key."""
        return {key: instance.cleanup() for key, instance in self.instances().items()}


_coordinator = CacheCoordinator()
Forks.in_child(_coordinator.after_fork_in_child)
atexit.register(_coordinator.reset)


def get_coordinator() -> CacheCoordinator:
    """The process-wide coordinator behind the module-level functions."""
    return _coordinator


def get_shared_cache_instance(
    cache_root: Path | str,
    tag: str | None = None,
    enabled: bool = True,
    max_size_gb: float = DEFAULT_MAX_SIZE_GB,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    backend: str = DEFAULT_BACKEND,
    default_ttl: float | None = None,
    serializer: Serializer = DEFAULT_SERIALIZER,
) -> CacheManager:
    """Get the shared instance for ``(cache_root, tag)``, creating it if needed.

    The keyword arguments build one :class:`CacheSettings` (validated: a bad value raises
    ``ConfigError``). ``enabled=False`` gives a ``DisabledCache``. An unusable directory
    also gives a ``DisabledCache`` (with a WARNING saying why) rather than failing the caller.
    """
    settings = CacheSettings(backend, max_size_gb, timeout, default_ttl, serializer)
    return _coordinator.get(cache_root, tag, enabled=enabled, settings=settings)


def reset_shared_cache_instances() -> None:
    """Close and forget every shared instance (test isolation). Never deletes data."""
    _coordinator.reset()


def evict_shared_cache_instance(instance: CacheManager) -> bool:
    """Close one instance and forget it, so the next request for its key opens a new one."""
    return _coordinator.evict(instance)


def get_cache_instance_count() -> int:
    return _coordinator.count()


def get_cache_instance_keys() -> list[str]:
    return _coordinator.keys()


def cleanup_shared_cache_instances() -> dict[str, int]:
    """Remove expired entries in every live instance; returns counts by instance key."""
    return _coordinator.cleanup_all()
