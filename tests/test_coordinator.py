"""Registry and identity semantics of the shared cache coordinator and its factories."""

from __future__ import annotations

import builtins
import logging
import os
import stat
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from glovebox.core.cache_v2 import (
    BACKENDS,
    CacheManager,
    CacheSettings,
    DisabledCache,
    DiskCacheManager,
    MemoryCache,
    cleanup_shared_cache_instances,
    create_cache_from_user_config,
    create_default_cache,
    create_diskcache_manager,
    evict_shared_cache_instance,
    get_cache_instance_count,
    get_cache_instance_keys,
    get_shared_cache_instance,
    reset_shared_cache_instances,
)
from glovebox.errors import ConfigError
from glovebox.testing import IsolatedConfig
from glovebox.testing.contract import FakeClock
from tests.helpers import run_threads

COORDINATION_LOGGER = "glovebox.core.cache_v2"


def test_same_tag_returns_the_same_instance() -> None:
    assert create_default_cache(tag="compilation") is create_default_cache(tag="compilation")


def test_different_tags_get_different_instances_and_directories(
    isolated_config: IsolatedConfig,
) -> None:
    caches = {tag: create_default_cache(tag=tag) for tag in ("compilation", "metrics", "layout")}
    assert len({id(cache) for cache in caches.values()}) == 3
    caches["compilation"].set("shared-key", "compilation")
    caches["metrics"].set("shared-key", "metrics")
    assert caches["compilation"].get("shared-key") == "compilation"
    assert caches["layout"].get("shared-key") is None
    root = isolated_config.cache_path
    for tag in caches:
        assert (root / tag / "cache.db").is_file()


def test_registry_keys_are_resolved_root_and_tag(tmp_path: Path) -> None:
    root = tmp_path / "a" / ".." / "root"
    get_shared_cache_instance(root, "layout")
    get_shared_cache_instance(root)
    resolved = (tmp_path / "root").resolve()
    assert get_cache_instance_keys() == [f"{resolved}:default", f"{resolved}:layout"]
    assert get_cache_instance_count() == 2
    assert (resolved / "default" / "cache.db").is_file()


def test_two_spellings_of_one_root_share_an_instance(tmp_path: Path) -> None:
    first = get_shared_cache_instance(tmp_path / "root", "x")
    second = get_shared_cache_instance(str(tmp_path / "sub" / ".." / "root"), "x")
    assert first is second
    assert get_cache_instance_count() == 1


def test_directories_are_private(tmp_path: Path) -> None:
    root = tmp_path / "fresh-root"
    get_shared_cache_instance(root, "layout")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "layout").stat().st_mode) == 0o700


def test_creation_is_thread_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_open = BACKENDS["disk"]

    def slow_open(root: Path, name: str, settings: CacheSettings) -> CacheManager:
        opened.append(name)
        time.sleep(0.05)  # every thread arrives while the first is still creating
        return real_open(root, name, settings)

    monkeypatch.setitem(BACKENDS, "disk", slow_open)
    barrier = threading.Barrier(16)
    results: list[CacheManager] = []

    def worker() -> None:
        barrier.wait()
        results.append(get_shared_cache_instance(tmp_path, "contended"))

    run_threads(worker, count=16)
    assert opened == ["contended"]
    assert len(results) == 16
    assert all(result is results[0] for result in results)
    assert get_cache_instance_count() == 1


def _fork_and_run(child: Any) -> int:
    """Run ``child()`` in a forked process; return its exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = child()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_gets_its_own_instance_and_its_writes_are_visible(
    isolated_config: IsolatedConfig,
) -> None:
    parent_cache = create_default_cache(tag="forky")
    assert isinstance(parent_cache, DiskCacheManager)
    parent_cache.set("from-parent", 1)
    parent_connection = parent_cache._cache._con

    def child() -> int:
        cache = create_default_cache(tag="forky")
        if cache is parent_cache:
            return 10
        if not isinstance(cache, DiskCacheManager) or cache._cache._con is parent_connection:
            return 11
        if cache.get("from-parent") != 1:
            return 12
        cache.set("from-child", os.getpid())
        return 0

    assert _fork_and_run(child) == 0
    assert isinstance(parent_cache.get("from-child"), int)
    assert parent_cache._cache._con is parent_connection
    parent_cache.set("after-child", 2)
    assert parent_cache.get("after-child") == 2


def test_a_manager_inherited_across_fork_reopens_its_connection(tmp_path: Path) -> None:
    cache = DiskCacheManager(tmp_path / "inherited", tag="inherited")
    cache.set("k", "parent")
    parent_connection = cache._cache._con

    def child() -> int:
        cache.set("k", "child")
        return 0 if cache._cache._con is not parent_connection else 13

    assert _fork_and_run(child) == 0
    assert cache.get("k") == "child"
    cache.close()


def test_debug_log_lines_name_root_and_tag(
    isolated_config: IsolatedConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=COORDINATION_LOGGER):
        create_default_cache(tag="compilation")
        create_default_cache(tag="compilation")
    root = isolated_config.cache_path.resolve()
    messages = [r.getMessage() for r in caplog.records if r.name == COORDINATION_LOGGER]
    assert messages == [
        f"Creating new shared cache instance: {root}:compilation",
        f"Reusing existing shared cache instance: {root}:compilation",
    ]


def test_conflicting_settings_warn_and_return_the_existing_instance(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = get_shared_cache_instance(tmp_path, "layout", max_size_gb=2, timeout=30)
    with caplog.at_level(logging.WARNING, logger=COORDINATION_LOGGER):
        second = get_shared_cache_instance(tmp_path, "layout", max_size_gb=5, timeout=10)
    assert second is first
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert f"{tmp_path.resolve()}:layout" in message
    assert "max_size_gb=2 timeout=30" in message
    assert "max_size_gb=5 timeout=10" in message


def test_reset_closes_instances_but_keeps_data(isolated_config: IsolatedConfig) -> None:
    cache = create_default_cache(tag="precious")
    assert isinstance(cache, DiskCacheManager)
    cache.set("firmware", b"\x00" * 10)
    reset_shared_cache_instances()
    assert cache.closed
    assert get_cache_instance_count() == 0
    assert (isolated_config.cache_path / "precious" / "cache.db").is_file()
    fresh = create_default_cache(tag="precious")
    assert fresh is not cache
    assert fresh.get("firmware") == b"\x00" * 10


def test_evict_closes_one_instance_and_the_next_request_opens_a_new_one(tmp_path: Path) -> None:
    layout = get_shared_cache_instance(tmp_path, "layout")
    metrics = get_shared_cache_instance(tmp_path, "metrics")
    assert evict_shared_cache_instance(layout) is True
    assert evict_shared_cache_instance(layout) is False
    assert get_cache_instance_keys() == [f"{tmp_path.resolve()}:metrics"]
    again = get_shared_cache_instance(tmp_path, "layout")
    assert again is not layout
    again.set("k", 1)
    assert get_shared_cache_instance(tmp_path, "metrics") is metrics


def test_xdg_cache_home_moves_the_default_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "custom"))
    cache = create_default_cache(tag="layout")
    assert isinstance(cache, DiskCacheManager)
    assert cache.directory == (tmp_path / "custom" / "glovebox" / "layout").resolve()


def test_global_switch_disables_every_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_GLOBAL", "disabled")
    assert isinstance(create_default_cache(), DisabledCache)
    assert isinstance(create_default_cache(tag="compilation"), DisabledCache)
    assert get_cache_instance_count() == 0


def test_domain_switch_disables_only_that_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_COMPILATION", "disabled")
    assert isinstance(create_default_cache(tag="compilation"), DisabledCache)
    assert isinstance(create_default_cache(tag="layout"), DiskCacheManager)


def test_domain_variable_can_select_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_METRICS", "memory")
    cache = create_default_cache(tag="metrics")
    assert isinstance(cache, MemoryCache)
    assert cache is create_default_cache(tag="metrics")


def test_environment_is_honoured_on_every_warm_call(monkeypatch: pytest.MonkeyPatch) -> None:
    warm = create_default_cache(tag="layout")
    monkeypatch.setenv("GLOVEBOX_CACHE_GLOBAL", "disabled")
    assert isinstance(create_default_cache(tag="layout"), DisabledCache)
    monkeypatch.delenv("GLOVEBOX_CACHE_GLOBAL")
    assert create_default_cache(tag="layout") is warm


def test_unknown_environment_word_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_GLOBAL", "nope")
    with pytest.raises(ConfigError, match=r"GLOVEBOX_CACHE_GLOBAL.*'nope'.*disabled"):
        create_default_cache(tag="layout")


def test_invalid_tag_cannot_escape_the_root(tmp_path: Path) -> None:
    for tag in ("../outside", "a/b", "..", ""):
        with pytest.raises(ValueError, match="invalid cache tag"):
            get_shared_cache_instance(tmp_path / "root", tag)
        with pytest.raises(ValueError, match="invalid cache tag"):
            create_default_cache(tag)
    assert not (tmp_path / "outside").exists()


class _FilesystemTripwire:
    """Fails loudly if any filesystem call happens while armed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.armed = False
        for module, names in (
            (os, ["stat", "lstat", "mkdir", "makedirs", "access", "listdir", "scandir", "open"]),
            (os.path, ["realpath", "exists", "isdir", "isfile"]),
            (builtins, ["open"]),
        ):
            for name in names:
                monkeypatch.setattr(module, name, self._wrap(name, getattr(module, name)))
        monkeypatch.setattr(Path, "resolve", self._wrap("Path.resolve", Path.resolve))

    def _wrap(self, name: str, real: Any) -> Any:
        def tripwire(*args: Any, **kwargs: Any) -> Any:
            if self.armed:
                self.calls.append(name)
            return real(*args, **kwargs)

        return tripwire


def test_warm_path_makes_no_filesystem_call(monkeypatch: pytest.MonkeyPatch) -> None:
    warm = create_default_cache(tag="layout")
    default = create_default_cache()
    tripwire = _FilesystemTripwire(monkeypatch)
    tripwire.armed = True
    for _ in range(3):
        assert create_default_cache(tag="layout") is warm
        assert create_default_cache() is default
    tripwire.armed = False
    assert tripwire.calls == []


def test_the_tripwire_notices_a_cold_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    tripwire = _FilesystemTripwire(monkeypatch)
    tripwire.armed = True
    create_default_cache(tag="cold")
    tripwire.armed = False
    assert tripwire.calls


def test_a_corrupt_database_is_moved_aside_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "layout"
    directory.mkdir(mode=0o700)
    (directory / "cache.db").write_bytes(b"this is not sqlite" * 100)
    with caplog.at_level(logging.WARNING):
        cache = get_shared_cache_instance(tmp_path, "layout")
    assert isinstance(cache, DiskCacheManager)
    cache.set("k", 1)
    assert cache.get("k") == 1
    (aside,) = tmp_path.glob("layout.corrupt-*")
    assert (aside / "cache.db").read_bytes() == b"this is not sqlite" * 100
    assert "not a usable database" in caplog.text
    assert str(aside) in caplog.text


def test_an_unwritable_root_gives_a_disabled_cache_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        cache = get_shared_cache_instance(blocker / "root", "layout")
    assert isinstance(cache, DisabledCache)
    assert "cannot create cache directory" in caplog.text
    assert "'layout' disabled" in caplog.text
    cache.set("k", 1)  # still usable, stores nothing


def test_a_world_writable_root_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "shared-root"
    root.mkdir()
    root.chmod(0o777)
    with caplog.at_level(logging.WARNING):
        cache = get_shared_cache_instance(root, "layout")
    assert isinstance(cache, DisabledCache)
    assert f"chmod go-w {root.resolve()}" in caplog.text
    assert not (root / "layout").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")
def test_a_root_owned_by_another_user_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "foreign-root"
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)
    with caplog.at_level(logging.WARNING):
        cache = get_shared_cache_instance(root, "layout")
    assert isinstance(cache, DisabledCache)
    assert "owned by uid 65534" in caplog.text


def test_disabled_flag_gives_disabled_cache_without_registering(tmp_path: Path) -> None:
    cache = get_shared_cache_instance(tmp_path, "layout", enabled=False)
    assert isinstance(cache, DisabledCache)
    assert get_cache_instance_count() == 0
    assert not (tmp_path / "layout").exists()


def test_create_cache_from_user_config_reads_path_and_strategy(tmp_path: Path) -> None:
    config = SimpleNamespace(cache_path=tmp_path / "from-config", cache_strategy="enabled")
    cache = create_cache_from_user_config(config, tag="layout")
    assert isinstance(cache, DiskCacheManager)
    assert cache.directory == (tmp_path / "from-config" / "layout").resolve()
    assert cache is create_cache_from_user_config(config, tag="layout")
    config.cache_strategy = "disabled"
    assert isinstance(create_cache_from_user_config(config, tag="layout"), DisabledCache)


def test_create_cache_from_user_config_uses_domain_settings(tmp_path: Path) -> None:
    config = SimpleNamespace(
        cache_path=tmp_path,
        cache_strategy="enabled",
        cache=SimpleNamespace(
            max_size_gb=1,
            timeout=5,
            domains={
                "metrics": SimpleNamespace(strategy="memory", default_ttl=60),
                "moergo": SimpleNamespace(strategy="disabled"),
                "layout": SimpleNamespace(strategy=None, max_size_gb=3, default_ttl=None),
            },
        ),
    )
    assert isinstance(create_cache_from_user_config(config, "metrics"), MemoryCache)
    assert isinstance(create_cache_from_user_config(config, "moergo"), DisabledCache)
    layout = create_cache_from_user_config(config, "layout")
    assert isinstance(layout, DiskCacheManager)
    assert layout._size_limit == 3 * 1024**3
    assert layout.settings == CacheSettings(max_size_gb=3, timeout=5)


def test_create_cache_from_user_config_rejects_bad_strategy(tmp_path: Path) -> None:
    config = SimpleNamespace(cache_path=tmp_path, cache_strategy="sometimes")
    with pytest.raises(ConfigError, match=r"cache_strategy.*'sometimes'"):
        create_cache_from_user_config(config, "layout")


def test_create_cache_from_user_config_without_attributes_uses_defaults(
    isolated_config: IsolatedConfig,
) -> None:
    cache = create_cache_from_user_config(object(), tag="layout")
    assert cache is create_default_cache(tag="layout")


def test_cleanup_shared_cache_instances_reports_per_instance(
    tmp_path: Path, clock: FakeClock
) -> None:
    layout = get_shared_cache_instance(tmp_path, "layout")
    metrics = get_shared_cache_instance(tmp_path, "metrics")
    layout.set_many({"a": 1, "b": 2}, ttl=1)
    metrics.set("c", 3)
    clock.advance(5)
    root = tmp_path.resolve()
    assert cleanup_shared_cache_instances() == {f"{root}:layout": 2, f"{root}:metrics": 0}


def test_create_diskcache_manager_is_private(tmp_path: Path) -> None:
    cache = create_diskcache_manager(tmp_path, "tool")
    assert isinstance(cache, DiskCacheManager)
    assert get_cache_instance_count() == 0
    assert get_shared_cache_instance(tmp_path, "tool") is not cache
    cache.close()


def test_warm_path_follows_changes_of_every_variable_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "one"))
    first = create_default_cache(tag="layout")
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "off")
    assert isinstance(create_default_cache(tag="layout"), DisabledCache)
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "memory")
    with caplog.at_level(logging.WARNING, logger=COORDINATION_LOGGER):
        # an instance exists for this key: it is kept, and the mismatch is reported
        assert create_default_cache(tag="layout") is first
    assert "backend=disk" in caplog.text
    assert "backend=memory" in caplog.text
    assert isinstance(create_default_cache(tag="metrics"), DiskCacheManager)
    monkeypatch.setenv("GLOVEBOX_CACHE_METRICS", "memory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other"))
    assert isinstance(create_default_cache(tag="metrics"), MemoryCache)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "one"))
    monkeypatch.delenv("GLOVEBOX_CACHE_LAYOUT")
    assert create_default_cache(tag="layout") is first
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "two"))
    moved = create_default_cache(tag="layout")
    assert isinstance(moved, DiskCacheManager)
    assert moved.directory == (tmp_path / "two" / "glovebox" / "layout").resolve()
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "bogus")
    for _ in range(2):  # an invalid word is never remembered as a decision
        with pytest.raises(ConfigError, match="GLOVEBOX_CACHE_LAYOUT"):
            create_default_cache(tag="layout")
