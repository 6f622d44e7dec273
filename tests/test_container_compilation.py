"""The compilation domain through the container: YAML settings, shared cache, overrides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from containers import ApplicationContainer, bootstrap, shutdown
from glovebox.compilation.cache import (
    RestoreStrategy,
    ZmkWorkspaceCacheService,
    create_compilation_cache_service,
)
from glovebox.compilation.west_adapter import DockerWestAdapter, NativeWestAdapter
from glovebox.compilation.zmk_west_service import ZmkWestService
from glovebox.core.cache_v2 import DisabledCache
from glovebox.errors import ConfigError
from glovebox.testing import IsolatedConfig
from tests import fake_west
from tests.helpers import write_yaml
from tests.workspace_helpers import ZMK_V03


@pytest.fixture
def container(isolated_config: IsolatedConfig, tmp_path: Path) -> Iterator[ApplicationContainer]:
    config = write_yaml(
        tmp_path / "glovebox.yaml",
        "compilation:\n"
        "  workspace_restore_strategy: hardlink\n"
        "  workspace_ttl_revision_days: 7\n"
        "  workspace_download_timeout: 120\n",
    )
    app = bootstrap(config)
    yield app
    shutdown(app)


def test_the_compilation_service_gets_the_shared_compilation_cache(
    container: ApplicationContainer,
) -> None:
    service = container.zmk_west_service()
    assert isinstance(service, ZmkWestService)
    assert not hasattr(service, "cache")  # it only reaches the cache through the workspaces
    assert service.workspace_service.cache is container.compilation_cache()
    cache, workspace_service = create_compilation_cache_service(container.user_config())
    assert cache is container.compilation_cache()
    assert workspace_service.root == service.workspace_service.root


def test_yaml_settings_reach_the_compilation_service(container: ApplicationContainer) -> None:
    service = container.zmk_west_service()
    assert service.restore_strategy is RestoreStrategy.HARDLINK
    assert service.download_timeout == 120
    assert service.workspace_service.settings.revision_ttl_days == 7
    assert isinstance(service.adapter, NativeWestAdapter)


def test_docker_runner_is_selected_from_yaml(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = write_yaml(
        tmp_path / "docker.yaml",
        "compilation:\n  west_runner: docker\n  docker_image: example/zmk:1\n",
    )
    app = bootstrap(config)
    try:
        adapter = app.west_adapter()
        assert isinstance(adapter, DockerWestAdapter)
        assert adapter.image == "example/zmk:1"
    finally:
        shutdown(app)


def test_bad_compilation_settings_name_file_and_path(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = write_yaml(
        tmp_path / "bad.yaml", "compilation:\n  workspace_restore_strategy: symlink\n"
    )
    with pytest.raises(ConfigError, match=r"bad\.yaml:2: compilation\.workspace_restore_strategy"):
        bootstrap(config)


def test_an_overridden_compilation_cache_reaches_the_workspace_service(
    container: ApplicationContainer,
) -> None:
    with container.compilation_cache.override(DisabledCache("compilation")):
        service = container.workspace_cache_service()
        assert isinstance(service, ZmkWorkspaceCacheService)
        assert isinstance(service.cache, DisabledCache)
    assert service.cache is not container.workspace_cache_service().cache


def test_second_build_through_the_container_runs_no_west_update(
    container: ApplicationContainer, tmp_path: Path, west_log: Path
) -> None:
    container.zmk_west_service().compile(ZMK_V03, tmp_path / "one", board="nice_nano_v2")
    container.reset_singletons()  # a new process would start like this
    second = container.zmk_west_service().compile(ZMK_V03, tmp_path / "two", board="nice_nano_v2")
    assert [argv[0] for argv in fake_west.calls(west_log)] == ["init", "update", "build", "build"]
    assert second.workspace.source == "cache"
    assert second.workspace.restore is not None
    assert second.workspace.restore.used in (RestoreStrategy.HARDLINK, RestoreStrategy.COPY)
