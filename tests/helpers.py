"""Helpers shared by the test modules: subprocesses, threads, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from typer.testing import CliRunner

from containers.cli import startup
from glovebox.cli.app import app

REPO_ROOT = Path(__file__).resolve().parent.parent
GLOVEBOX = Path(sys.executable).parent / "glovebox"
"""The installed console script of this venv."""
THREAD_TIMEOUT = 120.0
CHILD_TIMEOUT = 120.0


def child_env() -> dict[str, str]:
    """This process's environment with the repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def env_without_glovebox(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus every ``GLOVEBOX_*`` variable, plus ``variables``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLOVEBOX_")}
    env.update(variables or {})
    return env


def run_child(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = CHILD_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion, its output captured as text; the caller checks the result.

    ``env`` defaults to :func:`child_env`. A child still running after ``timeout`` seconds
    is killed and the test fails with ``TimeoutExpired``.
    """
    return subprocess.run(
        [str(part) for part in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(child_env() if env is None else env),
        cwd=cwd,
        check=False,
    )


def run_glovebox(
    *args: str, input: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``glovebox`` script at 80 columns; the caller checks the result."""
    return subprocess.run(
        [str(GLOVEBOX), *args],
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        timeout=CHILD_TIMEOUT,
        check=False,
    )


def glovebox_ok(
    *args: str, input: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """:func:`run_glovebox`, asserting the command succeeded."""
    result = run_glovebox(*args, input=input, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (same venv, same environment); check success."""
    result = run_child([sys.executable, "-c", textwrap.dedent(code), *args], timeout=timeout)
    assert result.returncode == 0, f"child failed ({result.returncode}):\n{result.stderr}"
    return result


def run_threads(
    target: Callable[..., object],
    *,
    count: int | None = None,
    over: Iterable[Any] | None = None,
    timeout: float = THREAD_TIMEOUT,
) -> None:
    """Call ``target()`` in ``count`` threads, or ``target(item)`` in one thread per item.

    All threads are started before any is joined. Returns once every thread has finished;
    fails if one is still running after ``timeout`` seconds, and re-raises the first
    exception a thread raised.
    """
    if (count is None) == (over is None):
        raise TypeError("run_threads needs exactly one of count= or over=")
    calls = [()] * count if count is not None else [(item,) for item in over or ()]
    errors: list[BaseException] = []

    def call(arguments: tuple[Any, ...]) -> None:
        try:
            target(*arguments)
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    # Daemon threads: one stuck past the timeout must not keep the test process alive.
    threads = [threading.Thread(target=call, args=(arguments,), daemon=True) for arguments in calls]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = sum(thread.is_alive() for thread in threads)
    assert running == 0, f"{running} of {len(threads)} threads still running after {timeout} s"
    if errors:
        raise errors[0]


def write_yaml(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8 (a configuration file for the test); return ``path``.

    Missing parent directories are created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class CliResult(NamedTuple):
    exit_code: int
    stdout: str
    stderr: str


def invoke(*args: str, obj: object = startup, input: str | None = None) -> CliResult:
    """Run ``glovebox ARGS`` through typer's runner (``obj``: what builds the container)."""
    result = CliRunner().invoke(app, list(args), obj=obj, input=input)
    return CliResult(result.exit_code, result.stdout, result.stderr)
