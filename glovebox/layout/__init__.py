"""The layout domain: Glove80 Layout Editor exports compiled to ZMK ``.keymap``/``.conf``.

``compile_layout(source)`` is the entry point; ``LayoutService`` does the same with the
domain's cache from the container. The pydantic input model (``LayoutDocument``) and
the summary (``ProcessedLayout``) are imported on first use, so commands that only hit
the cache do not pay for building them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glovebox.layout.errors import LayoutError
from glovebox.layout.service import (
    GENERATOR_VERSION,
    CompiledLayout,
    LayoutResult,
    LayoutService,
    LayoutSource,
    compile_layout,
    layout_hash,
)

if TYPE_CHECKING:
    from glovebox.layout.models import LayoutDocument
    from glovebox.layout.summary import ProcessedLayout

__all__ = [
    "GENERATOR_VERSION",
    "CompiledLayout",
    "LayoutDocument",
    "LayoutError",
    "LayoutResult",
    "LayoutService",
    "LayoutSource",
    "ProcessedLayout",
    "compile_layout",
    "layout_hash",
]


def __getattr__(name: str) -> Any:
    if name == "LayoutDocument":
        from glovebox.layout.models import LayoutDocument

        return LayoutDocument
    if name == "ProcessedLayout":
        from glovebox.layout.summary import ProcessedLayout

        return ProcessedLayout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
