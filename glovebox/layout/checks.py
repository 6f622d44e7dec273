"""Rules a layout must meet for ZMK to build it, checked before anything is generated.

Each problem is reported as ``<JSON path>: <what is wrong and what is accepted>``:
behaviour references that neither ZMK (:mod:`glovebox.layout.zmk`) nor the layout defines,
wrong parameter counts, layer parameters outside the layout's layers, user behaviours named
like built-ins, too many layers, and ``.conf`` parameters that could not be written safely.
``Custom`` bindings are raw devicetree text and are not inspected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from glovebox.layout.conf import parameter_symbol
from glovebox.layout.models import BEHAVIOR_REFERENCE, Binding, LayoutDocument, Param
from glovebox.layout.render import CUSTOM, PLACEHOLDER
from glovebox.layout.zmk import BUILTIN_BEHAVIORS, MAX_LAYERS, Builtin, ParamKind

__all__ = ["config_warnings", "layout_problems"]

_KCONFIG_SYMBOL = re.compile(r"[A-Za-z0-9_]+\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INTEGER = re.compile(r"-?[0-9]+\Z")
# Names a devicetree source defines: node labels (``name: node {``), macro arguments
# (``ZMK_BEHAVIOR(name, ...)``) and #defines; references (``&name``) are excluded.
_DEFINED_WORD = re.compile(r"(?<![&\w])[A-Za-z_]\w*")
_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)")
_MAGIC_LAYER = "Magic"
_NO_KINDS = Builtin()


@dataclass(frozen=True, slots=True)
class _UserBehavior:
    cells: int
    where: str
    kinds: tuple[ParamKind | None, ...]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _Checker:
    def __init__(self, document: LayoutDocument) -> None:
        self._document = document
        self._layer_count = len(document.layers)
        self._layer_names = set(document.layer_names)
        self._user: dict[str, _UserBehavior] = {}
        for index, hold_tap in enumerate(document.hold_taps):
            # A hold-tap passes its first cell to its hold binding and its second to its tap
            # binding: where that binding takes a layer first (&mo, &to ...), so does the cell.
            kinds = tuple(_first_kind(binding) for binding in hold_tap.bindings)
            self._user[hold_tap.name] = _UserBehavior(2, f"holdTaps[{index}]", kinds)
        for index, macro in enumerate(document.macros):
            cells = len(macro.params)
            self._user[macro.name] = _UserBehavior(cells, f"macros[{index}]", (None,) * cells)

    @cached_property
    def _custom_words(self) -> frozenset[str]:
        text = f"{self._document.custom_defined_behaviors}\n{self._document.custom_devicetree}"
        return frozenset(_DEFINED_WORD.findall(text))

    @cached_property
    def _custom_defines(self) -> frozenset[str]:
        text = f"{self._document.custom_defined_behaviors}\n{self._document.custom_devicetree}"
        return frozenset(_DEFINE.findall(text))

    def _custom_defined(self, reference: str) -> bool:
        """Whether the layout's own devicetree text defines ``&name``."""
        return reference[1:] in self._custom_words

    def problems(self) -> Iterator[str]:
        document = self._document
        if self._layer_count > MAX_LAYERS:
            yield (
                f"layers: {self._layer_count} layers, but ZMK supports at most {MAX_LAYERS} "
                "(one bit per layer in its 32-bit layer state); merge or remove layers"
            )
        for field, names in (
            ("holdTaps", [h.name for h in document.hold_taps]),
            ("macros", [m.name for m in document.macros]),
        ):
            for index, name in enumerate(names):
                if name in BUILTIN_BEHAVIORS:
                    yield (
                        f"{field}[{index}].name: {name} is the name of a behaviour ZMK or the "
                        f"Glove80 keymap already defines; choose another name (e.g. "
                        f"'&my_{name[1:]}')"
                    )
        for index, hold_tap in enumerate(document.hold_taps):
            for position, reference in enumerate(hold_tap.bindings):
                yield from self._reference(reference, f"holdTaps[{index}].bindings[{position}]")
        for index, macro in enumerate(document.macros):
            for position, binding in enumerate(macro.bindings):
                if (problem := self._binding(binding)) is not None:
                    yield f"macros[{index}].bindings[{position}]: {problem}"
        # Thousands of keys repeat a few (behaviour, parameter count) pairs: one that passed
        # and takes no layer passes again, whatever its parameters.
        passed: set[tuple[str, int]] = set()
        for index, layer in enumerate(document.layers):
            for key, binding in enumerate(layer):
                seen = (binding.value, len(binding.params))
                if seen in passed:
                    continue
                if (problem := self._binding(binding)) is not None:
                    yield f"layers[{index}][{key}]: {problem}"
                elif not self._takes_a_layer(binding.value):
                    passed.add(seen)
        for index, combo in enumerate(document.combos):
            if (problem := self._binding(combo.binding)) is not None:
                yield f"combos[{index}].binding: {problem}"
        for index, listener in enumerate(document.input_listeners):
            for node_index, node in enumerate(listener.nodes):
                for position, layer_index in enumerate(node.layers):
                    if layer_index >= self._layer_count:
                        yield (
                            f"inputListeners[{index}].nodes[{node_index}].layers[{position}]: "
                            f"layer {layer_index} does not exist; {self._layer_range()}"
                        )
        yield from _config_problems(document)

    def _takes_a_layer(self, value: str) -> bool:
        user = self._user.get(value)
        kinds = user.kinds if user is not None else BUILTIN_BEHAVIORS.get(value, _NO_KINDS).params
        return "layer" in kinds

    def _layer_range(self) -> str:
        return f"this layout has layers 0..{self._layer_count - 1}"

    def _indices(self) -> str:
        return f"0..{self._layer_count - 1}"

    def _reference(self, reference: str, where: str) -> Iterator[str]:
        """A bare behaviour name, as a hold-tap's ``bindings`` hold them."""
        if not BEHAVIOR_REFERENCE.match(reference):
            yield f"{where}: {reference!r} is not a behaviour reference like '&kp'"
        elif not (
            reference in BUILTIN_BEHAVIORS
            or reference in self._user
            or self._custom_defined(reference)
        ):
            yield f"{where}: {self._unknown(reference)}"

    def _unknown(self, reference: str) -> str:
        return (
            f"{reference} is neither a ZMK behaviour nor defined by this layout (holdTaps, "
            "macros or its custom devicetree); check the spelling or define it"
        )

    def _binding(self, binding: Binding) -> str | None:
        """What is wrong with ``binding`` (without its JSON path), or None."""
        value, params = binding.value, binding.params
        count = len(params)
        builtin = BUILTIN_BEHAVIORS.get(value)
        user = self._user.get(value)
        kinds: Sequence[ParamKind | None]
        if user is not None:
            # Fewer parameters than cells are filled with MACRO_PLACEHOLDER, as the editor does.
            if count > user.cells:
                return (
                    f"{value} takes at most {_plural(user.cells, 'parameter')} "
                    f"(defined by {user.where}), got {count}"
                )
            kinds = user.kinds
        elif builtin is not None:
            if not builtin.accepts(count):
                noun = "parameter" if builtin.arity() == "1" else "parameters"
                hint = " (e.g. '&kp A')" if value == "&kp" and count == 0 else ""
                return f"{value} takes {builtin.arity()} {noun}, got {count or 'none'}{hint}"
            if value == "&magic" and count == 0 and _MAGIC_LAYER not in self._layer_names:
                return (
                    f"&magic without parameters holds the layer named '{_MAGIC_LAYER}', which "
                    f"this layout does not have; add a layer named '{_MAGIC_LAYER}' or give "
                    "&magic a layer and 0 (e.g. '&magic 2 0')"
                )
            kinds = builtin.params
        elif value == CUSTOM:
            return None
        elif not BEHAVIOR_REFERENCE.match(value):
            return (
                f"{value!r} is not a behaviour reference; write it like '&kp' "
                "(or use 'Custom' for raw devicetree text)"
            )
        elif self._custom_defined(value):
            return None
        else:
            return self._unknown(value)
        if "layer" in kinds:
            for param, kind in zip(params, kinds, strict=False):
                if kind == "layer" and (problem := self._layer_param(value, param)) is not None:
                    return problem
        return None

    def _layer_param(self, behavior: str, param: Param) -> str | None:
        value = param.value
        if param.params:
            return f"{behavior} needs a layer index, got a function {value!r}"
        if value == PLACEHOLDER:
            return None  # a macro's parameter, filled in where the macro is used
        if isinstance(value, str) and not _INTEGER.match(value):
            name = value[len("LAYER_") :] if value.startswith("LAYER_") else None
            if name in self._layer_names or value in self._custom_defines:
                return None
            return (
                f"{behavior} {value}: {value!r} is not a layer of this layout; use a layer "
                f"index ({self._indices()}) or LAYER_<name> of one of its layer_names"
            )
        index = int(value)
        if not 0 <= index < self._layer_count:
            return f"{behavior} {index}: layer {index} does not exist; {self._layer_range()}"
        return None


def _first_kind(reference: str) -> ParamKind | None:
    builtin = BUILTIN_BEHAVIORS.get(reference)
    return builtin.params[0] if builtin is not None and builtin.params else None


def _config_problems(document: LayoutDocument) -> Iterator[str]:
    for index, parameter in enumerate(document.config_parameters):
        where = f"config_parameters[{index}]"
        name = parameter.param_name
        if _CONTROL.search(name):
            yield (
                f"{where}.paramName: {name!r} contains a line break or control character; "
                "a parameter name is one Kconfig symbol such as 'HID_POINTING'"
            )
        elif not _KCONFIG_SYMBOL.match(name):
            yield (
                f"{where}.paramName: {name!r} is not a Kconfig symbol; use letters, digits "
                "and '_' (e.g. 'HID_POINTING' or 'CONFIG_ZMK_SLEEP')"
            )
        if isinstance(parameter.value, str) and _CONTROL.search(parameter.value):
            yield (
                f"{where}.value: {parameter.value!r} contains a line break or control "
                "character; a Kconfig value is one line (y, n, a number or text)"
            )


def layout_problems(document: LayoutDocument) -> list[str]:
    """Every problem that would stop ZMK building ``document``, each as ``path: message``."""
    return list(_Checker(document).problems())


def config_warnings(document: LayoutDocument) -> list[str]:
    """``config_parameters`` whose Kconfig symbol is unknown (left commented out)."""
    return [
        f"config_parameters[{index}].paramName: unknown parameter "
        f"'{parameter.param_name}' is written commented out in the .conf; use its Kconfig "
        f"name (e.g. CONFIG_{parameter.param_name}) to set it"
        for index, parameter in enumerate(document.config_parameters)
        if parameter_symbol(parameter.param_name) is None
    ]
