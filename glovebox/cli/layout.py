"""``glovebox layout FILE``: process a layout through the (cached) layout service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glovebox.cli.console import LazyConsole
from glovebox.errors import GloveboxError

__all__ = ["layout_command"]

console = LazyConsole()
err_console = LazyConsole(stderr=True)


def layout_command(
    file: Annotated[Path, typer.Argument(help="Layout JSON file (keyboard, layers, ...).")],
) -> None:
    """Process a layout JSON file; identical content is served from the layout cache."""
    from glovebox.api import process_layout_file

    try:
        result = process_layout_file(file)
    except GloveboxError as exc:
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    layout = result.layout
    console.print(f"layout: {layout.title or file.name} ({layout.keyboard})")
    console.print(f"content hash: {layout.content_hash}")
    console.print(f"layers: {len(layout.layer_names)} ({', '.join(layout.layer_names)})")
    console.print(f"bindings: {layout.key_count}")
    top = ", ".join(f"{name} x{count}" for name, count in layout.behaviors[:5])
    console.print(f"most used behaviors: {top or '-'}")
    console.print(f"cache: {'hit' if result.from_cache else 'miss (processed and stored)'}")
