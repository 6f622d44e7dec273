"""Where a configuration comes from: its files, the variables read, and the code that shapes it.

The loader (:mod:`glovebox.config.loader`) reads these sources; the configuration
snapshot (:mod:`glovebox.config.snapshot`) keys a validated result by them. Both take
the names and the file discovery from here, so a source the loader starts reading is a
source the snapshot's key covers. This module imports nothing of the configuration's
models or loader.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from glovebox.errors import ConfigError

__all__ = [
    "CONFIG_ENV_VAR",
    "ENV_SETTING_PREFIX",
    "MAX_FILE_BYTES",
    "REDIS_ENV_SETTINGS",
    "REMOTE_ENV_SETTINGS",
    "RESULT_CODE_FILES",
    "default_config_file",
    "find_user_config_file",
    "result_code_files",
    "variables_read",
]

CONFIG_ENV_VAR = "GLOVEBOX_CONFIG"

MAX_FILE_BYTES = 1024 * 1024
"""Largest configuration file read (glovebox.config.yaml_reader refuses larger ones)."""

# GLOVEBOX__CACHE__TIMEOUT=10 sets cache.timeout. The double underscore keeps these names
# apart from GLOVEBOX_CACHE_<TAG>, which the engine reads as per-tag strategy switches.
ENV_SETTING_PREFIX = "GLOVEBOX__"

# Short names for the settings a shared deployment sets per machine (docs/redis.md).
REDIS_ENV_SETTINGS = {
    "GLOVEBOX_CACHE_REDIS_URL": ("cache", "redis", "url"),
    "GLOVEBOX_CACHE_REDIS_SECRET": ("cache", "redis", "secret"),
}

# The remote tier's settings (docs/remote.md); GLOVEBOX_CACHE_SECRET signs its objects.
REMOTE_ENV_SETTINGS = {
    "GLOVEBOX_CACHE_REMOTE_URL": ("cache", "remote", "url"),
    "GLOVEBOX_CACHE_REMOTE_ENDPOINT": ("cache", "remote", "endpoint"),
    "GLOVEBOX_CACHE_REMOTE_REGION": ("cache", "remote", "region"),
    "GLOVEBOX_CACHE_REMOTE_MODE": ("cache", "remote", "mode"),
    "GLOVEBOX_CACHE_REMOTE_WRITE_ERRORS": ("cache", "remote", "write_errors"),
    "GLOVEBOX_CACHE_REMOTE_TIMEOUT": ("cache", "remote", "timeout"),
    "GLOVEBOX_CACHE_SECRET": ("cache", "remote", "secret"),
}

# Read whatever the files say: to find the user file and the platform directories (the
# default cache_path), and the Redis settings above. GLOVEBOX__* settings come on top.
_FIXED_VARIABLES = (
    CONFIG_ENV_VAR,
    *REDIS_ENV_SETTINGS,
    *REMOTE_ENV_SETTINGS,
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
)

_DEFAULTS_NAME = "default.yaml"
_PACKAGE = Path(__file__).parent.parent  # the glovebox package directory

# Modules outside glovebox/config whose code decides a validated result (paths relative
# to the glovebox package); every module of glovebox/config counts as well.
# tests/test_config_modules.py fails when a module these import is in neither set.
RESULT_CODE_FILES = (
    "__init__.py",
    "core/cache_v2/models.py",
    "core/cache_v2/policy.py",
    "core/cache_v2/redis_settings.py",
    "remote/settings.py",
)


def variables_read(environ: Mapping[str, str]) -> list[str]:
    """The names of the variables a load reads from ``environ``, in a fixed order.

    ``cache_path`` may name more (``$VAR``); those depend on what the files say.
    """
    settings = sorted(name for name in environ if name.startswith(ENV_SETTING_PREFIX))
    return [*_FIXED_VARIABLES, *settings]


def result_code_files() -> dict[str, Path]:
    """The source files whose code decides a validated result, by their name relative to
    the glovebox package (``config/models.py``), in a fixed order."""
    config = sorted(f"config/{path.name}" for path in (_PACKAGE / "config").glob("*.py"))
    return {name: _PACKAGE / name for name in (*config, *RESULT_CODE_FILES)}


def default_config_file() -> Path:
    """The built-in defaults: package data in an installed wheel, ``config/`` in a checkout."""
    # A wheel installs the file beside this module; a checkout keeps it in config/. Only
    # an installation that is not plain files (a zip) needs importlib.resources.
    beside = Path(__file__).with_name(_DEFAULTS_NAME)
    if beside.is_file():
        return beside
    checkout = Path(__file__).resolve().parents[2] / "config" / _DEFAULTS_NAME
    if checkout.is_file():
        return checkout
    import importlib.resources

    packaged = importlib.resources.files("glovebox.config").joinpath(_DEFAULTS_NAME)
    if packaged.is_file():
        return Path(str(packaged))
    raise ConfigError(
        f"built-in defaults {_DEFAULTS_NAME} not found in the glovebox.config package "
        f"nor at {checkout}; the installation is incomplete"
    )


def find_user_config_file(
    config_path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The user file to read, or ``None``. An explicitly named file must exist."""
    env = os.environ if environ is None else environ
    if config_path is not None:
        return Path(config_path).expanduser()
    named = env.get(CONFIG_ENV_VAR, "").strip()
    if named:
        return Path(named).expanduser()
    config_home = env.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config_home) if config_home else Path(platformdirs.user_config_dir())
    candidate = base / "glovebox" / "config.yaml"
    return candidate if candidate.is_file() else None
