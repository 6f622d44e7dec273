"""Compiling hand-written layouts: every binding form, behaviour property, error and policy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from glovebox.layout import LayoutDocument, LayoutError, compile_layout
from glovebox.layout.glove80 import KEY_POSITIONS
from tests.layout_helpers import binding, column_ends, kp, layer, make_layout, read_grid

HOLD_TAP_FULL = {
    "name": "&ht_full",
    "description": "first line\n\nthird line",
    "bindings": ["&kp", "&mo"],
    "tappingTermMs": 180,
    "flavor": "balanced",
    "quickTapMs": 120,
    "requirePriorIdleMs": 90,
    "retroTap": True,
    "holdWhileUndecided": True,
    "holdWhileUndecidedLinger": True,
    "holdTriggerKeyPositions": [57, 3, 12],
    "holdTriggerOnRelease": True,
}


def keymap_of(document: dict[str, Any]) -> str:
    return compile_layout(document).keymap


def block(keymap: str, node: str) -> str:
    match = re.search(rf"^ *{node} \{{\n(.*?)^ *\}};", keymap, flags=re.DOTALL | re.MULTILINE)
    assert match, f"no node {node!r}"
    return match.group(1)


def props(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (kp("A"), "&kp A"),
        (binding("&mt", "LCTRL", "A"), "&mt LCTRL A"),
        (binding("&kp", {"value": "LC", "params": [{"value": "C"}]}), "&kp LC(C)"),
        (
            binding(
                "&sk",
                {"value": "LG", "params": [{"value": "LA", "params": [{"value": "LSHFT"}]}]},
            ),
            "&sk LG(LA(LSHFT))",
        ),
        (binding("&kp", {"value": "F", "params": [{"value": "A"}, {"value": 2}]}), "&kp F(A,2)"),
        (binding("&mo", 1), "&mo 1"),
        ({"value": "&none"}, "&none"),
        (binding("Custom", "&caps_word "), "&caps_word"),
        (binding("Custom", "&tog LAYER_Lower"), "&tog LAYER_Lower"),
        (binding("&magic"), "&magic LAYER_Magic 0"),
        (binding("&magic", "LAYER_Lower", 0), "&magic LAYER_Lower 0"),
        (binding("&reset"), "&sys_reset"),
        (binding("&bt_2"), "&bt_2"),
        (binding("&ht_full", "LSHFT"), "&ht_full LSHFT MACRO_PLACEHOLDER"),
        (binding("&ht_full"), "&ht_full MACRO_PLACEHOLDER MACRO_PLACEHOLDER"),
        (binding("&ht_full", "LSHFT", 1), "&ht_full LSHFT 1"),
        (binding("&two_param"), "&two_param MACRO_PLACEHOLDER MACRO_PLACEHOLDER"),
        (binding("&no_param"), "&no_param"),
    ],
)
def test_binding_forms_render_into_the_grid(key: dict[str, Any], expected: str) -> None:
    macros = [
        {"name": "&two_param", "bindings": [], "params": ["code", "layer"]},
        {"name": "&no_param", "bindings": []},
    ]
    document = make_layout(holdTaps=[HOLD_TAP_FULL], macros=macros)
    document["layer_names"].append("Magic")  # the layer a bare &magic holds
    document["layers"].append(layer())
    document["layers"][1][54] = key
    assert read_grid(keymap_of(document), "Lower")[54] == expected


def test_custom_text_keeps_its_spaces() -> None:
    from glovebox.layout.models import Binding
    from glovebox.layout.render import BindingRenderer

    custom = Binding.model_validate(binding("Custom", "&emoji  x "))
    assert BindingRenderer({})(custom) == "&emoji  x "


def test_decoration_and_unknown_metadata_are_ignored() -> None:
    plain = make_layout()
    decorated = make_layout(notes="n", tags=["x"], layout_parameters={}, future_field=1)
    decorated["layers"][0][3]["decoration"] = {"label": "three", "color": "#fff"}
    assert keymap_of(plain) == keymap_of(decorated)


def test_grid_columns_are_right_aligned_with_a_minimum_width() -> None:
    document = make_layout()
    document["layers"][1][10] = binding("Custom", "&a_rather_long_custom_binding 1 2")
    keymap = keymap_of(document)
    for layer_name in ("Base", "Lower"):
        assert all(len(ends) == 1 for ends in column_ends(keymap, layer_name))
    grid = keymap.split("layer_Lower {")[1].splitlines()[2:8]
    assert grid[0].startswith(" " + " " * 28 + "&mo 0  ")  # column 0 is 33 wide
    assert "  &trans  &trans" in grid[4]  # width 6, two spaces apart


def test_sections_come_in_editor_order_with_our_own_header() -> None:
    keymap = keymap_of(make_layout(title="My Glove80"))
    assert keymap.startswith("/*\n * My Glove80\n")
    assert "glovebox" in keymap.split("*/")[0]
    headings = [
        "/* Custom Device-tree */",
        "/* Input Listeners */",
        "/* System behavior and Macros */",
        "/* #define for key positions */",
        "/* Custom Defined Behaviors */",
        "/* Automatically generated macro definitions */",
        "/* Automatically generated behavior definitions */",
        "/* Automatically generated combos definitions */",
        "/* Automatically generated keymap */",
    ]
    offsets = [keymap.index(heading) for heading in headings]
    assert offsets == sorted(offsets)
    assert "#define LAYER_Base 0\n#define LAYER_Lower 1\n" in keymap
    assert keymap.index("layer_Base {") < keymap.index("layer_Lower {")
    assert keymap.endswith("    };\n};\n")


def test_system_behaviours_and_key_positions_are_defined() -> None:
    keymap = keymap_of(make_layout())
    for node in ("lower", "magic", "rgb_ug_status_macro", "bt_0", "bt_3", "bt_select_2"):
        assert f"{node}: {node} {{" in keymap
    assert props(block(keymap, "magic: magic")) == [
        'compatible = "zmk,behavior-hold-tap";',
        "#binding-cells = <2>;",
        'flavor = "tap-preferred";',
        "tapping-term-ms = <200>;",
        "bindings = <&mo>, <&rgb_ug_status_macro>;",
    ]
    defines = re.findall(r"#define (POS_\w+) (\d+)", keymap)
    assert len(defines) == 80
    assert sorted(int(n) for _, n in defines) == list(range(80))
    assert ("POS_LH_T1", "52") in defines
    assert ("POS_RH_C6R6", "79") in defines
    assert len(KEY_POSITIONS) == 80


def test_hold_tap_writes_every_property_in_order() -> None:
    keymap = keymap_of(make_layout(holdTaps=[HOLD_TAP_FULL]))
    assert "        // first line\n        //\n        // third line\n" in keymap
    assert props(block(keymap, "ht_full: ht_full")) == [
        'compatible = "zmk,behavior-hold-tap";',
        "#binding-cells = <2>;",
        "tapping-term-ms = <180>;",
        "bindings = <&kp>, <&mo>;",
        'flavor = "balanced";',
        "quick-tap-ms = <120>;",
        "require-prior-idle-ms = <90>;",
        "retro-tap;",
        "hold-while-undecided;",
        "hold-while-undecided-linger;",
        "hold-trigger-key-positions = <57 3 12>;",
        "hold-trigger-on-release;",
    ]


def test_hold_tap_omits_absent_options_and_false_flags() -> None:
    minimal = {"name": "&ht_min", "bindings": ["&kp", "&kp"], "retroTap": False}
    keymap = keymap_of(make_layout(holdTaps=[minimal]))
    assert props(block(keymap, "ht_min: ht_min")) == [
        'compatible = "zmk,behavior-hold-tap";',
        "#binding-cells = <2>;",
        "bindings = <&kp>, <&kp>;",
    ]


@pytest.mark.parametrize(
    ("params", "compatible"),
    [
        ([], "zmk,behavior-macro"),
        (["code"], "zmk,behavior-macro-one-param"),
        (["code", "layer"], "zmk,behavior-macro-two-param"),
    ],
)
def test_macro_cells_follow_its_params(params: list[str], compatible: str) -> None:
    macro = {
        "name": "&mac",
        "description": "types things",
        "waitMs": 0,
        "tapMs": 25,
        "params": params,
        "bindings": [
            binding("&macro_tap"),
            binding("&macro_param_1to1"),
            binding("&kp", "MACRO_PLACEHOLDER"),
            binding("&kp", {"value": "LS", "params": [{"value": "A"}]}),
        ],
    }
    keymap = keymap_of(make_layout(macros=[macro]))
    assert props(block(keymap, "mac: mac")) == [
        f'compatible = "{compatible}";',
        f"#binding-cells = <{len(params)}>;",
        "tap-ms = <25>;",
        "wait-ms = <0>;",
        "bindings = <&macro_tap>",
        ", <&macro_param_1to1>",
        ", <&kp MACRO_PLACEHOLDER>",
        ", <&kp LS(A)>;",
    ]


def test_macro_without_timings_omits_them() -> None:
    macro = {"name": "&quiet", "bindings": [kp("A")], "params": []}
    lines = props(block(keymap_of(make_layout(macros=[macro])), "quiet: quiet"))
    assert not any(line.startswith(("tap-ms", "wait-ms")) for line in lines)


def test_combos_with_and_without_layers() -> None:
    combos = [
        {
            "name": "both_thumbs",
            "description": "caps",
            "binding": kp("CAPS"),
            "keyPositions": [52, 57],
            "timeoutMs": 40,
            "layers": [0, 1],
        },
        {"name": "everywhere", "binding": kp("ESC"), "keyPositions": [1, 2], "layers": [-1]},
        {"name": "defaulted", "binding": binding("&reset"), "keyPositions": [3, 4]},
    ]
    keymap = keymap_of(make_layout(combos=combos))
    assert 'compatible = "zmk,combos";' in keymap
    assert props(block(keymap, "combo_both_thumbs")) == [
        "timeout-ms = <40>;",
        "key-positions = <52 57>;",
        "bindings = <&kp CAPS>;",
        "layers = <0 1>;",
    ]
    assert props(block(keymap, "combo_everywhere")) == [
        "key-positions = <1 2>;",
        "bindings = <&kp ESC>;",
    ]
    assert "bindings = <&sys_reset>;" in block(keymap, "combo_defaulted")


def test_no_combos_means_no_combos_node() -> None:
    assert "zmk,combos" not in keymap_of(make_layout())


def test_input_listeners_and_their_includes() -> None:
    listeners = [
        {
            "code": "&mmv_input_listener",
            "inputProcessors": [{"code": "&zip_xy_scaler", "params": [2, 1]}],
            "nodes": [
                {
                    "code": "slow_mouse",
                    "description": "slow pointer",
                    "layers": [1],
                    "inputProcessors": [{"code": "&zip_xy_scaler", "params": [1, 3]}],
                }
            ],
        }
    ]
    keymap = keymap_of(make_layout(inputListeners=listeners))
    assert props(block(keymap, "&mmv_input_listener")) == [
        "input-processors = <&zip_xy_scaler 2 1>;",
        "// slow pointer",
        "slow_mouse {",
        "layers = <1>;",
        "input-processors = <&zip_xy_scaler 1 3>;",
    ]
    on_demand = keymap.split("/* On demand includes */\n")[1].split("\n\n")[0]
    assert on_demand.splitlines() == [
        "#include <dt-bindings/zmk/input_transform.h>",
        "#include <dt-bindings/zmk/pointing.h>",
        "#include <input/processors.dtsi>",
    ]


def test_mouse_keys_need_only_the_pointing_include() -> None:
    plain = keymap_of(make_layout())
    assert "pointing.h" not in plain
    document = make_layout()
    document["layers"][1][7] = binding("&mmv", "MOVE_UP")
    keymap = keymap_of(document)
    assert keymap.count("#include <dt-bindings/zmk/pointing.h>") == 1
    assert "input_transform.h" not in keymap


def test_custom_text_is_passed_through_unchanged() -> None:
    behaviors = '    my_td: my_td {\n        compatible = "zmk,behavior-tap-dance";\n    };'
    devicetree = "&caps_word { continue-list = <UNDERSCORE>; }; /*HACK*//{ };"
    keymap = keymap_of(
        make_layout(custom_defined_behaviors=behaviors, custom_devicetree=devicetree)
    )
    assert f"/* Custom Device-tree */\n{devicetree}\n" in keymap
    assert f"/* Custom Defined Behaviors */\n/ {{\n{behaviors}\n}};" in keymap


def test_export_of_2023_without_behaviour_lists_compiles() -> None:
    document = make_layout()
    for field in ("holdTaps", "macros", "combos", "inputListeners"):
        document.pop(field, None)
    keymap = keymap_of(document)
    assert "layer_Lower {" in keymap


def test_conf_maps_known_names_and_comments_out_unknown_ones() -> None:
    parameters = [
        {"paramName": "HID_POINTING", "value": "y"},
        {"paramName": "DEEP_SLEEP", "value": "n"},
        {"paramName": "IDLE_TIMEOUT", "value": 60000},
        {"paramName": "CONFIG_BT_DEVICE_NAME", "value": 'Glove "80"'},
        {"paramName": "ZMK_HID_REPORT_TYPE_NKRO", "value": "y"},
        {"paramName": "SPARKLES", "value": "y"},
    ]
    conf = compile_layout(make_layout(config_parameters=parameters)).conf
    lines = conf.splitlines()
    assert lines[0].startswith("# ZMK configuration for Test layout")
    assert lines[1:] == [
        "CONFIG_ZMK_POINTING=y",
        "CONFIG_ZMK_SLEEP=n",
        "CONFIG_ZMK_IDLE_TIMEOUT=60000",
        'CONFIG_BT_DEVICE_NAME="Glove \\"80\\""',
        "CONFIG_ZMK_HID_REPORT_TYPE_NKRO=y",
        "# Warning: unknown parameter 'SPARKLES' is left commented out; "
        "use its Kconfig name (CONFIG_...) to set it",
        "# CONFIG_SPARKLES=y",
    ]


def test_conf_without_parameters_is_only_its_heading() -> None:
    assert compile_layout(make_layout()).conf.count("\n") == 1


@pytest.mark.parametrize("name", ["My Layer", "2nd", "Lower-ish", ""])
def test_layer_names_that_are_not_identifiers_are_refused(name: str) -> None:
    document = make_layout(layer_names=["Base", name])
    with pytest.raises(LayoutError) as caught:
        compile_layout(document)
    message = str(caught.value)
    assert message.startswith("layout: layer_names[1]: layer name")
    assert repr(name) in message
    assert "letters, digits and '_'" in message
    assert "\n" not in message


def test_duplicate_layer_names_and_count_mismatch_are_refused() -> None:
    with pytest.raises(LayoutError, match=r"layer_names\[1\]: .*already used by layer_names\[0\]"):
        compile_layout(make_layout(layer_names=["Base", "Base"]))
    with pytest.raises(LayoutError, match="lists 1 names but layers has 2 layers"):
        compile_layout(make_layout(layer_names=["Base"]))


def wrong(document: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    target: Any = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (wrong(make_layout(), ["layers", 1, 5, "value"], 42), r"layers\[1\]\[5\]\.value: .*42"),
        (
            wrong(make_layout(), ["layers", 0, 2, "params", 0, "value"], 1.5),
            r"layers\[0\]\[2\]\.params\[0\]\.value",
        ),
        (wrong(make_layout(), ["layers", 0], [kp("A")] * 79), r"layers\[0\]: .*80"),
        (wrong(make_layout(), ["layers", 1, 3], binding("Custom")), r"layers\[1\]\[3\]: a Custom"),
        (wrong(make_layout(), ["keyboard"], "corne"), r"keyboard: .*'glove80'"),
        (make_layout(holdTaps=[{**HOLD_TAP_FULL, "flavor": "fast"}]), r"holdTaps\[0\]\.flavor"),
        (make_layout(holdTaps=[{**HOLD_TAP_FULL, "name": "ht"}]), r"holdTaps\[0\]\.name: .*'&'"),
        (
            make_layout(holdTaps=[{**HOLD_TAP_FULL, "bindings": ["&kp"]}]),
            r"holdTaps\[0\]\.bindings",
        ),
        (
            make_layout(macros=[{"name": "&m", "bindings": [], "params": ["a", "b", "c"]}]),
            r"macros\[0\]\.params",
        ),
        (
            make_layout(holdTaps=[HOLD_TAP_FULL], macros=[{"name": "&ht_full", "bindings": []}]),
            r"macros\[0\]\.name: '&ht_full' is already defined by holdTaps\[0\]",
        ),
        (
            make_layout(combos=[{"name": "c", "binding": kp("A"), "keyPositions": [1, 80]}]),
            r"combos\[0\]\.keyPositions\[1\]",
        ),
        (
            make_layout(
                combos=[{"name": "c", "binding": kp("A"), "keyPositions": [1], "layers": [5]}]
            ),
            r"combos\[0\]\.layers\[0\]: layer 5 does not exist; use 0\.\.1",
        ),
        (
            make_layout(combos=[{"name": "a b", "binding": kp("A"), "keyPositions": [1]}]),
            r"combos\[0\]\.name",
        ),
        ({"layer_names": ["Base"]}, r"layers: required field is missing"),
    ],
)
def test_invalid_values_are_reported_with_their_json_path(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(LayoutError, match=message) as caught:
        compile_layout(document)
    assert str(caught.value).startswith("layout: ")
    assert "\n" not in str(caught.value)


def test_syntax_errors_name_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "layer_names": ["Base"],\n  "layers": [oops]\n}\n', encoding="utf-8")
    with pytest.raises(LayoutError, match=rf"^{re.escape(str(path))}:3:14: invalid JSON"):
        compile_layout(path)


def test_a_json_array_or_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(LayoutError, match=r"a layout is a JSON object .* got a JSON list"):
        compile_layout(path)
    with pytest.raises(LayoutError, match="layout file not found"):
        compile_layout(tmp_path / "absent.json")


def test_every_source_form_gives_the_same_result(tmp_path: Path) -> None:
    document = make_layout(holdTaps=[HOLD_TAP_FULL])
    path = tmp_path / "layout.json"
    path.write_text("\ufeff" + json.dumps(document, indent=3), encoding="utf-8")
    from_path = compile_layout(path, use_cache=False)
    from_str = compile_layout(str(path), use_cache=False)
    from_mapping = compile_layout(document, use_cache=False)
    from_model = compile_layout(LayoutDocument.model_validate(document), use_cache=False)
    assert from_path.keymap == from_str.keymap == from_mapping.keymap == from_model.keymap
    assert from_path.conf == from_mapping.conf == from_model.conf
    assert from_path.content_hash == from_mapping.content_hash
    assert not any(r.from_cache for r in (from_path, from_str, from_mapping, from_model))


def test_layers_are_reused_as_given_data_file() -> None:
    path = Path(__file__).parent / "data" / "layouts" / "two-layers.json"
    result = compile_layout(path)
    grid = read_grid(result.keymap, "Nav")
    assert grid[0] == "&kp LC(LS(TAB))"
    assert grid[1] == "&tog 0"
    assert read_grid(result.keymap, "Typing")[52] == "&lower"
