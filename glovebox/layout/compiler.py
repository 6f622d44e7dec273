"""Validation of a parsed layout and generation of its ``.keymap`` and ``.conf``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from glovebox.layout.checks import config_warnings, layout_problems
from glovebox.layout.conf import generate_conf
from glovebox.layout.errors import LayoutError
from glovebox.layout.keymap import generate_keymap
from glovebox.layout.models import IDENTIFIER, LayoutDocument
from glovebox.layout.render import CUSTOM

__all__ = ["compile_document", "json_path", "validate_document"]


def json_path(location: Sequence[int | str]) -> str:
    """``('layers', 3, 54, 'value')`` -> ``layers[3][54].value``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _from_validation_error(name: str, error: ValidationError) -> LayoutError:
    problems = error.errors(include_url=False)
    first = problems[0]
    message = str(first["msg"])
    if first["type"] in {"missing", "extra_forbidden"}:
        message = "required field is missing" if first["type"] == "missing" else message
    elif "input" in first and not isinstance(first["input"], dict | list):
        message += f" (got {first['input']!r})"
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return LayoutError(f"{name}: {json_path(first['loc'])}: {message}{more}")


def _check(document: LayoutDocument, name: str) -> None:
    """Rules that span fields, each reported with the JSON path of the offending value."""
    layer_count = len(document.layers)
    if len(document.layer_names) != layer_count:
        raise LayoutError(
            f"{name}: layer_names: lists {len(document.layer_names)} names but layers has "
            f"{layer_count} layers; give exactly one name per layer"
        )
    seen: dict[str, int] = {}
    for index, layer_name in enumerate(document.layer_names):
        where = f"{name}: layer_names[{index}]"
        if not IDENTIFIER.match(layer_name):
            suggestion = "".join(c if c.isalnum() or c == "_" else "_" for c in layer_name)
            if not suggestion or suggestion[0].isdigit():
                suggestion = f"L_{suggestion}"
            raise LayoutError(
                f"{where}: layer name {layer_name!r} cannot be used in LAYER_<name> defines; "
                f"use letters, digits and '_', not starting with a digit (e.g. {suggestion!r})"
            )
        if layer_name in seen:
            raise LayoutError(
                f"{where}: layer name {layer_name!r} is already used by "
                f"layer_names[{seen[layer_name]}]; layer names must be unique"
            )
        seen[layer_name] = index
    for index, layer in enumerate(document.layers):
        for key, binding in enumerate(layer):
            if binding.value == CUSTOM and (
                not binding.params or not str(binding.params[0].value).strip()
            ):
                raise LayoutError(
                    f"{name}: layers[{index}][{key}]: a Custom binding needs its devicetree "
                    "text as the first param, e.g. {'value': '&kp A'}"
                )
    for index, combo in enumerate(document.combos):
        for position, layer_index in enumerate(combo.layers):
            if layer_index >= layer_count:
                raise LayoutError(
                    f"{name}: combos[{index}].layers[{position}]: layer {layer_index} does not "
                    f"exist; use 0..{layer_count - 1}, or -1 for all layers"
                )
    names: dict[str, str] = {}
    defined = [(f"holdTaps[{i}]", h.name) for i, h in enumerate(document.hold_taps)]
    defined += [(f"macros[{i}]", m.name) for i, m in enumerate(document.macros)]
    for where, behavior in defined:
        if behavior in names:
            raise LayoutError(
                f"{name}: {where}.name: {behavior!r} is already defined by {names[behavior]}; "
                "behavior names must be unique"
            )
        names[behavior] = where
    problems = layout_problems(document)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise LayoutError(f"{name}: {problems[0]}{more}")


def validate_document(document: Mapping[str, Any] | LayoutDocument, name: str) -> LayoutDocument:
    """The validated model of ``document``; ``LayoutError`` names the first bad JSON path."""
    if isinstance(document, LayoutDocument):
        model = document
    else:
        if not isinstance(document, Mapping):
            raise LayoutError(
                f"{name}: a layout is a JSON object with layer_names and layers, "
                f"got {type(document).__name__}"
            )
        try:
            model = LayoutDocument.model_validate(document)
        except ValidationError as exc:
            raise _from_validation_error(name, exc) from None
    _check(model, name)
    return model


def compile_document(
    document: Mapping[str, Any] | LayoutDocument, name: str
) -> tuple[str, str, tuple[str, ...]]:
    """``(keymap text, conf text, warnings)`` for a parsed or already validated layout.

    Each warning is one line starting with its JSON path (an unknown ``.conf`` parameter,
    written commented out); the caller prefixes the file name.
    """
    model = validate_document(document, name)
    keymap = generate_keymap(model, model.title)
    conf = generate_conf(model.config_parameters, model.title)
    return keymap, conf, tuple(config_warnings(model))
