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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from glovebox.cli.cache import cache_app
from glovebox.cli.firmware import firmware_app
from glovebox.cli.formatting import OUTPUT, emit_error_json, error_line
from glovebox.cli.layout import layout_app
from glovebox.cli.runtime import DIRECT_COMMANDS, container_ready
from glovebox.errors import GloveboxError
from glovebox.text import quote

__all__ = [
    "GLOBAL_FLAGS",
    "GLOBAL_VALUE_OPTIONS",
    "INTERRUPTED_MESSAGES",
    "Startup",
    "app",
    "ensure_started",
    "hoist_global_options",
    "run",
]

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
    command (for example shell completion of cache tags) calls it too. The commands in
    :data:`~glovebox.cli.runtime.DIRECT_COMMANDS` get only the loaded configuration
    (they build the container themselves if they need it; see glovebox.cli.runtime). A bad
    configuration ends the command with one line naming what was wrong (exit code 2).
    """
    session = ctx.meta.get(_SESSION)
    if not isinstance(session, _Session):
        return
    session.command = ctx.command_path.partition(" ")[2]
    try:
        if not session.started:
            stop = session.startup(session.config_path)
            session.started = True
            ctx.find_root().call_on_close(stop)
        if session.command not in DIRECT_COMMANDS:
            container_ready()
    except GloveboxError as exc:
        error_line(str(exc))
        raise typer.Exit(2) from exc


class _UsageArgument(TyperArgument):
    """An argument shown as ``KEY``, ``[KEY]`` or ``KEY...``, without a ``<str>`` type tag.

    typer draws a required argument as ``{KEY}`` and tags it ``<str>``, and builds its
    arguments itself (there is no parameter class to pass it), so :class:`_RootGroup`
    gives each argument this class once the command tree exists: the same object, only
    these two display methods differ.
    """

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        if self.nargs != 1 and not name.endswith("..."):
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


class _PlainValue:
    """Coerces a command line value of a ``str``, ``bool``, ``Path`` or ``list[Path]``
    parameter without pydantic.

    typer (0.2x) turns every command line value into its annotated type through a pydantic
    ``TypeAdapter``, built when a parameter is first used; building one imports pydantic,
    which costs ``cache get`` more start-up time than the command itself. For these types
    there is nothing to validate: click has already made the text (a flag a ``bool``, a
    path checked by click's path type), and a path only becomes a ``Path``. typer offers no
    public hook for this, so :func:`_coerce_directly` puts this object where typer keeps a
    parameter's coercion (``_runtime_param``); it has the one method typer calls on it.
    Other types keep typer's own coercion, and with a typer that has no such slot nothing
    is changed (tests/test_cli_startup.py notices, as pydantic is imported again).
    """

    def __init__(self, to_path: bool) -> None:
        self.to_path = to_path

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        if not self.to_path:
            return value
        if isinstance(value, list | tuple):
            return [Path(item) for item in value]
        return Path(value)


def _coerce_directly(param: Any) -> Any:
    """Give plain ``str``, ``bool``, ``Path`` and ``list[Path]`` parameters a
    :class:`_PlainValue` coercion (see there why); other parameters are left alone."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
        return param
    annotation = descriptor.annotation
    if descriptor.is_choice or descriptor.file_annotation is not None:
        return param
    if annotation is Path or (descriptor.is_list and annotation == list[Path]):
        param._runtime_param = _PlainValue(to_path=True)
    elif annotation in (str, bool) and not descriptor.is_list:
        param._runtime_param = _PlainValue(to_path=False)
    return param


def _direct_help_option(
    get_help_option: Callable[[typer.Context], Any],
) -> Callable[[typer.Context], Any]:
    """``get_help_option`` of a command, its ``--help`` flag coerced directly."""

    def build(ctx: typer.Context) -> Any:
        return _coerce_directly(get_help_option(ctx))

    return build


def _starting(invoke: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``invoke`` of a command, preceded by :func:`ensure_started` (and noting, for the
    ``--json`` error document, which command runs and whether it was given ``--json``)."""

    def run(ctx: Any) -> Any:
        OUTPUT.command = ctx.command_path.partition(" ")[2]
        OUTPUT.json = bool(ctx.params.get("json_"))
        ensure_started(ctx)
        return invoke(ctx)

    return run


def _prepare(root: TyperGroup) -> None:
    """Plain help, truthful metavars, direct coercion and lazy start for ``root`` and
    every command below it."""
    for _, command in _commands(root):
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


_GROUPS: dict[str, typer.Typer] = {
    "cache": cache_app,
    "layout": layout_app,
    "firmware": firmware_app,
}
"""The command groups below ``glovebox``, built into click commands on first use."""


class _LazyGroups(dict[str, Any]):
    """The root's subcommands: typer turns a group into click commands when it is asked
    for, so running ``glovebox firmware compile`` never converts the ``cache`` commands
    (typer reads every parameter's type hints to do it). Names are known up front;
    iterating the values or items builds every group."""

    def __init__(self, built: Mapping[str, Any]) -> None:
        super().__init__(dict.fromkeys(_GROUPS))
        self.update(built)  # commands typer already built (none unless added to the app)

    def built(self, name: str) -> Any:
        """The group's command if it has been built (None if not, or unknown)."""
        return super().get(name)

    def __getitem__(self, name: str) -> Any:
        command = super().__getitem__(name)
        if command is None:
            command = typer.main.get_group(_GROUPS[name])
            command.name = name
            _prepare(command)
            super().__setitem__(name, command)
        return command

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default  # noqa: SIM401 - [] builds it

    def values(self) -> Any:
        return [self[name] for name in self]

    def items(self) -> Any:
        return [(name, self[name]) for name in self]


class _RootGroup(TyperGroup):
    """The ``glovebox`` group: plain help, truthful metavars, lazy start, Ctrl-C as 130."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _prepare(self)
        self.commands = _LazyGroups(self.commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # The root's help names each group with the first line of its help; a group not
        # built yet stands in as a plain command with that help (same text, no build).
        groups = self.commands
        rows: list[tuple[str, str]] = []
        width = formatter.width - 6 - max((len(name) for name in groups), default=0)
        for name in groups:
            command = groups.built(name) if isinstance(groups, _LazyGroups) else groups[name]
            if command is None:
                info_help = _GROUPS[name].info.help
                command = (
                    TyperCommand(name, help=info_help, rich_markup_mode=None)
                    if isinstance(info_help, str)
                    else groups[name]
                )
            if not command.hidden:
                rows.append((name, command.get_short_help_str(width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
        OUTPUT.errors.append(message)
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
# The groups are not added with app.add_typer: _RootGroup builds each on first use.


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


GLOBAL_FLAGS = ("--debug", "--quiet", "-q", "--no-progress")
"""Global options without a value; like ``--config``/``-c`` they may follow the command."""
GLOBAL_VALUE_OPTIONS = ("--config", "-c")


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """``argv`` with the global options moved before the command, wherever they were.

    ``glovebox layout compile --debug a.json out`` is ``glovebox --debug layout compile
    a.json out``, as with git and uv. Nothing after ``--`` moves; no command may define an
    option of the same name (tests/test_cli_options.py checks every command).
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            rest.extend(argv[index:])
            break
        if token in GLOBAL_FLAGS:
            front.append(token)
        elif token in GLOBAL_VALUE_OPTIONS and index + 1 < len(argv):
            front.extend(argv[index : index + 2])
            index += 1
        elif token.startswith("--config="):
            front.append(token)
        else:
            rest.append(token)
        index += 1
    return [*front, *rest]


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asks for ``--json`` (before any ``--``)."""
    if OUTPUT.json:
        return True
    words = list(argv)
    return "--json" in (words[: words.index("--")] if "--" in words else words)


def run(args: Sequence[str] | None, startup: Startup, prog_name: str = "glovebox") -> int:
    """Run the CLI and return its exit code; no input ends in a traceback.

    Exit codes (docs/cli.md, :data:`glovebox.cli.formatting.EXIT_CODES`): usage errors
    (unknown option, missing argument, a value of the wrong type) are one line and 2, like
    errors the commands report themselves; bad input that reaches the library
    (``ValueError``, ``TypeError``, a ``GloveboxError``, a path that cannot be used) is 2
    too. Ctrl-C is one line and 130. Anything else is a bug: one line naming it and 3,
    with the traceback only under ``--debug``. With ``--json``, a command that fails
    without printing its document prints a JSON error document on stdout.
    """
    argv = hoist_global_options(sys.argv[1:] if args is None else args)
    OUTPUT.json, OUTPUT.command, OUTPUT.json_printed = False, "", False
    OUTPUT.errors.clear()
    # --debug reconfigures the "glovebox" logger; an embedding process gets it back as it was.
    logger = logging.getLogger("glovebox")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    try:
        return _run(argv, startup, prog_name)
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def _run(argv: list[str], startup: Startup, prog_name: str) -> int:
    command = ""
    try:
        result = app(args=argv, prog_name=prog_name, obj=startup, standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except typer.Abort:
        error_line("aborted")
        code = 1
    except typer.exceptions.TyperException as exc:  # click's usage and parameter errors
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        context = getattr(exc, "ctx", None)
        path = getattr(context, "command_path", None) or prog_name
        command = path.partition(" ")[2]
        error_line(f"{' '.join(str(message).split())} (see '{path} --help')")
        code = int(getattr(exc, "exit_code", 2))
    except (GloveboxError, ValueError, TypeError, OSError) as exc:
        error_line(" ".join(str(exc).split()) or type(exc).__name__)
        code = 2
    except Exception as exc:
        error_line(
            f"unexpected {type(exc).__name__}: {quote(str(exc), 200)}; "
            "run with --debug to see the traceback"
        )
        if "--debug" in argv:
            traceback.print_exc()
        code = 3
    if code != 0 and _wants_json(argv) and not OUTPUT.json_printed:
        emit_error_json(code, OUTPUT.command or command)
    return code
