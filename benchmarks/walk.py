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
cache is never touched. For each walk it prints the distinct modules entered, the
distinct functions called and their calls (module and class bodies run by a first import
are counted apart), the calls of ``validate_tag``, and how many times the walk
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
import inspect, json, sys
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
        # Module and class bodies (run once, on import) have no fresh locals of their own.
        body = not code.co_flags & inspect.CO_NEWLOCALS
        calls.append((module_of(code.co_filename), code.co_qualname, body))

if WHAT == "open":
    from glovebox.core.cache_v2 import create_default_cache
    sys.setprofile(profile)
    create_default_cache("layout")
    sys.setprofile(None)
else:
    layout, out = sys.argv[3], sys.argv[4]
    if WHAT == "compile":
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
functions = [c for c in calls if not c[2]]
print(json.dumps({
    "modules": sorted({c[0] for c in calls}),
    "function_modules": sorted({c[0] for c in functions}),
    "functions": sorted({f"{c[0]}:{c[1]}" for c in functions}),
    "bodies": sorted({f"{c[0]}:{c[1]}" for c in calls if c[2]}),
    "calls": len(functions),
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
        cwd=ROOT,  # the project is imported from ROOT, whichever checkout that is
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
    function_modules = result["function_modules"]
    functions = result["functions"]
    bodies = result["bodies"]
    assert isinstance(modules, list)
    assert isinstance(function_modules, list)
    assert isinstance(functions, list)
    assert isinstance(bodies, list)
    print(
        f"{name}: {len(modules)} modules ({len(function_modules)} with functions called), "
        f"{len(functions)} functions, {result['calls']} calls, "
        f"{len(bodies)} module/class bodies run (first imports), "
        f"validate_tag x{result['validate_tag']}, "
        f"returns into containers x{result['into_containers']}"
    )
    if listing:
        for module in modules:
            print(f"    module {module}")
        for function in functions:
            print(f"    {function}")
        for body in bodies:
            print(f"    body {body}")


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
        walk("warm", str(layout), out, env=env)  # the first compile fills the cache
        report("cached layout compile", walk("compile", str(layout), out, env=env), args.list)


if __name__ == "__main__":
    main()
