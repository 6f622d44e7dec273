"""``ZmkWorkspaceCacheService``: store, find, restore and collect ZMK west workspaces.

The service holds the public API and its checks; ``store.py`` owns the entries (locks,
staging and publication, records, the servable check) and ``tree.py`` the files
(listing, manifests, copies and links). Caching a workspace is
``cache_workspace`` -> ``WorkspaceStore.publishing`` -> ``tree.scan_tree/materialize``;
restoring one is ``restore_workspace`` -> ``WorkspaceStore.check`` -> ``tree.materialize``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from glovebox.compilation.cache.archive import archive_format, extract_archive, write_archive
from glovebox.compilation.cache.gc import collect_garbage
from glovebox.compilation.cache.models import (
    CacheWorkspaceResult,
    CleanupResult,
    ProgressCallback,
    RestoreResult,
    RestoreStrategy,
    WorkspaceCacheSettings,
    WorkspaceConfig,
    WorkspaceEntry,
    workspace_key,
)
from glovebox.compilation.cache.store import (
    MANIFEST_FILE,
    EntryState,
    Publication,
    WorkspaceStore,
)
from glovebox.compilation.cache.tree import (
    TreeListing,
    check_destination,
    materialize,
    read_manifest,
    remove_excluded,
    scan_tree,
    try_rename,
)
from glovebox.core.cache_v2 import WORKSPACE_DIR, CacheManager
from glovebox.errors import GloveboxError, WorkspaceError

__all__ = ["ZmkWorkspaceCacheService"]

logger = logging.getLogger(__name__)


class ZmkWorkspaceCacheService:
    """The workspace cache of the compilation domain.

    Workspace caching needs persistent metadata: with a compilation cache that is not
    persistent (disabled, or in memory) the service stores nothing and finds nothing
    (``enabled`` is False), so that a temporarily disabled cache never makes ``cleanup()``
    delete stored workspaces.
    """

    def __init__(self, cache: CacheManager, root: Path, settings: WorkspaceCacheSettings) -> None:
        self.cache = cache
        self.settings = settings
        self.store = WorkspaceStore(Path(root), cache, lock_timeout=settings.lock_timeout)

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def enabled(self) -> bool:
        return self.cache.persistent

    @property
    def cache_root(self) -> Path:
        """The directory nothing may be restored or exported into.

        For the usual layout (``<cache_path>/compilation/workspace``) that is the whole
        cache, ``<cache_path>``: its other domains are no place for a workspace either.
        For any other root it is the root itself.
        """
        root = self.root
        if root.name == WORKSPACE_DIR and root.parent.name == "compilation":
            return root.parent.parent
        return root

    @property
    def build_root(self) -> Path | None:
        """The compilation domain's own build area (``<cache_path>/compilation/builds``).

        Firmware builds restore workspaces there; the domain's clearing and size limit
        cover it, so the refusal below is for user-chosen destinations only.
        """
        root = self.root
        if root.name == "workspace" and root.parent.name == "compilation":
            return root.parent / "builds"
        return None

    def _refuse_inside_cache(self, target: Path, what: str) -> None:
        """Refuse ``target`` if it lies in the cache (where nothing would ever clean it up)."""
        guarded = self.cache_root.resolve()
        resolved = _resolve_new(target)
        builds = self.build_root
        if (
            builds is not None
            and resolved != builds.resolve()
            and _is_within(resolved, builds.resolve())
        ):
            return
        if _is_within(resolved, guarded):
            raise WorkspaceError(
                f"cannot {what} {target}: it is inside the cache ({guarded}); "
                "choose a location outside it"
            )

    @contextmanager
    def hold(self, config: WorkspaceConfig, *, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock of ``config``'s entry across several calls of this thread.

        Other threads and processes caching, restoring or deleting the same workspace wait
        meanwhile; this thread's own calls go through (the lock is re-entrant). The
        compilation service holds it from lookup to publication so that concurrent builds
        of one workspace download it once. A disabled service holds nothing.
        """
        if not self.enabled:
            yield
            return
        with self.store.lock(workspace_key(config), timeout=timeout):
            yield

    # Storing -----------------------------------------------------------------------------

    def cache_workspace(
        self,
        workspace_path: Path,
        config: WorkspaceConfig,
        *,
        move: bool = False,
        progress: ProgressCallback | None = None,
    ) -> CacheWorkspaceResult | None:
        """Store ``workspace_path`` as the entry for ``config`` (replacing any older one).

        ``move=True`` hands the directory over: it is renamed into the cache (copied, then
        removed, when the cache is on another filesystem) and is gone afterwards. The top
        level ``build/`` (and ``.git`` if configured) is left out. Concurrent cachers of
        one key take turns; readers see the old entry, none, or the new one, never a mix.
        Returns None when the service is disabled.
        """
        source = Path(workspace_path)
        if not self.enabled:
            logger.debug("workspace cache disabled; not caching %s", source)
            return None
        if source.is_symlink() or not source.is_dir():
            raise WorkspaceError(
                f"cannot cache {source}: not a directory (symlinks are refused: pass the "
                "directory they point to)"
            )
        resolved, root = source.resolve(), self.root.resolve()
        if _is_within(resolved, root) or _is_within(root, resolved):
            raise WorkspaceError(
                f"cannot cache {source}: it overlaps the workspace cache ({self.root})"
            )
        started = time.perf_counter()
        exclude_git = self.settings.exclude_git
        moved, fallback = False, None
        with self._publishing(config) as new:
            if move:
                moved, fallback = try_rename(source, new.tree)
            if moved:
                new.give_back = source
                remove_excluded(new.tree, exclude_git=exclude_git)
            else:
                listing = scan_tree(source, exclude_git=exclude_git)
                materialize(
                    listing, new.tree, RestoreStrategy.COPY, progress=progress, operation="cache"
                )
        if move and not moved:
            shutil.rmtree(source)  # move semantics across filesystems: copy, then delete
        self.trim_to_limit(keep=new.entry.key)
        return CacheWorkspaceResult(
            entry=new.entry,
            method="move" if moved else "copy",
            replaced=new.replaced,
            fallback_reason=fallback,
            seconds=time.perf_counter() - started,
        )

    def _publishing(self, config: WorkspaceConfig) -> AbstractContextManager[Publication]:
        ttl = self.settings.ttl_seconds(config)
        return self.store.publishing(workspace_key(config), config, ttl)

    def import_workspace(
        self,
        source: Path,
        config: WorkspaceConfig,
        *,
        progress: ProgressCallback | None = None,
    ) -> CacheWorkspaceResult | None:
        """Store a workspace from a directory (copied) or a .zip/.tar(.gz/.xz) archive.

        An archive is extracted straight into the entry's staging directory, so a bad or
        interrupted archive never becomes an entry. Returns None when disabled.
        """
        path = Path(source)
        if path.is_dir():
            return self.cache_workspace(path, config, move=False, progress=progress)
        if not path.is_file():
            raise WorkspaceError(f"cannot import {path}: no such file or directory")
        archive_format(path)  # reject unsupported types before taking any lock
        if not self.enabled:
            return None
        started = time.perf_counter()
        with self._publishing(config) as new:
            extracted = new.staging / "extracted"
            os.rename(extract_archive(path, extracted, progress=progress), new.tree)
            self.store.purge(extracted)
            remove_excluded(new.tree, exclude_git=self.settings.exclude_git)
        self.trim_to_limit(keep=new.entry.key)
        return CacheWorkspaceResult(
            entry=new.entry,
            method="archive",
            replaced=new.replaced,
            seconds=time.perf_counter() - started,
        )

    def export_workspace(
        self,
        config: WorkspaceConfig,
        archive: Path,
        *,
        include_git: bool = True,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Write the entry for ``config`` to ``archive`` (type from its suffix)."""
        return self.export_by_key(
            workspace_key(config), archive, include_git=include_git, progress=progress
        )

    def export_by_key(
        self,
        key: str,
        archive: Path,
        *,
        include_git: bool = True,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Write ``key``'s entry to ``archive``; the entry cannot be replaced meanwhile."""
        target = Path(archive)
        archive_format(target)
        self.store.entry_dir(key)  # validates the key's shape
        self._refuse_inside_cache(target, "export to")
        with self.store.lock(key):
            entry = self._lookup(key, verify=True, locked=True) if self.enabled else None
            if entry is None:
                raise WorkspaceError(f"workspace {key} is not cached; see 'workspace list'")
            listing = self._listing(entry, include_git=include_git)
            write_archive(listing, target, top=key, progress=progress)
        return target

    # Finding -----------------------------------------------------------------------------

    def get_cached_workspace(self, config: WorkspaceConfig) -> WorkspaceEntry | None:
        """The live entry for ``config``, or None.

        An entry handed out by hardlink is verified first; if a file changed through a
        link the entry is dropped and None is returned.
        """
        if not self.enabled:
            return None
        return self._lookup(workspace_key(config), verify=True, locked=False, count=True)

    def get_workspace_by_key(self, key: str) -> WorkspaceEntry | None:
        """The live entry stored under ``key`` (as listed), or None."""
        self.store.entry_dir(key)  # validates the key's shape
        if not self.enabled:
            return None
        return self._lookup(key, verify=False, locked=False)

    def list_workspaces(self) -> list[WorkspaceEntry]:
        """Live entries, newest first (directories without live metadata are not listed)."""
        if not self.enabled:
            return []
        entries = [
            entry
            for key in self.store.entry_keys()
            if (entry := self._lookup(key, verify=False, locked=False)) is not None
        ]
        return sorted(entries, key=lambda e: e.created_at, reverse=True)

    def _lookup(
        self, key: str, *, verify: bool, locked: bool, count: bool = False
    ) -> WorkspaceEntry | None:
        """``key``'s entry if servable; an orphaned or modified entry is dropped on the way.

        ``count``: a lookup made to use the entry (counted as a hit or miss of the
        compilation cache); listing and showing entries count nothing.
        """
        check = self.store.check(key, verify=verify, locked=locked, count_lookup=count)
        if check.state in (EntryState.ORPHAN, EntryState.MODIFIED):
            self._drop(key, check.reason, locked=locked)
        elif check.state is EntryState.IN_FLIGHT:
            # A publication in flight, or a crash between rename and record: not served.
            logger.debug("workspace %s: %s; not served", key, check.reason)
        return check.entry

    def _drop(self, key: str, reason: str, *, locked: bool) -> None:
        """Remove ``key``'s entry and record, re-checking under the lock.

        Without the lock a publisher could be between its rename and its record write;
        when the lock is busy the drop is left to a later lookup or cleanup.
        """
        if locked:
            self.store.remove(key)
            logger.warning("workspace %s dropped: %s", key, reason)
            return
        with self.store.lock(key, blocking=False) as acquired:
            if acquired:
                self._lookup(key, verify=True, locked=True)  # drops it if still bad

    def _listing(self, entry: WorkspaceEntry, *, include_git: bool) -> TreeListing:
        """The entry's content from its manifest (a walk of the tree if unreadable)."""
        manifest = self.root / entry.key / MANIFEST_FILE
        listing = read_manifest(manifest, entry.path, exclude_git=not include_git)
        return listing or scan_tree(entry.path, exclude_git=not include_git)

    # Restoring ---------------------------------------------------------------------------

    def restore_workspace(
        self,
        config: WorkspaceConfig,
        destination: Path,
        strategy: RestoreStrategy | str = RestoreStrategy.COPY,
        *,
        include_git: bool = True,
        progress: ProgressCallback | None = None,
    ) -> RestoreResult | None:
        """Materialise the entry for ``config`` at ``destination``; None if not cached.

        ``destination`` must not exist or be an empty directory; it appears complete (it
        is built in a hidden sibling and renamed). ``build/`` is never restored; ``.git``
        directories are left out when ``include_git`` is False. ``hardlink`` shares the
        cache's files: see ``tree.first_difference`` for how in-place changes are caught.
        ``reflink`` falls back to copy where the filesystem cannot clone (``used`` and
        ``fallback_reason`` say so).
        """
        chosen = RestoreStrategy.parse(strategy)
        dest = Path(destination)
        self._refuse_inside_cache(dest, "restore into")
        check_destination(dest)
        if not self.enabled:
            return None
        key = workspace_key(config)
        started = time.perf_counter()
        with self.store.lock(key):
            # Verified once, after the copy: a change made through a link before or during
            # the copy is still visible then (sizes and mtimes do not change back).
            entry = self._lookup(key, verify=False, locked=True, count=True)
            if entry is None:
                return None
            if chosen is RestoreStrategy.HARDLINK and not entry.hardlinked:
                self.store.mark_hardlinked(key)  # before any link exists
            listing = self._listing(entry, include_git=include_git)
            dest.parent.mkdir(parents=True, exist_ok=True)
            staging = dest.parent / f".{dest.name}.restore-{secrets.token_hex(4)}"
            try:
                outcome = materialize(listing, staging, chosen, progress=progress)
                if entry.hardlinked:
                    difference = self.store.modification(key)
                    if difference is not None:
                        shutil.rmtree(staging)
                        self._drop(key, f"modified through a hardlink ({difference})", locked=True)
                        return None
                if dest.exists():
                    dest.rmdir()
                os.rename(staging, dest)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self.store.mark_used(key)
        return RestoreResult(
            key=key,
            destination=dest,
            requested=chosen,
            used=outcome.used,
            fallback_reason=outcome.fallback_reason,
            file_count=listing.file_count,
            size_bytes=listing.total_bytes,
            seconds=time.perf_counter() - started,
        )

    # Deleting and collecting -------------------------------------------------------------

    def delete_workspace(self, config: WorkspaceConfig) -> bool:
        """Remove the entry for ``config``; True if there was one (directory or metadata)."""
        return self.delete_by_key(workspace_key(config))

    def delete_by_key(self, key: str) -> bool:
        """Remove ``key``'s entry; False if there was none (or the service is disabled)."""
        self.store.entry_dir(key)  # validates the key's shape
        if not self.enabled:
            return False
        with self.store.lock(key):
            return self.store.remove(key)

    def cleanup(self) -> CleanupResult:
        """Reconcile directories with metadata and remove everything not servable.

        Removes entry directories without live (unexpired, matching) metadata, metadata
        without a directory, entries modified through a hardlink, and staging/trash
        directories whose key is not locked (their process is gone), then brings the
        compilation domain within its size limit (``evicted``). Keys locked by a running
        operation are skipped and reported. A disabled service removes nothing.
        """
        if not self.enabled:
            return CleanupResult()
        result = collect_garbage(self.store)
        evicted = self.trim_to_limit()
        return result.model_copy(update={"evicted": evicted}) if evicted else result

    def trim_to_limit(self, *, keep: str | None = None) -> list[str]:
        """Bring the compilation domain within its size limit, least recently used first
        (see :func:`glovebox.compilation.levels.trim_to_limit`); returns what was removed.

        Only for the usual layout (``<cache_path>/compilation/workspace``) of a cache with a
        size limit; never raises for what it could not remove (a WARNING says it).
        """
        from glovebox.compilation.levels import trim_to_limit

        settings = getattr(self.cache, "settings", None)
        limit = getattr(settings, "size_limit_bytes", None)
        root = self.root
        if not isinstance(limit, int) or root.name != WORKSPACE_DIR:
            return []
        if root.parent.name != "compilation":
            return []
        try:
            removed = trim_to_limit(root.parent.parent, limit, keep=keep, workspaces=self.store)
        except (OSError, GloveboxError) as exc:
            logger.warning("could not bring the compilation cache within its limit: %s", exc)
            return []
        for what in removed:
            logger.info("over the compilation size limit: removed %s", what)
        return removed


def _resolve_new(path: Path) -> Path:
    """``path`` resolved as it would be once created (symlinks in existing parents followed)."""
    return Path(os.path.realpath(path))


def _is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both resolved)."""
    return path == root or root in path.parents
