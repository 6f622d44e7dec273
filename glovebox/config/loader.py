"""Build a :class:`UserConfig` from the layers, later wins:

1. built-in defaults (``config/default.yaml``, shipped inside the package);
2. the user file: the explicit path (``--config``), else ``$GLOVEBOX_CONFIG``, else
   ``$XDG_CONFIG_HOME/glovebox/config.yaml`` when that file exists;
3. ``GLOVEBOX__<SECTION>__<KEY>`` environment variables.

The strategy switches ``GLOVEBOX_CACHE_GLOBAL`` and ``GLOVEBOX_CACHE_<TAG>`` are not merged
here: the engine reads them each time it resolves a cache, in the precedence order of
:mod:`glovebox.core.cache_v2.policy`. Each layer is validated on its own first, so an
error names the file and line (or variable) that holds the bad value. Loading only reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glovebox.config.sources import default_config_file, find_user_config_file
from glovebox.config.user_config import UserConfig
from glovebox.errors import ConfigError
from glovebox.text import quote

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from glovebox.config.layers import ConfigLayer
    from glovebox.config.models import GloveboxConfig

__all__ = ["load_user_config", "user_config_from_mapping"]

logger = logging.getLogger(__name__)


# Settings that may hold a password or the signing secret.
_SECRET_PATHS = frozenset({"cache.redis.url", "cache.redis.secret", "cache.remote.secret"})


def _accepted_keys(parent: tuple[Any, ...]) -> str:
    from glovebox.config.models import CacheSection, DomainCacheConfig, GloveboxConfig
    from glovebox.core.cache_v2 import RedisSettings
    from glovebox.remote.settings import RemoteSettings

    accepted: dict[str, type[BaseModel]] = {
        "": GloveboxConfig,
        "cache": CacheSection,
        "cache.redis": RedisSettings,
        "cache.remote": RemoteSettings,
    }
    if len(parent) == 3 and parent[:2] == ("cache", "domains"):
        model: type[BaseModel] = DomainCacheConfig
    else:
        model = accepted.get(".".join(str(part) for part in parent), GloveboxConfig)
    return ", ".join(model.model_fields)


def _config_error(exc: ValidationError, layer: ConfigLayer) -> ConfigError:
    from glovebox.config.models import SettingValueError
    from glovebox.core.cache_v2 import RedisSettingError
    from glovebox.remote.settings import RemoteSettingError

    messages: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        path = ".".join(str(part) for part in loc)
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SettingValueError | RedisSettingError | RemoteSettingError):
            messages.append(f"{layer.describe(path)}: {cause}")
        elif isinstance(cause, ConfigError):
            messages.append(str(cause))  # already names the location and accepted words
        elif error["type"] == "extra_forbidden":
            messages.append(
                f"{layer.describe(path)}: unknown setting {quote(str(loc[-1]))}; "
                f"accepted here: {_accepted_keys(loc[:-1])}"
            )
        elif error["type"] == "value_error" and cause is not None:
            messages.append(str(cause))
        elif path in _SECRET_PATHS:  # a credential: never echoed, whatever was wrong
            shown = f"a {type(error['input']).__name__} (not shown)"
            messages.append(f"{layer.describe(path)}: {error['msg']}, got {shown}")
        else:
            messages.append(f"{layer.describe(path)}: {error['msg']}, got {quote(error['input'])}")
    if len(messages) == 1:
        return ConfigError(messages[0])
    return ConfigError("invalid configuration:\n  " + "\n  ".join(messages))


def _validate(data: Mapping[str, Any], layer: ConfigLayer) -> GloveboxConfig:
    # The models (and pydantic) are imported here: a configuration served from a
    # snapshot never loads them.
    from pydantic import ValidationError

    from glovebox.config.models import GloveboxConfig

    try:
        context = {"describe": layer.describe, "text_values": layer.text_values}
        return GloveboxConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise _config_error(exc, layer) from None


def load_user_config(
    config_path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    snapshot: bool = False,
) -> UserConfig:
    """Read and validate every layer, lowest first.

    Raises ``ConfigError`` listing every problem of the first invalid layer, each with its
    file and line (or variable) and YAML path. ``environ`` (default ``os.environ``) picks
    the user file and the ``GLOVEBOX__*`` settings; ``~``/``$VAR`` expansion in
    ``cache_path`` and the platform default directory use the process environment.

    With ``snapshot=True`` (process environment only), a result validated earlier from
    the same files, variables and code is taken from the configuration snapshot
    (:mod:`glovebox.config.snapshot`) without importing the models, and a full
    validation refreshes the snapshot.
    """
    if not snapshot:
        return _load(config_path, environ)[0]
    if environ is not None:
        raise ValueError(
            "load_user_config: a configuration snapshot is keyed by the process "
            "environment; pass environ=None or snapshot=False"
        )
    from glovebox.config import snapshot as snapshots

    key = snapshots.snapshot_key(config_path)
    if key is not None:
        kept = snapshots.read_snapshot(key, lambda: load_user_config(config_path)._config)
        if kept is not None:
            return kept
    loaded, merged = _load(config_path, None)
    if key is not None:
        raw_path = merged.get("cache_path")
        snapshots.write_snapshot(key, loaded._config, raw_path, loaded.origins, loaded.files)
    return loaded


def _load(
    config_path: Path | str | None, environ: Mapping[str, str] | None
) -> tuple[UserConfig, dict[str, Any]]:
    """The validated configuration and the merged data it was validated from."""
    # The layers (and yaml) are imported here: a warm snapshot never reads them.
    from glovebox.config.layers import ConfigLayer, environment_layer, merge_layers, read_yaml_layer

    env = os.environ if environ is None else environ
    layers = [read_yaml_layer(default_config_file())]
    user_file = find_user_config_file(config_path, env)
    if user_file is not None:
        layers.append(read_yaml_layer(user_file))
    layers.append(environment_layer(env))
    for layer in layers:
        _validate(layer.data, layer)
    merged, origins = merge_layers(layers)
    # Holds the environment's text values, already checked with the environment layer.
    combined = ConfigLayer("merged configuration", merged, text_values=True)
    config = _validate(merged, combined)
    files = [layer.path for layer in layers if layer.path is not None]
    logger.debug("configuration loaded from %s", ", ".join(map(str, files)))
    return UserConfig(config, origins=origins, files=files), merged


def user_config_from_mapping(
    data: Mapping[str, Any] | None, *, label: str = "configuration"
) -> UserConfig:
    """Validate plain data (e.g. a ``providers.Configuration`` dict) over the built-in defaults.

    No user file and no ``GLOVEBOX__*`` variables are read: ``data`` is the only layer on
    top of ``config/default.yaml``.
    """
    from glovebox.config.layers import ConfigLayer, merge_layers, read_yaml_layer

    defaults = read_yaml_layer(default_config_file())
    layer = ConfigLayer(label, dict(data or {}))
    _validate(layer.data, layer)
    merged, origins = merge_layers([defaults, layer])
    config = _validate(merged, ConfigLayer(f"{label} over built-in defaults", merged))
    return UserConfig(config, origins=origins, files=[defaults.path] if defaults.path else [])
