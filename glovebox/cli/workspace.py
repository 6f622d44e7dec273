"""``glovebox cache workspace ...``: the ZMK workspaces in the compilation cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glovebox.cli.console import LazyConsole, real_console
from glovebox.cli.formatting import fail, format_size
from glovebox.errors import GloveboxError
from glovebox.text import quote

# Start-up: the compilation stack and rich are imported by the commands that use them
# (see glovebox/cli/app.py).
if TYPE_CHECKING:
    from glovebox.compilation.cache import (
        ProgressCallback,
        WorkspaceConfig,
        WorkspaceEntry,
        WorkspaceProgress,
        ZmkWorkspaceCacheService,
    )

__all__ = ["workspace_app"]

workspace_app = typer.Typer(
    help="ZMK west workspaces cached for compilation.", no_args_is_help=True
)
console = LazyConsole()
err_console = LazyConsole(stderr=True)

KeyArgument = Annotated[
    str | None, typer.Argument(help="Entry key as shown by 'list' (or use --repository).")
]
RepositoryOption = Annotated[
    str | None, typer.Option("--repository", "-r", help="e.g. zmkfirmware/zmk")
]
BranchOption = Annotated[str | None, typer.Option("--branch", "-b", help="Branch name.")]
RevisionOption = Annotated[
    str | None, typer.Option("--revision", help="Tag or commit (pinned: longer TTL).")
]


def _service() -> ZmkWorkspaceCacheService:
    """The container's workspace service (over its, possibly overridden, compilation cache)."""
    from glovebox.cli.injected import workspace_cache_service

    return workspace_cache_service()


def _config(repository: str | None, branch: str | None, revision: str | None) -> WorkspaceConfig:
    from glovebox.compilation.cache import WorkspaceConfig

    if repository is None:
        raise fail("give an entry KEY, or --repository with --branch or --revision")
    try:
        return WorkspaceConfig(repository=repository, branch=branch, revision=revision)
    except ValueError as exc:
        from glovebox.cli.errors import validation_message

        details = validation_message(exc)
        raise fail(f"invalid workspace selection: {details or exc}") from exc


def _select(
    service: ZmkWorkspaceCacheService,
    key: str | None,
    repository: str | None,
    branch: str | None,
    revision: str | None,
) -> str:
    """The entry key named by KEY or by the repository options."""
    from glovebox.compilation.cache import is_valid_key, workspace_key

    if key is not None:
        if repository is not None:
            raise fail("give either KEY or --repository, not both")
        if not is_valid_key(key):
            raise fail(f"invalid workspace key {quote(key)}; run 'glovebox cache workspace list'")
        return key
    return workspace_key(_config(repository, branch, revision))


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}"
    return f"{seconds:.0f}s"


def _expires(entry: WorkspaceEntry) -> str:
    if entry.expires_at is None:
        return "never"
    remaining = (entry.expires_at - datetime.now(UTC)).total_seconds()
    return f"in {_duration(remaining)}" if remaining > 0 else "expired"


@contextmanager
def _progress_bar(label: str) -> Iterator[ProgressCallback]:
    """A rich progress bar fed by the service's progress callback (files as units)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=real_console(err_console),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(report: WorkspaceProgress) -> None:
            bar.update(task, total=report.files_total, completed=report.files_done)

        yield update


@workspace_app.command("list")
def list_command() -> None:
    """Cached workspaces: repository, revision, size, files, age and expiry."""
    from rich.console import Console
    from rich.table import Table

    entries = _service().list_workspaces()
    table = Table(title=f"ZMK workspaces ({len(entries)})")
    for column in ("key", "repository", "revision", "size", "files", "age", "expires"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            entry.key,
            entry.config.repository,
            entry.config.ref + (" (branch)" if entry.config.is_branch else ""),
            format_size(entry.size_bytes),
            str(entry.file_count),
            _duration(entry.age_seconds),
            _expires(entry),
        )
    (console if console.is_terminal else Console(width=200)).print(table)


@workspace_app.command()
def show(
    key: KeyArgument = None,
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
) -> None:
    """Details of one cached workspace (exit code 1 if it is not cached)."""
    service = _service()
    entry = service.get_workspace_by_key(_select(service, key, repository, branch, revision))
    if entry is None:
        raise fail("workspace is not cached", code=1)
    rows = {
        "key": entry.key,
        "repository": entry.config.repository,
        "branch" if entry.config.is_branch else "revision": entry.config.ref,
        "manifest hash": entry.config.manifest_hash or "-",
        "path": str(entry.path),
        "size": format_size(entry.size_bytes),
        "files": str(entry.file_count),
        "created": entry.created_at.isoformat(timespec="seconds"),
        "expires": _expires(entry),
        "handed out by hardlink": "yes (verified on use)" if entry.hardlinked else "no",
    }
    for name, value in rows.items():
        typer.echo(f"{name + ':':<24}{value}")


@workspace_app.command()
def add(
    source: Annotated[Path, typer.Argument(help="Workspace directory or .zip/.tar(.gz) archive.")],
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
    move: Annotated[
        bool, typer.Option("--move", help="Move the directory into the cache (no copy).")
    ] = False,
) -> None:
    """Cache a workspace from a directory or an archive."""
    config = _config(repository, branch, revision)
    service = _service()
    try:
        with _progress_bar("caching") as progress:
            if move and source.is_dir():
                result = service.cache_workspace(source, config, move=True, progress=progress)
            else:
                result = service.import_workspace(source, config, progress=progress)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    if result is None:
        raise fail("the compilation cache is disabled; nothing was stored", code=1)
    entry = result.entry
    note = f" ({result.fallback_reason})" if result.fallback_reason else ""
    typer.echo(
        f"cached {entry.key}: {entry.file_count} files, {format_size(entry.size_bytes)} "
        f"by {result.method}{note} in {result.seconds:.2f}s"
    )


@workspace_app.command()
def delete(
    key: KeyArgument = None,
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
) -> None:
    """Delete one cached workspace (exit code 1 if there was none)."""
    service = _service()
    selected = _select(service, key, repository, branch, revision)
    if not service.delete_by_key(selected):
        raise fail(f"workspace {selected} is not cached", code=1)
    typer.echo(f"deleted {selected}")


@workspace_app.command()
def export(
    output: Annotated[Path, typer.Argument(help="Archive to write (.zip, .tar, .tar.gz, .tgz).")],
    *,
    key: Annotated[str | None, typer.Option("--key", "-k", help="Entry key.")] = None,
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
    include_git: Annotated[
        bool, typer.Option("--git/--no-git", help="Include .git directories.")
    ] = True,
) -> None:
    """Write a cached workspace to an archive."""
    service = _service()
    selected = _select(service, key, repository, branch, revision)
    try:
        with _progress_bar("exporting") as progress:
            service.export_by_key(selected, output, include_git=include_git, progress=progress)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"exported {selected} to {output} ({format_size(output.stat().st_size)})")


@workspace_app.command()
def cleanup() -> None:
    """Remove expired, orphaned, modified and half-written workspaces."""
    result = _service().cleanup()
    typer.echo(
        f"removed {result.removed_count}: {len(result.expired_or_orphaned)} expired or orphaned, "
        f"{len(result.stale_metadata)} stale metadata, {len(result.modified)} modified, "
        f"{len(result.leftovers)} interrupted; {len(result.skipped_busy)} busy (skipped)"
    )
