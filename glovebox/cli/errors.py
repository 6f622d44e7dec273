"""Validation errors worded for people: no pydantic prefixes or error-type tags."""

from __future__ import annotations

from typing import Any

__all__ = ["validation_message"]

_PREFIXES = ("Value error, ", "Assertion failed, ")


def validation_message(exc: Exception) -> str:
    """The messages of a pydantic ``ValidationError`` joined by ``; `` (``str(exc)``
    for other exceptions), without pydantic's ``Value error, `` style prefixes."""
    errors: Any = getattr(exc, "errors", None)
    messages: list[str] = []
    if callable(errors):
        for error in errors():
            message = str(error.get("msg", error)) if isinstance(error, dict) else str(error)
            for prefix in _PREFIXES:
                message = message.removeprefix(prefix)
            messages.append(message)
    return "; ".join(messages) or str(exc)
