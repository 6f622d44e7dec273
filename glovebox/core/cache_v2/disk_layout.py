"""Names of the files and directories a cache root holds, in one place.

``<root>/<tag>/cache.db`` per domain; ``<root>/compilation/workspace/`` holds the cached
ZMK workspaces; a damaged domain directory is moved aside to
``<root>/<tag>.corrupt-<UTC stamp>-<pid>`` and kept. Kept apart from the disk backend so
that listing a root never imports diskcache.
"""

from __future__ import annotations

__all__ = ["CACHE_DB_NAME", "CORRUPT_MARKER", "RESERVE_BYTES", "RESERVE_NAME", "WORKSPACE_DIR"]

CACHE_DB_NAME = "cache.db"
CORRUPT_MARKER = ".corrupt-"
WORKSPACE_DIR = "workspace"
"""The directory of cached workspaces inside the compilation domain's directory."""

RESERVE_NAME = "space.reserve"
# Enough for the write-ahead log of a delete or a clear once the disk is full.
RESERVE_BYTES = 256 * 1024
