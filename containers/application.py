"""The application container: the one place that knows how Glovebox's parts are built."""

from __future__ import annotations

from dependency_injector import containers, providers

from containers import builders
from containers.providers import DomainCachesSingleton, TaggedCacheSingleton
from glovebox.config import user_config_from_mapping

__all__ = ["ApplicationContainer"]

MOERGO_API_URL = "https://my.glove80.com/api/"


class ApplicationContainer(containers.DeclarativeContainer):
    """Configuration, one coordinated cache per domain, and the services that use them.

    ``bootstrap()`` fills ``config`` from the YAML layers and sets ``user_config`` to the
    loaded ``UserConfig`` (so errors and ``cache show`` can name files). Without bootstrap,
    ``config.from_dict(...)`` is enough: ``user_config`` then validates that dict.

    Services are built by the typed functions of :mod:`containers.builders`, which import
    each class when its provider is first resolved, so a command that needs one cache
    does not load the compilation stack.
    """

    # Configuration
    config = providers.Configuration()
    user_config = providers.Singleton(user_config_from_mapping, config)
    compilation_section = user_config.provided.compilation

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
    moergo_fetch = providers.Singleton(builders.moergo_fetcher, MOERGO_API_URL)
    # The S3-compatible store shared by machines; None when none is configured (docs/remote.md).
    remote_tier = providers.Singleton(builders.remote_tier, user_config)
    west_adapter = providers.Singleton(builders.west_adapter, user_config)

    # Services (factories: an override of a cache reaches the next service built)
    layout_service = providers.Factory(builders.layout_service, cache=layout_cache)
    metrics_service = providers.Factory(builders.metrics_service, cache=metrics_cache)
    moergo_client = providers.Factory(
        builders.moergo_client, cache=moergo_cache, fetch=moergo_fetch
    )
    workspace_cache_service = providers.Factory(
        builders.workspace_cache_service, user_config=user_config, cache=compilation_cache
    )
    zmk_west_service = providers.Factory(
        builders.zmk_west_service,
        user_config=user_config,
        workspace_service=workspace_cache_service,
        adapter=west_adapter,
        remote=remote_tier,
    )
    firmware_service = providers.Factory(
        builders.firmware_service,
        user_config=user_config,
        layout_service=layout_service,
        west_service=zmk_west_service,
        remote=remote_tier,
    )
