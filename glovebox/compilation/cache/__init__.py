"""The compilation domain's cache: the shared "compilation" cache and the ZMK workspace cache.

``create_compilation_cache_service(user_config)`` is the entry point (spec name): it
returns the shared compilation ``CacheManager`` and a ``ZmkWorkspaceCacheService`` whose
entries live in ``<cache_path>/compilation/workspace/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glovebox.compilation.cache.keying import is_valid_key, manifest_hash, workspace_key
from glovebox.compilation.cache.models import (
    CacheWorkspaceResult,
    CleanupResult,
    ProgressCallback,
    RestoreResult,
    RestoreStrategy,
    WorkspaceConfig,
    WorkspaceEntry,
    WorkspaceProgress,
)
from glovebox.compilation.cache.service import ZmkWorkspaceCacheService
from glovebox.compilation.cache.settings import WorkspaceCacheSettings, settings_from_user_config
from glovebox.core.cache_v2 import CacheManager, create_cache_from_user_config, default_cache_root

__all__ = [
    "COMPILATION_TAG",
    "CacheWorkspaceResult",
    "CleanupResult",
    "ProgressCallback",
    "RestoreResult",
    "RestoreStrategy",
    "WorkspaceCacheSettings",
    "WorkspaceConfig",
    "WorkspaceEntry",
    "WorkspaceProgress",
    "ZmkWorkspaceCacheService",
    "create_compilation_cache_service",
    "create_zmk_workspace_cache_service",
    "is_valid_key",
    "manifest_hash",
    "workspace_cache_root",
    "workspace_key",
]

COMPILATION_TAG = "compilation"


def workspace_cache_root(user_config: Any) -> Path:
    """``<cache_path>/compilation/workspace`` (cache_path defaults to the XDG cache root)."""
    cache_path = getattr(user_config, "cache_path", None)
    base = default_cache_root() if cache_path is None else Path(cache_path).expanduser()
    return base / COMPILATION_TAG / "workspace"


def create_zmk_workspace_cache_service(
    user_config: Any, cache_manager: CacheManager
) -> ZmkWorkspaceCacheService:
    """A workspace service over ``cache_manager`` configured from ``user_config``."""
    return ZmkWorkspaceCacheService(
        cache_manager,
        workspace_cache_root(user_config),
        settings_from_user_config(user_config),
    )


def create_compilation_cache_service(
    user_config: Any,
) -> tuple[CacheManager, ZmkWorkspaceCacheService]:
    """The shared "compilation" cache and the workspace service built on it.

    ``user_config`` is duck-typed (``cache_path``, ``cache_strategy``, optional ``cache``
    and ``compilation`` sections); a ``UserConfig`` wrapper's ``_config`` works as well.
    """
    cache_manager = create_cache_from_user_config(user_config, tag=COMPILATION_TAG)
    return cache_manager, create_zmk_workspace_cache_service(user_config, cache_manager)
