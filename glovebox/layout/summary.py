"""``layout show``: what a layout holds (title, layers, behaviour usage), cheaply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glovebox.layout.errors import LayoutError

__all__ = ["ProcessedLayout", "summarize"]


@dataclass(frozen=True, slots=True)
class ProcessedLayout:
    """What processing extracts from a layout document."""

    content_hash: str
    keyboard: str
    title: str
    layer_names: tuple[str, ...]
    keys_per_layer: tuple[int, ...]
    behaviors: tuple[tuple[str, int], ...]  # behavior (e.g. "&kp") -> uses, most used first

    @property
    def key_count(self) -> int:
        return sum(self.keys_per_layer)


def _behavior(binding: Any, where: str) -> str:
    if isinstance(binding, str) and binding.strip():
        return binding.split()[0]
    if isinstance(binding, Mapping) and isinstance(binding.get("value"), str):
        return str(binding["value"])
    raise LayoutError(
        f"{where}: a binding is a string like '&kp Q' or an object with a 'value', got {binding!r}"
    )


def summarize(document: Mapping[str, Any], content_hash: str, source: str) -> ProcessedLayout:
    """Title, layer names and behaviour usage of ``document``."""
    layers = document.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, list) for layer in layers):
        raise LayoutError(f"{source}: 'layers' must be a list of lists of bindings")
    names = document.get("layer_names") or [f"layer_{i}" for i in range(len(layers))]
    if not isinstance(names, list) or len(names) != len(layers):
        raise LayoutError(
            f"{source}: 'layer_names' must list one name per layer ({len(layers)} layers)"
        )
    usage: Counter[str] = Counter()
    for index, layer in enumerate(layers):
        for position, binding in enumerate(layer):
            usage[_behavior(binding, f"{source}: layers[{index}][{position}]")] += 1
    return ProcessedLayout(
        content_hash=content_hash,
        keyboard=str(document.get("keyboard", "unknown")),
        title=str(document.get("title", "")),
        layer_names=tuple(str(name) for name in names),
        keys_per_layer=tuple(len(layer) for layer in layers),
        behaviors=tuple(sorted(usage.items(), key=lambda item: (-item[1], item[0]))),
    )
