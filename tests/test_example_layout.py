"""The example layout in docs/examples is a complete, consistent Glove80 editor export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "glove80-example.json"
KEYS = 80
# Behaviours ZMK or the Glove80 system part define; anything else must be defined here.
BUILTIN = {
    "&kp", "&mo", "&to", "&tog", "&trans", "&none", "&lower", "&magic", "&reset",
    "&bootloader", "&bt", "&bt_0", "&bt_1", "&bt_2", "&bt_3", "&out", "&rgb_ug",
    "&mkp", "&caps_word", "&macro_tap", "&macro_press", "&macro_release",
    "&macro_param_1to1", "Custom",
}  # fmt: skip
LAYER_PARAM = {"&mo", "&to", "&tog"}


@pytest.fixture(scope="module")
def layout() -> dict[str, Any]:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _bindings(layout: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, layer in enumerate(layout["layers"]):
        for key, binding in enumerate(layer):
            yield f"layers[{index}][{key}]", binding
    for macro in layout["macros"]:
        for step, binding in enumerate(macro["bindings"]):
            yield f"macros {macro['name']} bindings[{step}]", binding
    for combo in layout["combos"]:
        yield f"combos {combo['name']} binding", combo["binding"]


def _check_param(where: str, param: Any) -> None:
    assert isinstance(param, dict), f"{where}: a param must be an object"
    assert isinstance(param.get("value"), str | int), f"{where}: param value must be str or int"
    for child in param.get("params", []):
        _check_param(where, child)


def test_metadata(layout: dict[str, Any]) -> None:
    assert layout["keyboard"] == "glove80"
    assert layout["title"]
    for section in ("holdTaps", "macros", "combos", "config_parameters"):
        assert layout[section], f"{section} is empty"


def test_every_layer_has_80_bindings(layout: dict[str, Any]) -> None:
    names = layout["layer_names"]
    assert len(names) == len(layout["layers"]) >= 4
    assert len(set(names)) == len(names)
    assert {"Base", "Lower", "Magic"} <= set(names)
    for name, layer in zip(names, layout["layers"], strict=True):
        assert len(layer) == KEYS, f"layer {name} has {len(layer)} bindings"


def test_bindings_are_well_formed_and_defined(layout: dict[str, Any]) -> None:
    user = {item["name"] for item in layout["holdTaps"] + layout["macros"]}
    for where, binding in _bindings(layout):
        value = binding.get("value")
        assert isinstance(value, str), f"{where}: value must be a string"
        assert value in BUILTIN | user, f"{where}: {value} is not defined"
        for param in binding.get("params", []):
            _check_param(where, param)
        if value in LAYER_PARAM:
            (param,) = binding["params"]
            assert param["value"] in range(len(layout["layers"])), f"{where}: no such layer"


def test_layout_uses_the_features_it_shows(layout: dict[str, Any]) -> None:
    used = {binding["value"] for _, binding in _bindings(layout)}
    assert {"&magic", "&lower", "&bt_0", "&bt_3", "&rgb_ug", "&reset", "Custom"} <= used
    magic_key = 64
    assert all(layer[magic_key]["value"] == "&magic" for layer in layout["layers"])
    (hold_tap,) = layout["holdTaps"]
    assert hold_tap["name"] in used
    macros_with_param = [m["name"] for m in layout["macros"] if len(m["params"]) == 1]
    assert macros_with_param
    assert set(macros_with_param) <= used


def test_combos_and_parameters_are_valid(layout: dict[str, Any]) -> None:
    layers = range(len(layout["layers"]))
    for combo in layout["combos"]:
        assert "&" not in combo["name"]
        assert len(combo["keyPositions"]) >= 2
        assert all(position in range(KEYS) for position in combo["keyPositions"])
        assert combo["layers"] == [-1] or all(layer in layers for layer in combo["layers"])
    assert any(combo["layers"] == [-1] for combo in layout["combos"])
    names = [parameter["paramName"] for parameter in layout["config_parameters"]]
    assert "HID_POINTING" in names
