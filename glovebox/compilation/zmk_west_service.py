"""The ZMK west compilation service: a workspace from the cache when possible, then a build.

On a cache miss the workspace is created with ``west init`` + ``west update`` (the slow
download), moved into the workspace cache, and restored to where the build needs it. On
a hit the download is skipped entirely. Collaborators arrive through ``__init__`` (the
DI container or :func:`create_zmk_west_service` builds them), so tests swap any of them.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from glovebox.compilation.cache import (
    RestoreResult,
    RestoreStrategy,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
    create_compilation_cache_service,
)
from glovebox.compilation.west_adapter import WestAdapter, create_west_adapter
from glovebox.core.cache_v2 import CacheManager
from glovebox.errors import ConfigError, WorkspaceError

__all__ = [
    "BuildResult",
    "CompilationServiceProtocol",
    "PreparedWorkspace",
    "ZmkWestService",
    "create_default_zmk_west_service",
    "create_zmk_west_service",
]

logger = logging.getLogger(__name__)

DEFAULT_DOWNLOAD_TIMEOUT = 3600.0


class PreparedWorkspace(BaseModel):
    """Where the workspace is and whether it came from the cache."""

    model_config = ConfigDict(frozen=True)

    path: Path
    source: Literal["cache", "west"]
    restore: RestoreResult | None
    seconds: float


class BuildResult(BaseModel):
    """A finished firmware build."""

    model_config = ConfigDict(frozen=True)

    workspace: PreparedWorkspace
    build_dir: Path
    artifacts: list[Path]


@runtime_checkable
class CompilationServiceProtocol(Protocol):
    def prepare_workspace(
        self, config: WorkspaceConfig, destination: Path
    ) -> PreparedWorkspace: ...

    def compile(
        self,
        config: WorkspaceConfig,
        destination: Path,
        *,
        board: str,
        shield: str | None = None,
        config_dir: Path | None = None,
    ) -> BuildResult: ...


def _restore_strategy(user_config: Any) -> RestoreStrategy:
    section = getattr(user_config, "compilation", None)
    value = getattr(section, "workspace_restore_strategy", None) or RestoreStrategy.COPY
    try:
        return RestoreStrategy(value)
    except ValueError:
        accepted = ", ".join(s.value for s in RestoreStrategy)
        raise ConfigError(
            f"compilation.workspace_restore_strategy: expected one of {accepted}, got {value!r}"
        ) from None


def _download_timeout(user_config: Any) -> float:
    """How long a build waits for a concurrent build downloading the same workspace."""
    section = getattr(user_config, "compilation", None)
    value = getattr(section, "workspace_download_timeout", None)
    if value is None:
        return DEFAULT_DOWNLOAD_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            "compilation.workspace_download_timeout: expected a positive number of seconds, "
            f"got {value!r}"
        )
    return float(value)


class ZmkWestService:
    """Builds ZMK firmware with west, reusing cached workspaces."""

    def __init__(
        self,
        adapter: WestAdapter,
        user_config: Any,
        cache: CacheManager,
        workspace_service: ZmkWorkspaceCacheService,
    ) -> None:
        self.adapter = adapter
        self.user_config = user_config
        self.cache = cache
        self.workspace_service = workspace_service
        self.restore_strategy = _restore_strategy(user_config)
        self.download_timeout = _download_timeout(user_config)

    def prepare_workspace(self, config: WorkspaceConfig, destination: Path) -> PreparedWorkspace:
        """A complete west workspace for ``config`` at ``destination`` (new or empty).

        A hit restores the cached workspace and runs no west command. A miss runs
        ``west init`` and ``west update`` in a hidden sibling of ``destination``, caches
        the result by moving it, then restores it (or, with caching disabled, renames it).
        """
        started = time.perf_counter()
        dest = Path(destination)
        strategy = self.restore_strategy
        # Held from lookup to publication: a concurrent build of the same workspace waits
        # here and then restores, instead of downloading it a second time.
        with self.workspace_service.hold(config, timeout=self.download_timeout):
            restored = self.workspace_service.restore_workspace(config, dest, strategy)
            if restored is not None:
                logger.info("workspace %s restored from cache (%s)", restored.key, restored.used)
                return PreparedWorkspace(
                    path=dest,
                    source="cache",
                    restore=restored,
                    seconds=time.perf_counter() - started,
                )
            restore = self._create(config, dest, strategy)
        return PreparedWorkspace(
            path=dest, source="west", restore=restore, seconds=time.perf_counter() - started
        )

    def _create(
        self, config: WorkspaceConfig, dest: Path, strategy: RestoreStrategy
    ) -> RestoreResult | None:
        """West init + update in a hidden sibling of ``dest``, cache it, restore it."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        scratch = dest.parent / f".{dest.name}.west-{secrets.token_hex(4)}"
        scratch.mkdir()
        try:
            commands = self.adapter.commands
            self.adapter.run(commands.init(config), scratch)
            self.adapter.run(commands.update(), scratch)
            cached = self.workspace_service.cache_workspace(scratch, config, move=True)
            if cached is None:  # caching disabled: the fresh workspace is the result
                if dest.exists():
                    dest.rmdir()
                os.rename(scratch, dest)
                return None
            restore = self.workspace_service.restore_workspace(config, dest, strategy)
            if restore is None:
                raise WorkspaceError(
                    f"workspace {cached.entry.key} vanished right after it was cached"
                )
            return restore
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)

    def compile(
        self,
        config: WorkspaceConfig,
        destination: Path,
        *,
        board: str,
        shield: str | None = None,
        config_dir: Path | None = None,
    ) -> BuildResult:
        """Prepare the workspace, then ``west build`` into ``<destination>/build``."""
        prepared = self.prepare_workspace(config, destination)
        build_dir = prepared.path / "build"
        argv = self.adapter.commands.build(
            board,
            "build",
            shield=shield,
            config_dir=None if config_dir is None else str(config_dir.resolve()),
        )
        self.adapter.run(argv, prepared.path)
        artifacts = sorted(
            p for pattern in ("*.uf2", "*.hex", "*.bin") for p in build_dir.rglob(pattern)
        )
        return BuildResult(workspace=prepared, build_dir=build_dir, artifacts=artifacts)


def create_zmk_west_service(
    adapter: WestAdapter,
    user_config: Any,
    cache: CacheManager,
    workspace_service: ZmkWorkspaceCacheService,
) -> ZmkWestService:
    """The compilation service from its collaborators (what the DI container calls)."""
    return ZmkWestService(adapter, user_config, cache, workspace_service)


def create_default_zmk_west_service(
    user_config: Any, adapter: WestAdapter | None = None
) -> ZmkWestService:
    """The compilation service wired from ``user_config`` alone (no container needed)."""
    cache, workspace_service = create_compilation_cache_service(user_config)
    return create_zmk_west_service(
        adapter or create_west_adapter(user_config), user_config, cache, workspace_service
    )
