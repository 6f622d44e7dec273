"""Test isolation the way a downstream application does it.

This module uses nothing but its own container: ``config.from_dict`` to point the caches
at the test's directory, ``reset_singletons()`` after each test, and provider overrides.
It replaces the plugin's autouse reset fixture with a no-op to show that the container
alone isolates the tests (no monkeypatching, no engine internals).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from containers import ApplicationContainer
from glovebox.core.cache_v2 import CacheManager, DisabledCache

container = ApplicationContainer()
_seen: list[CacheManager] = []

LAYOUT = {"layers": [["&kp A"]]}


@pytest.fixture
def reset_shared_cache() -> None:
    """Shadows the plugin's autouse fixture: isolation here comes from the container."""


@pytest.fixture(autouse=True)
def app(tmp_path: Path) -> Iterator[ApplicationContainer]:
    container.config.from_dict({"cache_path": str(tmp_path / "cache")})
    yield container
    container.reset_singletons()


def test_first_test_stores_an_entry(app: ApplicationContainer) -> None:
    cache = app.layout_cache()
    cache.set("entry", "from the first test")
    assert cache.get("entry") == "from the first test"
    _seen.append(cache)


def test_next_test_starts_clean(app: ApplicationContainer, tmp_path: Path) -> None:
    cache = app.layout_cache()
    assert cache.get("entry") is None
    assert cache.get_stats().directory == tmp_path / "cache" / "layout"
    assert all(cache is not previous for previous in _seen)


def test_override_with_disabled_cache(app: ApplicationContainer) -> None:
    with app.layout_cache.override(DisabledCache("layout")):
        service = app.layout_service()
        assert not service.process(LAYOUT).from_cache
        assert not service.process(LAYOUT).from_cache


def test_real_cache_is_back_after_the_override(app: ApplicationContainer) -> None:
    service = app.layout_service()
    assert not service.process(LAYOUT).from_cache
    assert service.process(LAYOUT).from_cache
