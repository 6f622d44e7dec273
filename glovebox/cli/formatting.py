"""How the CLI writes sizes, hit rates and errors for people."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from glovebox.cli.console import LazyConsole, escape

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "OUTPUT",
    "SCHEMA_VERSION",
    "OutputOptions",
    "count",
    "emit_json",
    "error_line",
    "fail",
    "format_hit_rate",
    "format_size",
    "format_usage",
    "note",
    "parse_age",
    "plain_columns",
    "print_table",
    "say",
]

_err_console = LazyConsole(stderr=True)


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``120.0 MiB``... (binary units, one decimal above bytes)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def count(number: int, noun: str) -> str:
    """``1 key``, ``3 keys``, ``2 entries``: a count with its noun in the right number."""
    if number == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{number} {plural}"


def format_hit_rate(rate: float | None) -> str:
    """``87%``; ``-`` before the first lookup (no rate yet)."""
    return "-" if rate is None else f"{rate:.0%}"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: <message>`` on stderr; returns the ``typer.Exit`` for the caller to raise.

    Usage: ``raise fail(f"...") from exc``. Code 2 is bad input or an unusable cache,
    code 1 an answer of "not found".
    """
    error_line(message)
    return typer.Exit(code)


def error_line(message: str) -> None:
    """Print ``error: <message>`` on stderr as one line."""
    # The message is text, not markup: "[...]" in it (a regex, a list) is printed as is.
    _err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)


SCHEMA_VERSION = 1
"""The version of every ``--json`` document (docs/cli.md); bumped on incompatible changes."""


@dataclass
class OutputOptions:
    """What the global ``--quiet`` and ``--no-progress`` options asked for."""

    quiet: bool = False
    progress: bool = True


OUTPUT = OutputOptions()


def say(message: str) -> None:
    """An informational line on stdout (suppressed by ``--quiet``; errors never are)."""
    if not OUTPUT.quiet:
        typer.echo(message)


def note(message: str) -> None:
    """A remark on stderr that is not an error (``--quiet`` suppresses it)."""
    if not OUTPUT.quiet:
        typer.echo(message, err=True)


def emit_json(command: str, payload: dict[str, Any]) -> None:
    """Print one ``--json`` document: ``schema_version`` and ``command`` first."""
    document = {"schema_version": SCHEMA_VERSION, "command": command, **payload}
    typer.echo(json.dumps(document, indent=2, default=str))


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    whole: Sequence[str] = (),
    console: Console | None = None,
) -> None:
    """Print rows under ``columns``; cells of the ``whole`` columns are never cut or wrapped.

    On a terminal this is a rich table that grows wider than the terminal rather than
    wrapping a tag, key or path; when stdout is not a terminal it is plain text: a title
    line, then space-aligned columns, one row per line.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console() if console is None else console
    if not console.is_terminal:
        console.file.write(f"{title}\n{plain_columns(columns, rows)}\n")
        return
    table = Table(title=title)
    for index, name in enumerate(columns):
        if name in whole:
            longest = max([len(name), *(len(row[index]) for row in rows)])
            table.add_column(name, no_wrap=True, min_width=longest)
        else:
            table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    needed = console.measure(table).minimum
    if needed > console.width:  # wider than the terminal rather than cut or wrapped
        console = Console(file=console.file, width=needed, force_terminal=True)
    console.print(table)


def plain_columns(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    lines = [list(columns), *(list(row) for row in rows)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    return "\n".join(
        "  ".join(
            cell if index == len(line) - 1 else cell.ljust(widths[index])
            for index, cell in enumerate(line)
        ).rstrip()
        for line in lines
    )


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"45s"``, ``"2w"`` -> seconds; ``ValueError`` otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"invalid age {text!r}: expected a positive number and a unit, "
            "s, m, h, d or w (e.g. 30d, 12h, 90m)"
        )
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]


def format_usage(used: int, limit: int | None) -> str:
    """``12.0 MiB of 2.0 GiB (1%)``; just the size when there is no limit."""
    if not limit:
        return format_size(used)
    return f"{format_size(used)} of {format_size(limit)} ({used / limit:.0%})"
