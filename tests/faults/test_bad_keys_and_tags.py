"""Keys and tags a caller might pass by mistake are normalised or refused up front."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import pytest

from glovebox.core.cache_v2 import (
    CacheManager,
    DisabledCache,
    DiskCacheManager,
    MemoryCache,
    create_default_cache,
)
from glovebox.core.cache_v2.policy import env_var_for_tag, validate_tag


class Slot(StrEnum):
    LAYOUT = "layout-key"


@pytest.fixture(params=["disk", "memory"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CacheManager]:
    instance: CacheManager
    if request.param == "disk":
        instance = DiskCacheManager(tmp_path / "keys", tag="keys")
    else:
        instance = MemoryCache("keys")
    yield instance
    instance.close()


def test_str_enum_key_and_equal_str_are_one_entry(cache: CacheManager) -> None:
    cache.set(Slot.LAYOUT, "by enum")
    assert cache.get("layout-key") == "by enum"
    cache.set("layout-key", "by str")
    assert cache.get(Slot.LAYOUT) == "by str"
    assert cache.keys() == ["layout-key"]
    assert all(type(key) is str for key in cache.keys())


def test_str_enum_key_reaches_every_operation(cache: CacheManager) -> None:
    cache.set_many({Slot.LAYOUT: 1})
    assert cache.exists("layout-key")
    assert cache.get_many([Slot.LAYOUT]) == {Slot.LAYOUT: 1}
    metadata = cache.get_metadata(Slot.LAYOUT)
    assert metadata is not None
    assert type(metadata.key) is str
    assert cache.touch(Slot.LAYOUT, ttl=60)
    assert cache.delete(Slot.LAYOUT)
    assert not cache.exists("layout-key")


def test_str_enum_key_hits_in_a_new_process_view(tmp_path: Path) -> None:
    """What one handle stores under an enum, another handle on the same files finds by str."""
    first = DiskCacheManager(tmp_path / "shared", tag="shared")
    first.set(Slot.LAYOUT, "value")
    first.close()
    second = DiskCacheManager(tmp_path / "shared", tag="shared")
    try:
        assert second.get("layout-key") == "value"
        assert second.keys() == ["layout-key"]
    finally:
        second.close()


@pytest.mark.parametrize("key", ["\ud800", "ok-prefix-\udfff", "\udc80tail"])
def test_lone_surrogate_key_is_refused_as_bad_input(cache: CacheManager, key: str) -> None:
    for operation in (
        lambda: cache.set(key, 1),
        lambda: cache.get(key),
        lambda: cache.exists(key),
        lambda: cache.delete(key),
        lambda: cache.get_metadata(key),
        lambda: cache.set_many({key: 1}),
        lambda: cache.touch(key),
    ):
        with pytest.raises(ValueError, match=r"cache key .*UTF-8"):
            operation()
    assert cache.get_stats().errors == 0


def test_lone_surrogate_key_is_refused_by_the_disabled_cache() -> None:
    with pytest.raises(ValueError, match=r"cache key .*UTF-8"):
        DisabledCache("keys").set("\ud800", 1)


def test_non_ascii_keys_that_encode_are_accepted(cache: CacheManager) -> None:
    for key in ("clé", "鍵", "emoji-\U0001f600", "zero\u200bwidth"):
        cache.set(key, key)
        assert cache.get(key) == key


@pytest.mark.parametrize("tag", ["global", "GLOBAL", "Global", "gLoBaL"])
def test_global_is_reserved_in_any_case(tag: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        validate_tag(tag)
    with pytest.raises(ValueError, match="reserved"):
        env_var_for_tag(tag)
    with pytest.raises(ValueError, match="reserved"):
        create_default_cache(tag=tag)


def test_invalid_tag_message_quotes_at_most_80_characters() -> None:
    with pytest.raises(ValueError, match="invalid cache tag") as caught:
        validate_tag("/" * 5000)
    message = str(caught.value)
    assert "..." in message
    assert len(message) < 300
