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
    from glovebox.compilation.cache import CleanupResult, ZmkWorkspaceCacheService
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

    check_key(key)
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


def _confirm(question: str, yes: bool, declined: str, *, json_: bool = False) -> None:
    """Ask unless ``yes``; on "no" (or no answer at all), say ``declined`` and exit 1.

    The question goes to stdout, or to stderr when stdout carries a ``--json`` document.
    Standard input need not be a terminal (``yes | glovebox cache clear`` answers), but
    when it ends without an answer nothing is removed. Ctrl-C at the question is still an
    interruption (exit code 130).
    """
    if yes:
        return
    try:
        answer = typer.confirm(question, default=False, err=json_)
    except typer.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise
        answer = False
        declined += " (no answer on standard input; --yes removes without asking)"
    if not answer:
        typer.echo(declined, err=True)
        raise typer.Exit(1)


def _workspace_service(found: Domains, cache: CacheManager) -> ZmkWorkspaceCacheService:
    from glovebox.compilation.cache import create_zmk_workspace_cache_service

    return create_zmk_workspace_cache_service(found.user_config, cache)


def _workspace_cleanup(found: Domains, cache: CacheManager) -> CleanupResult:
    return _workspace_service(found, cache).cleanup()


def clear(
    tag: AllTagsOption = None,
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Every domain (the default without --tag).")
    ] = False,
    yes: YesOption = False,
) -> None:
    """Remove every entry of every domain, or of --tag (for compilation, its workspaces too).

    Shows what will go and asks first, unless --yes; without an answer on standard input
    nothing is removed (exit code 1). Clearing every domain also removes the quarantined
    folders (damaged databases moved aside). Works on what is on disk even while caching
    is disabled.
    """
    from glovebox.cli.domains import domains
    from glovebox.core.cache_v2 import disk_usage

    found = domains()
    if all_ and tag is not None:
        raise fail("give --tag or --all, not both")
    names = found.known() if tag is None else [found.require(tag)]
    plan = []
    for name in names:
        used = disk_usage(found.directory(name))  # before SQLite's side files are opened
        with found.stored(name) as cache:
            entries = 0 if cache is None else len(cache.keys())
        plan.append((name, entries, used))
    quarantine = found.admin.quarantine() if tag is None else []
    if len(plan) == 1 and not quarantine:
        name, entries, used = plan[0]
        question = (
            f"Remove everything in {name!r}: {count(entries, 'entry')}, "
            f"{format_size(used)} on disk?"
        )
    else:
        total = sum(entries for _, entries, _ in plan)
        lines = [
            f"Remove everything in all {len(plan)} domains: {count(total, 'entry')}, "
            f"{format_size(sum(used for _, _, used in plan))} on disk",
            *(f"  {name}: {count(n, 'entry')}, {format_size(used)}" for name, n, used in plan),
        ]
        if quarantine:
            lines.append(
                f"  {count(len(quarantine), 'quarantined folder')}: "
                f"{format_size(sum(q.disk_bytes for q in quarantine))}"
            )
        lines.append("Clear them all?")
        question = "\n".join(lines)
    _confirm(question, yes, "nothing was cleared")
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
    if quarantine:
        _remove_quarantine(found)


def _remove_quarantine(found: Domains) -> None:
    from glovebox.errors import GloveboxError

    try:
        removed = found.admin.remove_quarantined()
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    freed = sum(q.disk_bytes for q in removed)
    say(f"removed {count(len(removed), 'quarantined folder')} ({format_size(freed)})")


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
            if cache is not None and name == "compilation" and cache.persistent:
                # The domain's limit covers its workspaces, firmware and build trees too.
                removed[name] += len(_workspace_service(found, cache).trim_to_limit())
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
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Remove expired entries, orphaned workspaces and (with --older-than) old entries.

    Says what it will remove and asks first, unless --yes.
    """
    from glovebox.cli.domains import domains

    age = _age_option(older_than)
    found = domains()
    tags = [found.require(tag)] if tag is not None else found.known()
    cutoff = None if age is None else time.time() - age
    scope = "expired entries and orphaned workspaces"
    if cutoff is not None:
        scope = (
            f"expired entries, entries stored more than {older_than} ago and orphaned workspaces"
        )
    where = f"{tags[0]!r}" if len(tags) == 1 else f"all {len(tags)} domains"
    _confirm(f"Remove {scope} from {where}?", yes, "nothing was pruned", json_=json_)
    results = []
    for name in tags:
        with found.stored(name) as cache:
            if cache is None:
                results.append({"tag": name, "expired": 0, "older": 0, "workspaces": 0})
                if not json_:
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
            workspaces = 0
            if name == "compilation":
                workspaces = _workspace_cleanup(found, cache).removed_count
        results.append({"tag": name, "expired": expired, "older": old, "workspaces": workspaces})
        if json_:
            continue
        text = f"{name}: removed {expired} expired"
        if cutoff is not None:
            text += f" and {old} older than {older_than}"
        text += " entries"
        if name == "compilation":
            text += f", {workspaces} orphaned workspaces"
        say(text)
    if json_:
        emit_json("cache prune", {"older_than_seconds": age, "domains": results})
