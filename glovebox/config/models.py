"""The validated shape of Glovebox's configuration (what ``config/default.yaml`` documents).

Field names are the ones the cache factories read by duck typing: ``cache_path``,
``cache_strategy``, ``cache.max_size_gb``, ``cache.timeout`` and
``cache.domains.<tag>.{strategy,max_size_gb,timeout,default_ttl}``. Every model forbids
unknown keys, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from glovebox.compilation.restore_strategy import RestoreStrategy
from glovebox.core.cache_v2.policy import Strategy, parse_strategy, validate_tag

__all__ = [
    "CacheSection",
    "CompilationSection",
    "DomainCacheConfig",
    "GloveboxConfig",
    "describe_location",
]

_STRICT = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def describe_location(info: ValidationInfo, yaml_path: str) -> str:
    """Where ``yaml_path`` came from, for messages: ``file.yaml:7: cache.timeout`` and the like.

    The loader passes a ``describe`` callable in the validation context; without one (a
    plain dict handed to the model) the location is just the YAML path.
    """
    context = info.context if isinstance(info.context, dict) else {}
    describe = context.get("describe")
    return str(describe(yaml_path)) if callable(describe) else f"configuration: {yaml_path}"


class DomainCacheConfig(BaseModel):
    """``cache.domains.<tag>``: settings of one domain; ``None`` defers to the global ones."""

    model_config = _STRICT

    strategy: Strategy | None = None
    max_size_gb: float | None = Field(default=None, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    default_ttl: float | None = Field(default=None, gt=0)


class CacheSection(BaseModel):
    """``cache``: limits shared by all domains, and per-domain overrides."""

    model_config = _STRICT

    max_size_gb: float = Field(default=2, gt=0)
    timeout: float = Field(default=30, gt=0)
    domains: dict[str, DomainCacheConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _parse_domain_strategies(cls, data: Any, info: ValidationInfo) -> Any:
        # Done here rather than on DomainCacheConfig because only this level knows the tag,
        # and the error must name the full YAML path (cache.domains.<tag>.strategy).
        if not isinstance(data, dict) or not isinstance(data.get("domains"), dict):
            return data
        domains: dict[Any, Any] = {}
        for tag, raw in data["domains"].items():
            path = f"cache.domains.{tag}"
            try:
                validate_tag(tag if isinstance(tag, str) else str(tag))
            except ValueError as exc:
                raise ValueError(f"{describe_location(info, path)}: {exc}") from None
            if isinstance(raw, dict) and raw.get("strategy") is not None:
                where = describe_location(info, f"{path}.strategy")
                raw = {**raw, "strategy": parse_strategy(raw["strategy"], where=where)}  # noqa: PLW2901
            domains[tag] = raw
        return {**data, "domains": domains}


class CompilationSection(BaseModel):
    """``compilation``: the ZMK workspace cache and how west is run.

    The defaults written here are the only ones: the compilation services receive these
    values (from the container, or through ``compilation_settings`` for duck-typed
    configurations) and define no defaults of their own.
    """

    model_config = _STRICT

    workspace_ttl_revision_days: float = Field(default=30, gt=0)
    workspace_ttl_branch_days: float = Field(default=1, gt=0)
    workspace_exclude_git: bool = False
    workspace_restore_strategy: RestoreStrategy = RestoreStrategy.COPY
    workspace_download_timeout: float = Field(default=3600, gt=0)
    west_runner: Literal["native", "docker"] = "native"
    docker_image: str = Field(default="zmkfirmware/zmk-build-arm:stable", min_length=1)


class GloveboxConfig(BaseModel):
    """The whole configuration after all layers are merged."""

    model_config = _STRICT

    cache_path: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir("glovebox")))
    cache_strategy: Strategy = Strategy.ENABLED
    cache: CacheSection = Field(default_factory=CacheSection)
    compilation: CompilationSection = Field(default_factory=CompilationSection)

    @field_validator("cache_path", mode="before")
    @classmethod
    def _expand_cache_path(cls, value: Any) -> Any:
        # None (or an empty string) means the platform default, computed when loading so
        # that XDG_CACHE_HOME set by the caller (or a test) is honoured.
        if value is None or (isinstance(value, str) and not value.strip()):
            return Path(platformdirs.user_cache_dir("glovebox"))
        if isinstance(value, str | os.PathLike):
            expanded = os.path.expandvars(os.path.expanduser(os.fspath(value)))
            return Path(expanded).absolute()
        return value

    @field_validator("cache_strategy", mode="before")
    @classmethod
    def _parse_cache_strategy(cls, value: Any, info: ValidationInfo) -> Strategy:
        where = describe_location(info, "cache_strategy")
        return parse_strategy(value, where=where, allow_memory=False)
