"""``glovebox layout compile|show``: compile editor exports, or summarise one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from glovebox.cli.console import LazyConsole
from glovebox.cli.formatting import emit_json, error_line, fail
from glovebox.errors import GloveboxError

if TYPE_CHECKING:
    from glovebox.layout import CompiledLayout

__all__ = ["layout_app"]

console = LazyConsole(markup=False)  # layout names and titles are printed verbatim
err_console = LazyConsole(stderr=True)


class _ShowByDefault(TyperGroup):
    """``glovebox layout FILE`` (the older form) runs ``layout show FILE``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


layout_app = typer.Typer(
    cls=_ShowByDefault,
    help="Compile Glove80 Layout Editor exports to ZMK .keymap/.conf, or summarise one.",
    no_args_is_help=True,
)


def _compiler(*, use_cache: bool) -> Callable[[Path], CompiledLayout]:
    """How ``layout compile`` compiles one file: started by the script, through a layout
    service over the coordinator's layout cache (no container, see glovebox.cli.runtime);
    otherwise through the container's layout service."""
    from glovebox.cli.runtime import direct

    runtime = direct()
    if runtime is None:
        from glovebox.api import compile_layout_file

        return lambda path: compile_layout_file(path, use_cache=use_cache)
    if not use_cache:
        from glovebox.layout import compile_layout

        return lambda path: compile_layout(path, use_cache=False)
    return runtime.layout_service().compile


@layout_app.command("compile")
def compile_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Layout JSON files, or directories of *.json layouts.", metavar="INPUT"
        ),
    ],
    output_dir: Annotated[
        Path, typer.Argument(help="Directory for <name>.keymap and <name>.conf (created).")
    ],
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Compile without reading or writing the cache.")
    ] = False,
) -> None:
    """Compile layouts to OUTPUT_DIR/<name>.keymap and .conf; all or nothing."""
    from glovebox.layout.files import expand_inputs, write_outputs

    compile_layout_file = _compiler(use_cache=not no_cache)

    try:
        files = expand_inputs(inputs)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    compiled = []
    failures = 0
    for path in files:
        try:
            compiled.append((path, compile_layout_file(path)))
        except GloveboxError as exc:
            failures += 1
            error_line(str(exc))
    if failures:
        err_console.print(f"nothing written: {failures} of {len(files)} layouts failed")
        raise typer.Exit(2)
    try:
        written = write_outputs(output_dir, compiled)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    for _, result in compiled:
        for warning in result.warnings:
            # Not suppressed by --quiet: an unknown parameter silently turns a feature off.
            typer.echo(f"warning: {warning}", err=True)
    for (path, result), (keymap, conf) in zip(compiled, written, strict=True):
        origin = "from cache" if result.from_cache else "compiled"
        # Plain text: one whole line per layout (never wrapped), and no rich to import.
        typer.echo(f"{path} -> {keymap}, {conf} ({origin})")


@layout_app.command("show")
def show_command(
    file: Annotated[Path, typer.Argument(help="Layout JSON file (keyboard, layers, ...).")],
    json_: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (schema: docs/cli.md).")
    ] = False,
) -> None:
    """Summarise a layout: title, layers and the most used behaviours.

    The layout must pass the same checks as `layout compile`.
    """
    from glovebox.api import process_layout_file

    try:
        result = process_layout_file(file, validate=True)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    layout = result.layout
    if result.from_cache:
        cache = "hit"
    elif result.stored:
        cache = "stored"
    else:
        cache = "disabled"
    if json_:
        emit_json(
            "layout show",
            {
                "file": str(file.resolve()),
                "title": layout.title,
                "keyboard": layout.keyboard,
                "content_hash": layout.content_hash,
                "layers": [
                    {"index": index, "name": name, "keys": keys}
                    for index, (name, keys) in enumerate(
                        zip(layout.layer_names, layout.keys_per_layer, strict=True)
                    )
                ],
                "bindings": layout.key_count,
                "behaviors": [{"behavior": name, "uses": uses} for name, uses in layout.behaviors],
                "cache": cache,
            },
        )
        return
    console.print(f"layout: {layout.title or file.name} ({layout.keyboard})")
    console.print(f"content hash: {layout.content_hash}")
    console.print(f"layers: {len(layout.layer_names)} ({', '.join(layout.layer_names)})")
    console.print(f"bindings: {layout.key_count}")
    top = ", ".join(f"{name} x{count}" for name, count in layout.behaviors[:5])
    console.print(f"most used behaviors: {top or '-'}")
    console.print(f"cache: {_CACHE_WORDS[cache]}")


_CACHE_WORDS = {
    "hit": "hit (summary read from the layout cache)",
    "stored": "miss (summarised and stored in the layout cache)",
    "disabled": "disabled (summarised, nothing stored)",
}
