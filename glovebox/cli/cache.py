"""``glovebox cache ...``: look at and control the caches of each domain."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from glovebox.core.cache_v2 import (
    CacheManager,
    CacheStats,
    create_default_cache,
    default_cache_root,
)
from glovebox.errors import GloveboxError

__all__ = ["cache_app", "known_tags"]

cache_app = typer.Typer(help="Inspect and manage the cache of each domain.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

KNOWN_DOMAINS = ("compilation", "layout", "metrics", "moergo", "default")
TagOption = Annotated[
    str | None, typer.Option("--tag", "-t", help="Domain tag (default: the 'default' cache).")
]


def known_tags(root: Path) -> list[str]:
    """The standard domains plus any other tag that has a cache under ``root``."""
    found = set(KNOWN_DOMAINS)
    if root.is_dir():
        found.update(
            entry.name
            for entry in root.iterdir()
            if entry.is_dir() and (entry / "cache.db").is_file() and ".corrupt-" not in entry.name
        )
    return sorted(found)


def _open(tag: str | None) -> CacheManager:
    try:
        return create_default_cache(tag)
    except (GloveboxError, ValueError, TypeError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _stats_row(stats: CacheStats) -> list[str]:
    rate = "-" if stats.hit_rate is None else f"{stats.hit_rate:.0%}"
    return [
        stats.tag,
        stats.backend,
        str(stats.entries),
        _format_size(stats.size_bytes),
        str(stats.hits),
        str(stats.misses),
        rate,
        str(stats.directory or "-"),
    ]


@cache_app.command()
def stats(tag: TagOption = None) -> None:
    """Entries, size and hit rate per domain (all domains unless --tag)."""
    tags = [tag] if tag is not None else known_tags(default_cache_root())
    table = Table(title=f"Glovebox caches in {default_cache_root()}")
    for column in ("tag", "backend", "entries", "size", "hits", "misses", "hit rate", "path"):
        table.add_column(column)
    for name in tags:
        table.add_row(*_stats_row(_open(name).get_stats()))
    console.print(table)


@cache_app.command()
def keys(tag: TagOption = None) -> None:
    """List the live keys of one domain's cache."""
    for key in _open(tag).keys():
        typer.echo(key)


@cache_app.command()
def get(key: str, tag: TagOption = None) -> None:
    """Print the value stored under KEY (exit code 1 if it is not cached)."""
    cache = _open(tag)
    sentinel = object()
    value = cache.get(key, sentinel)
    if value is sentinel:
        err_console.print(f"miss: {key!r} is not in the {cache.tag!r} cache")
        raise typer.Exit(1)
    typer.echo(value if isinstance(value, str | bytes) else repr(value))


@cache_app.command("set")
def set_(
    key: str,
    value: str,
    tag: TagOption = None,
    ttl: Annotated[float | None, typer.Option(help="Seconds until the entry expires.")] = None,
) -> None:
    """Store VALUE (a string) under KEY."""
    try:
        _open(tag).set(key, value, ttl=ttl)
    except (GloveboxError, ValueError, TypeError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@cache_app.command()
def delete(key: str, tag: TagOption = None) -> None:
    """Remove KEY (exit code 1 if it was not cached)."""
    if not _open(tag).delete(key):
        err_console.print(f"{key!r} was not cached")
        raise typer.Exit(1)
    typer.echo(f"deleted {key}")


@cache_app.command()
def clear(
    tag: TagOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove every entry of one domain's cache."""
    cache = _open(tag)
    if not yes and not typer.confirm(f"Remove all entries of the {cache.tag!r} cache?"):
        raise typer.Exit(1)
    count = len(cache.keys())
    cache.clear()
    typer.echo(f"cleared {count} entries from {cache.tag!r}")


@cache_app.command()
def cleanup(tag: TagOption = None) -> None:
    """Remove expired entries and enforce size limits (all domains unless --tag)."""
    tags = [tag] if tag is not None else known_tags(default_cache_root())
    for name in tags:
        removed = _open(name).cleanup()
        typer.echo(f"{name}: removed {removed} entries")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cache_app())
