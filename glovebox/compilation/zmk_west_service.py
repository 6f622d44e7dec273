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
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from glovebox.compilation.build_area import read_commit
from glovebox.compilation.cache import (
    RestoreResult,
    RestoreStrategy,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
    compilation_settings,
    create_compilation_cache_service,
    workspace_key,
)
from glovebox.compilation.west_adapter import WestAdapter, create_west_adapter
from glovebox.core.cache_v2 import BestEffortCache
from glovebox.errors import WorkspaceError

if TYPE_CHECKING:
    from glovebox.compilation.remote_levels import RemoteLevels
    from glovebox.remote.tier import RemoteTier

__all__ = [
    "BuildResult",
    "CompilationServiceProtocol",
    "PreparedWorkspace",
    "ZmkWestService",
    "build_zmk_west_service",
    "create_default_zmk_west_service",
    "workspace_commit",
]

logger = logging.getLogger(__name__)


COMMIT_FILE = ".glovebox/zmk-commit"
"""Where a workspace records the ZMK commit ``west update`` checked out (cached with it)."""


class PreparedWorkspace(BaseModel):
    """Where the workspace is, whether it came from the cache, and its ZMK commit."""

    model_config = ConfigDict(frozen=True)

    path: Path
    source: Literal["cache", "remote", "west"]
    restore: RestoreResult | None
    seconds: float
    commit: str | None = None


def workspace_commit(workspace: Path) -> str | None:
    """The ZMK commit of ``workspace``: as recorded when it was created, else zmk's HEAD."""
    try:
        recorded = (workspace / COMMIT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        recorded = ""
    if recorded:
        return recorded
    return read_commit(workspace / "zmk")


def _prepared(
    dest: Path,
    source: Literal["cache", "remote", "west"],
    restore: RestoreResult | None,
    started: float,
    commit: str | None = None,
) -> PreparedWorkspace:
    """The workspace at ``dest``, timed from ``started`` (a ``time.perf_counter`` value);
    ``commit`` when already known, else read from ``dest``."""
    return PreparedWorkspace(
        path=dest,
        source=source,
        restore=restore,
        seconds=time.perf_counter() - started,
        commit=workspace_commit(dest) if commit is None else commit,
    )


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
    and ``compilation.workspace_download_timeout``, already validated. ``remote``, when
    given, is looked up after the local cache and before west, and a workspace fetched
    with west is published to it (docs/remote.md).
    """

    def __init__(
        self,
        adapter: WestAdapter,
        workspace_service: ZmkWorkspaceCacheService,
        *,
        restore_strategy: RestoreStrategy,
        download_timeout: float,
        remote: RemoteLevels | None = None,
    ) -> None:
        self.adapter = adapter
        self.workspace_service = workspace_service
        self.restore_strategy = restore_strategy
        self.download_timeout = download_timeout
        self.remote = remote

    def prepare_workspace(
        self, config: WorkspaceConfig, destination: Path, *, use_remote: bool = True
    ) -> PreparedWorkspace:
        """A complete west workspace for ``config`` at ``destination`` (new or empty).

        A hit restores the cached workspace and runs no west command. A local miss asks
        the remote tier (if any) for the workspace at the commit its head names: a hit is
        stored in the local cache (backfill) and restored from there. A miss everywhere
        runs ``west init`` and ``west update`` in a hidden sibling of ``destination``,
        caches the result by moving it, then restores it (or, with caching disabled,
        renames it), and publishes it to the remote tier in ``read-write`` mode.
        ``use_remote=False`` skips the remote lookup (a refresh wants west's answer).
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
                return _prepared(dest, "cache", restored, started)
            fetched = self._from_remote(config, dest, strategy) if use_remote else None
            if fetched is not None:
                return _prepared(dest, "remote", fetched[0], started, fetched[1])
            restore = self._create(config, dest, strategy)
            self._publish(config)
        return _prepared(dest, "west", restore, started)

    def refresh_workspace(self, config: WorkspaceConfig, destination: Path) -> PreparedWorkspace:
        """``west update`` the cached workspace for ``config``, re-cache it, restore it.

        The cached entry is copied into a hidden sibling of ``destination`` (never updated
        in place: a hardlinked restore shares its files with the cache), updated there, so
        only what changed upstream is fetched, and stored as the new entry. Without a
        cached entry (or when its ``.git`` directories were left out, which west needs)
        this is a fresh ``west init`` + ``west update``.
        """
        started = time.perf_counter()
        dest = Path(destination)
        service = self.workspace_service
        with service.hold(config, timeout=self.download_timeout):
            if not service.enabled or service.settings.exclude_git:
                service.delete_workspace(config)
                return self.prepare_workspace(config, dest, use_remote=False)
            dest.parent.mkdir(parents=True, exist_ok=True)
            scratch = dest.parent / f".{dest.name}.update-{secrets.token_hex(4)}"
            try:
                copied = service.restore_workspace(config, scratch, RestoreStrategy.COPY)
                if copied is None:
                    return self.prepare_workspace(config, dest, use_remote=False)
                self.adapter.run(
                    self.adapter.commands.update(), scratch, timeout=self.download_timeout
                )
                _record_commit(scratch)
                cached = self._cache_view().attempt(
                    lambda: service.cache_workspace(scratch, config, move=True),
                    lambda: None,
                )
                if cached is None:  # storing failed: the updated tree is the result
                    if dest.exists():
                        dest.rmdir()
                    os.rename(scratch, dest)
                    return _prepared(dest, "west", None, started)
                restore = service.restore_workspace(config, dest, self.restore_strategy)
                if restore is None:
                    raise WorkspaceError(
                        f"workspace {copied.key} vanished right after it was cached"
                    )
                self._publish(config)
            finally:
                if scratch.exists():
                    shutil.rmtree(scratch)
        return _prepared(dest, "west", restore, started)

    def _from_remote(
        self, config: WorkspaceConfig, dest: Path, strategy: RestoreStrategy
    ) -> tuple[RestoreResult | None, str] | None:
        """The workspace from the remote tier at ``dest`` (and in the local cache); the
        restore and the commit, or None on a miss. Called with the key's hold."""
        remote, service = self.remote, self.workspace_service
        if remote is None or not service.enabled:
            return None
        key = workspace_key(config)
        head = remote.head(key)
        if head is None:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        scratch = dest.parent / f".{dest.name}.remote-{secrets.token_hex(4)}"
        try:
            if not remote.fetch_workspace(key, head.commit, scratch):
                return None
            if workspace_commit(scratch) != head.commit:
                logger.warning(
                    "remote cache: workspace %s does not hold commit %s as its head says; "
                    "treated as a miss",
                    key,
                    head.commit,
                )
                return None
            cached = self._cache_view().attempt(
                lambda: service.cache_workspace(scratch, config, move=True),
                lambda: None,
            )
            if cached is None:  # the local cache failed: the fetched tree is the result
                if dest.exists():
                    dest.rmdir()
                os.rename(scratch, dest)
                return None, head.commit
            restore = service.restore_workspace(config, dest, strategy)
            if restore is None:
                raise WorkspaceError(f"workspace {key} vanished right after it was cached")
            logger.info("workspace %s fetched from the remote cache (%s)", key, head.commit)
            return restore, head.commit
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)

    def _publish(self, config: WorkspaceConfig) -> None:
        """Publish the cached entry for ``config``: its tree, then its head (read-write)."""
        remote, service = self.remote, self.workspace_service
        if remote is None or not remote.writable or not service.enabled:
            return
        key = workspace_key(config)
        entry = service.get_workspace_by_key(key)
        commit = None if entry is None else workspace_commit(entry.path)
        if entry is None or commit is None:
            return
        remote.publish_workspace(key, commit, entry.path)
        expires = entry.expires_at.isoformat() if entry.expires_at is not None else None
        remote.publish_head(key, commit, expires)

    def without_remote(self) -> ZmkWestService:
        """This service without the remote tier (``--no-cache``)."""
        if self.remote is None:
            return self
        return ZmkWestService(
            self.adapter,
            self.workspace_service,
            restore_strategy=self.restore_strategy,
            download_timeout=self.download_timeout,
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
            timeout = self.download_timeout
            self.adapter.run(commands.init(config), scratch, timeout=timeout)
            self.adapter.run(commands.update(), scratch, timeout=timeout)
            _record_commit(scratch)
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


def _record_commit(workspace: Path) -> None:
    """Write the commit ``zmk`` is checked out at into the workspace (cached with it).

    Its ``.git`` may be left out of the cache; firmware built from the workspace is keyed
    by this commit.
    """
    commit = read_commit(workspace / "zmk")
    recorded = workspace / COMMIT_FILE
    if commit is None:
        recorded.unlink(missing_ok=True)
        return
    recorded.parent.mkdir(exist_ok=True)
    recorded.write_text(commit + "\n", encoding="utf-8")


def build_zmk_west_service(
    user_config: Any,
    workspace_service: ZmkWorkspaceCacheService,
    adapter: WestAdapter | None = None,
    remote: RemoteTier | None = None,
) -> ZmkWestService:
    """The compilation service over ``workspace_service``, configured from ``user_config``.

    The one place the service is assembled: :func:`create_default_zmk_west_service` and
    the container both call it. Without ``adapter``, the one ``compilation.west_runner``
    names is used; ``remote`` is the remote tier (None: local caches only).
    """
    from glovebox.compilation.remote_levels import remote_levels

    settings = compilation_settings(user_config)
    return ZmkWestService(
        adapter or create_west_adapter(settings),
        workspace_service,
        restore_strategy=settings.workspace_restore_strategy,
        download_timeout=settings.workspace_download_timeout,
        remote=remote_levels(remote, workspace_service.root.parent),
    )


def create_default_zmk_west_service(
    user_config: Any, adapter: WestAdapter | None = None, remote: RemoteTier | None = None
) -> ZmkWestService:
    """The compilation service wired from ``user_config`` alone (no container needed):
    the shared "compilation" cache, its workspace service and the service over them."""
    _, workspace_service = create_compilation_cache_service(user_config)
    return build_zmk_west_service(user_config, workspace_service, adapter, remote)
