"""What the cache commands know about each domain, found without changing anything.

Looking never creates and never counts: a domain whose database does not exist yet is
reported empty without opening it, statistics and keys are read without counting hits
or misses, and a tag that names no cache is refused with the known tags. When caching is
switched off (``GLOVEBOX_CACHE_GLOBAL=disabled``, a per-domain variable or the YAML
strategy) the commands still see, and can clear, what an earlier run left on disk,
through a private handle that is closed after the command.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glovebox.cache_lookup import KNOWN_DOMAINS, TaggedCaches
from glovebox.cli.formatting import fail
from glovebox.core.cache_v2 import (
    CacheManager,
    CacheStats,
    DisabledCache,
    Strategy,
    StrategyDecision,
    create_diskcache_manager,
    resolve_user_config_strategy,
    user_config_settings,
)
from glovebox.core.cache_v2.backends import backend_for_strategy
from glovebox.core.cache_v2.policy import DEFAULT_TAG, DecisionLayer, validate_tag
from glovebox.core.cache_v2.storage import CACHE_DB_NAME, disk_usage_with_part, list_tags
from glovebox.errors import GloveboxError

__all__ = [
    "DomainView",
    "Domains",
    "describe_decision",
    "domains",
    "format_decision",
    "known_tags",
]

WORKSPACE_DIR = "workspace"


def known_tags(root: Path) -> list[str]:
    """The standard domains plus any other tag that has a cache under ``root``."""
    return sorted({*KNOWN_DOMAINS, DEFAULT_TAG, *list_tags(root)})


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


@dataclass(frozen=True, slots=True)
class DomainView:
    """One domain as the inspection commands report it.

    ``stats`` describes what is stored: the live cache when it is persistent (or held in
    this process), otherwise what is on disk. ``disk_bytes`` is the disk usage of the
    domain's directory, workspaces included; ``workspace_bytes`` is the part used by
    workspaces (compilation only, else 0).
    """

    tag: str
    decision: StrategyDecision
    backend: str
    directory: Path
    stats: CacheStats
    disk_bytes: int
    workspace_bytes: int
    size_limit_bytes: int
    unusable: str | None = None

    @property
    def disabled(self) -> bool:
        return self.decision.strategy is Strategy.DISABLED


class Domains:
    """The domains under the container's configuration, for the cache commands."""

    def __init__(self, caches: TaggedCaches) -> None:
        self.caches = caches
        self.user_config = caches.user_config
        self.root = Path(self.user_config.cache_path)

    # Names ---------------------------------------------------------------------------

    def configured_tags(self) -> set[str]:
        section = getattr(self.user_config, "cache", None)
        return set(getattr(section, "domains", None) or ())

    def known(self) -> list[str]:
        """Every tag the commands list: standard domains, configured ones, those on disk."""
        return sorted(set(known_tags(self.root)) | self.configured_tags())

    def require(self, tag: str | None) -> str:
        """The tag's name if it is known; otherwise exit 2 with the known tags.

        Nothing is created for an unknown tag: a typo never becomes a new cache.
        """
        try:
            name = validate_tag(tag)
        except (ValueError, TypeError) as exc:
            raise fail(str(exc)) from exc
        known = self.known()
        if name in known:
            return name
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise fail(
            f"no cache named {name!r}; {hint}known caches: {', '.join(known)} "
            f"(in {self.root}; 'glovebox cache set KEY VALUE --tag {name}' creates it)"
        )

    # Where and how -------------------------------------------------------------------

    def directory(self, tag: str) -> Path:
        return self.root / tag

    def on_disk(self, tag: str) -> bool:
        return (self.directory(tag) / CACHE_DB_NAME).is_file()

    def decision(self, tag: str) -> StrategyDecision:
        try:
            return resolve_user_config_strategy(
                self.user_config, None if tag == DEFAULT_TAG else tag
            )
        except GloveboxError as exc:
            raise fail(str(exc)) from exc

    def size_limit(self, tag: str) -> int:
        settings = user_config_settings(self.user_config, None if tag == DEFAULT_TAG else tag)
        return settings.size_limit_bytes

    def active(self, tag: str) -> CacheManager:
        """The cache the application uses for ``tag`` (opens, and may create, it)."""
        try:
            return self.caches.get(None if tag == DEFAULT_TAG else tag)
        except (GloveboxError, ValueError, TypeError) as exc:
            raise fail(str(exc)) from exc

    def uses_disk(self, decision: StrategyDecision) -> bool:
        """Whether the domain's data lives in its directory (disk backend, or switched off)."""
        strategy = decision.strategy
        return strategy is Strategy.DISABLED or backend_for_strategy(strategy) == "disk"

    @contextmanager
    def stored(self, tag: str) -> Iterator[CacheManager | None]:
        """The handle to what ``tag`` holds, or None when nothing was ever stored.

        Never creates a database. A disk domain is read through the shared instance when
        caching is on, through a private handle (closed afterwards) when it is off; other
        backends (memory, remote) are the live cache itself. A cache that exists but could
        not be opened raises ``Exit`` with the reason.
        """
        decision = self.decision(tag)
        if not self.uses_disk(decision):
            yield self.active(tag)
            return
        if not self.on_disk(tag):
            yield None
            return
        if decision.strategy is Strategy.DISABLED:
            try:
                private = create_diskcache_manager(
                    self.root, tag, settings=user_config_settings(self.user_config, tag)
                )
            except GloveboxError as exc:
                raise fail(f"the {tag!r} cache could not be opened: {exc}") from exc
            try:
                yield private
            finally:
                private.close()
            return
        yield self.usable(tag)

    def usable(self, tag: str) -> CacheManager:
        """The live cache, or exit 2 saying why it could not be opened."""
        cache = self.active(tag)
        # A DisabledCache without a reason is one put there on purpose (an override in a
        # test or an embedding application): it answers, with misses.
        if isinstance(cache, DisabledCache) and cache.reason is not None:
            raise fail(f"the {tag!r} cache could not be opened: {cache.reason}")
        return cache

    def writable(self, tag: str, doing: str = "nothing was stored") -> CacheManager:
        """The live cache for a write; exit 2 if caching is off or the cache is unusable."""
        decision = self.decision(tag)
        if decision.strategy is Strategy.DISABLED:
            raise fail(
                f"caching is disabled for {tag!r} by "
                f"{describe_decision(decision, self.user_config)}; {doing}"
            )
        cache = self.active(tag)
        if isinstance(cache, DisabledCache):
            why = (
                f"could not be opened: {cache.reason}"
                if cache.reason is not None
                else "is a DisabledCache (replaced in the container)"
            )
            raise fail(f"the {tag!r} cache {why}; {doing}")
        return cache

    def view(self, tag: str) -> DomainView:
        """Statistics and disk usage of ``tag`` (counts nothing, creates nothing)."""
        decision = self.decision(tag)
        backend = (
            "disabled"
            if decision.strategy is Strategy.DISABLED
            else backend_for_strategy(decision.strategy)
        )
        unusable = None
        stats = CacheStats(backend=backend, tag=tag)
        directory = self.directory(tag)
        before = _side_files(directory)
        live = None
        if decision.strategy is not Strategy.DISABLED and self.on_disk(tag):
            live = self.active(tag)
        if isinstance(live, DisabledCache) and live.reason is not None:
            unusable = live.reason
        else:
            with self.stored(tag) as cache:
                if cache is not None:
                    stats = cache.get_stats()
        disk_bytes, workspace_bytes = disk_usage_with_part(directory, directory / WORKSPACE_DIR)
        # SQLite's -wal/-shm files opened by this command vanish when it closes the database:
        # the figure is what `du` shows once the command has finished.
        disk_bytes -= _new_side_file_bytes(directory, before)
        return DomainView(
            tag=tag,
            decision=decision,
            backend=backend,
            directory=directory,
            stats=stats,
            disk_bytes=disk_bytes,
            workspace_bytes=workspace_bytes,
            size_limit_bytes=self.size_limit(tag),
            unusable=unusable,
        )


_SQLITE_SIDE_FILES = (f"{CACHE_DB_NAME}-wal", f"{CACHE_DB_NAME}-shm")


def _side_files(directory: Path) -> set[str]:
    """Which of SQLite's ``-wal``/``-shm`` files exist in ``directory`` now."""
    return {name for name in _SQLITE_SIDE_FILES if (directory / name).exists()}


def _new_side_file_bytes(directory: Path, before: set[str]) -> int:
    """Disk usage of the SQLite side files that appeared since ``before`` was taken."""
    used = 0
    for name in set(_SQLITE_SIDE_FILES) - before:
        try:
            used += os.lstat(directory / name).st_blocks * 512
        except OSError:
            continue
    return used


def domains() -> Domains:
    """The domains of the container the CLI was started with (overrides included)."""
    from glovebox.cli.injected import domain_caches

    return Domains(domain_caches())
