"""The build-directory level: live workspace trees and the build directories built from them.

Layout under ``<cache_path>/compilation/builds/``::

    <workspace key>/
        tree/                 the workspace, restored from the workspace cache (stable path)
            build/<board>/slot-<n>/
                build/        the west build directory (CMake ties it to tree/ and to itself)
                config/       the stable ZMK_CONFIG directory of that build directory
                state.json    "building" before a build, "ready" after a successful one
            build/<board>/slot-<n>.lock   held by the build using the slot
        workspace.json        which workspace entry the tree is, and the commit it resolved to
        tree.lock             shared while builds use the tree, exclusive while it is replaced

Build and config directories live inside the tree so that the docker runner, which
mounts the workspace at its own path, sees them at the same paths as a native build.

A build directory is trusted only when its state is ``ready`` for the same workspace
entry, board and toolchain; anything else (another entry, a killed build, a toolchain
change) is wiped before the next build. Builds of different layouts on one workspace
take different slots, so no two builds share a live directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glovebox.compilation.locks import file_lock, try_file_lock
from glovebox.errors import WorkspaceError

__all__ = ["BuildArea", "BuildSlot", "TreeRecord", "read_commit"]

_RECORD = "workspace.json"
_TREE = "tree"
_TREE_LOCK = "tree.lock"
_STATE = "state.json"
_SLOTS = 4


def read_commit(repository_dir: Path) -> str | None:
    """The commit checked out in the git repository ``repository_dir`` (HEAD resolved).

    Reads ``.git`` directly (west leaves projects on a detached HEAD), following a
    symbolic ref through ``refs/`` or ``packed-refs``; None if it cannot be told.
    """
    git = repository_dir / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            git = (repository_dir / text.partition(":")[2].strip()).resolve()
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head if _is_sha(head) else None
    ref = head.partition(":")[2].strip()
    try:
        value = (git / ref).read_text(encoding="utf-8").strip()
        return value if _is_sha(value) else None
    except OSError:
        pass
    try:
        for line in (git / "packed-refs").read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _is_sha(sha):
                return sha
    except OSError:
        pass
    return None


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True, slots=True)
class TreeRecord:
    """What a live tree is: its workspace entry, the commit, and until when it is current."""

    workspace_key: str
    entry_id: str
    commit: str
    expires_at: str | None

    @property
    def expired(self) -> bool:
        if self.expires_at is None:
            return False
        return datetime.fromisoformat(self.expires_at) <= datetime.now(UTC)


@dataclass(slots=True)
class BuildSlot:
    """One build directory and its config directory, held by this process."""

    path: Path
    reused: bool
    discarded: str | None

    @property
    def build_dir(self) -> Path:
        return self.path / "build"

    @property
    def config_dir(self) -> Path:
        return self.path / "config"

    def mark(self, state: str, identity: dict[str, Any]) -> None:
        """Record ``state`` (``building`` or ``ready``) durably before going on."""
        _write_json(self.path / _STATE, {"state": state, **identity})


class BuildArea:
    """The live trees and build directories under ``root`` (``<compilation>/builds``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def tree(self, workspace_key: str) -> Path:
        return self.root / workspace_key / _TREE

    def tree_lock(
        self, workspace_key: str, *, shared: bool, timeout: float
    ) -> contextlib.AbstractContextManager[None]:
        return file_lock(
            self.root / workspace_key / _TREE_LOCK,
            shared=shared,
            timeout=timeout,
            what=f"the workspace tree {workspace_key}",
        )

    def record(self, workspace_key: str) -> TreeRecord | None:
        """The record of a complete tree for ``workspace_key``, or None."""
        try:
            data = json.loads((self.root / workspace_key / _RECORD).read_text(encoding="utf-8"))
            record = TreeRecord(
                workspace_key=str(data["workspace_key"]),
                entry_id=str(data["entry_id"]),
                commit=str(data["commit"]),
                expires_at=None if data["expires_at"] is None else str(data["expires_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if record.workspace_key != workspace_key or not self.tree(workspace_key).is_dir():
            return None
        return record

    def write_record(self, record: TreeRecord) -> None:
        _write_json(
            self.root / record.workspace_key / _RECORD,
            {
                "workspace_key": record.workspace_key,
                "entry_id": record.entry_id,
                "commit": record.commit,
                "expires_at": record.expires_at,
            },
        )

    def reset(self, workspace_key: str) -> None:
        """Forget the tree and every build directory of ``workspace_key`` (exclusive lock held).

        The record goes first: an interruption leaves an untrusted tree, never a trusted
        half-removed one.
        """
        top = self.root / workspace_key
        with contextlib.suppress(FileNotFoundError):
            (top / _RECORD).unlink()
        if not top.is_dir():
            return
        for child in top.iterdir():
            if child.is_dir():
                shutil.rmtree(child, onerror=_writable_and_retry)

    @contextlib.contextmanager
    def slot(
        self, workspace_key: str, board: str, identity: dict[str, Any], *, timeout: float
    ) -> Iterator[BuildSlot]:
        """A build directory for ``board`` no other build uses while this one holds it.

        The first free slot is taken (slot 0 first, so one user's successive builds reuse
        one directory); with every slot busy the wait for slot 0 is bounded by ``timeout``.
        A slot whose recorded state is not ``ready`` for this ``identity`` is wiped.
        """
        base = self.tree(workspace_key) / "build" / board
        base.mkdir(parents=True, exist_ok=True)
        for index in range(_SLOTS):
            path = base / f"slot-{index}"
            with try_file_lock(base / f"slot-{index}.lock") as acquired:
                if acquired:
                    yield self._checked(path, identity)
                    return
        with file_lock(
            base / "slot-0.lock", timeout=timeout, what=f"a build directory for {board}"
        ):
            yield self._checked(base / "slot-0", identity)

    @staticmethod
    def _checked(path: Path, identity: dict[str, Any]) -> BuildSlot:
        try:
            state = json.loads((path / _STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = None
        reason: str | None = None
        if state is None:
            reason = "new" if not (path / "build").exists() else "no state recorded"
        elif state.get("state") != "ready":
            reason = "left by an interrupted or failed build"
        else:
            changed = [k for k, v in identity.items() if state.get(k) != v]
            if changed:
                reason = f"built with another {', '.join(changed)}"
            elif not (path / "build").is_dir():
                reason = "build directory missing"
        if reason is not None and (path / "build").exists():
            shutil.rmtree(path / "build", onerror=_writable_and_retry)
        (path / "config").mkdir(parents=True, exist_ok=True)
        discarded = None if reason in (None, "new") else reason
        return BuildSlot(path=path, reused=reason is None, discarded=discarded)

    def last_used(self, workspace_key: str) -> float:
        """When ``workspace_key``'s tree was last used: its record was written or a build
        recorded a state (epoch seconds; 0 when nothing is recorded)."""
        top = self.root / workspace_key
        stamps = [top / _RECORD, *top.glob(f"{_TREE}/build/*/slot-*/{_STATE}")]
        return max((_mtime(path) for path in stamps), default=0.0)

    def try_hold(self, workspace_key: str) -> contextlib.AbstractContextManager[bool]:
        """The tree's lock if no build holds it right now (yields whether it was free)."""
        return try_file_lock(self.root / workspace_key / _TREE_LOCK)

    def build_dirs(self) -> Iterator[Path]:
        """Every build directory present (trusted or not)."""
        if not self.root.is_dir():
            return
        yield from (p for p in self.root.glob(f"*/{_TREE}/build/*/slot-*/build") if p.is_dir())

    def clear(self, *, timeout: float = 0.5) -> tuple[int, list[str]]:
        """Remove every tree and build directory not in use; (removed, busy keys)."""
        removed, busy = 0, []
        if not self.root.is_dir():
            return 0, []
        for top in sorted(self.root.iterdir()):
            if not top.is_dir():
                continue
            try:
                with self.tree_lock(top.name, shared=False, timeout=timeout):
                    removed += sum(1 for _ in top.glob(f"{_TREE}/build/*/slot-*/build"))
                    self.reset(top.name)
            except WorkspaceError:  # in use by a build: left alone
                busy.append(top.name)
        return removed, busy


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _writable_and_retry(func: Any, path: str, exc_info: Any) -> None:
    """rmtree's error hook: read-only files (west's git objects) are made writable first."""
    parent = os.path.dirname(path)
    with contextlib.suppress(OSError):
        os.chmod(parent, 0o700)
        os.chmod(path, 0o600)
    with contextlib.suppress(FileNotFoundError):
        func(path)
