"""``glovebox cache workspace ...``: the ZMK workspaces in the compilation cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glovebox.cli.completion import complete_workspace_keys
from glovebox.cli.formatting import OUTPUT, emit_json, fail, format_size, print_table, say
from glovebox.errors import GloveboxError
from glovebox.text import quote

# Start-up: the compilation stack, the engine and rich are imported by the commands that
# use them (see glovebox/cli/app.py).
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
# Where progress bars are drawn (None: a console on stderr, made when a bar is needed).
err_console: Any = None

KeyArgument = Annotated[
    str | None,
    typer.Argument(
        help="Entry key as shown by 'list' (or select with --repository).",
        autocompletion=complete_workspace_keys,
        show_default=False,
        metavar="KEY",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (schema: docs/cli.md).")
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
def _progress_bar(label: str) -> Iterator[ProgressCallback | None]:
    """A progress bar on stderr fed by the service's reports (by bytes), labelled with
    the elapsed time and the estimated time left; none with --no-progress or --quiet."""
    from glovebox.cli.console import real_console

    if not OUTPUT.progress or OUTPUT.quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=real_console(err_console) if err_console is not None else Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(report: WorkspaceProgress) -> None:
            description = f"{label} ({report.operation})"
            if report.files_total:
                description += f" {report.files_done}/{report.files_total} files"
            bar.update(
                task,
                description=description,
                total=report.bytes_total or None,
                completed=report.bytes_done,
            )

        yield update


@contextmanager
def _inspected() -> Iterator[ZmkWorkspaceCacheService | None]:
    """The workspace service to look through, or None if nothing was ever cached.

    Creates nothing. While caching is disabled it reads what is on disk through a private
    handle, so the workspaces stored earlier are still listed and managed.
    """
    from glovebox.cli.domains import domains
    from glovebox.compilation.cache import create_zmk_workspace_cache_service
    from glovebox.core.cache_v2 import Strategy

    found = domains()
    with found.stored("compilation") as cache:
        if cache is None:
            yield None
        elif found.decision("compilation").strategy is Strategy.DISABLED:
            yield create_zmk_workspace_cache_service(found.user_config, cache)
        else:
            yield _service()


def _entry_record(entry: WorkspaceEntry, disk_bytes: int) -> dict[str, Any]:
    return {
        "key": entry.key,
        "repository": entry.config.repository,
        "branch": entry.config.branch,
        "revision": entry.config.revision,
        "manifest_hash": entry.config.manifest_hash,
        "path": str(entry.path),
        "disk_bytes": disk_bytes,
        "apparent_bytes": entry.size_bytes,
        "file_count": entry.file_count,
        "created_at": entry.created_at.isoformat(),
        "expires_at": None if entry.expires_at is None else entry.expires_at.isoformat(),
        "hardlinked": entry.hardlinked,
    }


@workspace_app.command("list")
def list_command(json_: JsonOption = False) -> None:
    """Cached workspaces: key, repository, revision, disk usage, files, age and expiry."""
    from glovebox.core.cache_v2 import disk_usage

    with _inspected() as service:
        entries = [] if service is None else service.list_workspaces()
        root = None if service is None else service.root
    used = {entry.key: disk_usage(entry.path.parent) for entry in entries}
    if json_:
        emit_json(
            "cache workspace list",
            {
                "root": None if root is None else str(root),
                "workspaces": [_entry_record(e, used[e.key]) for e in entries],
            },
        )
        return
    rows = [
        [
            entry.key,
            entry.config.repository,
            entry.config.ref + (" (branch)" if entry.config.is_branch else ""),
            format_size(used[entry.key]),
            str(entry.file_count),
            _duration(entry.age_seconds),
            _expires(entry),
        ]
        for entry in entries
    ]
    columns = ("key", "repository", "revision", "disk usage", "files", "age", "expires")
    print_table(f"ZMK workspaces ({len(entries)})", columns, rows)


@workspace_app.command()
def show(
    key: KeyArgument = None,
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
    json_: JsonOption = False,
) -> None:
    """Details of one cached workspace (exit code 1 if it is not cached)."""
    from glovebox.core.cache_v2 import disk_usage

    selected = _select(key, repository, branch, revision)
    with _inspected() as service:
        entry = None if service is None else service.get_workspace_by_key(selected)
    if entry is None:
        raise fail(f"workspace {selected} is not cached", code=1)
    used = disk_usage(entry.path.parent)
    if json_:
        emit_json("cache workspace show", {"workspace": _entry_record(entry, used)})
        return
    rows = {
        "key": entry.key,
        "repository": entry.config.repository,
        "branch" if entry.config.is_branch else "revision": entry.config.ref,
        "manifest hash": entry.config.manifest_hash or "-",
        "path": str(entry.path),
        "disk usage": format_size(used),
        "file size total": format_size(entry.size_bytes),
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
    """Cache a workspace from a directory or an archive (exit code 2 if nothing was stored)."""
    from glovebox.cli.domains import domains
    from glovebox.core.cache_v2 import disk_usage

    config = _config(repository, branch, revision)
    domains().writable("compilation", "no workspace was stored")
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
        raise fail("the compilation cache keeps nothing on disk; no workspace was stored")
    entry = result.entry
    remark = f" ({result.fallback_reason})" if result.fallback_reason else ""
    say(
        f"cached {entry.key}: {entry.file_count} files, "
        f"{format_size(disk_usage(entry.path.parent))} on disk "
        f"by {result.method}{remark} in {result.seconds:.2f}s"
    )


@workspace_app.command()
def delete(
    key: KeyArgument = None,
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
) -> None:
    """Delete one cached workspace (exit code 1 if there was none)."""
    selected = _select(key, repository, branch, revision)
    with _inspected() as service:
        deleted = service is not None and service.delete_by_key(selected)
    if not deleted:
        raise fail(f"workspace {selected} is not cached", code=1)
    say(f"deleted {selected}")


@workspace_app.command()
def export(
    key: KeyArgument = None,
    output: Annotated[
        Path | None,
        typer.Argument(
            help="Archive to write (.zip, .tar, .tar.gz, .tgz, .tar.xz).",
            show_default=False,
            metavar="OUTPUT",
        ),
    ] = None,
    *,
    repository: RepositoryOption = None,
    branch: BranchOption = None,
    revision: RevisionOption = None,
    include_git: Annotated[
        bool, typer.Option("--git/--no-git", help="Include .git directories.")
    ] = True,
) -> None:
    """Write a cached workspace to an archive: export KEY OUTPUT, or export OUTPUT -r REPO ..."""
    from glovebox.compilation.cache.archive import archive_format

    if output is None and repository is not None and key is not None:
        output = Path(key)  # the one argument given is the archive
        key = None
    if output is None:
        raise fail("give the archive to write: export KEY OUTPUT (or OUTPUT with --repository)")
    selected = _select(key, repository, branch, revision)
    try:
        archive_format(output)
    except GloveboxError as exc:
        raise fail(str(exc)) from exc
    with _inspected() as service:
        if service is None:
            raise fail(f"workspace {selected} is not cached; see 'glovebox cache workspace list'")
        try:
            with _progress_bar("exporting") as progress:
                service.export_by_key(selected, output, include_git=include_git, progress=progress)
        except GloveboxError as exc:
            raise fail(str(exc)) from exc
    say(f"exported {selected} to {output} ({format_size(output.stat().st_size)})")


@workspace_app.command()
def cleanup(json_: JsonOption = False) -> None:
    """Remove expired, orphaned, modified and half-written workspaces."""
    from glovebox.compilation.cache import CleanupResult

    with _inspected() as service:
        result = CleanupResult() if service is None else service.cleanup()
    if json_:
        emit_json(
            "cache workspace cleanup",
            {"removed": result.removed_count, **result.model_dump(mode="json")},
        )
        return
    say(
        f"removed {result.removed_count}: {len(result.expired_or_orphaned)} expired or orphaned, "
        f"{len(result.stale_metadata)} stale metadata, {len(result.modified)} modified, "
        f"{len(result.leftovers)} interrupted, {len(result.evicted)} evicted for size; "
        f"{len(result.skipped_busy)} busy (skipped)"
    )
