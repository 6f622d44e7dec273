"""The ZMK west compilation service: a workspace from the cache when possible, then a build.

On a cache miss the workspace is created with ``west init`` + ``west update`` (the slow
download), moved into the workspace cache, and restored to where the build needs it. On
a hit the download is skipped entirely. Collaborators arrive through ``__init__`` (the
DI container or :func:`create_default_zmk_west_service`, through one builder), so tests
swap any.
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
    compilation_settings,
    create_compilation_cache_service,
)
from glovebox.compilation.west_adapter import WestAdapter, create_west_adapter
from glovebox.core.cache_v2 import BestEffortCache
from glovebox.errors import WorkspaceError

__all__ = [
    "BuildResult",
    "CompilationServiceProtocol",
    "PreparedWorkspace",
    "ZmkWestService",
    "build_zmk_west_service",
    "create_default_zmk_west_service",
]

logger = logging.getLogger(__name__)


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


class ZmkWestService:
    """Builds ZMK firmware with west, reusing cached workspaces.

    ``restore_strategy`` and ``download_timeout`` (seconds a build waits for a concurrent
    build downloading the same workspace) are ``compilation.workspace_restore_strategy``
    and ``compilation.workspace_download_timeout``, already validated.
    """

    def __init__(
        self,
        adapter: WestAdapter,
        workspace_service: ZmkWorkspaceCacheService,
        *,
        restore_strategy: RestoreStrategy,
        download_timeout: float,
    ) -> None:
        self.adapter = adapter
        self.workspace_service = workspace_service
        self.restore_strategy = restore_strategy
        self.download_timeout = download_timeout

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
            # A compilation cache that fails costs a miss and one WARNING, never the build.
            restored = self._cache_view().attempt(
                lambda: self.workspace_service.restore_workspace(config, dest, strategy),
                lambda: None,
            )
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

    def _cache_view(self) -> BestEffortCache:
        return BestEffortCache(self.workspace_service.cache)

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
            cached = self._cache_view().attempt(
                lambda: self.workspace_service.cache_workspace(scratch, config, move=True),
                lambda: None,  # a failed publication hands the tree back to scratch
            )
            if cached is None:  # caching disabled or failing: the fresh workspace is the result
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


def build_zmk_west_service(
    user_config: Any,
    workspace_service: ZmkWorkspaceCacheService,
    adapter: WestAdapter | None = None,
) -> ZmkWestService:
    """The compilation service over ``workspace_service``, configured from ``user_config``.

    The one place the service is assembled: :func:`create_default_zmk_west_service` and
    the container both call it. Without ``adapter``, the one ``compilation.west_runner``
    names is used.
    """
    settings = compilation_settings(user_config)
    return ZmkWestService(
        adapter or create_west_adapter(settings),
        workspace_service,
        restore_strategy=settings.workspace_restore_strategy,
        download_timeout=settings.workspace_download_timeout,
    )


def create_default_zmk_west_service(
    user_config: Any, adapter: WestAdapter | None = None
) -> ZmkWestService:
    """The compilation service wired from ``user_config`` alone (no container needed):
    the shared "compilation" cache, its workspace service and the service over them."""
    _, workspace_service = create_compilation_cache_service(user_config)
    return build_zmk_west_service(user_config, workspace_service, adapter)
