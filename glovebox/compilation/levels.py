"""The compilation domain's three levels on disk: where they live, what they use, clearing.

``firmware`` (finished images), ``workspaces`` (cached west workspaces) and ``builds``
(live workspace trees and build directories) all live under ``<cache_path>/compilation``,
so the domain's disk usage and size limit cover all three: :func:`trim_to_limit` removes
from all three, least recently used first, after each write that may cross the limit.
The cache commands call :func:`compilation_levels` to show them and
:func:`clear_build_levels` when the domain is cleared (the workspace level is cleared by
the workspace service).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glovebox.compilation.build_area import BuildArea
from glovebox.compilation.firmware_store import FirmwareStore
from glovebox.core.cache_v2 import default_cache_root

if TYPE_CHECKING:
    from glovebox.compilation.cache.store import WorkspaceStore

__all__ = [
    "BUILDS_DIR",
    "FIRMWARE_DIR",
    "LevelUsage",
    "build_area",
    "clear_build_levels",
    "compilation_levels",
    "compilation_root",
    "compilation_size_limit",
    "firmware_store",
    "trim_to_limit",
]

logger = logging.getLogger(__name__)

FIRMWARE_DIR = "firmware"
BUILDS_DIR = "builds"
_WORKSPACE_DIR = "workspace"


@dataclass(frozen=True, slots=True)
class LevelUsage:
    """Entries and bytes on disk of one level."""

    name: str
    entries: int
    bytes: int

    def as_dict(self) -> dict[str, int | str]:
        return {"name": self.name, "entries": self.entries, "bytes": self.bytes}


def compilation_root(cache_path: Path | None) -> Path:
    """``<cache_path>/compilation`` (``None``: under the XDG cache root)."""
    base = default_cache_root() if cache_path is None else Path(cache_path).expanduser()
    return base / "compilation"


def firmware_store(cache_path: Path | None) -> FirmwareStore:
    return FirmwareStore(compilation_root(cache_path) / FIRMWARE_DIR)


def build_area(cache_path: Path | None) -> BuildArea:
    return BuildArea(compilation_root(cache_path) / BUILDS_DIR)


def compilation_levels(cache_path: Path | None) -> list[LevelUsage]:
    """``firmware``, ``workspaces`` and ``builds``: entries and disk bytes of each.

    Counts what is on disk (nothing is opened, locked or created): firmware entries,
    workspace entry directories, and build directories.
    """
    from glovebox.compilation.cache.models import is_valid_key
    from glovebox.core.cache_v2 import disk_usage  # the administration: not on a hit

    root = compilation_root(cache_path)
    firmware = firmware_store(cache_path)
    workspace_root = root / _WORKSPACE_DIR
    workspaces = (
        sum(1 for p in workspace_root.iterdir() if p.is_dir() and is_valid_key(p.name))
        if workspace_root.is_dir()
        else 0
    )
    return [
        LevelUsage("firmware", sum(1 for _ in firmware.entries()), disk_usage(firmware.root)),
        LevelUsage("workspaces", workspaces, disk_usage(workspace_root)),
        LevelUsage(
            "builds",
            sum(1 for _ in build_area(cache_path).build_dirs()),
            disk_usage(root / BUILDS_DIR),
        ),
    ]


def clear_build_levels(cache_path: Path | None) -> tuple[int, int, list[str]]:
    """Remove stored firmware and the build area; (firmware removed, build dirs removed,
    workspace keys whose tree is in use by a running build and was left)."""
    firmware = firmware_store(cache_path).clear()
    builds, busy = build_area(cache_path).clear()
    return firmware, builds, busy


def compilation_size_limit(user_config: Any) -> int:
    """The compilation domain's size limit in bytes (``cache.domains.compilation``)."""
    from glovebox.core.cache_v2 import user_config_settings

    return user_config_settings(user_config, "compilation").size_limit_bytes


@dataclass(frozen=True, slots=True)
class _Candidate:
    """Something the size limit may remove: what it is, when it was last used, how to hold it."""

    label: str
    last_used: float
    path: Path
    hold: Callable[[], AbstractContextManager[bool]]
    remove: Callable[[], object]


def _candidates(
    cache_path: Path | None, keep: str | None, workspaces: WorkspaceStore | None
) -> list[_Candidate]:
    store = firmware_store(cache_path)
    found = [
        _Candidate(
            f"firmware {entry.name}",
            store.last_used(entry.name),
            entry,
            partial(store.try_hold, entry.name),
            partial(shutil.rmtree, entry, ignore_errors=True),
        )
        for entry in store.entries()
        if entry.name != keep
    ]
    area = build_area(cache_path)
    tops = [p for p in area.root.iterdir() if p.is_dir()] if area.root.is_dir() else []
    tops = [top for top in tops if any(child.is_dir() for child in top.iterdir())]  # not reset
    found += [
        _Candidate(
            f"build tree {top.name}",
            area.last_used(top.name),
            top,
            partial(area.try_hold, top.name),
            partial(area.reset, top.name),
        )
        for top in tops
    ]
    if workspaces is not None:
        found += [
            _Candidate(
                f"workspace {key}",
                workspaces.last_used(key),
                workspaces.entry_dir(key),
                partial(workspaces.lock_if_free, key),
                partial(workspaces.remove, key),
            )
            for key in workspaces.entry_keys()
            if key != keep
        ]
    return sorted(found, key=lambda candidate: candidate.last_used)


def trim_to_limit(
    cache_path: Path | None,
    limit_bytes: int,
    *,
    keep: str | None = None,
    workspaces: WorkspaceStore | None = None,
) -> list[str]:
    """Bring the compilation domain's directory within ``limit_bytes``; returns what went.

    Stored firmware, build trees and (given their ``workspaces`` store) cached workspaces
    are removed least recently used first until the directory is within the limit:
    firmware by its last store or hit, a build tree by its last build, a workspace by its
    last restore or publication. ``keep`` (the firmware or workspace just stored) is never
    removed, nor is anything a live process holds: a firmware being built, a tree a build
    uses, a workspace being restored or stored (their locks are tried, never waited for).
    The directory is measured only when a write may have crossed the limit: callers run
    this after storing firmware or a workspace, and ``workspace cleanup``/``prune``.
    Removals are added to the compilation cache's evictions when ``workspaces`` is given.
    """
    from glovebox.core.cache_v2 import disk_usage  # the administration: not on a hit

    root = compilation_root(cache_path)
    used = disk_usage(root)
    removed: list[str] = []
    if used <= limit_bytes:
        return removed
    for candidate in _candidates(cache_path, keep, workspaces):
        with candidate.hold() as free:
            if not free:
                continue
            size = disk_usage(candidate.path)
            candidate.remove()
            used -= max(0, size - disk_usage(candidate.path))
        removed.append(candidate.label)
        if used <= limit_bytes:
            break
    if removed and workspaces is not None:
        add_evictions = getattr(workspaces.cache, "add_evictions", None)
        if callable(add_evictions):
            add_evictions(len(removed))
    return removed
