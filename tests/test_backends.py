"""The backend table: every cache is opened through it, and a new backend is one entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from glovebox.core.cache_v2 import (
    BACKENDS,
    CacheManager,
    CacheSettings,
    DiskCacheManager,
    MemoryCache,
    Strategy,
    create_cache_from_user_config,
    get_shared_cache_instance,
    open_backend,
    register_backend,
)
from glovebox.core.cache_v2.backends import STRATEGY_BACKENDS, backend_for_strategy
from glovebox.errors import ConfigError


def test_disk_and_memory_are_registered() -> None:
    assert {"disk", "memory"} <= set(BACKENDS)


def test_open_backend_opens_the_named_backend(tmp_path: Path) -> None:
    disk = open_backend(tmp_path, "a", CacheSettings())
    memory = open_backend(tmp_path, "b", CacheSettings(backend="memory", default_ttl=5))
    try:
        assert isinstance(disk, DiskCacheManager)
        assert disk.directory == tmp_path / "a"
        assert isinstance(memory, MemoryCache)
        assert memory.tag == "b"
        assert not (tmp_path / "b").exists()  # memory touches no disk
    finally:
        disk.close()


def test_unknown_backend_names_it_and_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        open_backend(tmp_path, "layout", CacheSettings(backend="carrier-pigeon"))
    message = str(info.value)
    assert "'carrier-pigeon'" in message
    assert "'layout'" in message
    assert "known backends: disk, memory" in message
    with pytest.raises(ConfigError, match="carrier-pigeon"):
        get_shared_cache_instance(tmp_path, "layout", backend="carrier-pigeon")


def test_a_registered_backend_serves_the_coordinator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Path, str, CacheSettings]] = []

    def open_custom(root: Path, name: str, settings: CacheSettings) -> CacheManager:
        seen.append((root, name, settings))
        return MemoryCache(name)

    monkeypatch.setitem(BACKENDS, "custom", open_custom)  # restored after the test
    register_backend("custom", open_custom)
    first = get_shared_cache_instance(tmp_path, "extra", backend="custom", timeout=3)
    second = get_shared_cache_instance(tmp_path, "extra", backend="custom", timeout=3)
    assert first is second
    assert seen == [(tmp_path.resolve(), "extra", CacheSettings(backend="custom", timeout=3))]


def test_register_backend_refuses_empty_names() -> None:
    with pytest.raises(ValueError, match="backend name"):
        register_backend("", lambda root, name, settings: MemoryCache(name))


def test_strategies_map_to_registered_backends() -> None:
    assert backend_for_strategy(Strategy.ENABLED) == "disk"
    assert backend_for_strategy(Strategy.MEMORY) == "memory"
    assert set(STRATEGY_BACKENDS.values()) <= set(BACKENDS)
    with pytest.raises(ValueError, match="disabled"):
        backend_for_strategy(Strategy.DISABLED)


def test_user_config_strategy_selects_the_backend_through_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_memory = BACKENDS["memory"]

    def spy(root: Path, name: str, settings: CacheSettings) -> CacheManager:
        opened.append(settings.backend)
        return real_memory(root, name, settings)

    monkeypatch.setitem(BACKENDS, "memory", spy)
    monkeypatch.setenv("GLOVEBOX_CACHE_METRICS", "memory")
    config = type("Config", (), {"cache_path": tmp_path})()
    cache = create_cache_from_user_config(config, "metrics")
    assert isinstance(cache, MemoryCache)
    assert opened == ["memory"]
