"""Overriding a cache provider reaches every @inject consumer; resetting restores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from containers import ApplicationContainer
from containers.cli import attach
from glovebox.api import process_layout_file
from glovebox.core.cache_v2 import DisabledCache, DiskCacheManager, MemoryCache
from tests.helpers import invoke
from tests.layout_helpers import write_layout

LAYOUT = {"keyboard": "glove80", "title": "t", "layers": [["&kp A", "&kp B"]]}


@pytest.fixture
def layout_file(tmp_path: Path) -> Path:
    return write_layout(tmp_path / "layout.json", LAYOUT)


def test_override_reaches_an_injected_function(
    container: ApplicationContainer, layout_file: Path
) -> None:
    container.layout_cache.override(DisabledCache("layout"))
    try:
        assert not process_layout_file(layout_file).from_cache
        assert not process_layout_file(layout_file).from_cache  # nothing was stored
        assert isinstance(container.layout_service().cache, DisabledCache)
    finally:
        container.layout_cache.reset_last_overriding()
    assert not process_layout_file(layout_file).from_cache
    assert process_layout_file(layout_file).from_cache


def test_context_manager_override_is_undone_on_exit(container: ApplicationContainer) -> None:
    real = container.layout_cache()
    replacement = MemoryCache("layout")
    with container.layout_cache.override(replacement):
        assert container.layout_cache() is replacement
        assert container.domain_caches().get("layout") is replacement
    assert container.layout_cache() is real


def test_reset_override_restores_the_same_real_instance(container: ApplicationContainer) -> None:
    real = container.layout_cache()
    real.set("kept", "yes")
    container.layout_cache.override(DisabledCache("layout"))
    container.layout_cache.override(MemoryCache("layout"))
    container.layout_cache.reset_last_overriding()
    assert isinstance(container.layout_cache(), DisabledCache)
    container.layout_cache.reset_override()
    assert container.layout_cache() is real
    assert isinstance(real, DiskCacheManager)
    assert not real.closed
    assert real.get("kept") == "yes"


def test_override_reaches_the_cli(container: ApplicationContainer) -> None:
    hook = attach(container)
    stored = invoke("cache", "set", "k", "v", "--tag", "layout", obj=hook)
    assert stored.exit_code == 0, stored.stderr
    with container.layout_cache.override(DisabledCache("layout")):
        miss = invoke("cache", "get", "k", "--tag", "layout", obj=hook)
        assert miss.exit_code == 1
    hit = invoke("cache", "get", "k", "--tag", "layout", obj=hook)
    assert hit.exit_code == 0
    assert hit.stdout.strip() == "v"


def test_overriding_the_service_replaces_it_for_injected_callers(
    container: ApplicationContainer, layout_file: Path
) -> None:
    from glovebox.layout import LayoutService

    memory_service = LayoutService(MemoryCache("layout"))
    with container.layout_service.override(memory_service):
        process_layout_file(layout_file)
        assert len(memory_service.cache.keys()) == 1
    assert container.layout_cache().keys() == []
