"""Typed inputs and results of the ZMK workspace cache.

``WorkspaceConfig`` says *which* workspace (everything that changes its contents);
the result models report what was stored or restored, with real sizes, counts and times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CacheWorkspaceResult",
    "CleanupResult",
    "ProgressCallback",
    "RestoreResult",
    "RestoreStrategy",
    "WorkspaceConfig",
    "WorkspaceEntry",
    "WorkspaceProgress",
]

# "owner/name" (GitHub style) or a URL / local path to a git repository.
_REPOSITORY = re.compile(
    r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$|^(https?|ssh|git|file)://\S+$|^git@\S+$"
)
# git refuses these in ref names; rejecting them here beats a failure deep inside west.
_BAD_REF = re.compile(r"(^[-/.])|(\.\.)|([\s~^:?*\[\\])|(@\{)|([/.]$)|(\.lock$)")
_HEX = re.compile(r"^[0-9a-f]{8,128}$")


class RestoreStrategy(StrEnum):
    """How a cached workspace is materialised at its destination."""

    COPY = "copy"
    HARDLINK = "hardlink"
    REFLINK = "reflink"


class WorkspaceConfig(BaseModel):
    """Identity of a west workspace: what changes its contents changes its cache key.

    Exactly one of ``branch`` (moving: short TTL) or ``revision`` (a tag or commit:
    pinned, long TTL) is given. ``manifest_hash`` is a hex digest of the west manifest
    when the build uses its own ``west.yml`` (see ``keying.manifest_hash``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    repository: str = Field(min_length=1, max_length=300)
    branch: str | None = Field(default=None, min_length=1, max_length=200)
    revision: str | None = Field(default=None, min_length=1, max_length=200)
    manifest_hash: str | None = None

    @field_validator("repository")
    @classmethod
    def _check_repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(
                f"repository {value!r} is not 'owner/name' (e.g. 'zmkfirmware/zmk') "
                "nor a git URL (https://, ssh://, git://, file:// or git@host:path)"
            )
        return value

    @field_validator("branch", "revision")
    @classmethod
    def _check_ref(cls, value: str | None) -> str | None:
        if value is not None and _BAD_REF.search(value):
            raise ValueError(
                f"{value!r} is not a valid git branch, tag or commit name "
                "(no spaces, '..', '~^:?*[\\', leading '-', trailing '/' or '.')"
            )
        return value

    @field_validator("manifest_hash")
    @classmethod
    def _check_hash(cls, value: str | None) -> str | None:
        if value is not None and not _HEX.match(value):
            raise ValueError(f"manifest_hash must be 8-128 lowercase hex digits, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_ref(self) -> WorkspaceConfig:
        if (self.branch is None) == (self.revision is None):
            raise ValueError(
                "give exactly one of 'branch' (e.g. 'main') or 'revision' (a tag or commit)"
            )
        return self

    @property
    def ref(self) -> str:
        """The branch or revision west checks out."""
        return self.branch if self.branch is not None else str(self.revision)

    @property
    def is_branch(self) -> bool:
        return self.branch is not None


class WorkspaceEntry(BaseModel):
    """A published cache entry, as recorded when it was stored."""

    model_config = ConfigDict(frozen=True)

    key: str
    config: WorkspaceConfig
    path: Path = Field(description="the cached workspace tree (read-only by convention)")
    entry_id: str
    size_bytes: int
    file_count: int
    created_at: datetime
    expires_at: datetime | None
    hardlinked: bool = Field(
        default=False, description="handed out by hardlink at least once: verified on use"
    )

    @property
    def age_seconds(self) -> float:
        return (datetime.now(UTC) - self.created_at).total_seconds()


class CacheWorkspaceResult(BaseModel):
    """What ``cache_workspace`` / ``import_workspace`` stored and how."""

    model_config = ConfigDict(frozen=True)

    entry: WorkspaceEntry
    method: str = Field(description="'move' (rename), 'copy', or 'archive'")
    replaced: bool = Field(description="an older entry for the same key was replaced")
    fallback_reason: str | None = None
    seconds: float


class RestoreResult(BaseModel):
    """What ``restore_workspace`` produced at the destination."""

    model_config = ConfigDict(frozen=True)

    key: str
    destination: Path
    requested: RestoreStrategy
    used: RestoreStrategy
    fallback_reason: str | None = None
    file_count: int
    size_bytes: int
    seconds: float


class CleanupResult(BaseModel):
    """What one ``cleanup()`` pass removed."""

    model_config = ConfigDict(frozen=True)

    expired_or_orphaned: list[str] = Field(
        default_factory=list, description="entry directories without (live) metadata"
    )
    stale_metadata: list[str] = Field(
        default_factory=list, description="metadata whose directory is missing or different"
    )
    modified: list[str] = Field(
        default_factory=list, description="entries changed through a hardlink"
    )
    leftovers: list[str] = Field(
        default_factory=list, description="staging/trash directories of interrupted operations"
    )
    skipped_busy: list[str] = Field(
        default_factory=list, description="keys locked by another operation, left alone"
    )

    @property
    def removed_count(self) -> int:
        return (
            len(self.expired_or_orphaned)
            + len(self.stale_metadata)
            + len(self.modified)
            + len(self.leftovers)
        )


class WorkspaceProgress(BaseModel):
    """One progress report of a long operation (copy, link, archive)."""

    model_config = ConfigDict(frozen=True)

    operation: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


ProgressCallback = Callable[[WorkspaceProgress], None]
