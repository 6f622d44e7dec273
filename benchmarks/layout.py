"""Layout compile benchmark: ratios measured side by side in one run.

Rows (targets in brackets):
- in process, the largest editor export (sunaku v42): cache hit vs cold compile [hit >= 50x faster]
- cold compile of the same file vs ``json.loads`` of it, the floor of any compile [<= 5x]
- cold throughput over the six reference layouts (layouts per second)
- whole process: ``glovebox layout compile`` of a cached layout vs ``glovebox --help`` [<= 1.3x]

The reference layouts are read from ``<repo>/../shared/layout-oracle/``; without them the
in-process rows are skipped and the process row uses ``docs/examples/glove80-example.json``.
Run: ``.venv/bin/python benchmarks/layout.py``. The last lines are ``name=value`` ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._timing import best_of, interleaved, seconds  # noqa: E402
from glovebox.core.cache_v2 import create_diskcache_manager  # noqa: E402
from glovebox.layout import LayoutService, compile_layout  # noqa: E402

ORACLE = REPO.parent / "shared" / "layout-oracle"
LARGEST = "sunaku-glorious-engrammer-v42-rc3"
EXAMPLE = REPO / "docs" / "examples" / "glove80-example.json"
GLOVEBOX = Path(sys.executable).parent / "glovebox"


def in_process(ratios: dict[str, float]) -> None:
    pairs = sorted(path for path in ORACLE.glob("*/layout.json"))
    if not pairs:
        print(f"skipped in-process rows: no reference layouts under {ORACLE}")
        return
    largest = ORACLE / LARGEST / "layout.json"
    size_kb = largest.stat().st_size / 1024
    cold = best_of(15, lambda: compile_layout(largest, use_cache=False))
    parse = best_of(15, lambda: json.loads(largest.read_bytes()))
    with (
        tempfile.TemporaryDirectory() as directory,
        create_diskcache_manager(Path(directory), "layout") as cache,
    ):
        service = LayoutService(cache)
        assert not service.compile(largest).from_cache
        assert service.compile(largest).from_cache
        hit = best_of(200, lambda: service.compile(largest))
    batch = best_of(5, lambda: [compile_layout(path, use_cache=False) for path in pairs])
    print(f"{LARGEST} ({size_kb:.0f} KB):")
    print(f"  cold compile        {cold * 1000:8.2f} ms")
    print(f"  cache hit           {hit * 1000:8.3f} ms")
    print(f"  json.loads of file  {parse * 1000:8.2f} ms")
    print(f"cold compile of {len(pairs)} layouts: {batch * 1000:.1f} ms")
    ratios["hit_speedup_vs_cold"] = cold / hit
    ratios["cold_compile_vs_json_loads"] = cold / parse
    ratios["cold_layouts_per_second"] = len(pairs) / batch


def whole_process(ratios: dict[str, float]) -> None:
    largest = ORACLE / LARGEST / "layout.json"
    source = largest if largest.is_file() else EXAMPLE
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX_")}
        env.update(
            HOME=str(root / "home"),
            XDG_CACHE_HOME=str(root / "cache"),
            XDG_CONFIG_HOME=str(root / "config"),
        )

        def run(*args: str) -> float:
            argv = [str(GLOVEBOX), *args]
            return seconds(
                lambda: subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)
            )

        compile_args = ("layout", "compile", str(source), str(root / "out"))
        run(*compile_args)  # stores it: every later run is a cache hit
        run("--help")
        compiles, helps = interleaved(lambda: run(*compile_args), lambda: run("--help"), 7)
    help_time, compile_time = statistics.median(helps), statistics.median(compiles)
    print(f"whole process ({source.name}, cached):")
    print(f"  glovebox --help               {help_time * 1000:7.1f} ms")
    print(f"  glovebox layout compile (hit) {compile_time * 1000:7.1f} ms")
    ratios["cli_cached_compile_vs_help"] = compile_time / help_time


def main() -> None:
    ratios: dict[str, float] = {}
    in_process(ratios)
    whole_process(ratios)
    for name, value in ratios.items():
        print(f"{name}={value:.2f}")


if __name__ == "__main__":
    main()
