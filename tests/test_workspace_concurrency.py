"""Concurrent cachers of one key take turns; readers never see a partial or mixed entry."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from glovebox.compilation.cache import ZmkWorkspaceCacheService, workspace_key
from glovebox.core.cache_v2 import reset_shared_cache_instances
from glovebox.testing import IsolatedConfig
from tests.helpers import REPO_ROOT, run_threads
from tests.workspace_helpers import ZMK_V03, make_workspace, service_for, versions_in


def assert_coherent(service: ZmkWorkspaceCacheService, versions: set[str]) -> None:
    """One entry, its directory and metadata agree, its tree is one version, no leftovers."""
    entry = service.get_cached_workspace(ZMK_V03)
    assert entry is not None
    marker = service.store.read_entry_file(entry.key)
    assert marker is not None
    assert marker["entry_id"] == entry.entry_id
    found = versions_in(entry.path)
    assert len(found) == 1
    assert found <= versions
    assert len(list(entry.path.rglob("*.c"))) == 200
    assert [p.name for p in service.root.iterdir() if p.name.startswith(".")] == [".locks"]


class Reader(threading.Thread):
    """Restores the entry over and over while writers replace it; records what it saw."""

    def __init__(self, service: ZmkWorkspaceCacheService, base: Path) -> None:
        super().__init__(daemon=True)
        self.service, self.base = service, base
        self.stop = threading.Event()
        self.seen: list[set[str]] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        count = 0
        while count == 0 or not self.stop.is_set():  # at least one restore, whatever the timing
            count += 1
            out = self.base / f"r{count}"
            try:
                result = self.service.restore_workspace(ZMK_V03, out)
            except BaseException as exc:
                self.errors.append(exc)
                return
            if result is not None:
                self.seen.append(versions_in(out))
                assert len(list(out.rglob("*.c"))) == 200


def test_threads_caching_one_key_take_turns(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    versions = {f"t{i}" for i in range(6)}
    sources = {v: make_workspace(tmp_path / v, v, files=200) for v in versions}
    service.cache_workspace(make_workspace(tmp_path / "seed", "seed", files=200), ZMK_V03)
    reader = Reader(service, tmp_path / "reads")
    reader.start()

    def cache(version: str) -> None:
        service.cache_workspace(sources[version], ZMK_V03, move=version.endswith(("1", "3")))

    try:
        run_threads(cache, over=sorted(versions))  # re-raises what any writer raised
    finally:
        reader.stop.set()
        reader.join(timeout=120)
    assert reader.errors == []
    assert all(len(seen) == 1 for seen in reader.seen), reader.seen  # never a mix
    assert reader.seen  # the reader did restore while writers were at work
    assert_coherent(service, versions)


def test_a_lock_held_by_another_process_makes_the_cacher_wait(
    isolated_config: IsolatedConfig, tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    service.cache_workspace(make_workspace(tmp_path / "seed", "seed", files=200), ZMK_V03)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.workspace_child",
            str(isolated_config.cache_path),
            "-",
            "-",
            "hold",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert holder.stdout.readline() == "LOCKED\n"
    source = make_workspace(tmp_path / "ws", "mine", files=200)
    finished = threading.Event()

    def cache() -> None:
        service.cache_workspace(source, ZMK_V03)
        finished.set()

    worker = threading.Thread(target=cache, daemon=True)
    worker.start()
    # While the other process holds the key: the cacher has not replaced the seed, and
    # cleanup reports the key busy instead of touching it.
    assert not finished.wait(timeout=1.0)
    seed = service.get_cached_workspace(ZMK_V03)
    assert seed is not None
    assert versions_in(seed.path) == {"seed"}
    assert workspace_key(ZMK_V03) in service.cleanup().skipped_busy
    holder.stdin.close()  # the holder releases and exits
    holder.wait(timeout=30)
    holder.stdout.close()
    assert finished.wait(timeout=60)
    assert_coherent(service, {"mine"})


@pytest.mark.slow
def test_processes_caching_one_key_leave_one_coherent_entry(
    isolated_config: IsolatedConfig, tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    service.cache_workspace(make_workspace(tmp_path / "seed", "seed", files=200), ZMK_V03)
    reader = Reader(service, tmp_path / "reads")
    reader.start()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    code = (
        "import sys, types; from pathlib import Path\n"
        "from glovebox.compilation.cache import create_compilation_cache_service\n"
        "from tests.workspace_helpers import ZMK_V03, make_workspace\n"
        "cfg = types.SimpleNamespace(cache_path=Path(sys.argv[1]), cache_strategy='enabled')\n"
        "_, service = create_compilation_cache_service(cfg)\n"
        "ws = make_workspace(Path(sys.argv[2]), sys.argv[3], files=200)\n"
        "service.cache_workspace(ws, ZMK_V03, move=sys.argv[3].endswith('1'))\n"
    )
    versions = {f"p{i}" for i in range(4)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(isolated_config.cache_path), str(tmp_path / v), v],
            env=env,
            cwd=REPO_ROOT,
        )
        for v in sorted(versions)
    ]
    assert [child.wait(timeout=120) for child in children] == [0] * len(children)
    reader.stop.set()
    reader.join(timeout=120)
    assert reader.errors == []
    assert all(len(seen) == 1 for seen in reader.seen), reader.seen
    reset_shared_cache_instances()
    assert_coherent(service_for(isolated_config), versions)


def test_holding_a_workspace_lets_this_thread_in_and_keeps_others_out(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    source = make_workspace(tmp_path / "ws", "held", files=200)
    other_done = threading.Event()

    def other() -> None:
        service.restore_workspace(ZMK_V03, tmp_path / "other")
        other_done.set()

    with service.hold(ZMK_V03):
        assert service.cache_workspace(source, ZMK_V03) is not None  # re-entrant: no deadlock
        assert service.restore_workspace(ZMK_V03, tmp_path / "mine") is not None
        worker = threading.Thread(target=other, daemon=True)
        worker.start()
        assert not other_done.wait(timeout=1.0)  # another thread waits for the holder
    assert other_done.wait(timeout=60)
    assert versions_in(tmp_path / "other") == {"held"}
