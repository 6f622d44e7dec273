"""Workspace cache settings, read from the (duck-typed) user configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from glovebox.compilation.cache.models import WorkspaceConfig
from glovebox.errors import ConfigError

__all__ = [
    "DEFAULT_BRANCH_TTL_DAYS",
    "DEFAULT_REVISION_TTL_DAYS",
    "WorkspaceCacheSettings",
    "settings_from_user_config",
]

DEFAULT_REVISION_TTL_DAYS = 30.0
DEFAULT_BRANCH_TTL_DAYS = 1.0
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class WorkspaceCacheSettings:
    """How long entries live and what is left out of them."""

    revision_ttl_days: float = DEFAULT_REVISION_TTL_DAYS
    branch_ttl_days: float = DEFAULT_BRANCH_TTL_DAYS
    exclude_git: bool = False
    lock_timeout: float = 600.0

    def ttl_seconds(self, config: WorkspaceConfig) -> float:
        """A branch moves, so its workspace goes stale sooner than a pinned revision's."""
        days = self.branch_ttl_days if config.is_branch else self.revision_ttl_days
        return days * _DAY


def _days(section: Any, name: str, default: float) -> float:
    value = getattr(section, name, None)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"compilation.{name}: expected a positive number of days, got {value!r}")
    if value <= 0:
        raise ConfigError(f"compilation.{name}: must be greater than 0 days, got {value!r}")
    return float(value)


def settings_from_user_config(user_config: Any) -> WorkspaceCacheSettings:
    """Settings from ``user_config.compilation`` when present, else the defaults.

    Recognised (all optional): ``workspace_ttl_revision_days`` (default 30),
    ``workspace_ttl_branch_days`` (default 1), ``workspace_exclude_git`` (default False).
    """
    section = getattr(user_config, "compilation", None)
    exclude_git = getattr(section, "workspace_exclude_git", None)
    if exclude_git is not None and not isinstance(exclude_git, bool):
        raise ConfigError(
            f"compilation.workspace_exclude_git: expected true or false, got {exclude_git!r}"
        )
    return WorkspaceCacheSettings(
        revision_ttl_days=_days(section, "workspace_ttl_revision_days", DEFAULT_REVISION_TTL_DAYS),
        branch_ttl_days=_days(section, "workspace_ttl_branch_days", DEFAULT_BRANCH_TTL_DAYS),
        exclude_git=bool(exclude_git),
    )
