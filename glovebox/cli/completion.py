"""Shell completion of tag values and workspace keys.

Completion runs before any command (the container is not built), so these functions
load the configuration themselves, read directory names only and never open or create a
cache. Any error yields no candidates: completion must never print a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

__all__ = ["complete_tags", "complete_workspace_keys"]


def _cache_root(ctx: typer.Context | None) -> Path:
    from glovebox.config.loader import load_user_config

    config = None
    if ctx is not None:
        config = ctx.find_root().params.get("config")
    return Path(load_user_config(config).cache_path)


def complete_tags(ctx: typer.Context, incomplete: str) -> list[str]:
    """Standard domains, configured domains and tags with a cache, starting with ``incomplete``."""
    from glovebox.core.cache_v2 import DEFAULT_TAG, KNOWN_DOMAINS, known_tags

    try:
        from glovebox.config.loader import load_user_config

        config = ctx.find_root().params.get("config") if ctx is not None else None
        user_config = load_user_config(config)
        root = Path(user_config.cache_path)
        configured = set(getattr(user_config.cache, "domains", None) or ())
    except Exception:  # a broken configuration completes the defaults
        root, configured = None, set()
    names = known_tags(root, configured) if root else [*KNOWN_DOMAINS, DEFAULT_TAG]
    return sorted(name for name in names if name.startswith(incomplete))


def complete_workspace_keys(ctx: typer.Context, incomplete: str) -> list[str]:
    """Keys of the cached workspaces (entry directories) starting with ``incomplete``."""
    from glovebox.compilation.cache.models import is_valid_key

    try:
        from glovebox.core.cache_v2 import WORKSPACE_DIR

        workspace = _cache_root(ctx) / "compilation" / WORKSPACE_DIR
        with os.scandir(workspace) as entries:
            names = [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
    except Exception:  # nothing to offer
        return []
    return sorted(name for name in names if is_valid_key(name) and name.startswith(incomplete))
