"""The Redis backend under its earlier path; it lives in :mod:`.backends.redis`."""

from glovebox.core.cache_v2.backends.redis import (
    SECRET_ENV_VAR,
    URL_ENV_VAR,
    RedisCache,
    RedisUnavailableError,
    settings_from_environment,
)

__all__ = [
    "SECRET_ENV_VAR",
    "URL_ENV_VAR",
    "RedisCache",
    "RedisUnavailableError",
    "settings_from_environment",
]
