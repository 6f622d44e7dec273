"""``glovebox firmware compile``: a layout or keymap to flashable ``.uf2`` files.

Exit codes: 0 built or served from the cache; 1 the build failed (compiler error,
timeout, missing tool or image); 2 bad input (layout, keymap, options); 130 Ctrl-C.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from glovebox.cli.formatting import OUTPUT, emit_json, error_line, fail
from glovebox.errors import GloveboxError

if TYPE_CHECKING:
    from glovebox.firmware import FirmwareResult, Phase

__all__ = ["firmware_app"]

firmware_app = typer.Typer(
    help="Build ZMK firmware (.uf2) from a Glove80 layout or a keymap, cached at every step.",
    no_args_is_help=True,
)

_SPINNER = "|/-\\"


class _Progress:
    """Phase lines as they finish; on a terminal, a spinner with the elapsed time between.

    Lines go to stdout, or to stderr with ``--json`` (stdout then holds one document).
    ``--debug`` adds the command each step runs.
    """

    def __init__(self, *, json_mode: bool, debug: bool) -> None:
        self.stream: TextIO = sys.stderr if json_mode else sys.stdout
        self.quiet = OUTPUT.quiet
        self.debug = debug
        self.spin = OUTPUT.progress and not self.quiet and sys.stderr.isatty()
        self._label: str | None = None
        self._since = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, phase: Phase) -> None:
        if phase.started:
            if self.debug and phase.command:
                self._line(f"$ {phase.command}", err=True)
            self._start(phase.text)
            return
        self._clear()
        if not self.quiet:
            self._line(phase.text)

    def _line(self, text: str, *, err: bool = False) -> None:
        with self._lock:
            stream = sys.stderr if err else self.stream
            stream.write(text + "\n")
            stream.flush()

    def _start(self, label: str) -> None:
        if not self.spin:
            return
        self._clear()
        self._label, self._since = label, time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        frame = 0
        while not self._stop.wait(0.1):
            with self._lock:
                elapsed = time.monotonic() - self._since
                sys.stderr.write(f"\r{_SPINNER[frame % 4]} {self._label} {elapsed:.0f} s ")
                sys.stderr.flush()
            frame += 1

    def _clear(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        with self._lock:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def close(self) -> None:
        self._clear()


def _served(
    source: Path,
    output_dir: Path,
    *,
    conf: Path | None,
    board: str | None,
    repository: str | None,
    revision: str | None,
    runner: str | None,
    progress: _Progress,
) -> FirmwareResult | None:
    """The build from the firmware level alone (see glovebox.firmware.hit), or None."""
    from glovebox.cli.runtime import direct
    from glovebox.firmware.hit import served_from_cache

    runtime = direct()
    if runtime is None:
        from glovebox.cli.injected import firmware_hit_context

        user_config, layout_service, persistent = firmware_hit_context()
    else:  # started by the script: no container (see glovebox.cli.runtime)
        user_config, layout_service = runtime.user_config, runtime.layout_service()
        persistent = runtime.cache("compilation").persistent
    if not persistent:
        return None
    return served_from_cache(
        layout_service=layout_service,
        settings=user_config.to_dict()["compilation"],
        cache_path=Path(user_config.cache_path),
        source=source,
        output_dir=output_dir,
        conf=conf,
        board=board,
        repository=repository,
        revision=revision,
        runner=runner,
        on_phase=progress,
    )


@firmware_app.command("compile")
def compile_command(
    source: Annotated[
        Path,
        typer.Argument(help="Glove80 Layout Editor .json, or a ZMK .keymap.", metavar="INPUT"),
    ],
    output_dir: Annotated[
        Path, typer.Argument(help="Directory for <name>.uf2 (and <name>_lh/_rh.uf2; created).")
    ],
    *,
    conf: Annotated[
        Path | None,
        typer.Option("--conf", help="Kconfig .conf to build with a .keymap input."),
    ] = None,
    board: Annotated[
        str | None,
        typer.Option("--board", help="Board (default: compilation.board, glove80)."),
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository",
            help="ZMK repository, owner/name or git URL (compilation.zmk_repository).",
        ),
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option("--revision", help="Branch, tag or commit (compilation.zmk_revision)."),
    ] = None,
    runner: Annotated[
        str | None,
        typer.Option("--runner", help="native (west on PATH) or docker (compilation.west_runner)."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Neither serve nor store firmware; build into the cached workspace anyway.",
        ),
    ] = False,
    update: Annotated[
        bool,
        typer.Option("--update", help="Refresh the workspace (west update) before building."),
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print one JSON document describing the result.")
    ] = False,
) -> None:
    """Build firmware for INPUT into OUTPUT_DIR; a repeat build is served from the cache."""
    import logging

    from glovebox.firmware import FirmwareError, FirmwareInputError
    from glovebox.layout.errors import LayoutError

    if runner is not None and runner not in ("native", "docker"):
        raise fail(f"--runner {runner!r}: expected native or docker")
    debug = logging.getLogger("glovebox").isEnabledFor(logging.DEBUG)
    progress = _Progress(json_mode=json_, debug=debug)
    try:
        result = None
        if not no_cache and not update:
            result = _served(source, output_dir, conf=conf, board=board, repository=repository,
                             revision=revision, runner=runner, progress=progress)  # fmt: skip
        if result is None:
            from glovebox.cli.injected import firmware_service

            result = firmware_service().compile(
                source,
                output_dir,
                conf=conf,
                board=board,
                repository=repository,
                revision=revision,
                runner=runner,
                use_cache=not no_cache,
                update=update,
                on_phase=progress,
            )
    except (FirmwareInputError, LayoutError) as exc:
        progress.close()
        raise fail(str(exc), code=2) from exc
    except (FirmwareError, GloveboxError) as exc:
        progress.close()
        error_line(str(exc))
        typer.echo("glovebox: nothing was cached; the next run builds again", err=True)
        raise typer.Exit(1) from exc
    finally:
        progress.close()
    if json_:
        emit_json("firmware compile", result.as_dict())
        return
    if not OUTPUT.quiet:
        typer.echo(f"wrote {', '.join(str(p) for p in result.artifacts)} ({result.seconds:.2f} s)")
