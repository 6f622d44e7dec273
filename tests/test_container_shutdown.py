"""Shutting a bootstrapped container down leaves no open SQLite connection behind."""

from __future__ import annotations

import gc
import os
import warnings
from pathlib import Path

import pytest

from containers import bootstrap, shutdown
from glovebox.api import process_layout_file
from glovebox.core.cache_v2 import DiskCacheManager, get_cache_instance_count
from glovebox.testing import IsolatedConfig


def open_files_under(root: Path) -> list[str]:
    """Paths below ``root`` this process holds open, read from /proc/self/fd."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the fd used to list the directory is already gone
        if target.startswith(str(root.resolve())):
            found.append(target)
    return found


def use_every_cache(root_tags: tuple[str, ...]) -> tuple[object, Path]:
    app = bootstrap()
    for tag in root_tags:
        cache = getattr(app, f"{tag}_cache")()
        cache.set("k", tag)
        assert cache.get("k") == tag
    app.domain_caches().get("extra").set("k", "extra")
    return app, app.user_config().cache_path


TAGS = ("compilation", "layout", "metrics", "moergo", "default")


def test_open_databases_are_visible_before_shutdown(isolated_config: IsolatedConfig) -> None:
    app, root = use_every_cache(TAGS)
    try:
        assert any(path.endswith("cache.db") for path in open_files_under(root))
    finally:
        shutdown(app)  # type: ignore[arg-type]


def test_shutdown_closes_every_cache_it_opened(isolated_config: IsolatedConfig) -> None:
    app, root = use_every_cache(TAGS)
    caches = [getattr(app, f"{tag}_cache")() for tag in TAGS]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        shutdown(app)  # type: ignore[arg-type]
        gc.collect()
    assert open_files_under(root) == []
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert get_cache_instance_count() == 0
    assert all(isinstance(cache, DiskCacheManager) and cache.closed for cache in caches)


def test_shutdown_is_idempotent_and_unwires(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    layout = tmp_path / "layout.json"
    layout.write_text('{"layers": [["&kp A"]]}', encoding="utf-8")
    app = bootstrap()
    assert process_layout_file(layout).layout.key_count == 1
    shutdown(app)
    shutdown(app)
    assert get_cache_instance_count() == 0
    # Unwired: the function no longer receives services from the container.
    with pytest.raises(AttributeError, match="Provide"):
        process_layout_file(layout)
