"""Fixed facts about the Glove80: its key grid, key-position names and system behaviours."""

from __future__ import annotations

__all__ = ["GRID", "KEY_POSITIONS", "SYSTEM_BEHAVIORS"]

_HOLE = -1


def _row(*spans: tuple[int, int] | int) -> tuple[int, ...]:
    """A grid row from key ranges ``(first, last)`` and hole counts (plain ints)."""
    cells: list[int] = []
    for span in spans:
        if isinstance(span, int):
            cells.extend([_HOLE] * span)
        else:
            cells.extend(range(span[0], span[1] + 1))
    return tuple(cells)


GRID: tuple[tuple[int, ...], ...] = (
    _row((0, 4), 8, (5, 9)),
    _row((10, 15), 6, (16, 21)),
    _row((22, 27), 6, (28, 33)),
    _row((34, 39), 6, (40, 45)),
    _row((46, 63)),
    _row((64, 68), 1, (69, 74), 1, (75, 79)),
)
"""Key indices as the keys sit on the board (6 rows of 18 columns); -1 marks a hole."""


def _key_positions() -> tuple[tuple[str, int], ...]:
    """``POS_<hand>_<key>`` names: columns C1 (innermost) to C6, rows R1 (top) to R6, thumbs T1-T6.

    The main rows are read off the grid: the left half's leftmost key is column 6, the right
    half's rightmost key is column 6; the top and bottom rows have no column-1 key. Row 5 of
    the middle grid row holds the upper thumb keys between the two halves.
    """
    names: list[tuple[str, int]] = []
    left_thumbs = (52, 53, 54, 69, 70, 71)
    right_thumbs = (57, 56, 55, 74, 73, 72)
    names += [(f"POS_LH_T{i + 1}", key) for i, key in enumerate(left_thumbs)]
    left: list[tuple[str, int]] = []
    right: list[tuple[str, int]] = []
    thumbs = set(left_thumbs) | set(right_thumbs)
    for row_number, row in enumerate(GRID, start=1):
        keys = [key for key in row if key != _HOLE and key not in thumbs]
        half = len(keys) // 2
        left_keys, right_keys = keys[:half], keys[half:]
        first_column = 6
        left += [(f"C{first_column - i}R{row_number}", key) for i, key in enumerate(left_keys)]
        start = 7 - len(right_keys)
        right += [(f"C{start + i}R{row_number}", key) for i, key in enumerate(right_keys)]
    names += [(f"POS_LH_{name}", key) for name, key in sorted(left)]
    names += [(f"POS_RH_T{i + 1}", key) for i, key in enumerate(right_thumbs)]
    names += [(f"POS_RH_{name}", key) for name, key in sorted(right)]
    return tuple(names)


KEY_POSITIONS = _key_positions()
"""The 80 ``(define name, key index)`` pairs, left hand first."""


def _bluetooth_profiles() -> str:
    # With BT_DISC_CMD, a tap selects profile N on BLE and a double tap disconnects it;
    # older firmware without that command gets a plain "select profile N" macro.
    tap_dances = "".join(
        f"        bt_{n}: bt_{n} {{\n"
        '            compatible = "zmk,behavior-tap-dance";\n'
        "            #binding-cells = <0>;\n"
        "            tapping-term-ms = <200>;\n"
        f"            bindings = <&bt_select_{n}>, <&bt BT_DISC {n}>;\n"
        "        };\n"
        for n in range(4)
    )

    def select_macros(prefix: str) -> str:
        return "".join(
            f"        {prefix}{n}: {prefix}{n} {{\n"
            '            compatible = "zmk,behavior-macro";\n'
            "            #binding-cells = <0>;\n"
            f"            bindings = <&out OUT_BLE>, <&bt BT_SEL {n}>;\n"
            "        };\n"
            for n in range(4)
        )

    return (
        "/ {\n"
        "#ifdef BT_DISC_CMD\n"
        f"    behaviors {{\n{tap_dances}    }};\n"
        f"    macros {{\n{select_macros('bt_select_')}    }};\n"
        "#else\n"
        f"    macros {{\n{select_macros('bt_')}    }};\n"
        "#endif\n"
        "};\n"
    )


SYSTEM_BEHAVIORS = (
    "/* System behavior and Macros */\n"
    "/ {\n"
    "    behaviors {\n"
    "        // Tap or hold for the Lower layer while held; tap twice to stay on it.\n"
    "        lower: lower {\n"
    '            compatible = "zmk,behavior-tap-dance";\n'
    "            #binding-cells = <0>;\n"
    "            tapping-term-ms = <200>;\n"
    "            bindings = <&mo LAYER_Lower>, <&to LAYER_Lower>;\n"
    "        };\n"
    "        // Hold for the layer given as first cell; tap to show the RGB status.\n"
    "        magic: magic {\n"
    '            compatible = "zmk,behavior-hold-tap";\n'
    "            #binding-cells = <2>;\n"
    '            flavor = "tap-preferred";\n'
    "            tapping-term-ms = <200>;\n"
    "            bindings = <&mo>, <&rgb_ug_status_macro>;\n"
    "        };\n"
    "    };\n"
    "    macros {\n"
    "        rgb_ug_status_macro: rgb_ug_status_macro {\n"
    '            compatible = "zmk,behavior-macro";\n'
    "            #binding-cells = <0>;\n"
    "            bindings = <&rgb_ug RGB_STATUS>;\n"
    "        };\n"
    "    };\n"
    "};\n"
    "\n" + _bluetooth_profiles()
)
"""Devicetree for ``&lower``, ``&magic``, ``&rgb_ug_status_macro`` and ``&bt_0`` .. ``&bt_3``."""
