"""``glovebox layout FILE``: process a layout through the (cached) layout service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from glovebox.api import process_layout_file
from glovebox.errors import GloveboxError

__all__ = ["layout_command"]

console = Console(markup=False)  # layout names and titles are printed verbatim
err_console = Console(stderr=True)


def layout_command(
    file: Annotated[Path, typer.Argument(help="Layout JSON file (keyboard, layers, ...).")],
) -> None:
    """Process a layout JSON file; identical content is served from the layout cache."""
    try:
        result = process_layout_file(file)
    except GloveboxError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    layout = result.layout
    console.print(f"layout: {layout.title or file.name} ({layout.keyboard})")
    console.print(f"content hash: {layout.content_hash}")
    console.print(f"layers: {len(layout.layer_names)} ({', '.join(layout.layer_names)})")
    console.print(f"bindings: {layout.key_count}")
    top = ", ".join(f"{name} x{count}" for name, count in layout.behaviors[:5])
    console.print(f"most used behaviors: {top or '-'}")
    console.print(f"cache: {'hit' if result.from_cache else 'miss (processed and stored)'}")
