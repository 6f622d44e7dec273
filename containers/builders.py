"""The functions the container's service providers call: each imports its class when run.

A provider names one of these functions; the function names the class with a real
import and calls it with typed arguments. Type checkers therefore check every service
the container builds and give each provider its type (``Factory[LayoutService]``), and
renaming or moving a class updates the import here. The import runs only when the
provider is first resolved, so a command that needs one cache (``glovebox cache get``)
never loads the services it does not use (``tests/test_cli_startup.py`` guards this).

The compilation services come from the builders the spec factories use as well
(``create_zmk_workspace_cache_service``, ``build_zmk_west_service``,
``create_west_adapter``), so the object graph is assembled in one place whether the
container or ``create_default_zmk_west_service`` builds it.

To add a service: write its function here, then one provider line in
:mod:`containers.application`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glovebox.compilation.cache import ZmkWorkspaceCacheService
    from glovebox.compilation.west_adapter import WestAdapter
    from glovebox.compilation.zmk_west_service import ZmkWestService
    from glovebox.config import UserConfig
    from glovebox.core.cache_v2 import CacheManager
    from glovebox.firmware import FirmwareService
    from glovebox.layout import LayoutService
    from glovebox.metrics import MetricsService
    from glovebox.moergo import Fetch, MoergoClient, UrllibFetcher
    from glovebox.remote.tier import RemoteTier

__all__ = [
    "firmware_service",
    "layout_service",
    "metrics_service",
    "moergo_client",
    "moergo_fetcher",
    "remote_tier",
    "west_adapter",
    "workspace_cache_service",
    "zmk_west_service",
]


def layout_service(cache: CacheManager) -> LayoutService:
    from glovebox.layout import LayoutService

    return LayoutService(cache)


def metrics_service(cache: CacheManager) -> MetricsService:
    from glovebox.metrics import MetricsService

    return MetricsService(cache)


def moergo_fetcher(base_url: str) -> UrllibFetcher:
    from glovebox.moergo import UrllibFetcher

    return UrllibFetcher(base_url)


def moergo_client(cache: CacheManager, fetch: Fetch) -> MoergoClient:
    from glovebox.moergo import MoergoClient

    return MoergoClient(cache, fetch)


def west_adapter(user_config: UserConfig) -> WestAdapter:
    """The adapter ``compilation.west_runner`` names (native, or docker with its image)."""
    from glovebox.compilation.cache import compilation_settings
    from glovebox.compilation.west_adapter import create_west_adapter

    return create_west_adapter(compilation_settings(user_config))


def workspace_cache_service(
    user_config: UserConfig, cache: CacheManager
) -> ZmkWorkspaceCacheService:
    """The workspace service over ``cache`` (the compilation cache, or its override)."""
    from glovebox.compilation.cache import create_zmk_workspace_cache_service

    return create_zmk_workspace_cache_service(user_config, cache)


def zmk_west_service(
    user_config: UserConfig,
    workspace_service: ZmkWorkspaceCacheService,
    adapter: WestAdapter,
    remote: RemoteTier | None = None,
) -> ZmkWestService:
    """The compilation service; ``remote`` is the container's remote tier (or None)."""
    from glovebox.compilation.zmk_west_service import build_zmk_west_service

    return build_zmk_west_service(user_config, workspace_service, adapter, remote)


def remote_tier(user_config: UserConfig) -> RemoteTier | None:
    from glovebox.remote.tier import remote_tier_from_config

    return remote_tier_from_config(user_config)


def firmware_service(
    user_config: UserConfig,
    layout_service: LayoutService,
    west_service: ZmkWestService,
    remote: RemoteTier | None = None,
) -> FirmwareService:
    """The firmware builds over the container's layout and compilation services and its
    remote tier (which ``west_service`` was given too)."""
    from glovebox.compilation.cache import compilation_settings
    from glovebox.compilation.levels import compilation_size_limit
    from glovebox.firmware.service import FirmwareService

    return FirmwareService(
        layout_service,
        west_service,
        compilation_settings(user_config),
        size_limit_bytes=compilation_size_limit(user_config),
        remote=remote,
    )
