"""A damaged store never kills or wedges the process.

Real damage only: another process truncating ``cache.db``, garbage written over data
pages, a value file cut short behind the cache's back, and a 1 MiB tmpfs that fills up.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glovebox.core.cache_v2 import CORRUPT_MARKER
from glovebox.core.cache_v2.backends.disk import open_cache
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.errors import CacheError
from tests.faults.mounts import small_tmpfs
from tests.helpers import REPO_ROOT

SETTINGS = CacheSettings(timeout=2)

TRUNCATED_UNDER_US = """
import sys
from pathlib import Path
from glovebox.core.cache_v2.diskcache_manager import DiskCacheManager
from glovebox.core.cache_v2.models import CacheSettings
from glovebox.errors import CacheError
cache = DiskCacheManager(Path(sys.argv[1]), tag="cut", settings=CacheSettings(timeout=2))
for number in range(300):
    cache.set(f"key-{number}", "v" * 400)
cache._cache._sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
for number in range(300):
    cache.get(f"key-{number}")
print("ready", flush=True)
sys.stdin.readline()  # the parent truncates cache.db now
answers = [cache.get(f"key-{number}", "miss") for number in range(300)]
print("answered", len(answers), flush=True)
try:
    cache.set("after", 1)
    print("write stored", flush=True)
except CacheError as exc:
    print("write refused", flush=True)
cache.close()
print("closed", flush=True)
"""


@pytest.mark.parametrize("keep_bytes", [0, 4096, 65536])
def test_truncating_the_database_under_an_open_cache_does_not_kill_it(
    tmp_path: Path, keep_bytes: int
) -> None:
    directory = tmp_path / "cut"
    child = subprocess.Popen(
        [sys.executable, "-c", TRUNCATED_UNDER_US, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert child.stdout is not None
    assert child.stdin is not None
    assert child.stdout.readline().strip() == "ready"
    os.truncate(directory / "cache.db", keep_bytes)
    out, err = child.communicate("go\n", timeout=60)
    assert child.returncode != -signal.SIGBUS, "killed by SIGBUS"
    assert child.returncode == 0, err
    assert "answered 300" in out
    assert out.rstrip().endswith("closed")


def page_size_and_cache_root(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database) as connection:
        ((page_size,),) = connection.execute("PRAGMA page_size").fetchall()
        ((root,),) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'Cache'"
        ).fetchall()
    connection.close()
    return page_size, root


@pytest.fixture
def garbled(tmp_path: Path) -> Path:
    """A cache directory whose Cache table pages were overwritten with garbage."""
    directory = tmp_path / "garbled"
    cache = DiskCacheManager(directory, tag="garbled", settings=SETTINGS)
    for number in range(200):
        cache.set(f"key-{number}", "v" * 300)
    cache.close()  # the last connection checkpoints the log into cache.db
    database = directory / "cache.db"
    page_size, root = page_size_and_cache_root(database)
    pages = database.stat().st_size // page_size
    with database.open("r+b") as handle:
        for page in range(root, pages + 1):
            handle.seek((page - 1) * page_size)
            handle.write(os.urandom(page_size))
    return directory


def aside_directories(directory: Path) -> list[Path]:
    return sorted(directory.parent.glob(f"{directory.name}{CORRUPT_MARKER}*"))


def test_malformed_database_found_by_a_write_is_moved_aside_and_the_write_retried(
    garbled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        cache = open_cache(garbled.parent, "garbled", SETTINGS)
        cache.set("fresh", "stored")
    assert cache.get("fresh") == "stored"
    (aside,) = aside_directories(garbled)
    assert (aside / "cache.db").is_file()  # kept for inspection, not deleted
    assert "is not a usable database" in caplog.text
    cache.close()
    # A new process (here: a new instance) finds a healthy cache, not the damaged one.
    again = open_cache(garbled.parent, "garbled", SETTINGS)
    assert again.get("fresh") == "stored"
    again.set("another", 1)
    again.close()


def test_malformed_database_found_by_a_read_is_a_miss_and_moved_by_the_next_write(
    garbled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = (garbled / "cache.db").read_bytes()
    with caplog.at_level(logging.WARNING):
        cache = open_cache(garbled.parent, "garbled", SETTINGS)
        assert cache.get("key-7", "miss") == "miss"
    assert aside_directories(garbled) == []  # a read reports damage, it moves nothing
    assert (garbled / "cache.db").read_bytes() == damaged
    assert cache.damaged is not None
    assert "is damaged" in caplog.text
    cache.set("key-7", "again")
    (aside,) = aside_directories(garbled)
    assert (aside / "cache.db").read_bytes() == damaged
    assert cache.get("key-7") == "again"
    assert cache.damaged is None
    cache.close()


@pytest.mark.parametrize("value", [b"\x01" * 100_000, "text " * 20_000], ids=["bytes", "str"])
def test_value_file_cut_short_is_a_logged_miss_and_the_entry_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, value: bytes | str
) -> None:
    cache = DiskCacheManager(tmp_path / "values", tag="values", settings=SETTINGS)
    cache.set("big", value)
    (value_file,) = (tmp_path / "values").rglob("*.val")
    os.truncate(value_file, value_file.stat().st_size // 2)
    with caplog.at_level(logging.WARNING):
        assert cache.get("big", "miss") == "miss"
    assert "answered as a miss, entry dropped" in caplog.text
    assert cache.exists("big") is False
    assert not value_file.exists()
    cache.set("big", value)  # the key can be stored again
    assert cache.get("big") == value
    cache.close()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards."""
    with small_tmpfs(tmp_path / "tiny", "1m") as mount_point:
        yield mount_point


def fill(cache: DiskCacheManager, value: object) -> CacheError:
    for number in range(100_000):
        try:
            cache.set(f"key-{number}", value)
        except CacheError as exc:
            return exc
    raise AssertionError("a 1 MiB disk never filled up")


@pytest.mark.parametrize("value", ["v" * 500, b"\x02" * 40_000], ids=["small", "file"])
def test_full_disk_write_says_so_and_deleting_still_works(full_disk: Path, value: object) -> None:
    directory = full_disk / "cache"
    cache = DiskCacheManager(directory, tag="full", settings=SETTINGS)
    error = fill(cache, value)
    assert "the disk is full" in str(error)
    assert str(directory) in str(error)
    assert cache.delete("key-0") is True
    cache.clear()
    assert cache.keys() == []
    cache.close()
