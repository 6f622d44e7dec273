"""The CacheManager contract (``glovebox.testing.contract``), run against every storing
backend (disk, memory, redis), and what is particular to each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from glovebox.core.cache_v2 import (
    CacheManager,
    DisabledCache,
    DiskCacheManager,
    MemoryCache,
)
from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.errors import CacheError
from glovebox.testing.contract import CacheContract
from tests.helpers import run_threads
from tests.redis_fixtures import new_redis_settings

BACKENDS = ["disk", "memory", "redis"]


def make_backend(kind: str, tmp_path: Path) -> CacheManager:
    if kind == "disk":
        return DiskCacheManager(tmp_path / "contract", tag="contract")
    if kind == "redis":
        return RedisCache(new_redis_settings(), tag="contract")
    return MemoryCache("contract")


class TestDiskContract(CacheContract):
    backend = "disk"


class TestMemoryContract(CacheContract):
    backend = "memory"


class TestRedisContract(CacheContract):
    def open(self, root: Path) -> CacheManager:
        return RedisCache(new_redis_settings(), tag="contract")


@pytest.fixture(params=BACKENDS)
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CacheManager]:
    instance = make_backend(request.param, tmp_path)
    yield instance
    instance.close()


def test_every_backend_satisfies_the_protocol(tmp_path: Path) -> None:
    for instance in (
        make_backend("disk", tmp_path),
        make_backend("redis", tmp_path),
        MemoryCache(),
        DisabledCache(),
    ):
        assert isinstance(instance, CacheManager)
        instance.close()


def test_context_manager_closes(tmp_path: Path) -> None:
    with DiskCacheManager(tmp_path / "ctx", tag="ctx") as cache:
        cache.set("k", 1)
    assert cache.closed
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")


def open_database_files(directory: Path) -> list[str]:
    """The open descriptors of this process on the SQLite database in ``directory``."""
    found: list[str] = []
    for descriptor in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:  # closed since the directory was listed
            continue
        if target.startswith(str(directory / "cache.db")):
            found.append(target)
    return found


def test_close_is_idempotent(cache: CacheManager) -> None:
    cache.set("k", "v")
    assert cache.get("k") == "v"
    cache.close()
    cache.close()
    if isinstance(cache, MemoryCache):
        assert cache.get("k") == "v"  # nothing to release: entries stay
        return
    if isinstance(cache, RedisCache):
        assert cache.closed
        with pytest.raises(CacheError, match="closed"):
            cache.get("k")
        with pytest.raises(CacheError, match="closed"):
            cache.set("k", "other")
        with RedisCache(cache.settings, tag="contract") as reopened:
            assert reopened.get("k") == "v"  # closing never removes entries
            assert reopened.get_stats().hits == 2  # the first lookup, flushed at close
        return
    assert isinstance(cache, DiskCacheManager)
    assert cache.closed
    assert open_database_files(cache.directory) == []
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")
    with pytest.raises(CacheError, match="closed"):
        cache.set("k", "other")
    with DiskCacheManager(cache.directory, tag="contract") as reopened:
        assert reopened.get("k") == "v"
        assert reopened.get_stats().hits == 2  # the first lookup, persisted once, and this one


# -- DisabledCache -------------------------------------------------------------------


def test_disabled_cache_stores_nothing_and_never_raises_on_valid_input() -> None:
    cache = DisabledCache("metrics")
    cache.set("k", 1, ttl=5)
    cache.set_many({"a": 1})
    assert cache.get("k", "default") == "default"
    assert not cache.exists("k")
    assert cache.keys() == []
    assert cache.get_many(["k"]) == {}
    assert cache.get_metadata("k") is None
    assert cache.delete("k") is False
    assert cache.delete_many(["k"]) == 0
    assert cache.touch("k", 5) is False
    assert cache.cleanup() == 0
    cache.clear()
    stats = cache.get_stats()
    assert (stats.hits, stats.misses, stats.entries, stats.size_bytes) == (0, 0, 0, 0)
    assert stats.backend == "disabled"
    assert stats.tag == "metrics"
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 7

    assert cache.get_or_set("k", compute) == 7
    assert cache.get_or_set("k", compute) == 7
    assert len(calls) == 2  # nothing is remembered
    cache.close()
    cache.close()


def test_disabled_cache_still_validates_input() -> None:
    with pytest.raises(TypeError, match="cache key"):
        DisabledCache().set(42, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        DisabledCache().set("k", 1, ttl=-3)


# -- MemoryCache specifics -----------------------------------------------------------


def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache("lru", max_entries=3)
    cache.set_many({"a": 1, "b": 2, "c": 3})
    cache.get("a")  # a becomes most recently used
    cache.set("d", 4)
    assert cache.keys() == ["c", "a", "d"]
    assert cache.get_stats().evictions == 1


def test_memory_cache_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCache(max_entries=0)


def test_memory_cache_is_thread_safe() -> None:
    cache = MemoryCache("threads", max_entries=50)

    def hammer(offset: int) -> None:
        for i in range(500):
            cache.set(f"k{(offset + i) % 80}", i)
            cache.get(f"k{i % 80}")
            cache.keys()

    run_threads(hammer, over=range(6))  # re-raises what any thread raised
    assert len(cache.keys()) == 50
