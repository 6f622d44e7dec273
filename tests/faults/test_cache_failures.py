"""A cache that cannot be read or written costs a miss and one WARNING, never the job.

Real faults: a Redis server that was stopped, another process holding the SQLite lock on
``cache.db``, a cache directory that cannot be created, and a full tmpfs under the cache.
Each through the installed ``glovebox layout compile`` (exit 0, outputs written, exactly
one WARNING line naming the cache and what failed) and through the Python API. Commands
whose job is the cache itself still fail.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from containers import bootstrap, shutdown
from glovebox.api import compile_layout_file
from glovebox.compilation.cache import create_compilation_cache_service
from glovebox.compilation.zmk_west_service import create_default_zmk_west_service
from glovebox.config import load_user_config
from glovebox.core.cache_v2 import BestEffortCache, best_effort, best_effort_cache
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.errors import CacheError
from glovebox.layout import LayoutService, compile_layout
from glovebox.metrics import MetricsService
from glovebox.moergo import MoergoClient
from glovebox.testing import IsolatedConfig
from glovebox.testing.redis_server import RedisServer
from tests import fake_west
from tests.faults.lock_holder import lock_held
from tests.faults.mounts import fill_up, small_tmpfs
from tests.helpers import GLOVEBOX, env_without_glovebox, run_child
from tests.layout_helpers import make_layout, write_layout
from tests.redis_fixtures import REDIS_SECRET, new_redis_settings
from tests.workspace_helpers import ZMK_V03

VIEW_LOGGER = "glovebox.core.cache_v2.best_effort_cache"


def layouts(directory: Path, count: int = 3) -> list[str]:
    names = []
    for number in range(count):
        path = write_layout(directory / f"l{number}.json", make_layout(title=f"L{number}"))
        names.append(str(path))
    return names


def compile_script(cwd: Path, *inputs: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``glovebox layout compile INPUTS... out`` in ``cwd`` with its own HOME and XDG dirs."""
    home = {
        "HOME": str(cwd / "home"),
        "XDG_CACHE_HOME": str(cwd / "xdg-cache"),
        "XDG_CONFIG_HOME": str(cwd / "xdg-config"),
    }
    argv: list[str | Path] = [GLOVEBOX, "layout", "compile", *inputs, cwd / "out"]
    return run_child(argv, cwd=cwd, env=env_without_glovebox({**home, **env}))


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("WARNING")]


def assert_job_done(result: subprocess.CompletedProcess[str], cwd: Path, count: int) -> str:
    """Exit 0, every output written; returns the one WARNING line."""
    assert result.returncode == 0, result.stderr
    for number in range(count):
        assert (cwd / "out" / f"l{number}.keymap").is_file()
        assert (cwd / "out" / f"l{number}.conf").is_file()
    assert result.stdout.count("(compiled)") == count
    warnings = warnings_of(result.stderr)
    assert len(warnings) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return warnings[0]


# -- through the installed script -----------------------------------------------------------


def test_script_compiles_with_the_redis_server_down(tmp_path: Path) -> None:
    server = RedisServer().start()
    url = server.url
    server.close()  # stopped: nothing listens on its socket any more
    inputs = layouts(tmp_path)
    result = compile_script(
        tmp_path,
        *inputs,
        GLOVEBOX_CACHE_LAYOUT="redis",
        GLOVEBOX_CACHE_REDIS_URL=url,
        GLOVEBOX_CACHE_REDIS_SECRET=REDIS_SECRET,
    )
    warning = assert_job_done(result, tmp_path, 3)
    assert "cache 'layout'" in warning
    assert "unreachable" in warning
    assert "could not store" not in result.stderr


def test_script_compiles_while_another_process_holds_the_database_lock(tmp_path: Path) -> None:
    directory = tmp_path / "xdg-cache" / "glovebox" / "layout"
    seed = DiskCacheManager(directory, tag="layout")
    seed.set("seed", 1)
    seed.close()
    inputs = layouts(tmp_path)
    with lock_held(directory / "cache.db"):
        result = compile_script(tmp_path, *inputs, GLOVEBOX__CACHE__TIMEOUT="1")
    warning = assert_job_done(result, tmp_path, 3)
    assert f"cache 'layout' ({directory})" in warning
    assert "is locked by another process" in warning
    # One timeout paid, not one per layout: the rest were not stored (nothing is half-done).
    after = DiskCacheManager(directory, tag="layout")
    try:
        assert after.keys() == ["seed"]
    finally:
        after.close()


def test_script_compiles_when_the_cache_directory_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "xdg-cache" / "glovebox" / "layout"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the cache directory should be\n")
    inputs = layouts(tmp_path)
    result = compile_script(tmp_path, *inputs)
    warning = assert_job_done(result, tmp_path, 3)
    assert "cache 'layout'" in warning
    assert "cannot create cache directory" in warning
    assert blocker.read_text() == "a file where the cache directory should be\n"


def test_script_compiles_when_the_cache_disk_is_full(tmp_path: Path) -> None:
    inputs = layouts(tmp_path)
    with small_tmpfs(tmp_path / "xdg-cache", "1m") as cache_home:
        seeded = run_child(
            [GLOVEBOX, "cache", "set", "seed", "v", "--tag", "layout"],
            cwd=tmp_path,
            env=env_without_glovebox(
                {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(cache_home)}
            ),
        )
        assert seeded.returncode == 0, seeded.stderr
        fill_up(cache_home)
        result = compile_script(tmp_path, *inputs)
        # The job whose job is the cache fails, with the cache's exit code.
        refused = run_child(
            [GLOVEBOX, "cache", "set", "big", "x" * 100_000, "--tag", "layout"],
            cwd=tmp_path,
            env=env_without_glovebox(
                {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(cache_home)}
            ),
        )
    warning = assert_job_done(result, tmp_path, 3)
    assert "cache 'layout'" in warning
    assert "full" in warning or "No space" in warning
    assert refused.returncode != 0
    assert "full" in refused.stderr or "No space" in refused.stderr


def test_cache_commands_still_fail_with_the_redis_server_down(tmp_path: Path) -> None:
    server = RedisServer().start()
    url = server.url
    server.close()
    env = env_without_glovebox(
        {
            "HOME": str(tmp_path / "home"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "GLOVEBOX_CACHE_LAYOUT": "redis",
            "GLOVEBOX_CACHE_REDIS_URL": url,
            "GLOVEBOX_CACHE_REDIS_SECRET": REDIS_SECRET,
        }
    )
    for args in (["set", "k", "v"], ["delete", "k"], ["clear", "--yes"]):
        result = run_child([GLOVEBOX, "cache", *args, "--tag", "layout"], cwd=tmp_path, env=env)
        assert result.returncode != 0, (args, result.stdout, result.stderr)
        assert "unreachable" in result.stderr, (args, result.stderr)


# -- through the Python API -----------------------------------------------------------------


def view_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def stopped_redis_cache() -> Iterator[RedisCache]:
    server = RedisServer().start()
    cache = RedisCache(new_redis_settings(server, retry_interval=0.2), tag="layout")
    cache.set("present", 1)
    server.close()
    yield cache
    cache.close()


def test_compile_layout_with_a_stopped_redis_server(
    tmp_path: Path, stopped_redis_cache: RedisCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="glovebox")
    paths = layouts(tmp_path)
    results = [compile_layout(Path(path), cache=stopped_redis_cache) for path in paths]
    results += [compile_layout(Path(path), cache=stopped_redis_cache) for path in paths]
    assert all(not result.from_cache for result in results)
    assert all("keymap" in result.keymap for result in results)
    warnings = view_warnings(caplog)
    assert [r.name for r in warnings] == [VIEW_LOGGER]
    assert "cache 'layout' (Redis unix://" in warnings[0].getMessage()
    # The backend's own outage notice was folded in (kept at DEBUG level).
    assert any(
        r.levelno == logging.DEBUG and "is unreachable" in r.getMessage() for r in caplog.records
    )


def test_services_with_a_locked_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    cache = DiskCacheManager(tmp_path / "layout", tag="layout", settings=CacheSettings(timeout=1))
    cache.set("counter:runs", 5)
    path = Path(layouts(tmp_path, 1)[0])
    try:
        with lock_held(cache.directory / "cache.db"):
            compiled = LayoutService(cache).compile(path)
            again = LayoutService(cache).compile(path)
            metrics = MetricsService(cache)
            with metrics.timed("compile"):
                count = metrics.increment("runs")
            fetched = MoergoClient(cache, fetch=lambda p: {"path": p}).get("layouts/1")
        assert not compiled.from_cache
        assert not again.from_cache
        assert again.keymap == compiled.keymap
        assert count == 0  # the cache is left alone after its failure: a miss
        assert cache.get("counter:runs") == 5  # and what it held is untouched
        assert fetched == {"path": "layouts/1"}
        warnings = view_warnings(caplog)
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "is locked by another process" in warnings[0].getMessage()
        # The strict cache still refuses a write while the lock is held (its job).
        with lock_held(cache.directory / "cache.db"), pytest.raises(CacheError):
            cache.set("k", 1)
    finally:
        cache.close()


def test_the_view_tries_the_cache_again_after_the_bypass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(best_effort_cache, "BYPASS_SECONDS", 0.5)
    cache = DiskCacheManager(tmp_path / "c", tag="again", settings=CacheSettings(timeout=1))
    view = best_effort(cache)
    assert isinstance(view, BestEffortCache)
    try:
        with lock_held(cache.directory / "cache.db"):
            view.set("k", 1)  # fails: reported, then left alone
            assert view.failing
            view.set("k", 2)  # dropped at once while the cache is left alone
            assert view.get("k") is None
        assert cache.get("k") is None
        while view.failing:
            time.sleep(0.05)
        view.set("k", 3)
        assert cache.get("k") == 3
        assert view.get("k") == 3
        assert len(view_warnings(caplog)) == 1
    finally:
        cache.close()


def test_get_or_set_keeps_the_computed_value_when_storing_fails(
    stopped_redis_cache: RedisCache,
) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 42

    view = best_effort(stopped_redis_cache)
    assert view.get_or_set("answer", compute) == 42
    assert view.get_or_set("answer", compute) == 42
    assert len(calls) == 2  # computed each time, never lost, never made up


def test_bad_arguments_still_raise_through_the_view(stopped_redis_cache: RedisCache) -> None:
    view = best_effort(stopped_redis_cache)
    with pytest.raises(TypeError):
        view.get(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl must be a positive"):
        view.set("k", 1, ttl=-1)


def test_firmware_build_with_a_locked_compilation_cache(
    isolated_config: IsolatedConfig,
    west_log: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    # The default 30 s timeout would pass too; a short one keeps the test quick.
    monkeypatch.setenv("GLOVEBOX__CACHE__TIMEOUT", "1")
    user_config = load_user_config()
    cache, _ = create_compilation_cache_service(user_config)
    assert isinstance(cache, DiskCacheManager)
    service = create_default_zmk_west_service(user_config)
    with lock_held(cache.directory / "cache.db"):
        built = service.compile(ZMK_V03, tmp_path / "build-here", board="nice_nano_v2")
    assert built.workspace.source == "west"
    assert built.artifacts, "the build produced no firmware"
    assert [argv[0] for argv in fake_west.calls(west_log)] == ["init", "update", "build"]
    warnings = view_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "cache 'compilation'" in warnings[0].getMessage()
    assert "locked" in warnings[0].getMessage()
    # Nothing was published without its record: the workspace was built in place.
    assert service.workspace_service.list_workspaces() == []


def test_api_compiles_when_the_cache_directory_cannot_be_created(
    isolated_config: IsolatedConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    blocker = isolated_config.cache_path / "layout"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a directory\n")
    app = bootstrap()
    try:
        results = [compile_layout_file(Path(path)) for path in layouts(tmp_path)]
    finally:
        shutdown(app)
    assert [result.from_cache for result in results] == [False, False, False]
    warnings = view_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "cache 'layout'" in warnings[0].getMessage()
    assert "cannot create cache directory" in warnings[0].getMessage()


def test_api_compiles_when_the_cache_disk_is_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    paths = [Path(path) for path in layouts(tmp_path)]
    with small_tmpfs(tmp_path / "tiny", "1m") as tiny:
        cache = DiskCacheManager(tiny / "layout", tag="layout", settings=CacheSettings(timeout=5))
        try:
            fill_up(tiny)
            service = LayoutService(cache)
            results = [service.compile(path) for path in paths]
            stored = cache.keys()
        finally:
            cache.close()
    assert [result.from_cache for result in results] == [False, False, False]
    assert stored == []
    warnings = view_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert f"cache 'layout' ({tiny / 'layout'})" in warnings[0].getMessage()
    assert "the disk is full" in warnings[0].getMessage()
