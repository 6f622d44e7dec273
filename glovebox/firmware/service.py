"""``FirmwareService``: a layout (or keymap) to flashable ``.uf2`` files, cached at each level.

Levels, fastest first (see docs/firmware.md):

1. **firmware** - the finished images, keyed by the keymap and conf bytes, the boards,
   the repository, the ZMK commit the workspace resolved to, the runner and image, and
   the generator version. A hit starts neither west nor docker.
2. **workspace** - the west workspace from the workspace cache (restore strategies and
   the download hold included), restored once into the domain's build area and kept.
3. **build directory** - per (workspace entry, board) build directories, built
   incrementally; one that is not known good for this entry, board and toolchain is
   wiped first.

With a remote tier (docs/remote.md), a local miss of the firmware or workspace level
asks the remote tier before building: a remote hit is stored locally and served. The
workspace's published head gives the commit, so a machine without the workspace can
compute the firmware key. What is built is published in ``read-write`` mode.

Identical builds running at once build once: the second waits on the firmware key's
lock and is served from the firmware level. Nothing is stored before every board built.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from glovebox.compilation.build_area import BuildArea, TreeRecord
from glovebox.compilation.cache import WorkspaceConfig, workspace_key
from glovebox.compilation.firmware_store import FirmwareStore, firmware_key
from glovebox.compilation.levels import BUILDS_DIR, FIRMWARE_DIR, trim_to_limit
from glovebox.compilation.west_adapter import (
    DockerWestAdapter,
    WestAdapter,
    WestCommandError,
    create_west_adapter,
)
from glovebox.compilation.zmk_west_service import ZmkWestService
from glovebox.config.models import CompilationSection
from glovebox.firmware.hit import request_identity
from glovebox.firmware.results import (
    SPLIT_BOARDS,
    BoardBuild,
    FirmwareBuildError,
    FirmwareError,
    FirmwareInputError,
    FirmwareResult,
    LevelReport,
    Phase,
    PhaseCallback,
    boards_for,
    check_output_dir,
    write_firmware,
)
from glovebox.layout.service import GENERATOR_VERSION, LayoutService

if TYPE_CHECKING:
    from glovebox.compilation.remote_levels import RemoteHead
    from glovebox.remote.tier import RemoteTier

__all__ = [
    "SPLIT_BOARDS",
    "BoardBuild",
    "FirmwareBuildError",
    "FirmwareError",
    "FirmwareInputError",
    "FirmwareResult",
    "FirmwareService",
    "LevelReport",
    "Phase",
    "boards_for",
    "create_default_firmware_service",
    "workspace_config_for",
]

logger = logging.getLogger(__name__)

_PINNED = re.compile(r"^(?:[0-9a-f]{7,40}|v\d[\w.+-]*)$")


def workspace_config_for(repository: str, revision: str) -> WorkspaceConfig:
    """The workspace of ``repository`` at ``revision``: a commit or ``v1.2``-style tag is
    pinned (long TTL), anything else is a branch (refreshed when its TTL expires)."""
    pinned = bool(_PINNED.match(revision))
    try:
        if pinned:
            return WorkspaceConfig(repository=repository, revision=revision)
        return WorkspaceConfig(repository=repository, branch=revision)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "--repository" if "repository" in error["loc"] else "--revision"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise FirmwareInputError(f"{where}: {message}") from None


def _config_base(board: str) -> str:
    for name, halves in SPLIT_BOARDS.items():
        if board in halves:
            return name
    return board


@dataclass
class _Job:
    """One ``compile`` call's inputs, resolved and checked."""

    source: Path
    output_dir: Path
    boards: tuple[str, ...]
    config: WorkspaceConfig
    west: ZmkWestService
    keymap: bytes
    conf: bytes
    caching: bool
    started: float
    emit: PhaseCallback
    request: dict[str, Any]
    remote: bool = False  # whether the remote tier is asked and published to
    remote_head: RemoteHead | None = None  # a remote head's commit used without a tree
    head_checked: bool = False  # the remote tier was asked for the head of wkey
    head_missing: bool = False  # ... and had none (or an expired one)

    @property
    def wkey(self) -> str:
        return workspace_key(self.config)

    @property
    def toolchain(self) -> tuple[str, str | None]:
        return _toolchain(self.west.adapter)

    def key_for(self, commit: str) -> str:
        runner, image = self.toolchain
        return firmware_key(
            keymap=self.keymap,
            conf=self.conf,
            boards=self.boards,
            repository=self.config.repository,
            commit=commit,
            runner=runner,
            image=image,
            generator_version=GENERATOR_VERSION,
        )

    def finish(
        self,
        images: Sequence[tuple[str, bytes]],
        *,
        key: str,
        commit: str,
        firmware: LevelReport,
        workspace: LevelReport | None = None,
        builds: list[BoardBuild] | None = None,
    ) -> FirmwareResult:
        artifacts = write_firmware(self.output_dir, self.source.stem, images)
        return FirmwareResult(
            artifacts=artifacts,
            key=key,
            commit=commit,
            boards=self.boards,
            firmware=firmware,
            workspace=workspace,
            builds=builds or [],
            seconds=time.perf_counter() - self.started,
        )


class FirmwareService:
    """Builds firmware through ``west_service`` with the three cache levels.

    ``layout_service`` compiles layout JSON; ``settings`` is the validated
    ``compilation`` section. The firmware and build levels live beside the workspace
    cache, under the compilation domain's directory. ``remote`` is the remote tier
    (None: local levels only); ``west_service`` should carry the same one.
    """

    def __init__(
        self,
        layout_service: LayoutService,
        west_service: ZmkWestService,
        settings: CompilationSection,
        size_limit_bytes: int | None = None,
        remote: RemoteTier | None = None,
    ) -> None:
        from glovebox.compilation.remote_levels import remote_levels

        self.layout_service = layout_service
        self.west_service = west_service
        self.settings = settings
        self.size_limit_bytes = size_limit_bytes
        domain = west_service.workspace_service.root.parent
        self.domain = domain
        self.store = FirmwareStore(domain / FIRMWARE_DIR)
        self.area = BuildArea(domain / BUILDS_DIR)
        self.remote = remote_levels(remote, domain)

    # Inputs ------------------------------------------------------------------------------

    def _sources(self, source: Path, conf: Path | None, use_cache: bool) -> tuple[bytes, bytes]:
        suffix = source.suffix.lower()
        if suffix == ".json":
            if conf is not None:
                raise FirmwareInputError(
                    f"--conf {conf}: a layout JSON carries its own settings; --conf goes "
                    "with a .keymap input"
                )
            compiled = self.layout_service.compile(source, use_cache=use_cache)
            return compiled.keymap.encode("utf-8"), compiled.conf.encode("utf-8")
        if suffix != ".keymap":
            raise FirmwareInputError(
                f"{source}: expected a Glove80 Layout Editor .json or a ZMK .keymap file"
            )
        return _read_input(source, "keymap"), b"" if conf is None else _read_input(conf, "--conf")

    def _west(self, runner: str | None, *, remote: bool) -> ZmkWestService:
        if runner is None or runner == self.settings.west_runner:
            return self.west_service if remote else self.west_service.without_remote()
        if runner not in ("native", "docker"):
            raise FirmwareInputError(f"--runner {runner!r}: expected native or docker")
        adapter = create_west_adapter(self.settings.model_copy(update={"west_runner": runner}))
        base = self.west_service
        return ZmkWestService(
            adapter,
            base.workspace_service,
            restore_strategy=base.restore_strategy,
            download_timeout=base.download_timeout,
            remote=base.remote if remote else None,
        )

    # The job ----------------------------------------------------------------------------

    def compile(
        self,
        source: Path,
        output_dir: Path,
        *,
        conf: Path | None = None,
        board: str | None = None,
        repository: str | None = None,
        revision: str | None = None,
        runner: str | None = None,
        use_cache: bool = True,
        update: bool = False,
        on_phase: PhaseCallback | None = None,
    ) -> FirmwareResult:
        """Build (or fetch) the firmware for ``source`` and write it to ``output_dir``.

        Raises ``FirmwareInputError`` or ``LayoutError`` for bad input (before anything
        runs), ``FirmwareBuildError`` when a west step fails or times out, and
        ``FirmwareError``/``WorkspaceError`` when a level cannot be used.
        """
        started = time.perf_counter()
        source, output_dir = Path(source), Path(output_dir)
        boards = boards_for(self.settings.board if board is None else board)
        config = workspace_config_for(
            self.settings.zmk_repository if repository is None else repository,
            self.settings.zmk_revision if revision is None else revision,
        )
        west = self._west(runner, remote=use_cache)
        check_output_dir(output_dir)
        keymap, conf_bytes = self._sources(source, conf, use_cache)
        chosen_runner, image = _toolchain(west.adapter)
        request = request_identity(
            repository=self.settings.zmk_repository if repository is None else repository,
            revision=self.settings.zmk_revision if revision is None else revision,
            runner=chosen_runner,
            image=image,
            boards=boards,
        )
        job = _Job(
            source=source,
            output_dir=output_dir,
            boards=boards,
            config=config,
            west=west,
            keymap=keymap,
            conf=conf_bytes,
            caching=use_cache and west.workspace_service.enabled,
            started=started,
            emit=on_phase or (lambda phase: None),
            request=request,
        )
        job.remote = job.caching and self.remote is not None
        result = None
        if job.caching and not update:
            result = self._from_recorded_tree(job)
            if result is None and job.remote:
                result = self._from_remote(job)
        if result is None:
            result = self._through_the_levels(job, update=update)
        if job.caching:
            answer: dict[str, Any] = {
                "workspace_key": job.wkey,
                "repository": job.config.repository,
            }
            if job.remote_head is not None:  # no tree here: the remote head's commit
                answer["commit"] = job.remote_head.commit
                answer["expires_at"] = job.remote_head.expires_at
            self.store.remember_request(job.request, answer)
        return result

    def _recorded_commit(self, job: _Job) -> str | None:
        """The commit of this request's workspace: the current tree's, else (no tree
        here) the remote head's that served it before, while unexpired."""
        record = self.area.record(job.wkey)
        if record is not None:
            return None if record.expired else record.commit
        answer = self.store.recall_request(job.request)
        if answer is None or answer.get("workspace_key") != job.wkey:
            return None
        commit, expires = answer.get("commit"), answer.get("expires_at")
        if not isinstance(commit, str) or not isinstance(expires, str | None):
            return None
        from glovebox.compilation.remote_levels import RemoteHead

        head = RemoteHead(commit, expires)
        if head.expired:
            return None
        job.remote_head = head  # remembered again after this run
        return commit

    def _from_recorded_tree(self, job: _Job) -> FirmwareResult | None:
        """The firmware level alone, keyed by the recorded commit of a current tree."""
        commit = self._recorded_commit(job)
        if commit is None:
            return None
        key = job.key_for(commit)
        entry = self.store.get(key, job.boards)
        if entry is None:
            return None
        report = LevelReport("cache", time.perf_counter() - job.started)
        job.emit(Phase("firmware", False, f"firmware: from cache ({_secs(report)})"))
        images = [(b, entry.images[b].read_bytes()) for b in job.boards]
        return job.finish(images, key=key, commit=commit, firmware=report)

    def _from_remote(self, job: _Job) -> FirmwareResult | None:
        """The firmware level through the remote tier, keyed by the current local tree's
        commit or, without one, by the commit the workspace's published head names (a
        local entry for that key is served first). A remote entry is stored locally
        (backfill) and served. None on any miss."""
        assert self.remote is not None
        head = None
        commit = self._recorded_commit(job)
        if commit is None:
            job.head_checked = True
            head = self.remote.head(job.wkey)
            if head is None:
                job.head_missing = True
                return None
            commit = head.commit
            entry = self.store.get(job.key_for(commit), job.boards)
            if entry is not None:
                job.remote_head = head
                report = LevelReport("cache", time.perf_counter() - job.started)
                job.emit(Phase("firmware", False, f"firmware: from cache ({_secs(report)})"))
                images = [(b, entry.images[b].read_bytes()) for b in job.boards]
                return job.finish(images, key=entry.key, commit=commit, firmware=report)
        key = job.key_for(commit)
        fetched = self.remote.fetch_firmware(key, job.boards)
        if fetched is None:
            return None
        if head is not None:
            job.remote_head = head
        meta = {**fetched.meta, "commit": commit, "from": "remote"}
        try:
            self.store.put(key, fetched.images, meta)
        except OSError as exc:  # served anyway: a local cache that fails costs a miss later
            logger.warning("firmware %s from the remote cache could not be stored: %s", key, exc)
        report = LevelReport("remote cache", time.perf_counter() - job.started)
        job.emit(Phase("firmware", False, f"firmware: from remote cache ({_secs(report)})"))
        images = [(b, fetched.images[b]) for b in job.boards]
        return job.finish(images, key=key, commit=commit, firmware=report)

    def _through_the_levels(self, job: _Job, *, update: bool) -> FirmwareResult:
        wait = self.west_service.download_timeout
        job.emit(Phase("workspace", True, "workspace"))
        # Builds hold the tree shared (nobody replaces it meanwhile), so builds of other
        # layouts on a current tree go ahead side by side; only replacing the tree takes
        # it exclusively.
        if not update:
            started = time.perf_counter()
            with self.area.tree_lock(job.wkey, shared=True, timeout=wait):
                current = self._current_tree(job.west, job.wkey)
                if current is not None:
                    workspace = LevelReport("reused", time.perf_counter() - started)
                    job.emit(Phase("workspace", False, f"workspace: {_describe(workspace)}"))
                    return self._build_on_tree(job, current, workspace)
        with self.area.tree_lock(job.wkey, shared=False, timeout=wait):
            record, workspace = self._ensure_tree(job.west, job.config, job.wkey, update=update)
        job.emit(Phase("workspace", False, f"workspace: {_describe(workspace)}"))
        with self.area.tree_lock(job.wkey, shared=True, timeout=wait):
            current = self.area.record(job.wkey)
            if current is None or current.entry_id != record.entry_id:
                raise FirmwareError(
                    f"the workspace tree {job.wkey} was replaced by another glovebox process "
                    "while this build waited; run the command again"
                )
            return self._build_on_tree(job, record, workspace)

    def _current_tree(self, west: ZmkWestService, wkey: str) -> TreeRecord | None:
        """The tree's record if it is the live workspace entry's, unexpired; else None."""
        service = west.workspace_service
        record = self.area.record(wkey)
        if record is None or record.expired or not service.enabled:
            return None
        entry = service.get_workspace_by_key(wkey)
        if entry is None or entry.entry_id != record.entry_id:
            return None
        return record

    def _build_on_tree(
        self, job: _Job, record: TreeRecord, workspace: LevelReport
    ) -> FirmwareResult:
        """The firmware level, then the builds (the tree is held shared by the caller)."""
        wait = self.west_service.download_timeout
        key = job.key_for(record.commit)
        if not job.caching:
            images, builds = self._build_all(job, record)
            report = LevelReport("not cached", 0.0)
            return job.finish(images, key=key, commit=record.commit, firmware=report,
                              workspace=workspace, builds=builds)  # fmt: skip
        build_wait = self.settings.build_timeout * len(job.boards) + wait
        waited = time.perf_counter()
        with self.store.lock(key, timeout=build_wait):
            entry = self.store.get(key, job.boards)
            if entry is not None:  # an identical build finished while this one waited
                report = LevelReport("cache after wait", time.perf_counter() - waited)
                job.emit(Phase("firmware", False, "firmware: from cache after an "
                               f"identical build ({_secs(report)})"))  # fmt: skip
                images = [(b, entry.images[b].read_bytes()) for b in job.boards]
                return job.finish(images, key=key, commit=record.commit, firmware=report,
                                  workspace=workspace)  # fmt: skip
            job.emit(Phase("firmware", False, "firmware: not cached, building"))
            images, builds = self._build_all(job, record)
            report = self._store(job, key, record, images)
            return job.finish(images, key=key, commit=record.commit, firmware=report,
                              workspace=workspace, builds=builds)  # fmt: skip

    def _store(
        self, job: _Job, key: str, record: TreeRecord, images: Sequence[tuple[str, bytes]]
    ) -> LevelReport:
        started = time.perf_counter()
        runner, image = job.toolchain
        meta = {
            "repository": job.config.repository,
            "ref": job.config.ref,
            "commit": record.commit,
            "runner": runner,
            "image": image,
            "source": job.source.name,
        }
        try:
            self.store.put(key, dict(images), meta)
        except OSError as exc:  # a cache that fails costs a miss, never the job
            logger.warning("firmware %s was built but could not be stored: %s", key, exc)
            return LevelReport("built (not stored)", 0.0, str(exc))
        if job.remote and self.remote is not None and self.remote.writable:
            # The firmware first, then (if the store has none, or an expired one) the head
            # naming its commit, so that a machine without this workspace finds it.
            self.remote.publish_firmware(key, dict(images), meta)
            if not job.head_checked:
                job.head_missing = self.remote.head(job.wkey) is None
            if job.head_missing:
                self.remote.publish_head(job.wkey, record.commit, record.expires_at)
        if self.size_limit_bytes is not None:
            try:
                removed = trim_to_limit(
                    self.domain.parent,
                    self.size_limit_bytes,
                    keep=key,
                    workspaces=self.west_service.workspace_service.store,
                )
            except OSError as exc:
                logger.warning("could not bring the compilation cache within its limit: %s", exc)
            else:
                for what in removed:
                    logger.info("over the compilation size limit: removed %s", what)
        return LevelReport("built", time.perf_counter() - started)

    def _ensure_tree(
        self, west: ZmkWestService, config: WorkspaceConfig, wkey: str, *, update: bool
    ) -> tuple[TreeRecord, LevelReport]:
        """A current tree for ``config`` in the build area (exclusive tree lock held)."""
        started = time.perf_counter()
        service = west.workspace_service
        if not update:
            record = self._current_tree(west, wkey)  # another process may have just made it
            if record is not None:
                return record, LevelReport("reused", time.perf_counter() - started)
        self.area.reset(wkey)
        tree = self.area.tree(wkey)
        if update:
            prepared = west.refresh_workspace(config, tree)
        else:
            prepared = west.prepare_workspace(config, tree)
        if prepared.commit is None:
            raise FirmwareError(
                f"cannot tell which ZMK commit the workspace {wkey} holds (no zmk/.git and no "
                "recorded commit); refresh it with 'glovebox firmware compile --update'"
            )
        entry = service.get_workspace_by_key(wkey) if service.enabled else None
        now = datetime.now(UTC).isoformat()
        record = TreeRecord(
            workspace_key=wkey,
            entry_id=entry.entry_id if entry is not None else f"uncached-{secrets.token_hex(8)}",
            commit=prepared.commit,
            expires_at=(
                (entry.expires_at.isoformat() if entry.expires_at else None)
                if entry is not None
                else now  # not cached: never reused by a later run
            ),
        )
        self.area.write_record(record)
        if prepared.source == "remote":
            report = LevelReport("remote cache", time.perf_counter() - started)
        elif prepared.source == "cache" and prepared.restore is not None:
            used = prepared.restore.used.value
            report = LevelReport("restored", time.perf_counter() - started, used)
        elif update:
            report = LevelReport("updated", time.perf_counter() - started, "west update")
        else:
            report = LevelReport("downloaded", time.perf_counter() - started, "west init + update")
        return record, report

    def _build_all(
        self, job: _Job, record: TreeRecord
    ) -> tuple[list[tuple[str, bytes]], list[BoardBuild]]:
        west, wkey, emit = job.west, job.wkey, job.emit
        keymap, conf = job.keymap, job.conf
        boards = job.boards
        images, builds = [], []
        tree = self.area.tree(wkey)
        runner, image = _toolchain(west.adapter)
        for board in boards:
            identity = {
                "workspace_entry": record.entry_id,
                "board": board,
                "toolchain": f"{runner}:{image or '-'}",
            }
            started = time.perf_counter()
            with self.area.slot(wkey, board, identity, timeout=self.settings.build_timeout) as slot:
                base = _config_base(board)
                _write_if_changed(slot.config_dir / f"{base}.keymap", keymap)
                _write_if_changed(slot.config_dir / f"{base}.conf", conf)
                argv = west.adapter.commands.build(
                    board, str(slot.build_dir), config_dir=str(slot.config_dir)
                )
                command = " ".join(west.adapter.command_line(argv, tree))
                emit(Phase(f"build {board}", True, f"build {board}", command))
                slot.mark("building", identity)
                try:
                    west.adapter.run(argv, tree, timeout=self.settings.build_timeout)
                except WestCommandError as exc:
                    raise FirmwareBuildError(f"build {board} failed: {exc}") from None
                try:
                    data = (slot.build_dir / "zephyr" / "zmk.uf2").read_bytes()
                except OSError:
                    raise FirmwareBuildError(
                        f"build {board}: '{command}' finished but left no zephyr/zmk.uf2 in "
                        f"{slot.build_dir}"
                    ) from None
                slot.mark("ready", identity)
            kind: Literal["incremental", "pristine"] = "incremental" if slot.reused else "pristine"
            build = BoardBuild(board, kind, time.perf_counter() - started, slot.discarded)
            note = f"; discarded a build directory {build.discarded}" if build.discarded else ""
            emit(Phase(f"build {board}", False,
                       f"build {board}: {build.seconds:.0f} s ({kind}{note})"))  # fmt: skip
            images.append((board, data))
            builds.append(build)
        return images, builds


def _toolchain(adapter: WestAdapter) -> tuple[str, str | None]:
    if isinstance(adapter, DockerWestAdapter):
        return "docker", adapter.image
    return "native", None


def _secs(report: LevelReport) -> str:
    return f"{report.seconds:.2f} s"


def _describe(report: LevelReport) -> str:
    if report.source == "remote cache":
        return f"from remote cache ({report.seconds:.1f} s)"
    if report.detail:
        return f"{report.source} ({report.detail}, {report.seconds:.1f} s)"
    return f"{report.source} ({report.seconds:.1f} s)"


def _read_input(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FirmwareInputError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise FirmwareInputError(f"{path}: is a directory; give a {what} file") from None
    except OSError as exc:
        raise FirmwareInputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _write_if_changed(path: Path, data: bytes) -> None:
    """Rewrite ``path`` only when its bytes differ (an unchanged mtime keeps builds incremental)."""
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def create_default_firmware_service(user_config: Any) -> FirmwareService:
    """The firmware service wired from ``user_config`` alone (no container needed).

    The shared ``layout`` and ``compilation`` caches of ``user_config`` are used, as the
    container would use them.
    """
    from glovebox.compilation.cache import compilation_settings
    from glovebox.compilation.levels import compilation_size_limit
    from glovebox.compilation.zmk_west_service import create_default_zmk_west_service
    from glovebox.core.cache_v2 import create_cache_from_user_config
    from glovebox.remote.tier import remote_tier_from_config

    remote = remote_tier_from_config(user_config)
    return FirmwareService(
        LayoutService(create_cache_from_user_config(user_config, tag="layout")),
        create_default_zmk_west_service(user_config, remote=remote),
        compilation_settings(user_config),
        size_limit_bytes=compilation_size_limit(user_config),
        remote=remote,
    )
