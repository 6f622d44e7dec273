"""The root ``glovebox`` command: global options and the command groups."""

from __future__ import annotations

import logging
import sys

import typer

from glovebox.cli.cache import cache_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="glovebox",
    help="ZMK keyboard firmware tooling with a shared, domain-isolated cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cache_app, name="cache")


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
    debug: bool = typer.Option(False, "--debug", help="Show debug logging (cache coordination)."),
) -> None:
    """Glovebox command line."""
    configure_logging(debug)


def main() -> None:
    """Console-script entry point."""
    app()
