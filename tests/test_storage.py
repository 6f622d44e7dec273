"""The disk layout of a cache root: which directories are caches."""

from __future__ import annotations

from pathlib import Path

from glovebox.cli.cache import known_tags
from glovebox.core.cache_v2 import (
    CACHE_DB_NAME,
    disk_usage,
    disk_usage_with_part,
    get_shared_cache_instance,
    list_tags,
)


def test_list_tags_finds_directories_holding_a_cache_database(tmp_path: Path) -> None:
    get_shared_cache_instance(tmp_path, "layout")
    get_shared_cache_instance(tmp_path, "zmk-v2")
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "stray-file").write_text("not a cache")
    aside = tmp_path / "metrics.corrupt-20260101T000000-42"
    aside.mkdir()
    (aside / CACHE_DB_NAME).write_bytes(b"garbage")
    assert list_tags(tmp_path) == ["layout", "zmk-v2"]


def test_list_tags_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert list_tags(tmp_path / "missing") == []


def test_known_tags_are_the_standard_domains_plus_what_is_on_disk(tmp_path: Path) -> None:
    get_shared_cache_instance(tmp_path, "firmware")
    assert known_tags(tmp_path) == [
        "compilation",
        "default",
        "firmware",
        "layout",
        "metrics",
        "moergo",
    ]


def test_disk_usage_with_part_counts_the_part_within_the_same_walk(tmp_path: Path) -> None:
    domain = tmp_path / "compilation"
    (domain / "workspace" / "entry").mkdir(parents=True)
    (domain / "cache.db").write_bytes(b"x" * 20_000)
    (domain / "workspace" / "entry" / "a").write_bytes(b"y" * 50_000)
    (domain / "workspace" / "entry" / "b").write_bytes(b"z" * 9_000)
    total, part = disk_usage_with_part(domain, domain / "workspace")
    assert total == disk_usage(domain)
    assert part == disk_usage(domain / "workspace")
    assert 0 < part < total
    assert disk_usage_with_part(domain, domain / "absent") == (total, 0)
