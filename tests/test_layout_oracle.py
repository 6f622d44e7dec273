"""Compile each Glove80 Layout Editor export and compare with the keymap the editor made.

The pairs live in ``../shared/layout-oracle/<pair>/`` (``layout.json`` and
``expected.keymap``); they are reference data kept outside the repository, so these tests
skip with a reason when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glovebox.layout import compile_layout
from tests.keymap_compare import compare_keymaps, compare_layer_grids, oracle_pairs

# Pairs whose editor version writes the layer grids in the column-aligned format that the
# compiler reproduces, so their grids can be compared line by line.
GRID_PAIRS = (
    "glove80-factory-default",
    "factory-with-bindings",
    "tailorkey-zero-v4.2g-bilateral",
    "sunaku-glorious-engrammer-v42-rc3",
)
SHOWN = 40


def _report(title: str, diffs: list[str]) -> str:
    shown = "\n".join(f"  {line}" for line in diffs[:SHOWN])
    more = f"\n  ... and {len(diffs) - SHOWN} more" if len(diffs) > SHOWN else ""
    return f"{title}: {len(diffs)} difference(s)\n{shown}{more}"


@pytest.mark.parametrize("pair", oracle_pairs())
def test_compiled_keymap_is_equivalent_to_the_editors(pair: Path) -> None:
    result = compile_layout(pair / "layout.json")
    expected = (pair / "expected.keymap").read_text(encoding="utf-8")
    diffs = compare_keymaps(result.keymap, expected)
    assert diffs == [], _report(pair.name, diffs)


@pytest.mark.parametrize("pair", oracle_pairs(GRID_PAIRS))
def test_compiled_layer_grids_match_the_editors_alignment(pair: Path) -> None:
    result = compile_layout(pair / "layout.json")
    expected = (pair / "expected.keymap").read_text(encoding="utf-8")
    diffs = compare_layer_grids(result.keymap, expected)
    assert diffs == [], _report(f"{pair.name} layer grids", diffs)
