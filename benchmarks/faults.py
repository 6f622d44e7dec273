"""Fault campaign: load held, faults injected and survived, bad inputs refused, data lost.

Every case runs against real parts: SQLite caches on disk, writer processes killed with
SIGKILL, another process holding the database lock, corrupted and truncated files, a
read-only mount, a full tmpfs, a non-root user (``setpriv``), and the installed ``glovebox``
console script fed hostile keys, tags, settings, YAML and arguments. ``layout compile`` must
finish with a stopped Redis server or a locked database under its cache (exit 0, one
WARNING), and must leave its output directory untouched on a full 32 KiB tmpfs (a user
file it replaced counts as ``outputs_damaged`` and in ``data_lost``). Cases that need root
(mounts, ``setpriv``) are reported as skipped without it.

Run: ``python benchmarks/faults.py [--processes 4] [--threads 8] [--writes 100]``
(``make faults``). The last lines are ``name=value`` figures, e.g. ``lost_writes=0``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pydantic import ValidationError  # noqa: E402

from glovebox.compilation.cache import (  # noqa: E402
    WorkspaceCacheSettings,
    WorkspaceConfig,
    ZmkWorkspaceCacheService,
    workspace_key,
)
from glovebox.core.cache_v2 import (  # noqa: E402
    CacheSettings,
    create_diskcache_manager,
    disk_usage,
)
from glovebox.errors import GloveboxError, WorkspaceError  # noqa: E402
from tests.other_user import NobodyCannotRun, reachable_for_nobody  # noqa: E402

GLOVEBOX = Path(sys.executable).parent / "glovebox"
CHILD_TIMEOUT = 60.0  # no child of the campaign may run longer than this
OP_TIMEOUT = 1.0  # the cache timeout configured while another process holds the lock
MARGIN = 2.5  # seconds an operation may take beyond OP_TIMEOUT (interpreter start, load)
CLI_BUDGET = 10.0  # seconds a CLI invocation with bad input may take
ZMK = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")


# Results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    category: str  # "fault" or "bad input"
    name: str
    ok: bool  # fault survived / bad input refused cleanly
    detail: str
    skipped: bool = False


@dataclass(slots=True)
class Figures:
    writes_acknowledged: int = 0
    lost_writes: int = 0
    wrong_values_served: int = 0
    outputs_damaged: int = 0  # user files replaced or left half-written by a failed output
    load_shape: str = ""
    load_seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    sizes: list[tuple[str, str]] = field(default_factory=list)  # size-limit cases' figures

    def add(self, category: str, name: str, ok: bool, detail: str) -> None:
        self.outcomes.append(Outcome(category, name, ok, _one_line(detail)))
        print(f"  [{'ok' if ok else 'FAILED'}] {category}: {name}: {_one_line(detail)}", flush=True)

    def skip(self, category: str, name: str, reason: str) -> None:
        self.outcomes.append(Outcome(category, name, False, reason, skipped=True))
        print(f"  [skipped] {category}: {name}: {reason}", flush=True)


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# Child processes ----------------------------------------------------------------------


def isolated_env(base: Path, **extra: str) -> dict[str, str]:
    """The environment of a child: its own HOME and XDG directories, no GLOVEBOX_* vars.

    ``XDG_STATE_HOME`` is the campaign's: every process is the same user, with the same
    cache signing key, unless a case gives a child a state directory of its own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX")}
    for name in ("home", "xdg-cache", "xdg-config"):
        (base / name).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(base / "home"),
        XDG_CACHE_HOME=str(base / "xdg-cache"),
        XDG_CONFIG_HOME=str(base / "xdg-config"),
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def run(
    argv: Sequence[str],
    env: dict[str, str],
    timeout: float = CHILD_TIMEOUT,
    cwd: Path | None = None,
) -> tuple[int | None, str, str, float]:
    """Run ``argv``; (exit code or None if it overran ``timeout`` and was killed, out, err, s)."""
    started = time.monotonic()
    with subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return None, out, err, time.monotonic() - started
    return proc.returncode, out, err, time.monotonic() - started


def expected_value(key: str) -> dict[str, str]:
    return {"key": key, "pad": "x" * (len(key) * 7 % 97)}


WRITER = """
import sys, threading
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
from glovebox.errors import GloveboxError
root, proc, threads, writes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cache = create_diskcache_manager(root, "load", settings=CacheSettings(timeout=30))
out = threading.Lock()
def work(t):
    for i in range(writes):
        key = f"{proc}-t{t}-w{i}"
        try:
            cache.set(key, {"key": key, "pad": "x" * (len(key) * 7 % 97)})
        except GloveboxError as exc:
            with out:
                print("ERR", key, " ".join(str(exc).split()), flush=True)
            continue
        with out:
            print("ACK", key, flush=True)
workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
cache.close()
"""


def acknowledged(output: str) -> tuple[list[str], list[str]]:
    """Keys acknowledged (``ACK key``) and refused (``ERR ...``) by complete output lines.

    A writer killed while printing leaves a cut-off last line: it acknowledges nothing.
    """
    acks, errors = [], []
    complete = output if output.endswith("\n") else output.rpartition("\n")[0]
    for line in complete.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "ACK":
            acks.append(rest)
        elif kind == "ERR":
            errors.append(rest)
    return acks, errors


def read_back(root: Path, tag: str, keys: Sequence[str]) -> tuple[int, int]:
    """(missing, wrong) among ``keys`` when read by a fresh cache handle."""
    cache = create_diskcache_manager(root, tag, settings=CacheSettings(timeout=30))
    try:
        found = cache.get_many(keys)
    finally:
        cache.close()
    missing = sum(1 for key in keys if key not in found)
    wrong = sum(1 for key, value in found.items() if value != expected_value(key))
    return missing, wrong


# Load ----------------------------------------------------------------------------------


def load_held(fig: Figures, base: Path, processes: int, threads: int, writes: int) -> None:
    root = base / "load"
    env = isolated_env(base / "load-env")
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            python(WRITER, str(root), f"p{p}", str(threads), str(writes)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for p in range(processes)
    ]
    acks: list[str] = []
    errors: list[str] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=CHILD_TIMEOUT * 5)
        got, failed = acknowledged(out)
        acks += got
        errors += failed
    fig.load_seconds = time.monotonic() - started
    missing, wrong = read_back(root, "load", acks)
    fig.writes_acknowledged += len(acks)
    fig.lost_writes += missing
    fig.wrong_values_served += wrong
    total = processes * threads * writes
    fig.load_shape = f"{processes} processes x {threads} threads x {writes} writes"
    print(
        f"  load: {fig.load_shape}: {len(acks)}/{total} acknowledged, {len(errors)} refused, "
        f"{missing} lost, {wrong} wrong, {fig.load_seconds:.1f} s",
        flush=True,
    )


# Faults against the engine --------------------------------------------------------------


def sigkill_writers(fig: Figures, base: Path, rounds: int = 3) -> None:
    for index in range(rounds):
        root = base / f"kill-{index}"
        env = isolated_env(base / f"kill-env-{index}")
        procs = [
            subprocess.Popen(
                python(WRITER, str(root), f"k{p}", "4", "100000"),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            for p in range(2)
        ]
        # Kill only once every writer is writing, at a different moment each round.
        first = [proc.stdout.readline() if proc.stdout else "" for proc in procs]
        time.sleep(0.3 + 0.4 * index)
        acks: list[str] = []
        for proc, line in zip(procs, first, strict=True):
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=CHILD_TIMEOUT)
            acks += acknowledged(line + out)[0]
        missing, wrong = read_back(root, "load", acks)
        fig.writes_acknowledged += len(acks)
        fig.lost_writes += missing
        fig.wrong_values_served += wrong
        cache = create_diskcache_manager(root, "load", settings=CacheSettings(timeout=30))
        try:
            cache.set("after-kill", 1)
            usable = cache.get("after-kill") == 1
        finally:
            cache.close()
        fig.add(
            "fault",
            f"SIGKILL of 2 writers x 4 threads (round {index + 1})",
            missing == 0 and wrong == 0 and usable,
            f"{len(acks)} acknowledged, {missing} lost, {wrong} wrong, reopened usable={usable}",
        )


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""

LOCKED_OP = """
import json, sys, time
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
from glovebox.errors import GloveboxError
root, op, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
started = time.monotonic()
try:
    cache = create_diskcache_manager(root, "locked", settings=CacheSettings(timeout=timeout))
    if op == "get":
        result = repr(cache.get("k"))
    elif op == "set":
        cache.set("k2", 2); result = "stored"
    elif op == "set_many":
        cache.set_many({"a": 1, "b": 2}); result = "stored"
    elif op == "delete":
        result = repr(cache.delete("k"))
    elif op == "touch":
        result = repr(cache.touch("k", ttl=60))
    elif op == "clear":
        cache.clear(); result = "cleared"
    elif op == "cleanup":
        result = repr(cache.cleanup())
    elif op == "get_stats":
        result = repr(cache.get_stats().hits)
    else:
        result = "opened"
    cache.close()
except GloveboxError as exc:
    result = f"{type(exc).__name__}: {exc}"
print(json.dumps({"seconds": time.monotonic() - started, "result": result}))
"""


def _hold_lock(db: Path, seconds: float, env: dict[str, str]) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        python(HOLDER, str(db), str(seconds)), stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "locked":
        holder.kill()
        raise RuntimeError("the lock holder could not lock the database")
    return holder


def lock_holder(fig: Figures, base: Path) -> None:
    root = base / "locked"
    env = isolated_env(base / "locked-env")
    seed = create_diskcache_manager(root, "locked", settings=CacheSettings(timeout=30))
    seed.set("k", 1)
    seed.close()
    db = root / "locked" / "cache.db"
    ops = ["open", "get", "set", "set_many", "delete", "touch", "clear", "cleanup", "get_stats"]
    for op in ops:
        holder = _hold_lock(db, 20, env)
        try:
            code, out, err, seconds = run(
                python(LOCKED_OP, str(root), op, str(OP_TIMEOUT)), env, timeout=8
            )
        finally:
            holder.kill()
            holder.wait()
        if code is None:
            fig.add(
                "fault", f"lock held by another process: {op}", False, "still blocked after 8 s"
            )
            continue
        if code != 0:
            fig.add("fault", f"lock held by another process: {op}", False, err.strip()[-160:])
            continue
        report = json.loads(out)
        bounded = report["seconds"] <= OP_TIMEOUT + MARGIN
        fig.add(
            "fault",
            f"lock held by another process: {op}",
            bounded,
            f"returned after {report['seconds']:.1f} s: {report['result']}",
        )
    cli_env = dict(env, GLOVEBOX__CACHE__TIMEOUT=str(OP_TIMEOUT), GLOVEBOX_CACHE_PATH="")
    config = base / "locked-env" / "config.yaml"
    config.write_text(f"cache_path: {json.dumps(str(root))}\ncache:\n  timeout: {OP_TIMEOUT}\n")
    holder = _hold_lock(db, 20, env)
    try:
        code, _, err, seconds = run(
            [str(GLOVEBOX), "--config", str(config), "cache", "get", "k", "--tag", "locked"],
            cli_env,
            timeout=15,
        )
    finally:
        holder.kill()
        holder.wait()
    fig.add(
        "fault",
        "lock held by another process: CLI cache get",
        code is not None and seconds <= OP_TIMEOUT + MARGIN + 2 and "Traceback" not in err,
        f"exit {code} after {seconds:.1f} s",
    )


CHECK_USABLE = """
import json, sys
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
cache = create_diskcache_manager(sys.argv[1], sys.argv[2], settings=CacheSettings(timeout=5))
for i in range(50):
    cache.set(f"new-{i}", i)
ok = all(cache.get(f"new-{i}") == i for i in range(50))
cache.close()
print(json.dumps({"ok": ok}))
"""


def _usable_in_new_process(root: Path, tag: str, env: dict[str, str]) -> tuple[bool, str]:
    code, out, err, _ = run(python(CHECK_USABLE, str(root), tag), env, timeout=30)
    if code != 0:
        return False, f"exit {code}: {(err.strip().splitlines() or [''])[-1]}"
    return bool(json.loads(out)["ok"]), "50 writes and reads afterwards"


def _seed(root: Path, tag: str, count: int = 300) -> Path:
    cache = create_diskcache_manager(root, tag, settings=CacheSettings(timeout=30))
    cache.set_many({f"seed-{i}": "v" * 200 for i in range(count)})
    cache.close()
    return root / tag / "cache.db"


def corrupt_files(fig: Figures, base: Path) -> None:
    env = isolated_env(base / "corrupt-env")
    root = base / "corrupt"
    db = _seed(root, "garbage")
    garbage = os.urandom(db.stat().st_size)
    db.write_bytes(garbage)
    usable, detail = _usable_in_new_process(root, "garbage", env)
    # moved aside anywhere under the root (the engine renames the damaged directory)
    kept = any(p.is_file() and p.read_bytes() == garbage for p in root.rglob("*"))
    fig.add(
        "fault",
        "cache.db overwritten with garbage",
        usable and kept,
        f"{detail}; damaged file kept aside={kept}",
    )
    db = _seed(root, "pages")
    with open(db, "r+b") as handle:
        handle.seek(4096 * 2)
        handle.write(os.urandom(4096 * 3))
    usable, detail = _usable_in_new_process(root, "pages", env)
    fig.add("fault", "garbage written into cache.db data pages", usable, detail)


TRUNCATE_CHILD = """
import sys, time
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
from glovebox.errors import GloveboxError
cache = create_diskcache_manager(sys.argv[1], "shrunk", settings=CacheSettings(timeout=2))
cache.set_many({f"k{i}": "v" * 500 for i in range(500)})
print("ready", flush=True)
deadline = time.monotonic() + 2
errors = 0
while time.monotonic() < deadline:
    for i in range(50):
        try:
            cache.get(f"k{i}")
            cache.set(f"n{i}", i)
        except GloveboxError:
            errors += 1
print("survived", errors, flush=True)
"""


def truncate_under_open_cache(fig: Figures, base: Path) -> None:
    env = isolated_env(base / "shrunk-env")
    root = base / "shrunk"
    proc = subprocess.Popen(
        python(TRUNCATE_CHILD, str(root)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline().strip() == "ready"
    if ready:
        os.truncate(root / "shrunk" / "cache.db", 0)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    code = proc.returncode
    detail = f"exit {code}" + (f" (signal {-code})" if code < 0 else "")
    fig.add(
        "fault",
        "cache.db truncated under an open cache",
        ready and code == 0,
        f"{detail}; {out.strip() or err.strip()[-120:]}",
    )


def truncated_value_file(fig: Figures, base: Path) -> None:
    root = base / "values"
    cache = create_diskcache_manager(root, "values", settings=CacheSettings(timeout=30))
    payload = os.urandom(256 * 1024)
    cache.set("blob", payload)
    cache.close()
    files = [p for p in (root / "values").rglob("*.val")]
    if not files:
        fig.skip("fault", "value file truncated", "no value file was written")
        return
    with open(files[0], "r+b") as handle:
        handle.truncate(len(payload) // 2)
    cache = create_diskcache_manager(root, "values", settings=CacheSettings(timeout=30))
    try:
        got = cache.get("blob")
    except GloveboxError as exc:
        got = exc
    finally:
        cache.close()
    if isinstance(got, bytes) and got != payload:
        fig.wrong_values_served += 1
    fig.add(
        "fault",
        "value file truncated behind the cache's back",
        got is None,
        "a miss" if got is None else f"returned {type(got).__name__} of other content",
    )


@contextlib.contextmanager
def tmpfs(fig: Figures, row: str, target: Path, size: str) -> Iterator[Path | None]:
    """A ``size`` tmpfs mounted on ``target`` for the block, yielding ``target``.

    Where it cannot be mounted, the fault ``row`` is recorded as skipped and None yielded.
    """
    target.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if not mounted:
        fig.skip("fault", row, "mounting a tmpfs needs root")
    try:
        yield target if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


FILL_CHILD = """
import json, sys
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
from glovebox.errors import GloveboxError
cache = create_diskcache_manager(sys.argv[1], "full", settings=CacheSettings(timeout=5))
acked, error = [], ""
for i in range(20000):
    try:
        cache.set(f"f{i}", "v" * 2000)
    except GloveboxError as exc:
        error = str(exc)
        break
    acked.append(f"f{i}")
missing = sum(1 for k in acked if cache.get(k) != "v" * 2000)
steps = {}
for name, step in (("delete", lambda: cache.delete(acked[0])),
                   ("delete_many", lambda: cache.delete_many(acked[1:50])),
                   ("clear", cache.clear)):
    try:
        step(); steps[name] = "ok"
    except GloveboxError as exc:
        steps[name] = str(exc)
print(json.dumps({"acked": len(acked), "error": error, "missing": missing, "steps": steps}))
"""


def full_disk(fig: Figures, base: Path) -> None:
    with tmpfs(fig, "disk full (1 MiB tmpfs)", base / "tiny", "1m") as mnt:
        if mnt is None:
            return
        code, out, err, _ = run(python(FILL_CHILD, str(mnt)), isolated_env(base / "full-env"))
    if code != 0:
        fig.add("fault", "disk full (1 MiB tmpfs)", False, f"exit {code}: {err.strip()[-160:]}")
        return
    report = json.loads(out)
    fig.writes_acknowledged += report["acked"]
    fig.lost_writes += report["missing"]
    says_full = any(word in report["error"].lower() for word in ("full", "space"))
    freed = all(value == "ok" for value in report["steps"].values())
    fig.add(
        "fault",
        "disk full (1 MiB tmpfs)",
        says_full and freed and report["missing"] == 0,
        f"{report['acked']} writes fitted; error: {report['error'] or 'none'}; "
        f"freeing: {report['steps']}",
    )


RO_CHILD = """
import json, sys
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
from glovebox.errors import GloveboxError
report = {}
try:
    cache = create_diskcache_manager(sys.argv[1], "ro", settings=CacheSettings(timeout=2))
    report["get"] = repr(cache.get("k"))
    try:
        cache.set("k2", 2); report["set"] = "stored"
    except GloveboxError as exc:
        report["set"] = "refused: " + str(exc)
    cache.close()
except Exception as exc:
    report["open"] = f"{type(exc).__name__}: {exc}"
    report["clean"] = isinstance(exc, GloveboxError)
print(json.dumps(report))
"""


def read_only_mount(fig: Figures, base: Path) -> None:
    with tmpfs(fig, "read-only mount", base / "ro", "4m") as mnt:
        if mnt is None:
            return
        seed = create_diskcache_manager(mnt, "ro", settings=CacheSettings(timeout=5))
        seed.set("k", 1)
        seed.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True, capture_output=True)
        code, out, err, seconds = run(python(RO_CHILD, str(mnt)), isolated_env(base / "ro-env"))
    clean = code == 0 and json.loads(out).get("clean", True)
    detail = out.strip() if code == 0 else f"exit {code}: {err.strip()[-160:]}"
    fig.add("fault", "cache on a read-only mount", clean, f"{detail} ({seconds:.1f} s)")


def non_root_user(fig: Figures, base: Path) -> None:
    """The CLI as ``nobody`` against a cache it may not write: clean errors, no traceback."""
    if os.geteuid() != 0:
        fig.skip("fault", "cache not writable by the user (setpriv)", "setpriv needs root")
        return
    area = base / "priv"
    root = area / "cache"
    _seed(root, "priv")
    for path in (base, area, area / "home", area / "xdg-cache", area / "xdg-config"):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)
    for directory, _, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    env = isolated_env(area)
    env["HOME"] = str(area / "home")
    config = area / "config.yaml"
    config.write_text(f"cache_path: {json.dumps(str(root))}\ncache:\n  timeout: 2\n")
    config.chmod(0o644)
    try:
        # The checkout may sit where nobody cannot enter: it is bind-mounted where it can.
        with reachable_for_nobody() as nobody:
            for args in (
                ["cache", "set", "k", "v", "--tag", "priv"],
                ["cache", "get", "k", "--tag", "priv"],
            ):
                started = time.monotonic()
                try:
                    done = nobody.run([*nobody.glovebox, "--config", str(config), *args], env)
                except subprocess.TimeoutExpired:
                    code, err = None, "still running after 60 s"
                else:
                    code, err = done.returncode, done.stderr
                seconds = time.monotonic() - started
                clean = code is not None and "Traceback" not in err and len(_lines(err)) <= 2
                fig.add(
                    "fault",
                    f"cache not writable by the user: glovebox {' '.join(args[:2])}",
                    clean,
                    f"exit {code} after {seconds:.1f} s: {' '.join(_lines(err)[:1])}",
                )
    except NobodyCannotRun as exc:
        fig.skip("fault", "cache not writable by the user (setpriv)", str(exc))


# A failing cache never breaks the job it serves ---------------------------------------------

EXAMPLE_LAYOUT = REPO / "docs" / "examples" / "glove80-example.json"


def _layouts(directory: Path, titles: dict[str, str]) -> list[str]:
    """Copies of the example layout under ``directory``, one per ``name -> title``."""
    document = json.loads(EXAMPLE_LAYOUT.read_text(encoding="utf-8"))
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for name, title in titles.items():
        (directory / f"{name}.json").write_text(
            json.dumps({**document, "title": title}), encoding="utf-8"
        )
        names.append(f"{name}.json")
    return names


def _compile(
    cwd: Path, env: dict[str, str], inputs: Sequence[str], out: str, timeout: float = 60
) -> tuple[int | None, str, str, float]:
    return run([str(GLOVEBOX), "layout", "compile", *inputs, out], env, timeout, cwd=cwd)


def _job_done(
    fig: Figures,
    row: str,
    cwd: Path,
    inputs: Sequence[str],
    result: tuple[int | None, str, str, float],
    *,
    words: Sequence[str],
) -> None:
    """Exit 0, every output written, exactly one WARNING naming the cache and the fault."""
    code, _, err, seconds = result
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    written = all(
        (cwd / "out" / f"{Path(name).stem}.{kind}").is_file()
        for name in inputs
        for kind in ("keymap", "conf")
    )
    names = bool(warnings) and "cache 'layout'" in warnings[0]
    says = bool(warnings) and any(word in warnings[0] for word in words)
    fig.add(
        "fault",
        row,
        code == 0 and written and len(warnings) == 1 and names and says,
        f"exit {code} after {seconds:.1f} s, {len(inputs)} layouts written={written}, "
        f"{len(warnings)} WARNING line(s): {warnings[0][8:] if warnings else '-'}",
    )


def redis_down_during_compile(fig: Figures, base: Path) -> None:
    from glovebox.testing.redis_server import RedisServer

    row = "Redis down during layout compile"
    try:
        server = RedisServer().start()
    except Exception as exc:  # no redis-server binary: nothing to stop
        fig.skip("fault", row, f"no Redis server to start: {exc}")
        return
    url = server.url
    server.close()
    cwd = base / "redis-down"
    inputs = _layouts(cwd, {"a": "A", "b": "B", "c": "C"})
    env = isolated_env(
        cwd / "env",
        GLOVEBOX_CACHE_LAYOUT="redis",
        GLOVEBOX_CACHE_REDIS_URL=url,
        GLOVEBOX_CACHE_REDIS_SECRET="faults-campaign-secret-0123456789",
    )
    result = _compile(cwd, env, inputs, "out")
    _job_done(fig, row, cwd, inputs, result, words=["unreachable"])


def locked_db_during_compile(fig: Figures, base: Path) -> None:
    cwd = base / "locked-compile"
    inputs = _layouts(cwd, {"a": "A", "b": "B", "c": "C"})
    env = isolated_env(cwd / "env", GLOVEBOX__CACHE__TIMEOUT=str(OP_TIMEOUT))
    root = Path(env["XDG_CACHE_HOME"]) / "glovebox"
    seed = create_diskcache_manager(root, "layout", settings=CacheSettings(timeout=30))
    seed.set("seed", 1)
    seed.close()
    holder = _hold_lock(root / "layout" / "cache.db", 30, env)
    try:
        result = _compile(cwd, env, inputs, "out")
    finally:
        holder.kill()
        holder.wait()
    _job_done(fig, "database locked during layout compile", cwd, inputs, result, words=["locked"])


def full_disk_output(fig: Figures, base: Path) -> None:
    """``layout compile`` into a full 32 KiB tmpfs holding the user's ``ok.keymap``."""
    row = "output directory on a full disk (32 KiB tmpfs)"
    cwd = base / "full-output"
    inputs = _layouts(cwd, {"ok": "ok", "lt7": "lt7 " * 3000, "mo9": "mo9 " * 3000})
    env = isolated_env(cwd / "env")
    with tmpfs(fig, row, cwd / "full", "32k") as mnt:
        if mnt is None:
            return
        (mnt / "ok.keymap").write_text("the user's own keymap\n", encoding="utf-8")
        before = {p.name: p.read_bytes() for p in mnt.iterdir()}
        code, _, err, _ = _compile(cwd, env, inputs, "full/")
        after = {p.name: p.read_bytes() for p in mnt.iterdir()}
    unchanged = after == before
    if not unchanged:
        fig.outputs_damaged += 1
    lines = _lines(err)
    fig.add(
        "fault",
        row,
        code == 2 and unchanged and len(lines) == 1 and "No space left" in lines[0],
        f"exit {code}, directory unchanged={unchanged}: {lines[0] if lines else '-'}",
    )


# Faults against the workspace cache --------------------------------------------------------


CACHE_WORKSPACE_CHILD = """
import sys
from pathlib import Path
from glovebox.compilation.cache import (
    WorkspaceCacheSettings, WorkspaceConfig, ZmkWorkspaceCacheService,
)
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
cache = create_diskcache_manager(sys.argv[1], "compilation", settings=CacheSettings(timeout=30))
service = ZmkWorkspaceCacheService(cache, Path(sys.argv[2]), WorkspaceCacheSettings(30, 1, False))
print("start", flush=True)
config = WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")
service.cache_workspace(Path(sys.argv[3]), config)
print("done", flush=True)
"""


def make_tree(root: Path, files: int) -> Path:
    for index in range(files):
        folder = root / "zmk" / f"d{index % 40}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.c").write_bytes(b"x" * (index % 4096))
    return root


def workspace_service(base: Path, lock_timeout: float = 600.0) -> ZmkWorkspaceCacheService:
    cache = create_diskcache_manager(
        base / "cache", "compilation", settings=CacheSettings(timeout=30)
    )
    settings = WorkspaceCacheSettings(30, 1, False, lock_timeout=lock_timeout)
    return ZmkWorkspaceCacheService(cache, base / "cache" / "compilation" / "workspace", settings)


def workspace_sigkill(fig: Figures, base: Path) -> None:
    source = make_tree(base / "ws-source", 3000)
    for index, delay in enumerate((0.2, 0.6, 1.2)):
        area = base / f"ws-kill-{index}"
        root = area / "cache" / "compilation" / "workspace"
        proc = subprocess.Popen(
            python(CACHE_WORKSPACE_CHILD, str(area / "cache"), str(root), str(source)),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=isolated_env(area / "env"),
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=CHILD_TIMEOUT)
        service = workspace_service(area)
        try:
            entry = service.get_cached_workspace(ZMK)
            complete = entry is None or entry.file_count == 3000
            service.cleanup()
            left = sorted(p.name for p in root.iterdir() if p.name.startswith((".stage", ".trash")))
            again = service.cache_workspace(source, ZMK)
        finally:
            service.cache.close()
        fig.add(
            "fault",
            f"SIGKILL while caching a 3,000-file workspace after {delay} s",
            complete and not left and again is not None,
            f"{'published before the kill' if 'done' in out else 'killed mid-copy'}; "
            f"served={'complete entry' if entry else 'nothing'}; leftovers after cleanup={left}",
        )


WS_HOLDER = """
import sys, time
from pathlib import Path
from glovebox.compilation.cache import WorkspaceCacheSettings, ZmkWorkspaceCacheService
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
cache = create_diskcache_manager(sys.argv[1], "compilation", settings=CacheSettings(timeout=30))
service = ZmkWorkspaceCacheService(cache, Path(sys.argv[2]), WorkspaceCacheSettings(30, 1, False))
with service.store.lock(sys.argv[3]):
    print("held", flush=True)
    time.sleep(20)
"""


def workspace_lock_holder(fig: Figures, base: Path) -> None:
    area = base / "ws-lock"
    service = workspace_service(area, lock_timeout=OP_TIMEOUT)
    try:
        service.cache_workspace(make_tree(area / "src", 50), ZMK)
        key = workspace_key(ZMK)
        holder = subprocess.Popen(
            python(WS_HOLDER, str(area / "cache"), str(service.root), key),
            stdout=subprocess.PIPE,
            text=True,
            env=isolated_env(area / "env"),
        )
        try:
            assert holder.stdout is not None
            holder.stdout.readline()
            started = time.monotonic()
            busy = key in service.cleanup().skipped_busy
            cleanup_s = time.monotonic() - started
            started = time.monotonic()
            try:
                service.restore_workspace(ZMK, area / "restored")
                refused = ""
            except WorkspaceError as exc:
                refused = str(exc)
            restore_s = time.monotonic() - started
        finally:
            holder.kill()
            holder.wait()
        fig.add(
            "fault",
            "workspace key locked by another process: cleanup",
            busy and cleanup_s <= MARGIN,
            f"skipped busy={busy} after {cleanup_s:.1f} s",
        )
        fig.add(
            "fault",
            "workspace key locked by another process: restore",
            bool(refused) and restore_s <= OP_TIMEOUT + MARGIN,
            f"refused after {restore_s:.1f} s: {refused}",
        )
    finally:
        service.cache.close()


def workspace_damage(fig: Figures, base: Path) -> None:
    damages: dict[str, Callable[[Path], None]] = {
        "tree deleted": lambda entry: _rmtree(entry / "tree"),
        "entry.json garbage": _garble_entry_file,
        "manifest truncated": _truncate_hardlinked,
        "entry directory replaced by a file": _replace_by_file,
    }
    for index, (name, damage) in enumerate(damages.items()):
        area = base / f"ws-damage-{index}"
        service = workspace_service(area)
        try:
            service.cache_workspace(make_tree(area / "src", 40), ZMK)
            damage(service.root / workspace_key(ZMK))
            served = service.get_cached_workspace(ZMK)
            service.cleanup()
            again = service.cache_workspace(make_tree(area / "src2", 40), ZMK)
            ok = served is None and again is not None
            detail = f"lookup served {'nothing' if served is None else 'a damaged entry'}"
        except (GloveboxError, OSError) as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        finally:
            service.cache.close()
        fig.add("fault", f"workspace entry damaged: {name}", ok, detail)


def _rmtree(path: Path) -> None:
    shutil.rmtree(path)


def _garble_entry_file(entry: Path) -> None:
    (entry / "entry.json").write_bytes(b"\x00\xff{")


def _truncate_hardlinked(entry: Path) -> None:
    (entry / "hardlinked").touch()
    (entry / "manifest").write_text("f\0zmk/d0/f0.c\0")


def _replace_by_file(entry: Path) -> None:
    _rmtree(entry)
    entry.write_text("not a directory")


# Bad input through the console script ----------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@dataclass(frozen=True, slots=True)
class CliCase:
    name: str
    args: tuple[str, ...]
    config: str | None = None  # YAML written to a file passed with --config
    env: tuple[tuple[str, str], ...] = ()


def hostile_yaml_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        prev = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def hostile_yaml_mapping_laughs() -> str:
    lines = ["a: &a {x1: lol, x2: lol, x3: lol, x4: lol, x5: lol, x6: lol, x7: lol, x8: lol}"]
    for level in range(1, 10):
        prev = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        body = ", ".join(f"y{i}: *{prev}" for i in range(9))
        lines.append(f"{name}: &{name} {{{body}}}")
    return "\n".join(lines) + "\n"


def cli_cases(archives: dict[str, Path]) -> list[CliCase]:
    long_key = "k" * 1025
    sel = ("--revision", "v1")
    return [
        CliCase("empty key: get", ("cache", "get", "")),
        CliCase("empty key: delete", ("cache", "delete", "")),
        CliCase("empty key: set", ("cache", "set", "", "v")),
        CliCase("1,025-char key: get", ("cache", "get", long_key)),
        CliCase("1,025-char key: set", ("cache", "set", long_key, "v")),
        CliCase("1,025-char key: delete", ("cache", "delete", long_key)),
        CliCase("empty tag: set", ("cache", "set", "k", "v", "--tag", "")),
        CliCase("empty tag: get", ("cache", "get", "k", "--tag", "")),
        CliCase("reserved tag GLOBAL", ("cache", "set", "k", "v", "--tag", "GLOBAL")),
        CliCase("reserved tag Global", ("cache", "set", "k", "v", "--tag", "Global")),
        CliCase("tag with a path", ("cache", "set", "k", "v", "--tag", "../x")),
        CliCase("tag with a space", ("cache", "stats", "--tag", "a b")),
        CliCase("65-char tag", ("cache", "keys", "--tag", "t" * 65)),
        CliCase("negative ttl", ("cache", "set", "k", "v", "--ttl", "-1")),
        CliCase("nan ttl", ("cache", "set", "k", "v", "--ttl", "nan")),
        CliCase("infinite ttl", ("cache", "set", "k", "v", "--ttl", "inf")),
        CliCase("non-numeric ttl", ("cache", "set", "k", "v", "--ttl", "soon")),
        CliCase("max_size_gb: .inf", ("cache", "show"), "cache:\n  max_size_gb: .inf\n"),
        CliCase("max_size_gb: 1e400", ("cache", "show"), "cache:\n  max_size_gb: 1e400\n"),
        CliCase("max_size_gb: .nan", ("cache", "show"), "cache:\n  max_size_gb: .nan\n"),
        CliCase("max_size_gb: null", ("cache", "show"), "cache:\n  max_size_gb: null\n"),
        CliCase("max_size_gb: '2'", ("cache", "show"), "cache:\n  max_size_gb: '2'\n"),
        CliCase("max_size_gb: -1", ("cache", "show"), "cache:\n  max_size_gb: -1\n"),
        CliCase("timeout: null", ("cache", "show"), "cache:\n  timeout: null\n"),
        CliCase("timeout: 0", ("cache", "show"), "cache:\n  timeout: 0\n"),
        CliCase(
            "domain timeout: .inf",
            ("cache", "show"),
            "cache:\n  domains:\n    layout:\n      timeout: .inf\n",
        ),
        CliCase("NUL in cache_path", ("cache", "show"), 'cache_path: "/tmp/a\\0b"\n'),
        CliCase("unknown setting", ("cache", "show"), "cache:\n  max_sise_gb: 2\n"),
        CliCase("bad strategy", ("cache", "show"), "cache_strategy: sometimes\n"),
        CliCase(
            "env: timeout=abc", ("cache", "show"), None, (("GLOVEBOX__CACHE__TIMEOUT", "abc"),)
        ),
        CliCase(
            "env: max_size_gb=inf",
            ("cache", "show"),
            None,
            (("GLOVEBOX__CACHE__MAX_SIZE_GB", "inf"),),
        ),
        CliCase("YAML billion laughs (lists)", ("cache", "show"), hostile_yaml_laughs()),
        CliCase("YAML billion laughs (mappings)", ("cache", "show"), hostile_yaml_mapping_laughs()),
        CliCase("YAML 5,000-deep nesting", ("cache", "show"), "a: " + "[" * 5000 + "]" * 5000),
        CliCase("YAML syntax error", ("cache", "show"), "cache: [unclosed\n"),
        CliCase("YAML top level is a list", ("cache", "show"), "- 1\n- 2\n"),
        CliCase("YAML binary garbage", ("cache", "show"), "\x00\x01\x02\xff garbage"),
        CliCase("workspace: malformed key", ("cache", "workspace", "show", "../../etc")),
        CliCase(
            "workspace: repository ../etc", ("cache", "workspace", "show", "-r", "../etc", *sel)
        ),
        CliCase(
            "workspace: repository owner/..", ("cache", "workspace", "show", "-r", "owner/..", *sel)
        ),
        CliCase("workspace: repository ./x", ("cache", "workspace", "show", "-r", "./x", *sel)),
        CliCase(
            "workspace: branch with a space",
            ("cache", "workspace", "show", "-r", "a/b", "--branch", "a b"),
        ),
        CliCase(
            "workspace: branch and revision",
            ("cache", "workspace", "show", "-r", "a/b", "--branch", "m", *sel),
        ),
        CliCase(
            "workspace: add a missing directory",
            ("cache", "workspace", "add", "/nonexistent/ws", "-r", "a/b", *sel),
        ),
        CliCase(
            "workspace: export to .rar",
            ("cache", "workspace", "export", "out.rar", "-r", "a/b", *sel),
        ),
        *[
            CliCase(
                f"workspace: add hostile archive ({label})",
                ("cache", "workspace", "add", str(path), "-r", "a/b", *sel),
            )
            for label, path in archives.items()
        ],
        CliCase("workspace: delete a malformed key", ("cache", "workspace", "delete", "x/../y")),
        CliCase("layout: missing file", ("layout", "/nonexistent/layout.json")),
        CliCase("unknown option", ("cache", "get", "k", "--tgx", "x")),
    ]


def hostile_archives(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    slip = directory / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("ws/ok.c", "x")
        zf.writestr("../../escaped.c", "x")
    found["zip slip"] = slip

    def tar(name: str, *members: tarfile.TarInfo) -> Path:
        path = directory / name
        with tarfile.open(path, "w:gz") as tf:
            for member in members:
                data = b"x" if member.isreg() else None
                member.size = len(data) if data else 0
                tf.addfile(member, io.BytesIO(data) if data else None)
        return path

    link = tarfile.TarInfo("ws/out")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    found["tar symlink out"] = tar("link.tar.gz", link)
    device = tarfile.TarInfo("ws/dev")
    device.type = tarfile.CHRTYPE
    found["tar device"] = tar("dev.tar.gz", device)
    dots = tarfile.TarInfo("ws/../../escaped")
    found["tar dot-dot"] = tar("dots.tar.gz", dots)
    broken = directory / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    found["truncated gzip"] = broken
    return found


# Integrity and damage -------------------------------------------------------------------

READ_ONLY_COMMANDS = (
    ("cache", "workspace", "list"),
    ("cache", "show"),
    ("cache", "stats"),
    ("cache", "keys", "--tag", "compilation"),
    ("cache", "info", "--json"),
    ("cache", "get", "a", "--tag", "compilation"),
)


def _cli(env: dict[str, str], *args: str) -> tuple[int | None, str, str]:
    code, out, err, _ = run([str(GLOVEBOX), *args], env, timeout=CHILD_TIMEOUT)
    return code, out, err


def damage_contained(fig: Figures, base: Path) -> None:
    """garbage in compilation/cache.db: reads report it, a write moves only the database."""
    env = isolated_env(base / "damage-env")
    root = base / "damage-env" / "xdg-cache" / "glovebox"
    _cli(env, "cache", "set", "a", "b", "--tag", "compilation")
    workspace = root / "compilation" / "workspace" / "kept"
    workspace.mkdir(parents=True)
    (workspace / "file").write_text("a cached workspace file\n")
    database = root / "compilation" / "cache.db"
    garbage = os.urandom(database.stat().st_size)
    database.write_bytes(garbage)

    moved, crashed = [], []
    for command in READ_ONLY_COMMANDS:
        code, _, err = _cli(env, *command)
        if code not in (0, 1) or "Traceback" in err:
            crashed.append(" ".join(command))
        if list(root.glob("*.corrupt-*")) or database.read_bytes() != garbage:
            moved.append(" ".join(command))
    fig.add(
        "fault",
        "read-only commands on a damaged cache.db move and write nothing",
        not moved and not crashed,
        f"{len(READ_ONLY_COMMANDS)} commands; moved or wrote: {moved or 'none'}; "
        f"failed: {crashed or 'none'}",
    )

    code, _, err = _cli(env, "cache", "set", "c", "d", "--tag", "compilation")
    aside = sorted(root.glob("compilation.corrupt-*"))
    identical = len(aside) == 1 and (aside[0] / "cache.db").read_bytes() == garbage
    kept = (workspace / "file").is_file()
    fig.add(
        "fault",
        "a write moves only the damaged database aside, byte for byte",
        code == 0 and identical and kept,
        f"exit {code}; quarantined={len(aside)} identical={identical} workspace kept={kept}",
    )
    _, out, _ = _cli(env, "cache", "show", "--json")
    try:
        listed = json.loads(out).get("quarantined", [])
    except json.JSONDecodeError:
        listed = []
    code, _, _ = _cli(env, "cache", "clear", "--all", "--yes")
    left = sorted(root.glob("*.corrupt-*"))
    fig.add(
        "fault",
        "quarantine listed with its size, removed by clear --all",
        len(listed) == 1 and listed[0].get("disk_bytes", 0) > 0 and code == 0 and not left,
        f"listed={len(listed)} ({listed[0].get('disk_bytes') if listed else '-'} bytes); "
        f"left after clear --all={len(left)}",
    )


SIGNED_CHILD = """
import json, sys
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
cache = create_diskcache_manager(sys.argv[2], "layout", settings=CacheSettings(timeout=5))
if sys.argv[1] == "write":
    cache.set("small", {"n": 1})
    cache.set("large", {"blob": "x" * 200_000})
    print(json.dumps({}))
else:
    print(json.dumps({k: cache.get(k) is not None for k in ("small", "large")}))
cache.close()
"""


REJECTED = "verifying the value of key"  # the WARNING of a value that failed verification


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


def forged_values(fig: Figures, base: Path) -> None:
    """An attacker who can write the cache directory replaces pickled values."""
    import pickle
    import sqlite3

    env = isolated_env(base / "forge-env")
    root = base / "forge"
    run(python(SIGNED_CHILD, "write", str(root)), env)
    database = root / "layout" / "cache.db"
    marker = base / "forge-code-ran"
    with sqlite3.connect(database) as conn:
        rows = dict(conn.execute("SELECT key, filename FROM Cache").fetchall())
        conn.execute(
            "UPDATE Cache SET value = ? WHERE key = 'small'", (pickle.dumps(_Evil(marker)),)
        )
    value_file = root / "layout" / str(rows["large"])
    size = value_file.stat().st_size
    value_file.write_bytes(pickle.dumps(_Evil(marker)).ljust(size, b"\0"))
    code, out, err, _ = run(python(SIGNED_CHILD, "read", str(root)), env)
    found = json.loads(out) if code == 0 else {}
    with sqlite3.connect(database) as conn:
        remaining = conn.execute("SELECT COUNT(*) FROM Cache").fetchone()[0]
    if marker.exists() or any(found.values()):
        fig.wrong_values_served += 1
    fig.add(
        "fault",
        "forged pickles in cache.db and a value file (CVE-2025-69872)",
        code == 0
        and not marker.exists()
        and found == {"small": False, "large": False}
        and remaining == 0
        and err.count(REJECTED) >= 2,
        f"code ran={marker.exists()}; served={found}; entries left={remaining}; "
        f"warnings={err.count(REJECTED)}",
    )

    root = base / "forge-copy"
    alice = isolated_env(base / "forge-alice", XDG_STATE_HOME=str(base / "forge-alice-state"))
    bob = isolated_env(base / "forge-bob", XDG_STATE_HOME=str(base / "forge-bob-state"))
    run(python(SIGNED_CHILD, "write", str(root)), alice)
    code, out, _, _ = run(python(SIGNED_CHILD, "read", str(root)), bob)
    found = json.loads(out) if code == 0 else {}
    fig.add(
        "fault",
        "cache root copied to another user without the key",
        code == 0 and found == {"small": False, "large": False},
        f"served={found} (misses expected)",
    )


def redis_second_machine(fig: Figures, base: Path) -> None:
    """A Redis domain named by its variable is known on a machine that never wrote it."""
    from glovebox.testing.redis_server import RedisServer

    try:
        server = RedisServer().start()
    except Exception as exc:  # no redis-server binary: reported, not failed
        fig.skip("fault", "Redis domain known on a second machine", f"no Redis server: {exc}")
        return
    try:
        common = {
            "GLOVEBOX_CACHE_SHARED": "redis",
            "GLOVEBOX_CACHE_REDIS_URL": server.url,
            "GLOVEBOX_CACHE_REDIS_SECRET": "faults-signing-secret-0123456789",
        }
        a = isolated_env(base / "redis-a", **common)
        b = isolated_env(base / "redis-b", **common)
        code_set, _, _ = _cli(a, "cache", "set", "build:1", "x", "--tag", "shared")
        code_get, out, err = _cli(b, "cache", "get", "build:1", "--tag", "shared")
        _, shown, _ = _cli(b, "cache", "show", "--json")
        try:
            tags = {d["tag"] for d in json.loads(shown)["domains"]}
        except (json.JSONDecodeError, KeyError):
            tags = set()
        fig.add(
            "fault",
            "Redis domain known on a second machine (other HOME, same server)",
            code_set == 0 and code_get == 0 and out.strip() == "x" and "shared" in tags,
            f"get exit {code_get} -> {out.strip() or _one_line(err)}; listed={'shared' in tags}",
        )
    finally:
        server.close()


def cli_bad_inputs(fig: Figures, base: Path) -> None:
    area = base / "cli"
    env = isolated_env(area)
    archives = hostile_archives(area / "archives")
    for index, case in enumerate(cli_cases(archives)):
        argv = [str(GLOVEBOX)]
        if case.config is not None:
            config = area / f"config-{index}.yaml"
            config.write_text(case.config, encoding="utf-8", errors="surrogateescape")
            argv += ["--config", str(config)]
        argv += case.args
        code, _, err, seconds = run(argv, dict(env, **dict(case.env)), timeout=30)
        lines = _lines(err)
        usage_panel = bool(lines) and lines[0].startswith("Usage:")
        one_line = len(lines) == 1 or (usage_panel and "Error" in err)
        clean = code == 2 and "Traceback" not in err and one_line and seconds <= CLI_BUDGET
        reasons = [line for line in lines if "Invalid" in line or "No such" in line]
        shown = (reasons or lines or [""])[0].strip("│ ")
        fig.add(
            "bad input",
            f"CLI {case.name}",
            clean,
            f"exit {code}, {len(lines)} stderr line(s), {seconds:.1f} s: {shown}",
        )


# Bad input through the API ---------------------------------------------------------------


class Color(StrEnum):
    RED = "red"


def refused(fig: Figures, name: str, call: Callable[[], Any], words: Sequence[str]) -> None:
    """Record whether ``call`` refuses its input as bad input, naming it in one line."""
    try:
        result = call()
    except (GloveboxError, ValueError, TypeError) as exc:
        # A pydantic model reports a list of errors: each must be one clear line.
        errors = exc.errors() if isinstance(exc, ValidationError) else None
        message = "; ".join(str(e["msg"]) for e in errors) if errors else str(exc)
        named = any(word in message for word in words)
        fig.add(
            "bad input",
            f"API {name}",
            named and "\n" not in message.strip() and len(message) < 400,
            f"{type(exc).__name__}: {message}",
        )
        return
    except Exception as exc:  # refused, but not as bad input: counted as not clean
        fig.add("bad input", f"API {name}", False, f"raised {type(exc).__name__}: {exc}")
        return
    if hasattr(result, "close"):
        result.close()
    fig.add("bad input", f"API {name}", False, f"accepted ({type(result).__name__})")


def api_bad_inputs(fig: Figures, base: Path) -> None:
    root = base / "api"

    def cache_with(**settings: Any) -> Callable[[], Any]:
        return lambda: create_diskcache_manager(root, "api", settings=CacheSettings(**settings))

    for label, value in (
        ("inf", float("inf")),
        ("1e400", 1e400),
        ("nan", float("nan")),
        ("None", None),
        ("'2'", "2"),
        ("0", 0),
    ):
        refused(fig, f"max_size_gb={label}", cache_with(max_size_gb=value), ["max_size_gb"])
    for label, value in (("None", None), ("nan", float("nan")), ("-1", -1.0), ("inf", 1e400)):
        refused(fig, f"timeout={label}", cache_with(timeout=value), ["timeout"])
    for tag in ("GLOBAL", "Global", "", "../x", "a b"):
        refused(fig, f"tag {tag!r}", partial(create_diskcache_manager, root, tag), ["tag"])
    cache = create_diskcache_manager(root, "keys", settings=CacheSettings(timeout=30))
    try:
        refused(fig, "key with a lone surrogate", lambda: cache.set("bad\udcff", 1), ["key"])
        refused(fig, "empty key", lambda: cache.set("", 1), ["key"])
        refused(fig, "1,025-char key", lambda: cache.set("k" * 1025, 1), ["key"])
        refused(fig, "non-str key", lambda: cache.set(42, 1), ["key"])  # type: ignore[arg-type]
        cache.set(Color.RED, "enum")
        cache.set("red", "plain")
        kinds = {type(key).__name__ for key in cache.keys()}
    finally:
        cache.close()
    fresh = create_diskcache_manager(root, "keys", settings=CacheSettings(timeout=30))
    try:
        one_entry = fresh.keys().count("red") == 1 and fresh.get(Color.RED) == "plain"
    finally:
        fresh.close()
    fig.add(
        "bad input",
        "API StrEnum key is the plain string's entry",
        one_entry and kinds == {"str"},
        f"key types on disk {sorted(kinds)}, one entry={one_entry}",
    )


def workspace_bad_inputs(fig: Figures, base: Path) -> None:
    for repository in ("../etc", "../..", "owner/..", "./x", "https://github.com/../etc"):
        refused(
            fig,
            f"repository {repository!r}",
            partial(WorkspaceConfig, repository=repository, revision="v1"),
            ["'.' or '..'"],
        )
    area = base / "api-ws"
    service = workspace_service(area)
    try:
        service.cache_workspace(make_tree(area / "src", 20), ZMK)
        inside = service.root / workspace_key(ZMK) / "tree" / "restored"
        refused(
            fig,
            "restore into an entry's tree",
            lambda: service.restore_workspace(ZMK, inside),
            ["inside the cache"],
        )
        refused(
            fig,
            "restore beside the entries",
            lambda: service.restore_workspace(ZMK, service.root / "restored"),
            ["inside the cache"],
        )
        for label, path in hostile_archives(area / "archives").items():
            refused(
                fig,
                f"import hostile archive ({label})",
                partial(service.import_workspace, path, ZMK),
                ["refused", "not a readable", "escapes"],
            )
        stray = [p.name for p in service.root.iterdir() if p.name.startswith((".stage", "rest"))]
        fig.add("bad input", "API refusals leave no stray entries", not stray, f"strays={stray}")
    finally:
        service.cache.close()


# Size limits ------------------------------------------------------------------------------

SIZE_WRITER = """
import sys
from pathlib import Path
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
root, name, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # all writers start together
cache = create_diskcache_manager(
    root, "shared", settings=CacheSettings(max_size_gb=limit / 1024**3, timeout=30)
)
for index in range(10):
    cache.set(f"{name}-{index}", bytes([index]) * 50_000)
cache.close()
"""

SIZE_RESTORER = """
import sys
from pathlib import Path
from glovebox.compilation.cache import (
    WorkspaceCacheSettings, WorkspaceConfig, ZmkWorkspaceCacheService,
)
from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
cache = create_diskcache_manager(sys.argv[1], "compilation", settings=CacheSettings(timeout=30))
service = ZmkWorkspaceCacheService(cache, Path(sys.argv[2]), WorkspaceCacheSettings(30, 1, False))

def progress(report):
    print("restoring", flush=True)
    sys.stdin.readline()  # the restore stays in progress until the parent says so

config = WorkspaceConfig(repository="zmkfirmware/zmk", revision=sys.argv[3])
service.restore_workspace(config, Path(sys.argv[4]), progress=progress)
"""

_KIB = 1024


def _kib(size: int) -> str:
    return f"{size / _KIB:.0f} KiB"


def _size_row(fig: Figures, name: str, value: str) -> None:
    fig.sizes.append((name, value))


def size_limit_cli_writes(fig: Figures, base: Path) -> None:
    """15 ``glovebox cache set`` calls of 100 KB each under a 0.0005 GB layout limit."""
    area = base / "size-cli"
    env = isolated_env(area)
    config = area / "small.yaml"
    config.write_text("cache:\n  domains:\n    layout:\n      max_size_gb: 0.0005\n")
    failed = []
    for index in range(15):
        with subprocess.Popen(
            [str(GLOVEBOX), "--config", str(config), "cache", "set", f"k{index}", "-",
             "--tag", "layout"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        ) as proc:  # fmt: skip
            _, err = proc.communicate("v" * 100_000, timeout=CHILD_TIMEOUT)
            if proc.returncode != 0:
                failed.append(_one_line(err))
    code, out, err, _ = run(
        [str(GLOVEBOX), "--config", str(config), "cache", "stats", "--tag", "layout", "--json"],
        env,
    )
    if code != 0:
        fig.add("fault", "size limit: 15 CLI writes", False, f"cache stats failed: {err}")
        return
    (domain,) = json.loads(out)["domains"]
    limit, stored = domain["size_limit_bytes"], domain["entries_bytes"]
    held, evictions, entries = domain["disk_bytes"], domain["evictions"], domain["entries"]
    _size_row(fig, "15 CLI writes: limit", _kib(limit))
    _size_row(fig, "15 CLI writes: stored / du", f"{_kib(stored)} / {_kib(held)}")
    _size_row(fig, "15 CLI writes: entries, evictions", f"{entries}, {evictions}")
    fig.add(
        "fault",
        "size limit: 15 CLI writes of 100 KB",
        not failed and stored <= limit and evictions == 15 - entries,
        f"stored {_kib(stored)} of {_kib(limit)} (du {_kib(held)}, 256 KiB of it the space "
        f"reserve), {entries} entries, {evictions} evictions"
        + (f"; {len(failed)} writes failed: {failed[0]}" if failed else ""),
    )


def size_limit_concurrent_writers(fig: Figures, base: Path, processes: int = 8) -> None:
    """Eight processes writing 10 x 50 KB at once under one 600 KB limit."""
    root, limit = base / "size-writers", 600_000
    env = isolated_env(base / "size-writers-env")
    create_diskcache_manager(root, "shared").close()
    procs = [
        subprocess.Popen(
            python(SIZE_WRITER, str(root), f"w{n}", str(limit)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(processes)
    ]
    errors = []
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=CHILD_TIMEOUT)
        if proc.returncode != 0:
            errors.append(_one_line(err))
    cache = create_diskcache_manager(root, "shared")
    stats = cache.get_stats()
    cache.close()
    writes = processes * 10
    _size_row(fig, f"{processes} writer processes: limit", _kib(limit))
    _size_row(fig, f"{processes} writer processes: stored", _kib(stats.size_bytes))
    _size_row(
        fig, f"{processes} writer processes: held, evicted", f"{stats.entries}, {stats.evictions}"
    )
    fig.add(
        "fault",
        f"size limit: {processes} concurrent writer processes",
        not errors and stats.size_bytes <= limit and stats.entries + stats.evictions == writes,
        f"{writes} writes: stored {_kib(stats.size_bytes)} of {_kib(limit)}, "
        f"{stats.entries} held, {stats.evictions} evicted"
        + (f"; {len(errors)} writers failed: {errors[0]}" if errors else ""),
    )


def _size_service(area: Path, limit: int | None) -> ZmkWorkspaceCacheService:
    settings = CacheSettings(timeout=30)
    if limit is not None:
        settings = CacheSettings(timeout=30, max_size_gb=limit / 1024**3)
    cache = create_diskcache_manager(area / "cache", "compilation", settings=settings)
    workspace = WorkspaceCacheSettings(30, 1, False)
    return ZmkWorkspaceCacheService(cache, area / "cache" / "compilation" / "workspace", workspace)


def size_limit_workspaces(fig: Figures, base: Path) -> None:
    """Workspaces evicted least recently used first; one being restored is never evicted."""
    area = base / "size-ws"
    configs = [
        WorkspaceConfig(repository="zmkfirmware/zmk", revision=f"v0.{n}.0") for n in range(4)
    ]
    roomy = _size_service(area, None)
    keys = [
        roomy.cache_workspace(make_tree(area / f"src{n}", 200), configs[n]).entry.key  # type: ignore[union-attr]
        for n in range(3)
    ]
    roomy.restore_workspace(configs[0], area / "used")  # 0 used last: 1 is the oldest use
    roomy.cache.close()
    domain = area / "cache" / "compilation"
    limit = disk_usage(domain) + disk_usage(domain / "workspace" / keys[1]) // 2
    restorer = subprocess.Popen(
        python(SIZE_RESTORER, str(area / "cache"), str(domain / "workspace"), "v0.1.0",
               str(area / "restoring")),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=isolated_env(area / "env"),
    )  # fmt: skip
    assert restorer.stdout is not None
    assert restorer.stdin is not None
    try:
        restorer.stdout.readline()  # the restore of 1 is in progress: its lock is held
        tight = _size_service(area, limit)
        newest = tight.cache_workspace(make_tree(area / "src3", 200), configs[3])
        stored = {entry.key for entry in tight.list_workspaces()}
        evictions = tight.cache.get_stats().evictions
        tight.cache.close()
    finally:
        restorer.stdin.write("\n" * 1000)
        _, restore_err = restorer.communicate(timeout=CHILD_TIMEOUT)
    held = disk_usage(domain)
    expected = {keys[0], keys[1], newest.entry.key if newest else ""}
    _size_row(fig, "workspaces: limit", _kib(limit))
    _size_row(fig, "workspaces: held after the 4th", _kib(held))
    _size_row(fig, "workspaces: evictions", str(evictions))
    fig.add(
        "fault",
        "size limit: workspace cache, least recently used first, a restore in progress kept",
        stored == expected and held <= limit and restorer.returncode == 0,
        f"4 workspaces under {_kib(limit)}: held {_kib(held)}, {evictions} evicted "
        f"(the oldest use, {keys[1][-8:]}, was being restored and stayed: "
        f"{keys[1] in stored}; {keys[2][-8:]} went: {keys[2] not in stored})"
        + (f"; the restore failed: {_one_line(restore_err)}" if restorer.returncode else ""),
    )


# Report ----------------------------------------------------------------------------------


def summary(fig: Figures) -> None:
    faults = [o for o in fig.outcomes if o.category == "fault"]
    bad = [o for o in fig.outcomes if o.category == "bad input"]
    injected = [o for o in faults if not o.skipped]
    survived = [o for o in injected if o.ok]
    refused = [o for o in bad if o.ok and not o.skipped]
    failed = [o for o in fig.outcomes if not o.ok and not o.skipped]
    print()
    print(f"{'figure':<34}{'value':>40}")
    print("-" * 74)
    rows = [
        ("load held", fig.load_shape),
        ("load time", f"{fig.load_seconds:.1f} s"),
        ("writes acknowledged (all cases)", str(fig.writes_acknowledged)),
        ("acknowledged writes lost", str(fig.lost_writes)),
        ("wrong values served", str(fig.wrong_values_served)),
        ("output files damaged", str(fig.outputs_damaged)),
        ("faults injected", str(len(injected))),
        ("faults survived", str(len(survived))),
        ("faults skipped (need root)", str(sum(o.skipped for o in faults))),
        ("bad inputs refused cleanly", f"{len(refused)}/{len(bad)}"),
    ]
    for name, value in rows:
        print(f"{name:<34}{value:>40}")
    if failed:
        print()
        print(f"{len(failed)} case(s) not survived or not refused cleanly:")
        for o in failed:
            print(f"  - {o.category}: {o.name}: {o.detail}")
    if fig.sizes:
        print()
        print(f"{'size limits':<44}{'value':>30}")
        print("-" * 74)
        for name, value in fig.sizes:
            print(f"{name:<44}{value:>30}")
    print()
    print(f"load={fig.load_shape.replace(' ', '')}")
    print(f"writes_acknowledged={fig.writes_acknowledged}")
    print(f"lost_writes={fig.lost_writes}")
    print(f"wrong_values_served={fig.wrong_values_served}")
    print(f"faults_injected={len(injected)}")
    print(f"faults_survived={len(survived)}")
    print(f"bad_inputs_refused={len(refused)}/{len(bad)}")
    print(f"outputs_damaged={fig.outputs_damaged}")
    print(f"data_lost={fig.lost_writes + fig.wrong_values_served + fig.outputs_damaged}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--writes", type=int, default=100, help="writes per thread")
    args = parser.parse_args(argv)
    if min(args.processes, args.threads, args.writes) < 1:
        parser.error("--processes, --threads and --writes must be at least 1")
    fig = Figures()
    logging.disable(logging.WARNING)  # the cases report what the cache logged as it went
    with tempfile.TemporaryDirectory(prefix="glovebox-faults-") as tmp:
        base = Path(tmp)
        # The signing key of this process's caches stays in the campaign's directory.
        os.environ["XDG_STATE_HOME"] = str(base / "state")
        steps: list[tuple[str, Callable[[], None]]] = [
            ("load", lambda: load_held(fig, base, args.processes, args.threads, args.writes)),
            ("SIGKILL", lambda: sigkill_writers(fig, base)),
            ("lock holder", lambda: lock_holder(fig, base)),
            ("corrupt files", lambda: corrupt_files(fig, base)),
            ("truncation", lambda: truncate_under_open_cache(fig, base)),
            ("value files", lambda: truncated_value_file(fig, base)),
            ("full disk", lambda: full_disk(fig, base)),
            ("read-only", lambda: read_only_mount(fig, base)),
            ("non-root", lambda: non_root_user(fig, base)),
            ("Redis down, layout compile", lambda: redis_down_during_compile(fig, base)),
            ("locked, layout compile", lambda: locked_db_during_compile(fig, base)),
            ("full disk, layout output", lambda: full_disk_output(fig, base)),
            ("workspace SIGKILL", lambda: workspace_sigkill(fig, base)),
            ("workspace lock", lambda: workspace_lock_holder(fig, base)),
            ("workspace damage", lambda: workspace_damage(fig, base)),
            ("damage contained", lambda: damage_contained(fig, base)),
            ("forged values", lambda: forged_values(fig, base)),
            ("size limit, CLI writes", lambda: size_limit_cli_writes(fig, base)),
            ("size limit, writer processes", lambda: size_limit_concurrent_writers(fig, base)),
            ("size limit, workspaces", lambda: size_limit_workspaces(fig, base)),
            ("Redis second machine", lambda: redis_second_machine(fig, base)),
            ("API bad input", lambda: api_bad_inputs(fig, base)),
            ("workspace bad input", lambda: workspace_bad_inputs(fig, base)),
            ("CLI bad input", lambda: cli_bad_inputs(fig, base)),
        ]
        for name, step in steps:
            print(f"== {name}", flush=True)
            try:
                step()
            except Exception as exc:  # a case that crashes the campaign is a failed case
                fig.add(
                    "fault",
                    f"{name} (campaign step crashed)",
                    False,
                    f"{type(exc).__name__}: {exc}",
                )
        os.chmod(base, stat.S_IRWXU)
    summary(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
