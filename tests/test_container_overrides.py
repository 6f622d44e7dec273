"""Overriding a cache provider reaches every @inject consumer; resetting restores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from containers import ApplicationContainer
from containers.cli import attach
from glovebox.api import process_layout_file
from glovebox.core.cache_v2 import DisabledCache, DiskCacheManager, MemoryCache
from tests.helpers import REPO_ROOT, invoke
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


def test_an_override_reaches_the_commands_that_otherwise_start_without_the_container(
    container: ApplicationContainer, tmp_path: Path
) -> None:
    # Started by the script, `layout compile` opens the layout cache itself
    # (glovebox.cli.runtime); through attach() it takes the container's, overrides applied.
    from glovebox.layout import LayoutService

    layout = tmp_path / "mine.json"
    layout.write_bytes((REPO_ROOT / "docs/examples/glove80-example.json").read_bytes())
    memory_service = LayoutService(MemoryCache("layout"))
    hook = attach(container)
    with container.layout_service.override(memory_service):
        compiled = invoke("layout", "compile", str(layout), str(tmp_path / "out"), obj=hook)
        assert compiled.exit_code == 0, compiled.stderr
        assert compiled.stdout.strip().endswith("(compiled)")
        assert memory_service.cache.keys() != []  # the result went to the override
    assert container.layout_cache().keys() == []
