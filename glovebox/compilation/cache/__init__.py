"""The compilation domain's cache: the shared "compilation" cache and the ZMK workspace cache.

``create_compilation_cache_service(user_config)`` is the entry point (spec name): it
returns the shared compilation ``CacheManager`` and a ``ZmkWorkspaceCacheService`` whose
entries live in ``<cache_path>/compilation/workspace/``. The workspace service is
assembled in one place, :func:`create_zmk_workspace_cache_service`, which the container
calls too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from glovebox.compilation.cache.models import (
    CacheWorkspaceResult,
    CleanupResult,
    ProgressCallback,
    RestoreResult,
    RestoreStrategy,
    WorkspaceCacheSettings,
    WorkspaceConfig,
    WorkspaceEntry,
    WorkspaceProgress,
    is_valid_key,
    manifest_hash,
    workspace_key,
)
from glovebox.compilation.cache.service import ZmkWorkspaceCacheService
from glovebox.config.models import CompilationSection
from glovebox.core.cache_v2 import (
    WORKSPACE_DIR,
    CacheManager,
    create_cache_from_user_config,
    default_cache_root,
)
from glovebox.errors import ConfigError

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
    "compilation_settings",
    "create_compilation_cache_service",
    "create_zmk_workspace_cache_service",
    "is_valid_key",
    "manifest_hash",
    "workspace_cache_root",
    "workspace_key",
]

COMPILATION_TAG = "compilation"


def workspace_cache_root(cache_path: Path | None) -> Path:
    """``<cache_path>/compilation/workspace`` (``None``: under the XDG cache root)."""
    base = default_cache_root() if cache_path is None else Path(cache_path).expanduser()
    return base / COMPILATION_TAG / WORKSPACE_DIR


def compilation_settings(user_config: Any) -> CompilationSection:
    """``user_config.compilation`` as the validated section, whatever object carries it.

    A ``UserConfig`` (or its ``GloveboxConfig``) already holds a validated section, which
    is returned as is. Any other object is read by duck typing: each field it sets (not
    None) is validated strictly (no strings for numbers or booleans) and the others take
    the configuration model's defaults. This is the one place the compilation domain
    reads an untyped configuration; a bad value raises ``ConfigError`` naming the setting.
    """
    section = getattr(user_config, "compilation", None)
    if isinstance(section, CompilationSection):
        return section
    given = {
        name: value
        for name in CompilationSection.model_fields
        if (value := getattr(section, name, None)) is not None
    }
    strategy = given.get("workspace_restore_strategy")
    if strategy is not None:
        given["workspace_restore_strategy"] = RestoreStrategy.parse(
            strategy, setting="compilation.workspace_restore_strategy"
        )
    try:
        return CompilationSection.model_validate(given, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in ("compilation", *error["loc"]))
        raise ConfigError(f"{where}: {error['msg']}, got {error['input']!r}") from None


def create_zmk_workspace_cache_service(
    user_config: Any, cache_manager: CacheManager
) -> ZmkWorkspaceCacheService:
    """A workspace service over ``cache_manager`` configured from ``user_config``.

    The one builder of the service: :func:`create_compilation_cache_service`, the CLI and
    the container all call it.
    """
    return ZmkWorkspaceCacheService(
        cache_manager,
        workspace_cache_root(getattr(user_config, "cache_path", None)),
        WorkspaceCacheSettings.from_section(compilation_settings(user_config)),
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
