"""Parse configuration YAML with bounds, so a hostile file fails fast and cleanly.

A configuration file is a few dozen nodes a few levels deep. The bounds below are far
above that and far below what could hurt:

- nesting deeper than :data:`MAX_DEPTH` is refused while composing, before Python's
  recursion limit is anywhere near (PyYAML composes recursively);
- aliases are allowed (sharing one domain's settings with another is reasonable), but
  the document's size with every alias expanded is counted as it is composed and refused
  past :data:`MAX_NODES`, so a "billion laughs" document stops after a few thousand
  nodes instead of expanding exponentially later; an alias inside its own anchor (a
  cycle) is refused outright;
- files larger than :data:`MAX_FILE_BYTES` are not read, and an integer scalar longer
  than :data:`MAX_NUMBER_LENGTH` characters is refused (PyYAML's base-60 integers cost
  quadratic time in their length).

Exponents without a dot (``1e3``) are read as floats as in YAML 1.2; PyYAML's YAML 1.1
rules would make them strings.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.error import Mark
from yaml.nodes import Node, ScalarNode

from glovebox.config.sources import MAX_FILE_BYTES

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_NUMBER_LENGTH",
    "BoundedSafeLoader",
    "YamlLimitError",
    "parse_yaml",
]

MAX_DEPTH = 64
MAX_NODES = 10_000
MAX_NUMBER_LENGTH = 100


class YamlLimitError(yaml.MarkedYAMLError):
    """A document refused for its shape (too deep, too large, cyclic), not its syntax."""


def _mark(event: yaml.Event) -> Mark | None:
    mark = event.start_mark
    return mark if isinstance(mark, Mark) else None


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that enforces the module's depth and expanded-size bounds."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0  # nodes composed so far, counting every alias as its whole anchor
        self._anchor_sizes: dict[str, int] = {}
        self._open_anchors: set[str] = set()

    def _count(self, nodes: int, event: yaml.Event) -> None:
        self._expanded += nodes
        if self._expanded > MAX_NODES:
            raise YamlLimitError(
                problem=f"document too large: more than {MAX_NODES:,} nodes with aliases "
                "expanded (a configuration file needs a few dozen)",
                problem_mark=_mark(event),
            )

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise YamlLimitError(
                    problem="alias refers to a node that contains it (a cycle)",
                    problem_mark=_mark(event),
                )
            node = super().compose_node(parent, index)  # raises for an undefined alias
            self._count(self._anchor_sizes.get(str(event.anchor), 1), event)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(
                problem=f"nested more than {MAX_DEPTH} levels deep "
                "(a configuration file needs at most 5)",
                problem_mark=_mark(event),
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        before = self._expanded
        self._count(1, event)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
        if anchor is not None:
            self._anchor_sizes[anchor] = self._expanded - before
        return node

    def construct_bounded_int(self, node: ScalarNode) -> int:
        text = str(node.value)
        if len(text) > MAX_NUMBER_LENGTH:
            raise YamlLimitError(
                problem=f"number too long: {len(text):,} characters "
                f"(at most {MAX_NUMBER_LENGTH} are read)",
                problem_mark=node.start_mark,
            )
        return self.construct_yaml_int(node)


BoundedSafeLoader.add_constructor("tag:yaml.org,2002:int", BoundedSafeLoader.construct_bounded_int)
BoundedSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> tuple[Any, Node | None]:
    """The document's data and its node tree (for line numbers); raises ``yaml.YAMLError``.

    Text longer than :data:`MAX_FILE_BYTES` characters is refused before parsing.
    """
    if len(text) > MAX_FILE_BYTES:
        raise YamlLimitError(problem=f"document too large: more than {MAX_FILE_BYTES:,} characters")
    loader = BoundedSafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    return data, node
