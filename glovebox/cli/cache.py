"""``glovebox cache ...``: look at and control the caches of each domain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glovebox.cli.console import LazyConsole, escape
from glovebox.cli.formatting import fail, format_hit_rate, format_size
from glovebox.cli.workspace import workspace_app
from glovebox.errors import GloveboxError

# Start-up: the engine, the configuration models and rich are imported by the commands
# that use them (see glovebox/cli/app.py).
if TYPE_CHECKING:
    from glovebox.cache_lookup import TaggedCaches
    from glovebox.config import UserConfig
    from glovebox.core.cache_v2 import CacheManager, CacheStats, StrategyDecision

__all__ = ["cache_app", "format_decision", "known_tags"]

cache_app = typer.Typer(help="Inspect and manage the cache of each domain.", no_args_is_help=True)
cache_app.add_typer(workspace_app, name="workspace")
console = LazyConsole()
err_console = LazyConsole(stderr=True)

TagOption = Annotated[
    str | None, typer.Option("--tag", "-t", help="Domain tag (default: the 'default' cache).")
]


def known_tags(root: Path) -> list[str]:
    """The standard domains plus any other tag that has a cache under ``root``."""
    from glovebox.cache_lookup import KNOWN_DOMAINS
    from glovebox.core.cache_v2.policy import DEFAULT_TAG
    from glovebox.core.cache_v2.storage import list_tags

    return sorted({*KNOWN_DOMAINS, DEFAULT_TAG, *list_tags(root)})


def _domain_caches() -> TaggedCaches:
    """The container's caches by tag (injected: overrides of a domain's cache apply)."""
    from glovebox.cli.injected import domain_caches

    return domain_caches()


def _cache_root() -> Path:
    return Path(_domain_caches().user_config.cache_path)


def _open(tag: str | None) -> CacheManager:
    try:
        return _domain_caches().get(tag)
    except (GloveboxError, ValueError, TypeError) as exc:
        raise fail(str(exc)) from exc


def _stats_row(stats: CacheStats) -> list[str]:
    return [
        stats.tag,
        stats.backend,
        str(stats.entries),
        format_size(stats.size_bytes),
        str(stats.hits),
        str(stats.misses),
        format_hit_rate(stats.hit_rate),
        str(stats.directory or stats.location or "-"),
    ]


def _print_servers(caches: list[CacheManager]) -> None:
    """One line per shared server behind ``caches``: its version and memory in use."""
    seen: set[str] = set()
    for cache in caches:
        server_info = getattr(cache, "server_info", None)
        server = getattr(cache, "server", None)
        if not callable(server_info) or not isinstance(server, str) or server in seen:
            continue
        seen.add(server)
        try:
            info = server_info()
        except GloveboxError as exc:
            console.print(f"Redis server {escape(server)}: unreachable ({escape(str(exc))})")
            continue
        console.print(
            f"Redis server {escape(server)}: version {escape(str(info['version']))}, "
            f"memory in use {format_size(int(info['used_memory']))}; hit rates of its "
            "domains are shared by every machine using it"
        )


@cache_app.command()
def stats(tag: TagOption = None) -> None:
    """Entries, size and hit rate per domain (all domains unless --tag)."""
    from rich.table import Table

    tags = [tag] if tag is not None else known_tags(_cache_root())
    table = Table(title=f"Glovebox caches in {_cache_root()}")
    for column in ("tag", "backend", "entries", "size", "hits", "misses", "hit rate", "path"):
        table.add_column(column)
    opened = [_open(name) for name in tags]
    for cache in opened:
        table.add_row(*_stats_row(cache.get_stats()))
    console.print(table)
    _print_servers(opened)


def format_decision(decision: StrategyDecision, user_config: UserConfig) -> str:
    """Who decided, for the "decided by" column: a variable, ``file:line`` or ``default``.

    A configuration key is shown as the file name and line that set it (the full paths
    are in the table title); the global ``cache_strategy`` also names the key.
    """
    from glovebox.core.cache_v2.policy import DecisionLayer

    if decision.variable is not None:
        return f"env {decision.variable}"
    if decision.yaml_path is None:
        return decision.layer.value
    where = user_config.origin(decision.yaml_path)
    shown = Path(where).name  # file:line keeps its line; a variable name is unchanged
    if decision.layer is not DecisionLayer.DOMAIN_CONFIG:
        shown += f" ({decision.yaml_path})"
    return shown


def _short_path(stats: CacheStats, root: Path) -> str:
    """The directory relative to the root in the title (absolute if it is elsewhere)."""
    directory = stats.directory
    if directory is None:
        return stats.location or "-"
    try:
        return f"{directory.relative_to(root.resolve())}/"
    except ValueError:
        return str(directory)


@cache_app.command()
def show() -> None:
    """Every domain: strategy and the layer that decided it, backend, path, entries, size, hits."""
    from rich.console import Console
    from rich.table import Table

    from glovebox.core.cache_v2 import resolve_user_config_strategy
    from glovebox.core.cache_v2.policy import DEFAULT_TAG

    caches = _domain_caches()
    user_config = caches.user_config
    root = Path(user_config.cache_path)
    files = ", ".join(str(path) for path in getattr(user_config, "files", ())) or "none"
    table = Table(title=f"Glovebox caches in {root} (configuration: {files})")
    columns = ("tag", "strategy", "decided by", "backend", "path", "entries", "size", "hit rate")
    for column in columns:
        table.add_column(column, overflow="fold")
    # Domains named in the configuration are shown even before they hold anything.
    configured = set(getattr(getattr(user_config, "cache", None), "domains", None) or ())
    opened: list[CacheManager] = []
    for name in sorted(set(known_tags(root)) | configured):
        try:
            decision = resolve_user_config_strategy(
                user_config, None if name == DEFAULT_TAG else name
            )
            cache = _open(name)
            stats = cache.get_stats()
        except GloveboxError as exc:
            raise fail(str(exc)) from exc
        table.add_row(
            name,
            decision.strategy.value,
            format_decision(decision, user_config),
            stats.backend,
            _short_path(stats, root),
            str(stats.entries),
            format_size(stats.size_bytes),
            format_hit_rate(stats.hit_rate),
        )
        opened.append(cache)
    # Piped output (scripts, CI logs) is not squeezed into 80 columns.
    (console if console.is_terminal else Console(width=160)).print(table)
    _print_servers(opened)


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
        err_console.print(
            escape(f"miss: {key!r} is not in the {cache.tag!r} cache"), soft_wrap=True
        )
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
        raise fail(str(exc)) from exc


@cache_app.command()
def delete(key: str, tag: TagOption = None) -> None:
    """Remove KEY (exit code 1 if it was not cached)."""
    if not _open(tag).delete(key):
        err_console.print(escape(f"{key!r} was not cached"), soft_wrap=True)
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
    tags = [tag] if tag is not None else known_tags(_cache_root())
    for name in tags:
        removed = _open(name).cleanup()
        typer.echo(f"{name}: removed {removed} entries")


if __name__ == "__main__":
    # The commands need the container that only the composition root builds.
    raise SystemExit(
        fail(
            "glovebox.cli.cache is not a program of its own; run `glovebox cache ...` "
            "(the entry point configures the caches)"
        ).exit_code
    )
