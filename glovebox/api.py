"""Plain functions for scripts and notebooks; their services come from the container.

After ``containers.bootstrap()`` (which wires this module), call them without the
service arguments. Tests and callers without a container pass the service explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dependency_injector.wiring import Provide, Provider, inject

# Wiring imports this module at start-up: the services are imported by the container
# when it builds them (and compile_layout by the function that uses it), not here.
if TYPE_CHECKING:
    from glovebox.layout import CompiledLayout, LayoutResult, LayoutService
    from glovebox.metrics import MetricsService

__all__ = ["compile_layout_file", "process_layout_file"]


@inject
def process_layout_file(
    path: Path,
    layout_service: LayoutService = Provide["layout_service"],
    metrics: MetricsService = Provide["metrics_service"],
    *,
    validate: bool = False,
) -> LayoutResult:
    """Process a layout JSON file (cached by content) and count it in the metrics.

    With ``validate=True`` the layout must also pass every check a compile makes.
    """
    with metrics.timed("layout.process"):
        result = layout_service.process_file(path, validate=validate)
    metrics.increment("layout.cache_hits" if result.from_cache else "layout.cache_misses")
    return result


@inject
def compile_layout_file(
    path: Path,
    *,
    use_cache: bool = True,
    layout_service: Callable[[], LayoutService] = Provider["layout_service"],
) -> CompiledLayout:
    """Compile a layout file to ``.keymap``/``.conf`` through the container's layout service.

    With ``use_cache=False`` no cache is opened, read or written.
    """
    if not use_cache:
        from glovebox.layout import compile_layout

        return compile_layout(path, use_cache=False)
    return layout_service().compile(path)
