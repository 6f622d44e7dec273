"""Running ``west`` natively or inside a Docker image, with command lines built in one place.

``WestCommands`` turns intentions (init this repository at this ref, update, build this
board) into argument vectors; an adapter decides where they run. Keeping construction
pure makes the exact command lines unit-testable without west or Docker installed.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from glovebox.compilation.cache.models import WorkspaceConfig
from glovebox.config.models import CompilationSection
from glovebox.errors import WorkspaceError

__all__ = [
    "DockerWestAdapter",
    "NativeWestAdapter",
    "WestAdapter",
    "WestCommandError",
    "WestCommands",
    "create_west_adapter",
    "repository_url",
]

logger = logging.getLogger(__name__)

_CONTAINER_WORKSPACE = PurePosixPath("/workspace")


class WestCommandError(WorkspaceError):
    """A west step exited with an error; the message carries the command and its output."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-20:])
        super().__init__(
            f"'{shlex.join(argv)}' failed with exit code {returncode}"
            + (f":\n{tail}" if tail else "")
        )
        self.argv = list(argv)
        self.returncode = returncode


def repository_url(repository: str) -> str:
    """``owner/name`` means a GitHub repository; URLs and ``git@`` addresses pass through."""
    if "://" in repository or repository.startswith("git@"):
        return repository
    return f"https://github.com/{repository}"


@dataclass(frozen=True, slots=True)
class WestCommands:
    """Argument vectors of the west steps (relative to the workspace directory)."""

    executable: str = "west"

    def init(self, config: WorkspaceConfig) -> list[str]:
        return [self.executable, "init", "-m", repository_url(config.repository), "--mr",
                config.ref, "."]  # fmt: skip

    def update(self) -> list[str]:
        return [self.executable, "update", "--fetch-opt=--filter=tree:0"]

    def build(
        self,
        board: str,
        build_dir: str,
        *,
        shield: str | None = None,
        config_dir: str | None = None,
        source_dir: str = "zmk/app",
    ) -> list[str]:
        argv = [self.executable, "build", "-p", "-s", source_dir, "-b", board, "-d", build_dir]
        cmake = []
        if shield:
            cmake.append(f"-DSHIELD={shield}")
        if config_dir:
            cmake.append(f"-DZMK_CONFIG={config_dir}")
        return [*argv, "--", *cmake] if cmake else argv


@runtime_checkable
class WestAdapter(Protocol):
    """Runs one west step in a workspace directory; raises ``WestCommandError`` on failure."""

    @property
    def commands(self) -> WestCommands:
        """How this adapter spells the west steps."""
        ...

    def command_line(self, argv: Sequence[str], workspace: Path) -> list[str]:
        """The full command line this adapter executes for ``argv`` in ``workspace``."""
        ...

    def run(self, argv: Sequence[str], workspace: Path) -> str:
        """Run ``argv`` in ``workspace`` and return its combined output."""
        ...


def _execute(command: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    logger.info("running %s (in %s)", shlex.join(command), cwd)
    try:
        completed = subprocess.run(
            command,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise WorkspaceError(
            f"cannot run {command[0]!r}: not found on PATH; install it or choose the "
            "other runner (compilation.west_runner: native|docker)"
        ) from exc
    if completed.returncode != 0:
        raise WestCommandError(command, completed.returncode, completed.stdout)
    return completed.stdout


@dataclass(frozen=True, slots=True)
class NativeWestAdapter:
    """Runs west installed on this machine, in the workspace directory."""

    commands: WestCommands = field(default_factory=WestCommands)

    def command_line(self, argv: Sequence[str], workspace: Path) -> list[str]:
        return list(argv)

    def run(self, argv: Sequence[str], workspace: Path) -> str:
        return _execute(self.command_line(argv, workspace), workspace)


@dataclass(frozen=True, slots=True)
class DockerWestAdapter:
    """Runs west inside a ZMK build image with the workspace mounted at ``/workspace``.

    Runs as the calling user (``--user uid:gid``) so the files west writes into the
    mounted workspace stay owned by the user and can be cached and deleted. ``image``
    comes from ``compilation.docker_image``.
    """

    image: str
    docker: str = "docker"
    commands: WestCommands = field(default_factory=WestCommands)
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)

    def command_line(self, argv: Sequence[str], workspace: Path) -> list[str]:
        mount = f"type=bind,source={Path(workspace).resolve()},target={_CONTAINER_WORKSPACE}"
        return [
            self.docker, "run", "--rm",
            "--user", f"{self.uid}:{self.gid}",
            "--mount", mount,
            "--workdir", str(_CONTAINER_WORKSPACE),
            "--env", f"HOME={_CONTAINER_WORKSPACE}/.home",
            self.image,
            *argv,
        ]  # fmt: skip

    def run(self, argv: Sequence[str], workspace: Path) -> str:
        return _execute(self.command_line(argv, workspace), workspace)


def create_west_adapter(settings: CompilationSection) -> WestAdapter:
    """The adapter ``compilation.west_runner`` names (the docker one runs ``docker_image``).

    The container and :func:`~glovebox.compilation.zmk_west_service.build_zmk_west_service`
    both choose through this function.
    """
    if settings.west_runner == "docker":
        return DockerWestAdapter(image=settings.docker_image)
    return NativeWestAdapter()
