"""Cheap reads of environment variables for the warm path of the cache factories.

``os.environ.get`` costs close to a microsecond for an absent name (it encodes the name
and goes through ``KeyError``). On POSIX, ``os.environ`` keeps its values in a plain dict
of encoded bytes that every ``os.environ[...] = ...`` (and ``monkeypatch.setenv``) updates,
so reading that dict sees the same environment at a fraction of the cost. Values read
here are only used as memo keys; decisions are always made by the pure functions in
:mod:`policy` on ``os.environ`` itself.
"""

from __future__ import annotations

import os

__all__ = ["EnvName", "env_value"]


class EnvName:
    """A variable name with its encoded form precomputed."""

    __slots__ = ("encoded", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.encoded = os.fsencode(name)


def env_value(variable: EnvName) -> object:
    """The variable's current raw value (bytes on POSIX, str elsewhere), or None."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    if type(data) is dict:
        return data.get(variable.encoded)
    return environ.get(variable.name)
