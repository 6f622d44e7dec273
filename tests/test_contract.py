"""The CacheManager contract, run against every storing backend (disk, memory, redis)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from tests.helpers import FakeClock, run_threads
from tests.redis_fixtures import new_redis_settings

BACKENDS = ["disk", "memory", "redis"]


def make_backend(kind: str, tmp_path: Path) -> CacheManager:
    if kind == "disk":
        return DiskCacheManager(tmp_path / "contract", tag="contract")
    if kind == "redis":
        return RedisCache(new_redis_settings(), tag="contract")
    return MemoryCache("contract")


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


def test_set_then_get_returns_an_equal_value(cache: CacheManager) -> None:
    value = {"layers": [1, 2, 3], "name": "glove80", "nested": (1.5, None)}
    cache.set("layout", value)
    assert cache.get("layout") == value


def test_get_missing_returns_default(cache: CacheManager) -> None:
    assert cache.get("absent") is None
    assert cache.get("absent", default="fallback") == "fallback"


def test_stored_none_is_a_hit_not_a_miss(cache: CacheManager) -> None:
    cache.set("nothing", None)
    assert cache.get("nothing", default="fallback") is None
    assert cache.exists("nothing")
    stats = cache.get_stats()
    assert (stats.hits, stats.misses) == (1, 0)


def test_hits_and_misses_are_counted(cache: CacheManager) -> None:
    cache.set("a", 1)
    cache.get("a")
    cache.get("a")
    cache.get("b")
    stats = cache.get_stats()
    assert (stats.hits, stats.misses, stats.entries) == (2, 1, 1)
    assert stats.hit_rate == pytest.approx(2 / 3)


def test_returned_values_are_copies(cache: CacheManager) -> None:
    cache.set("list", [1, 2])
    first = cache.get("list")
    first.append(3)
    assert cache.get("list") == [1, 2]


def test_overwrite_replaces_value(cache: CacheManager) -> None:
    cache.set("k", "old")
    cache.set("k", "new")
    assert cache.get("k") == "new"
    assert cache.keys() == ["k"]


def test_exists_and_delete(cache: CacheManager) -> None:
    cache.set("k", 1)
    assert cache.exists("k")
    assert cache.delete("k") is True
    assert not cache.exists("k")
    assert cache.delete("k") is False


def test_delete_many_counts_removed_live_entries(cache: CacheManager) -> None:
    cache.set_many({"a": 1, "b": 2, "c": 3})
    assert cache.delete_many(["a", "b", "zzz"]) == 2
    assert cache.keys() == ["c"]


def test_clear_removes_everything(cache: CacheManager) -> None:
    cache.set_many({f"k{i}": i for i in range(5)})
    cache.clear()
    assert cache.keys() == []
    assert cache.get("k1") is None


def test_keys_lists_live_keys_in_insertion_order(cache: CacheManager) -> None:
    for key in ("x", "y", "z"):
        cache.set(key, key)
    assert cache.keys() == ["x", "y", "z"]


def test_ttl_expires_entries(cache: CacheManager, clock: FakeClock) -> None:
    cache.set("short", 1, ttl=10)
    cache.set("forever", 2)
    clock.advance(5)
    assert cache.get("short") == 1
    clock.advance(6)
    assert cache.get("short") is None
    assert not cache.exists("short")
    assert cache.keys() == ["forever"]
    assert cache.get_metadata("short") is None


def test_cleanup_removes_expired_entries_and_counts_them(
    cache: CacheManager, clock: FakeClock
) -> None:
    cache.set_many({"a": 1, "b": 2}, ttl=1)
    cache.set("keep", 3)
    clock.advance(2)
    assert cache.cleanup() == 2
    assert cache.cleanup() == 0
    assert cache.keys() == ["keep"]
    assert cache.get_stats().entries == 1


def test_metadata_reports_what_was_stored(cache: CacheManager) -> None:
    before = datetime.now(UTC)
    cache.set("meta", b"x" * 100, ttl=60)
    after = datetime.now(UTC)
    metadata = cache.get_metadata("meta")
    assert metadata is not None
    assert metadata.stored_at is not None
    assert before - timedelta(seconds=1) <= metadata.stored_at <= after + timedelta(seconds=1)
    assert metadata.expires_at is not None
    assert metadata.expires_at - metadata.stored_at == pytest.approx(
        timedelta(seconds=60), abs=timedelta(seconds=1)
    )
    assert metadata.size_bytes is not None
    assert metadata.size_bytes >= 100
    cache.set("forever", 1)
    forever = cache.get_metadata("forever")
    assert forever is not None
    assert forever.expires_at is None
    assert forever.ttl_remaining is None


def test_metadata_of_missing_key_is_none(cache: CacheManager) -> None:
    assert cache.get_metadata("absent") is None


def test_get_many_and_set_many(cache: CacheManager) -> None:
    cache.set_many({"a": 1, "b": None, "c": [3]}, ttl=100)
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "b": None, "c": [3]}


def test_touch_extends_or_removes_expiry(cache: CacheManager, clock: FakeClock) -> None:
    cache.set("k", 1, ttl=10)
    clock.advance(8)
    assert cache.touch("k", ttl=10) is True
    clock.advance(8)
    assert cache.get("k") == 1
    assert cache.touch("k") is True  # no ttl: never expires
    clock.advance(10_000)
    assert cache.get("k") == 1
    assert cache.touch("absent", ttl=5) is False


def test_get_or_set_computes_only_on_miss(cache: CacheManager) -> None:
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return "value"

    assert cache.get_or_set("k", compute) == "value"
    assert cache.get_or_set("k", compute) == "value"
    assert len(calls) == 1


def test_get_or_set_does_not_store_when_compute_fails(cache: CacheManager) -> None:
    def broken() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.get_or_set("k", broken)
    assert not cache.exists("k")


def test_get_or_set_computes_once_under_8_concurrent_threads(cache: CacheManager) -> None:
    calls: list[int] = []
    barrier = threading.Barrier(8)
    results: list[object] = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.05)  # widen the window in which other threads would also compute
        return "expensive"

    def worker() -> None:
        barrier.wait()
        results.append(cache.get_or_set("shared", compute))

    run_threads(worker, count=8)
    assert len(calls) == 1
    assert results == ["expensive"] * 8


def test_memoize_caches_per_arguments(cache: CacheManager) -> None:
    calls: list[tuple[int, int]] = []

    @cache.memoize(ttl=60)
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    assert add(1, b=2) == 3
    assert add(1, b=2) == 3
    assert add(2) == 2
    assert calls == [(1, 2), (2, 0)]
    assert add.__name__ == "add"


def test_memoize_rejects_unpicklable_arguments(cache: CacheManager) -> None:
    @cache.memoize()
    def ident(value: object) -> object:
        return value

    with pytest.raises(TypeError, match="picklable"):
        ident(lambda: None)


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


@pytest.mark.parametrize("bad_key", ["", 1, None, b"bytes", "x" * 1025])
def test_invalid_keys_are_rejected_with_a_clear_error(cache: CacheManager, bad_key: object) -> None:
    with pytest.raises((TypeError, ValueError), match="cache key"):
        cache.set(bad_key, 1)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="cache key"):
        cache.get(bad_key)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_ttl", [0, -1, float("nan"), float("inf"), "10", True])
def test_invalid_ttl_is_rejected_with_a_clear_error(cache: CacheManager, bad_ttl: object) -> None:
    with pytest.raises((TypeError, ValueError), match="ttl"):
        cache.set("k", 1, ttl=bad_ttl)  # type: ignore[arg-type]
    assert not cache.exists("k")


def test_unpicklable_value_raises_cache_error_naming_key_and_tag(cache: CacheManager) -> None:
    cache.set("k", "kept")
    with pytest.raises(CacheError, match=r"'contract'.*'k'"):
        cache.set("k", lambda: None)
    assert cache.get("k") == "kept"


def test_set_many_is_all_or_nothing(cache: CacheManager) -> None:
    with pytest.raises(CacheError, match="'b'"):
        cache.set_many({"a": 1, "b": lambda: None, "c": 3})
    assert cache.keys() == []


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
