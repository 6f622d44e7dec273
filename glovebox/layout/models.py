"""The Glove80 Layout Editor's JSON export as pydantic models.

Only what compiling uses is validated; metadata the editor adds (uuid, date, notes, tags,
per-binding decoration and fields of later editor versions) is accepted and ignored.
Field names follow the export (``holdTaps``, ``keyPositions`` ...) through aliases.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

__all__ = [
    "KEY_COUNT",
    "Binding",
    "Combo",
    "ConfigParameter",
    "HoldTap",
    "InputListener",
    "InputProcessor",
    "LayoutDocument",
    "ListenerNode",
    "Macro",
    "Param",
]

KEY_COUNT = 80
"""Keys on a Glove80: every layer binds exactly this many."""

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
BEHAVIOR_REFERENCE = re.compile(r"&[A-Za-z_][A-Za-z0-9_]*\Z")
Flavor = Literal["hold-preferred", "balanced", "tap-preferred", "tap-unless-interrupted"]

Scalar = StrictStr | StrictInt
NonNegative = Annotated[StrictInt, Field(ge=0)]
KeyPosition = Annotated[StrictInt, Field(ge=0, lt=KEY_COUNT)]


class _Model(BaseModel):
    """Unknown fields are ignored, fields are read by alias or by name, instances are frozen."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class _Behavior(_Model):
    """A behaviour the layout defines; bindings refer to it by ``name`` (``&name``)."""

    name: StrictStr
    description: StrictStr = ""

    @field_validator("name")
    @classmethod
    def _reference(cls, value: str) -> str:
        return _behavior_name(value)


class Param(_Model):
    """One parameter of a binding; children express modifier functions: ``LC(C)``."""

    value: Scalar
    params: list[Param] = []


class Binding(_Model):
    """A behaviour and its parameters, e.g. ``&kp`` with ``A``; ``Custom`` holds raw text."""

    value: StrictStr
    params: list[Param] = []


class HoldTap(_Behavior):
    bindings: Annotated[list[StrictStr], Field(min_length=2, max_length=2)]
    tapping_term_ms: NonNegative | None = Field(None, alias="tappingTermMs")
    flavor: Flavor | None = None
    quick_tap_ms: NonNegative | None = Field(None, alias="quickTapMs")
    require_prior_idle_ms: NonNegative | None = Field(None, alias="requirePriorIdleMs")
    retro_tap: StrictBool = Field(False, alias="retroTap")
    hold_while_undecided: StrictBool = Field(False, alias="holdWhileUndecided")
    hold_while_undecided_linger: StrictBool = Field(False, alias="holdWhileUndecidedLinger")
    hold_trigger_key_positions: list[KeyPosition] | None = Field(
        None, alias="holdTriggerKeyPositions"
    )
    hold_trigger_on_release: StrictBool = Field(False, alias="holdTriggerOnRelease")


class Macro(_Behavior):
    wait_ms: NonNegative | None = Field(None, alias="waitMs")
    tap_ms: NonNegative | None = Field(None, alias="tapMs")
    bindings: list[Binding]
    params: Annotated[list[StrictStr], Field(max_length=2)] = []


class Combo(_Model):
    name: StrictStr
    description: StrictStr = ""
    binding: Binding
    key_positions: Annotated[list[KeyPosition], Field(min_length=1, alias="keyPositions")]
    timeout_ms: NonNegative | None = Field(None, alias="timeoutMs")
    layers: list[Annotated[StrictInt, Field(ge=-1)]] = [-1]

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError(
                f"combo name {value!r} is not usable as a devicetree node name; "
                "use letters, digits and '_', not starting with a digit"
            )
        return value


class InputProcessor(_Model):
    code: StrictStr
    params: list[StrictInt] = []


class ListenerNode(_Model):
    code: StrictStr
    description: StrictStr = ""
    layers: list[NonNegative] = []
    input_processors: list[InputProcessor] = Field([], alias="inputProcessors")


class InputListener(_Model):
    code: StrictStr
    input_processors: list[InputProcessor] = Field([], alias="inputProcessors")
    nodes: list[ListenerNode] = []


class ConfigParameter(_Model):
    param_name: StrictStr = Field(alias="paramName")
    value: Scalar


class LayoutDocument(_Model):
    """A whole layout as exported by the editor (2023 exports lack the behaviour lists)."""

    keyboard: Literal["glove80"] = "glove80"
    title: StrictStr = ""
    layer_names: list[StrictStr]
    layers: list[Annotated[list[Binding], Field(min_length=KEY_COUNT, max_length=KEY_COUNT)]]
    hold_taps: list[HoldTap] = Field([], alias="holdTaps")
    macros: list[Macro] = []
    combos: list[Combo] = []
    input_listeners: list[InputListener] = Field([], alias="inputListeners")
    custom_defined_behaviors: StrictStr = ""
    custom_devicetree: StrictStr = ""
    config_parameters: list[ConfigParameter] = []


def _behavior_name(value: str) -> str:
    if not BEHAVIOR_REFERENCE.match(value):
        raise ValueError(
            f"behavior name {value!r} must be '&' followed by a C identifier, like '&my_hold_tap'"
        )
    return value
