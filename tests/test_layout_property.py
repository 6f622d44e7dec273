"""Property: any bindings rendered into a layer grid read back unchanged, key by key."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from glovebox.layout import compile_layout
from glovebox.layout.zmk import BUILTIN_BEHAVIORS
from tests.layout_helpers import KEYS, column_ends, make_layout, read_grid

NAMES = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True)
# User behaviours (ZMK's own have parameter rules of their own), defined in the layout's
# custom devicetree so that the layout is one ZMK would build.
BEHAVIORS = st.from_regex(r"&[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda name: name not in BUILTIN_BEHAVIORS
)
PARAMS = st.recursive(
    st.builds(lambda v: {"value": v, "params": []}, NAMES | st.integers(0, 9999)),
    lambda children: st.builds(
        lambda v, c: {"value": v, "params": c}, NAMES, st.lists(children, min_size=1, max_size=3)
    ),
    max_leaves=6,
)
BINDINGS = st.builds(
    lambda value, params: {"value": value, "params": params},
    BEHAVIORS,
    st.lists(PARAMS, max_size=3),
)


def expected_text(binding: dict[str, Any]) -> str:
    def param(p: dict[str, Any]) -> str:
        inner = ",".join(param(child) for child in p["params"])
        return f"{p['value']}({inner})" if p["params"] else str(p["value"])

    return " ".join([binding["value"], *(param(p) for p in binding["params"])])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(0, KEYS - 1), BINDINGS, min_size=1, max_size=16))
def test_random_bindings_survive_the_grid(placed: dict[int, dict[str, Any]]) -> None:
    names = sorted({binding["value"][1:] for binding in placed.values()})
    defined = "".join(f"    {name}: {name} {{ }};\n" for name in names)
    document = make_layout(custom_defined_behaviors=defined)
    bindings = [placed.get(key, {"value": "&trans", "params": []}) for key in range(KEYS)]
    document["layers"][1] = bindings
    keymap = compile_layout(document).keymap
    assert read_grid(keymap, "Lower") == [expected_text(b) for b in bindings]
    assert all(len(ends) == 1 for ends in column_ends(keymap, "Lower"))
