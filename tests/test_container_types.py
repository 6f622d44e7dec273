"""The container names what it builds by classes and functions, never by import strings.

``assert_type`` is checked by ``mypy --strict`` (part of ``make test``): a provider whose
target were an import string, or any untyped callable, would give ``Any`` and fail the
type check; at run time the same lines check the real instances.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import assert_type

import pytest
from dependency_injector import providers

from containers import ApplicationContainer, builders
from glovebox.compilation.cache import ZmkWorkspaceCacheService, create_compilation_cache_service
from glovebox.compilation.west_adapter import DockerWestAdapter, WestAdapter
from glovebox.compilation.zmk_west_service import ZmkWestService, create_default_zmk_west_service
from glovebox.config import UserConfig
from glovebox.core.cache_v2 import CacheManager
from glovebox.layout import LayoutService
from glovebox.metrics import MetricsService
from glovebox.moergo import MoergoClient, UrllibFetcher
from glovebox.testing import IsolatedConfig


@pytest.fixture
def container(isolated_config: IsolatedConfig) -> Iterator[ApplicationContainer]:
    app = ApplicationContainer()
    app.config.from_dict({"cache_path": str(isolated_config.cache_path)})
    yield app
    app.reset_singletons()


def test_every_provider_has_its_class_type(container: ApplicationContainer) -> None:
    user_config = assert_type(container.user_config(), UserConfig)
    assert isinstance(user_config, UserConfig)
    assert isinstance(assert_type(container.layout_cache(), CacheManager), CacheManager)
    assert isinstance(assert_type(container.layout_service(), LayoutService), LayoutService)
    assert isinstance(assert_type(container.metrics_service(), MetricsService), MetricsService)
    assert isinstance(assert_type(container.moergo_fetch(), UrllibFetcher), UrllibFetcher)
    assert isinstance(assert_type(container.moergo_client(), MoergoClient), MoergoClient)
    assert isinstance(assert_type(container.west_adapter(), WestAdapter), WestAdapter)
    workspaces = assert_type(container.workspace_cache_service(), ZmkWorkspaceCacheService)
    assert isinstance(workspaces, ZmkWorkspaceCacheService)
    assert isinstance(assert_type(container.zmk_west_service(), ZmkWestService), ZmkWestService)


def test_no_provider_names_its_target_by_a_string() -> None:
    targets: dict[str, object] = {}
    for name, provider in ApplicationContainer.providers.items():
        if isinstance(provider, providers.Factory | providers.BaseSingleton | providers.Callable):
            targets[name] = provider.provides
    assert "layout_service" in targets
    assert "zmk_west_service" in targets
    assert {
        name: target
        for name, target in targets.items()
        if not (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target))
    } == {}
    modules = {
        name: target.__module__ for name, target in targets.items() if inspect.isfunction(target)
    }
    assert set(modules.values()) == {"containers.builders", "glovebox.config.loader"}, modules
    assert targets["layout_service"] is builders.layout_service


def test_the_container_and_the_spec_factories_build_the_same_graph(
    container: ApplicationContainer, isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    yaml_config = {
        "cache_path": str(isolated_config.cache_path),
        "compilation": {
            "workspace_restore_strategy": "hardlink",
            "workspace_ttl_branch_days": 2,
            "workspace_download_timeout": 90,
            "west_runner": "docker",
            "docker_image": "example/zmk:2",
        },
    }
    container.config.from_dict(yaml_config)
    user_config = container.user_config()
    from_container = container.zmk_west_service()
    from_factory = create_default_zmk_west_service(user_config)
    assert (
        from_container.adapter == from_factory.adapter == DockerWestAdapter(image="example/zmk:2")
    )
    assert from_container.restore_strategy is from_factory.restore_strategy
    assert from_container.download_timeout == from_factory.download_timeout == 90
    assert from_container.workspace_service.settings == from_factory.workspace_service.settings
    assert from_container.workspace_service.root == from_factory.workspace_service.root
    cache, _ = create_compilation_cache_service(user_config)
    assert from_container.workspace_service.cache is cache is container.compilation_cache()
