"""Management commands of ``glovebox cache``: ``set``, ``delete``, ``clear``, ``remove``,
``cleanup``, ``prune``."""

from __future__ import annotations

import fnmatch
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from glovebox.cli.cache_common import (
    AllTagsOption,
    JsonOption,
    TagOption,
    YesOption,
    check_key,
    disabled_note,
)
from glovebox.cli.formatting import count, emit_json, fail, format_size, parse_age, say

# Start-up: the engine, the configuration and rich are imported by the commands that use
# them (see glovebox/cli/app.py); glovebox.cli.domains pulls in the engine.
if TYPE_CHECKING:
    from glovebox.cli.domains import Domains
    from glovebox.compilation.cache import CleanupResult
    from glovebox.core.cache_v2 import CacheManager

__all__ = ["cleanup", "clear", "delete", "prune", "remove", "set_"]


def set_(
    key: str,
    value: Annotated[str, typer.Argument(help="The value; '-' reads it from standard input.")],
    tag: TagOption = None,
    ttl: Annotated[float | None, typer.Option(help="Seconds until the entry expires.")] = None,
) -> None:
    """Store VALUE (a string; '-' reads standard input, minus one final newline) under KEY.

    A new --tag creates that cache. Exit code 2 when nothing could be stored.
    """
    from glovebox.cli.domains import domains
    from glovebox.core.cache_v2 import validate_tag
    from glovebox.errors import GloveboxError

    found = domains()
    if value == "-":
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
    try:
        name = validate_tag(tag)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    cache = found.writable(name)
    try:
        cache.set(key, value, ttl=ttl)
    except GloveboxError as exc:
        raise fail(f"{exc}; nothing was stored") from exc


def delete(key: str, tag: TagOption = None) -> None:
    """Remove KEY (exit code 1 if it was not cached)."""
    from glovebox.cli.domains import domains

    check_key(key)
    found = domains()
    name = found.require(tag)
    with found.stored(name) as cache:
        removed = cache is not None and cache.delete(key)
    if not removed:
        raise fail(f"{key!r} was not cached in {name!r}", code=1)
    say(f"deleted {key}")


def _confirm(question: str, yes: bool, declined: str) -> None:
    """Ask unless ``yes``; on "no", say ``declined`` and exit 1."""
    if yes:
        return
    if not typer.confirm(question, default=False):
        typer.echo(declined, err=True)
        raise typer.Exit(1)


def _workspace_cleanup(found: Domains, cache: CacheManager) -> CleanupResult:
    from glovebox.compilation.cache import create_zmk_workspace_cache_service

    return create_zmk_workspace_cache_service(found.user_config, cache).cleanup()


def clear(
    tag: TagOption = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Clear every domain.")] = False,
    yes: YesOption = False,
) -> None:
    """Remove every entry of a domain (for compilation, its workspaces too).

    Asks first, showing what will go, unless --yes. Works on what is on disk even while
    caching is disabled.
    """
    from glovebox.cli.domains import domains
    from glovebox.core.cache_v2 import disk_usage

    found = domains()
    if all_ and tag is not None:
        raise fail("give --tag or --all, not both")
    names = found.known() if all_ else [found.require(tag)]
    plan = []
    for name in names:
        with found.stored(name) as cache:
            entries = 0 if cache is None else len(cache.keys())
        plan.append((name, entries, disk_usage(found.directory(name))))
    summary = "; ".join(
        f"{name!r}: {count(entries, 'entry')}, {format_size(used)} on disk"
        for name, entries, used in plan
    )
    _confirm(f"Remove everything in {summary}?", yes, "nothing was cleared")
    for name in names:
        disabled_note(found, name)
        with found.stored(name) as cache:
            if cache is None:
                say(f"{name}: nothing to clear")
                continue
            cleared = len(cache.keys())
            cache.clear()
            message = f"cleared {count(cleared, 'entry')} from {name!r}"
            if name == "compilation":
                levels = _clear_build_levels(found)
                message += _clear_workspaces(found, cache) + levels
            say(message)


def _clear_build_levels(found: Domains) -> str:
    """Remove stored firmware and build directories (those of running builds are left)."""
    from glovebox.compilation.levels import clear_build_levels

    firmware, builds, busy = clear_build_levels(found.root)
    text = f"; also {count(firmware, 'firmware entry')} and {count(builds, 'build directory')}"
    if busy:
        text += f" ({count(len(busy), 'workspace tree')} in use by a running build were left)"
    return text


def _clear_workspaces(found: Domains, cache: CacheManager) -> str:
    """Remove the workspaces whose records were just cleared; say what remains, and why."""
    from glovebox.compilation.cache import workspace_cache_root
    from glovebox.core.cache_v2 import disk_usage

    root = workspace_cache_root(found.root)
    before = disk_usage(root)
    result = _workspace_cleanup(found, cache)
    removed = len(result.expired_or_orphaned) + len(result.leftovers)
    text = f" and {count(removed, 'workspace')} ({format_size(max(0, before - disk_usage(root)))})"
    busy = sorted(set(result.skipped_busy))
    if busy:
        text += (
            f"; {count(len(busy), 'workspace')} in use by another glovebox process were left "
            f"({', '.join(busy)}): run 'glovebox cache clear --tag compilation' again "
            "when it has finished"
        )
    return text


def remove(
    pattern: Annotated[str, typer.Argument(help="Glob over keys, e.g. 'glove80:*'.")],
    tag: TagOption = None,
    yes: YesOption = False,
) -> None:
    """Remove the keys matching PATTERN (shows how many first; asks unless --yes)."""
    from glovebox.cli.domains import domains

    found = domains()
    name = found.require(tag)
    with found.stored(name) as cache:
        matching = [] if cache is None else fnmatch.filter(cache.keys(), pattern)
        if not matching:
            raise fail(f"no key in {name!r} matches {pattern!r}", code=1)
        typer.echo(f"{count(len(matching), 'key')} in {name!r} match {pattern!r}", err=True)
        _confirm(f"Remove {count(len(matching), 'key')} from {name!r}?", yes, "nothing was removed")
        assert cache is not None
        removed = cache.delete_many(matching)
    say(f"removed {count(removed, 'key')} from {name!r}")


def _age_option(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_age(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def cleanup(tag: AllTagsOption = None, json_: JsonOption = False) -> None:
    """Remove expired entries and enforce size limits (all domains unless --tag)."""
    from glovebox.cli.domains import domains

    found = domains()
    tags = [found.require(tag)] if tag is not None else found.known()
    removed: dict[str, int] = {}
    for name in tags:
        with found.stored(name) as cache:
            removed[name] = 0 if cache is None else cache.cleanup()
    if json_:
        results = [{"tag": name, "removed": number} for name, number in removed.items()]
        emit_json("cache cleanup", {"domains": results})
        return
    for name, number in removed.items():
        say(f"{name}: removed {count(number, 'entry')}")


def prune(
    tag: AllTagsOption = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Also remove entries stored longer ago than AGE (30d, 12h, 90m, 45s, 2w).",
        ),
    ] = None,
) -> None:
    """Remove expired entries, orphaned workspaces and (with --older-than) old entries."""
    from glovebox.cli.domains import domains

    age = _age_option(older_than)
    found = domains()
    tags = [found.require(tag)] if tag is not None else found.known()
    cutoff = None if age is None else time.time() - age
    for name in tags:
        with found.stored(name) as cache:
            if cache is None:
                say(f"{name}: nothing stored")
                continue
            old = 0
            if cutoff is not None:
                stale = []
                for key in cache.keys():
                    meta = cache.get_metadata(key)
                    stored = None if meta is None else meta.stored_at
                    if stored is not None and stored.timestamp() < cutoff:
                        stale.append(key)
                old = cache.delete_many(stale)
            expired = cache.cleanup()
            text = f"{name}: removed {expired} expired"
            if cutoff is not None:
                text += f" and {old} older than {older_than}"
            text += " entries"
            if name == "compilation":
                result = _workspace_cleanup(found, cache)
                text += f", {result.removed_count} orphaned workspaces"
            say(text)
