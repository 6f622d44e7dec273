"""The application container: the one place that knows how Glovebox's parts are built."""

from __future__ import annotations

from dependency_injector import containers, providers

from containers.deferred import Deferred
from containers.providers import DomainCachesSingleton, TaggedCacheSingleton

__all__ = ["ApplicationContainer"]

MOERGO_API_URL = "https://my.glove80.com/api/"


class ApplicationContainer(containers.DeclarativeContainer):
    """Configuration, one coordinated cache per domain, and the services that use them.

    ``bootstrap()`` fills ``config`` from the YAML layers and sets ``user_config`` to the
    loaded ``UserConfig`` (so errors and ``cache show`` can name files). Without bootstrap,
    ``config.from_dict(...)`` is enough: ``user_config`` then validates that dict.

    Services are named by import path (:class:`~containers.deferred.Deferred`) and
    imported when first resolved, so a command that needs one cache does not load the
    compilation stack.
    """

    # Configuration
    config = providers.Configuration()
    user_config = providers.Singleton(Deferred("glovebox.config:user_config_from_mapping"), config)
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
    moergo_fetch = providers.Singleton(Deferred("glovebox.moergo:UrllibFetcher"), MOERGO_API_URL)
    west_adapter = providers.Selector(
        compilation_section.west_runner,
        native=providers.Singleton(Deferred("glovebox.compilation.west_adapter:NativeWestAdapter")),
        docker=providers.Singleton(
            Deferred("glovebox.compilation.west_adapter:DockerWestAdapter"),
            image=compilation_section.docker_image,
        ),
    )

    # Services (factories: an override of a cache reaches the next service built)
    layout_service = providers.Factory(
        Deferred("glovebox.layout:LayoutService"), cache=layout_cache
    )
    metrics_service = providers.Factory(
        Deferred("glovebox.metrics:MetricsService"), cache=metrics_cache
    )
    moergo_client = providers.Factory(
        Deferred("glovebox.moergo:MoergoClient"), cache=moergo_cache, fetch=moergo_fetch
    )
    workspace_cache_settings = providers.Factory(
        Deferred("glovebox.compilation.cache:WorkspaceCacheSettings"),
        revision_ttl_days=compilation_section.workspace_ttl_revision_days,
        branch_ttl_days=compilation_section.workspace_ttl_branch_days,
        exclude_git=compilation_section.workspace_exclude_git,
    )
    workspace_cache_service = providers.Factory(
        Deferred("glovebox.compilation.cache:ZmkWorkspaceCacheService"),
        cache=compilation_cache,
        root=providers.Callable(
            Deferred("glovebox.compilation.cache:workspace_cache_root"),
            user_config.provided.cache_path,
        ),
        settings=workspace_cache_settings,
    )
    zmk_west_service = providers.Factory(
        Deferred("glovebox.compilation.zmk_west_service:ZmkWestService"),
        adapter=west_adapter,
        workspace_service=workspace_cache_service,
        restore_strategy=compilation_section.workspace_restore_strategy,
        download_timeout=compilation_section.workspace_download_timeout,
    )
    firmware_service = providers.Factory(
        Deferred("glovebox.firmware.service:FirmwareService"),
        layout_service=layout_service,
        west_service=zmk_west_service,
        settings=compilation_section,
        size_limit_bytes=providers.Callable(
            Deferred("glovebox.compilation.levels:compilation_size_limit"), user_config
        ),
    )
