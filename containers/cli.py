"""The ``glovebox`` console script: bootstrap the container, wire the CLI, run it.

Only the typer application is imported up front; the container (dependency-injector,
the configuration models, the cache engine) is imported by :func:`startup`, which the
CLI calls just before a command runs, so ``glovebox --help`` never loads it.
"""

from __future__ import annotations

import sys

_EXIT_INTERRUPTED = 130


def _interrupted() -> int:
    """Ctrl-C before the CLI could take it over: one line, exit code 130."""
    sys.stderr.write("glovebox: interrupted\n")
    return _EXIT_INTERRUPTED


try:  # Ctrl-C while the command line is still loading is one line, not a traceback.
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import TYPE_CHECKING

    from glovebox.cli.app import Startup, run
except KeyboardInterrupt:
    raise SystemExit(_interrupted()) from None

if TYPE_CHECKING:
    from containers.application import ApplicationContainer

__all__ = ["attach", "main", "startup"]


def startup(config_path: Path | None) -> Callable[[], None]:
    """Load the configuration (``--config`` first) and return the shutdown function.

    The container is built from that configuration when a command first needs it
    (:mod:`glovebox.cli.runtime`): the commands that serve from the cache open their
    caches through the coordinator's factories and never build it.
    """
    from glovebox.cli.runtime import begin
    from glovebox.config.loader import load_user_config

    user_config = load_user_config(config_path, snapshot=True)

    def build_container() -> Callable[[], None]:
        from containers.bootstrap import bootstrap, shutdown

        container = bootstrap(user_config=user_config)
        return lambda: shutdown(container)

    return begin(user_config, build_container).close


def attach(container: ApplicationContainer) -> Startup:
    """A startup hook that runs the CLI against an existing, already configured container.

    For tests and embedding applications: overrides on ``container`` apply to the
    commands. ``--config`` is refused because the container's configuration is fixed.
    """

    def start(config_path: Path | None) -> Callable[[], None]:
        from containers.bootstrap import WIRED_MODULES, WIRED_PACKAGES
        from glovebox.errors import ConfigError

        if config_path is not None:
            raise ConfigError(
                f"--config {config_path}: this CLI runs on an existing container whose "
                "configuration is already loaded; configure the container instead"
            )
        container.wire(modules=list(WIRED_MODULES), packages=list(WIRED_PACKAGES))
        return container.unwire

    return start


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: runs the CLI and returns its exit code."""
    try:
        return run(argv, startup)
    except KeyboardInterrupt:  # outside a command (parsing, start-up): nothing to undo
        return _interrupted()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
