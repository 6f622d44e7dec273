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
    from glovebox.firmware import FirmwareService

__all__ = ["domain_caches", "firmware_service", "workspace_cache_service"]


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
