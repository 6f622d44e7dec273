"""The behaviour every cache backend owes its callers, as a test suite to run against one.

A backend registered with ``register_backend`` (or any ``CacheManager``) runs it by
subclassing :class:`CacheContract` in a test module::

    from glovebox.testing.contract import CacheContract

    class TestS3Cache(CacheContract):
        backend = "s3"  # open_backend(root, "contract", CacheSettings(backend="s3"))

or, when opening needs more than the settings, by overriding :meth:`CacheContract.open`.
The cache under test must use the tag ``"contract"`` (messages are checked for it) and
start empty; it is closed after each test. ``time.time`` is replaced by a controllable
clock in the expiry tests, so the backend must read expiry times through ``time.time``.
Glovebox's own backends (disk, memory, redis) run this suite in ``tests/test_contract.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glovebox.core.cache_v2 import CacheManager, CacheSettings, open_backend
from glovebox.errors import CacheError

__all__ = ["CacheContract", "FakeClock"]

THREAD_TIMEOUT = 60.0


class FakeClock:
    """A controllable ``time.time`` (the backends and diskcache read it for expiry)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _in_threads(target: Callable[[], object], count: int) -> None:
    """Run ``target`` in ``count`` threads at once; re-raise the first error, bounded wait."""
    errors: list[BaseException] = []

    def call() -> None:
        try:
            target()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + THREAD_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        pytest.fail(f"a thread was still running after {THREAD_TIMEOUT:g} s")
    if errors:
        raise errors[0]


class CacheContract:
    """The contract tests; subclass with ``backend`` set, or override :meth:`open`."""

    backend: str = ""
    """The registered backend name the default :meth:`open` uses."""

    def open(self, root: Path) -> CacheManager:
        """A new, empty cache tagged ``"contract"`` keeping its files (if any) under ``root``."""
        if not self.backend:
            raise NotImplementedError(
                f"{type(self).__name__}: set backend = '<registered name>' or override open()"
            )
        return open_backend(root, "contract", CacheSettings(backend=self.backend))

    @pytest.fixture
    def cache(self, tmp_path: Path) -> Iterator[CacheManager]:
        instance = self.open(tmp_path / "contract-root")
        yield instance
        instance.close()

    @pytest.fixture
    def clock(self, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
        """``time.time`` under the test's control."""
        fake = FakeClock()
        monkeypatch.setattr(time, "time", fake)
        return fake

    def test_satisfies_the_protocol(self, cache: CacheManager) -> None:
        assert isinstance(cache, CacheManager)
        assert cache.tag == "contract"
        assert cache.stores is True
        assert cache.unusable is None

    def test_close_twice_is_harmless(self, cache: CacheManager) -> None:
        cache.set("k", "v")
        cache.close()
        cache.close()

    def test_set_then_get_returns_an_equal_value(self, cache: CacheManager) -> None:
        value = {"layers": [1, 2, 3], "name": "glove80", "nested": (1.5, None)}
        cache.set("layout", value)
        assert cache.get("layout") == value

    def test_get_missing_returns_default(self, cache: CacheManager) -> None:
        assert cache.get("absent") is None
        assert cache.get("absent", default="fallback") == "fallback"

    def test_stored_none_is_a_hit_not_a_miss(self, cache: CacheManager) -> None:
        cache.set("nothing", None)
        assert cache.get("nothing", default="fallback") is None
        assert cache.exists("nothing")
        stats = cache.get_stats()
        assert (stats.hits, stats.misses) == (1, 0)

    def test_hits_and_misses_are_counted(self, cache: CacheManager) -> None:
        cache.set("a", 1)
        cache.get("a")
        cache.get("a")
        cache.get("b")
        stats = cache.get_stats()
        assert (stats.hits, stats.misses, stats.entries) == (2, 1, 1)
        assert stats.hit_rate == pytest.approx(2 / 3)

    def test_returned_values_are_copies(self, cache: CacheManager) -> None:
        cache.set("list", [1, 2])
        first = cache.get("list")
        first.append(3)
        assert cache.get("list") == [1, 2]

    def test_overwrite_replaces_value(self, cache: CacheManager) -> None:
        cache.set("k", "old")
        cache.set("k", "new")
        assert cache.get("k") == "new"
        assert cache.keys() == ["k"]

    def test_exists_and_delete(self, cache: CacheManager) -> None:
        cache.set("k", 1)
        assert cache.exists("k")
        assert cache.delete("k") is True
        assert not cache.exists("k")
        assert cache.delete("k") is False

    def test_delete_many_counts_removed_live_entries(self, cache: CacheManager) -> None:
        cache.set_many({"a": 1, "b": 2, "c": 3})
        assert cache.delete_many(["a", "b", "zzz"]) == 2
        assert cache.keys() == ["c"]

    def test_clear_removes_everything(self, cache: CacheManager) -> None:
        cache.set_many({f"k{i}": i for i in range(5)})
        cache.clear()
        assert cache.keys() == []
        assert cache.get("k1") is None

    def test_keys_lists_live_keys_in_insertion_order(self, cache: CacheManager) -> None:
        for key in ("x", "y", "z"):
            cache.set(key, key)
        assert cache.keys() == ["x", "y", "z"]

    def test_ttl_expires_entries(self, cache: CacheManager, clock: FakeClock) -> None:
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
        self, cache: CacheManager, clock: FakeClock
    ) -> None:
        cache.set_many({"a": 1, "b": 2}, ttl=1)
        cache.set("keep", 3)
        clock.advance(2)
        assert cache.cleanup() == 2
        assert cache.cleanup() == 0
        assert cache.keys() == ["keep"]
        assert cache.get_stats().entries == 1

    def test_metadata_reports_what_was_stored(self, cache: CacheManager) -> None:
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

    def test_metadata_of_missing_key_is_none(self, cache: CacheManager) -> None:
        assert cache.get_metadata("absent") is None

    def test_get_many_and_set_many(self, cache: CacheManager) -> None:
        cache.set_many({"a": 1, "b": None, "c": [3]}, ttl=100)
        assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "b": None, "c": [3]}

    def test_touch_extends_or_removes_expiry(self, cache: CacheManager, clock: FakeClock) -> None:
        cache.set("k", 1, ttl=10)
        clock.advance(8)
        assert cache.touch("k", ttl=10) is True
        clock.advance(8)
        assert cache.get("k") == 1
        assert cache.touch("k") is True  # no ttl: never expires
        clock.advance(10_000)
        assert cache.get("k") == 1
        assert cache.touch("absent", ttl=5) is False

    def test_get_or_set_computes_only_on_miss(self, cache: CacheManager) -> None:
        calls: list[int] = []

        def compute() -> str:
            calls.append(1)
            return "value"

        assert cache.get_or_set("k", compute) == "value"
        assert cache.get_or_set("k", compute) == "value"
        assert len(calls) == 1

    def test_get_or_set_does_not_store_when_compute_fails(self, cache: CacheManager) -> None:
        def broken() -> int:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            cache.get_or_set("k", broken)
        assert not cache.exists("k")

    def test_get_or_set_computes_once_under_8_concurrent_threads(self, cache: CacheManager) -> None:
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

        _in_threads(worker, count=8)
        assert len(calls) == 1
        assert results == ["expensive"] * 8

    def test_memoize_caches_per_arguments(self, cache: CacheManager) -> None:
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

    def test_memoize_rejects_unpicklable_arguments(self, cache: CacheManager) -> None:
        @cache.memoize()
        def ident(value: object) -> object:
            return value

        with pytest.raises(TypeError, match="picklable"):
            ident(lambda: None)

    @pytest.mark.parametrize("bad_key", ["", 1, None, b"bytes", "x" * 1025])
    def test_invalid_keys_are_rejected_with_a_clear_error(
        self, cache: CacheManager, bad_key: object
    ) -> None:
        with pytest.raises((TypeError, ValueError), match="cache key"):
            cache.set(bad_key, 1)  # type: ignore[arg-type]
        with pytest.raises((TypeError, ValueError), match="cache key"):
            cache.get(bad_key)  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad_ttl", [0, -1, float("nan"), float("inf"), "10", True])
    def test_invalid_ttl_is_rejected_with_a_clear_error(
        self, cache: CacheManager, bad_ttl: object
    ) -> None:
        with pytest.raises((TypeError, ValueError), match="ttl"):
            cache.set("k", 1, ttl=bad_ttl)  # type: ignore[arg-type]
        assert not cache.exists("k")

    def test_unpicklable_value_raises_cache_error_naming_key_and_tag(
        self, cache: CacheManager
    ) -> None:
        cache.set("k", "kept")
        with pytest.raises(CacheError, match=r"'contract'.*'k'"):
            cache.set("k", lambda: None)
        assert cache.get("k") == "kept"

    def test_set_many_is_all_or_nothing(self, cache: CacheManager) -> None:
        with pytest.raises(CacheError, match="'b'"):
            cache.set_many({"a": 1, "b": lambda: None, "c": 3})
        assert cache.keys() == []
