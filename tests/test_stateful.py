"""Stateful property test: every storing backend behaves like a plain dict with expiry."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from glovebox.core.cache_v2 import CacheManager, DiskCacheManager, MemoryCache
from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.testing.contract import FakeClock
from tests.redis_fixtures import new_redis_settings

keys = st.sampled_from(["a", "b", "c", "layout:1", "ключ", "x" * 50])
values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.binary(max_size=40),
    st.lists(st.integers(), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)
ttls = st.one_of(st.none(), st.integers(min_value=1, max_value=100))


class CacheModel(RuleBasedStateMachine):
    """Drives one backend and a dict model with the same operations and a shared fake clock."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self._patch = mock.patch.object(time, "time", self.clock)
        self._patch.start()
        self.model: dict[str, tuple[Any, float | None]] = {}
        self.directory = Path(tempfile.mkdtemp(prefix="glovebox-stateful-"))
        self.cache = self.make_cache()

    def make_cache(self) -> CacheManager:
        raise NotImplementedError

    def live_model(self) -> dict[str, Any]:
        return {
            key: value
            for key, (value, expires) in self.model.items()
            if expires is None or expires > self.clock.now
        }

    @rule(key=keys, value=values, ttl=ttls)
    def set(self, key: str, value: Any, ttl: int | None) -> None:
        self.cache.set(key, value, ttl=ttl)
        self.model.pop(key, None)  # a rewrite moves the key to the end, as in the cache
        self.model[key] = (value, None if ttl is None else self.clock.now + ttl)

    @rule(items=st.dictionaries(keys, values, max_size=4), ttl=ttls)
    def set_many(self, items: dict[str, Any], ttl: int | None) -> None:
        self.cache.set_many(items, ttl=ttl)
        for key, value in items.items():
            self.model.pop(key, None)
            self.model[key] = (value, None if ttl is None else self.clock.now + ttl)

    @rule(key=keys)
    def get(self, key: str) -> None:
        live = self.live_model()
        sentinel = object()
        assert self.cache.get(key, sentinel) == live.get(key, sentinel)

    @rule(key=keys)
    def delete(self, key: str) -> None:
        expected = key in self.live_model()
        assert self.cache.delete(key) is expected
        if expected:  # an expired entry stays until cleanup(), as in the backends
            del self.model[key]

    @rule(chosen=st.lists(keys, max_size=4, unique=True))
    def delete_many(self, chosen: list[str]) -> None:
        live = self.live_model()
        assert self.cache.delete_many(chosen) == sum(key in live for key in chosen)
        for key in chosen:
            if key in live:
                del self.model[key]

    @rule(key=keys, ttl=ttls)
    def touch(self, key: str, ttl: int | None) -> None:
        expected = key in self.live_model()
        assert self.cache.touch(key, ttl=ttl) is expected
        if expected:
            self.model[key] = (self.model[key][0], None if ttl is None else self.clock.now + ttl)

    @rule(seconds=st.integers(min_value=1, max_value=120))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def clear(self) -> None:
        self.cache.clear()
        self.model.clear()

    @precondition(lambda self: bool(self.model))
    @rule()
    def cleanup(self) -> None:
        expired = len(self.model) - len(self.live_model())
        assert self.cache.cleanup() == expired
        self.model = {key: entry for key, entry in self.model.items() if key in self.live_model()}

    @invariant()
    def keys_match(self) -> None:
        assert sorted(self.cache.keys()) == sorted(self.live_model())

    @invariant()
    def existence_matches(self) -> None:
        live = self.live_model()
        for key in ("a", "b", "layout:1"):
            assert self.cache.exists(key) is (key in live)

    def teardown(self) -> None:
        self.cache.close()
        self._patch.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class DiskCacheModel(CacheModel):
    def make_cache(self) -> CacheManager:
        return DiskCacheManager(self.directory / "cache", tag="stateful")


class MemoryCacheModel(CacheModel):
    def make_cache(self) -> CacheManager:
        return MemoryCache("stateful", max_entries=1000)


class RedisCacheModel(CacheModel):
    def make_cache(self) -> CacheManager:
        return RedisCache(new_redis_settings(), tag="stateful")


stateful_settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestDiskCacheAgainstDict = DiskCacheModel.TestCase
TestDiskCacheAgainstDict.settings = stateful_settings
TestMemoryCacheAgainstDict = MemoryCacheModel.TestCase
TestMemoryCacheAgainstDict.settings = stateful_settings
TestRedisCacheAgainstDict = RedisCacheModel.TestCase
TestRedisCacheAgainstDict.settings = stateful_settings
