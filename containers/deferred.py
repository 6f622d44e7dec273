"""Callables that stand for a class or function and import its module on first call.

The container names every service factory, but building the container must not import
every service: ``glovebox cache get`` needs one cache, not the compilation stack. A
:class:`Deferred` provider target keeps the container declarative while the import
happens when (and only if) a provider is first resolved.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Deferred"]


class Deferred:
    """``Deferred("package.module:Name")`` calls ``package.module.Name`` when called."""

    __slots__ = ("_target", "path")

    def __init__(self, path: str) -> None:
        module, sep, name = path.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"deferred target {path!r}: expected 'package.module:Name'")
        self.path = path
        self._target: Any = None

    @property
    def target(self) -> Any:
        """The named object (imported on first use)."""
        if self._target is None:
            module, _, name = self.path.partition(":")
            self._target = getattr(import_module(module), name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Deferred({self.path!r})"
