"""The root ``glovebox`` command: global options, the command groups, and start-up.

Start-up is lazy: ``glovebox --help``, ``glovebox cache --help`` and ``--version`` never
build the container. The root callback only records how to start it; the container is
configured and wired just before a command (a leaf of the command tree) runs. This
module therefore imports nothing but typer and the command modules, which import their
own heavy dependencies (rich tables, the compilation stack) inside the commands.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from glovebox.cli.cache import cache_app
from glovebox.cli.firmware import firmware_app
from glovebox.cli.formatting import OUTPUT, error_line
from glovebox.cli.layout import layout_app
from glovebox.errors import GloveboxError
from glovebox.text import quote

__all__ = ["INTERRUPTED_MESSAGES", "Startup", "app", "ensure_started", "run"]

Startup = Callable[[Path | None], Callable[[], None]]
"""What the composition root passes as click's ``obj``: given ``--config`` (or None), it
configures and wires the container and returns the function that shuts it down."""

INTERRUPTED_MESSAGES: dict[str, str] = {
    "cache workspace add": "interrupted: nothing was cached (the partial workspace was removed)",
    "cache workspace export": "interrupted: the archive was not written; the cache is unchanged",
    "firmware compile": "interrupted: nothing was cached; the unfinished build directory "
    "will be discarded",
}
"""What Ctrl-C prints for commands where more than "interrupted" can be said (by command
path below ``glovebox``); every other command prints ``interrupted``."""

_SESSION = "glovebox.session"
_EXIT_INTERRUPTED = 130


class _Session:
    """How to start the container for this invocation, and whether it has been started."""

    def __init__(self, startup: Startup, config_path: Path | None) -> None:
        self.startup = startup
        self.config_path = config_path
        self.started = False
        self.command = ""
        """The running command's path below ``glovebox`` (``cache get``)."""


def ensure_started(ctx: typer.Context) -> None:
    """Configure and wire the container for this invocation (once).

    Every command runs this before its body; code that needs the container outside a
    command (for example shell completion of cache tags) calls it too. A bad
    configuration ends the command with one line naming what was wrong (exit code 2).
    """
    session = ctx.meta.get(_SESSION)
    if not isinstance(session, _Session):
        return
    session.command = ctx.command_path.partition(" ")[2]
    if session.started:
        return
    try:
        stop = session.startup(session.config_path)
    except GloveboxError as exc:
        error_line(str(exc))
        raise typer.Exit(2) from exc
    session.started = True
    ctx.find_root().call_on_close(stop)


class _UsageArgument(TyperArgument):
    """An argument shown as ``KEY``, ``[KEY]`` or ``KEY...``, without a ``<str>`` type tag."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        if self.nargs != 1:
            name += "..."
        return [name if self.required else f"[{name}]"]


def _commands(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every command below ``command`` (itself included), with its path."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}".strip())


def _metavar(param: Any) -> str:
    """``FILE``/``DIR``/``PATH`` for paths, otherwise the parameter's name in capitals."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_path and param.param_type_name == "option":
        kind = str(descriptor.path_type or "path").upper()
        return kind if kind in {"FILE", "DIR", "DIRECTORY"} else "PATH"
    return str(param.name or "value").upper().replace("-", "_")


def _as_paths(value: Any) -> Any:
    """A command line path (or several) as ``Path`` objects; click has checked the text."""
    if isinstance(value, list | tuple):
        return [Path(item) for item in value]
    return Path(value)


def _path_runtime_param(descriptor: Any) -> Any:
    """typer's runtime coercion object for a ``Path`` or ``list[Path]`` parameter, or None."""
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # pragma: no cover - another typer version
        return None

    class PathRuntimeParam(PassThroughRuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return _as_paths(value)

    return PathRuntimeParam(
        parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
    )


def _coerce_directly(param: Any) -> Any:
    """Let plain ``str``, ``bool``, ``Path`` and ``list[Path]`` parameters skip typer's
    pydantic-based coercion.

    A command line value is already a ``str`` (a flag already a ``bool``, or None), and
    a path is that text as a ``Path`` (click's path type has already checked it);
    building a pydantic ``TypeAdapter`` for it (and importing pydantic) costs more
    start-up time than ``cache get`` itself. Other types keep typer's coercion. If
    typer's internals differ from what this expects, nothing is changed.
    """
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
        return param
    annotation = descriptor.annotation
    if descriptor.is_choice or descriptor.file_annotation is not None:
        return param
    if annotation is Path or (descriptor.is_list and annotation == list[Path]):
        runtime = _path_runtime_param(descriptor)
        if runtime is not None:
            param._runtime_param = runtime
        return param
    if annotation not in (str, bool) or descriptor.is_list:
        return param
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # pragma: no cover - another typer version
        return param
    param._runtime_param = PassThroughRuntimeParam(
        parameter_info=descriptor.parameter_info, annotation=annotation
    )
    return param


def _direct_help_option(
    get_help_option: Callable[[typer.Context], Any],
) -> Callable[[typer.Context], Any]:
    """``get_help_option`` of a command, its ``--help`` flag coerced directly."""

    def build(ctx: typer.Context) -> Any:
        return _coerce_directly(get_help_option(ctx))

    return build


def _starting(invoke: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``invoke`` of a command, preceded by :func:`ensure_started`."""

    def run(ctx: Any) -> Any:
        ensure_started(ctx)
        return invoke(ctx)

    return run


class _RootGroup(TyperGroup):
    """The ``glovebox`` group: plain help, truthful metavars, lazy start, Ctrl-C as 130."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for _, command in _commands(self):
            # Plain help: no ``<bool>`` type tags on flags, and no rich import for --help.
            command.rich_markup_mode = None
            for param in command.params:
                if isinstance(param, TyperArgument):
                    param.metavar = param.metavar or _metavar(param)
                    param.__class__ = _UsageArgument
                elif isinstance(param, TyperOption) and not param.is_flag:
                    param.metavar = param.metavar or _metavar(param)
                _coerce_directly(param)
            command.get_help_option = _direct_help_option(command.get_help_option)
            if isinstance(command, TyperCommand):
                command.invoke = _starting(command.invoke)  # type: ignore[method-assign,assignment]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # typer appends the shell-completion options after __init__.
        for param in self.params:
            _coerce_directly(param)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise self._interrupted(ctx) from exc
        except typer.Abort as exc:
            # A prompt turns Ctrl-C into Abort; it is still an interruption.
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise self._interrupted(ctx) from exc
            raise

    @staticmethod
    def _interrupted(ctx: Any) -> typer.Exit:
        session = ctx.meta.get(_SESSION)
        command = session.command if isinstance(session, _Session) else ""
        message = INTERRUPTED_MESSAGES.get(command, "interrupted")
        typer.echo(f"glovebox: {message}", err=True)
        return typer.Exit(_EXIT_INTERRUPTED)


app = typer.Typer(
    name="glovebox",
    cls=_RootGroup,
    help="ZMK keyboard firmware tooling with a shared, domain-isolated cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(cache_app, name="cache")
app.add_typer(layout_app, name="layout")
app.add_typer(firmware_app, name="firmware")


def configure_logging(debug: bool) -> None:
    """WARNING and above by default; ``--debug`` shows Glovebox's DEBUG lines on stderr."""
    # A plain handler: log lines stay whole (never wrapped to the terminal) for grep.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("glovebox")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("glovebox")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        number = "unknown (not installed)"
    typer.echo(f"glovebox {number}")
    raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    *,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show debug logging (cache coordination).")
    ] = False,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="YAML configuration file (default: $GLOVEBOX_CONFIG, then "
            "$XDG_CONFIG_HOME/glovebox/config.yaml if it exists).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
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
        error_line(
            "the glovebox CLI must be started through its entry point "
            "(the `glovebox` script, containers.cli:main), which configures the caches"
        )
        raise typer.Exit(2)
    config_path = None if config is None else Path(config)
    if config_path is not None and config_path.is_dir():
        error_line(f"--config {config}: is a directory; give a YAML configuration file")
        raise typer.Exit(2)
    ctx.meta[_SESSION] = _Session(startup, config_path)


def run(args: Sequence[str] | None, startup: Startup, prog_name: str = "glovebox") -> int:
    """Run the CLI and return its exit code; no input ends in a traceback.

    Usage errors (unknown option, missing argument, a value of the wrong type) become
    one line and exit code 2, like errors the commands report themselves. Bad input that
    reaches the library (``ValueError``, ``TypeError``, a ``GloveboxError``, a path that
    cannot be used) is also exit code 2. Ctrl-C is one line and exit code 130. Anything
    else is a bug: one line naming it and exit code 1, with the traceback only under
    ``--debug``.
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
