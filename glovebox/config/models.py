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

from glovebox.config.restore_strategy import RestoreStrategy
from glovebox.core.cache_v2 import (
    DEFAULT_MAX_SIZE_GB,
    DEFAULT_TIMEOUT,
    MAX_SIZE_GB_LIMIT,
    MAX_TIMEOUT,
    SETTING_LIMITS,
    RedisSettings,
    Strategy,
    parse_strategy,
    positive_number,
    validate_tag,
)
from glovebox.remote.settings import RemoteSettings
from glovebox.text import quote

__all__ = [
    "MAX_CACHE_SIZE_GB",
    "MAX_CACHE_TIMEOUT",
    "CacheSection",
    "CompilationSection",
    "DomainCacheConfig",
    "GloveboxConfig",
    "SettingValueError",
    "describe_location",
]

_STRICT = ConfigDict(extra="forbid", frozen=True, validate_default=True)

# The engine's bounds (glovebox.core.cache_v2), so a value the file accepts is one the
# engine accepts: the size in bytes is a signed 64-bit SQLite integer, the timeout a wait
# no user would sit through.
MAX_CACHE_SIZE_GB = float(MAX_SIZE_GB_LIMIT)
MAX_CACHE_TIMEOUT = float(MAX_TIMEOUT)


class SettingValueError(ValueError):
    """A value refused by a field validator; the loader prefixes its file, line and path."""


def _shown(value: object) -> str:
    """How a refused value is named in a message (YAML spelling for null and booleans)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"the text {quote(value)}"
    return quote(value)


def _positive_number(value: object, info: ValidationInfo, unit: str, upper: float | None) -> float:
    """A finite number greater than 0 (and at most ``upper``), or ``SettingValueError``.

    YAML and Python values must already be numbers: ``"2"`` or ``true`` in a file is a
    mistake worth pointing out. Values from the environment are text, parsed here.
    """
    accepted = (
        f"a finite number greater than 0{'' if upper is None else f' and at most {upper:,.0f}'}"
    )
    context = info.context if isinstance(info.context, dict) else {}
    candidate: object = value
    if isinstance(value, str) and context.get("text_values"):
        try:
            candidate = float(value.strip())
        except ValueError:
            candidate = None
    number = positive_number(candidate, upper)  # the engine's rule, not a copy of it
    if number is None:
        raise SettingValueError(f"expected {accepted} ({unit}), got {_shown(value)}")
    return number


def describe_location(info: ValidationInfo, yaml_path: str) -> str:
    """Where ``yaml_path`` came from, for messages: ``file.yaml:7: cache.timeout`` and the like.

    The loader passes a ``describe`` callable in the validation context; without one (a
    plain dict handed to the model) the location is just the YAML path.
    """
    context = info.context if isinstance(info.context, dict) else {}
    describe = context.get("describe")
    return str(describe(yaml_path)) if callable(describe) else f"configuration: {yaml_path}"


def _check_setting(value: object, info: ValidationInfo) -> float:
    unit, upper = SETTING_LIMITS[str(info.field_name)]
    return _positive_number(value, info, unit, upper)


class DomainCacheConfig(BaseModel):
    """``cache.domains.<tag>``: settings of one domain; ``None`` defers to the global ones."""

    model_config = _STRICT

    strategy: Strategy | None = None
    max_size_gb: float | None = Field(default=None, gt=0, le=MAX_SIZE_GB_LIMIT, allow_inf_nan=False)
    timeout: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    default_ttl: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @field_validator("max_size_gb", "timeout", "default_ttl", mode="before")
    @classmethod
    def _check_number(cls, value: Any, info: ValidationInfo) -> float | None:
        if value is None:
            return None  # defer to the global setting
        return _check_setting(value, info)


class CacheSection(BaseModel):
    """``cache``: limits shared by all domains, and per-domain overrides."""

    model_config = _STRICT

    # Defaults and bounds are the engine's (glovebox.core.cache_v2.models), written once.
    max_size_gb: float = Field(
        default=DEFAULT_MAX_SIZE_GB, gt=0, le=MAX_SIZE_GB_LIMIT, allow_inf_nan=False
    )
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    domains: dict[str, DomainCacheConfig] = Field(default_factory=dict)
    # The shared server of domains whose strategy is ``redis`` (docs/redis.md).
    redis: RedisSettings = Field(default_factory=RedisSettings)
    # The S3-compatible store shared by build machines (docs/remote.md).
    remote: RemoteSettings = Field(default_factory=RemoteSettings)

    @field_validator("max_size_gb", "timeout", mode="before")
    @classmethod
    def _check_number(cls, value: Any, info: ValidationInfo) -> float:
        return _check_setting(value, info)

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
    zmk_repository: str = Field(default="moergo-sc/zmk", min_length=1)
    zmk_revision: str = Field(default="main", min_length=1)
    board: str = Field(default="glove80", min_length=1)
    build_timeout: float = Field(default=1800, gt=0)


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
        if isinstance(value, str) and "\0" in value:
            raise SettingValueError(
                f"a path cannot contain a NUL byte (\\0), got {quote(value)}; "
                "give a directory path, or null for the platform cache directory"
            )
        if isinstance(value, str | os.PathLike):
            expanded = os.path.expandvars(os.path.expanduser(os.fspath(value)))
            return Path(expanded).absolute()
        return value

    @field_validator("cache_strategy", mode="before")
    @classmethod
    def _parse_cache_strategy(cls, value: Any, info: ValidationInfo) -> Strategy:
        where = describe_location(info, "cache_strategy")
        return parse_strategy(value, where=where, allow_memory=False)
