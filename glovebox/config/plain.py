"""The ``cache`` section as plain objects, rebuilt from data the models already validated.

A configuration snapshot (:mod:`glovebox.config.snapshot`) holds what
``GloveboxConfig.model_dump(mode="json")`` produced; the classes here turn it back into
objects with the attribute names of :class:`~glovebox.config.models.CacheSection` and
:class:`~glovebox.config.models.DomainCacheConfig`, without importing pydantic. The
protocols name what both kinds of object offer, which is what the cache factories read.

Building from data that does not have the dumped shape raises ``ValueError``; these are
not validators of user input (the models are), only a check that a stored snapshot is
what this code wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from glovebox.core.cache_v2 import Strategy

if TYPE_CHECKING:
    from glovebox.core.cache_v2 import RedisSettings

__all__ = [
    "CacheSectionLike",
    "DomainConfigLike",
    "PlainCacheSection",
    "PlainDomainConfig",
    "plain_float",
    "plain_strategy",
]


class DomainConfigLike(Protocol):
    """``cache.domains.<tag>``: ``None`` defers to the global setting."""

    @property
    def strategy(self) -> Strategy | None: ...

    @property
    def max_size_gb(self) -> float | None: ...

    @property
    def timeout(self) -> float | None: ...

    @property
    def default_ttl(self) -> float | None: ...


class CacheSectionLike(Protocol):
    """``cache``: global limits, per-domain settings and the Redis server."""

    @property
    def max_size_gb(self) -> float: ...

    @property
    def timeout(self) -> float: ...

    @property
    def domains(self) -> Mapping[str, DomainConfigLike]: ...

    @property
    def redis(self) -> RedisSettings: ...


def plain_float(value: object, where: str) -> float:
    """``value`` if it is a number (not a boolean), else ``ValueError``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{where}: expected a number, got {type(value).__name__}")


def _optional_float(value: object, where: str) -> float | None:
    return None if value is None else plain_float(value, where)


def plain_strategy(value: object, where: str) -> Strategy:
    """The :class:`Strategy` whose value is ``value``, else ``ValueError``."""
    if isinstance(value, str):
        try:
            return Strategy(value)
        except ValueError:
            pass
    raise ValueError(f"{where}: expected a strategy word, got {value!r}")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{where}: expected a mapping with text keys")
    return value


@dataclass(frozen=True, slots=True)
class PlainDomainConfig:
    """One domain's settings, as :class:`~glovebox.config.models.DomainCacheConfig` has them."""

    strategy: Strategy | None = None
    max_size_gb: float | None = None
    timeout: float | None = None
    default_ttl: float | None = None

    @classmethod
    def from_data(cls, data: object, where: str) -> PlainDomainConfig:
        fields = _mapping(data, where)
        strategy = fields.get("strategy")
        return cls(
            strategy=None if strategy is None else plain_strategy(strategy, f"{where}.strategy"),
            max_size_gb=_optional_float(fields.get("max_size_gb"), f"{where}.max_size_gb"),
            timeout=_optional_float(fields.get("timeout"), f"{where}.timeout"),
            default_ttl=_optional_float(fields.get("default_ttl"), f"{where}.default_ttl"),
        )


class PlainCacheSection:
    """The ``cache`` section; ``redis`` comes from the full validation, done on first use.

    The Redis settings may hold credentials, which a snapshot never stores: ``redis_loader``
    reads them from where the user keeps them (file or environment) when a Redis cache is
    actually opened.
    """

    __slots__ = ("_domains", "_redis_loader", "max_size_gb", "timeout")

    def __init__(
        self,
        *,
        max_size_gb: float,
        timeout: float,
        domains: Mapping[str, PlainDomainConfig],
        redis_loader: Callable[[], RedisSettings],
    ) -> None:
        self.max_size_gb = max_size_gb
        self.timeout = timeout
        self._domains: Mapping[str, PlainDomainConfig] = MappingProxyType(dict(domains))
        self._redis_loader = redis_loader

    @classmethod
    def from_data(
        cls, data: object, redis_loader: Callable[[], RedisSettings]
    ) -> PlainCacheSection:
        fields = _mapping(data, "cache")
        domains = _mapping(fields.get("domains"), "cache.domains")
        return cls(
            max_size_gb=plain_float(fields.get("max_size_gb"), "cache.max_size_gb"),
            timeout=plain_float(fields.get("timeout"), "cache.timeout"),
            domains={
                tag: PlainDomainConfig.from_data(raw, f"cache.domains.{tag}")
                for tag, raw in domains.items()
            },
            redis_loader=redis_loader,
        )

    @property
    def domains(self) -> Mapping[str, PlainDomainConfig]:
        return self._domains

    @property
    def redis(self) -> RedisSettings:
        return self._redis_loader()

    def __repr__(self) -> str:
        return (
            f"PlainCacheSection(max_size_gb={self.max_size_gb!r}, timeout={self.timeout!r}, "
            f"domains={sorted(self._domains)!r})"
        )
