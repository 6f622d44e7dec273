"""LayoutService: processed layouts cached by content hash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from glovebox.core.cache_v2 import DisabledCache, create_diskcache_manager
from glovebox.layout import LayoutError, LayoutService, layout_hash

LAYOUT = {
    "keyboard": "glove80",
    "title": "Demo",
    "layer_names": ["Base", "Lower"],
    "layers": [
        ["&kp Q", "&kp W", {"value": "&mo", "params": [{"value": 1}]}],
        ["&trans", "&kp N1", "&trans"],
    ],
}


def test_processing_extracts_the_layout(tmp_path: Path) -> None:
    with create_diskcache_manager(tmp_path, "layout") as cache:
        result = LayoutService(cache).process(LAYOUT)
    layout = result.layout
    assert not result.from_cache
    assert layout.keyboard == "glove80"
    assert layout.layer_names == ("Base", "Lower")
    assert layout.keys_per_layer == (3, 3)
    assert layout.key_count == 6
    assert layout.behaviors == (("&kp", 3), ("&trans", 2), ("&mo", 1))
    assert layout.content_hash == layout_hash(LAYOUT)


def test_same_content_is_a_hit_across_cache_handles(tmp_path: Path) -> None:
    with create_diskcache_manager(tmp_path, "layout") as cache:
        first = LayoutService(cache).process(LAYOUT)
    with create_diskcache_manager(tmp_path, "layout") as cache:
        again = LayoutService(cache).process(json.loads(json.dumps(LAYOUT, indent=4)))
    assert not first.from_cache
    assert again.from_cache
    assert again.layout == first.layout


def test_key_order_does_not_matter_but_content_does(tmp_path: Path) -> None:
    reordered = dict(reversed(list(LAYOUT.items())))
    changed = {**LAYOUT, "layers": [["&kp Z"]], "layer_names": ["Only"]}
    assert layout_hash(reordered) == layout_hash(LAYOUT)
    assert layout_hash(changed) != layout_hash(LAYOUT)
    with create_diskcache_manager(tmp_path, "layout") as cache:
        service = LayoutService(cache)
        service.process(LAYOUT)
        assert service.process(reordered).from_cache
        assert not service.process(changed).from_cache


def test_process_file_and_its_errors(tmp_path: Path) -> None:
    good = write_layout(tmp_path / "good.json", LAYOUT)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"layers": [\n  oops]}', encoding="utf-8")
    service = LayoutService(DisabledCache("layout"))
    assert service.process_file(good).layout.title == "Demo"
    with pytest.raises(LayoutError, match=rf"{bad_json}:2:3: invalid JSON"):
        service.process_file(bad_json)
    with pytest.raises(LayoutError, match="not found"):
        service.process_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"layers": "nope"}, "'layers' must be a list of lists"),
        ({"layers": [["&kp A"]], "layer_names": ["a", "b"]}, "one name per layer"),
        ({"layers": [[42]]}, r"layers\[0\]\[0\]"),
    ],
)
def test_invalid_layouts_are_refused_with_the_place(
    document: dict[str, object], message: str
) -> None:
    with pytest.raises(LayoutError, match=message):
        LayoutService(DisabledCache("layout")).process(document, source="x.json")


def test_disabled_cache_processes_every_time() -> None:
    service = LayoutService(DisabledCache("layout"))
    assert not service.process(LAYOUT).from_cache
    assert not service.process(LAYOUT).from_cache


# Compile: the cached path

import glovebox.layout.service as layout_service  # noqa: E402
from glovebox.layout import compile_layout  # noqa: E402
from tests.layout_helpers import binding, make_layout, write_layout  # noqa: E402


def test_compile_miss_then_hit_across_cache_handles(tmp_path: Path) -> None:
    document = make_layout()
    with create_diskcache_manager(tmp_path, "layout") as cache:
        first = LayoutService(cache).compile(document)
    with create_diskcache_manager(tmp_path, "layout") as cache:
        again = LayoutService(cache).compile(document)
    assert (first.from_cache, again.from_cache) == (False, True)
    assert (again.keymap, again.conf, again.content_hash) == (
        first.keymap,
        first.conf,
        first.content_hash,
    )


def test_compile_key_ignores_key_order_and_whitespace_not_bindings(tmp_path: Path) -> None:
    document = make_layout()
    path = write_layout(tmp_path / "a.json", document)
    reformatted = tmp_path / "b.json"
    reformatted.write_text(json.dumps(dict(reversed(document.items())), indent=7), "utf-8")
    changed = make_layout()
    changed["layers"][1][9] = binding("&kp", "B")
    with create_diskcache_manager(tmp_path / "cache", "layout") as cache:
        service = LayoutService(cache)
        stored = service.compile(path)
        hit = service.compile(reformatted)
        miss = service.compile(changed)
    assert not stored.from_cache
    assert hit.from_cache
    assert hit.content_hash == stored.content_hash
    assert not miss.from_cache
    assert miss.content_hash != stored.content_hash
    assert "&kp B" in miss.keymap


def test_compile_key_includes_the_generator_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with create_diskcache_manager(tmp_path, "layout") as cache:
        service = LayoutService(cache)
        service.compile(make_layout())
        monkeypatch.setattr(
            layout_service, "GENERATOR_VERSION", layout_service.GENERATOR_VERSION + 1
        )
        assert not service.compile(make_layout()).from_cache
        assert service.compile(make_layout()).from_cache


def test_compile_without_cache_reads_and_writes_nothing(tmp_path: Path) -> None:
    path = write_layout(tmp_path / "layout.json")
    with create_diskcache_manager(tmp_path / "cache", "layout") as cache:
        LayoutService(cache).compile(path)
        assert cache.keys()
        cache.clear()
        assert not LayoutService(cache).compile(path, use_cache=False).from_cache
        assert cache.keys() == []
        assert not compile_layout(path).from_cache
        assert compile_layout(path, cache=cache).from_cache is False
        assert compile_layout(path, cache=cache).from_cache is True


def test_compile_with_a_disabled_cache_works_every_time() -> None:
    service = LayoutService(DisabledCache("layout"))
    assert not service.compile(make_layout()).from_cache
    assert not service.compile(make_layout()).from_cache


def test_a_damaged_cache_entry_is_recompiled(tmp_path: Path) -> None:
    document = make_layout()
    with create_diskcache_manager(tmp_path, "layout") as cache:
        service = LayoutService(cache)
        good = service.compile(document)
        key = f"compiled:v{layout_service.GENERATOR_VERSION}:{good.content_hash}"
        cache.set(key, "not a compiled layout")
        again = service.compile(document)
    assert not again.from_cache
    assert again.keymap == good.keymap


def test_an_untouched_settled_file_is_served_without_rereading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_layout(tmp_path / "layout.json")
    monkeypatch.setattr(layout_service, "_SETTLED_NS", 0)
    with create_diskcache_manager(tmp_path / "cache", "layout") as cache:
        service = LayoutService(cache)
        first = service.compile(path)

        def unreadable(path: Path) -> bytes:
            raise AssertionError("the file was read again")

        with monkeypatch.context() as patch:
            patch.setattr(layout_service, "read_layout", unreadable)
            assert service.compile(path).from_cache
        changed = make_layout()
        changed["layers"][1][0] = binding("&kp", "Z")
        write_layout(path, changed)
        os.utime(path, ns=(1, 1))
        again = service.compile(path)
    assert not again.from_cache
    assert again.content_hash != first.content_hash
    assert "&kp Z" in again.keymap


def test_a_freshly_written_file_is_always_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_layout(tmp_path / "layout.json")
    reads: list[Path] = []
    real_read = layout_service.read_layout

    def counting(path: Path) -> bytes:
        reads.append(path)
        return real_read(path)

    monkeypatch.setattr(layout_service, "read_layout", counting)
    with create_diskcache_manager(tmp_path / "cache", "layout") as cache:
        service = LayoutService(cache)
        service.compile(path)
        assert service.compile(path).from_cache
    assert len(reads) == 2
