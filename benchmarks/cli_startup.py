"""CLI start-up benchmark: whole ``glovebox`` processes against a plain diskcache read.

Every subject is a separate process started from scratch, run round-robin with the
others (``--rounds`` times) so machine noise hits all alike; medians are compared.
The baseline is a Python script that imports diskcache and reads the same key from the
same ``cache.db`` that ``glovebox cache get`` reads. HOME and the XDG directories point
into a temporary directory, so the real cache is never touched.

Targets: ``cache get`` (a hit) <= 3x the baseline; ``--help`` and ``cache --help``
<= 3x the baseline; ``layout compile`` of an already-cached layout <= 1.3x ``--help``.
Run: ``python benchmarks/cli_startup.py [--rounds N]``. Wall-clock medians decide;
CPU-time medians (user + system of the child) are printed alongside.

A floor subject imports only what any command that gets a cache from the container
must load (diskcache, typer, dependency-injector, which imports pydantic's core and
asyncio) and does nothing else; its ratios bound what the targets can reach.

The first command writes the configuration snapshot (``$XDG_STATE_HOME/glovebox``), so
the measured commands read it, as every command after the first does for a user. One
more subject runs ``cache get`` with a state directory that cannot be written, so each
run validates the configuration with its models: the difference is what the snapshot
saves.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
KEY = "bench:startup"
VALUE = "a value read back by every round"
EXAMPLE_LAYOUT = Path(__file__).resolve().parent.parent / "docs/examples/glove80-example.json"


@dataclass
class Subject:
    name: str
    argv: list[str]
    extra_env: dict[str, str] = field(default_factory=dict)
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def run(self, env: dict[str, str]) -> None:
        start = time.perf_counter()
        actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
        pid = os.posix_spawn(
            self.argv[0], self.argv, {**env, **self.extra_env}, file_actions=actions
        )
        _, status, usage = os.wait4(pid, 0)
        self.wall_ms.append((time.perf_counter() - start) * 1000)
        self.cpu_ms.append((usage.ru_utime + usage.ru_stime) * 1000)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{self.name}: {' '.join(self.argv)} exited with {code}")

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


def isolated_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX")}
    for name, sub in (
        ("HOME", "home"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(root / sub)
    return env


def glovebox(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "glovebox"), *args], env=env, capture_output=True, text=True, check=False
    )


def layout_compile_subject(env: dict[str, str], root: Path) -> Subject | str:
    """The ``layout compile`` subject with a warm cache, or why it cannot be measured."""
    probe = glovebox(env, "layout", "--help")
    if "Commands:" not in probe.stdout or "compile" not in probe.stdout:
        return "'glovebox layout compile' is not available in this build"
    layout = root / "startup.json"
    shutil.copyfile(EXAMPLE_LAYOUT, layout)
    argv = [str(BIN / "glovebox"), "layout", "compile", str(layout), str(root / "out")]
    for _ in range(2):  # the second run must be served from the cache
        run = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            return f"'glovebox layout compile' failed: {run.stderr.strip()[:200]}"
    if "(from cache)" not in run.stdout:
        return f"'glovebox layout compile' did not report a cache hit: {run.stdout[:200]}"
    return Subject("layout compile (cached)", argv)


def report(rounds: int, subjects: list[Subject], compile_: Subject | str) -> None:
    """Print the medians, then each ratio with its target, then ``name=ratio`` lines."""
    baseline, floor, get, help_, cache_help, unsnapshotted = subjects[:6]
    print(f"{rounds} rounds, medians (wall ms / cpu ms):")
    for subject in subjects:
        print(f"  {subject.name:<28} {subject.wall:8.1f} {subject.cpu:8.1f}")
    rows = [
        ("cache_get_vs_diskcache", get, baseline, 3.0),
        ("help_vs_diskcache", help_, baseline, 3.0),
        ("cache_help_vs_diskcache", cache_help, baseline, 3.0),
    ]
    lines: list[str] = []
    for name, subject, base, target in rows:
        ratio = subject.wall / base.wall
        verdict = "met" if ratio <= target else "MISSED"
        cpu_ratio = subject.cpu / base.cpu
        print(f"  {name}: {ratio:.2f}x wall (cpu {cpu_ratio:.2f}x), target <= {target}x {verdict}")
        lines.append(f"{name}={ratio:.2f}")
    if isinstance(compile_, Subject):
        ratio = compile_.wall / help_.wall
        verdict = "met" if ratio <= 1.3 else "MISSED"
        cpu_ratio = compile_.cpu / help_.cpu
        print(
            f"  layout_compile_vs_help: {ratio:.2f}x wall (cpu {cpu_ratio:.2f}x), "
            f"target <= 1.3x {verdict}"
        )
        lines.append(f"layout_compile_vs_help={ratio:.2f}")
    else:
        print(f"  layout_compile_vs_help: skipped ({compile_})")
        lines.append("layout_compile_vs_help=skipped")
    for name, subject, base in (
        ("floor_vs_diskcache", floor, baseline),
        ("floor_vs_help", floor, help_),
        ("cache_get_no_snapshot_vs_diskcache", unsnapshotted, baseline),
    ):
        ratio = subject.wall / base.wall
        print(f"  {name}: {ratio:.2f}x wall (cpu {subject.cpu / base.cpu:.2f}x), no target")
        lines.append(f"{name}={ratio:.2f}")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="glovebox-startup-"))
    try:
        env = isolated_env(root)
        stored = glovebox(env, "cache", "set", KEY, VALUE)
        if stored.returncode != 0:
            raise SystemExit(f"could not store the benchmark key: {stored.stderr}")
        database = Path(env["XDG_CACHE_HOME"]) / "glovebox" / "default"
        script = root / "baseline.py"
        script.write_text(
            textwrap.dedent(
                f"""\
                import diskcache
                cache = diskcache.Cache({str(database)!r})
                value = cache.get({KEY!r})
                assert value == {VALUE!r}, value
                print(value)
                cache.close()
                """
            ),
            encoding="utf-8",
        )
        python = sys.executable
        gb = str(BIN / "glovebox")
        baseline = Subject("python + diskcache get", [python, str(script)])
        get = Subject("glovebox cache get KEY", [gb, "cache", "get", KEY])
        help_ = Subject("glovebox --help", [gb, "--help"])
        cache_help = Subject("glovebox cache --help", [gb, "cache", "--help"])
        floor = Subject(
            "floor: container imports",
            [
                python,
                "-c",
                "import diskcache, typer, dependency_injector.providers, "
                "dependency_injector.wiring",
            ],
        )
        unwritable = root / "no-state-directory"
        unwritable.write_text("a file where the state directory would be\n", encoding="utf-8")
        unsnapshotted = Subject(
            "cache get KEY, no snapshot",
            [gb, "cache", "get", KEY],
            extra_env={"XDG_STATE_HOME": str(unwritable)},
        )
        compile_ = layout_compile_subject(env, root)
        subjects = [baseline, floor, get, help_, cache_help, unsnapshotted]
        if isinstance(compile_, Subject):
            subjects.append(compile_)
        for subject in subjects:  # warm the OS caches; not measured
            subject.run(env)
            subject.wall_ms.clear()
            subject.cpu_ms.clear()
        for _ in range(options.rounds):
            for subject in subjects:
                subject.run(env)

        report(options.rounds, subjects, compile_)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
