"""The layout domain: processing keyboard layouts, cached by content."""

from glovebox.layout.service import (
    LayoutError,
    LayoutResult,
    LayoutService,
    ProcessedLayout,
    layout_hash,
)

__all__ = ["LayoutError", "LayoutResult", "LayoutService", "ProcessedLayout", "layout_hash"]
