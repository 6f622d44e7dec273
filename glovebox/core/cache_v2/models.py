"""The settings record of one cache instance, and typed results: statistics and metadata.

All three are frozen standard-library dataclasses: they are built by the engine from
values it already holds (nothing here parses user input), and importing this module must
stay cheap, because every command that reads one key imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from glovebox.errors import ConfigError

if TYPE_CHECKING:
    from glovebox.core.cache_v2.redis_settings import RedisSettings

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_MAX_SIZE_GB",
    "DEFAULT_SERIALIZER",
    "DEFAULT_SETTINGS",
    "DEFAULT_TIMEOUT",
    "MAX_SIZE_GB_LIMIT",
    "MAX_TIMEOUT",
    "MIN_SECRET_LENGTH",
    "SERIALIZERS",
    "SETTING_LIMITS",
    "CacheMetadata",
    "CacheSettings",
    "CacheStats",
    "Serializer",
    "positive_number",
    "short_secret_problem",
]

# The shortest signing secret accepted (Redis backend, local disk values, remote tier).
MIN_SECRET_LENGTH = 16


def short_secret_problem(secret: str | None) -> str | None:
    """Why a configured signing ``secret`` is refused (too short), or None when it may sign.

    One rule and one message for the settings that hold a secret (``cache.redis.secret``,
    ``cache.remote.secret``); each raises it as its own setting error.
    """
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        return (
            f"expected a secret of at least {MIN_SECRET_LENGTH} characters (a random "
            "string), got a shorter one"
        )
    return None


Serializer = Literal["pickle", "json"]
SERIALIZERS: tuple[Serializer, ...] = ("pickle", "json")

# The defaults of every cache, written once: the config model, the factories and the
# spec's get_shared_cache_instance() signature all use these names.
DEFAULT_BACKEND = "disk"
DEFAULT_MAX_SIZE_GB = 2
DEFAULT_TIMEOUT = 30
DEFAULT_SERIALIZER: Serializer = "pickle"
# Upper bounds keep the values inside what SQLite can store (the size limit in bytes is a
# 64-bit integer) and what its busy timeout can wait (milliseconds in a C int). The
# configuration models take theirs from here.
MAX_SIZE_GB_LIMIT = 1024**2  # 1,048,576 GiB = 1 PiB = 2**50 bytes
MAX_TIMEOUT = 86_400  # one day


SETTING_LIMITS: dict[str, tuple[str, float | None]] = {
    "max_size_gb": ("GiB", MAX_SIZE_GB_LIMIT),
    "timeout": ("seconds", MAX_TIMEOUT),
    "default_ttl": ("seconds", None),
}
"""Unit and upper bound of each numeric cache setting (the configuration models use it too)."""


def positive_number(value: object, upper: float | None) -> float | None:
    """``value`` as a float if it is a real number (not a bool), finite, in ``(0, upper]``.

    None otherwise. The one numeric rule of every cache setting: the engine's
    :class:`CacheSettings` and the configuration models both apply it.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    if not math.isfinite(number) or number <= 0 or (upper is not None and number > upper):
        return None
    return number


def _check_number(name: str, value: object, *, none_ok: bool = False) -> None:
    """Raise ``ConfigError`` unless ``value`` passes :func:`positive_number` for ``name``."""
    if none_ok and value is None:
        return
    unit, upper = SETTING_LIMITS[name]
    if positive_number(value, upper) is None:
        accepted = f"a finite number of {unit} greater than 0"
        if upper is not None:
            accepted += f" and at most {upper}"
        if none_ok:
            accepted += ", or None"
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ConfigError(
            f"cache setting {name}: invalid value {shown} ({type(value).__name__}); "
            f"accepted: {accepted}"
        )


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """How one cache instance is opened; every layer passes this record whole.

    Validated when built: a bad value raises ``ConfigError`` naming the setting and the
    accepted range. ``backend`` names an entry of the backend table
    (:mod:`glovebox.core.cache_v2.backends`); unknown names are refused when opening.
    """

    backend: str = DEFAULT_BACKEND
    max_size_gb: float = DEFAULT_MAX_SIZE_GB
    timeout: float = DEFAULT_TIMEOUT
    default_ttl: float | None = None
    serializer: Serializer = DEFAULT_SERIALIZER
    # The server of backend "redis"; None: from GLOVEBOX_CACHE_REDIS_URL/SECRET.
    redis: RedisSettings | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) or not self.backend:
            raise ConfigError(
                f"cache setting backend: invalid value {self.backend!r}; "
                "accepted: the name of a registered backend, e.g. 'disk' or 'memory'"
            )
        _check_number("max_size_gb", self.max_size_gb)
        _check_number("timeout", self.timeout)
        _check_number("default_ttl", self.default_ttl, none_ok=True)
        if self.serializer not in SERIALIZERS:
            raise ConfigError(
                f"cache setting serializer: invalid value {self.serializer!r}; "
                f"accepted: {', '.join(SERIALIZERS)}"
            )
        if self.redis is not None and not _is_redis_settings(self.redis):
            raise ConfigError(
                f"cache setting redis: invalid value of type {type(self.redis).__name__}; "
                "accepted: a RedisSettings record, or None"
            )

    @property
    def size_limit_bytes(self) -> int:
        return int(self.max_size_gb * 1024**3)

    def describe(self) -> str:
        return (
            f"backend={self.backend} max_size_gb={self.max_size_gb} timeout={self.timeout} "
            f"default_ttl={self.default_ttl} serializer={self.serializer}"
            + ("" if self.redis is None else f" redis={self.redis.masked_url}")
        )


def _is_redis_settings(value: object) -> bool:
    # Imported here: the Redis settings are a pydantic model, needed only with a server.
    from glovebox.core.cache_v2.redis_settings import RedisSettings

    return isinstance(value, RedisSettings)


DEFAULT_SETTINGS = CacheSettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheStats:
    """Counters of one cache instance.

    ``hits``/``misses`` of a disk cache are the totals persisted in its database (all
    processes, all runs) plus this process's counts not yet flushed. ``evictions`` and
    ``errors`` count what this process saw.
    """

    backend: str
    tag: str
    directory: Path | None = None
    # Where a backend without a directory keeps its entries (Redis: masked URL and namespace).
    location: str | None = None
    hits: int = 0
    misses: int = 0
    entries: int = 0
    size_bytes: int = 0
    evictions: int = 0
    errors: int = 0

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups, or ``None`` before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheMetadata:
    """What the backend stored about one entry. ``None`` means the backend does not know."""

    key: str
    stored_at: datetime | None
    expires_at: datetime | None
    size_bytes: int | None

    @property
    def ttl_remaining(self) -> float | None:
        """Seconds until expiry, or ``None`` for entries that never expire."""
        if self.expires_at is None:
            return None
        return (self.expires_at - datetime.now(UTC)).total_seconds()


def timestamp_to_datetime(value: float | None) -> datetime | None:
    """Unix seconds (as stored by the backends) to an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)
