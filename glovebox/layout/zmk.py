"""What ZMK itself provides to a Glove80 keymap: built-in behaviours and the layer limit.

This is the one list of behaviours a layout may use without defining them. Sources:

- ZMK's behaviour nodes, ``app/dts/behaviors/*.dtsi`` in zmkfirmware/zmk (included by
  ``app/dts/behaviors.dtsi``), with the parameters its docs (``docs/docs/keymaps/behaviors``)
  describe; MoErgo's fork (moergo-sc/zmk) includes the same files.
- The Glove80 system behaviours every generated ``.keymap`` defines (``&magic``,
  ``&lower``, ``&bt_0``..``&bt_3``, ``&rgb_ug_status_macro``, see
  :data:`glovebox.layout.glove80.SYSTEM_BEHAVIORS`), and the editor's name ``&reset`` for
  ZMK's ``&sys_reset``.

Parameters are counted as the editor writes them. ``&bt``, ``&rgb_ug`` and ``&bl`` have two
devicetree cells, but their commands are macros that fill both (``BT_CLR`` is
``BT_CLR_CMD 0``), so one written parameter is complete and a second is optional
(``&bt BT_SEL 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BUILTIN_BEHAVIORS", "MAX_LAYERS", "Builtin", "ParamKind"]

MAX_LAYERS = 32
"""Most layers a ZMK keymap can have.

ZMK keeps the active layers as one bit each in ``zmk_keymap_layers_state_t``, a
``uint32_t`` (``app/include/zmk/keymap.h`` in zmkfirmware/zmk and in moergo-sc/zmk), and
layer indices above 31 do not fit it (zmkfirmware/zmk pull request 2846, "Support for 64
layers", is still open).
"""

ParamKind = Literal["layer", "code", "value"]
"""``layer``: a layer index (checked against the layout's layers); ``code``: a keycode or
modifier function such as ``LC(C)``; ``value``: a command or number of that behaviour."""


@dataclass(frozen=True, slots=True)
class Builtin:
    """A behaviour ZMK (or every generated keymap) defines, and the parameters it takes."""

    params: tuple[ParamKind, ...] = ()
    optional: int = 0  # how many of the trailing ``params`` may be left out
    bare: bool = False  # also complete with no parameter (the generator fills them in)

    def accepts(self, count: int) -> bool:
        """Whether a binding may give ``count`` parameters."""
        most = len(self.params)
        return most - self.optional <= count <= most or (self.bare and count == 0)

    def arity(self) -> str:
        """``"1"``, ``"1 or 2"``, ``"no"``: for messages."""
        most = len(self.params)
        counts = [n for n in range(most + 1) if self.accepts(n)]
        words = ["no" if n == 0 else str(n) for n in counts]
        return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


_NONE = Builtin()
_CODE = Builtin(("code",))
_LAYER = Builtin(("layer",))
_VALUE = Builtin(("value",))
_COMMAND = Builtin(("value", "value"), optional=1)

BUILTIN_BEHAVIORS: dict[str, Builtin] = {
    # Keys and modifiers
    "&kp": _CODE,  # key_press.dtsi
    "&kt": _CODE,  # key_toggle.dtsi
    "&sk": _CODE,  # sticky_key.dtsi
    "&mt": Builtin(("code", "code")),  # mod_tap.dtsi: hold modifier, tap key
    "&gresc": _NONE,  # gresc.dtsi
    "&caps_word": _NONE,  # caps_word.dtsi
    "&key_repeat": _NONE,  # key_repeat.dtsi
    "&trans": _NONE,  # transparent.dtsi
    "&none": _NONE,  # none.dtsi
    # Layers: every parameter of kind "layer" is checked against the layout's layers
    "&mo": _LAYER,  # momentary_layer.dtsi
    "&lt": Builtin(("layer", "code")),  # layer_tap.dtsi: hold layer, tap key
    "&to": _LAYER,  # to_layer.dtsi
    "&tog": _LAYER,  # toggle_layer.dtsi
    "&sl": _LAYER,  # sticky_key.dtsi (sticky layer)
    # System, outputs, lighting
    "&sys_reset": _NONE,  # reset.dtsi
    "&bootloader": _NONE,  # reset.dtsi
    "&soft_off": _NONE,  # soft_off.dtsi
    "&studio_unlock": _NONE,  # studio_unlock.dtsi
    "&bt": _COMMAND,  # bluetooth.dtsi: BT_CLR, BT_SEL 1 ...
    "&out": _VALUE,  # outputs.dtsi: OUT_USB, OUT_BLE, OUT_TOG
    "&ext_power": _VALUE,  # ext_power.dtsi: EP_ON, EP_OFF, EP_TOG
    "&rgb_ug": _COMMAND,  # rgb_underglow.dtsi: RGB_TOG, RGB_COLOR_HSB(...); MoErgo: RGB_STATUS
    "&bl": _COMMAND,  # backlight.dtsi
    # Mouse emulation
    "&mkp": _VALUE,  # mouse_key_press.dtsi: LCLK, MB4 ...
    "&mmv": _VALUE,  # mouse_move.dtsi: MOVE_UP ...
    "&msc": _VALUE,  # mouse_scroll.dtsi: SCRL_UP ...
    # Macro steps (macros.dtsi), used inside macros
    "&macro_tap": _NONE,
    "&macro_press": _NONE,
    "&macro_release": _NONE,
    "&macro_pause_for_release": _NONE,
    "&macro_tap_time": _VALUE,
    "&macro_wait_time": _VALUE,
    "&macro_param_1to1": _NONE,
    "&macro_param_1to2": _NONE,
    "&macro_param_2to1": _NONE,
    "&macro_param_2to2": _NONE,
    # Glove80 system behaviours, defined by every generated keymap
    "&magic": Builtin(("layer", "value"), bare=True),  # bare: &magic LAYER_Magic 0
    "&lower": _NONE,
    "&bt_0": _NONE,
    "&bt_1": _NONE,
    "&bt_2": _NONE,
    "&bt_3": _NONE,
    "&rgb_ug_status_macro": _NONE,
    "&reset": _NONE,  # the editor's name; written as &sys_reset
}
"""Behaviour reference (``&kp``) -> the parameters it takes."""
