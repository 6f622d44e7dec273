"""Turning one binding of the JSON export into its devicetree text, e.g. ``&kp LC(C)``."""

from __future__ import annotations

from collections.abc import Mapping

from glovebox.layout.models import Binding, Param

__all__ = ["CUSTOM", "PLACEHOLDER", "BindingRenderer", "render_param"]

CUSTOM = "Custom"
"""The editor's pseudo-behaviour whose single parameter is raw devicetree text."""

PLACEHOLDER = "MACRO_PLACEHOLDER"
"""Fills the cells a user behaviour declares but a binding leaves out."""

# Editor names that ZMK spells differently, or that need the editor's fixed arguments.
_RENAMED = {"&reset": "&sys_reset"}
_BARE_DEFAULTS = {"&magic": "&magic LAYER_Magic 0"}


def render_param(param: Param) -> str:
    """``value``, followed by ``(child,child...)`` when the parameter wraps others."""
    if not param.params:
        return str(param.value)
    return f"{param.value}({','.join(render_param(child) for child in param.params)})"


class BindingRenderer:
    """Renders bindings, padding references to user behaviours to their cell count."""

    def __init__(self, cells: Mapping[str, int]) -> None:
        self._cells = cells

    def __call__(self, binding: Binding) -> str:
        value = binding.value
        params = binding.params
        if value == CUSTOM:
            # Raw text, kept exactly (even trailing spaces); an empty Custom key is a no-op.
            return str(params[0].value) if params else ""
        if not params:
            bare = _BARE_DEFAULTS.get(value)
            if bare is not None:
                return bare
        parts = [_RENAMED.get(value, value)]
        parts.extend(render_param(param) for param in params)
        missing = self._cells.get(value, 0) - len(params)
        if missing > 0:
            parts.extend([PLACEHOLDER] * missing)
        return " ".join(parts)
