"""``UserConfig``: the validated configuration plus where each setting came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glovebox.config.models import CacheSection, CompilationSection, GloveboxConfig
from glovebox.core.cache_v2.policy import Strategy

__all__ = ["UserConfig"]


class UserConfig:
    """The user's configuration as the cache factories and services consume it.

    ``_config`` is the validated :class:`GloveboxConfig` (the spec passes
    ``user_config._config`` to ``create_cache_from_user_config``); this wrapper exposes the
    same ``cache_path``, ``cache_strategy`` and ``cache`` attributes, so either object
    yields the same shared cache instance. Instances are read-only.
    """

    def __init__(
        self,
        config: GloveboxConfig,
        *,
        origins: Mapping[str, str] | None = None,
        files: Sequence[Path] = (),
    ) -> None:
        self._config = config
        self._origins = dict(origins or {})
        self._files = tuple(files)

    @property
    def cache_path(self) -> Path:
        return self._config.cache_path

    @property
    def cache_strategy(self) -> Strategy:
        return self._config.cache_strategy

    @property
    def cache(self) -> CacheSection:
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
        data = self._config.model_dump(mode="json")
        secret = self._config.cache.redis.secret
        if secret is not None:
            data["cache"]["redis"]["secret"] = secret.get_secret_value()
        return data

    def __repr__(self) -> str:
        files = ", ".join(str(path) for path in self._files) or "no files"
        return f"UserConfig(cache_path={str(self.cache_path)!r}, from {files})"
