"""The ``.conf`` generator: the layout's ``config_parameters`` as Kconfig lines."""

from __future__ import annotations

import re
from collections.abc import Sequence

from glovebox.layout.models import ConfigParameter

__all__ = ["KNOWN_PARAMETERS", "generate_conf", "kconfig_value", "parameter_symbol"]

KNOWN_PARAMETERS: dict[str, str] = {
    "HID_POINTING": "CONFIG_ZMK_POINTING",
    "DEEP_SLEEP": "CONFIG_ZMK_SLEEP",
    "IDLE_TIMEOUT": "CONFIG_ZMK_IDLE_TIMEOUT",
    "SLEEP_TIMEOUT": "CONFIG_ZMK_IDLE_SLEEP_TIMEOUT",
    "RGB_UNDERGLOW": "CONFIG_ZMK_RGB_UNDERGLOW",
    "RGB_UNDERGLOW_AUTO_OFF_IDLE": "CONFIG_ZMK_RGB_UNDERGLOW_AUTO_OFF_IDLE",
    "RGB_UNDERGLOW_AUTO_OFF_USB": "CONFIG_ZMK_RGB_UNDERGLOW_AUTO_OFF_USB",
    "COMBO_MAX_PRESSED_COMBOS": "CONFIG_ZMK_COMBO_MAX_PRESSED_COMBOS",
    "COMBO_MAX_COMBOS_PER_KEY": "CONFIG_ZMK_COMBO_MAX_COMBOS_PER_KEY",
    "COMBO_MAX_KEYS_PER_COMBO": "CONFIG_ZMK_COMBO_MAX_KEYS_PER_COMBO",
    "BLE_EXPERIMENTAL_CONN": "CONFIG_ZMK_BLE_EXPERIMENTAL_CONN",
    "BLE_PASSKEY_ENTRY": "CONFIG_ZMK_BLE_PASSKEY_ENTRY",
    "USB_LOGGING": "CONFIG_ZMK_USB_LOGGING",
    "MOUSE": "CONFIG_ZMK_MOUSE",
    # Names found in real editor exports; the evidence for each is in docs/decisions.md
    # ("Layout validation"): the symbols are declared in ZMK's and moergo-sc/zmk's Kconfig.
    "HID_POINTING_SMOOTH_SCROLLING": "CONFIG_ZMK_POINTING_SMOOTH_SCROLLING",
    "HID_NKRO": "CONFIG_ZMK_HID_REPORT_TYPE_NKRO",
    "EXPERIMENTAL_RGB_LAYER": "CONFIG_EXPERIMENTAL_RGB_LAYER",
    "BLE_BAS": "CONFIG_BT_BAS",
    "EXPERIMENTAL_RGB_UNDERGLOW_AUTO_OFF_USB": "CONFIG_ZMK_RGB_UNDERGLOW_AUTO_OFF_USB",
    "EXPERIMENTAL_RGB_UNDERGLOW_AUTO_OFF_IDLE": "CONFIG_ZMK_RGB_UNDERGLOW_AUTO_OFF_IDLE",
}
"""Editor parameter names and the ZMK Kconfig symbols they set."""

_WORD = re.compile(r"[ymn]\Z|-?[0-9]+\Z|0[xX][0-9a-fA-F]+\Z")


def kconfig_value(value: str | int) -> str:
    """A Kconfig right-hand side: ``y``/``n``/``m`` and numbers as given, other text quoted."""
    text = str(value)
    if _WORD.match(text) or (len(text) >= 2 and text[0] == text[-1] == '"'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parameter_symbol(name: str) -> str | None:
    """The Kconfig symbol for an editor parameter name, or None if it is unknown."""
    if name.startswith("CONFIG_"):
        return name
    if name.startswith("ZMK_"):
        return f"CONFIG_{name}"
    return KNOWN_PARAMETERS.get(name)


def generate_conf(parameters: Sequence[ConfigParameter], title: str) -> str:
    """The ``.conf`` text: one ``CONFIG_X=value`` line per parameter, in input order.

    A parameter whose name is not known is kept as a commented-out line under a warning,
    so the firmware build never sees a symbol that may not exist.
    """
    heading = title.replace("\n", " ").strip() or "untitled layout"
    lines = [f"# ZMK configuration for {heading}, compiled by glovebox from config_parameters\n"]
    for parameter in parameters:
        value = kconfig_value(parameter.value)
        symbol = parameter_symbol(parameter.param_name)
        if symbol is None:
            lines.append(
                f"# Warning: unknown parameter '{parameter.param_name}' is left commented out; "
                "use its Kconfig name (CONFIG_...) to set it\n"
            )
            lines.append(f"# CONFIG_{parameter.param_name}={value}\n")
        else:
            lines.append(f"{symbol}={value}\n")
    return "".join(lines)
