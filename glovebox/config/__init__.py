"""Glovebox configuration: the validated model, the ``UserConfig`` wrapper, YAML layers.

Names are imported on first access, so code that only loads a configuration snapshot
(:mod:`glovebox.config.snapshot`) does not import the pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glovebox._lazy import lazy_attributes

if TYPE_CHECKING:
    from glovebox.config.layers import ConfigLayer
    from glovebox.config.loader import load_user_config, user_config_from_mapping
    from glovebox.config.models import CacheSection, DomainCacheConfig, GloveboxConfig
    from glovebox.config.sources import (
        CONFIG_ENV_VAR,
        ENV_SETTING_PREFIX,
        default_config_file,
        find_user_config_file,
    )
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
    "CONFIG_ENV_VAR": "glovebox.config.sources",
    "ENV_SETTING_PREFIX": "glovebox.config.sources",
    "CacheSection": "glovebox.config.models",
    "ConfigLayer": "glovebox.config.layers",
    "DomainCacheConfig": "glovebox.config.models",
    "GloveboxConfig": "glovebox.config.models",
    "UserConfig": "glovebox.config.user_config",
    "default_config_file": "glovebox.config.sources",
    "find_user_config_file": "glovebox.config.sources",
    "load_user_config": "glovebox.config.loader",
    "user_config_from_mapping": "glovebox.config.loader",
}


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
