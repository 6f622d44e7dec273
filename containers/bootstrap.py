"""Build, configure and wire the application container; and shut it down again."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from dependency_injector import providers

from containers.application import ApplicationContainer
from glovebox.config.loader import load_user_config
from glovebox.config.user_config import UserConfig

__all__ = ["WIRED_MODULES", "WIRED_PACKAGES", "bootstrap", "shutdown"]

logger = logging.getLogger(__name__)

# Where functions use @inject with Provide["..."] string ids. Modules are named one by
# one: wiring a whole package imports and inspects every module in it, which costs a
# command that needs one cache more than reading it (tests/test_cli_startup.py checks
# that every module using Provide is listed).
WIRED_PACKAGES: tuple[str, ...] = ()
WIRED_MODULES: tuple[str, ...] = ("glovebox.cli.injected", "glovebox.api")


def bootstrap(
    config_path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    packages: Iterable[str] = WIRED_PACKAGES,
    modules: Iterable[str] = WIRED_MODULES,
    snapshot: bool = False,
    user_config: UserConfig | None = None,
) -> ApplicationContainer:
    """A container configured from the YAML layers and wired into ``packages``/``modules``.

    Raises ``ConfigError`` (naming file, line and YAML path) if the configuration is bad;
    nothing has been opened or wired in that case. Pair with :func:`shutdown`.
    ``snapshot=True`` (with ``environ=None``) lets the configuration come from its
    validated snapshot, as the ``glovebox`` command does (:func:`load_user_config`).
    ``user_config``: a configuration already loaded that way (the layers are not read again).
    """
    if user_config is None:
        user_config = load_user_config(config_path, environ=environ, snapshot=snapshot)
    container = ApplicationContainer()
    container.config.from_dict(user_config.to_dict())
    # The loaded object keeps where each setting came from; the Configuration holds the
    # same values for code that reads container.config directly.
    container.user_config.override(providers.Object(user_config))
    container.wire(modules=list(modules), packages=list(packages))
    logger.debug("container bootstrapped from %s", user_config)
    return container


def shutdown(container: ApplicationContainer) -> None:
    """Close every cache the container opened and undo the wiring. Idempotent."""
    container.reset_singletons()
    container.unwire()
