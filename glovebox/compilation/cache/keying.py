"""Cache keys of workspaces: stable, filesystem-safe and readable.

A key is ``<slug>-<digest>``: the slug (repository and ref) lets a person recognise an
entry on disk; the digest (SHA-256 of the canonical config) makes keys of different
configs distinct even when their slugs collide after sanitising.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from glovebox.compilation.cache.models import WorkspaceConfig

__all__ = ["METADATA_PREFIX", "is_valid_key", "manifest_hash", "metadata_key", "workspace_key"]

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
