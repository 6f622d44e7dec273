"""Administration of the caches under a root: what exists, what it uses, who decided.

The engine side of the ``glovebox cache`` commands, usable by any tool: the commands
only format what :class:`CacheAdmin` returns. Looking never creates and never counts: a
domain whose database does not exist yet is reported empty without opening it,
statistics and keys are read without counting hits or misses. When caching is switched
off (``GLOVEBOX_CACHE_GLOBAL=disabled``, a per-domain variable or the YAML strategy) the
data an earlier run left on disk is still reachable through a private handle that
:meth:`CacheAdmin.stored` closes afterwards.

A tag whose strategy is ``redis`` (by ``GLOVEBOX_CACHE_<TAG>``, the YAML domain or either
global layer) is a known cache without any local directory, and :meth:`CacheAdmin.known`
also lists the tags found in the server's namespace. Damaged databases are reported
(``DomainReport.damaged``), never moved by looking; the folders they were moved to by a
write are listed with their size (:meth:`CacheAdmin.quarantine`) and removed by
:meth:`CacheAdmin.remove_quarantined`.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glovebox.core.cache_v2.backends import backend_for_strategy
from glovebox.core.cache_v2.cache_manager import CacheManager
from glovebox.core.cache_v2.disk_layout import (
    CACHE_DB_NAME,
    CORRUPT_MARKER,
    REPLACED_NAME,
    WORKSPACE_DIR,
)
from glovebox.core.cache_v2.factories import (
    create_diskcache_manager,
    resolve_user_config_strategy,
    user_config_settings,
)
from glovebox.core.cache_v2.models import CacheStats
from glovebox.core.cache_v2.policy import (
    DEFAULT_TAG,
    ENV_PREFIX,
    GLOBAL_ENV_VAR,
    KNOWN_DOMAINS,
    Strategy,
    StrategyDecision,
    validate_tag,
)
from glovebox.errors import CacheError, GloveboxError, UnusableStorageError

__all__ = [
    "KNOWN_DOMAINS",
    "CacheAdmin",
    "DomainReport",
    "QuarantinedFolder",
    "disk_usage",
    "disk_usage_with_part",
    "known_tags",
    "list_tags",
    "quarantined",
    "replaced_at",
]

logger = logging.getLogger(__name__)


def list_tags(root: Path) -> list[str]:
    """Sorted names of the directories under ``root`` holding a cache database.

    Directories moved aside as damaged are left out; a missing root has no tags.
    """
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return sorted(
        entry.name
        for entry in entries
        if CORRUPT_MARKER not in entry.name and entry.is_dir() and (entry / CACHE_DB_NAME).is_file()
    )


def quarantined(root: Path) -> list[Path]:
    """The damaged domain directories moved aside under ``root`` (kept for inspection)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return sorted(entry for entry in entries if CORRUPT_MARKER in entry.name and entry.is_dir())


def replaced_at(directory: Path) -> float | None:
    """When the damaged database of the domain in ``directory`` was last replaced by an
    empty one (UNIX time), or None if it never was."""
    try:
        return float((directory / REPLACED_NAME).read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def known_tags(root: Path, configured: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The standard domains, the default tag, ``configured`` ones and those on disk."""
    return sorted({*KNOWN_DOMAINS, DEFAULT_TAG, *configured, *list_tags(root)})


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk for ``path`` and everything below it, as ``du`` counts them.

    Blocks actually allocated (``st_blocks * 512``), each hardlinked file once, symlinks
    not followed; entries that vanish or cannot be read while walking are skipped. A
    missing path uses 0 bytes.
    """
    return disk_usage_with_part(path, None)[0]


def disk_usage_with_part(path: Path, part: Path | None) -> tuple[int, int]:
    """:func:`disk_usage` of ``path``, and how much of it lies below ``part``, in one walk."""
    inside = None if part is None else os.fspath(part)
    seen: set[tuple[int, int]] = set()
    total = in_part = 0
    pending = [(os.fspath(path), False)]
    while pending:
        current, below = pending.pop()
        below = below or current == inside
        try:
            info = os.lstat(current)
        except OSError:
            continue
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            identity = (info.st_dev, info.st_ino)
            if identity in seen:
                continue
            seen.add(identity)
        total += info.st_blocks * 512
        if below:
            in_part += info.st_blocks * 512
        if stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(current) as entries:
                    pending.extend((entry.path, below) for entry in entries)
            except OSError:
                continue
    return total, in_part


@dataclass(frozen=True, slots=True)
class QuarantinedFolder:
    """A folder holding a damaged database moved aside (``<tag>.corrupt-<stamp>-<pid>``)."""

    path: Path
    tag: str
    disk_bytes: int


@dataclass(frozen=True, slots=True)
class DomainReport:
    """One domain as the inspection commands report it.

    ``stats`` describes what is stored: the live cache when it is persistent (or held in
    this process), otherwise what is on disk. ``disk_bytes`` is the disk usage of the
    domain's directory, workspaces included; ``workspace_bytes`` is the part used by
    workspaces (compilation only, else 0). ``unusable`` says why a cache that should be
    on could not be opened; ``damaged`` why its database is damaged (reads answer misses
    until a write moves it aside).
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
    damaged: str | None = None

    @property
    def disabled(self) -> bool:
        return self.decision.strategy is Strategy.DISABLED


class CacheAdmin:
    """The domains under one user configuration, for tools that inspect and manage them.

    ``live(tag)`` returns the cache the application uses for a tag (``None``: the default
    tag); the CLI passes its container's lookup so overrides are seen. Errors are the
    project's (``GloveboxError``): a bad tag, a bad configuration value, a cache that
    exists but cannot be opened.
    """

    def __init__(self, user_config: Any, live: Callable[[str | None], CacheManager]) -> None:
        self.user_config = user_config
        self.root = Path(user_config.cache_path)
        self._live = live

    # Names ---------------------------------------------------------------------------

    def configured_tags(self) -> set[str]:
        section = getattr(self.user_config, "cache", None)
        return set(getattr(section, "domains", None) or ())

    def known(self) -> list[str]:
        """Every tag worth listing: standard domains, configured ones, those on disk, and
        those on Redis (named by a variable, or found in the server's namespace)."""
        local = known_tags(self.root, self.configured_tags())
        variables = self.variable_redis_tags()
        return sorted({*local, *variables, *self.server_tags([*local, *variables])})

    def is_known(self, tag: str) -> bool:
        """Whether ``tag`` names a cache: listed locally, or on Redis by any layer.

        Never asks the server: a Redis domain is known before anything is stored in it.
        """
        return tag in known_tags(self.root, self.configured_tags()) or self._on_redis(tag)

    def _on_redis(self, tag: str) -> bool:
        try:
            return self.decision(tag).strategy is Strategy.REDIS
        except GloveboxError:
            return False

    def variable_redis_tags(self) -> list[str]:
        """Tags switched to Redis by their own ``GLOVEBOX_CACHE_<TAG>`` variable.

        A variable names the tag in capitals; the tag listed is its lower-case name.
        """
        found = []
        for variable in os.environ:
            if not variable.startswith(ENV_PREFIX) or variable == GLOBAL_ENV_VAR:
                continue
            try:
                tag = validate_tag(variable[len(ENV_PREFIX) :].lower())
            except GloveboxError:
                continue
            if self._on_redis(tag):
                found.append(tag)
        return sorted(found)

    def server_tags(self, candidates: list[str] | None = None) -> list[str]:
        """Tags found in the Redis namespace that are on Redis here too.

        Asks the server of the first of ``candidates`` (default: the known tags) whose
        strategy is ``redis``; no server is asked when none is. A server that cannot be
        reached costs a WARNING and lists nothing.
        """
        if candidates is None:
            candidates = [*known_tags(self.root, self.configured_tags())]
            candidates += self.variable_redis_tags()
        probe = next((tag for tag in candidates if self._on_redis(tag)), None)
        if probe is None:
            return []
        try:
            lister = getattr(self.live(probe), "server_tags", None)
            tags: list[str] = lister() if callable(lister) else []
        except GloveboxError as exc:
            logger.warning("could not list the caches on the Redis server: %s", exc)
            return []
        return [tag for tag in tags if self._on_redis(tag)]

    def quarantined(self) -> list[Path]:
        return quarantined(self.root)

    def quarantine(self) -> list[QuarantinedFolder]:
        """The folders holding damaged databases moved aside, with their disk usage."""
        return [
            QuarantinedFolder(path, path.name.split(CORRUPT_MARKER, 1)[0], disk_usage(path))
            for path in quarantined(self.root)
        ]

    def remove_quarantined(self) -> list[QuarantinedFolder]:
        """Delete every quarantined folder; returns what was removed.

        Raises ``CacheError`` naming the first folder that could not be removed (those
        removed before it stay removed).
        """
        removed = []
        for folder in self.quarantine():
            try:
                shutil.rmtree(folder.path)
            except FileNotFoundError:
                continue  # removed meanwhile by another process
            except OSError as exc:
                raise CacheError(
                    f"could not remove the quarantined folder {folder.path}: {exc.strerror or exc}"
                ) from exc
            removed.append(folder)
        return removed

    # Where and how -------------------------------------------------------------------

    def directory(self, tag: str) -> Path:
        return self.root / tag

    def on_disk(self, tag: str) -> bool:
        """Whether ``tag`` has a database under the root (checked without opening it)."""
        return (self.directory(tag) / CACHE_DB_NAME).is_file()

    def decision(self, tag: str) -> StrategyDecision:
        """The strategy of ``tag`` and which layer decided it."""
        return resolve_user_config_strategy(self.user_config, None if tag == DEFAULT_TAG else tag)

    def backend(self, decision: StrategyDecision) -> str:
        """The backend a decision selects, ``"disabled"`` for a domain switched off."""
        if decision.strategy is Strategy.DISABLED:
            return "disabled"
        return backend_for_strategy(decision.strategy)

    def size_limit(self, tag: str) -> int:
        settings = user_config_settings(self.user_config, None if tag == DEFAULT_TAG else tag)
        return settings.size_limit_bytes

    def uses_disk(self, decision: StrategyDecision) -> bool:
        """Whether the domain's data lives in its directory (disk backend, or switched off)."""
        strategy = decision.strategy
        return strategy is Strategy.DISABLED or backend_for_strategy(strategy) == "disk"

    def live(self, tag: str) -> CacheManager:
        """The cache the application uses for ``tag`` (opens, and may create, it)."""
        return self._live(None if tag == DEFAULT_TAG else tag)

    @contextmanager
    def stored(self, tag: str) -> Iterator[CacheManager | None]:
        """The handle to what ``tag`` holds, or None when nothing was ever stored.

        Never creates a database. A disk domain is read through the shared instance when
        caching is on, through a private handle (closed afterwards) when it is off; other
        backends (memory, remote) are the live cache itself. A live cache that could not
        be opened raises ``UnusableStorageError`` saying why.
        """
        decision = self.decision(tag)
        if not self.uses_disk(decision):
            yield self.live(tag)
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
                raise type(exc)(f"the {tag!r} cache could not be opened: {exc}") from exc
            try:
                yield private
            finally:
                private.close()
            return
        yield self.usable(tag)

    def usable(self, tag: str) -> CacheManager:
        """The live cache; ``UnusableStorageError`` saying why if it could not be opened.

        A cache that stores nothing on purpose (switched off, or an override in a test or
        an embedding application) is returned: it answers, with misses.
        """
        cache = self.live(tag)
        if cache.unusable is not None:
            raise UnusableStorageError(f"the {tag!r} cache could not be opened: {cache.unusable}")
        return cache

    def report(self, tag: str) -> DomainReport:
        """Statistics and disk usage of ``tag`` (counts nothing, creates nothing)."""
        decision = self.decision(tag)
        unusable = damaged = None
        stats = CacheStats(backend=self.backend(decision), tag=tag)
        directory = self.directory(tag)
        before = _side_files(directory)
        live = None
        if decision.strategy is not Strategy.DISABLED and self.on_disk(tag):
            live = self.live(tag)
        if live is not None and live.unusable is not None:
            unusable = live.unusable
        else:
            with self.stored(tag) as cache:
                if cache is not None:
                    stats = cache.get_stats()
                    damaged = getattr(cache, "damaged", None)
        disk_bytes, workspace_bytes = disk_usage_with_part(directory, directory / WORKSPACE_DIR)
        # SQLite's -wal/-shm files opened by this report vanish when it closes the database:
        # the figure is what `du` shows once the command has finished.
        disk_bytes -= _new_side_file_bytes(directory, before)
        return DomainReport(
            tag=tag,
            decision=decision,
            backend=self.backend(decision),
            directory=directory,
            stats=stats,
            disk_bytes=disk_bytes,
            workspace_bytes=workspace_bytes,
            size_limit_bytes=self.size_limit(tag),
            unusable=unusable,
            damaged=damaged if isinstance(damaged, str) else None,
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
