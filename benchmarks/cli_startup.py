"""CLI start-up benchmark, measured where users run it: a venv with the runtime dependencies only.

The figures come from ``build/bench-venv`` (``--venv`` to choose another), a venv made with
``python -m venv`` and ``pip install .`` from this checkout: no development extras. The
development venv is the wrong place: with its extras installed, ``import diskcache`` also
imports Django's cache framework (diskcache's Django integration), which doubles the
baseline and makes every ratio look twice as good as it is. The benchmark creates the venv
if it is missing and reinstalls glovebox from the checkout on every run (so the current
code is measured); ``--no-install`` uses the venv as it is. It refuses a venv in which
Django is importable or glovebox is not installed from site-packages.

Every subject is a separate process started from scratch, run round-robin with the others
(``--rounds`` times) so machine noise hits all alike; medians are compared:

* baseline (1.0): a Python script that imports diskcache and reads one key from the same
  ``cache.db`` that ``glovebox cache get`` reads;
* ``glovebox --help``;
* ``glovebox cache get k --tag demo`` (a hit);
* ``glovebox layout compile`` of a layout already in the cache;
* ``glovebox firmware compile`` already in the cache (the first, cold build runs the fake
  west of the test suite, tests/fake_west.py, on PATH).

Targets: ``cache get`` <= 2.5x the baseline; ``--help`` <= 1.8x the baseline; the cached
``layout compile`` and the cached ``firmware compile`` <= 1.5x ``--help``. Wall-clock
medians decide; CPU-time medians (user + system of the child) are printed alongside.
HOME and the XDG directories point into a temporary directory, so the real cache is never
touched; the first command writes the configuration snapshot, as it does for a user.

Run: ``python benchmarks/cli_startup.py [--rounds N] [--venv DIR] [--no-install]``.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import fake_west  # noqa: E402 - the repository root is put on the path first

DEFAULT_VENV = REPO / "build" / "bench-venv"
KEY = "k"
TAG = "demo"
VALUE = "a value read back by every round"
EXAMPLE_LAYOUT = REPO / "docs" / "examples" / "glove80-example.json"

CHECK_VENV = textwrap.dedent(
    """\
    import importlib.util, sys
    import glovebox
    problems = []
    if importlib.util.find_spec("django") is not None:
        problems.append("django is importable (development extras installed)")
    if "site-packages" not in glovebox.__file__:
        problems.append(f"glovebox is not installed from site-packages ({glovebox.__file__})")
    print("; ".join(problems))
    """
)


@dataclass
class Subject:
    name: str
    argv: list[str]
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def run(self, env: dict[str, str]) -> None:
        start = time.perf_counter()
        actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
        pid = os.posix_spawn(self.argv[0], self.argv, env, file_actions=actions)
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


def prepare_venv(venv: Path, *, install: bool) -> Path:
    """The runtime-only venv's bin directory, created and (re)installed unless told not to."""
    python = venv / "bin" / "python"
    if install:
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if not python.exists():
            print(f"creating the runtime-only venv {venv} (python -m venv; pip install .)")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([*pip, str(REPO)], check=True)
        else:
            print(f"reinstalling glovebox from {REPO} into {venv} (pip install .)")
            subprocess.run([*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True)
            # A dependency added since the venv was made: install it (nothing else changes).
            subprocess.run([*pip, str(REPO)], check=True)
    if not python.exists():
        raise SystemExit(
            f"{venv} is not a venv; run without --no-install to create it "
            f"(python -m venv {venv} && {venv}/bin/pip install .)"
        )
    problem = subprocess.run(
        [str(python), "-c", CHECK_VENV], capture_output=True, text=True, check=False, cwd=venv
    )
    if problem.returncode != 0 or problem.stdout.strip():
        raise SystemExit(
            f"{venv} is not a runtime-only venv: {problem.stdout.strip() or problem.stderr}"
        )
    print(f"runtime-only venv: {venv} (pip install .; no django; glovebox from site-packages)")
    return venv / "bin"


def isolated_env(root: Path) -> dict[str, str]:
    fake_west.install(root / "fake-bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOVEBOX", "FAKE_WEST"))}
    for name, sub in (
        ("HOME", "home"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(root / sub)
    env["PATH"] = f"{root / 'fake-bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(FAKE_WEST_LOG=str(root / "west.jsonl"), FAKE_WEST_DOWNLOAD_DELAY="0")
    env.update(FAKE_WEST_BUILD_DELAY="0", FAKE_WEST_INCREMENTAL_DELAY="0")
    return env


def warm(env: dict[str, str], argv: list[str], marker: str) -> Subject:
    """Run ``argv`` twice (the second must print ``marker``: served from the cache)."""
    for _ in range(2):
        run = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {run.stderr.strip()[:400]}")
    if marker not in run.stdout:
        raise SystemExit(f"{' '.join(argv)} was not served from the cache: {run.stdout[:400]}")
    return Subject(" ".join([Path(argv[0]).name, *argv[1:3]]) + " (cached)", argv)


def report(rounds: int, subjects: list[Subject]) -> None:
    """The table (medians and ratio to the baseline), each target, then ``name=ratio`` lines."""
    baseline, help_, get, layout, firmware = subjects
    print(f"\n{rounds} rounds, medians; ratio to the baseline script:")
    print(f"  {'command':<44} {'wall ms':>8} {'cpu ms':>8} {'ratio':>7}")
    for subject in subjects:
        ratio = subject.wall / baseline.wall
        print(f"  {subject.name:<44} {subject.wall:8.1f} {subject.cpu:8.1f} {ratio:6.2f}x")
    lines: list[str] = []
    print("targets:")
    for name, subject, base, target in (
        ("cache_get_vs_script", get, baseline, 2.5),
        ("help_vs_script", help_, baseline, 1.8),
        ("layout_compile_cached_vs_help", layout, help_, 1.5),
        ("firmware_compile_cached_vs_help", firmware, help_, 1.5),
    ):
        ratio = subject.wall / base.wall
        verdict = "met" if ratio <= target else "MISSED"
        cpu_ratio = subject.cpu / base.cpu
        print(f"  {name}: {ratio:.2f}x wall (cpu {cpu_ratio:.2f}x), target <= {target}x {verdict}")
        lines.append(f"{name}={ratio:.2f}")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument(
        "--no-install", action="store_true", help="measure the venv as it is (must exist)"
    )
    options = parser.parse_args()
    bin_dir = prepare_venv(options.venv.resolve(), install=not options.no_install)
    gb = str(bin_dir / "glovebox")
    root = Path(tempfile.mkdtemp(prefix="glovebox-startup-"))
    try:
        env = isolated_env(root)
        stored = subprocess.run(
            [gb, "cache", "set", KEY, VALUE, "--tag", TAG],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if stored.returncode != 0:
            raise SystemExit(f"could not store the benchmark key: {stored.stderr}")
        database = Path(env["XDG_CACHE_HOME"]) / "glovebox" / TAG
        script = root / "baseline.py"
        script.write_text(
            textwrap.dedent(
                f"""\
                import diskcache
                cache = diskcache.Cache({str(database)!r})
                value = cache.get({KEY!r})
                assert value is not None
                print(value)
                cache.close()
                """
            ),
            encoding="utf-8",
        )
        layout = root / "startup.json"
        shutil.copyfile(EXAMPLE_LAYOUT, layout)
        python = str(bin_dir / "python")
        get = [gb, "cache", "get", KEY, "--tag", TAG]
        subjects = [
            Subject("python script: import diskcache, get key", [python, str(script)]),
            Subject("glovebox --help", [gb, "--help"]),
            Subject(f"glovebox cache get {KEY} --tag {TAG} (a hit)", get),
            warm(env, [gb, "layout", "compile", str(layout), str(root / "out")], "(from cache)"),
            warm(env, [gb, "firmware", "compile", str(layout), str(root / "fw")], "from cache"),
        ]
        for subject in subjects:  # warm the OS caches; not measured
            subject.run(env)
            subject.wall_ms.clear()
            subject.cpu_ms.clear()
        for _ in range(options.rounds):
            for subject in subjects:
                subject.run(env)
        report(options.rounds, subjects)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
