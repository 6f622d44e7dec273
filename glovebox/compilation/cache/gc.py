"""Garbage collection of the workspace cache: reconcile directories with their records.

The directory is the truth. An entry directory is kept only while
:meth:`WorkspaceStore.check` finds it servable (a live record with the same entry id
and, if it was ever handed out by hardlink, files still matching the manifest). Records
whose directory is gone are dropped. Staging and trash directories are removed once no
process holds their key. Keys locked by a running operation are skipped, never waited for.
"""

from __future__ import annotations

import logging

from glovebox.compilation.cache.models import CleanupResult
from glovebox.compilation.cache.store import EntryState, WorkspaceStore

__all__ = ["collect_garbage"]

logger = logging.getLogger(__name__)


def collect_garbage(store: WorkspaceStore) -> CleanupResult:
    """One reconciliation pass; returns what was removed and what was busy."""
    orphaned: list[str] = []
    stale: list[str] = []
    modified: list[str] = []
    leftovers: list[str] = []
    busy: list[str] = []
    for key in store.entry_keys():
        with store.lock(key, blocking=False) as acquired:
            if not acquired:
                busy.append(key)
                continue
            state = store.check(key, verify=True, locked=True).state
            # A directory without a live record (never written or expired) is an orphan too.
            if state in (EntryState.ABSENT, EntryState.ORPHAN):
                store.remove(key)
                orphaned.append(key)
            elif state is EntryState.MODIFIED:
                store.remove(key)
                modified.append(key)
    on_disk = set(store.entry_keys())
    for key in store.recorded_keys():
        if key in on_disk:
            continue
        with store.lock(key, blocking=False) as acquired:
            if acquired and store.check(key, verify=False, locked=True).state is EntryState.ORPHAN:
                store.remove(key)
                stale.append(key)
    for leftover in store.leftovers():
        with store.lock(leftover.key, blocking=False) as acquired:
            if acquired:
                store.purge(leftover.path)
                leftovers.append(leftover.path.name)
            else:
                busy.append(leftover.key)
    result = CleanupResult(
        expired_or_orphaned=orphaned,
        stale_metadata=stale,
        modified=modified,
        leftovers=leftovers,
        skipped_busy=busy,
    )
    if result.removed_count:
        logger.info("workspace cleanup removed %d item(s)", result.removed_count)
    return result
