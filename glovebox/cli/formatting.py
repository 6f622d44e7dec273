"""How the CLI writes sizes, hit rates and errors for people."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from glovebox.cli.console import LazyConsole, escape

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_CODES",
    "OUTPUT",
    "SCHEMA_VERSION",
    "OutputOptions",
    "count",
    "elide_middle",
    "emit_error_json",
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
    """Print ``error: <message>`` on stderr as one line (and keep it for a ``--json``
    error document, see :func:`emit_error_json`)."""
    OUTPUT.errors.append(message)
    # The message is text, not markup: "[...]" in it (a regex, a list) is printed as is.
    _err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)


SCHEMA_VERSION = 1
"""The version of every ``--json`` document (docs/cli.md); bumped on incompatible changes."""


@dataclass
class OutputOptions:
    """What the global ``--quiet`` and ``--no-progress`` options asked for, and what this
    invocation has printed for scripts (``--json``)."""

    quiet: bool = False
    progress: bool = True
    json: bool = False
    """The running command was given ``--json``."""
    command: str = ""
    """The running command's path below ``glovebox`` (``cache get``)."""
    json_printed: bool = False
    errors: list[str] = field(default_factory=list)


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
    OUTPUT.json_printed = True


EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "not_found",
    2: "error",
    3: "internal_error",
    130: "interrupted",
}
"""Every exit code of ``glovebox`` and its name in a ``--json`` error document
(docs/cli.md, "Exit codes"). 1 also answers a declined confirmation."""


def emit_error_json(exit_code: int, command: str) -> None:
    """The ``--json`` document of a command that failed: ``error`` holds the exit code,
    its name and the error lines printed on stderr."""
    messages = list(OUTPUT.errors)
    emit_json(
        command,
        {
            "error": {
                "exit_code": exit_code,
                "kind": EXIT_CODES.get(exit_code, "error"),
                "message": messages[0] if messages else EXIT_CODES.get(exit_code, "error"),
                "messages": messages,
            }
        },
    )


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    paths: Sequence[str] = (),
    notes: Sequence[str] = (),
    console: Console | None = None,
) -> None:
    """Print ``rows`` under ``columns``, then ``notes`` (one line each).

    On a terminal every cell is printed whole, on one line: numbers, sizes, tags, keys and
    words are never cut or wrapped. Only the cells of the ``paths`` columns give way: they
    are shortened in the middle (``/home/u/…/glovebox/layout``) down to
    :data:`MIN_PATH_WIDTH` characters; if that is not enough they move below the table,
    one line each. When the table still does not fit the terminal, each row is printed as
    a block of ``column: value`` lines instead (paths shortened to the terminal's width).
    When stdout is not a terminal the output is plain text: the title, then space-aligned
    columns, one row per line, nothing shortened.
    """
    from rich.console import Console

    console = Console() if console is None else console
    if not console.is_terminal:
        console.file.write(f"{title}\n{plain_columns(columns, rows)}\n")
        for line in notes:
            console.file.write(f"{line}\n")
        return
    width = console.width
    _print_line(console, title)
    table = _fitting_table(columns, rows, paths, width)
    if table is not None:
        console.print(table)
    else:
        kept = [i for i, name in enumerate(columns) if name not in paths]
        table = _fitting_table(
            [columns[i] for i in kept], [[r[i] for i in kept] for r in rows], (), width
        )
        if table is not None and len(kept) < len(columns):
            # The paths move below the table, one line each, rather than squeeze it.
            console.print(table)
            for row in rows:
                for index, name in enumerate(columns):
                    if index not in kept:
                        label = f"{name} of {row[0]}: "
                        shown = elide_middle(row[index], max(MIN_PATH_WIDTH, width - len(label)))
                        _print_line(console, label + shown)
        else:
            _print_records(console, columns, rows, paths, width)
    for line in notes:
        _print_line(console, line)


MIN_PATH_WIDTH = 16
"""The narrowest a path is shortened to in a table; below that the rows become blocks."""


def elide_middle(text: str, width: int) -> str:
    """``text`` shortened to ``width`` characters by an ellipsis in the middle (more of the
    end is kept: the end of a path names the file)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "\u2026"[:width]
    head = (width - 1) // 3
    tail = width - 1 - head
    return f"{text[:head]}\u2026{text[len(text) - tail :]}"


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold underline")
    for index, name in enumerate(columns):
        longest = max([len(name), *(len(row[index]) for row in rows)])
        table.add_column(name, no_wrap=True, min_width=longest, max_width=longest)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


_COLUMN_GAP = 2
"""Characters between two columns of :func:`_table` (the padding on either side)."""


def _fitting_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    paths: Sequence[str],
    width: int,
) -> Any:
    """The table with its path cells shortened just enough to fit ``width``, or None."""
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    shortened = [i for i, name in enumerate(columns) if name in paths]
    fixed = sum(w for i, w in enumerate(widths) if i not in shortened)
    room = width - fixed - _COLUMN_GAP * (len(columns) - 1)
    if shortened:
        limit = room // len(shortened)
        floor = max([MIN_PATH_WIDTH, *(len(columns[i]) for i in shortened)])
        if limit < floor:
            return None
        rows = [
            [elide_middle(cell, limit) if i in shortened else cell for i, cell in enumerate(row)]
            for row in rows
        ]
    elif room < 0:
        return None
    return _table(columns, rows)


def _print_line(console: Console, text: str) -> None:
    """One line, never wrapped by rich (a path in it stays whole for copying)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_records(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    paths: Sequence[str],
    width: int,
) -> None:
    """Each row as a block: its first cell, then one ``column: value`` line per column."""
    label = max(len(name) for name in columns[1:]) + 2 if len(columns) > 1 else 0
    for row in rows:
        _print_line(console, "")
        _print_line(console, row[0])
        for name, cell in zip(columns[1:], row[1:], strict=True):
            shown = elide_middle(cell, max(MIN_PATH_WIDTH, width - label - 2))
            _print_line(console, f"  {name + ':':<{label}}{shown if name in paths else cell}")


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
