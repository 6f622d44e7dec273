"""The application container: the one place that knows how Glovebox's parts are built."""

from __future__ import annotations

from dependency_injector import containers, providers

from containers.providers import DomainCachesSingleton, TaggedCacheSingleton
from glovebox.compilation.cache import create_zmk_workspace_cache_service
from glovebox.compilation.west_adapter import create_west_adapter
from glovebox.compilation.zmk_west_service import create_zmk_west_service
from glovebox.config import user_config_from_mapping
from glovebox.layout import LayoutService
from glovebox.metrics import MetricsService
from glovebox.moergo import MoergoClient, UrllibFetcher

__all__ = ["ApplicationContainer"]

MOERGO_API_URL = "https://my.glove80.com/api/"


class ApplicationContainer(containers.DeclarativeContainer):
    """Configuration, one coordinated cache per domain, and the services that use them.

    ``bootstrap()`` fills ``config`` from the YAML layers and sets ``user_config`` to the
    loaded ``UserConfig`` (so errors and ``cache show`` can name files). Without bootstrap,
    ``config.from_dict(...)`` is enough: ``user_config`` then validates that dict.
    """

    # Configuration
    config = providers.Configuration()
    user_config = providers.Singleton(user_config_from_mapping, config)

    # Caches: one coordinated instance per domain tag
    compilation_cache = TaggedCacheSingleton(user_config, tag="compilation")
    layout_cache = TaggedCacheSingleton(user_config, tag="layout")
    metrics_cache = TaggedCacheSingleton(user_config, tag="metrics")
    moergo_cache = TaggedCacheSingleton(user_config, tag="moergo")
    default_cache = TaggedCacheSingleton(user_config, tag=None)
    domain_caches = DomainCachesSingleton(
        user_config,
        providers.Dict(
            compilation=compilation_cache.provider,
            layout=layout_cache.provider,
            metrics=metrics_cache.provider,
            moergo=moergo_cache.provider,
            default=default_cache.provider,
        ),
    )

    # Gateways
    moergo_fetch = providers.Singleton(UrllibFetcher, MOERGO_API_URL)
    west_adapter = providers.Singleton(create_west_adapter, user_config)

    # Services (factories: an override of a cache reaches the next service built)
    layout_service = providers.Factory(LayoutService, cache=layout_cache)
    metrics_service = providers.Factory(MetricsService, cache=metrics_cache)
    moergo_client = providers.Factory(MoergoClient, cache=moergo_cache, fetch=moergo_fetch)
    workspace_cache_service = providers.Factory(
        create_zmk_workspace_cache_service, user_config, compilation_cache
    )
    zmk_west_service = providers.Factory(
        create_zmk_west_service,
        west_adapter,
        user_config,
        compilation_cache,
        workspace_cache_service,
    )
