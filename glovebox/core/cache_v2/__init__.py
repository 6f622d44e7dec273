"""Glovebox's shared cache coordination system.

One coordinated cache per domain tag (``compilation``, ``layout``, ``metrics``,
``moergo``...), persistent on diskcache's SQLite backend, configurable per domain through
the environment and the user configuration.
"""

from glovebox.core.cache_v2.backends import (
    BACKENDS,
    BackendOpener,
    open_backend,
    register_backend,
)
from glovebox.core.cache_v2.best_effort_cache import BestEffortCache, best_effort
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
from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.disabled_cache import DisabledCache
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.factories import (
    create_cache_from_user_config,
    create_default_cache,
    create_diskcache_manager,
    default_cache_root,
    resolve_user_config_strategy,
    user_config_settings,
)
from glovebox.core.cache_v2.memory_cache import MemoryCache
from glovebox.core.cache_v2.models import CacheMetadata, CacheSettings, CacheStats
from glovebox.core.cache_v2.policy import Strategy, StrategyDecision, resolve_strategy
from glovebox.errors import UnusableStorageError

__all__ = [
    "BACKENDS",
    "BackendOpener",
    "BestEffortCache",
    "CacheCoordinator",
    "CacheManager",
    "CacheMetadata",
    "CacheSettings",
    "CacheStats",
    "DisabledCache",
    "DiskCacheManager",
    "MemoryCache",
    "Strategy",
    "StrategyDecision",
    "UnusableStorageError",
    "best_effort",
    "cleanup_shared_cache_instances",
    "create_cache_from_user_config",
    "create_default_cache",
    "create_diskcache_manager",
    "default_cache_root",
    "evict_shared_cache_instance",
    "get_cache_instance_count",
    "get_cache_instance_keys",
    "get_coordinator",
    "get_shared_cache_instance",
    "open_backend",
    "register_backend",
    "reset_shared_cache_instances",
    "resolve_strategy",
    "resolve_user_config_strategy",
    "user_config_settings",
]
