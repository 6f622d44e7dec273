"""Suite-wide safety: no test may write below the real home directory.

Prevention: every test runs with ``HOME`` and the ``XDG_*`` directories below its own
``tmp_path`` (``isolated_config`` from the Glovebox pytest plugin).
Detection: an audit hook records any attempt to create, write, rename or remove a path
below the real home (or to open an SQLite database there) and fails the offending test.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from containers import ApplicationContainer, bootstrap, shutdown
from glovebox.compilation.cache import CacheWorkspaceResult, ZmkWorkspaceCacheService
from glovebox.testing import IsolatedConfig
from glovebox.testing.contract import FakeClock
from tests import fake_west
from tests.workspace_helpers import cache_sample, service_for

pytest_plugins = ["tests.redis_fixtures", "tests.remote_fixtures"]

REAL_HOME = Path(os.path.expanduser("~")).resolve()
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {
    "os.mkdir": 0,
    "os.remove": 0,
    "os.rmdir": 0,
    "os.rename": 1,
    "os.replace": 1,
    "os.symlink": 1,
    "os.link": 1,
    "os.truncate": 0,
    "shutil.rmtree": 0,
    "shutil.copytree": 1,
    "shutil.move": 1,
    "sqlite3.connect": 0,
}
home_writes: list[str] = []


def touches_real_home(path: object, home: Path = REAL_HOME) -> bool:
    """True if ``path`` names something at or below ``home``."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        return False
    text = os.path.abspath(os.fspath(path))
    return text == str(home) or text.startswith(str(home) + os.sep)


def _is_write(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return any(char in mode for char in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        if _is_write(mode, flags) and touches_real_home(path):
            home_writes.append(f"open({path!r}, {mode!r})")
            raise PermissionError(f"test suite guard: write below the real home: {path}")
        return
    index = _PATH_EVENTS.get(event)
    if index is None:
        return
    for path in args[: index + 1]:
        if touches_real_home(path):
            home_writes.append(f"{event}({path!r})")
            raise PermissionError(f"test suite guard: {event} below the real home: {path}")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def _no_real_home(isolated_config: IsolatedConfig) -> Iterator[None]:
    """Isolate every test, and fail it if anything still reached the real home."""
    before = len(home_writes)
    yield
    attempts = home_writes[before:]
    assert not attempts, f"test touched the real home directory: {attempts}"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """``time.time`` under the test's control."""
    fake = FakeClock()
    monkeypatch.setattr(time, "time", fake)
    return fake


@pytest.fixture
def container(isolated_config: IsolatedConfig) -> Iterator[ApplicationContainer]:
    """The application container as the CLI builds it, shut down after the test."""
    app = bootstrap()
    yield app
    shutdown(app)


@pytest.fixture
def west_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``west`` first on PATH; returns the file its calls are recorded in."""
    fake_west.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "west-calls.jsonl"
    monkeypatch.setenv("FAKE_WEST_LOG", str(log))
    return log


@pytest.fixture
def service(isolated_config: IsolatedConfig) -> ZmkWorkspaceCacheService:
    """The workspace cache service of the test's isolated configuration."""
    return service_for(isolated_config)


@pytest.fixture
def sample(service: ZmkWorkspaceCacheService, tmp_path: Path) -> CacheWorkspaceResult:
    """The sample workspace (built in ``tmp_path / "ws"``), cached as ``ZMK_V03``'s entry."""
    return cache_sample(service, tmp_path)
