"""Workspace cache benchmark: restore and ingest against ``shutil.copytree``, one run.

Generates a west-like workspace (20,000 files, ~120 MB; scaled down when the temporary
filesystem lacks room, and the scale is printed), then measures, rounds interleaved with
the baseline so machine noise hits both alike, the fastest round of each side:

- ``restore_workspace(strategy="copy")`` vs ``shutil.copytree``      target >= 2x faster
- ``restore_workspace(strategy="hardlink")`` vs ``shutil.copytree``  target >= 5x faster
- ``cache_workspace(move=True)`` vs ``shutil.copytree``              target >= 20x faster
- a cache hit (lookup + copy restore) vs the cold build through the compilation service
  with a west stand-in that writes the same tree (no network: a real cold build also
  downloads for minutes, so the real gain is far larger).

Trees are only deleted at the end: on some filesystems creating files right after a mass
delete is much slower, which would skew whichever side ran next.

Run: ``python benchmarks/workspace.py [--files N] [--megabytes N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import interleaved, seconds
from glovebox.compilation.cache import (
    RestoreStrategy,
    WorkspaceConfig,
    create_compilation_cache_service,
)
from glovebox.compilation.west_adapter import WestCommands
from glovebox.compilation.zmk_west_service import create_default_zmk_west_service
from glovebox.core.cache_v2 import reset_shared_cache_instances

COPY_CONFIG = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")
LINK_CONFIG = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.2.0")
MOVE_CONFIG = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.1.0")
BUILD_CONFIG = WorkspaceConfig(repository="zmkfirmware/zmk", branch="main")


def generate(root: Path, files: int, total_bytes: int, seed: int = 7) -> None:
    """A tree shaped like a west workspace: deep directories, mostly small files."""
    rng = random.Random(seed)
    average = max(1, total_bytes // files)
    blob = rng.randbytes(4 * average + 1)
    projects = ("zephyr/drivers", "zephyr/include", "modules/hal/nordic", "zmk/app/src")
    for index in range(files):
        folder = root / projects[index % 4] / f"d{(index // 4) % 40}" / f"s{(index // 160) % 12}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(0, 2 * average)
        start = rng.randint(0, len(blob) - size - 1)
        (folder / f"f{index}.c").write_bytes(blob[start : start + size])
    (root / ".west").mkdir(exist_ok=True)
    (root / ".west" / "config").write_text("[manifest]\npath = zmk\n")


class GeneratingWest:
    """A west adapter whose ``update`` writes the benchmark tree (the fake cold build)."""

    def __init__(self, files: int, total_bytes: int) -> None:
        self.files, self.total_bytes = files, total_bytes
        self._commands = WestCommands()

    @property
    def commands(self) -> WestCommands:
        return self._commands

    def command_line(self, argv: Sequence[str], workspace: Path) -> list[str]:
        return list(argv)

    def run(self, argv: Sequence[str], workspace: Path, *, timeout: float | None = None) -> str:
        if argv[1] == "update":
            generate(workspace, self.files, self.total_bytes)
        return ""


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="glovebox-bench-"))
    # Each round keeps ~5 full copies (two baselines, copy restore, moved tree, build).
    needed = args.megabytes * 1024**2 * (5 * args.rounds + 3)
    free = shutil.disk_usage(base).free
    scale = min(1.0, free * 0.8 / needed)
    files, megabytes = max(100, int(args.files * scale)), max(1, int(args.megabytes * scale))
    print(f"scale={scale:.2f} files={files} megabytes={megabytes} rounds={args.rounds} in {base}")
    try:
        run(base, files, megabytes * 1024**2, args.rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, files: int, total_bytes: int, rounds: int) -> None:
    source = base / "source"
    generate(source, files, total_bytes)
    user_config = types.SimpleNamespace(cache_path=base / "cache", cache_strategy="enabled")
    _, service = create_compilation_cache_service(user_config)
    service.cache_workspace(source, COPY_CONFIG)
    service.cache_workspace(source, LINK_CONFIG)
    n = Counter()

    def out() -> Path:
        return base / f"out{n.next()}"

    def copytree() -> float:
        target = out()
        return seconds(lambda: shutil.copytree(source, target, symlinks=True))

    def restore(config: WorkspaceConfig, strategy: RestoreStrategy) -> Callable[[], float]:
        return lambda: seconds(lambda: service.restore_workspace(config, out(), strategy))

    def move() -> float:
        staged = out()
        shutil.copytree(source, staged, copy_function=os.link)  # a tree to hand over
        return seconds(lambda: service.cache_workspace(staged, MOVE_CONFIG, move=True))

    west = create_default_zmk_west_service(user_config, GeneratingWest(files, total_bytes))

    def cold_build() -> float:
        service.delete_workspace(BUILD_CONFIG)
        return seconds(lambda: west.prepare_workspace(BUILD_CONFIG, out()))

    def hit() -> float:
        def lookup_and_restore() -> None:
            assert service.get_cached_workspace(BUILD_CONFIG) is not None
            assert service.restore_workspace(BUILD_CONFIG, out()) is not None

        return seconds(lookup_and_restore)

    subjects: dict[str, tuple[Callable[[], float], Callable[[], float], float]] = {
        "restore_copy_speedup_vs_copytree": (
            restore(COPY_CONFIG, RestoreStrategy.COPY),
            copytree,
            2,
        ),
        "restore_hardlink_speedup_vs_copytree": (
            restore(LINK_CONFIG, RestoreStrategy.HARDLINK),
            copytree,
            5,
        ),
        "cache_move_speedup_vs_copytree": (move, copytree, 20),
        "cache_hit_speedup_vs_cold_build": (hit, cold_build, 0),
    }
    results: dict[str, float] = {}
    for name, (subject, baseline, target) in subjects.items():
        subject_times, baseline_times = interleaved(subject, baseline, rounds)
        ratio = min(baseline_times) / min(subject_times)
        results[name] = ratio
        verdict = f"target >= {target}x: {'met' if ratio >= target else 'MISSED'}" if target else ""
        print(
            f"{name}: subject {min(subject_times) * 1000:.0f} ms, "
            f"baseline {min(baseline_times) * 1000:.0f} ms {verdict}",
            flush=True,
        )
    reset_shared_cache_instances()
    for name, ratio in results.items():
        print(f"{name}={ratio:.2f}")


if __name__ == "__main__":
    main()
