"""Typed inputs, keys, settings and results of the ZMK workspace cache.

``WorkspaceConfig`` says *which* workspace (everything that changes its contents) and
``workspace_key`` names it on disk; ``WorkspaceCacheSettings`` says how long entries live;
the result models report what was stored or restored, with real sizes, counts and times.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glovebox.config.models import CompilationSection
from glovebox.config.restore_strategy import RestoreStrategy

__all__ = [
    "METADATA_PREFIX",
    "CacheWorkspaceResult",
    "CleanupResult",
    "ProgressCallback",
    "RestoreResult",
    "RestoreStrategy",
    "WorkspaceCacheSettings",
    "WorkspaceConfig",
    "WorkspaceEntry",
    "WorkspaceProgress",
    "is_valid_key",
    "manifest_hash",
    "metadata_key",
    "normalize_repository",
    "workspace_key",
]

# "owner/name" (GitHub style) or a URL / local path to a git repository.
_REPOSITORY = re.compile(
    r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$|^(https?|ssh|git|file)://\S+$|^git@\S+$",
    re.IGNORECASE,
)
_GITHUB_HTTPS = re.compile(r"^https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/*$", re.IGNORECASE)
_URL_HEAD = re.compile(r"^([A-Za-z]+://)([^/]*)(.*)$")
# git refuses these in ref names; rejecting them here beats a failure deep inside west.
_BAD_REF = re.compile(r"(^[-/.])|(\.\.)|([\s~^:?*\[\\])|(@\{)|([/.]$)|(\.lock$)")
_HEX = re.compile(r"^[0-9a-f]{8,128}$")


class WorkspaceConfig(BaseModel):
    """Identity of a west workspace: what changes its contents changes its cache key.

    Exactly one of ``branch`` (moving: short TTL) or ``revision`` (a tag or commit:
    pinned, long TTL) is given. ``manifest_hash`` is a hex digest of the west manifest
    when the build uses its own ``west.yml`` (see :func:`manifest_hash`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    repository: str = Field(min_length=1, max_length=300)
    branch: str | None = Field(default=None, min_length=1, max_length=200)
    revision: str | None = Field(default=None, min_length=1, max_length=200)
    manifest_hash: str | None = None

    @field_validator("repository")
    @classmethod
    def _check_repository(cls, value: str) -> str:
        return normalize_repository(value)

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


def normalize_repository(value: str) -> str:
    """The one spelling of a repository that keys its workspaces (ValueError if invalid).

    ``owner/name``, ``owner/name.git``, ``owner/name/`` and ``https://github.com/owner/name``
    (any case of scheme and host, with or without ``.git`` and trailing slashes) are one
    repository, spelt ``owner/name``. Other URLs keep their path; only the case of their
    scheme and host and trailing slashes are normalised. A ``.`` or ``..`` path segment
    is refused: west would fetch from somewhere else than the name says.
    """
    shown = value if len(value) <= 80 else value[:77] + "..."
    if not _REPOSITORY.match(value.rstrip("/")):
        raise ValueError(
            f"repository {shown!r} is not 'owner/name' (e.g. 'zmkfirmware/zmk') "
            "nor a git URL (https://, ssh://, git://, file:// or git@host:path)"
        )
    github = _GITHUB_HTTPS.match(value)
    if github is not None:
        candidate = f"{github.group(1)}/{github.group(2)}"
    elif "://" in value:
        head = _URL_HEAD.match(value)
        if head is None or not head.group(3).strip("/"):
            raise ValueError(f"repository {shown!r} names a host but no repository path on it")
        scheme, host, path = head.groups()
        user, at, hostname = host.rpartition("@")  # user names keep their case
        candidate = f"{scheme.lower()}{user}{at}{hostname.lower()}{path.rstrip('/')}"
    elif value.startswith("git@"):
        candidate = value.rstrip("/")
    else:
        owner, name = value.rstrip("/").split("/")
        candidate = f"{owner}/{name.removesuffix('.git')}"
    path = candidate.split("://", 1)[-1].split(":", 1)[-1]
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments) or not segments[-1]:
        raise ValueError(
            f"repository {shown!r} has a '.' or '..' (or empty) path segment; give "
            "'owner/name' (e.g. 'zmkfirmware/zmk') or the repository's full git URL"
        )
    return candidate


# Keys ---------------------------------------------------------------------------------
# A key is ``<slug>-<digest>``: the slug (repository and ref) lets a person recognise an
# entry on disk; the digest (SHA-256 of the canonical config) keeps keys of different
# configs distinct even when their slugs collide after sanitising.

METADATA_PREFIX = "workspace:"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}-[0-9a-f]{20}$")
_SLUG_MAX = 60


def workspace_key(config: WorkspaceConfig) -> str:
    """The directory name and metadata key suffix for ``config`` (same config, same key)."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:20]
    repo = config.repository.rstrip("/").removesuffix(".git")
    slug = _UNSAFE.sub("_", f"{repo}@{config.ref}".replace("/", "_")).strip("._-")
    return f"{slug[:_SLUG_MAX] or 'workspace'}-{digest}"


def is_valid_key(key: str) -> bool:
    """Whether ``key`` has the shape :func:`workspace_key` produces (safe as a directory name)."""
    return bool(_KEY.match(key))


def metadata_key(key: str) -> str:
    """The key of an entry's record in the compilation cache."""
    return METADATA_PREFIX + key


def manifest_hash(manifest: Path) -> str:
    """SHA-256 of a west manifest file, for ``WorkspaceConfig.manifest_hash``."""
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


# Settings -----------------------------------------------------------------------------

_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class WorkspaceCacheSettings:
    """How long entries live and what is left out of them (values from ``compilation.*``)."""

    revision_ttl_days: float
    branch_ttl_days: float
    exclude_git: bool
    lock_timeout: float = 600.0

    @classmethod
    def from_section(cls, section: CompilationSection) -> WorkspaceCacheSettings:
        """The settings a validated ``compilation`` section holds (its defaults included)."""
        return cls(
            revision_ttl_days=section.workspace_ttl_revision_days,
            branch_ttl_days=section.workspace_ttl_branch_days,
            exclude_git=section.workspace_exclude_git,
        )

    def ttl_seconds(self, config: WorkspaceConfig) -> float:
        """A branch moves, so its workspace goes stale sooner than a pinned revision's."""
        days = self.branch_ttl_days if config.is_branch else self.revision_ttl_days
        return days * _DAY


# Results ------------------------------------------------------------------------------


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
    """What one ``cleanup()`` pass removed (built once, when the pass is over)."""

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
    evicted: list[str] = Field(
        default_factory=list,
        description="workspaces, firmware and build trees removed (least recently used "
        "first) to bring the compilation domain within its size limit",
    )

    @property
    def removed_count(self) -> int:
        return (
            len(self.evicted)
            + len(self.expired_or_orphaned)
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
