"""The project's exception hierarchy.

Every message says what was wrong, where (tag, key, file, YAML path or environment
variable) and what would have been accepted.
"""

from __future__ import annotations

__all__ = [
    "CacheError",
    "ConfigError",
    "GloveboxError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "UnusableStorageError",
    "WorkspaceError",
]


class GloveboxError(Exception):
    """Base class of every error Glovebox raises on purpose."""


class CacheError(GloveboxError):
    """A cache operation could not be carried out (for example a failed write)."""


class UnusableStorageError(CacheError):
    """A cache directory (or its database) cannot hold a cache; the message says how to fix it.

    The coordinator answers it with a ``DisabledCache`` and a WARNING; code that opens a
    private cache (``create_diskcache_manager``) sees it raised.
    """


class ConfigError(GloveboxError, ValueError):
    """Configuration (file, YAML value or environment variable) is invalid."""


class InvalidArgumentError(GloveboxError, ValueError):
    """A tag, key or TTL given to the cache engine is not accepted; the message says why.

    Also a ``ValueError``, which is what such an argument error is in Python terms.
    """


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """A tag, key or TTL of the wrong type (also a ``TypeError``)."""


class WorkspaceError(GloveboxError):
    """A ZMK workspace could not be cached, restored or imported."""
