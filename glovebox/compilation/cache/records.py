"""An entry's metadata record: what the compilation cache stores for each workspace.

The record is a plain dict (JSON types only), so reading it never depends on a class
being importable; it carries the ``entry_id`` that binds it to one published directory.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from glovebox.compilation.cache.keying import metadata_key
from glovebox.compilation.cache.models import WorkspaceConfig, WorkspaceEntry
from glovebox.compilation.cache.storage import TREE_DIR, WorkspaceStore
from glovebox.compilation.cache.tree import TreeListing
from glovebox.core.cache_v2 import CacheManager

__all__ = ["entry_from_record", "new_record", "remove_entry"]


def new_record(
    key: str, config: WorkspaceConfig, listing: TreeListing, ttl: float
) -> dict[str, Any]:
    """A fresh record (new entry id) describing ``listing`` as ``key``'s content."""
    created = datetime.now(UTC)
    return {
        "key": key,
        "entry_id": secrets.token_hex(16),
        "config": config.model_dump(mode="json"),
        "size_bytes": listing.total_bytes,
        "file_count": listing.file_count,
        "created_at": created.isoformat(),
        "expires_at": (created + timedelta(seconds=ttl)).isoformat(),
    }


def entry_from_record(record: Any, root: Path, *, hardlinked: bool) -> WorkspaceEntry | None:
    """The entry a record describes, or None if the record is not a valid one."""
    if not isinstance(record, dict):
        return None
    try:
        expires = record["expires_at"]
        return WorkspaceEntry(
            key=record["key"],
            config=WorkspaceConfig.model_validate(record["config"]),
            path=root / record["key"] / TREE_DIR,
            entry_id=record["entry_id"],
            size_bytes=record["size_bytes"],
            file_count=record["file_count"],
            created_at=datetime.fromisoformat(record["created_at"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            hardlinked=hardlinked,
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def remove_entry(store: WorkspaceStore, cache: CacheManager, key: str) -> bool:
    """Delete ``key``'s directory and record (caller holds the key's lock)."""
    removed = store.remove(key)
    return cache.delete(metadata_key(key)) or removed
