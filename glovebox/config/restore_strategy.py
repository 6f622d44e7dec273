"""``RestoreStrategy``: how a cached workspace is put in place, and its one parser.

The value of ``compilation.workspace_restore_strategy``. The configuration owns the
word list (the compilation services depend on the configuration, never the reverse);
the workspace cache acts on the member. No dependency but the error types.
"""

from __future__ import annotations

from enum import StrEnum

from glovebox.errors import ConfigError, WorkspaceError

__all__ = ["RestoreStrategy"]


class RestoreStrategy(StrEnum):
    """How a cached workspace is materialised at its destination."""

    COPY = "copy"
    HARDLINK = "hardlink"
    REFLINK = "reflink"

    @classmethod
    def parse(cls, value: object, *, setting: str | None = None) -> RestoreStrategy:
        """``value`` (a member or its name) as a strategy.

        A bad value raises ``ConfigError`` naming ``setting`` when the value came from the
        configuration, else ``WorkspaceError`` (an argument of a call); both messages list
        the accepted names.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value in cls._value2member_map_:
            return cls(value)
        accepted = ", ".join(member.value for member in cls)
        if setting is not None:
            raise ConfigError(f"{setting}: expected one of {accepted}, got {value!r}")
        raise WorkspaceError(f"unknown restore strategy {value!r}; accepted: {accepted}")
