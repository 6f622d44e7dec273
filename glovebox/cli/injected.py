"""What the CLI commands take from the container (``@inject`` edges, wired at start-up).

Kept apart from the command modules so that building the command tree (for ``--help``)
does not import dependency-injector; a command imports this module when it runs. Each
public function first makes sure the container is built and wired (a command that
started without it, see glovebox.cli.runtime, builds it here), then asks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector.wiring import Provide, inject

from glovebox.cli.runtime import container_ready

if TYPE_CHECKING:
    from glovebox.cache_lookup import TaggedCaches
    from glovebox.compilation.cache import ZmkWorkspaceCacheService
    from glovebox.config.user_config import UserConfig
    from glovebox.core.cache_v2 import CacheManager
    from glovebox.firmware import FirmwareService
    from glovebox.layout import LayoutService

__all__ = ["domain_caches", "firmware_hit_context", "firmware_service", "workspace_cache_service"]


@inject
def _domain_caches(caches: TaggedCaches = Provide["domain_caches"]) -> TaggedCaches:
    """The container's caches by tag (injected: overrides of a domain's cache apply)."""
    return caches


@inject
def _workspace_cache_service(
    service: ZmkWorkspaceCacheService = Provide["workspace_cache_service"],
) -> ZmkWorkspaceCacheService:
    """The container's workspace service (over its, possibly overridden, compilation cache)."""
    return service


@inject
def _firmware_service(service: FirmwareService = Provide["firmware_service"]) -> FirmwareService:
    """The container's firmware service (layout, workspace and west from the container)."""
    return service


@inject
def _firmware_hit_context(
    user_config: UserConfig = Provide["user_config"],
    layout_service: LayoutService = Provide["layout_service"],
    compilation_cache: CacheManager = Provide["compilation_cache"],
) -> tuple[UserConfig, LayoutService, bool]:
    """What serving from the firmware level needs: settings, the layout service, and
    whether the compilation domain caches (persistently) at all."""
    return user_config, layout_service, compilation_cache.persistent


def domain_caches() -> TaggedCaches:
    """The container's caches by tag (injected: overrides of a domain's cache apply)."""
    container_ready()
    return _domain_caches()


def workspace_cache_service() -> ZmkWorkspaceCacheService:
    """The container's workspace service (over its, possibly overridden, compilation cache)."""
    container_ready()
    return _workspace_cache_service()


def firmware_service() -> FirmwareService:
    """The container's firmware service (layout, workspace and west from the container)."""
    container_ready()
    return _firmware_service()


def firmware_hit_context() -> tuple[UserConfig, LayoutService, bool]:
    """What serving from the firmware level needs: settings, the layout service, and
    whether the compilation domain caches (persistently) at all."""
    container_ready()
    return _firmware_hit_context()
