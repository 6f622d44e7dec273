"""Quoting user input in messages without echoing all of it.

A hostile or mistaken input (a 1 GiB string, a YAML alias expansion with millions of
nodes) must never be copied whole into an error message or a log line: ``quote`` shows
its start, bounded in length and nesting, and marks what was cut with ``...``.
"""

from __future__ import annotations

import reprlib

__all__ = ["QUOTE_LIMIT", "quote"]

QUOTE_LIMIT = 80

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = QUOTE_LIMIT + 2  # the quotes themselves
_repr.maxother = QUOTE_LIMIT
for _name in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
    setattr(_repr, _name, 8)


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` of at most ``limit`` characters plus ``...`` when it was longer.

    Strings are cut before ``repr`` sees them, and containers are shown only a few levels
    and items deep, so the cost does not depend on the size of ``value``.
    """
    if isinstance(value, str):
        text = repr(value[:limit])
        cut = len(value) > limit
        if len(text) > limit + 2:  # escapes made it longer than the characters shown
            text, cut = text[: limit + 1], True
        return text + "..." if cut else text
    try:
        text = _repr.repr(value)
    except Exception:  # a repr that fails (an int past the digit limit, say) is not shown
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."
