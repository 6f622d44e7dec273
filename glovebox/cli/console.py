"""Rich consoles created on first use.

Importing rich costs start-up time that most commands never need (``cache get`` prints
one value with ``typer.echo``); a :class:`LazyConsole` imports rich and builds its
``rich.console.Console`` the first time something is printed through it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LazyConsole", "escape", "real_console"]


class LazyConsole:
    """Stands for ``rich.console.Console(**options)``; attributes reach the real console."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    @property
    def real(self) -> Any:
        """The ``rich.console.Console`` (built on first use)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def real_console(console: Any) -> Any:
    """The ``rich.console.Console`` behind ``console`` (itself if it is not lazy)."""
    return console.real if isinstance(console, LazyConsole) else console


def escape(text: str) -> str:
    """``rich.markup.escape``: ``text`` printed verbatim through a rich console."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
