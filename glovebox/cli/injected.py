"""What the CLI commands take from the container (``@inject`` edges, wired at start-up).

Kept apart from the command modules so that building the command tree (for ``--help``)
does not import dependency-injector; a command imports this module when it runs, after
the container has been wired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector.wiring import Provide, inject

if TYPE_CHECKING:
    from glovebox.cache_lookup import TaggedCaches
    from glovebox.compilation.cache import ZmkWorkspaceCacheService
    from glovebox.config.user_config import UserConfig
    from glovebox.core.cache_v2 import CacheManager
    from glovebox.firmware import FirmwareService
    from glovebox.layout import LayoutService

__all__ = ["domain_caches", "firmware_hit_context", "firmware_service", "workspace_cache_service"]


@inject
def domain_caches(caches: TaggedCaches = Provide["domain_caches"]) -> TaggedCaches:
    """The container's caches by tag (injected: overrides of a domain's cache apply)."""
    return caches


@inject
def workspace_cache_service(
    service: ZmkWorkspaceCacheService = Provide["workspace_cache_service"],
) -> ZmkWorkspaceCacheService:
    """The container's workspace service (over its, possibly overridden, compilation cache)."""
    return service


@inject
def firmware_service(service: FirmwareService = Provide["firmware_service"]) -> FirmwareService:
    """The container's firmware service (layout, workspace and west from the container)."""
    return service


@inject
def firmware_hit_context(
    user_config: UserConfig = Provide["user_config"],
    layout_service: LayoutService = Provide["layout_service"],
    compilation_cache: CacheManager = Provide["compilation_cache"],
) -> tuple[UserConfig, LayoutService, bool]:
    """What serving from the firmware level needs: settings, the layout service, and
    whether the compilation domain caches (persistently) at all."""
    return user_config, layout_service, compilation_cache.persistent
