"""Garbage collection of the workspace cache: reconcile directories with metadata.

The directory is the truth. An entry directory is kept only while the compilation cache
holds a live (unexpired) record with the same entry id and, if it was ever handed out by
hardlink, its files still match the manifest. Records whose directory is gone are
dropped. Staging and trash directories are removed once no process holds their key.
Keys locked by a running operation are skipped, never waited for.
"""

from __future__ import annotations

import logging

from glovebox.compilation.cache.keying import METADATA_PREFIX, metadata_key
from glovebox.compilation.cache.manifest import first_difference
from glovebox.compilation.cache.models import CleanupResult
from glovebox.compilation.cache.records import remove_entry
from glovebox.compilation.cache.storage import MANIFEST_FILE, TREE_DIR, WorkspaceStore
from glovebox.core.cache_v2 import CacheManager

__all__ = ["collect_garbage"]

logger = logging.getLogger(__name__)


def collect_garbage(store: WorkspaceStore, cache: CacheManager) -> CleanupResult:
    """One reconciliation pass; returns what was removed and what was busy."""
    result = CleanupResult()
    for key in store.entry_keys():
        with store.lock(key, blocking=False) as acquired:
            if not acquired:
                result.skipped_busy.append(key)
                continue
            record = cache.get(metadata_key(key))
            marker = store.read_entry_file(key)
            if (
                not isinstance(record, dict)
                or marker is None
                or marker.get("entry_id") != record.get("entry_id")
            ):
                remove_entry(store, cache, key)
                result.expired_or_orphaned.append(key)
            elif store.is_hardlinked(key):
                entry_dir = store.entry_dir(key)
                if first_difference(entry_dir / TREE_DIR, entry_dir / MANIFEST_FILE) is not None:
                    remove_entry(store, cache, key)
                    result.modified.append(key)
    on_disk = set(store.entry_keys())
    for cache_key in list(cache.keys()):
        key = cache_key.removeprefix(METADATA_PREFIX)
        if key == cache_key or key in on_disk:
            continue
        with store.lock(key, blocking=False) as acquired:
            if acquired and not (store.root / key).exists():
                cache.delete(cache_key)
                result.stale_metadata.append(key)
    for leftover in store.leftovers():
        with store.lock(leftover.key, blocking=False) as acquired:
            if acquired:
                store.purge(leftover.path)
                result.leftovers.append(leftover.path.name)
            else:
                result.skipped_busy.append(leftover.key)
    if result.removed_count:
        logger.info("workspace cleanup removed %d item(s)", result.removed_count)
    return result
