"""Layouts ZMK would not build are refused before anything is generated, with the JSON path.

Each refusal is checked through the API here and, several at once, through the installed
script (exit code 2, one ``error:`` line per layout, no traceback).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from glovebox.layout import LayoutError, compile_layout
from glovebox.layout.zmk import BUILTIN_BEHAVIORS, MAX_LAYERS
from tests.layout_helpers import binding, kp, layer, make_layout, write_layout
from tests.test_layout_cli import run_script

HOLD_LAYER = {"name": "&hold_layer", "bindings": ["&mo", "&kp"]}
MACRO_ONE = {"name": "&one", "params": ["code"], "bindings": [binding("&kp", "MACRO_PLACEHOLDER")]}


def compile_(document: dict[str, Any]) -> Any:
    return compile_layout(document, use_cache=False)


def with_key(key: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The two-layer test layout (Base, Lower) with ``key`` at Lower's position 14."""
    document = make_layout(**fields)
    document["layers"][1][14] = key
    return document


def refused(document: dict[str, Any], message: str) -> None:
    with pytest.raises(LayoutError, match=message) as raised:
        compile_(document)
    assert "\n" not in str(raised.value)


# Layer references


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (binding("&mo", 9), r"layers\[1\]\[14\]: &mo 9: layer 9 does not exist; .* 0\.\.1"),
        (binding("&lt", 7, "A"), r"layers\[1\]\[14\]: &lt 7: layer 7 does not exist"),
        (binding("&tog", -1), r"layers\[1\]\[14\]: &tog -1: layer -1 does not exist"),
        (binding("&to", 2), r"&to 2: layer 2 does not exist"),
        (binding("&sl", 5), r"&sl 5: layer 5 does not exist"),
        (binding("&mo", "12"), r"&mo 12: layer 12 does not exist"),
        (binding("&tog", "LAYER_Nope"), r"'LAYER_Nope' is not a layer of this layout"),
        (binding("&mo", "Lower"), r"'Lower' is not a layer of this layout"),
        (binding("&magic", 4, 0), r"&magic 4: layer 4 does not exist"),
        (
            binding("&mo", {"value": "LC", "params": [{"value": "A"}]}),
            r"&mo needs a layer index, got a function 'LC'",
        ),
    ],
)
def test_layer_references_outside_the_layers_are_refused(key: dict[str, Any], message: str) -> None:
    refused(with_key(key), f"^layout: .*{message}")


@pytest.mark.parametrize(
    "key",
    [
        binding("&mo", 1),
        binding("&lt", 0, "A"),
        binding("&tog", "LAYER_Lower"),
        binding("&to", "1"),
        binding("&sl", 0),
        binding("&mo", "MY_LAYER"),  # a #define of the layout's custom devicetree
    ],
)
def test_layer_references_inside_the_layers_compile(key: dict[str, Any]) -> None:
    document = with_key(key, custom_devicetree="#define MY_LAYER 1\n")
    assert compile_(document).keymap


def test_a_user_hold_tap_holding_a_layer_is_checked_too() -> None:
    refused(
        with_key(binding("&hold_layer", 3, "A"), holdTaps=[HOLD_LAYER]),
        r"layers\[1\]\[14\]: &hold_layer 3: layer 3 does not exist",
    )
    assert compile_(with_key(binding("&hold_layer", 1, "A"), holdTaps=[HOLD_LAYER])).keymap


def test_combo_macro_and_input_listener_layers_are_checked() -> None:
    refused(
        make_layout(combos=[{"name": "c", "binding": binding("&mo", 5), "keyPositions": [1, 2]}]),
        r"combos\[0\]\.binding: &mo 5: layer 5 does not exist",
    )
    macro = {"name": "&go", "bindings": [binding("&to", 8)]}
    refused(make_layout(macros=[macro]), r"macros\[0\]\.bindings\[0\]: &to 8: layer 8")
    listener = {"code": "&mmv_input_listener", "nodes": [{"code": "n", "layers": [0, 6]}]}
    refused(
        make_layout(inputListeners=[listener]),
        r"inputListeners\[0\]\.nodes\[0\]\.layers\[1\]: layer 6 does not exist",
    )


def test_a_macro_may_pass_its_parameter_as_the_layer() -> None:
    macro = {
        "name": "&mo_macro",
        "params": ["layer"],
        "bindings": [binding("&mo", "MACRO_PLACEHOLDER")],
    }
    assert compile_(with_key(binding("&mo_macro", 1), macros=[macro])).keymap


# &magic


def test_bare_magic_needs_a_layer_named_magic() -> None:
    refused(
        with_key(binding("&magic")),
        r"layers\[1\]\[14\]: &magic without parameters holds the layer named 'Magic', "
        r"which this layout does not have",
    )
    document = with_key(binding("&magic"))
    document["layer_names"].append("Magic")
    document["layers"].append(layer())
    assert "&magic LAYER_Magic 0" in compile_(document).keymap
    assert compile_(with_key(binding("&magic", 1, 0))).keymap  # the layer is given


def test_magic_with_one_parameter_is_refused() -> None:
    refused(with_key(binding("&magic", 1)), r"&magic takes no or 2 parameters, got 1")


# Parameter counts


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (binding("&kp"), r"&kp takes 1 parameter, got none \(e\.g\. '&kp A'\)"),
        ({"value": "&kp"}, r"&kp takes 1 parameter, got none"),
        (binding("&kp", "A", "B"), r"&kp takes 1 parameter, got 2"),
        (binding("&mt", "LCTRL"), r"&mt takes 2 parameters, got 1"),
        (binding("&lt", 1), r"&lt takes 2 parameters, got 1"),
        (binding("&trans", "A"), r"&trans takes no parameters, got 1"),
        (binding("&bt"), r"&bt takes 1 or 2 parameters, got none"),
        (binding("&bt", "BT_SEL", 1, 2), r"&bt takes 1 or 2 parameters, got 3"),
        (
            binding("&hold_layer", 1, "A", "B"),
            r"&hold_layer takes at most 2 parameters "
            r"\(defined by holdTaps\[0\]\), got 3",
        ),
        (binding("&one", "A", "B"), r"&one takes at most 1 parameter \(defined by macros\[0\]\)"),
    ],
)
def test_wrong_parameter_counts_are_refused(key: dict[str, Any], message: str) -> None:
    document = with_key(key, holdTaps=[HOLD_LAYER], macros=[MACRO_ONE])
    refused(document, rf"^layout: layers\[1\]\[14\]: {message}")


def test_fewer_parameters_than_a_user_behaviours_cells_are_filled_in() -> None:
    # As the editor does: the missing cells become MACRO_PLACEHOLDER.
    document = with_key(binding("&hold_layer", 1), holdTaps=[HOLD_LAYER])
    assert "&hold_layer 1 MACRO_PLACEHOLDER" in compile_(document).keymap


def test_every_builtin_with_its_own_parameter_count_compiles() -> None:
    layout = make_layout()
    keys = []
    for name, builtin in BUILTIN_BEHAVIORS.items():
        params = [0 if kind == "layer" else "X" for kind in builtin.params]
        if name == "&magic":
            params = [1, 0]
        keys.append(binding(name, *params[: len(builtin.params) - builtin.optional]))
    layout["layers"][1][: len(keys)] = keys
    assert compile_(layout).keymap


# Behaviour references


def test_a_behaviour_nobody_defines_is_refused() -> None:
    refused(
        with_key(binding("&kpp", "A")),
        r"layers\[1\]\[14\]: &kpp is neither a ZMK behaviour nor defined by this layout",
    )
    refused(with_key(binding("kp", "A")), r"'kp' is not a behaviour reference; write it like '&kp'")
    hold_tap = {"name": "&ht", "bindings": ["&kp", "&no_such_macro"]}
    refused(
        make_layout(holdTaps=[hold_tap]),
        r"holdTaps\[0\]\.bindings\[1\]: &no_such_macro is neither a ZMK behaviour",
    )


def test_behaviours_the_layout_defines_itself_are_accepted() -> None:
    custom = (
        "/ {\n    behaviors {\n        my_td: my_td { bindings = <&kp A>, <&kp B>; };\n    };\n};"
    )
    document = with_key(binding("&my_td"), custom_defined_behaviors=custom, macros=[MACRO_ONE])
    document["layers"][1][15] = binding("&one", "A")
    assert compile_(document).keymap
    helper = with_key(binding("&hyper"), custom_defined_behaviors="ZMK_BEHAVIOR(hyper, macro, )")
    assert compile_(helper).keymap
    # A reference in the custom text is not a definition.
    refused(
        with_key(binding("&ghost"), custom_defined_behaviors="x: x { bindings = <&ghost>; };"),
        r"&ghost is neither a ZMK behaviour",
    )


@pytest.mark.parametrize(("field", "name"), [("macros", "&kp"), ("holdTaps", "&mo")])
def test_user_behaviours_named_like_builtins_are_refused(field: str, name: str) -> None:
    definition: dict[str, Any] = (
        {"name": name, "bindings": []}
        if field == "macros"
        else {"name": name, "bindings": ["&kp", "&kp"]}
    )
    refused(
        make_layout(**{field: [definition]}),
        rf"{field}\[0\]\.name: {name} is the name of a behaviour ZMK or the Glove80 keymap "
        "already defines; choose another name",
    )


# Layer count


def test_more_layers_than_zmk_supports_are_refused() -> None:
    names = [f"L{i}" for i in range(MAX_LAYERS + 1)]
    document = make_layout(layer_names=names, layers=[layer() for _ in names])
    refused(document, rf"^layout: layers: {MAX_LAYERS + 1} layers, but ZMK supports at most 32")
    document = make_layout(layer_names=names[:MAX_LAYERS], layers=[layer() for _ in names[:-1]])
    assert len(re.findall(r"#define LAYER_L[0-9]+ ", compile_(document).keymap)) == MAX_LAYERS


def test_several_problems_are_counted_on_the_one_line() -> None:
    document = with_key(binding("&mo", 9))
    document["layers"][0][3] = binding("&kp")
    refused(document, r"layers\[0\]\[3\]: &kp takes 1 parameter.* \(and 1 more problems\)$")


# .conf parameters


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (
            {"paramName": "FOO\nCONFIG_EVIL", "value": "y"},
            r"config_parameters\[1\]\.paramName: 'FOO\\nCONFIG_EVIL' contains a line break",
        ),
        (
            {"paramName": "HID_POINTING", "value": "y\nCONFIG_EVIL=y"},
            r"config_parameters\[1\]\.value: .* contains a line break",
        ),
        (
            {"paramName": "FOO BAR", "value": "y"},
            r"config_parameters\[1\]\.paramName: 'FOO BAR' is not a Kconfig symbol",
        ),
        ({"paramName": "", "value": "y"}, r"config_parameters\[1\]\.paramName: '' is not a"),
        (
            {"paramName": "HID-POINTING", "value": "y"},
            r"config_parameters\[1\]\.paramName: 'HID-POINTING' is not a Kconfig symbol",
        ),
    ],
)
def test_conf_parameters_that_could_not_be_written_safely_are_refused(
    parameter: dict[str, str], message: str
) -> None:
    parameters = [{"paramName": "HID_POINTING", "value": "y"}, parameter]
    refused(make_layout(config_parameters=parameters), f"^layout: {message}")


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("HID_POINTING_SMOOTH_SCROLLING", "CONFIG_ZMK_POINTING_SMOOTH_SCROLLING"),
        ("HID_NKRO", "CONFIG_ZMK_HID_REPORT_TYPE_NKRO"),
        ("EXPERIMENTAL_RGB_LAYER", "CONFIG_EXPERIMENTAL_RGB_LAYER"),
        ("BLE_BAS", "CONFIG_BT_BAS"),
        ("EXPERIMENTAL_RGB_UNDERGLOW_AUTO_OFF_USB", "CONFIG_ZMK_RGB_UNDERGLOW_AUTO_OFF_USB"),
    ],
)
def test_parameters_of_real_exports_are_written_live(name: str, symbol: str) -> None:
    result = compile_(make_layout(config_parameters=[{"paramName": name, "value": "y"}]))
    assert f"\n{symbol}=y\n" in result.conf
    assert "# CONFIG_" not in result.conf
    assert result.warnings == ()


def test_unknown_parameters_are_commented_out_with_a_warning_naming_the_path(
    tmp_path: Path,
) -> None:
    parameters = [
        {"paramName": "HID_POINTING", "value": "y"},
        {"paramName": "NOT_A_REAL_OPTION", "value": "y"},
    ]
    path = write_layout(tmp_path / "conf.json", make_layout(config_parameters=parameters))
    result = compile_layout(path, use_cache=False)
    assert "\n# CONFIG_NOT_A_REAL_OPTION=y\n" in result.conf
    assert result.warnings == (
        f"{path}: config_parameters[1].paramName: unknown parameter 'NOT_A_REAL_OPTION' is "
        "written commented out in the .conf; use its Kconfig name (e.g. "
        "CONFIG_NOT_A_REAL_OPTION) to set it",
    )
    # The warning survives the cache: a hit says the same.
    first = compile_layout(path)
    again = compile_layout(path)
    assert not first.from_cache
    assert again.from_cache
    assert again.warnings == result.warnings


# Deeply nested JSON


def test_deeply_nested_json_is_one_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(LayoutError, match=rf"^{path}: JSON nested too deeply"):
        compile_layout(path, use_cache=False)
    valid_but_deep = tmp_path / "valid.json"
    valid_but_deep.write_text("[" * 500 + "]" * 500, encoding="utf-8")
    with pytest.raises(LayoutError, match=rf"^{valid_but_deep}: JSON nested too deeply"):
        compile_layout(valid_but_deep, use_cache=False)


# compile_layout's default cache


def test_compile_layout_uses_the_layout_domains_cache_by_default(tmp_path: Path) -> None:
    from glovebox.core.cache_v2 import create_default_cache

    path = write_layout(tmp_path / "cached.json", make_layout())
    first = compile_layout(path)
    second = compile_layout(path)
    assert not first.from_cache
    assert second.from_cache
    assert second.keymap == first.keymap
    assert any(key.startswith("compiled:") for key in create_default_cache("layout").keys())
    other = write_layout(tmp_path / "uncached.json", make_layout(title="Other"))
    compile_layout(other, use_cache=False)
    assert not compile_layout(other, use_cache=False).from_cache


def test_an_unusable_layout_cache_costs_a_warning_not_the_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "bogus")
    path = write_layout(tmp_path / "layout.json", make_layout())
    with caplog.at_level(logging.WARNING, logger="glovebox.layout.service"):
        results = [compile_layout(path) for _ in range(2)]
    assert not any(result.from_cache for result in results)
    assert "layout cache unavailable, compiling without it: GLOVEBOX_CACHE_LAYOUT" in caplog.text


# Through the installed script


def test_script_refuses_each_bad_layout_with_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    names = [f"L{i}" for i in range(MAX_LAYERS + 1)]
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "layer_ref": (with_key(binding("&mo", 9)), "layers[1][14]: &mo 9: layer 9 does not exist"),
        "bare_kp": (with_key(binding("&kp")), "layers[1][14]: &kp takes 1 parameter, got none"),
        "unknown": (with_key(binding("&nope")), "layers[1][14]: &nope is neither a ZMK behaviour"),
        "named_kp": (
            make_layout(macros=[{"name": "&kp", "bindings": []}]),
            "macros[0].name: &kp is the name of a behaviour ZMK",
        ),
        "too_many_layers": (
            make_layout(layer_names=names, layers=[layer() for _ in names]),
            "layers: 33 layers, but ZMK supports at most 32",
        ),
        "magic": (with_key(binding("&magic")), "layers[1][14]: &magic without parameters"),
        "conf_newline": (
            make_layout(config_parameters=[{"paramName": "FOO\nCONFIG_EVIL", "value": "y"}]),
            "config_parameters[0].paramName: 'FOO\\nCONFIG_EVIL' contains a line break",
        ),
    }
    for name, (document, _) in cases.items():
        write_layout(bad / f"{name}.json", document)
    (bad / "deep.json").write_text("[" * 100_000, encoding="utf-8")
    result = run_script(tmp_path, "layout", "compile", "bad", "out")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(cases) + 1
    for name, (_, message) in cases.items():
        line = next(line for line in errors if f"{name}.json:" in line)
        assert message in line, line
    deep = next(line for line in errors if "deep.json" in line)
    assert f"{Path('bad', 'deep.json')}: JSON nested too deeply" in deep
    assert f"nothing written: {len(cases) + 1} of {len(cases) + 1} layouts failed" in result.stderr
    assert not (tmp_path / "out").exists()


def test_script_warns_about_unknown_conf_parameters_on_every_run(tmp_path: Path) -> None:
    parameters = [
        {"paramName": "BLE_BAS", "value": "y"},
        {"paramName": "MYSTERY", "value": "y"},
    ]
    write_layout(tmp_path / "conf.json", make_layout(config_parameters=parameters))
    for origin in ("compiled", "from cache"):
        result = run_script(tmp_path, "layout", "compile", "conf.json", "out")
        assert result.returncode == 0, result.stderr
        assert f"({origin})" in result.stdout
        assert result.stderr.splitlines() == [
            "warning: conf.json: config_parameters[1].paramName: unknown parameter 'MYSTERY' is "
            "written commented out in the .conf; use its Kconfig name (e.g. CONFIG_MYSTERY) "
            "to set it"
        ]
    conf = (tmp_path / "out" / "conf.conf").read_text(encoding="utf-8")
    assert "\nCONFIG_BT_BAS=y\n" in conf
    assert "\n# CONFIG_MYSTERY=y\n" in conf


def test_script_show_refuses_what_compile_refuses_and_prints_json(tmp_path: Path) -> None:
    short = make_layout()
    short["layers"][0] = short["layers"][0][:79]
    write_layout(tmp_path / "short.json", short)
    result = run_script(tmp_path, "layout", "show", "short.json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "error: short.json: layers[0]:" in result.stderr
    assert "80" in result.stderr

    write_layout(tmp_path / "good.json", with_key(kp("A")))
    shown = run_script(tmp_path, "layout", "show", "--json", "good.json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["schema_version"] == 1
    assert document["command"] == "layout show"
    assert document["file"] == str((tmp_path / "good.json").resolve())
    assert [layer["name"] for layer in document["layers"]] == ["Base", "Lower"]
    assert [layer["keys"] for layer in document["layers"]] == [80, 80]
    assert document["bindings"] == 160
    assert {"behavior": "&kp", "uses": 81} in document["behaviors"]
    assert document["cache"] == "stored"
    again = json.loads(run_script(tmp_path, "layout", "show", "--json", "good.json").stdout)
    assert again["cache"] == "hit"

    disabled = run_script(tmp_path, "layout", "show", "good.json", GLOVEBOX_CACHE_LAYOUT="disabled")
    assert disabled.returncode == 0, disabled.stderr
    assert "cache: disabled (summarised, nothing stored)" in disabled.stdout
    assert "stored in" not in disabled.stdout


def test_compile_usage_line_names_its_arguments_once(tmp_path: Path) -> None:
    result = run_script(tmp_path, "layout", "compile", "--help")
    assert result.returncode == 0
    assert "INPUT... OUTPUT_DIR" in result.stdout
    assert "INPUT...." not in result.stdout


# layout show through the API


def test_show_validates_like_compile_and_keeps_validated_summaries_apart(tmp_path: Path) -> None:
    from glovebox.core.cache_v2 import DisabledCache, create_diskcache_manager
    from glovebox.layout import LayoutService

    short = make_layout()
    short["layers"][1] = short["layers"][1][:79]
    path = write_layout(tmp_path / "short.json", short)
    service = LayoutService(DisabledCache("layout"))
    assert service.process_file(path).layout.keys_per_layer == (80, 79)  # summary only
    with pytest.raises(LayoutError, match=rf"^{path}: layers\[1\]: .*80"):
        service.process_file(path, validate=True)
    bad_ref = write_layout(tmp_path / "ref.json", with_key(binding("&mo", 9)))
    with pytest.raises(LayoutError, match=r"layers\[1\]\[14\]: &mo 9: layer 9 does not exist"):
        service.process_file(bad_ref, validate=True)

    good = write_layout(tmp_path / "good.json", make_layout())
    shown = service.process_file(good, validate=True)
    assert not shown.from_cache
    assert not shown.stored  # the cache is disabled
    with create_diskcache_manager(tmp_path / "cache", "layout") as cache:
        cached = LayoutService(cache)
        assert not cached.process_file(good).from_cache  # an unvalidated summary ...
        first = cached.process_file(good, validate=True)  # ... does not vouch for this one
        assert not first.from_cache
        assert first.stored
        assert cached.process_file(good, validate=True).from_cache


def test_a_cached_warning_names_the_file_being_compiled(tmp_path: Path) -> None:
    parameters = [{"paramName": "MYSTERY", "value": "y"}]
    first = write_layout(tmp_path / "first.json", make_layout(config_parameters=parameters))
    copy = write_layout(tmp_path / "copy.json", make_layout(config_parameters=parameters))
    assert compile_layout(first).warnings[0].startswith(f"{first}: config_parameters[0]")
    served = compile_layout(copy)
    assert served.from_cache
    assert served.warnings[0].startswith(f"{copy}: config_parameters[0].paramName: unknown")
