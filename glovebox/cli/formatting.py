"""How the CLI writes sizes, hit rates and errors for people."""

from __future__ import annotations

import typer

from glovebox.cli.console import LazyConsole, escape

__all__ = ["error_line", "fail", "format_hit_rate", "format_size"]

_err_console = LazyConsole(stderr=True)


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``120.0 MiB``... (binary units, one decimal above bytes)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


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
