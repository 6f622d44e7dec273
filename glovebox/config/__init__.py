"""Glovebox configuration: the validated model, the ``UserConfig`` wrapper, YAML layers."""

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
