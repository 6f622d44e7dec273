"""Layout processing with its results cached by the content hash of the layout."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glovebox.core.cache_v2 import CacheManager
from glovebox.errors import GloveboxError

__all__ = ["LayoutError", "LayoutResult", "LayoutService", "ProcessedLayout", "layout_hash"]

logger = logging.getLogger(__name__)

# Bump when ProcessedLayout changes shape, so old cache entries are not misread.
_FORMAT = 1


class LayoutError(GloveboxError):
    """A layout file or document is not a usable keyboard layout."""


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


@dataclass(frozen=True, slots=True)
class LayoutResult:
    layout: ProcessedLayout
    from_cache: bool


def layout_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON form: key order and whitespace do not change it."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _behavior(binding: Any, where: str) -> str:
    if isinstance(binding, str) and binding.strip():
        return binding.split()[0]
    if isinstance(binding, Mapping) and isinstance(binding.get("value"), str):
        return str(binding["value"])
    raise LayoutError(
        f"{where}: a binding is a string like '&kp Q' or an object with a 'value', got {binding!r}"
    )


def _process(document: Mapping[str, Any], content_hash: str, source: str) -> ProcessedLayout:
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


class LayoutService:
    """Processes layouts; identical content is processed once per cache lifetime.

    The cache key is the content hash, so renaming or reformatting a file still hits,
    and any change to a binding misses.
    """

    def __init__(self, cache: CacheManager) -> None:
        self._cache = cache

    @property
    def cache(self) -> CacheManager:
        return self._cache

    def process(self, document: Mapping[str, Any], *, source: str = "layout") -> LayoutResult:
        """Process ``document`` or return the cached result for the same content."""
        if not isinstance(document, Mapping):
            raise LayoutError(f"{source}: a layout is a JSON object, got {type(document).__name__}")
        content_hash = layout_hash(document)
        key = f"processed:v{_FORMAT}:{content_hash}"
        cached = self._cache.get(key)
        if isinstance(cached, ProcessedLayout):
            logger.debug("layout %s served from cache", content_hash[:12])
            return LayoutResult(cached, from_cache=True)
        processed = _process(document, content_hash, source)
        self._cache.set(key, processed)
        return LayoutResult(processed, from_cache=False)

    def process_file(self, path: Path) -> LayoutResult:
        """Read a layout JSON file and process it (see :meth:`process`)."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LayoutError(f"{path}: layout file not found") from None
        except json.JSONDecodeError as exc:
            raise LayoutError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LayoutError(f"{path}: cannot read layout file: {exc}") from None
        return self.process(document, source=str(path))
