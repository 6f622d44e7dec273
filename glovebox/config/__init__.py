"""Glovebox configuration: the validated model, the ``UserConfig`` wrapper, YAML layers.

Names are imported on first access, so code that only loads a configuration snapshot
(:mod:`glovebox.config.snapshot`) does not import the pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glovebox._lazy import lazy_attributes

if TYPE_CHECKING:
    from glovebox.config.layers import ENV_SETTING_PREFIX, ConfigLayer
    from glovebox.config.loader import (
        CONFIG_ENV_VAR,
        default_config_file,
        find_user_config_file,
        load_user_config,
        user_config_from_mapping,
    )
    from glovebox.config.models import CacheSection, DomainCacheConfig, GloveboxConfig
    from glovebox.config.user_config import UserConfig

__all__ = [
    "CONFIG_ENV_VAR",
    "ENV_SETTING_PREFIX",
    "CacheSection",
    "ConfigLayer",
    "DomainCacheConfig",
    "GloveboxConfig",
    "UserConfig",
    "default_config_file",
    "find_user_config_file",
    "load_user_config",
    "user_config_from_mapping",
]

_HOMES = {
    "CONFIG_ENV_VAR": "glovebox.config.loader",
    "ENV_SETTING_PREFIX": "glovebox.config.layers",
    "CacheSection": "glovebox.config.models",
    "ConfigLayer": "glovebox.config.layers",
    "DomainCacheConfig": "glovebox.config.models",
    "GloveboxConfig": "glovebox.config.models",
    "UserConfig": "glovebox.config.user_config",
    "default_config_file": "glovebox.config.loader",
    "find_user_config_file": "glovebox.config.loader",
    "load_user_config": "glovebox.config.loader",
    "user_config_from_mapping": "glovebox.config.loader",
}


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
