"""Tests of the semantic keymap comparator in tests/keymap_compare.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import keymap_compare
from tests.keymap_compare import (
    ORACLE_MISSING,
    compare_keymaps,
    compare_layer_grids,
    oracle_pairs,
    parse_keymap,
    split_sections,
    strip_comments,
)

# A small keymap in the editor's section layout, written for these tests. The layers hold
# four keys only: the comparator does not depend on the Glove80's 80 keys.
BASE = """\
/* a header of our own */

#include <behaviors.dtsi>
#include <dt-bindings/zmk/keys.h>
#include <dt-bindings/zmk/bt.h>

/* Automatically generated layer name #define */
#define LAYER_Base 0
#define LAYER_Lower 1
#define LAYER_Magic 2

/* fallback for layouts without a Lower layer */
#ifndef LAYER_Lower
#define LAYER_Lower 0
#endif

/* Custom Device-tree */
&sensor { status = "okay"; };

/* Input Listeners */
&mmv_input_listener {
    // slow pointer on the Lower layer
    LAYER_Lower {
        layers = <1>;
        input-processors = <&zip_xy_scaler 1 4>;
    };
};

/* System behavior and Macros */
/ {
    behaviors {
        lower: lower {
            compatible = "zmk,behavior-tap-dance";
            label = "LOWER";
            #binding-cells = <0>;
            tapping-term-ms = <200>;
            bindings = <&mo LAYER_Lower>, <&to LAYER_Lower>;
        };
    };
};

/ {
#ifdef BT_DISC_CMD
    behaviors {
        bt_0: bt_0 {
            compatible = "zmk,behavior-tap-dance";
            #binding-cells = <0>;
            bindings = <&bt_select_0>, <&bt BT_DISC 0>;
        };
    };
#else
    macros {
        bt_0: bt_0 {
            compatible = "zmk,behavior-macro";
            #binding-cells = <0>;
            bindings = <&out OUT_BLE>, <&bt BT_SEL 0>;
        };
    };
#endif
};

/* #define for key positions */
#define POS_A 0
#define POS_B 1
#define POS_C 2

/* Custom Defined Behaviors */
/ {
    my_combo_like: thing { retro-tap; };
};

/* Automatically generated macro definitions */
/ {
    macros {
        // types a key twice
        twice: twice {
            label = "&TWICE";
            compatible = "zmk,behavior-macro-one-param";
            #binding-cells = <1>;
            tap-ms = <30>;
            bindings = <&macro_param_1to1>
                , <&kp MACRO_PLACEHOLDER>
                , <&macro_param_1to1>
                , <&kp MACRO_PLACEHOLDER>;
        };
    };
};

/* Automatically generated behavior definitions */
/ {
    behaviors {
        // home-row mod
        hm: hm {
            compatible = "zmk,behavior-hold-tap";
            #binding-cells = <2>;
            tapping-term-ms = <220>;
            bindings = <&kp>, <&kp>;
            flavor = "balanced";
            quick-tap-ms = <250>;
            retro-tap;
            hold-trigger-key-positions = <3 2 1>;
        };
    };
};

/* Automatically generated combos definitions */
/ {
    combos {
        compatible = "zmk,combos";
        combo_esc {
            timeout-ms = <40>;
            key-positions = <0 1>;
            bindings = <&kp ESC>;
            layers = <0 1>;
        };
        combo_all {
            timeout-ms = <40>;
            key-positions = <2 3>;
            bindings = <&kp TAB>;
        };
    };
};

/* Automatically generated keymap */
/ {
    keymap {
        compatible = "zmk,keymap";

        layer_Base {
            bindings = <
   &hm LSHFT A  &kp LC(C)
        &lower  &magic LAYER_Magic 0
            >;
        };

        layer_Lower {
            bindings = <
  &trans  &mo 2
  &tog 1  &twice B
            >;
        };

        layer_Magic {
            bindings = <
  &bt_0  &sys_reset
  &none  &tog 2
            >;
        };
    };
};
"""


def _edit(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) >= count, f"test text has no {old!r}"
    return text.replace(old, new, count)


# ---------------------------------------------------------------------------------------------
# Equal up to cosmetics


def test_identical_text_is_equivalent() -> None:
    assert compare_keymaps(BASE, BASE) == []


def test_cosmetic_changes_are_ignored() -> None:
    other = BASE
    # comments, blank lines and indentation
    other = _edit(other, "/* a header of our own */", "/*\n * another banner\n */\n\n\n")
    other = _edit(other, "        // home-row mod\n", "        // a different description\n")
    # include order
    other = _edit(
        other,
        "#include <dt-bindings/zmk/keys.h>\n#include <dt-bindings/zmk/bt.h>",
        "#include <dt-bindings/zmk/bt.h>\n#include <dt-bindings/zmk/keys.h>",
    )
    # property order and label properties
    other = _edit(
        other,
        '            flavor = "balanced";\n            quick-tap-ms = <250>;\n',
        '            quick-tap-ms = <250>;\n            label = "HM";\n'
        '            flavor = "balanced";\n',
    )
    other = _edit(other, '            label = "LOWER";\n', "")
    # how a bindings list is wrapped
    other = _edit(
        other,
        "bindings = <&macro_param_1to1>\n                , <&kp MACRO_PLACEHOLDER>",
        "bindings = <&macro_param_1to1 &kp MACRO_PLACEHOLDER>",
    )
    # sets compare as sets; a combo listing every layer equals one with no `layers`
    other = _edit(other, "<3 2 1>", "<1 2 3>")
    other = _edit(other, "layers = <0 1>;", "layers = <1 0>;")
    other = _edit(other, "bindings = <&kp TAB>;", "bindings = <&kp TAB>;\n layers = <0 1 2>;")
    # a layer name instead of its number in a binding
    other = _edit(other, "&mo 2", "&mo LAYER_Magic")
    # key-position define order
    other = _edit(other, "#define POS_A 0\n#define POS_B 1", "#define POS_B 1\n#define POS_A 0")
    # grid alignment
    other = _edit(other, "   &hm LSHFT A  &kp LC(C)", "&hm LSHFT A &kp LC(C)")
    other = other.replace("\n    ", "\n  ")
    assert compare_keymaps(other, BASE) == []


def test_roots_in_another_order_are_equivalent() -> None:
    system_start = BASE.index("/ {\n#ifdef BT_DISC_CMD")
    system_end = BASE.index("/* #define for key positions */")
    bt_root = BASE[system_start:system_end]
    moved = BASE.replace(bt_root, "")
    moved = _edit(
        moved, "/* System behavior and Macros */\n", f"/* System behavior and Macros */\n{bt_root}"
    )
    assert moved != BASE
    assert compare_keymaps(moved, BASE) == []


def test_older_editor_spellings_are_equivalent() -> None:
    old = _edit(BASE, "/* System behavior and Macros */", "/* Glove80 system behavior & macros */")
    old = _edit(
        old, "/* Automatically generated keymap */", "    /* Automatically generated keymap */"
    )
    old = _edit(old, "/* #define for key positions */", "/* Key positions */")
    old = _edit(
        old,
        "/* Custom Defined Behaviors */\n/ {\n",
        "    /* Custom Defined Behaviors */\n/ {\n    ",
    )
    assert compare_keymaps(old, BASE) == []


def test_helper_macro_tap_dance_equals_the_expanded_node() -> None:
    expanded = (
        "        lower: lower {\n"
        '            compatible = "zmk,behavior-tap-dance";\n'
        '            label = "LOWER";\n'
        "            #binding-cells = <0>;\n"
        "            tapping-term-ms = <200>;\n"
        "            bindings = <&mo LAYER_Lower>, <&to LAYER_Lower>;\n"
        "        };\n"
    )
    helper = _edit(BASE, expanded, "        ZMK_TD_LAYER(lower, LAYER_Lower)\n")
    assert compare_keymaps(helper, BASE) == []
    wrong = _edit(BASE, expanded, "        ZMK_TD_LAYER(lower, LAYER_Magic)\n")
    assert compare_keymaps(wrong, BASE) == [
        "behaviors/lower: bindings <&mo 2>, <&to 2> != <&mo 1>, <&to 1>"
    ]


def test_custom_text_compares_with_whitespace_collapsed() -> None:
    spaced = _edit(BASE, '&sensor { status = "okay"; };', '&sensor {\n\tstatus =   "okay";\n};\n\n')
    assert compare_keymaps(spaced, BASE) == []


# ---------------------------------------------------------------------------------------------
# Real differences, each reported by path


# One edit, the differences it must produce: (old text, new text, expected report).
ONE_EDIT = [
    pytest.param(
        "&none  &tog 2",
        "&none  &tog 1",
        ["layer Magic, key 3: got '&tog 1', want '&tog 2'"],
        id="changed-layer-binding-names-layer-and-key",
    ),
    pytest.param(
        "&kp LC(C)",
        "&kp LC(V)",
        ["layer Base, key 1: got '&kp LC(V)', want '&kp LC(C)'"],
        id="changed-nested-modifier-binding",
    ),
    pytest.param(
        "&none  &tog 2",
        "&none",
        ["layer Magic: got 3 bindings, want 4"],
        id="missing-binding-is-counted",
    ),
    pytest.param(
        "quick-tap-ms = <250>;",
        "quick-tap-ms = <300>;",
        ["behaviors/hm: quick-tap-ms 300 != 250"],
        id="changed-behavior-property",
    ),
    pytest.param(
        'flavor = "balanced";',
        'flavor = "tap-preferred";',
        ['behaviors/hm: flavor "tap-preferred" != "balanced"'],
        id="changed-string-property",
    ),
    pytest.param(
        "            retro-tap;\n",
        "",
        ["behaviors/hm: missing retro-tap"],
        id="missing-boolean-property",
    ),
    pytest.param(
        "            retro-tap;\n",
        "            retro-tap;\n            hold-trigger-on-release;\n",
        ["behaviors/hm: unexpected hold-trigger-on-release"],
        id="unexpected-boolean-property",
    ),
    pytest.param(
        "bindings = <&kp>, <&kp>;",
        "bindings = <&mo>, <&kp>;",
        ["behaviors/hm: bindings <&mo>, <&kp> != <&kp>, <&kp>"],
        id="hold-tap-bindings-order-matters",
    ),
    pytest.param(
        "layers = <0 1>;",
        "layers = <0 2>;",
        ["combos/combo_esc: layers <0 2> != <0 1>"],
        id="combo-layers-compared-as-a-set",
    ),
    pytest.param(
        "bindings = <&kp TAB>;",
        "bindings = <&kp TAB>;\n layers = <0>;",
        ["combos/combo_all: unexpected layers"],
        id="combo-restricted-to-layers",
    ),
    pytest.param(
        "key-positions = <2 3>;",
        "key-positions = <2 4>;",
        ["combos/combo_all: key-positions <2 4> != <2 3>"],
        id="combo-positions-compared-as-a-set",
    ),
    pytest.param(
        "#define POS_C 2",
        "#define POS_C 5",
        ["key positions: POS_C got 5, want 2"],
        id="changed-key-position-define",
    ),
    pytest.param(
        "#define POS_C 2\n",
        "",
        ["key positions: missing POS_C"],
        id="missing-key-position-define",
    ),
    pytest.param(
        "#include <dt-bindings/zmk/bt.h>\n",
        "",
        ["includes: missing <dt-bindings/zmk/bt.h>"],
        id="missing-include",
    ),
    pytest.param(
        "#include <behaviors.dtsi>\n",
        "#include <behaviors.dtsi>\n#include <x.h>\n",
        ["includes: unexpected <x.h>"],
        id="unexpected-include",
    ),
    pytest.param(
        'flavor = "balanced";',
        'flavor = "bal//anced";',
        ['behaviors/hm: flavor "bal//anced" != "balanced"'],
        id="comment-markers-inside-strings-are-values",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), ONE_EDIT)
def test_one_edit_is_reported_by_path(old: str, new: str, expected: list[str]) -> None:
    assert compare_keymaps(_edit(BASE, old, new), BASE) == expected


def test_macro_binding_order_matters() -> None:
    changed = _edit(BASE, "tap-ms = <30>;", "tap-ms = <30>;\n wait-ms = <0>;")
    assert compare_keymaps(changed, BASE) == ["macros/twice: unexpected wait-ms"]
    reordered = _edit(
        BASE,
        "bindings = <&macro_param_1to1>\n                , <&kp MACRO_PLACEHOLDER>",
        "bindings = <&kp MACRO_PLACEHOLDER>\n                , <&macro_param_1to1>",
    )
    diffs = compare_keymaps(reordered, BASE)
    assert len(diffs) == 1
    assert diffs[0].startswith(
        "macros/twice: bindings <&kp MACRO_PLACEHOLDER>, <&macro_param_1to1>"
    )


def test_missing_and_unexpected_combo() -> None:
    start = BASE.index("        combo_esc {")
    end = BASE.index("        combo_all {")
    missing = BASE[:start] + BASE[end:]
    assert compare_keymaps(missing, BASE) == ["combos: missing combo_esc"]
    renamed = _edit(BASE, "combo_esc {", "combo_escape {")
    assert compare_keymaps(renamed, BASE) == [
        "combos: missing combo_esc",
        "combos: unexpected combo_escape",
    ]


def test_layer_order_and_names() -> None:
    renamed = BASE.replace("layer_Magic", "layer_Magik")
    diffs = compare_keymaps(renamed, BASE)
    assert diffs == ["layers: got ['Base', 'Lower', 'Magik'], want ['Base', 'Lower', 'Magic']"]


def test_layer_define_table() -> None:
    changed = _edit(BASE, "#define LAYER_Magic 2", "#define LAYER_Magic 3")
    diffs = compare_keymaps(changed, BASE)
    assert diffs[0] == "layer defines: LAYER_Magic got 3, want 2"
    # `&magic LAYER_Magic 0` now resolves to another layer: reported in the grid as well
    assert "layer Base, key 3: got '&magic 3 0', want '&magic 2 0'" in diffs


def test_lower_fallback_does_not_override_the_real_define() -> None:
    model = parse_keymap(BASE)
    assert model.layer_defines["LAYER_Lower"] == "1"
    assert model.layer_map["LAYER_Lower"] == "1"
    numeric = _edit(BASE, "<&mo LAYER_Lower>, <&to LAYER_Lower>", "<&mo 1>, <&to 1>")
    assert compare_keymaps(numeric, BASE) == []
    fallback = _edit(BASE, "<&mo LAYER_Lower>, <&to LAYER_Lower>", "<&mo 0>, <&to 0>")
    assert compare_keymaps(fallback, BASE) == [
        "behaviors/lower: bindings <&mo 0>, <&to 0> != <&mo 1>, <&to 1>"
    ]


def test_fallback_applies_when_no_lower_layer_exists() -> None:
    no_lower = _edit(BASE, "#define LAYER_Lower 1\n", "")
    model = parse_keymap(no_lower)
    assert "LAYER_Lower" not in model.layer_defines
    assert model.layer_map["LAYER_Lower"] == "0"


def test_custom_sections_must_match() -> None:
    changed = _edit(BASE, 'status = "okay";', 'status = "disabled";')
    diffs = compare_keymaps(changed, BASE)
    assert len(diffs) == 1
    assert diffs[0].startswith("custom devicetree: text differs")
    behaviors = _edit(BASE, "retro-tap; };", "retro-tap; hold-trigger-on-release; };")
    diffs = compare_keymaps(behaviors, BASE)
    assert len(diffs) == 1
    assert diffs[0].startswith("custom behaviors: text differs")


def test_custom_text_is_never_parsed_as_nodes() -> None:
    # The custom behaviours section holds a combo-like node and a heading-like comment;
    # neither may leak into the generated sections.
    tricky = _edit(
        BASE,
        "    my_combo_like: thing { retro-tap; };\n",
        "    combos { combo_esc { bindings = <&kp Q>; }; };\n"
        "/* Automatically generated keymap */\n"
        "#if 0\n/*HACK*//{\n",
    )
    assert compare_keymaps(tricky, tricky) == []
    model = parse_keymap(tricky)
    assert model.problems == []
    assert ("combos/combo_esc", "") in model.nodes
    assert model.nodes[("combos/combo_esc", "")].props["bindings"].items == ("&kp ESC",)
    assert "combo_esc" in model.sections["custom_behaviors"]


def test_node_identity_includes_the_preprocessor_branch() -> None:
    swapped = _edit(BASE, "#ifdef BT_DISC_CMD", "#ifndef BT_DISC_CMD")
    diffs = compare_keymaps(swapped, BASE)
    assert "behaviors [#if !BT_DISC_CMD]: unexpected bt_0" in diffs
    assert "behaviors [#if BT_DISC_CMD]: missing bt_0" in diffs
    assert "macros [#if !BT_DISC_CMD]: missing bt_0" in diffs
    changed = _edit(BASE, "<&bt BT_SEL 0>", "<&bt BT_SEL 1>")
    assert compare_keymaps(changed, BASE) == [
        "macros/bt_0 [#if !BT_DISC_CMD]: bindings <&out OUT_BLE>, <&bt BT_SEL 1> "
        "!= <&out OUT_BLE>, <&bt BT_SEL 0>"
    ]


def test_listener_node_names_keep_their_layer_spelling() -> None:
    model = parse_keymap(BASE)
    node = model.nodes[("&mmv_input_listener/LAYER_Lower", "")]
    assert node.props["layers"].items == ("1",)
    by_name = _edit(BASE, "layers = <1>;", "layers = <LAYER_Lower>;")
    assert compare_keymaps(by_name, BASE) == []
    renamed = _edit(BASE, "    LAYER_Lower {\n        layers", "    slow {\n        layers")
    assert compare_keymaps(renamed, BASE) == [
        "&mmv_input_listener: missing LAYER_Lower",
        "&mmv_input_listener: unexpected slow",
    ]
    processors = _edit(BASE, "<&zip_xy_scaler 1 4>", "<&zip_xy_scaler 4 1>")
    assert compare_keymaps(processors, BASE) == [
        "&mmv_input_listener/LAYER_Lower: input-processors &zip_xy_scaler 4 1 != &zip_xy_scaler 1 4"
    ]


def test_missing_heading_is_reported() -> None:
    headless = _edit(BASE, "/* Custom Device-tree */\n", "")
    diffs = compare_keymaps(headless, BASE)
    assert "sections: missing the 'Custom Device-tree' heading" in diffs


def test_unbalanced_text_is_reported() -> None:
    broken = _edit(BASE, "<3 2 1>;\n        };", "<3 2 1>;\n")
    diffs = compare_keymaps(broken, BASE)
    assert any(d.startswith("got: behaviors: unclosed node") for d in diffs)


# ---------------------------------------------------------------------------------------------
# Building blocks


def test_strip_comments_keeps_strings() -> None:
    text = 'a = "x // y /* z */"; // gone\nb; /* gone\n too */ c;'
    assert strip_comments(text) == 'a = "x // y /* z */"; \nb;  \n c;'


def test_split_sections_finds_every_heading() -> None:
    sections = split_sections(BASE)
    assert list(sections) == [
        "head",
        "custom_devicetree",
        "input_listeners",
        "system",
        "key_positions",
        "custom_behaviors",
        "macros",
        "behaviors",
        "combos",
        "keymap",
    ]
    assert "#define LAYER_Base 0" in sections["head"]
    assert sections["custom_devicetree"].strip() == '&sensor { status = "okay"; };'


# ---------------------------------------------------------------------------------------------
# Grid fidelity


def test_layer_grids_identical() -> None:
    assert compare_layer_grids(BASE, BASE) == []


def test_layer_grid_alignment_is_compared() -> None:
    shifted = _edit(BASE, "  &tog 1  &twice B", " &tog 1   &twice B")
    assert compare_keymaps(shifted, BASE) == []
    assert compare_layer_grids(shifted, BASE) == [
        "layer Lower, grid line 2: got ' &tog 1   &twice B', want '  &tog 1  &twice B'"
    ]
    extra = _edit(BASE, "  &bt_0  &sys_reset\n", "  &bt_0\n  &sys_reset\n")
    assert compare_layer_grids(extra, BASE)[0] == "layer Magic: got 3 grid lines, want 2"


# ---------------------------------------------------------------------------------------------
# The editor's own files: self-equivalence and one mutated binding


def _grid_span(text: str, layer: str) -> tuple[int, int]:
    match = re.search(
        rf"layer_{re.escape(layer)}\s*\{{\s*bindings\s*=\s*<(?P<grid>.*?)>\s*;", text, re.DOTALL
    )
    assert match is not None, f"no grid for layer {layer}"
    return match.start("grid"), match.end("grid")


@pytest.mark.parametrize("pair", oracle_pairs())
def test_oracle_keymap_equals_itself(pair: Path) -> None:
    text = (pair / "expected.keymap").read_text(encoding="utf-8")
    model = parse_keymap(text)
    assert model.problems == []
    assert len(model.positions) == 80
    assert compare_keymaps(text, text) == []
    assert compare_layer_grids(text, text) == []


@pytest.mark.parametrize("pair", oracle_pairs())
def test_oracle_keymap_with_one_binding_changed(pair: Path) -> None:
    text = (pair / "expected.keymap").read_text(encoding="utf-8")
    model = parse_keymap(text)
    layers = [
        path.split("/", 1)[1].removeprefix("layer_")
        for path, _ in model.nodes
        if path.startswith("keymap/layer_")
    ]
    first, last = layers[0], layers[-1]
    want_first = model.nodes[(f"keymap/layer_{first}", "")].props["bindings"].items[0]
    want_last = model.nodes[(f"keymap/layer_{last}", "")].props["bindings"].items[79]

    # key 0 of the first layer: from its '&' up to the next binding's '&'
    start, end = _grid_span(text, first)
    key0 = text.index("&", start)
    key1 = text.index("&", key0 + 1)
    mutated = text[:key0] + "&kp MUTATED  " + text[key1:]
    assert compare_keymaps(mutated, text) == [
        f"layer {first}, key 0: got '&kp MUTATED', want {want_first!r}"
    ]

    # key 79 of the last layer: the last binding of its grid
    start, end = _grid_span(text, last)
    key79 = text.rindex("&", start, end)
    line_end = text.index("\n", key79)
    mutated = text[:key79] + "&kp MUTATED" + text[line_end:]
    assert compare_keymaps(mutated, text) == [
        f"layer {last}, key 79: got '&kp MUTATED', want {want_last!r}"
    ]


def test_oracle_pairs_skip_with_a_reason_when_absent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(keymap_compare, "ORACLE_DIR", tmp_path / "absent")
    params = oracle_pairs()
    assert len(params) == 1
    (mark,) = params[0].marks
    assert mark.name == "skip"
    assert mark.kwargs["reason"] == ORACLE_MISSING


def test_oracle_pairs_lists_folders_with_a_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("b-pair", "a-pair", "not-a-pair"):
        (tmp_path / name).mkdir()
    for name in ("b-pair", "a-pair"):
        (tmp_path / name / "layout.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(keymap_compare, "ORACLE_DIR", tmp_path)
    assert [param.id for param in oracle_pairs()] == ["a-pair", "b-pair"]
    assert [param.values[0] for param in oracle_pairs(["b-pair"])] == [tmp_path / "b-pair"]
