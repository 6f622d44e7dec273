"""The engine's one fork hook: a generation counter every process-bound handle consults.

A connection (SQLite or a Redis socket) opened by a parent must never be used, nor
closed, by a forked child. Each handle remembers :attr:`Forks.generation` when it opens
its connection; while the number is unchanged the connection is this process's own. The
single ``os.register_at_fork`` hook below increments it in the child, then runs the
callbacks of registries that must start empty there (the coordinator's instances, the
Redis circuit breakers). Comparing one integer is cheaper on the hot read paths than
calling ``os.getpid()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import ClassVar

__all__ = ["Forks"]


class Forks:
    """Fork bookkeeping of this process lineage (class attributes only, never instantiated)."""

    generation: ClassVar[int] = 0
    """How many forks lie between the first process and this one."""

    abandoned: ClassVar[list[object]] = []
    """Connections inherited from a parent: parked here so the child never closes them."""

    _callbacks: ClassVar[list[Callable[[], None]]] = []

    @classmethod
    def in_child(cls, callback: Callable[[], None]) -> None:
        """Run ``callback`` in every forked child, after the generation was incremented."""
        cls._callbacks.append(callback)

    @classmethod
    def after_fork_in_child(cls) -> None:
        cls.generation += 1
        for callback in cls._callbacks:
            callback()


os.register_at_fork(after_in_child=Forks.after_fork_in_child)
