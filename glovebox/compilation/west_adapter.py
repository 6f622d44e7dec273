"""Running ``west`` natively or inside a Docker image, with command lines built in one place.

``WestCommands`` turns intentions (init this repository at this ref, update, build this
board) into argument vectors; an adapter decides where they run. Keeping construction
pure makes the exact command lines unit-testable without west or Docker installed.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import secrets
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
    "WestTimeoutError",
    "create_west_adapter",
    "execute",
    "repository_url",
]

logger = logging.getLogger(__name__)

_OUTPUT_TAIL = 20
_KILL_GRACE = 5.0


class WestCommandError(WorkspaceError):
    """A west step exited with an error; the message carries the command and its output."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-_OUTPUT_TAIL:])
        super().__init__(
            f"'{shlex.join(argv)}' failed with exit code {returncode}"
            + (f":\n{tail}" if tail else "")
        )
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output


class WestTimeoutError(WestCommandError):
    """A west step ran longer than its timeout; its whole process group was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, output: str) -> None:
        super().__init__(argv, -1, output)
        tail = "\n".join(output.strip().splitlines()[-_OUTPUT_TAIL:])
        self.args = (
            f"'{shlex.join(argv)}' was stopped after {timeout:g} s (timeout; raise "
            "compilation.build_timeout if builds need longer)" + (f":\n{tail}" if tail else ""),
        )


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
                config.ref, "--mf", "app/west.yml", "."]  # fmt: skip

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
        # No "-p": west's default (pristine only when the board or source changed) keeps
        # a reused build directory incremental.
        argv = [self.executable, "build", "-s", source_dir, "-b", board, "-d", build_dir]
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

    def run(self, argv: Sequence[str], workspace: Path, *, timeout: float | None = None) -> str:
        """Run ``argv`` in ``workspace`` and return its combined output.

        ``timeout`` (seconds) stops the step and everything it started; so does Ctrl-C
        (``KeyboardInterrupt`` is re-raised once the processes are gone).
        """
        ...


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Stop ``process`` and every process it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def execute(
    command: Sequence[str],
    cwd: Path,
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    on_interrupt: Sequence[str] | None = None,
) -> str:
    """Run ``command`` in its own process group; return its output or raise.

    Output (stdout and stderr merged) is collected as it comes, so the last lines are
    known whatever happens. On timeout or Ctrl-C the whole group is stopped (TERM, then
    KILL) and ``on_interrupt`` (for example ``docker kill NAME``) runs first, bounded.
    """
    argv = list(command)
    logger.info("running %s (in %s)", shlex.join(argv), cwd)
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise WorkspaceError(
            f"cannot run {argv[0]!r}: not found on PATH; install it or choose the "
            "other runner (compilation.west_runner: native|docker)"
        ) from exc
    lines: collections.deque[str] = collections.deque(maxlen=2000)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def stop() -> None:
        if on_interrupt:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(list(on_interrupt), capture_output=True, timeout=30, check=False)
        _kill_group(process)
        reader.join(timeout=_KILL_GRACE)

    try:
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop()
            raise WestTimeoutError(argv, float(timeout or 0), "".join(lines)) from None
        except BaseException:
            stop()
            raise
        reader.join(timeout=_KILL_GRACE)
    finally:
        if not reader.is_alive() and process.stdout is not None:
            process.stdout.close()
    output = "".join(lines)
    if returncode != 0:
        raise WestCommandError(argv, returncode, output)
    return output


@dataclass(frozen=True, slots=True)
class NativeWestAdapter:
    """Runs west installed on this machine, in the workspace directory."""

    commands: WestCommands = field(default_factory=WestCommands)

    def command_line(self, argv: Sequence[str], workspace: Path) -> list[str]:
        return list(argv)

    def run(self, argv: Sequence[str], workspace: Path, *, timeout: float | None = None) -> str:
        return execute(self.command_line(argv, workspace), workspace, timeout=timeout)


@dataclass(frozen=True, slots=True)
class DockerWestAdapter:
    """Runs west inside a ZMK build image with the workspace mounted at its own path.

    The workspace appears inside the container at the same absolute path as outside, so
    the paths CMake records in a build directory stay valid for native and docker runs.

    Runs as the calling user (``--user uid:gid``) so the files west writes into the
    mounted workspace stay owned by the user and can be cached and deleted. ``image``
    comes from ``compilation.docker_image``.
    """

    image: str
    docker: str = "docker"
    commands: WestCommands = field(default_factory=WestCommands)
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)

    def command_line(
        self, argv: Sequence[str], workspace: Path, *, name: str | None = None
    ) -> list[str]:
        top = Path(workspace).resolve()
        mount = f"type=bind,source={top},target={top}"
        named = ["--name", name] if name else []
        return [
            self.docker, "run", "--rm", *named,
            "--user", f"{self.uid}:{self.gid}",
            "--mount", mount,
            "--workdir", str(top),
            "--env", f"HOME={top}/.home",
            self.image,
            *argv,
        ]  # fmt: skip

    def run(self, argv: Sequence[str], workspace: Path, *, timeout: float | None = None) -> str:
        # Killing the docker client does not stop the container: it is named, and killed
        # by name on timeout or Ctrl-C.
        name = f"glovebox-west-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            return execute(
                self.command_line(argv, workspace, name=name),
                workspace,
                timeout=timeout,
                on_interrupt=[self.docker, "kill", name],
            )
        except WorkspaceError as exc:
            if "not found on PATH" in str(exc):
                raise WorkspaceError(
                    f"cannot run {self.docker!r}: not found on PATH; install Docker "
                    "(https://docs.docker.com/engine/install/) or use "
                    "compilation.west_runner: native"
                ) from None
            output = getattr(exc, "output", "")
            if getattr(exc, "returncode", None) == 125 and "image" in output.lower():
                raise WorkspaceError(
                    f"docker image {self.image!r} is not available: run 'docker pull "
                    f"{self.image}' (or set compilation.docker_image)"
                ) from None
            raise


def create_west_adapter(settings: CompilationSection) -> WestAdapter:
    """The adapter ``compilation.west_runner`` names (the docker one runs ``docker_image``).

    The container and :func:`~glovebox.compilation.zmk_west_service.build_zmk_west_service`
    both choose through this function.
    """
    if settings.west_runner == "docker":
        return DockerWestAdapter(image=settings.docker_image)
    return NativeWestAdapter()
