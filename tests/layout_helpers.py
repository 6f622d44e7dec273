"""Small hand-written layouts for the layout compile tests."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glovebox.layout.glove80 import GRID

KEYS = 80


def kp(key: str) -> dict[str, Any]:
    return {"value": "&kp", "params": [{"value": key, "params": []}]}


def binding(value: str, *params: Any) -> dict[str, Any]:
    """``binding("&mt", "LCTRL", "A")``; a param may itself be a ``{"value", "params"}`` dict."""
    return {
        "value": value,
        "params": [p if isinstance(p, dict) else {"value": p, "params": []} for p in params],
    }


def layer(*overrides: tuple[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """80 ``&trans`` keys with the given ``(position, binding)`` overrides."""
    keys: list[dict[str, Any]] = [{"value": "&trans", "params": []} for _ in range(KEYS)]
    for position, value in overrides:
        keys[position] = value
    return keys


def make_layout(**fields: Any) -> dict[str, Any]:
    """A two-layer Glove80 layout (Base with letters, Lower) plus ``fields``."""
    base = layer(*((i, kp(f"N{i % 10}")) for i in range(KEYS)))
    document: dict[str, Any] = {
        "keyboard": "glove80",
        "title": "Test layout",
        "uuid": "not-used",
        "layer_names": ["Base", "Lower"],
        "layers": [base, layer((0, binding("&mo", 0)))],
    }
    document.update(copy.deepcopy(fields))
    return document


def read_grid(keymap: str, layer_name: str) -> list[str]:
    """The 80 bindings of ``layer_name`` read back from the generated grid, in key order.

    Cells are separated by at least two spaces; holes are blank, so the non-blank cells of
    a row are its keys in order.
    """
    match = re.search(
        rf"layer_{layer_name} {{\n\s*bindings = <\n(.*?)\n\s*>;", keymap, flags=re.DOTALL
    )
    assert match, f"no layer_{layer_name} in keymap"
    lines = match.group(1).split("\n")
    assert len(lines) == len(GRID)
    keys: list[str] = [""] * KEYS
    for line, row in zip(lines, GRID, strict=True):
        cells = re.split(r" {2,}", line.strip())
        positions = [key for key in row if key >= 0]
        assert len(cells) == len(positions), line
        for key, cell in zip(positions, cells, strict=True):
            keys[key] = cell
    return keys


def column_ends(keymap: str, layer_name: str) -> list[set[int]]:
    """For each grid column, the set of line offsets at which its cells end (1 if aligned)."""
    match = re.search(
        rf"layer_{layer_name} {{\n\s*bindings = <\n(.*?)\n\s*>;", keymap, flags=re.DOTALL
    )
    assert match
    ends: list[set[int]] = [set() for _ in GRID[0]]
    for line, row in zip(match.group(1).split("\n"), GRID, strict=True):
        spans = [m.end() for m in re.finditer(r"\S+(?: \S+)*", line)]
        columns = [column for column, key in enumerate(row) if key >= 0]
        for column, end in zip(columns, spans, strict=True):
            ends[column].add(end)
    return ends


def write_layout(path: Path, document: Mapping[str, Any] | None = None) -> Path:
    """Write ``document`` (default: :func:`make_layout`'s) to ``path`` as indented JSON.

    Missing parent directories are created; returns ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(make_layout() if document is None else document, indent=2)
    path.write_text(text, encoding="utf-8")
    return path
