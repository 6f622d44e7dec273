"""The factory functions application code calls to get a domain's cache."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

from glovebox.core.cache_v2.cache_coordinator import CacheSettings, get_shared_cache_instance
from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.disabled_cache import DisabledCache
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.policy import (
    Strategy,
    StrategyDecision,
    resolve_strategy,
    validate_tag,
)
from glovebox.core.cache_v2.storage import open_disk_cache, prepare_directory

__all__ = [
    "create_cache_from_user_config",
    "create_default_cache",
    "create_diskcache_manager",
    "default_cache_root",
    "resolve_user_config_strategy",
]

_DEFAULT_SETTINGS = CacheSettings()
_MEMORY_SETTINGS = CacheSettings(backend="memory")
_roots: dict[tuple[str | None, str | None], str] = {}


def default_cache_root() -> Path:
    """``platformdirs.user_cache_dir("glovebox")``: honours ``XDG_CACHE_HOME``."""
    return Path(_default_root_str())


def _default_root_str() -> str:
    environ = os.environ
    memo_key = (environ.get("XDG_CACHE_HOME"), environ.get("HOME"))
    root = _roots.get(memo_key)
    if root is None:
        root = _roots[memo_key] = platformdirs.user_cache_dir("glovebox")
    return root


def create_default_cache(tag: str | None = None) -> CacheManager:
    """The shared cache for ``tag`` under the default root, as the environment allows.

    The environment is read on every call, so flipping ``GLOVEBOX_CACHE_GLOBAL`` or
    ``GLOVEBOX_CACHE_<TAG>`` takes effect immediately.
    """
    strategy = resolve_strategy(tag, os.environ).strategy
    if strategy is Strategy.DISABLED:
        return DisabledCache(tag)
    settings = _MEMORY_SETTINGS if strategy is Strategy.MEMORY else _DEFAULT_SETTINGS
    return get_shared_cache_instance(
        _default_root_str(),
        tag,
        backend=settings.backend,
    )


def _domain_settings(user_config: Any, name: str) -> tuple[Any, Any]:
    """The config's ``cache`` section and its ``domains[name]`` entry (either may be None)."""
    section = getattr(user_config, "cache", None)
    domains = getattr(section, "domains", None)
    domain = domains.get(name) if isinstance(domains, Mapping) else None
    return section, domain


def resolve_user_config_strategy(
    user_config: Any, tag: str | None = None, environ: Mapping[str, str] | None = None
) -> StrategyDecision:
    """The strategy for ``tag`` given the environment and ``user_config`` (and who decided)."""
    name = tag or "default"
    _, domain = _domain_settings(user_config, name)
    return resolve_strategy(
        tag,
        os.environ if environ is None else environ,
        domain_strategy=getattr(domain, "strategy", None),
        global_strategy=getattr(user_config, "cache_strategy", None),
    )


def create_cache_from_user_config(user_config: Any, tag: str | None = None) -> CacheManager:
    """The shared cache for ``tag`` as ``user_config`` (and the environment) configure it.

    ``user_config`` is duck-typed: ``cache_path`` and ``cache_strategy`` are read if present;
    a ``cache`` section with ``max_size_gb``, ``timeout`` and ``domains.<tag>`` (``strategy``,
    ``max_size_gb``, ``timeout``, ``default_ttl``) is used when the object has one.
    """
    decision = resolve_user_config_strategy(user_config, tag)
    if decision.strategy is Strategy.DISABLED:
        return DisabledCache(tag)
    section, domain = _domain_settings(user_config, tag or "default")

    def pick(field: str, fallback: Any) -> Any:
        for source in (domain, section):
            value = getattr(source, field, None)
            if value is not None:
                return value
        return fallback

    settings = CacheSettings(
        backend="memory" if decision.strategy is Strategy.MEMORY else "disk",
        max_size_gb=pick("max_size_gb", 2),
        timeout=pick("timeout", 30),
        default_ttl=getattr(domain, "default_ttl", None),
    )
    cache_path = getattr(user_config, "cache_path", None)
    root = default_cache_root() if cache_path is None else Path(cache_path)
    return get_shared_cache_instance(
        root,
        tag,
        max_size_gb=settings.max_size_gb,
        timeout=settings.timeout,
        backend=settings.backend,
        default_ttl=settings.default_ttl,
    )


def create_diskcache_manager(
    cache_root: Path | str,
    tag: str | None = None,
    *,
    max_size_gb: float = 2,
    timeout: float = 30,
    default_ttl: float | None = None,
    serializer: str = "pickle",
) -> DiskCacheManager:
    """A private (not shared) disk cache in ``cache_root/<tag or default>/``.

    For tools that need their own handle; application code should prefer the shared
    factories above. Raises ``UnusableStorageError`` if the directory cannot be used.
    """
    name = validate_tag(tag)
    return open_disk_cache(
        prepare_directory(Path(cache_root).expanduser().resolve(), name),
        tag=name,
        max_size_gb=max_size_gb,
        timeout=timeout,
        default_ttl=default_ttl,
        serializer=serializer,
    )
