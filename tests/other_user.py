"""Running the checkout's Python and ``glovebox`` script as another user (``nobody``).

A checkout often lives where other users cannot enter (a 0700 home, a ``mktemp -d``), so
``nobody`` cannot reach the venv's interpreter, its packages or the script. The checkout
and the venv are bind-mounted (read-only) below a temporary directory everyone may
enter, and commands run from there. A test is skipped, with the reason, where that
cannot be arranged (not root, no ``setpriv``, mounting not permitted, or an interpreter
``nobody`` cannot run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

__all__ = ["AsNobody", "NobodyCannotRun", "as_nobody", "reachable_for_nobody"]

DROP = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@dataclass(frozen=True)
class AsNobody:
    """Where ``nobody`` finds the checkout and its venv, and how to run things there."""

    base: Path  # a directory everyone may enter (the commands' working directory)
    checkout: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def glovebox(self) -> list[str]:
        """The venv's installed ``glovebox`` script, run by the venv's interpreter."""
        return [str(self.python), str(self.venv / "bin" / "glovebox")]

    def run(
        self, argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` as ``nobody``, with the checkout first on ``PYTHONPATH``."""
        full_env = dict(env if env is not None else os.environ)
        full_env["PYTHONPATH"] = str(self.checkout)
        return subprocess.run(
            [*DROP, *argv],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=self.base,
            timeout=timeout,
            check=False,
        )


def _mount(source: Path, target: Path) -> str | None:
    """Bind ``source`` read-only on ``target``; the error text if that is not permitted."""
    for argv in (
        ["mount", "--bind", str(source), str(target)],
        ["mount", "-o", "remount,bind,ro", str(target)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return done.stderr.strip() or f"{argv[0]} exited {done.returncode}"
    return None


class NobodyCannotRun(Exception):
    """Running the checkout as ``nobody`` cannot be arranged here; the message says why."""


@contextmanager
def reachable_for_nobody() -> Iterator[AsNobody]:
    """The checkout and venv reachable by ``nobody`` for the ``with`` block (see module);
    raises :class:`NobodyCannotRun` where that cannot be arranged."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise NobodyCannotRun("running a command as another user needs root and setpriv")
    base = Path(tempfile.mkdtemp(prefix="glovebox-as-nobody-", dir="/tmp"))
    base.chmod(0o755)
    mounted: list[Path] = []
    try:
        places = AsNobody(base, base / "checkout", base / "venv")
        for source, target in ((REPO_ROOT, places.checkout), (Path(sys.prefix), places.venv)):
            target.mkdir()
            mounted.append(target)  # unmounted below even if only the first step worked
            problem = _mount(source, target)
            if problem is not None:
                raise NobodyCannotRun(f"cannot bind-mount {source} for another user: {problem}")
        probe = places.run([*places.glovebox, "--help"])
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise NobodyCannotRun(f"nobody cannot run the venv's glovebox script: {last}")
        yield places
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
        # Only empty directories are removed: never anything reached through a mount.
        for directory in (*reversed(mounted), base):
            with suppress(OSError):
                directory.rmdir()


@contextmanager
def as_nobody() -> Iterator[AsNobody]:
    """:func:`reachable_for_nobody` for a test: skipped, with the reason, where impossible."""
    with ExitStack() as stack:
        try:
            places = stack.enter_context(reachable_for_nobody())
        except NobodyCannotRun as exc:
            pytest.skip(str(exc))
        yield places
