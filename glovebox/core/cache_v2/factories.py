"""The factory functions application code calls to get a domain's cache."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from glovebox.core.cache_v2._environ import EnvName, env_value
from glovebox.core.cache_v2.backends import backend_for_strategy
from glovebox.core.cache_v2.cache_coordinator import get_coordinator
from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.disabled_cache import DisabledCache
from glovebox.core.cache_v2.models import DEFAULT_SETTINGS, CacheSettings
from glovebox.core.cache_v2.policy import (
    GLOBAL_ENV_VAR,
    Strategy,
    StrategyDecision,
    decide_strategy,
    tag_variable,
    validate_tag,
)
from glovebox.errors import ConfigError

if TYPE_CHECKING:
    from glovebox.core.cache_v2.backends.disk import DiskCacheManager
    from glovebox.core.cache_v2.redis_settings import RedisSettings

__all__ = [
    "create_cache_from_user_config",
    "create_default_cache",
    "create_diskcache_manager",
    "default_cache_root",
    "resolve_user_config_strategy",
    "user_config_settings",
]

_XDG_CACHE_HOME = EnvName("XDG_CACHE_HOME")
_HOME = EnvName("HOME")
_GLOBAL = EnvName(GLOBAL_ENV_VAR)
_MEMO_LIMIT = 4096
# Memos of the warm path, keyed by the raw environment values they were computed from.
_roots: dict[tuple[object, object], str] = {}
# tag as given -> (its validated name, its GLOVEBOX_CACHE_<TAG> variable)
_tag_names: dict[str | None, tuple[str, EnvName]] = {}
_env_strategies: dict[tuple[str, object, object], Strategy] = {}
# The default settings with each strategy's backend, built once (the warm path).
_strategy_settings: dict[Strategy, CacheSettings] = {}
_coordinator = get_coordinator()


def default_cache_root() -> Path:
    """``platformdirs.user_cache_dir("glovebox")``: honours ``XDG_CACHE_HOME``."""
    return Path(_default_root_str())


def _default_root_str() -> str:
    memo_key = (env_value(_XDG_CACHE_HOME), env_value(_HOME))
    root = _roots.get(memo_key)
    if root is None:
        root = platformdirs.user_cache_dir("glovebox")
        if len(_roots) < _MEMO_LIMIT:
            _roots[memo_key] = root
    return root


def create_default_cache(tag: str | None = None) -> CacheManager:
    """The shared cache for ``tag`` under the default root, as the environment allows.

    The environment is read on every call, so flipping ``GLOVEBOX_CACHE_GLOBAL`` or
    ``GLOVEBOX_CACHE_<TAG>`` takes effect immediately. The tag is validated and its
    variable named once per process; the strategy is decided once per pair of values of
    the two variables it depends on (memos), so a warm call reads two variables and
    looks up three dictionaries.
    """
    names = _tag_names.get(tag)
    if names is None:
        name = validate_tag(tag)
        names = (name, EnvName(tag_variable(name)))
        if len(_tag_names) < _MEMO_LIMIT:
            _tag_names[tag] = names
    name, variable = names
    memo_key = (name, env_value(_GLOBAL), env_value(variable))
    strategy = _env_strategies.get(memo_key)
    if strategy is None:
        strategy = decide_strategy(name, os.environ).strategy  # raises on invalid words
        if len(_env_strategies) < _MEMO_LIMIT:
            _env_strategies[memo_key] = strategy
    if strategy is Strategy.DISABLED:
        return DisabledCache(name)
    settings = _strategy_settings.get(strategy)
    if settings is None:
        settings = CacheSettings(backend=backend_for_strategy(strategy))
        _strategy_settings[strategy] = settings
    return _coordinator.instance(_default_root_str(), name, settings)


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
    name = validate_tag(tag)
    _, domain = _domain_settings(user_config, name)
    return _decide(user_config, name, domain, os.environ if environ is None else environ)


def _decide(
    user_config: Any, name: str, domain: Any, environ: Mapping[str, str]
) -> StrategyDecision:
    """The decision for a validated ``name`` given the config's values for it."""
    return decide_strategy(
        name,
        environ,
        domain_strategy=getattr(domain, "strategy", None),
        global_strategy=getattr(user_config, "cache_strategy", None),
    )


def _redis_settings(section: Any) -> RedisSettings | None:
    """The config's ``cache.redis`` record (None: the backend reads the environment)."""
    from glovebox.core.cache_v2.redis_settings import RedisSettings  # a pydantic model

    redis = getattr(section, "redis", None)
    return redis if isinstance(redis, RedisSettings) else None


def create_cache_from_user_config(user_config: Any, tag: str | None = None) -> CacheManager:
    """The shared cache for ``tag`` as ``user_config`` (and the environment) configure it.

    ``user_config`` is duck-typed: ``cache_path`` and ``cache_strategy`` are read if present;
    a ``cache`` section with ``max_size_gb``, ``timeout`` and ``domains.<tag>`` (``strategy``,
    ``max_size_gb``, ``timeout``, ``default_ttl``) is used when the object has one.
    """
    name = validate_tag(tag)
    section, domain = _domain_settings(user_config, name)
    decision = _decide(user_config, name, domain, os.environ)
    if decision.strategy is Strategy.DISABLED:
        return DisabledCache(name)
    settings = _settings(section, domain, decision.strategy)
    cache_path = getattr(user_config, "cache_path", None)
    root = default_cache_root() if cache_path is None else Path(cache_path)
    return _coordinator.instance(root, name, settings)


def _settings(section: Any, domain: Any, strategy: Strategy) -> CacheSettings:
    def pick(field: str, fallback: Any) -> Any:
        for source in (domain, section):
            value = getattr(source, field, None)
            if value is not None:
                return value
        return fallback

    return CacheSettings(
        backend=backend_for_strategy(strategy),
        max_size_gb=pick("max_size_gb", DEFAULT_SETTINGS.max_size_gb),
        timeout=pick("timeout", DEFAULT_SETTINGS.timeout),
        default_ttl=getattr(domain, "default_ttl", None),
        redis=_redis_settings(section) if strategy is Strategy.REDIS else None,
    )


def user_config_settings(user_config: Any, tag: str | None = None) -> CacheSettings:
    """The settings ``create_cache_from_user_config`` opens ``tag``'s cache with.

    For a domain whose strategy is ``disabled`` the backend is the disk one: these are the
    settings of the data it left on disk (size limit, timeout), which tools still manage.
    """
    name = validate_tag(tag)
    section, domain = _domain_settings(user_config, name)
    strategy = _decide(user_config, name, domain, os.environ).strategy
    if strategy is Strategy.DISABLED:
        strategy = Strategy.ENABLED
    return _settings(section, domain, strategy)


def create_diskcache_manager(
    cache_root: Path | str,
    tag: str | None = None,
    *,
    settings: CacheSettings = DEFAULT_SETTINGS,
) -> DiskCacheManager:
    """A private (not shared) disk cache in ``cache_root/<tag or default>/``.

    For tools that need their own handle; application code should prefer the shared
    factories above. ``settings.backend`` must be ``"disk"``. Raises
    ``UnusableStorageError`` (a ``CacheError``) if the directory cannot be used.
    """
    name = validate_tag(tag)
    if settings.backend != "disk":
        raise ConfigError(
            f"create_diskcache_manager opens disk caches only; got backend "
            f"{settings.backend!r} for cache {name!r} (use get_shared_cache_instance)"
        )
    from glovebox.core.cache_v2.backends.disk import open_cache  # loads diskcache

    return open_cache(Path(cache_root).expanduser().resolve(), name, settings)
