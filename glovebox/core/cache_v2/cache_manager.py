"""The ``CacheManager`` interface every backend satisfies, and the behaviour they share.

Backends implement the storage primitives; :class:`BaseCache` derives the rest
(``get_or_set``, ``memoize``, the context-manager protocol) once, so the three backends
cannot drift apart in how they behave.
"""

from __future__ import annotations

import functools
import hashlib
import math
import pickle
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, ParamSpec, Protocol, Self, TypeVar, runtime_checkable

from glovebox._closing import ClosedOnExit
from glovebox.core.cache_v2.locks import KeyLocks
from glovebox.core.cache_v2.models import CacheMetadata, CacheStats
from glovebox.core.cache_v2.policy import plain_str
from glovebox.errors import InvalidArgumentError, InvalidArgumentTypeError
from glovebox.text import quote

__all__ = [
    "MAX_KEY_LENGTH",
    "MISSING",
    "BaseCache",
    "CacheManager",
    "validate_key",
    "validate_ttl",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

MAX_KEY_LENGTH = 1024


@runtime_checkable
class CacheManager(Protocol):
    """A key-value cache for one domain (tag).

    Keys are non-empty strings. Values are any picklable object (a stored ``None`` is a
    value like any other). ``ttl`` is in seconds; ``None`` means no expiry.
    """

    @property
    def tag(self) -> str: ...

    @property
    def persistent(self) -> bool:
        """Whether stored entries outlive this process (and are seen by other processes)."""
        ...

    @property
    def stores(self) -> bool:
        """Whether ``set`` keeps values at all (False: every lookup is a miss)."""
        ...

    @property
    def unusable(self) -> str | None:
        """Why the cache asked for could not be opened (this one then stores nothing)."""
        ...

    def get(self, key: str, default: Any = None) -> Any: ...
    def peek(self, key: str, default: Any = None) -> Any:
        """Like ``get`` but counts no hit or miss (for inspection)."""
        ...

    def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> bool: ...
    def delete_many(self, keys: Iterable[str]) -> int: ...
    def clear(self) -> None: ...
    def keys(self) -> list[str]: ...
    def get_metadata(self, key: str) -> CacheMetadata | None: ...
    def get_stats(self) -> CacheStats: ...
    def cleanup(self) -> int: ...
    def close(self) -> None: ...
    def get_many(self, keys: Iterable[str]) -> dict[str, Any]: ...
    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None: ...
    def get_or_set(self, key: str, compute: Callable[[], T], ttl: float | None = None) -> T: ...
    def touch(self, key: str, ttl: float | None = None) -> bool: ...
    def memoize(self, ttl: float | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def validate_key(key: object) -> str:
    """Return ``key`` as a plain ``str`` if it is a usable cache key, else raise.

    A ``str`` subclass (a ``StrEnum`` member, say) comes back as the equal plain string,
    so every backend stores and finds it as the same entry. Raises
    ``InvalidArgumentTypeError`` (a ``TypeError``) for a non-string and
    ``InvalidArgumentError`` (a ``ValueError``) for an empty, over-long or non-UTF-8 key,
    or one that is not a single line (a listing of keys prints one key per line).
    """
    if not isinstance(key, str):
        raise InvalidArgumentTypeError(
            f"cache key must be a str, got {type(key).__name__}: {quote(key)}"
        )
    key = plain_str(key)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidArgumentError(
            f"cache key must be 1-{MAX_KEY_LENGTH} characters, got {len(key)}: {quote(key)}"
        )
    if key.splitlines() != [key]:
        raise InvalidArgumentError(f"cache key must be one line (no line break), got {quote(key)}")
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                "cache key must be text that can be encoded as UTF-8 "
                f"(no lone surrogates), got {quote(key)}"
            ) from None
    return key


def validate_ttl(ttl: object) -> float | None:
    """Return ``ttl`` in seconds (``None``: no expiry); raise ``InvalidArgument(Type)Error``."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise InvalidArgumentTypeError(
            f"ttl must be a number of seconds or None, got {type(ttl).__name__}"
        )
    if not math.isfinite(ttl) or ttl <= 0:
        raise InvalidArgumentError(
            f"ttl must be a positive, finite number of seconds or None, got {ttl!r}"
        )
    return float(ttl)


MISSING: Any = object()
"""Sentinel: "no value" (a stored ``None`` is a value); backends return it for a miss."""


class BaseCache(ClosedOnExit):
    """Shared behaviour of the backends. Subclasses provide the storage primitives."""

    _tag: str
    _closed: bool = False

    @property
    def tag(self) -> str:
        return self._tag

    @property
    def stores(self) -> bool:
        """Every backend stores values; only ``DisabledCache`` answers False."""
        return True

    @property
    def unusable(self) -> str | None:
        """None for a cache that was opened; ``DisabledCache`` says why one could not be."""
        return None

    # Primitives each backend defines (declared for the type checker).
    def get(self, key: str, default: Any = None) -> Any:
        raise NotImplementedError

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        raise NotImplementedError

    _key_locks: KeyLocks

    def _compute_lock(self, key: str) -> AbstractContextManager[None]:
        """A lock that serialises computing ``key`` (across processes where the backend can)."""
        return self._key_locks.hold(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The stored values of those ``keys`` that are present (missing keys are left out)."""
        found: dict[str, Any] = {}
        for key in keys:
            value = self.get(key, MISSING)
            if value is not MISSING:
                found[key] = value
        return found

    def get_or_set(self, key: str, compute: Callable[[], T], ttl: float | None = None) -> T:
        """Return the value of ``key``, computing and storing it on a miss.

        Concurrent callers asking for the same missing key wait for the first one, so
        ``compute`` runs once; if it raises, nothing is stored and the error propagates.
        """
        key = validate_key(key)
        validate_ttl(ttl)
        value = self.get(key, MISSING)
        if value is not MISSING:
            return value  # type: ignore[no-any-return]
        with self._compute_lock(key):
            value = self._peek(key)
            if value is not MISSING:
                return value  # type: ignore[no-any-return]
            computed = compute()
            self._store_computed(key, computed, ttl)
            return computed

    def _store_computed(self, key: str, value: Any, ttl: float | None) -> None:
        """Store the value ``get_or_set`` computed (a backend may tolerate failures here)."""
        self.set(key, value, ttl=ttl)

    def _peek(self, key: str) -> Any:
        """Read ``key`` without counting a hit or miss (used for the re-check under lock)."""
        return self.get(key, MISSING)

    def peek(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (or ``default``), counting no hit or miss: for inspection,
        so that looking at a cache never changes its hit rate."""
        key = validate_key(key)
        value = self._peek(key)
        return default if value is MISSING else value

    def memoize(self, ttl: float | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator caching a function's result per arguments (arguments must be picklable)."""
        validate_ttl(ttl)

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            prefix = f"memoize:{func.__module__}.{func.__qualname__}:"

            @functools.wraps(func)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                try:
                    blob = pickle.dumps((args, sorted(kwargs.items())), protocol=4)
                except (pickle.PicklingError, TypeError, AttributeError) as exc:
                    raise InvalidArgumentTypeError(
                        f"memoize({func.__qualname__}): arguments must be picklable: {exc}"
                    ) from exc
                key = prefix + hashlib.sha256(blob).hexdigest()
                return self.get_or_set(key, lambda: func(*args, **kwargs), ttl=ttl)

            return wrapper

        return decorate
