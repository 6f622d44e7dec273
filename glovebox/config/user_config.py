"""``UserConfig``: the validated configuration plus where each setting came from."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glovebox.config.plain import CacheSectionLike, PlainCacheSection, plain_strategy
from glovebox.core.cache_v2 import Strategy

if TYPE_CHECKING:
    from glovebox.config.models import CompilationSection, GloveboxConfig

__all__ = ["UserConfig"]


class UserConfig:
    """The user's configuration as the cache factories and services consume it.

    ``_config`` is the validated :class:`GloveboxConfig` (the spec passes
    ``user_config._config`` to ``create_cache_from_user_config``); this wrapper exposes the
    same ``cache_path``, ``cache_strategy`` and ``cache`` attributes, so either object
    yields the same shared cache instance. Instances are read-only.

    An instance built by :meth:`from_validated_data` (a configuration snapshot) answers
    ``cache_path``, ``cache_strategy``, ``cache`` (except ``cache.redis``), ``origins``,
    ``files`` and ``to_dict()`` from that data; ``_config``, ``compilation`` and
    ``cache.redis`` validate the configuration in full on first use.
    """

    def __init__(
        self,
        config: GloveboxConfig,
        *,
        origins: Mapping[str, str] | None = None,
        files: Sequence[Path] = (),
    ) -> None:
        self._validated: GloveboxConfig | None = config
        self._reload: Callable[[], GloveboxConfig] | None = None
        self._data: dict[str, Any] | None = None
        self._plain_path: Path | None = None
        self._plain_strategy: Strategy | None = None
        self._plain_cache: PlainCacheSection | None = None
        self._origins = dict(origins or {})
        self._files = tuple(files)

    @classmethod
    def from_validated_data(
        cls,
        data: Mapping[str, Any],
        *,
        reload: Callable[[], GloveboxConfig],
        origins: Mapping[str, str] | None = None,
        files: Sequence[Path] = (),
    ) -> UserConfig:
        """An instance over ``GloveboxConfig.model_dump(mode="json")`` output, kept earlier.

        ``reload`` returns the validated model when ``_config`` is first needed. The data
        must hold no credentials (``cache.redis.secret`` must be null). Raises
        ``ValueError`` if ``data`` does not have the dumped shape.
        """
        self = cls.__new__(cls)
        self._validated = None
        self._reload = reload
        self._origins = dict(origins or {})
        self._files = tuple(files)
        path = data.get("cache_path")
        if not isinstance(path, str) or not path:
            raise ValueError("cache_path: expected a path")
        redis = (data.get("cache") or {}).get("redis")
        if not isinstance(redis, Mapping) or redis.get("secret") is not None:
            raise ValueError("cache.redis: expected settings without a secret")
        self._data = copy.deepcopy(dict(data))
        self._plain_path = Path(path)
        self._plain_strategy = plain_strategy(data.get("cache_strategy"), "cache_strategy")
        self._plain_cache = PlainCacheSection.from_data(
            data.get("cache"), lambda: self._config.cache.redis
        )
        return self

    @property
    def _config(self) -> GloveboxConfig:
        if self._validated is None:
            if self._reload is None:  # pragma: no cover - every constructor sets one
                raise RuntimeError("UserConfig has neither a model nor a way to load one")
            self._validated = self._reload()
        return self._validated

    @property
    def cache_path(self) -> Path:
        if self._plain_path is not None:
            return self._plain_path
        return self._config.cache_path

    @property
    def cache_strategy(self) -> Strategy:
        if self._plain_strategy is not None:
            return self._plain_strategy
        return self._config.cache_strategy

    @property
    def cache(self) -> CacheSectionLike:
        if self._plain_cache is not None:
            return self._plain_cache
        return self._config.cache

    @property
    def compilation(self) -> CompilationSection:
        return self._config.compilation

    @property
    def files(self) -> tuple[Path, ...]:
        """The YAML files that were read, lowest precedence first."""
        return self._files

    @property
    def origins(self) -> dict[str, str]:
        """Every YAML path some layer set, mapped to where (``file:line`` or variable)."""
        return dict(self._origins)

    def origin(self, yaml_path: str) -> str:
        """Where ``yaml_path`` was set: ``file:line`` or the environment variable's name.

        ``"built-in default"`` when no layer mentions it (the model's own default).
        """
        return self._origins.get(yaml_path, "built-in default")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as strings, strategies as words), e.g. for ``Configuration``.

        The data is complete, so it includes ``cache.redis.secret``: it is for building
        objects, never for display.
        """
        if self._data is not None:
            return copy.deepcopy(self._data)
        data = self._config.model_dump(mode="json")
        secret = self._config.cache.redis.secret
        if secret is not None:
            data["cache"]["redis"]["secret"] = secret.get_secret_value()
        remote_secret = self._config.cache.remote.secret
        if remote_secret is not None:
            data["cache"]["remote"]["secret"] = remote_secret.get_secret_value()
        return data

    def __repr__(self) -> str:
        files = ", ".join(str(path) for path in self._files) or "no files"
        return f"UserConfig(cache_path={str(self.cache_path)!r}, from {files})"
