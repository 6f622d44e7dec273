"""Glovebox's shared cache coordination system.

One coordinated cache per domain tag (``compilation``, ``layout``, ``metrics``,
``moergo``...), persistent on diskcache's SQLite backend, configurable per domain through
the environment and the user configuration.

This package is the one way in: code outside ``glovebox.core`` imports these names from
here, never from the modules below (``tests/test_engine_boundaries.py`` enforces it).
The backend classes, the administration (usage, listings, quarantine: only the cache
commands that report or clear need it), and the names that would load redis-py or
pydantic are imported on first use, so importing the engine stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from glovebox.core.cache_v2.backends import (
    BACKENDS,
    STRATEGY_BACKENDS,
    BackendOpener,
    backend_for_strategy,
    open_backend,
    register_backend,
)
from glovebox.core.cache_v2.best_effort_cache import (
    BestEffortCache,
    best_effort,
    forget_cache_failures,
)
from glovebox.core.cache_v2.cache_coordinator import (
    CacheCoordinator,
    cleanup_shared_cache_instances,
    evict_shared_cache_instance,
    get_cache_instance_count,
    get_cache_instance_keys,
    get_coordinator,
    get_shared_cache_instance,
    reset_shared_cache_instances,
)
from glovebox.core.cache_v2.cache_manager import BaseCache, CacheManager, validate_key
from glovebox.core.cache_v2.disabled_cache import DisabledCache
from glovebox.core.cache_v2.disk_layout import (
    CACHE_DB_NAME,
    CORRUPT_MARKER,
    RESERVE_BYTES,
    WORKSPACE_DIR,
)
from glovebox.core.cache_v2.factories import (
    create_cache_from_user_config,
    create_default_cache,
    create_diskcache_manager,
    default_cache_root,
    resolve_user_config_strategy,
    user_config_settings,
)
from glovebox.core.cache_v2.models import (
    DEFAULT_MAX_SIZE_GB,
    DEFAULT_TIMEOUT,
    MAX_SIZE_GB_LIMIT,
    MAX_TIMEOUT,
    MIN_SECRET_LENGTH,
    SETTING_LIMITS,
    CacheMetadata,
    CacheSettings,
    CacheStats,
    positive_number,
    short_secret_problem,
)
from glovebox.core.cache_v2.policy import (
    DEFAULT_TAG,
    KNOWN_DOMAINS,
    DecisionLayer,
    Strategy,
    StrategyDecision,
    parse_strategy,
    resolve_strategy,
    validate_tag,
)
from glovebox.errors import UnusableStorageError

if TYPE_CHECKING:
    from glovebox.core.cache_v2.admin import (
        CacheAdmin,
        DomainReport,
        QuarantinedFolder,
        disk_usage,
        disk_usage_with_part,
        known_tags,
        list_tags,
        quarantined,
        replaced_at,
    )
    from glovebox.core.cache_v2.backends.disk import DiskCacheManager
    from glovebox.core.cache_v2.backends.memory import MemoryCache
    from glovebox.core.cache_v2.backends.redis import RedisCache, RedisUnavailableError
    from glovebox.core.cache_v2.redis_settings import (
        MASK,
        RedisSettingError,
        RedisSettings,
        mask_url,
    )

# Name -> module, imported when the name is first asked for (PEP 562).
_LAZY = {
    "CacheAdmin": "glovebox.core.cache_v2.admin",
    "DomainReport": "glovebox.core.cache_v2.admin",
    "QuarantinedFolder": "glovebox.core.cache_v2.admin",
    "disk_usage": "glovebox.core.cache_v2.admin",
    "disk_usage_with_part": "glovebox.core.cache_v2.admin",
    "known_tags": "glovebox.core.cache_v2.admin",
    "list_tags": "glovebox.core.cache_v2.admin",
    "quarantined": "glovebox.core.cache_v2.admin",
    "replaced_at": "glovebox.core.cache_v2.admin",
    "DiskCacheManager": "glovebox.core.cache_v2.backends.disk",
    "MemoryCache": "glovebox.core.cache_v2.backends.memory",
    "RedisCache": "glovebox.core.cache_v2.backends.redis",
    "RedisUnavailableError": "glovebox.core.cache_v2.backends.redis",
    "RedisSettings": "glovebox.core.cache_v2.redis_settings",
    "RedisSettingError": "glovebox.core.cache_v2.redis_settings",
    "mask_url": "glovebox.core.cache_v2.redis_settings",
    "MASK": "glovebox.core.cache_v2.redis_settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BACKENDS",
    "CACHE_DB_NAME",
    "CORRUPT_MARKER",
    "DEFAULT_MAX_SIZE_GB",
    "DEFAULT_TAG",
    "DEFAULT_TIMEOUT",
    "KNOWN_DOMAINS",
    "MASK",
    "MAX_SIZE_GB_LIMIT",
    "MAX_TIMEOUT",
    "MIN_SECRET_LENGTH",
    "RESERVE_BYTES",
    "SETTING_LIMITS",
    "STRATEGY_BACKENDS",
    "WORKSPACE_DIR",
    "BackendOpener",
    "BaseCache",
    "BestEffortCache",
    "CacheAdmin",
    "CacheCoordinator",
    "CacheManager",
    "CacheMetadata",
    "CacheSettings",
    "CacheStats",
    "DecisionLayer",
    "DisabledCache",
    "DiskCacheManager",
    "DomainReport",
    "MemoryCache",
    "QuarantinedFolder",
    "RedisCache",
    "RedisSettingError",
    "RedisSettings",
    "RedisUnavailableError",
    "Strategy",
    "StrategyDecision",
    "UnusableStorageError",
    "backend_for_strategy",
    "best_effort",
    "cleanup_shared_cache_instances",
    "create_cache_from_user_config",
    "create_default_cache",
    "create_diskcache_manager",
    "default_cache_root",
    "disk_usage",
    "disk_usage_with_part",
    "evict_shared_cache_instance",
    "forget_cache_failures",
    "get_cache_instance_count",
    "get_cache_instance_keys",
    "get_coordinator",
    "get_shared_cache_instance",
    "known_tags",
    "list_tags",
    "mask_url",
    "open_backend",
    "parse_strategy",
    "positive_number",
    "quarantined",
    "register_backend",
    "replaced_at",
    "reset_shared_cache_instances",
    "resolve_strategy",
    "resolve_user_config_strategy",
    "short_secret_problem",
    "user_config_settings",
    "validate_key",
    "validate_tag",
]
