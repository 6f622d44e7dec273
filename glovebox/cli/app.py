"""The root ``glovebox`` command: global options and the command groups."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from glovebox.cli.cache import cache_app
from glovebox.cli.layout import layout_app
from glovebox.errors import GloveboxError

__all__ = ["Startup", "app"]

Startup = Callable[[Path | None], Callable[[], None]]
"""What the composition root passes as click's ``obj``: given ``--config`` (or None), it
configures and wires the container and returns the function that shuts it down."""

err_console = Console(stderr=True)

app = typer.Typer(
    name="glovebox",
    help="ZMK keyboard firmware tooling with a shared, domain-isolated cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cache_app, name="cache")
app.add_typer(layout_app, name="layout")


def configure_logging(debug: bool) -> None:
    """WARNING and above by default; ``--debug`` shows Glovebox's DEBUG lines on stderr."""
    # A plain handler: log lines stay whole (never wrapped to the terminal) for grep.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("glovebox")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False


@app.callback()
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show debug logging (cache coordination)."),
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML configuration file (default: $GLOVEBOX_CONFIG, then "
            "$XDG_CONFIG_HOME/glovebox/config.yaml if it exists).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Glovebox command line."""
    configure_logging(debug)
    startup = ctx.obj
    if not callable(startup):
        # The commands get their caches from the container; only the composition root
        # (containers.cli:main, the `glovebox` script) can provide one.
        err_console.print(
            "[red]error:[/red] the glovebox CLI must be started through its entry point "
            "(the `glovebox` script, containers.cli:main), which configures the caches",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    try:
        stop = startup(config)
    except GloveboxError as exc:
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    ctx.call_on_close(stop)
