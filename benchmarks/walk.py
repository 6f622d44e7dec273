"""The walk of two cache paths: how many project modules and functions a call crosses.

Not a timing benchmark: it counts, with ``sys.setprofile`` in a fresh process, every
Python function of the project (``glovebox/`` and ``containers/``) entered while

* ``open``: the first ``create_default_cache("layout")`` of a process runs (the engine is
  imported before the profiler starts, so only the opening is counted; modules the
  opening imports on first use are counted as ``<module>`` entries);
* ``compile``: ``glovebox layout compile`` of a layout compiled once before (a warm
  cache) runs in-process through the console script's entry ``containers.cli:main``,
  from a process that imported nothing of the project yet.

Every run gets its own HOME and XDG directories in a temporary directory, so the real
cache is never touched. For each walk it prints the distinct modules and functions
entered, the number of calls, the calls of ``validate_tag``, and how many times the walk
returned into ``containers`` from outside it.
Run: ``python benchmarks/walk.py [--list]`` (``--list`` prints every function).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_LAYOUT = ROOT / "docs/examples/glove80-example.json"

# Runs in the child: profile ``action`` and print the counts as JSON.
CHILD = r"""
import json, sys
from pathlib import Path

ROOT = Path(sys.argv[1])
WHAT = sys.argv[2]
PREFIXES = tuple(str(ROOT / part) + "/" for part in ("glovebox", "containers"))

calls = []

def module_of(filename):
    rel = Path(filename).relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)

def profile(frame, event, arg):
    if event != "call":
        return
    code = frame.f_code
    if code.co_filename.startswith(PREFIXES):
        calls.append((module_of(code.co_filename), code.co_qualname, code.co_firstlineno))

if WHAT == "open":
    from glovebox.core.cache_v2 import create_default_cache
    sys.setprofile(profile)
    create_default_cache("layout")
    sys.setprofile(None)
else:
    layout, out = sys.argv[3], sys.argv[4]
    sys.setprofile(profile)
    from containers.cli import main
    try:
        code = main(["layout", "compile", layout, out])
    except SystemExit as exit:
        code = exit.code
    sys.setprofile(None)
    if code not in (0, None):
        raise SystemExit(f"layout compile failed with {code}")

into_containers = sum(
    1
    for before, after in zip(calls, calls[1:])
    if after[0].startswith("containers") and not before[0].startswith("containers")
)
print(json.dumps({
    "modules": sorted({c[0] for c in calls}),
    "functions": sorted({f"{c[0]}:{c[1]}" for c in calls}),
    "calls": len(calls),
    "validate_tag": sum(1 for c in calls if c[1].endswith("validate_tag")),
    "into_containers": into_containers,
}))
"""


def isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX_")}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "data"),
        PYTHONPATH=str(ROOT),
    )
    return env


def walk(what: str, *extra: str, env: dict[str, str]) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), what, *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"walk {what!r} failed:\n{run.stderr[-2000:]}")
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def report(name: str, result: dict[str, object], listing: bool) -> None:
    modules = result["modules"]
    functions = result["functions"]
    assert isinstance(modules, list)
    assert isinstance(functions, list)
    print(
        f"{name}: {len(modules)} modules, {len(functions)} functions, "
        f"{result['calls']} calls, validate_tag x{result['validate_tag']}, "
        f"returns into containers x{result['into_containers']}"
    )
    if listing:
        for module in modules:
            print(f"    module {module}")
        for function in functions:
            print(f"    {function}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every module and function")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glovebox-walk-") as tmp:
        root = Path(tmp)
        report(
            "open create_default_cache('layout')",
            walk("open", env=isolated_env(root / "a")),
            args.list,
        )

        env = isolated_env(root / "b")
        layout = root / "layout.json"
        shutil.copyfile(EXAMPLE_LAYOUT, layout)
        out = str(root / "out")
        glovebox = Path(sys.executable).parent / "glovebox"
        first = subprocess.run(
            [str(glovebox), "layout", "compile", str(layout), out],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if first.returncode != 0:
            raise SystemExit(f"first layout compile failed: {first.stderr[-1000:]}")
        report("cached layout compile", walk("compile", str(layout), out, env=env), args.list)


if __name__ == "__main__":
    main()
