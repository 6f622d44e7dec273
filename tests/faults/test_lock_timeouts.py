"""Another process holds SQLite's write lock: every operation ends within the timeout.

The holder is a real process running ``BEGIN EXCLUSIVE`` on ``cache.db``. Each call runs
in a thread joined with a generous bound, so a call that waits for the lock without limit
fails the test instead of hanging it; no test measures how long a call took.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from glovebox.core.cache_v2 import counters
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.errors import CacheError
from glovebox.testing import IsolatedConfig
from tests.faults.lock_holder import lock_held
from tests.helpers import REPO_ROOT, run_threads

BOUND = 20.0  # far below the unbounded waits; never a measured duration
LOCKED = r"cache\.db is locked by another process; waited \d+\.\d s \(the configured timeout is 1"
SETTINGS = CacheSettings(timeout=1)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[DiskCacheManager]:
    instance = DiskCacheManager(tmp_path / "locked", tag="locked", settings=SETTINGS)
    instance.set("present", "value")
    instance.set("other", "value")
    yield instance
    instance.close()


def finishes(call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; fail if it is still waiting after ``BOUND`` seconds."""
    results: list[Any] = []
    run_threads(lambda: results.append(call()), count=1, timeout=BOUND)
    return results[0]


WRITES: dict[str, Callable[[DiskCacheManager], object]] = {
    "set": lambda cache: cache.set("new", 1),
    "set_many": lambda cache: cache.set_many({"a": 1, "b": 2}),
    "delete": lambda cache: cache.delete("present"),
    "delete_many": lambda cache: cache.delete_many(["present", "other"]),
    "touch": lambda cache: cache.touch("present", ttl=60),
    "clear": lambda cache: cache.clear(),
    "cleanup": lambda cache: cache.cleanup(),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_write_raises_locked_error_naming_the_wait(cache: DiskCacheManager, operation: str) -> None:
    with lock_held(cache.directory / "cache.db"), pytest.raises(CacheError, match=LOCKED):
        finishes(lambda: WRITES[operation](cache))
    # Nothing was half-done: the entries are all still there once the lock is gone.
    assert cache.get_many(["present", "other"]) == {"present": "value", "other": "value"}


def test_reads_answer_while_locked(cache: DiskCacheManager) -> None:
    with lock_held(cache.directory / "cache.db"):
        assert finishes(lambda: cache.get("present")) == "value"
        assert finishes(lambda: cache.get("absent", "miss")) == "miss"
        assert finishes(lambda: cache.exists("present")) is True
        assert sorted(finishes(cache.keys)) == ["other", "present"]


def test_read_that_triggers_a_flush_defers_it_and_counts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counters, "FLUSH_EVERY_LOOKUPS", 1)
    cache = DiskCacheManager(tmp_path / "flush", tag="flush", settings=SETTINGS)
    cache.set("k", 1)
    with lock_held(cache.directory / "cache.db"):
        for _ in range(3):
            assert finishes(lambda: cache.get("k")) == 1
        assert finishes(lambda: cache.get("absent")) is None
    cache.close()
    reopened = DiskCacheManager(tmp_path / "flush", tag="flush", settings=SETTINGS)
    stats = reopened.get_stats()
    reopened.close()
    assert (stats.hits, stats.misses) == (3, 1)


def test_get_stats_returns_while_locked_and_keeps_pending_counts(cache: DiskCacheManager) -> None:
    cache.get("present")
    cache.get("absent")
    with lock_held(cache.directory / "cache.db"):
        stats = finishes(cache.get_stats)
    assert (stats.entries, stats.hits, stats.misses) == (2, 1, 1)
    after = cache.get_stats()
    assert (after.hits, after.misses) == (1, 1)


def test_close_while_locked_drops_counts_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = DiskCacheManager(tmp_path / "close", tag="close", settings=SETTINGS)
    cache.set("k", 1)
    cache.get("k")
    stored_before = cache.get_stats()
    cache.get("k")
    with lock_held(cache.directory / "cache.db"), caplog.at_level(logging.WARNING):
        finishes(cache.close)
    assert cache.closed
    assert "1 hits and 0 misses of this process were not saved" in caplog.text
    reopened = DiskCacheManager(tmp_path / "close", tag="close", settings=SETTINGS)
    assert reopened.get_stats().hits == stored_before.hits  # dropped, never counted twice
    reopened.close()


OPEN_IN_CHILD = """
import sys
from pathlib import Path
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.errors import CacheError
cache = DiskCacheManager(Path(sys.argv[1]), tag="locked", settings=CacheSettings(timeout=1))
print("read", cache.get("present"))
try:
    cache.set("new", 1)
except CacheError as exc:
    print("write", exc)
cache.close()
"""


def test_a_new_process_opens_reads_and_is_refused_writes_while_locked(
    cache: DiskCacheManager,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with lock_held(cache.directory / "cache.db"):
        child = subprocess.run(
            [sys.executable, "-c", OPEN_IN_CHILD, str(cache.directory)],
            capture_output=True,
            text=True,
            timeout=BOUND,
            env=env,
            check=False,
        )
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert lines[0] == "read value"
    assert lines[1].startswith("write cache 'locked'")
    assert "is locked by another process; waited" in lines[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("glovebox")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=15, check=False
    )


def test_cli_get_and_set_honour_the_configured_timeout(isolated_config: IsolatedConfig) -> None:
    config = isolated_config.config_home / "glovebox" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("cache:\n  timeout: 1\n", encoding="utf-8")
    assert run_cli("cache", "set", "greeting", "hello", "--tag", "demo").returncode == 0
    with lock_held(isolated_config.cache_path / "demo" / "cache.db"):
        got = run_cli("cache", "get", "greeting", "--tag", "demo")
        stored = run_cli("cache", "set", "greeting", "bye", "--tag", "demo")
    assert (got.returncode, got.stdout) == (0, "hello\n")
    assert stored.returncode != 0
    assert "is locked by another process; waited" in stored.stderr
    assert "Traceback" not in stored.stderr
