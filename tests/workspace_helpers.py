"""Building and inspecting small but realistic west workspace trees for the tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from glovebox.compilation.cache import (
    CacheWorkspaceResult,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
    create_compilation_cache_service,
)
from glovebox.testing import IsolatedConfig

ZMK_MAIN = WorkspaceConfig(repository="zmkfirmware/zmk", branch="main")
ZMK_V03 = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")


def make_workspace(root: Path, version: str = "v1", files: int = 30) -> Path:
    """A west-like tree: .west/, zmk/ (with .git), zephyr/ (with a nested build dir),
    a symlink, an executable, and a top-level build/ that must never be cached.

    Every regular file's content names ``version``, so a tree can be checked for mixing.
    """
    (root / ".west").mkdir(parents=True)
    (root / ".west" / "config").write_text(f"[manifest]\npath = zmk\n# {version}\n")
    for index in range(files):
        project = ("zmk/app/src", "zephyr/kernel", "modules/hal/nordic")[index % 3]
        folder = root / project / f"d{index % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.c").write_text(f"{version}:{index}\n" * (index % 7 + 1))
    (root / "zmk" / ".git").mkdir()
    (root / "zmk" / ".git" / "HEAD").write_text(f"ref: refs/heads/main {version}\n")
    (root / "zephyr" / "scripts" / "build").mkdir(parents=True)
    (root / "zephyr" / "scripts" / "build" / "gen.py").write_text(f"# {version}\n")
    tool = root / "zephyr" / "scripts" / "tool.sh"
    tool.write_text(f"#!/bin/sh\necho {version}\n")
    tool.chmod(0o755)
    os.symlink("kernel", root / "zephyr" / "kernel-link")
    (root / "build" / "zephyr").mkdir(parents=True)
    (root / "build" / "zephyr" / "zmk.uf2").write_text(f"firmware {version}\n")
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> content digest (files), ``->target`` (symlinks), ``<dir>`` (dirs)."""
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            result[rel] = "->" + os.readlink(path)
        elif path.is_dir():
            result[rel] = "<dir>"
        else:
            result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def versions_in(root: Path) -> set[str]:
    """The version names found in a tree's ``.c`` files (one element: not mixed)."""
    return {p.read_text().split(":", 1)[0] for p in root.rglob("*.c")}


def service_for(paths: IsolatedConfig) -> ZmkWorkspaceCacheService:
    return create_compilation_cache_service(paths)[1]


def cache_sample(
    service: ZmkWorkspaceCacheService, tmp_path: Path, config: WorkspaceConfig = ZMK_V03
) -> CacheWorkspaceResult:
    """Cache a fresh sample workspace (built in ``tmp_path / "ws"``) as ``config``'s entry."""
    result = service.cache_workspace(make_workspace(tmp_path / "ws"), config)
    assert result is not None
    return result
