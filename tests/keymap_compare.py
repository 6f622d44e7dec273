"""Semantic comparison of two ZMK ``.keymap`` texts made from a Glove80 layout.

Two files are *equivalent* when they define the same firmware: the same layers and bindings,
the same behaviour, macro, combo and input-listener nodes with the same properties, the same
custom devicetree text, the same key-position defines and the same set of includes. Comments,
whitespace, property order, the order of ``/ { }`` roots and of includes, ``label``
properties and the spellings that changed between editor versions are ignored.

``compare_keymaps(got, want)`` returns the differences as readable paths (an empty list means
equivalent). ``compare_layer_grids(got, want)`` is the stricter check that the text of every
layer's ``bindings`` grid is identical line by line (column alignment included).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest

__all__ = [
    "ORACLE_DIR",
    "ORACLE_MISSING",
    "KeymapModel",
    "PropValue",
    "compare_keymaps",
    "compare_layer_grids",
    "oracle_pairs",
    "parse_keymap",
    "split_sections",
    "strip_comments",
]

# --------------------------------------------------------------------------------------------
# Section anchors. Each section name maps to the heading texts that introduced it in the
# editor versions seen so far (a heading is a whole-line ``/* ... */`` comment, possibly
# indented).

_ANCHORS: dict[str, tuple[str, ...]] = {
    "custom_devicetree": ("Custom Device-tree",),
    "input_listeners": ("Input Listeners",),
    "system": ("System behavior and Macros", "Glove80 system behavior & macros"),
    "key_positions": ("#define for key positions", "Key positions"),
    "custom_behaviors": ("Custom Defined Behaviors",),
    "input_processors": ("Generated input processors",),
    "macros": ("Automatically generated macro definitions",),
    "behaviors": (
        "Automatically generated behavior definitions",
        "Automatically generated behaviour definitions",
    ),
    "combos": ("Automatically generated combos definitions",),
    "keymap": ("Automatically generated keymap",),
}

# Sections after the custom behaviours, in file order. They are located from the end of the
# file backwards, so that a heading-like line inside the (large, free-form) custom text can
# never be mistaken for the real heading.
_TAIL_SECTIONS = ("input_processors", "macros", "behaviors", "combos", "keymap")
_MIDDLE_SECTIONS = ("input_listeners", "system", "key_positions", "custom_behaviors")
_REQUIRED_SECTIONS = ("custom_devicetree", "system", "key_positions", "custom_behaviors", "keymap")
_CUSTOM_SECTIONS = ("custom_devicetree", "custom_behaviors")

_HEADING_RE = re.compile(r"^[ \t]*/\*[ \t]*(?P<text>.*?)[ \t]*\*/[ \t]*$", re.MULTILINE)
_DIRECTIVE_RE = re.compile(
    r"^[ \t]*#[ \t]*(?P<word>if|ifdef|ifndef|elif|else|endif|define|undef|include|pragma"
    r"|error|warning|line)\b(?P<rest>.*)$",
    re.DOTALL,
)
_LAYER_TOKEN_RE = re.compile(r"\bLAYER_\w+\b")
_MACRO_CALL_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_INT_RE = re.compile(r"^-?\d+$")

# Properties whose cell lists are sets (order carries no meaning in ZMK).
_SET_PROPERTIES = frozenset({"layers", "key-positions", "hold-trigger-key-positions"})
# Properties that only decorate the editor's view of a node.
_IGNORED_PROPERTIES = frozenset({"label"})
# Container nodes that mean nothing when empty (the editor writes them, or not, by version).
_CONTAINERS = frozenset({"behaviors", "macros", "combos"})

_MARK = "\x00"
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Comments and sections


def strip_comments(text: str) -> str:
    """Remove ``/* */`` and ``//`` comments outside double-quoted strings.

    A block comment is replaced by a space plus the newlines it spanned, so line-based
    preprocessor directives keep their own lines.
    """
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n) if j < n and text[j] == '"' else j
            out.append(text[i:j])
            i = j
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(" " + "\n" * text.count("\n", i, end))
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        else:
            j = i
            while j < n and text[j] != '"' and text[j] != "/":
                j += 1
            if j == i:
                out.append(c)
                j += 1
            else:
                out.append(text[i:j])
            i = j
    return "".join(out)


def split_sections(text: str) -> dict[str, str]:
    """Cut a keymap into its editor sections by heading.

    Returns a dict with ``head`` (everything before the custom devicetree) and one entry per
    heading found (see ``_ANCHORS``); absent sections are missing from the dict. Each value is
    the raw text between the end of its heading line and the start of the next heading.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    found: list[tuple[int, int, str]] = []  # (heading start, heading end, section name)
    by_name: dict[str, list[tuple[int, int]]] = {}
    for match in _HEADING_RE.finditer(text):
        heading = match.group("text")
        for name, variants in _ANCHORS.items():
            if heading in variants:
                by_name.setdefault(name, []).append((match.start(), match.end()))
    chosen: dict[str, tuple[int, int]] = {}
    first_dt = by_name.get("custom_devicetree")
    floor = first_dt[0][1] if first_dt else 0
    if first_dt:
        chosen["custom_devicetree"] = first_dt[0]
    limit = len(text) + 1
    for name in reversed(_MIDDLE_SECTIONS + _TAIL_SECTIONS):
        candidates = [span for span in by_name.get(name, []) if floor <= span[0] < limit]
        if candidates:
            chosen[name] = candidates[-1]
            limit = candidates[-1][0]
    found = sorted((span[0], span[1], name) for name, span in chosen.items())
    sections: dict[str, str] = {"head": text[: found[0][0]] if found else text}
    for index, (_start, end, name) in enumerate(found):
        stop = found[index + 1][0] if index + 1 < len(found) else len(text)
        sections[name] = text[end:stop]
    return sections


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _custom_body(name: str, raw: str) -> str:
    body = _collapse(raw)
    if name == "custom_behaviors":
        body = re.sub(r"^/\s*\{\s*", "", body)
        body = re.sub(r"\s*\}\s*;$", "", body)
    return body


# --------------------------------------------------------------------------------------------
# Devicetree reading


@dataclass(frozen=True)
class PropValue:
    """A property value in canonical form.

    ``flag``: a bare ``name;``; ``string``: one or more quoted strings; ``cells``: the cells of
    all ``<...>`` groups, split into bindings when they hold ``&`` references; ``set``: the
    same, order and repetition removed.
    """

    kind: Literal["flag", "string", "cells", "set"]
    items: tuple[str, ...] = ()

    def render(self) -> str:
        if self.kind == "flag":
            return "true"
        if self.kind == "string":
            return ", ".join(f'"{item}"' for item in self.items)
        if len(self.items) == 1:
            return self.items[0]
        if any(item.startswith("&") for item in self.items):
            return ", ".join(f"<{item}>" for item in self.items)
        return "<" + " ".join(self.items) + ">"


@dataclass
class _Node:
    path: str
    branch: str
    props: dict[str, PropValue] = field(default_factory=dict)


@dataclass
class KeymapModel:
    """What one ``.keymap`` defines, as read by :func:`parse_keymap`."""

    sections: dict[str, str]
    includes: set[str] = field(default_factory=set)
    layer_defines: dict[str, str] = field(default_factory=dict)
    fallback_defines: dict[str, str] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)
    nodes: dict[tuple[str, str], _Node] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def layer_map(self) -> dict[str, str]:
        merged = dict(self.fallback_defines)
        merged.update(self.layer_defines)
        return merged


def _tokens(cells: str) -> list[str]:
    """Split cell text at whitespace outside parentheses; collapse inner whitespace."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    for c in cells:
        if c.isspace() and depth == 0:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        if c == "(":
            depth += 1
        elif c == ")" and depth > 0:
            depth -= 1
        current.append(c)
    if current:
        tokens.append("".join(current))
    return [_collapse(token) for token in tokens]


def _group_bindings(tokens: list[str]) -> tuple[str, ...]:
    if not any(token.startswith("&") for token in tokens):
        return tuple(tokens)
    groups: list[list[str]] = []
    for token in tokens:
        if token.startswith("&") or not groups:
            groups.append([token])
        else:
            groups[-1].append(token)
    return tuple(" ".join(group) for group in groups)


def _read_string(text: str, i: int) -> int:
    """Return the index just past the string starting at ``text[i] == '"'``."""
    j = i + 1
    while j < len(text) and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, len(text))


def _read_balanced(text: str, i: int, opener: str, closer: str) -> int:
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c == '"':
            j = _read_string(text, j)
            continue
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return len(text)


def _outside_parentheses(raw: str, start: int, stop: str) -> int:
    """Index of the first ``stop`` at or after ``start`` not inside ``( )``, else ``len(raw)``."""
    depth = 0
    end = start
    while end < len(raw) and not (raw[end] == stop and depth == 0):
        if raw[end] == "(":
            depth += 1
        elif raw[end] == ")":
            depth -= 1
        end += 1
    return end


def _parse_value(raw: str) -> PropValue:
    strings: list[str] = []
    cell_tokens: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c.isspace() or c == ",":
            i += 1
        elif c == '"':
            end = _read_string(raw, i)
            strings.append(raw[i + 1 : end - 1])
            i = end
        elif c == "<":
            end = _outside_parentheses(raw, i + 1, ">")
            cell_tokens.extend(_tokens(raw[i + 1 : end]))
            i = end + 1
        else:
            end = _outside_parentheses(raw, i, ",")
            cell_tokens.append(_collapse(raw[i:end]))
            i = end
    if strings and not cell_tokens:
        return PropValue("string", tuple(strings))
    return PropValue("cells", _group_bindings(cell_tokens + [f'"{s}"' for s in strings]))


class _Reader:
    """A small devicetree reader for the generated (non-custom) parts of a keymap."""

    def __init__(self, model: KeymapModel) -> None:
        self.model = model
        self.conditions: list[str] = []
        self.open_paths: list[str] = []

    @property
    def branch(self) -> str:
        return " && ".join(self.conditions)

    def read(self, section: str, raw: str) -> None:
        self.conditions = []
        self.open_paths = []
        text, directives = self._mark_directives(strip_comments(raw))
        buf: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            if c == _MARK:
                end = text.index(_MARK, i + 1)
                self._directive(section, directives[int(text[i + 1 : end])])
                i = end + 1
            elif c == '"':
                end = _read_string(text, i)
                buf.append(text[i:end])
                i = end
            elif c == "<":
                end = _read_balanced(text, i, "<", ">")
                buf.append(text[i:end])
                i = end
            elif c == "(":
                end = _read_balanced(text, i, "(", ")")
                head = "".join(buf).strip()
                if _MACRO_CALL_RE.match(head):
                    self._macro_call(head, text[i + 1 : end - 1])
                    buf = []
                else:
                    buf.append(text[i:end])
                i = end
            elif c == "{":
                self._open("".join(buf).strip(), section)
                buf = []
                i += 1
            elif c == ";":
                self._statement("".join(buf).strip(), section)
                buf = []
                i += 1
            elif c == "}":
                self._close("".join(buf).strip(), section)
                buf = []
                i += 1
            else:
                buf.append(c)
                i += 1
        self._finish("".join(buf).strip(), section)

    def _close(self, leftover: str, section: str) -> None:
        if leftover:
            self._statement(leftover, section)
        if self.open_paths:
            self.open_paths.pop()
        else:
            self.model.problems.append(f"{section}: unbalanced '}}'")

    def _finish(self, leftover: str, section: str) -> None:
        if leftover:
            self.model.problems.append(f"{section}: unparsed text {leftover[:60]!r}")
        if self.open_paths:
            self.model.problems.append(f"{section}: unclosed node {self.open_paths[-1] or '/'}")

    @staticmethod
    def _mark_directives(text: str) -> tuple[str, list[str]]:
        lines = text.split("\n")
        out: list[str] = []
        directives: list[str] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            if _DIRECTIVE_RE.match(line):
                parts = [line]
                while parts[-1].rstrip().endswith("\\") and index + 1 < len(lines):
                    index += 1
                    parts.append(lines[index])
                out.append(f"{_MARK}{len(directives)}{_MARK}")
                directives.append(" ".join(part.rstrip().rstrip("\\") for part in parts))
            else:
                out.append(line)
            index += 1
        return "\n".join(out), directives

    def _directive(self, section: str, line: str) -> None:
        match = _DIRECTIVE_RE.match(line)
        if match is None:  # pragma: no cover - only marked lines reach here
            return
        word, rest = match.group("word"), _collapse(match.group("rest"))
        if word == "ifdef":
            self.conditions.append(rest)
        elif word == "ifndef":
            self.conditions.append(f"!{rest}")
        elif word == "if":
            self.conditions.append(f"({rest})")
        elif word in ("else", "elif"):
            if not self.conditions:
                self.model.problems.append(f"{section}: #{word} without #if")
                return
            last = self.conditions.pop()
            negated = last[1:] if last.startswith("!") else f"!{last}"
            self.conditions.append(negated if word == "else" else f"{negated} && ({rest})")
        elif word == "endif":
            if self.conditions:
                self.conditions.pop()
            else:
                self.model.problems.append(f"{section}: #endif without #if")
        elif word == "include":
            self.model.includes.add(rest)
        elif word == "define":
            self._define(section, rest)

    def _define(self, section: str, rest: str) -> None:
        parts = rest.split(None, 1)
        if not parts:
            return
        name = parts[0]
        value = parts[1] if len(parts) > 1 else ""
        if name.startswith("LAYER_") and section == "head":
            if not self.conditions:
                self.model.layer_defines.setdefault(name, value)
            elif self.conditions == [f"!{name}"]:
                self.model.fallback_defines.setdefault(name, value)
        elif name.startswith("POS_") and section == "key_positions":
            self.model.positions[name] = value

    def _path(self, name: str) -> str:
        parent = self.open_paths[-1] if self.open_paths else ""
        if name == "/" and not self.open_paths:
            return ""
        return f"{parent}/{name}" if parent else name

    def _node(self, path: str) -> _Node:
        key = (path, self.branch)
        node = self.model.nodes.get(key)
        if node is None:
            node = _Node(path, self.branch)
            self.model.nodes[key] = node
        return node

    def _open(self, header: str, section: str) -> None:
        header = _collapse(header)
        if not header:
            self.model.problems.append(f"{section}: node without a name")
            header = "?"
        name = header.rsplit(":", 1)[-1].strip() if not header.startswith("&") else header
        path = self._path(name)
        self._node(path)
        self.open_paths.append(path)

    def _statement(self, statement: str, section: str) -> None:
        if not statement:
            return
        if not self.open_paths:
            self.model.problems.append(f"{section}: statement outside a node {statement[:60]!r}")
            return
        node = self._node(self.open_paths[-1])
        name, sep, value = statement.partition("=")
        name = name.strip()
        if not sep:
            node.props[name] = PropValue("flag")
        else:
            node.props[name] = _parse_value(value)

    def _macro_call(self, macro: str, args: str) -> None:
        arguments = [_collapse(arg) for arg in args.split(",")]
        if macro == "ZMK_TD_LAYER" and len(arguments) == 2 and self.open_paths:
            # zmk-helpers' layer tap-dance: a tap-dance node with &mo then &to on the layer.
            name, layer = arguments
            parent_path = self.open_paths[-1]
            self.open_paths.append(f"{parent_path}/{name}" if parent_path else name)
            node = self._node(self.open_paths[-1])
            node.props["compatible"] = PropValue("string", ("zmk,behavior-tap-dance",))
            node.props["#binding-cells"] = PropValue("cells", ("0",))
            node.props["tapping-term-ms"] = PropValue("cells", ("200",))
            node.props["bindings"] = PropValue("cells", (f"&mo {layer}", f"&to {layer}"))
            self.open_paths.pop()
            return
        if self.open_paths:
            node = self._node(self.open_paths[-1])
            node.props[f"{macro}(...)"] = PropValue("cells", tuple(arguments))
        else:
            self.model.problems.append(f"macro call {macro} outside a node")


def _sort_key(item: str) -> tuple[int, int, str]:
    return (0, int(item), "") if _INT_RE.match(item) else (1, 0, item)


def _canonicalise(model: KeymapModel) -> None:
    layer_map = model.layer_map

    def substitute(item: str) -> str:
        return _LAYER_TOKEN_RE.sub(lambda m: layer_map.get(m.group(0), m.group(0)), item)

    all_layers = {str(i) for i in range(len(model.layer_defines))}
    parents = {node.path.rsplit("/", 1)[0] for node in model.nodes.values() if "/" in node.path}
    for key, node in list(model.nodes.items()):
        for prop in list(node.props):
            value = node.props[prop]
            if prop in _IGNORED_PROPERTIES:
                del node.props[prop]
                continue
            if value.kind != "cells":
                continue
            items = tuple(substitute(item) for item in value.items)
            if prop in _SET_PROPERTIES:
                node.props[prop] = PropValue("set", tuple(sorted(set(items), key=_sort_key)))
            else:
                node.props[prop] = PropValue("cells", items)
        leaf = node.path.rsplit("/", 1)[-1]
        in_combos = node.path.rsplit("/", 1)[0].endswith("combos") and "/" in node.path
        layers = node.props.get("layers")
        if in_combos and layers is not None and set(layers.items) == all_layers:
            del node.props["layers"]  # every layer spelled out == no `layers` property
        empty_root = node.path == "" and not node.props
        empty_container = (
            leaf in _CONTAINERS and node.path not in parents and set(node.props) <= {"compatible"}
        )
        if empty_root or empty_container:
            del model.nodes[key]


def parse_keymap(text: str) -> KeymapModel:
    """Read one keymap text into a :class:`KeymapModel`."""
    sections = split_sections(text)
    model = KeymapModel(sections=sections)
    reader = _Reader(model)
    for name, raw in sections.items():
        if name not in _CUSTOM_SECTIONS:
            reader.read(name, raw)
    _canonicalise(model)
    return model


# --------------------------------------------------------------------------------------------
# Comparison


def _describe(key: tuple[str, str]) -> str:
    path, branch = key
    return f"{path or '/'} [#if {branch}]" if branch else (path or "/")


def _split_key(key: tuple[str, str]) -> tuple[str, str]:
    path, branch = key
    parent, _, name = path.rpartition("/")
    where = parent or "/"
    if branch:
        where = f"{where} [#if {branch}]"
    return where, name or "/"


def _compare_mapping(
    label: str, got: dict[str, str], want: dict[str, str], *, by_name: bool = False
) -> list[str]:
    """Missing, unexpected and changed names: in ``want``'s order then ``got``'s, or sorted."""
    diffs: list[str] = []
    order = _ordered_union(sorted(want), sorted(got)) if by_name else _ordered_union(want, got)
    for name in order:
        if name not in got:
            diffs.append(f"{label}: missing {name}")
        elif name not in want:
            diffs.append(f"{label}: unexpected {name}")
        elif got[name] != want[name]:
            diffs.append(f"{label}: {name} got {got[name]}, want {want[name]}")
    return diffs


def _ordered_union(first: Iterable[_T], second: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys([*first, *second]))


def _first_difference(got: str, want: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    start = max(0, index - 20)
    return (
        f"got {len(got)} chars, want {len(want)}; first difference at char {index}: "
        f"got {got[start : index + 40]!r}, want {want[start : index + 40]!r}"
    )


def _layers(model: KeymapModel) -> list[tuple[str, _Node]]:
    layers: list[tuple[str, _Node]] = []
    for (path, branch), node in model.nodes.items():
        parts = path.split("/")
        if len(parts) == 2 and parts[0] == "keymap" and not branch:
            name = parts[1].removeprefix("layer_")
            layers.append((name, node))
    return layers


def _compare_layers(got: KeymapModel, want: KeymapModel) -> list[str]:
    diffs: list[str] = []
    got_layers, want_layers = _layers(got), _layers(want)
    got_names = [name for name, _ in got_layers]
    want_names = [name for name, _ in want_layers]
    if got_names != want_names:
        diffs.append(f"layers: got {got_names}, want {want_names}")
    for index, (want_name, want_node) in enumerate(want_layers):
        if index >= len(got_layers):
            break
        got_bindings = got_layers[index][1].props.get("bindings", PropValue("cells")).items
        want_bindings = want_node.props.get("bindings", PropValue("cells")).items
        if len(got_bindings) != len(want_bindings):
            diffs.append(
                f"layer {want_name}: got {len(got_bindings)} bindings, want {len(want_bindings)}"
            )
        for key, (a, b) in enumerate(zip(got_bindings, want_bindings, strict=False)):
            if a != b:
                diffs.append(f"layer {want_name}, key {key}: got {a!r}, want {b!r}")
    return diffs


def _compare_nodes(got: KeymapModel, want: KeymapModel) -> list[str]:
    diffs: list[str] = []

    def is_layer(key: tuple[str, str]) -> bool:
        return key[0].startswith("keymap/") and key[0].count("/") == 1 and not key[1]

    for node_key in _ordered_union(want.nodes, got.nodes):
        got_node, want_node = got.nodes.get(node_key), want.nodes.get(node_key)
        if (got_node is None or want_node is None) and is_layer(node_key):
            continue  # layer presence and order are reported by _compare_layers
        if got_node is None or want_node is None:
            where, name = _split_key(node_key)
            word = "missing" if got_node is None else "unexpected"
            diffs.append(f"{where}: {word} {name}")
            continue
        label = _describe(node_key)
        for prop in _ordered_union(want_node.props, got_node.props):
            if is_layer(node_key) and prop == "bindings":
                continue  # compared key by key in _compare_layers
            a, b = got_node.props.get(prop), want_node.props.get(prop)
            if a is None:
                diffs.append(f"{label}: missing {prop}")
            elif b is None:
                diffs.append(f"{label}: unexpected {prop}")
            elif a != b:
                diffs.append(f"{label}: {prop} {a.render()} != {b.render()}")
    return diffs


def compare_keymaps(got: str, want: str) -> list[str]:
    """Return the semantic differences between two keymap texts; ``[]`` means equivalent.

    Each difference is one line naming where it is, for example
    ``layer Magic, key 54: got '&tog 24', want '&tog 25'``,
    ``behaviors/HRM_x: quick-tap-ms 300 != 250`` or ``combos: missing combo_esc``.
    """
    got_model, want_model = parse_keymap(got), parse_keymap(want)
    diffs: list[str] = [f"got: {problem}" for problem in got_model.problems]
    diffs += [f"want: {problem}" for problem in want_model.problems]
    for name in _REQUIRED_SECTIONS:
        if name in want_model.sections and name not in got_model.sections:
            diffs.append(f"sections: missing the {_ANCHORS[name][0]!r} heading")
    for name in sorted(got_model.includes - want_model.includes):
        diffs.append(f"includes: unexpected {name}")
    for name in sorted(want_model.includes - got_model.includes):
        diffs.append(f"includes: missing {name}")
    diffs += _compare_mapping("layer defines", got_model.layer_defines, want_model.layer_defines)
    if list(got_model.layer_defines) != list(want_model.layer_defines):
        got_order, want_order = list(got_model.layer_defines), list(want_model.layer_defines)
        if set(got_order) == set(want_order):
            diffs.append(f"layer defines: order {got_order} != {want_order}")
    fallback = "layer defines fallback"
    diffs += _compare_mapping(fallback, got_model.fallback_defines, want_model.fallback_defines)
    diffs += _compare_mapping(
        "key positions", got_model.positions, want_model.positions, by_name=True
    )
    for name in _CUSTOM_SECTIONS:
        got_text = _custom_body(name, got_model.sections.get(name, ""))
        want_text = _custom_body(name, want_model.sections.get(name, ""))
        if got_text != want_text:
            title = "custom devicetree" if name == "custom_devicetree" else "custom behaviors"
            diffs.append(f"{title}: text differs ({_first_difference(got_text, want_text)})")
    diffs += _compare_nodes(got_model, want_model)
    diffs += _compare_layers(got_model, want_model)
    return diffs


# --------------------------------------------------------------------------------------------
# Grid fidelity

_GRID_RE = re.compile(
    r"^[ \t]*layer_(?P<name>\w+)[ \t]*\{[ \t]*\n[ \t]*bindings[ \t]*=[ \t]*<[ \t]*\n"
    r"(?P<grid>.*?)\n[ \t]*>[ \t]*;",
    re.MULTILINE | re.DOTALL,
)


def _grids(text: str) -> dict[str, list[str]]:
    keymap = split_sections(text).get("keymap", "")
    return {m.group("name"): m.group("grid").split("\n") for m in _GRID_RE.finditer(keymap)}


def compare_layer_grids(got: str, want: str) -> list[str]:
    """Compare each layer's ``bindings`` grid text line by line, alignment included."""
    got_grids, want_grids = _grids(got), _grids(want)
    diffs: list[str] = []
    if list(got_grids) != list(want_grids):
        diffs.append(f"layer grids: got layers {list(got_grids)}, want {list(want_grids)}")
    for name, want_lines in want_grids.items():
        got_lines = got_grids.get(name)
        if got_lines is None:
            continue
        if len(got_lines) != len(want_lines):
            diffs.append(f"layer {name}: got {len(got_lines)} grid lines, want {len(want_lines)}")
        for number, (a, b) in enumerate(zip(got_lines, want_lines, strict=False), start=1):
            if a != b:
                diffs.append(f"layer {name}, grid line {number}: got {a!r}, want {b!r}")
    return diffs


# --------------------------------------------------------------------------------------------
# Where the editor's reference pairs live (next to the repository, never inside it)

ORACLE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "layout-oracle"
ORACLE_MISSING = (
    "../shared/layout-oracle not found: the Glove80 editor reference pairs are not available"
)


def oracle_pairs(names: Iterable[str] | None = None) -> list[Any]:
    """``pytest.param`` per pair folder (all found, or the given names).

    When the folder is absent, one skipped parameter carries the reason instead, so the
    parametrized tests show why they did not run.
    """
    if not ORACLE_DIR.is_dir():
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=ORACLE_MISSING))]
    if names is None:
        folders = sorted(p for p in ORACLE_DIR.iterdir() if (p / "layout.json").is_file())
    else:
        folders = [ORACLE_DIR / name for name in names]
    return [pytest.param(folder, id=folder.name) for folder in folders]
