"""The container's per-tag cache providers: identity, reset, strategies from YAML and env."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containers import ApplicationContainer, TaggedCacheSingleton, bootstrap, shutdown
from glovebox.core.cache_v2 import (
    DisabledCache,
    DiskCacheManager,
    MemoryCache,
    create_cache_from_user_config,
    get_cache_instance_keys,
)
from glovebox.testing import IsolatedConfig

DOMAINS = ("compilation", "layout", "metrics", "moergo")
Bootstrap = Callable[[str], ApplicationContainer]  # builds a container from YAML text


@pytest.fixture
def bootstrapped(isolated_config: IsolatedConfig, tmp_path: Path) -> Iterator[Bootstrap]:
    """Builds containers from YAML text; shuts each down after the test."""
    built: list[ApplicationContainer] = []

    def build(yaml_text: str) -> ApplicationContainer:
        path = tmp_path / f"config-{len(built)}.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        built.append(bootstrap(path))
        return built[-1]

    yield build
    for app in built:
        shutdown(app)


def test_layout_cache_is_the_coordinators_instance(container: ApplicationContainer) -> None:
    cache = container.layout_cache()
    assert cache is create_cache_from_user_config(container.user_config(), tag="layout")
    assert cache is create_cache_from_user_config(container.user_config()._config, tag="layout")
    assert cache is container.layout_cache()
    assert isinstance(cache, DiskCacheManager)


@pytest.mark.parametrize("tag", DOMAINS)
def test_each_domain_provider_resolves_its_tag(container: ApplicationContainer, tag: str) -> None:
    cache = getattr(container, f"{tag}_cache")()
    assert cache.tag == tag
    assert cache is create_cache_from_user_config(container.user_config(), tag=tag)
    assert cache.get_stats().directory == container.user_config().cache_path / tag


def test_default_cache_is_the_untagged_cache(container: ApplicationContainer) -> None:
    cache = container.default_cache()
    assert cache.tag == "default"
    assert cache is create_cache_from_user_config(container.user_config())


def test_domains_are_isolated(container: ApplicationContainer) -> None:
    container.layout_cache().set("k", "layout value")
    assert container.metrics_cache().get("k") is None
    assert container.layout_cache() is not container.metrics_cache()


def test_reset_singletons_closes_evicts_and_reopens(container: ApplicationContainer) -> None:
    first = container.layout_cache()
    assert isinstance(first, DiskCacheManager)
    first.set("survives", 1)
    key = f"{container.user_config().cache_path.resolve()}:layout"
    assert key in get_cache_instance_keys()

    container.reset_singletons()

    assert first.closed
    assert key not in get_cache_instance_keys()
    second = container.layout_cache()
    assert second is not first
    assert second.get("survives") == 1  # reset never deletes data
    second.set("after", 2)
    assert second.get("after") == 2
    assert second is create_cache_from_user_config(container.user_config(), tag="layout")


def test_any_other_tag_resolves_through_domain_caches(container: ApplicationContainer) -> None:
    caches = container.domain_caches()
    other = caches.get("firmware")
    assert other.tag == "firmware"
    assert other is create_cache_from_user_config(container.user_config(), tag="firmware")
    assert caches.get("layout") is container.layout_cache()
    assert caches.get(None) is container.default_cache()
    container.reset_singletons()
    assert isinstance(other, DiskCacheManager)
    assert other.closed
    assert container.domain_caches().get("firmware") is not other


def test_yaml_disables_one_domain_only(bootstrapped: Bootstrap) -> None:
    app = bootstrapped("cache:\n  domains:\n    metrics:\n      strategy: disabled\n")
    assert isinstance(app.metrics_cache(), DisabledCache)
    for tag in ("compilation", "layout", "moergo"):
        assert isinstance(getattr(app, f"{tag}_cache")(), DiskCacheManager)


def test_yaml_memory_strategy_gives_the_in_process_backend(
    bootstrapped: Bootstrap,
) -> None:
    app = bootstrapped("cache:\n  domains:\n    layout:\n      strategy: memory\n")
    cache = app.layout_cache()
    assert isinstance(cache, MemoryCache)
    assert cache is create_cache_from_user_config(app.user_config(), tag="layout")
    assert not (app.user_config().cache_path / "layout").exists()


def test_environment_wins_over_yaml(
    bootstrapped: Bootstrap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "disabled")
    app = bootstrapped("cache:\n  domains:\n    layout:\n      strategy: memory\n")
    assert isinstance(app.layout_cache(), DisabledCache)
    assert isinstance(app.moergo_cache(), DiskCacheManager)


def test_global_disable_in_environment_wins_over_every_domain(
    bootstrapped: Bootstrap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_GLOBAL", "disabled")
    app = bootstrapped("cache:\n  domains:\n    layout:\n      strategy: enabled\n")
    for tag in DOMAINS:
        assert isinstance(getattr(app, f"{tag}_cache")(), DisabledCache)


def test_yaml_global_disable_yields_to_a_domain_strategy(
    bootstrapped: Bootstrap,
) -> None:
    text = "cache_strategy: disabled\ncache:\n  domains:\n    layout:\n      strategy: enabled\n"
    app = bootstrapped(text)
    assert isinstance(app.layout_cache(), DiskCacheManager)
    assert isinstance(app.metrics_cache(), DisabledCache)


def test_strategy_change_applies_after_reset_singletons(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = bootstrap()
    try:
        assert isinstance(app.layout_cache(), DiskCacheManager)
        monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "disabled")
        assert isinstance(app.layout_cache(), DiskCacheManager)  # resolved once per lifetime
        app.reset_singletons()
        assert isinstance(app.layout_cache(), DisabledCache)
    finally:
        shutdown(app)


def test_domain_settings_reach_the_instance(
    bootstrapped: Bootstrap,
) -> None:
    app = bootstrapped("cache:\n  domains:\n    layout:\n      default_ttl: 60\n")
    cache = app.layout_cache()
    cache.set("k", "v")
    metadata = cache.get_metadata("k")
    assert metadata is not None
    assert metadata.ttl_remaining is not None
    assert 0 < metadata.ttl_remaining <= 60


def test_container_configured_from_a_dict(tmp_path: Path) -> None:
    app = ApplicationContainer()
    app.config.from_dict({"cache_path": str(tmp_path / "c"), "cache": {"timeout": 3}})
    try:
        assert app.user_config().cache.timeout == 3
        cache = app.layout_cache()
        assert cache.get_stats().directory == tmp_path / "c" / "layout"
    finally:
        app.reset_singletons()


def test_two_containers_get_their_own_providers(tmp_path: Path) -> None:
    first, second = ApplicationContainer(), ApplicationContainer()
    first.config.from_dict({"cache_path": str(tmp_path / "one")})
    second.config.from_dict({"cache_path": str(tmp_path / "two")})
    try:
        assert first.layout_cache() is not second.layout_cache()
        assert isinstance(first.layout_cache, TaggedCacheSingleton)
        assert first.layout_cache is not ApplicationContainer.layout_cache
        second.reset_singletons()
        assert not first.layout_cache().closed  # type: ignore[attr-defined]
    finally:
        first.reset_singletons()
        second.reset_singletons()


def test_provider_reports_its_tag() -> None:
    assert ApplicationContainer.layout_cache.tag == "layout"
    assert ApplicationContainer.default_cache.tag is None
