"""``glovebox cache remote ...``: look at and trim the remote tier (docs/remote.md).

The store's client is imported only by these commands and by ``cache show``/``info``
when a remote tier is configured: ``glovebox --help`` and ``cache get`` never load it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glovebox.cli.cache_common import JsonOption
from glovebox.cli.formatting import emit_json, fail, format_size, print_table, say

if TYPE_CHECKING:
    from glovebox.remote.tier import RemoteTier

__all__ = ["parse_age", "remote_app", "remote_line", "remote_record"]

remote_app = typer.Typer(
    help="The remote tier: objects shared through S3-compatible storage.",
    no_args_is_help=True,
)

_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``3600s`` as a duration; ``ValueError`` otherwise."""
    match = _AGE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"--older-than: expected a number and a unit s, m, h, d or w (e.g. 30d), "
            f"got {text[:40]!r}"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def _tier(user_config: Any) -> RemoteTier | None:
    from glovebox.remote.tier import remote_tier_from_config

    return remote_tier_from_config(user_config)


def _configured_tier() -> RemoteTier:
    from glovebox.cli.domains import domains

    tier = _tier(domains().user_config)
    if tier is None:
        raise fail(
            "no remote cache configured: set GLOVEBOX_CACHE_REMOTE_URL (s3://bucket/prefix) "
            "or cache.remote.url, and a mode other than off"
        )
    return tier


def remote_record(user_config: Any) -> dict[str, Any] | None:
    """The remote tier's status for ``--json`` documents; None when none is configured."""
    tier = _tier(user_config)
    return None if tier is None else tier.status().as_dict()


def remote_line(record: dict[str, Any] | None) -> str | None:
    """One line for ``cache show``/``info``: URL (masked), mode, reachable, objects, bytes."""
    if record is None:
        return None
    where = record["url"] + (f" at {record['endpoint']}" if record["endpoint"] else "")
    head = f"remote cache {where} ({record['mode']})"
    if not record["reachable"]:
        return f"{head}: unreachable: {record['problem']}"
    text = f"{head}: reachable, {record['objects']} objects, {format_size(record['bytes'])}"
    if record["problem"]:
        text += f"; {record['problem']}"
    return text


@remote_app.command("list")
def list_(json_: JsonOption = False) -> None:
    """Every object under the remote prefix: key, size, last written (oldest first)."""
    from glovebox.remote.tier import RemoteError

    tier = _configured_tier()
    try:
        objects = tier.list()
    except RemoteError as exc:
        raise fail(str(exc)) from None
    if json_:
        emit_json(
            "cache remote list",
            {
                "url": tier.settings.masked_url,
                "mode": tier.mode.value,
                "objects": [
                    {
                        "key": o.key,
                        "size_bytes": o.size,
                        "last_modified": o.last_modified.isoformat(),
                    }
                    for o in objects
                ],
                "total_bytes": sum(o.size for o in objects),
            },
        )
        return
    rows = [
        [o.key, format_size(o.size), o.last_modified.strftime("%Y-%m-%d %H:%M:%S UTC")]
        for o in objects
    ]
    total = format_size(sum(o.size for o in objects))
    title = f"{tier.settings.masked_url}: {len(objects)} objects, {total}"
    print_table(title, ("key", "size", "last written"), rows)


@remote_app.command("prune")
def prune(
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="Remove objects last written before this age: 30d, 12h."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be removed.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Remove remote objects older than an age (needs mode read-write and delete rights)."""
    from glovebox.remote.tier import RemoteError

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise fail(str(exc)) from None
    tier = _configured_tier()
    try:
        result = tier.prune(age, dry_run=dry_run)
    except RemoteError as exc:
        raise fail(str(exc)) from None
    if json_:
        emit_json(
            "cache remote prune",
            {
                "url": tier.settings.masked_url,
                "older_than_seconds": age.total_seconds(),
                "dry_run": dry_run,
                "removed": result.removed,
                "removed_bytes": result.removed_bytes,
                "kept": result.kept,
            },
        )
        return
    verb = "would remove" if dry_run else "removed"
    say(
        f"{tier.settings.masked_url}: {verb} {result.removed} objects "
        f"({format_size(result.removed_bytes)}) older than {older_than}; {result.kept} kept"
    )
