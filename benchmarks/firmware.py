"""Firmware benchmark: the three cache levels of ``glovebox firmware compile``, as ratios.

1. A firmware cache hit through the installed script against ``glovebox --help`` (both
   whole processes, alternated, medians compared; target <= 1.5x), and against a cached
   ``layout compile`` (which the firmware hit includes: the layout is compiled first).
2. A build whose workspace and build directories come from the cache (a keymap change:
   workspace reused, incremental builds) against a cold build (empty cache: west init,
   the download, pristine builds). West is the fake west of the test suite
   (tests/fake_west.py): the download and the compile steps are SIMULATED with its
   delays (``--download`` and ``--build`` seconds), so this ratio shows what the levels
   skip, not what a real ZMK build costs. The real figures the levels are for: a first
   build downloads 5-10 minutes of ZMK dependencies; MoErgo measured 21.3 s pristine vs
   12.1 s incremental per half.

HOME and the XDG directories point into a temporary directory; the user's cache is never
touched. Run: ``python benchmarks/firmware.py [--rounds N] [--download S] [--build S]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import fake_west  # noqa: E402 - the repository root is put on the path first

BIN = Path(sys.executable).parent
GLOVEBOX = BIN / "glovebox"
EXAMPLE = REPO / "docs" / "examples" / "glove80-example.json"


def environment(root: Path, download: float, build: float) -> dict[str, str]:
    fake_west.install(root / "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX")}
    env.update(
        HOME=str(root / "home"),
        XDG_CACHE_HOME=str(root / "home" / ".cache"),
        XDG_CONFIG_HOME=str(root / "home" / ".config"),
        XDG_STATE_HOME=str(root / "home" / ".local" / "state"),
        XDG_DATA_HOME=str(root / "home" / ".local" / "share"),
        PATH=f"{root / 'bin'}{os.pathsep}{env['PATH']}",
        FAKE_WEST_LOG=str(root / "west.jsonl"),
        FAKE_WEST_DOWNLOAD_DELAY=str(download),
        FAKE_WEST_BUILD_DELAY=str(build),
        # MoErgo's measured ratio of an incremental to a pristine build (12.1 s / 21.3 s).
        FAKE_WEST_INCREMENTAL_DELAY=str(build * 12.1 / 21.3),
        FAKE_WEST_FILES="200",
        FAKE_WEST_FILE_BYTES="2048",
    )
    return env


def run(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [str(GLOVEBOX), *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"glovebox {' '.join(args)} failed:\n{result.stderr}")
    return elapsed


def hit_vs_help(root: Path, rounds: int, download: float, build: float) -> float:
    env = environment(root, download, build)
    out = root / "out"
    run(env, "firmware", "compile", str(EXAMPLE), str(out))  # fills every level
    run(env, "layout", "compile", str(EXAMPLE), str(root / "layout"))
    hits, helps, layouts = [], [], []
    for _ in range(rounds):
        hits.append(run(env, "firmware", "compile", str(EXAMPLE), str(out)))
        helps.append(run(env, "--help"))
        layouts.append(run(env, "layout", "compile", str(EXAMPLE), str(root / "layout")))
    hit, help_ = statistics.median(hits), statistics.median(helps)
    layout = statistics.median(layouts)
    ratio = hit / help_
    verdict = "met" if ratio <= 1.5 else "MISSED"
    print(
        f"firmware cache hit: median {hit * 1000:.0f} ms; glovebox --help {help_ * 1000:.0f} ms; "
        f"layout compile hit {layout * 1000:.0f} ms"
    )
    print(f"  hit_vs_help: {ratio:.2f}x (target <= 1.5x) {verdict}")
    # Every command that uses a cache starts the container and opens SQLite; the layout
    # compile hit is that floor plus one cache read.
    print(f"  hit_vs_layout_compile_hit: {hit / layout:.2f}x (the floor of a cached command)")
    return ratio


def warm_vs_cold(root: Path, rounds: int, download: float, build: float) -> float:
    colds, warms = [], []
    for index in range(rounds):
        env = environment(root / f"cold-{index}", download, build)
        keymap = root / f"cold-{index}" / "mine.keymap"
        keymap.write_text("/ { keymap { base { bindings = <&kp A>; }; }; };\n")
        out = str(root / f"cold-{index}" / "out")
        colds.append(run(env, "firmware", "compile", str(keymap), out))
        keymap.write_text(f"/ {{ keymap {{ base {{ bindings = <&kp B{index}>; }}; }}; }};\n")
        warms.append(run(env, "firmware", "compile", str(keymap), out))
    cold, warm = statistics.median(colds), statistics.median(warms)
    ratio = warm / cold
    print(
        f"cold build (SIMULATED download {download:g} s + builds {build:g} s per half): "
        f"median {cold:.2f} s"
    )
    print(f"keymap change, workspace and build directories cached: median {warm:.2f} s")
    print(f"  cached_vs_cold: {ratio:.2f}x (lower is better; fake west, simulated delays)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--download", type=float, default=3.0, help="simulated download, s")
    parser.add_argument("--build", type=float, default=0.5, help="simulated compile, s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glovebox-fw-bench-") as tmp:
        root = Path(tmp)
        hit = hit_vs_help(root / "hit", args.rounds, args.download, args.build)
        warm = warm_vs_cold(root / "levels", max(1, args.rounds // 3), args.download, args.build)
    print(f"hit_vs_help={hit:.2f}")
    print(f"cached_vs_cold={warm:.2f}")


if __name__ == "__main__":
    main()
