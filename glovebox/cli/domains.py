"""The cache commands' view of the domains: the engine's :class:`CacheAdmin`, with its
errors turned into one-line exits.

What is known about each domain, and how it is found without changing anything, is the
engine's (:mod:`glovebox.core.cache_v2`); this module adds what only the CLI needs: the
"decided by" wording, the did-you-mean of an unknown tag, and exit code 2 for whatever
the engine refuses.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from glovebox.cache_lookup import TaggedCaches
from glovebox.cli.formatting import fail
from glovebox.core.cache_v2 import (
    CacheAdmin,
    CacheManager,
    DecisionLayer,
    DomainReport,
    Strategy,
    StrategyDecision,
    known_tags,
    validate_tag,
)
from glovebox.errors import GloveboxError

__all__ = [
    "DomainView",
    "Domains",
    "describe_decision",
    "domains",
    "format_decision",
    "known_tags",
]

DomainView = DomainReport
"""One domain as the inspection commands report it (the engine's report)."""


def format_decision(decision: StrategyDecision, user_config: Any) -> str:
    """Who decided, for the "decided by" column: a variable, ``file:line`` or ``default``.

    A configuration key is shown as the file name and line that set it (the full paths
    are in the table title); the global ``cache_strategy`` also names the key.
    """
    if decision.variable is not None:
        return f"env {decision.variable}"
    if decision.yaml_path is None:
        return decision.layer.value
    where = str(user_config.origin(decision.yaml_path))
    shown = Path(where).name  # file:line keeps its line; a variable name is unchanged
    if decision.layer is not DecisionLayer.DOMAIN_CONFIG:
        shown += f" ({decision.yaml_path})"
    return shown


def describe_decision(decision: StrategyDecision, user_config: Any) -> str:
    """``GLOVEBOX_CACHE_GLOBAL=disabled`` or ``cache_strategy (config.yaml:3)``: for messages."""
    if decision.variable is not None:
        return f"{decision.variable}={os.environ.get(decision.variable, '')}"
    if decision.yaml_path is not None:
        origin = getattr(user_config, "origin", None)
        where = f" ({origin(decision.yaml_path)})" if callable(origin) else ""
        return f"{decision.yaml_path}{where}"
    return decision.layer.value


class Domains:
    """The domains under the container's configuration, for the cache commands."""

    def __init__(self, caches: TaggedCaches) -> None:
        self.caches = caches
        self.user_config = caches.user_config
        self.admin = CacheAdmin(self.user_config, caches.get)
        self.root = self.admin.root

    # Names ---------------------------------------------------------------------------

    def configured_tags(self) -> set[str]:
        return self.admin.configured_tags()

    def known(self) -> list[str]:
        """Every tag the commands list: standard domains, configured ones, those on disk."""
        return self.admin.known()

    def require(self, tag: str | None) -> str:
        """The tag's name if it is known; otherwise exit 2 with the known tags.

        Nothing is created for an unknown tag: a typo never becomes a new cache.
        """
        try:
            name = validate_tag(tag)
        except GloveboxError as exc:
            raise fail(str(exc)) from exc
        if self.admin.is_known(name):  # listed, or on Redis by any layer
            return name
        known = self.known()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise fail(
            f"no cache named {name!r}; {hint}known caches: {', '.join(known)} "
            f"(in {self.root}; 'glovebox cache set KEY VALUE --tag {name}' creates it)"
        )

    # Where and how -------------------------------------------------------------------

    def directory(self, tag: str) -> Path:
        return self.admin.directory(tag)

    def on_disk(self, tag: str) -> bool:
        return self.admin.on_disk(tag)

    def decision(self, tag: str) -> StrategyDecision:
        try:
            return self.admin.decision(tag)
        except GloveboxError as exc:
            raise fail(str(exc)) from exc

    def size_limit(self, tag: str) -> int:
        return self.admin.size_limit(tag)

    def active(self, tag: str) -> CacheManager:
        """The cache the application uses for ``tag`` (opens, and may create, it)."""
        try:
            return self.admin.live(tag)
        except GloveboxError as exc:
            raise fail(str(exc)) from exc

    def uses_disk(self, decision: StrategyDecision) -> bool:
        """Whether the domain's data lives in its directory (disk backend, or switched off)."""
        return self.admin.uses_disk(decision)

    @contextmanager
    def stored(self, tag: str) -> Iterator[CacheManager | None]:
        """The engine's :meth:`CacheAdmin.stored`; exit 2 if it cannot be opened."""
        with ExitStack() as stack:
            try:
                cache = stack.enter_context(self.admin.stored(tag))
            except GloveboxError as exc:
                raise fail(str(exc)) from exc
            yield cache

    def usable(self, tag: str) -> CacheManager:
        """The live cache, or exit 2 saying why it could not be opened."""
        try:
            return self.admin.usable(tag)
        except GloveboxError as exc:
            raise fail(str(exc)) from exc

    def writable(self, tag: str, doing: str = "nothing was stored") -> CacheManager:
        """The live cache for a write; exit 2 if caching is off or the cache is unusable."""
        decision = self.decision(tag)
        if decision.strategy is Strategy.DISABLED:
            raise fail(
                f"caching is disabled for {tag!r} by "
                f"{describe_decision(decision, self.user_config)}; {doing}"
            )
        cache = self.active(tag)
        if not cache.stores:
            why = (
                f"could not be opened: {cache.unusable}"
                if cache.unusable is not None
                else "is a DisabledCache (replaced in the container)"
            )
            raise fail(f"the {tag!r} cache {why}; {doing}")
        return cache

    def view(self, tag: str) -> DomainView:
        """Statistics and disk usage of ``tag`` (counts nothing, creates nothing)."""
        try:
            return self.admin.report(tag)
        except GloveboxError as exc:
            raise fail(str(exc)) from exc


def domains() -> Domains:
    """The domains of the container the CLI was started with (overrides included), or,
    for a command started without the container (glovebox.cli.runtime), the same caches
    from the coordinator's factory."""
    from glovebox.cli.runtime import direct

    runtime = direct()
    if runtime is not None:
        return Domains(runtime.caches())
    from glovebox.cli.injected import domain_caches

    return Domains(domain_caches())
