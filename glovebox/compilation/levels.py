"""The compilation domain's three levels on disk: where they live, what they use, clearing.

``firmware`` (finished images), ``workspaces`` (cached west workspaces) and ``builds``
(live workspace trees and build directories) all live under ``<cache_path>/compilation``,
so the domain's disk usage and size limit cover all three. The cache commands call
:func:`compilation_levels` to show them and :func:`clear_build_levels` when the domain is
cleared (the workspace level is cleared by the workspace service).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glovebox.compilation.build_area import BuildArea
from glovebox.compilation.firmware_store import FirmwareStore
from glovebox.compilation.locks import try_file_lock
from glovebox.core.cache_v2 import default_cache_root, disk_usage

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


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def trim_to_limit(
    cache_path: Path | None, limit_bytes: int, *, keep: str | None = None
) -> list[str]:
    """Bring the domain's directory within ``limit_bytes``; returns what was removed.

    Stored firmware goes first (oldest first, never ``keep``), then build trees no build
    is using (oldest first: a tree in use is locked and skipped). Cached workspaces are
    left to their TTL and ``cache workspace cleanup``: one is what the next build needs.
    """
    root = compilation_root(cache_path)
    used = disk_usage(root)
    removed: list[str] = []
    if used <= limit_bytes:
        return removed
    store = firmware_store(cache_path)
    for entry in sorted(store.entries(), key=lambda p: _age(p / "entry.json")):
        if entry.name == keep:
            continue
        size = disk_usage(entry)
        shutil.rmtree(entry, ignore_errors=True)
        used -= size
        removed.append(f"firmware {entry.name}")
        if used <= limit_bytes:
            return removed
    area = build_area(cache_path)
    tops = [p for p in area.root.iterdir() if p.is_dir()] if area.root.is_dir() else []
    for top in sorted(tops, key=lambda p: _age(p / "workspace.json")):
        with try_file_lock(top / "tree.lock") as idle:
            if not idle:
                continue
            size = disk_usage(top)
            area.reset(top.name)
            used -= size - disk_usage(top)
            removed.append(f"build tree {top.name}")
        if used <= limit_bytes:
            break
    return removed
