"""LayoutService: processed layouts cached by content hash."""

from __future__ import annotations

import json
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
    good = tmp_path / "good.json"
    good.write_text(json.dumps(LAYOUT), encoding="utf-8")
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
