"""Names of the files and directories a cache root holds, in one place.

``<root>/<tag>/cache.db`` per domain; ``<root>/compilation/workspace/`` holds the cached
ZMK workspaces; a damaged domain directory is moved aside to
``<root>/<tag>.corrupt-<UTC stamp>-<pid>`` and kept. Kept apart from the disk backend so
that listing a root never imports diskcache.
"""

from __future__ import annotations

__all__ = ["CACHE_DB_NAME", "CORRUPT_MARKER", "WORKSPACE_DIR"]

CACHE_DB_NAME = "cache.db"
CORRUPT_MARKER = ".corrupt-"
WORKSPACE_DIR = "workspace"
"""The directory of cached workspaces inside the compilation domain's directory."""
