"""Configuration layers: one YAML file or the environment, with where each value came from.

A layer is plain data plus a way to describe the location of any YAML path in it
(``ci.yaml:7: cache.timeout`` or ``GLOVEBOX__CACHE__TIMEOUT``), so validation errors
point at the line or variable to fix. Reading a layer never writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from glovebox.config.sources import ENV_SETTING_PREFIX, REDIS_ENV_SETTINGS, REMOTE_ENV_SETTINGS
from glovebox.config.yaml_reader import MAX_FILE_BYTES, YamlLimitError, parse_yaml
from glovebox.errors import ConfigError
from glovebox.text import QUOTE_LIMIT, quote

__all__ = [
    "ConfigLayer",
    "environment_layer",
    "leaf_paths",
    "merge_layers",
    "read_yaml_layer",
    "shorten_path",
]


@dataclass(frozen=True)
class ConfigLayer:
    """The settings one source contributes, and where each of them is written."""

    label: str
    data: dict[str, Any]
    path: Path | None = None
    # YAML path ("cache.domains.layout.strategy") -> 1-based line, or -> env var name.
    locations: dict[str, int | str] = field(default_factory=dict)
    # True when values are text to parse (the environment), not typed YAML/Python values.
    text_values: bool = False

    def locate(self, yaml_path: str) -> str:
        """``<file>:<line>`` (line of the key, or of its nearest parent), or the env variable."""
        probe = yaml_path
        while True:
            where = self.locations.get(probe)
            if where is not None or "." not in probe:
                break
            probe = probe.rsplit(".", 1)[0]
        if isinstance(where, str):
            return where
        return f"{self.label}:{where}" if where is not None else self.label

    def describe(self, yaml_path: str) -> str:
        """``<file>:<line>: <yaml path>``, or ``<ENV VAR> (<yaml path>)`` for the environment."""
        location = self.locate(yaml_path)
        shown = shorten_path(yaml_path)
        if location in self.locations.values():
            return f"{location} ({shown})"
        return f"{location}: {shown}"


def _line_map(
    node: yaml.Node, prefix: str, out: dict[str, int | str], label: str, seen_nodes: set[int]
) -> None:
    """Record the line of every mapping key below ``node``; refuse duplicate keys.

    A node reached again through an alias is not walked twice: its keys keep the lines
    where the anchor wrote them, and the walk stays linear in the size of the file.
    """
    if not isinstance(node, yaml.MappingNode) or id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
        path = f"{prefix}.{key}" if prefix else key
        line = key_node.start_mark.line + 1
        if key in seen:
            # PyYAML silently keeps the last duplicate; a repeated key is almost always a
            # mistake whose first value the user believes is in effect.
            raise ConfigError(
                f"{label}:{line}: {shorten_path(path)}: key given twice in the same mapping"
            )
        seen.add(key)
        out[path] = line
        _line_map(value_node, path, out, label, seen_nodes)


def shorten_path(yaml_path: str) -> str:
    """``yaml_path`` for messages: any segment past 80 characters is cut and marked ``...``."""
    if len(yaml_path) <= QUOTE_LIMIT:
        return yaml_path
    parts = yaml_path.split(".")
    return ".".join(
        part if len(part) <= QUOTE_LIMIT else part[:QUOTE_LIMIT] + "..." for part in parts
    )


def _read_text(path: Path, label: str) -> str:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{label}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read configuration file: {exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(
            f"{label}: configuration file larger than {MAX_FILE_BYTES // 1024} KiB; "
            "is this the right file?"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{label}: cannot read configuration file: not UTF-8 text "
            f"(byte {exc.start}: {quote(raw[exc.start : exc.start + 4])})"
        ) from None


def _yaml_error(label: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    if len(problem) > 2 * QUOTE_LIMIT:
        problem = problem[: 2 * QUOTE_LIMIT] + "..."
    if isinstance(exc, YamlLimitError):
        return ConfigError(f"{where}: YAML refused: {problem}")
    return ConfigError(f"{where}: malformed YAML: {problem}")


def read_yaml_layer(path: Path) -> ConfigLayer:
    """Parse one YAML file. Errors name the file and, for malformed YAML, the line.

    Hostile files (deep nesting, alias bombs, huge files) are refused quickly by the
    bounds of :mod:`glovebox.config.yaml_reader`.
    """
    label = str(path)
    text = _read_text(path, label)
    try:
        data, node = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(label, exc) from None
    if data is None:
        return ConfigLayer(label, {}, path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label}:1: the top level must be a mapping of settings "
            f"(cache_path, cache_strategy, cache), got {type(data).__name__}"
        )
    locations: dict[str, int | str] = {}
    if node is not None:
        _line_map(node, "", locations, label, set())
    return ConfigLayer(label, data, path, locations)


def environment_layer(environ: Mapping[str, str]) -> ConfigLayer:
    """Settings from ``GLOVEBOX__<SECTION>__<KEY>`` variables (segments lower-cased), and
    ``GLOVEBOX_CACHE_REDIS_URL``/``GLOVEBOX_CACHE_REDIS_SECRET`` (``cache.redis.url``/``secret``).
    """
    data: dict[str, Any] = {}
    locations: dict[str, int | str] = {}
    for name, (section, group, key) in (REDIS_ENV_SETTINGS | REMOTE_ENV_SETTINGS).items():
        value = environ.get(name)
        if value is not None and value.strip():
            data.setdefault(section, {}).setdefault(group, {})[key] = value.strip()
            locations[f"{section}.{group}.{key}"] = name
    for name in sorted(environ):
        if not name.startswith(ENV_SETTING_PREFIX):
            continue
        parts = [part.lower() for part in name[len(ENV_SETTING_PREFIX) :].split("__")]
        if not all(parts):
            raise ConfigError(
                f"{name}: empty path segment; write settings as "
                f"{ENV_SETTING_PREFIX}CACHE__DOMAINS__LAYOUT__STRATEGY=memory"
            )
        target = data
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(parts)} conflicts with another variable")
            target = child
        target[parts[-1]] = environ[name]
        locations[".".join(parts)] = name
    return ConfigLayer("environment", data, None, locations, text_values=True)


def leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every non-mapping value (an empty mapping counts as a value)."""
    paths: list[str] = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            paths.extend(leaf_paths(value, path))
        else:
            paths.append(path)
    return paths


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def merge_layers(layers: list[ConfigLayer]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge mappings key by key, later layers winning; also where each leaf was set."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer.data)
        for path in leaf_paths(layer.data):
            origins[path] = layer.locate(path)
    return merged, origins
