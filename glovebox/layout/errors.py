"""The layout domain's error."""

from __future__ import annotations

from glovebox.errors import GloveboxError

__all__ = ["LayoutError"]


class LayoutError(GloveboxError):
    """A layout file or document is not a usable keyboard layout.

    The message is one line naming the file, then the JSON line/column (syntax errors) or
    the JSON path (``layers[3][54]``), and what would be accepted.
    """
