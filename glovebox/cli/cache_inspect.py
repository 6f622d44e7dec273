"""Inspection commands of ``glovebox cache``: ``stats``, ``show``, ``keys``, ``get``, ``dir``
and ``info``.

``stats``, ``show``, ``keys``, ``info`` and ``dir`` count no hits or misses and create
nothing; see :mod:`glovebox.cli.domains`. ``--json`` documents are described in
``docs/cli.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glovebox.cli.cache_common import (
    AllTagsOption,
    JsonOption,
    TagOption,
    check_key,
    disabled_note,
    format_decision,
    why_uncreatable,
)
from glovebox.cli.completion import complete_tags
from glovebox.cli.formatting import (
    emit_json,
    fail,
    format_hit_rate,
    format_size,
    format_usage,
    note,
    print_table,
    say,
)
from glovebox.cli.remote import remote_line, remote_record

# Start-up: the engine, the configuration and rich are imported by the commands that use
# them (see glovebox/cli/app.py); glovebox.cli.domains pulls in the engine.
if TYPE_CHECKING:
    from glovebox.cli.domains import Domains, DomainView

__all__ = ["dir_", "get", "info", "keys", "show", "stats"]


def _global_note(found: Domains, views: list[DomainView]) -> None:
    """Say once on stderr that caching is off by the global switch (what is shown is on disk)."""
    from glovebox.cli.domains import describe_decision
    from glovebox.core.cache_v2 import DecisionLayer

    for view in views:
        if view.disabled and view.decision.layer is DecisionLayer.ENV_GLOBAL:
            note(
                f"note: caching is disabled by "
                f"{describe_decision(view.decision, found.user_config)}; "
                "showing what earlier runs left on disk"
            )
            return


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
        "damaged": view.damaged,
        **_levels_record(view, found),
    }


def _quarantine_records(found: Domains) -> list[dict[str, Any]]:
    return [
        {"tag": q.tag, "path": str(q.path), "disk_bytes": q.disk_bytes}
        for q in found.admin.quarantine()
    ]


def _print_quarantine(records: list[dict[str, Any]]) -> None:
    """Damaged databases moved aside: where, how big, and how to remove them."""
    if not records:
        return
    total = sum(record["disk_bytes"] for record in records)
    say(
        f"quarantined (damaged databases moved aside, {format_size(total)}; "
        "'glovebox cache clear --all' removes them):"
    )
    for record in records:
        say(f"  {record['path']}  {format_size(record['disk_bytes'])}")


def _backend_cell(view: DomainView) -> str:
    if view.unusable is not None:
        return "unusable"
    return "damaged" if view.damaged is not None else view.backend


def _damage_notes(views: list[DomainView]) -> None:
    for view in views:
        if view.damaged is not None:
            note(
                f"note: the {view.tag!r} cache: {view.damaged}; reads answer misses and "
                "its next write moves it aside"
            )


def _levels_record(view: DomainView, found: Domains) -> dict[str, Any]:
    """For the compilation domain, ``levels``: entries and bytes of each level."""
    if view.tag != "compilation":
        return {}
    from glovebox.compilation.levels import compilation_levels

    levels = compilation_levels(found.root)
    return {"levels": {level.name: {"entries": level.entries, "bytes": level.bytes}
                       for level in levels}}  # fmt: skip


def _print_levels(found: Domains, views: list[DomainView]) -> None:
    """One line with the compilation domain's levels, when it is shown."""
    if not any(view.tag == "compilation" for view in views):
        return
    from glovebox.compilation.levels import compilation_levels

    parts = [
        f"{level.name} {level.entries} ({format_size(level.bytes)})"
        for level in compilation_levels(found.root)
    ]
    say(f"compilation levels: {', '.join(parts)}")


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


_NUMBER_COLUMNS = (
    "entries",
    "stored",
    "disk usage",
    "evictions",
    "errors",
    "hits",
    "misses",
    "hit rate",
)
"""The figures of a domain in the ``stats`` table: every number of its ``--json`` record."""
_SHOW_NUMBERS = ("entries", "disk usage", "hit rate")
"""The figures ``show`` (the configuration view) adds; ``stats`` has them all."""


def _number_cells(view: DomainView) -> list[str]:
    """Cells for :data:`_NUMBER_COLUMNS`: every figure the ``--json`` document reports."""
    stats = view.stats
    return [
        str(stats.entries),
        format_size(stats.size_bytes),
        _size_cell(view),
        str(stats.evictions),
        str(stats.errors),
        str(stats.hits),
        str(stats.misses),
        format_hit_rate(stats.hit_rate),
    ]


def _size_notes(views: list[DomainView]) -> list[str]:
    """What the disk figures hold that a user would not expect (the space reserve)."""
    if not any(view.disk_bytes for view in views if view.backend != "redis"):
        return []
    return _reserve_note("; stored: the size of the entries")


def _reserve_note(more: str = "") -> list[str]:
    from glovebox.core.cache_v2 import RESERVE_BYTES

    return [
        f"disk usage (as du counts it) includes a {format_size(RESERVE_BYTES)} space.reserve",
        f"per domain, kept to free when the disk is full{more}",
    ]


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
    columns = ("tag", "backend", *_NUMBER_COLUMNS, "path")
    rows = [[v.tag, _backend_cell(v), *_number_cells(v), _where(v)] for v in views]
    title = f"Glovebox caches in {found.root}"
    print_table(title, columns, rows, paths=("path",), notes=_size_notes(views))
    _print_levels(found, views)
    _print_servers(found, views)
    for view in views:
        if view.unusable is not None:
            note(f"note: the {view.tag!r} cache could not be opened: {view.unusable}")
    _damage_notes(views)


def _zero(found: Domains, tags: list[str]) -> None:
    """Zero the stored hit/miss counts of every cache that keeps counts it can reset.

    The cache is asked: a backend offering ``reset_stats()`` keeps such totals (the disk
    one); the others (memory, a shared server's, a switched-off domain) are left out.
    """
    zeroed = []
    for name in tags:
        with found.stored(name) as cache:
            reset_stats = getattr(cache, "reset_stats", None)
            if callable(reset_stats):
                reset_stats()
                zeroed.append(name)
    say(f"hit/miss counts zeroed: {', '.join(zeroed) or 'none (no cache on disk)'}")


def _short_path(directory: Path, root: Path) -> str:
    try:
        return f"{directory.relative_to(root)}/"
    except ValueError:
        return str(directory)


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
                "remote": remote_record(user_config),
                "quarantined": _quarantine_records(found),
            },
        )
        return
    columns = ("tag", "strategy", "decided by", "backend", "path", *_SHOW_NUMBERS)
    rows = [
        [
            v.tag,
            v.decision.strategy.value,
            format_decision(v.decision, user_config),
            _backend_cell(v),
            _short_path(v.directory, found.root) if v.stats.location is None else _where(v),
            *(
                cell
                for name, cell in zip(_NUMBER_COLUMNS, _number_cells(v), strict=True)
                if name in _SHOW_NUMBERS
            ),
        ]
        for v in views
    ]
    title = f"Glovebox caches in {found.root}\nconfiguration: {files}"
    print_table(title, columns, rows, paths=("path",), notes=_size_notes(views))
    _print_levels(found, views)
    _print_servers(found, views)
    _say_remote(remote_record(user_config))
    _print_quarantine(_quarantine_records(found))
    _damage_notes(views)


def keys(tag: TagOption = None, json_: JsonOption = False) -> None:
    """List the live keys of one domain's cache."""
    from glovebox.cli.domains import domains

    found = domains()
    name = found.require(tag)
    disabled_note(found, name)
    with found.stored(name) as cache:
        listed = [] if cache is None else cache.keys()
    if json_:
        emit_json("cache keys", {"tag": name, "keys": listed})
        return
    for key in listed:
        typer.echo(key)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


def get(key: str, tag: TagOption = None, json_: JsonOption = False) -> None:
    """Print the value stored under KEY (exit code 1 if it is not cached)."""
    from glovebox.cli.domains import describe_decision, domains
    from glovebox.core.cache_v2 import Strategy

    check_key(key)
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
    else:
        problem = why_uncreatable(found.directory(name))
        if problem is not None:
            raise fail(f"the {name!r} cache could not be opened: {problem}")
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


def dir_(
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            "-t",
            help="Print this domain's directory instead (default: the cache root).",
            autocompletion=complete_tags,
        ),
    ] = None,
) -> None:
    """Print the cache root, or one domain's directory (even before it exists)."""
    from glovebox.cli.domains import domains

    found = domains()
    if tag is None:
        typer.echo(str(found.root))
        return
    typer.echo(str(found.directory(found.require(tag))))


def info(json_: JsonOption = False) -> None:
    """The cache root, configuration files in order, total disk usage and per-domain limits."""
    from glovebox.cli.domains import domains
    from glovebox.core.cache_v2 import disk_usage

    found = domains()
    files = [str(path) for path in getattr(found.user_config, "files", ())]
    total = disk_usage(found.root)
    quarantine = _quarantine_records(found)
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
                "remote": remote_record(found.user_config),
                "quarantined": quarantine,
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
    notes = _reserve_note() if any(item["disk_bytes"] for item in limits) else []
    print_table("Per-domain limits", columns, rows, notes=notes)
    _say_remote(remote_record(found.user_config))
    _print_quarantine(quarantine)


def _say_remote(record: dict[str, Any] | None) -> None:
    line = remote_line(record)
    if line is not None:
        say(line)
