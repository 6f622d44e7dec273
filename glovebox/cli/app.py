"""The root ``glovebox`` command: global options and the command groups."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from glovebox.cli.cache import cache_app
from glovebox.cli.formatting import OUTPUT, error_line, fail
from glovebox.cli.layout import layout_app
from glovebox.errors import GloveboxError
from glovebox.text import quote

__all__ = ["Startup", "app", "run"]

Startup = Callable[[Path | None], Callable[[], None]]
"""What the composition root passes as click's ``obj``: given ``--config`` (or None), it
configures and wires the container and returns the function that shuts it down."""

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
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only results and errors (no notes, no bars)."),
    ] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Do not draw progress bars.")
    ] = False,
) -> None:
    """Glovebox command line."""
    configure_logging(debug)
    OUTPUT.quiet = quiet
    OUTPUT.progress = not no_progress
    startup = ctx.obj
    if not callable(startup):
        # The commands get their caches from the container; only the composition root
        # (containers.cli:main, the `glovebox` script) can provide one.
        raise fail(
            "the glovebox CLI must be started through its entry point "
            "(the `glovebox` script, containers.cli:main), which configures the caches"
        )
    try:
        stop = startup(config)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    ctx.call_on_close(stop)


def run(args: Sequence[str] | None, startup: Startup, prog_name: str = "glovebox") -> int:
    """Run the CLI and return its exit code; no input ends in a traceback.

    Usage errors (unknown option, missing argument, a value of the wrong type) become
    one line and exit code 2, like errors the commands report themselves. Bad input that
    reaches the library (``ValueError``, ``TypeError``, a ``GloveboxError``, a path that
    cannot be used) is also exit code 2. Anything else is a bug: one line naming it and
    exit code 1, with the traceback only under ``--debug``.
    """
    argv = list(sys.argv[1:] if args is None else args)
    try:
        result = app(args=argv, prog_name=prog_name, obj=startup, standalone_mode=False)
    except typer.Abort:
        error_line("aborted")
        return 1
    except typer.exceptions.TyperException as exc:  # click's usage and parameter errors
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        context = getattr(exc, "ctx", None)
        command = getattr(context, "command_path", None) or prog_name
        error_line(f"{' '.join(str(message).split())} (see '{command} --help')")
        return int(getattr(exc, "exit_code", 2))
    except (GloveboxError, ValueError, TypeError, OSError) as exc:
        error_line(" ".join(str(exc).split()) or type(exc).__name__)
        return 2
    except Exception as exc:
        error_line(
            f"unexpected {type(exc).__name__}: {quote(str(exc), 200)}; "
            "run with --debug to see the traceback"
        )
        if "--debug" in argv:
            traceback.print_exc()
        return 1
    return result if isinstance(result, int) else 0
