"""The ``.keymap`` generator: a validated layout in, ZMK devicetree source out.

Sections follow the order the Glove80 Layout Editor uses, so a generated file reads like
the editor's own and user devicetree can refer to anything defined before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from glovebox.layout.glove80 import GRID, KEY_POSITIONS, SYSTEM_BEHAVIORS
from glovebox.layout.models import Combo, HoldTap, InputListener, LayoutDocument, Macro
from glovebox.layout.render import BindingRenderer

__all__ = ["MIN_COLUMN_WIDTH", "generate_keymap", "layer_grid"]

MIN_COLUMN_WIDTH = 6
"""Narrowest grid column, so short bindings still line up in readable columns."""

_INCLUDES = (
    "behaviors.dtsi",
    "dt-bindings/zmk/outputs.h",
    "dt-bindings/zmk/keys.h",
    "dt-bindings/zmk/bt.h",
    "dt-bindings/zmk/rgb.h",
)
_LISTENER_INCLUDES = (
    "dt-bindings/zmk/input_transform.h",
    "dt-bindings/zmk/pointing.h",
    "input/processors.dtsi",
)
_POINTING_INCLUDE = "dt-bindings/zmk/pointing.h"
_POINTING_BEHAVIORS = frozenset({"&mkp", "&mmv", "&msc"})


def layer_grid(bindings: Sequence[str]) -> str:
    """The ``bindings = < ... >`` body of one layer: 6 lines, columns right-aligned.

    Each column is as wide as its longest binding (at least ``MIN_COLUMN_WIDTH``); holes in
    the grid are blank cells; cells are separated by two spaces and each line starts with one.
    """
    widths = [MIN_COLUMN_WIDTH] * len(GRID[0])
    for row in GRID:
        for column, key in enumerate(row):
            if key >= 0:
                widths[column] = max(widths[column], len(bindings[key]))
    lines = []
    for row in GRID:
        cells = [
            (bindings[key] if key >= 0 else "").rjust(widths[column])
            for column, key in enumerate(row)
        ]
        lines.append(" " + "  ".join(cells) + "\n")
    return "".join(lines)


def _comment(text: str, indent: str) -> str:
    return "".join(
        f"{indent}// {line}\n" if line else f"{indent}//\n" for line in text.splitlines()
    )


def _cells(values: Iterable[int]) -> str:
    return "<" + " ".join(str(value) for value in values) + ">"


def _hold_tap(hold_tap: HoldTap) -> str:
    name = hold_tap.name[1:]
    lines = [_comment(hold_tap.description, "        "), f"        {name}: {name} {{\n"]
    prop = "            "
    lines.append(f'{prop}compatible = "zmk,behavior-hold-tap";\n')
    lines.append(f"{prop}#binding-cells = <2>;\n")
    if hold_tap.tapping_term_ms is not None:
        lines.append(f"{prop}tapping-term-ms = <{hold_tap.tapping_term_ms}>;\n")
    lines.append(f"{prop}bindings = {', '.join(f'<{b}>' for b in hold_tap.bindings)};\n")
    if hold_tap.flavor is not None:
        lines.append(f'{prop}flavor = "{hold_tap.flavor}";\n')
    if hold_tap.quick_tap_ms is not None:
        lines.append(f"{prop}quick-tap-ms = <{hold_tap.quick_tap_ms}>;\n")
    if hold_tap.require_prior_idle_ms is not None:
        lines.append(f"{prop}require-prior-idle-ms = <{hold_tap.require_prior_idle_ms}>;\n")
    for flag, enabled in (
        ("retro-tap", hold_tap.retro_tap),
        ("hold-while-undecided", hold_tap.hold_while_undecided),
        ("hold-while-undecided-linger", hold_tap.hold_while_undecided_linger),
    ):
        if enabled:
            lines.append(f"{prop}{flag};\n")
    if hold_tap.hold_trigger_key_positions is not None:
        positions = _cells(hold_tap.hold_trigger_key_positions)
        lines.append(f"{prop}hold-trigger-key-positions = {positions};\n")
    if hold_tap.hold_trigger_on_release:
        lines.append(f"{prop}hold-trigger-on-release;\n")
    lines.append("        };\n")
    return "".join(lines)


_MACRO_COMPATIBLE = (
    "zmk,behavior-macro",
    "zmk,behavior-macro-one-param",
    "zmk,behavior-macro-two-param",
)


def _macro(macro: Macro, render: BindingRenderer) -> str:
    name = macro.name[1:]
    prop = "            "
    cells = len(macro.params)
    lines = [
        _comment(macro.description, "        "),
        f"        {name}: {name} {{\n",
        f'{prop}compatible = "{_MACRO_COMPATIBLE[cells]}";\n',
        f"{prop}#binding-cells = <{cells}>;\n",
    ]
    if macro.tap_ms is not None:
        lines.append(f"{prop}tap-ms = <{macro.tap_ms}>;\n")
    if macro.wait_ms is not None:
        lines.append(f"{prop}wait-ms = <{macro.wait_ms}>;\n")
    steps = f"\n{prop}    , ".join(f"<{render(binding)}>" for binding in macro.bindings)
    lines.append(f"{prop}bindings = {steps};\n" if steps else f"{prop}bindings = <>;\n")
    lines.append("        };\n")
    return "".join(lines)


def _combo(combo: Combo, render: BindingRenderer) -> str:
    prop = "            "
    lines = [_comment(combo.description, "        "), f"        combo_{combo.name} {{\n"]
    if combo.timeout_ms is not None:
        lines.append(f"{prop}timeout-ms = <{combo.timeout_ms}>;\n")
    lines.append(f"{prop}key-positions = {_cells(combo.key_positions)};\n")
    lines.append(f"{prop}bindings = <{render(combo.binding)}>;\n")
    if combo.layers and -1 not in combo.layers:
        lines.append(f"{prop}layers = {_cells(combo.layers)};\n")
    lines.append("        };\n")
    return "".join(lines)


def _processors(processors: Iterable[tuple[str, Sequence[int]]]) -> str:
    return ", ".join(
        "<" + " ".join([code, *(str(param) for param in params)]) + ">"
        for code, params in processors
    )


def _listener(listener: InputListener) -> str:
    lines = [f"{listener.code} {{\n"]
    if listener.input_processors:
        processors = _processors((p.code, p.params) for p in listener.input_processors)
        lines.append(f"    input-processors = {processors};\n")
    for node in listener.nodes:
        lines.append(f"    // {node.description or node.code}\n")
        lines.append(f"    {node.code} {{\n")
        if node.layers:
            lines.append(f"        layers = {_cells(node.layers)};\n")
        if node.input_processors:
            processors = _processors((p.code, p.params) for p in node.input_processors)
            lines.append(f"        input-processors = {processors};\n")
        lines.append("    };\n")
    lines.append("};\n")
    return "".join(lines)


def _on_demand_includes(document: LayoutDocument, layers: Sequence[Sequence[str]]) -> list[str]:
    if document.input_listeners:
        return list(_LISTENER_INCLUDES)
    uses_pointing = any(
        binding.split(" ", 1)[0] in _POINTING_BEHAVIORS for layer in layers for binding in layer
    )
    return [_POINTING_INCLUDE] if uses_pointing else []


def _frame(heading: str, node: str, blocks: Sequence[str]) -> str:
    body = "\n".join(blocks)
    return f"/* {heading} */\n/ {{\n    {node} {{\n\n{body}    }};\n}};\n\n"


def generate_keymap(document: LayoutDocument, title: str) -> str:
    """The complete ``.keymap`` text for ``document``; ``title`` names it in the header."""
    cells = {hold_tap.name: 2 for hold_tap in document.hold_taps}
    cells.update((macro.name, len(macro.params)) for macro in document.macros)
    render = BindingRenderer(cells)
    layers = [[render(binding) for binding in layer] for layer in document.layers]

    out: list[str] = [
        "/*\n",
        f" * {title or 'Untitled layout'}\n" if "*/" not in title else " * (untitled)\n",
        " *\n",
        " * ZMK keymap for the MoErgo Glove80, compiled by glovebox from a Glove80 Layout\n",
        " * Editor export. Recompile the layout rather than editing this file by hand.\n",
        " */\n\n",
    ]
    out.extend(f"#include <{name}>\n" for name in _INCLUDES)
    out.append("\n/* On demand includes */\n")
    out.extend(f"#include <{name}>\n" for name in _on_demand_includes(document, layers))
    out.append("\n/* Automatically generated layer name #define */\n")
    out.extend(f"#define LAYER_{name} {index}\n" for index, name in enumerate(document.layer_names))
    out.append(
        "\n/* &lower needs LAYER_Lower: without a layer of that name it switches to layer 0 */\n"
        "#ifndef LAYER_Lower\n#define LAYER_Lower 0\n#endif\n\n"
    )
    out.append(f"/* Custom Device-tree */\n{document.custom_devicetree}\n\n")
    out.append("/* Input Listeners */\n")
    out.append("\n".join(_listener(listener) for listener in document.input_listeners))
    out.append("\n\n")
    out.append(SYSTEM_BEHAVIORS)
    out.append("\n/* #define for key positions */\n")
    out.extend(f"#define {name} {key}\n" for name, key in KEY_POSITIONS)
    out.append(
        f"\n/* Custom Defined Behaviors */\n/ {{\n{document.custom_defined_behaviors}\n}};\n\n"
    )
    macros = [_macro(macro, render) for macro in document.macros]
    out.append(_frame("Automatically generated macro definitions", "macros", macros))
    hold_taps = [_hold_tap(hold_tap) for hold_tap in document.hold_taps]
    out.append(_frame("Automatically generated behavior definitions", "behaviors", hold_taps))
    out.append("/* Automatically generated combos definitions */\n")
    if document.combos:
        combos = "\n".join(_combo(combo, render) for combo in document.combos)
        out.append(
            f'/ {{\n    combos {{\n        compatible = "zmk,combos";\n\n{combos}    }};\n}};\n'
        )
    out.append("\n/* Automatically generated keymap */\n")
    out.append('/ {\n    keymap {\n        compatible = "zmk,keymap";\n')
    for name, bindings in zip(document.layer_names, layers, strict=True):
        out.append(f"\n        layer_{name} {{\n            bindings = <\n")
        out.append(layer_grid(bindings))
        out.append("            >;\n        };\n")
    out.append("    };\n};\n")
    return "".join(out)
