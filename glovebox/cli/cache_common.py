"""What the ``glovebox cache`` command modules share: option types, tag and key helpers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glovebox.cli.completion import complete_tags
from glovebox.cli.formatting import (
    fail,
    note,
)

# Start-up: the engine, the configuration and rich are imported by the commands that use
# them (see glovebox/cli/app.py); glovebox.cli.domains pulls in the engine.
if TYPE_CHECKING:
    from glovebox.cli.domains import Domains
    from glovebox.core.cache_v2 import StrategyDecision

__all__ = [
    "AllTagsOption",
    "JsonOption",
    "TagOption",
    "YesOption",
    "check_key",
    "disabled_note",
    "format_decision",
    "known_tags",
    "why_uncreatable",
]


def known_tags(root: Path) -> list[str]:
    """The standard domains plus any other tag that has a cache under ``root``."""
    from glovebox.cli.domains import known_tags as listed

    return listed(root)


def format_decision(decision: StrategyDecision, user_config: Any) -> str:
    """Who decided a domain's strategy, for the "decided by" column (see glovebox.cli.domains)."""
    from glovebox.cli.domains import format_decision as formatted

    return formatted(decision, user_config)


TagOption = Annotated[
    str | None,
    typer.Option(
        "--tag",
        "-t",
        help="Domain tag (default: the 'default' cache).",
        autocompletion=complete_tags,
    ),
]
AllTagsOption = Annotated[
    str | None,
    typer.Option(
        "--tag",
        "-t",
        help="Only this domain (default: every domain).",
        autocompletion=complete_tags,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (schema: docs/cli.md).")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def disabled_note(found: Domains, tag: str) -> None:
    from glovebox.cli.domains import describe_decision
    from glovebox.core.cache_v2 import Strategy

    decision = found.decision(tag)
    if decision.strategy is Strategy.DISABLED:
        note(
            f"note: caching is disabled for {tag!r} by "
            f"{describe_decision(decision, found.user_config)}; this is what is on disk"
        )


def check_key(key: str) -> None:
    from glovebox.core.cache_v2 import validate_key
    from glovebox.errors import GloveboxError

    try:
        validate_key(key)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc


def why_uncreatable(directory: Path) -> str | None:
    """Why a cache could not be created at ``directory`` (None: it could be).

    For commands that answer without creating anything (``get`` of a domain never written):
    a miss is the truth only if the cache could exist there. The nearest existing parent
    is probed by making and removing an empty directory in it.
    """
    import os
    import tempfile

    parent = directory
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot create cache directory {directory}: {parent} is not a directory"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".glovebox-probe-", dir=parent))
    except OSError as exc:
        return f"cannot create cache directory {directory}: {exc.strerror or exc}"
    return None
