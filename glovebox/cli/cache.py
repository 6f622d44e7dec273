"""``glovebox cache ...``: look at and control the caches of each domain.

Inspection commands (``stats``, ``show``, ``keys``, ``info``, ``dir``) count no hits or
misses and create nothing; see :mod:`glovebox.cli.domains`. ``--json`` documents are
described in ``docs/cli.md``.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glovebox.cli.completion import complete_tags
from glovebox.cli.formatting import (
    count,
    emit_json,
    fail,
    format_hit_rate,
    format_size,
    format_usage,
    note,
    parse_age,
    print_table,
    say,
)
from glovebox.cli.workspace import workspace_app

# Start-up: the engine, the configuration and rich are imported by the commands that use
# them (see glovebox/cli/app.py); glovebox.cli.domains pulls in the engine.
if TYPE_CHECKING:
    from glovebox.cli.domains import Domains, DomainView
    from glovebox.compilation.cache import CleanupResult
    from glovebox.core.cache_v2 import CacheManager, StrategyDecision

__all__ = ["cache_app", "format_decision", "known_tags"]


def known_tags(root: Path) -> list[str]:
    """The standard domains plus any other tag that has a cache under ``root``."""
    from glovebox.cli.domains import known_tags as listed

    return listed(root)


def format_decision(decision: StrategyDecision, user_config: Any) -> str:
    """Who decided a domain's strategy, for the "decided by" column (see glovebox.cli.domains)."""
    from glovebox.cli.domains import format_decision as formatted

    return formatted(decision, user_config)


cache_app = typer.Typer(help="Inspect and manage the cache of each domain.", no_args_is_help=True)
cache_app.add_typer(workspace_app, name="workspace")

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


def _global_note(found: Domains, views: list[DomainView]) -> None:
    """Say once on stderr that caching is off by the global switch (what is shown is on disk)."""
    from glovebox.cli.domains import describe_decision
    from glovebox.core.cache_v2.policy import DecisionLayer

    for view in views:
        if view.disabled and view.decision.layer is DecisionLayer.ENV_GLOBAL:
            note(
                f"note: caching is disabled by "
                f"{describe_decision(view.decision, found.user_config)}; "
                "showing what earlier runs left on disk"
            )
            return


def _disabled_note(found: Domains, tag: str) -> None:
    from glovebox.cli.domains import describe_decision
    from glovebox.core.cache_v2 import Strategy

    decision = found.decision(tag)
    if decision.strategy is Strategy.DISABLED:
        note(
            f"note: caching is disabled for {tag!r} by "
            f"{describe_decision(decision, found.user_config)}; this is what is on disk"
        )


def _view_record(view: DomainView, found: Domains) -> dict[str, Any]:
    from glovebox.cli.domains import describe_decision

    stats = view.stats
    return {
        "tag": view.tag,
        "strategy": view.decision.strategy.value,
        "decided_by": format_decision(view.decision, found.user_config),
        "disabled_by": (
            describe_decision(view.decision, found.user_config) if view.disabled else None
        ),
        "backend": view.backend,
        "directory": str(view.directory),
        "location": view.stats.location,
        "entries": stats.entries,
        "entries_bytes": stats.size_bytes,
        "disk_bytes": view.disk_bytes,
        "workspace_bytes": view.workspace_bytes,
        "size_limit_bytes": view.size_limit_bytes,
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_rate": stats.hit_rate,
        "evictions": stats.evictions,
        "errors": stats.errors,
        "unusable": view.unusable,
    }


def _where(view: DomainView) -> str:
    """The directory, or where a backend without one keeps the data (a server, masked)."""
    stats = view.stats
    if stats.directory is None and stats.location:
        return stats.location
    return str(view.directory)


def _print_servers(found: Domains, views: list[DomainView]) -> None:
    """One line per shared server behind the shown domains: its version and memory in use."""
    from glovebox.errors import GloveboxError

    seen: set[str] = set()
    for view in views:
        if view.backend in ("disk", "memory", "disabled") or view.unusable is not None:
            continue
        cache = found.active(view.tag)
        server_info = getattr(cache, "server_info", None)
        server = getattr(cache, "server", None)
        if not callable(server_info) or not isinstance(server, str) or server in seen:
            continue
        seen.add(server)
        try:
            info = server_info()
        except GloveboxError as exc:
            say(f"Redis server {server}: unreachable ({exc})")
            continue
        say(
            f"Redis server {server}: version {info['version']}, memory in use "
            f"{format_size(int(info['used_memory']))}; hit rates of its domains are shared "
            "by every machine using it"
        )


def _size_cell(view: DomainView) -> str:
    if view.backend == "redis":
        # Nothing of a Redis domain is on this disk: its size is what its namespace holds.
        return f"{format_size(view.stats.size_bytes)} in Redis"
    text = format_usage(view.disk_bytes, view.size_limit_bytes)
    if view.workspace_bytes:
        text += f", workspaces {format_size(view.workspace_bytes)}"
    return text


@cache_app.command()
def stats(
    tag: AllTagsOption = None,
    json_: JsonOption = False,
    zero: Annotated[
        bool, typer.Option("--zero", "-z", help="Reset the hit and miss counts to zero.")
    ] = False,
) -> None:
    """Entries, disk usage against the size limit, and hits per domain (all unless --tag)."""
    from glovebox.cli.domains import domains

    found = domains()
    tags = [found.require(tag)] if tag is not None else found.known()
    if zero:
        _zero(found, tags)
        return
    views = [found.view(name) for name in tags]
    _global_note(found, views)
    if json_:
        emit_json(
            "cache stats",
            {"root": str(found.root), "domains": [_view_record(v, found) for v in views]},
        )
        return
    rows = [
        [
            v.tag,
            v.backend if v.unusable is None else "unusable",
            str(v.stats.entries),
            _size_cell(v),
            str(v.stats.hits),
            str(v.stats.misses),
            format_hit_rate(v.stats.hit_rate),
            _where(v),
        ]
        for v in views
    ]
    columns = ("tag", "backend", "entries", "disk usage", "hits", "misses", "hit rate", "path")
    print_table(f"Glovebox caches in {found.root}", columns, rows, whole=("tag", "path"))
    _print_servers(found, views)
    for view in views:
        if view.unusable is not None:
            note(f"note: the {view.tag!r} cache could not be opened: {view.unusable}")


def _zero(found: Domains, tags: list[str]) -> None:
    from glovebox.core.cache_v2 import DiskCacheManager

    zeroed = []
    for name in tags:
        with found.stored(name) as cache:
            if isinstance(cache, DiskCacheManager):
                cache.reset_stats()
                zeroed.append(name)
    say(f"hit/miss counts zeroed: {', '.join(zeroed) or 'none (no cache on disk)'}")


def _short_path(directory: Path, root: Path) -> str:
    try:
        return f"{directory.relative_to(root)}/"
    except ValueError:
        return str(directory)


@cache_app.command()
def show(json_: JsonOption = False) -> None:
    """Every domain: strategy and what decided it, backend, path, entries, disk usage, hits."""
    from glovebox.cli.domains import domains

    found = domains()
    user_config = found.user_config
    files = ", ".join(str(path) for path in getattr(user_config, "files", ())) or "none"
    views = [found.view(name) for name in found.known()]
    _global_note(found, views)
    if json_:
        emit_json(
            "cache show",
            {
                "root": str(found.root),
                "configuration_files": [str(p) for p in getattr(user_config, "files", ())],
                "domains": [_view_record(v, found) for v in views],
            },
        )
        return
    rows = [
        [
            v.tag,
            v.decision.strategy.value,
            format_decision(v.decision, user_config),
            v.backend if v.unusable is None else "unusable",
            _short_path(v.directory, found.root) if v.stats.location is None else _where(v),
            str(v.stats.entries),
            _size_cell(v),
            format_hit_rate(v.stats.hit_rate),
        ]
        for v in views
    ]
    columns = (
        "tag",
        "strategy",
        "decided by",
        "backend",
        "path",
        "entries",
        "disk usage",
        "hit rate",
    )
    title = f"Glovebox caches in {found.root} (configuration: {files})"
    print_table(title, columns, rows, whole=("tag", "path"))
    _print_servers(found, views)


@cache_app.command()
def keys(tag: TagOption = None, json_: JsonOption = False) -> None:
    """List the live keys of one domain's cache."""
    from glovebox.cli.domains import domains

    found = domains()
    name = found.require(tag)
    _disabled_note(found, name)
    with found.stored(name) as cache:
        listed = [] if cache is None else cache.keys()
    if json_:
        emit_json("cache keys", {"tag": name, "keys": listed})
        return
    for key in listed:
        typer.echo(key)


def _check_key(key: str) -> None:
    from glovebox.core.cache_v2.cache_manager import validate_key

    try:
        validate_key(key)
    except (ValueError, TypeError) as exc:
        raise fail(str(exc)) from exc


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


@cache_app.command()
def get(key: str, tag: TagOption = None, json_: JsonOption = False) -> None:
    """Print the value stored under KEY (exit code 1 if it is not cached)."""
    from glovebox.cli.domains import describe_decision, domains
    from glovebox.core.cache_v2 import Strategy

    _check_key(key)
    found = domains()
    name = found.require(tag)
    decision = found.decision(name)
    if decision.strategy is Strategy.DISABLED:
        raise fail(
            f"caching is disabled for {name!r} by "
            f"{describe_decision(decision, found.user_config)}; {key!r} was not looked up"
        )
    missing = object()
    value: Any = missing
    if found.on_disk(name) or not found.uses_disk(decision):
        value = found.usable(name).get(key, missing)
    if json_:
        emit_json(
            "cache get",
            {
                "tag": name,
                "key": key,
                "found": value is not missing,
                "value": None if value is missing else _json_value(value),
                "type": None if value is missing else type(value).__name__,
            },
        )
        if value is missing:
            raise typer.Exit(1)
        return
    if value is missing:
        raise fail(f"miss: {key!r} is not in the {name!r} cache", code=1)
    typer.echo(value if isinstance(value, str | bytes) else repr(value))


@cache_app.command("set")
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
    from glovebox.core.cache_v2.policy import validate_tag
    from glovebox.errors import GloveboxError

    found = domains()
    if value == "-":
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
    try:
        name = validate_tag(tag)
    except (ValueError, TypeError) as exc:
        raise fail(str(exc)) from exc
    cache = found.writable(name)
    try:
        cache.set(key, value, ttl=ttl)
    except GloveboxError as exc:
        raise fail(f"{exc}; nothing was stored") from exc


@cache_app.command()
def delete(key: str, tag: TagOption = None) -> None:
    """Remove KEY (exit code 1 if it was not cached)."""
    from glovebox.cli.domains import domains

    _check_key(key)
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


@cache_app.command()
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
    from glovebox.core.cache_v2.storage import disk_usage

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
        _disabled_note(found, name)
        with found.stored(name) as cache:
            if cache is None:
                say(f"{name}: nothing to clear")
                continue
            cleared = len(cache.keys())
            cache.clear()
            message = f"cleared {count(cleared, 'entry')} from {name!r}"
            if name == "compilation":
                message += _clear_workspaces(found, cache)
            say(message)


def _clear_workspaces(found: Domains, cache: CacheManager) -> str:
    """Remove the workspaces whose records were just cleared; say what remains, and why."""
    from glovebox.compilation.cache import workspace_cache_root
    from glovebox.core.cache_v2.storage import disk_usage

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


@cache_app.command()
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


@cache_app.command()
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


@cache_app.command()
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


@cache_app.command("dir")
def dir_(tag: AllTagsOption = None) -> None:
    """Print the cache root, or one domain's directory (even before it exists)."""
    from glovebox.cli.domains import domains

    found = domains()
    if tag is None:
        typer.echo(str(found.root))
        return
    typer.echo(str(found.directory(found.require(tag))))


@cache_app.command()
def info(json_: JsonOption = False) -> None:
    """The cache root, configuration files in order, total disk usage and per-domain limits."""
    from glovebox.cli.domains import domains
    from glovebox.core.cache_v2.storage import disk_usage

    found = domains()
    files = [str(path) for path in getattr(found.user_config, "files", ())]
    total = disk_usage(found.root)
    limits: list[dict[str, Any]] = []
    for name in found.known():
        decision = found.decision(name)
        limits.append(
            {
                "tag": name,
                "strategy": decision.strategy.value,
                "size_limit_bytes": found.size_limit(name),
                "disk_bytes": disk_usage(found.directory(name)),
            }
        )
    if json_:
        emit_json(
            "cache info",
            {
                "root": str(found.root),
                "configuration_files": files,
                "disk_bytes": total,
                "domains": limits,
            },
        )
        return
    typer.echo(f"cache root:    {found.root}")
    typer.echo("configuration: " + (files[0] if files else "none"))
    for path in files[1:]:
        typer.echo(f"               {path}")
    global_value = os.environ.get("GLOVEBOX_CACHE_GLOBAL")
    if global_value:
        typer.echo(f"environment:   GLOVEBOX_CACHE_GLOBAL={global_value}")
    typer.echo(f"disk usage:    {format_size(total)}")
    rows = [
        [
            item["tag"],
            item["strategy"],
            format_usage(item["disk_bytes"], item["size_limit_bytes"]),
        ]
        for item in limits
    ]
    columns = ("tag", "strategy", "disk usage of limit")
    print_table("Per-domain limits", columns, rows, whole=("tag",))


if __name__ == "__main__":
    # The commands need the container that only the composition root builds.
    raise SystemExit(
        fail(
            "glovebox.cli.cache is not a program of its own; run `glovebox cache ...` "
            "(the entry point configures the caches)"
        ).exit_code
    )
