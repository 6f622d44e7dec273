"""A process SIGKILLed anywhere while caching leaves the old entry, the new one, or none.

Real child processes replace a cached workspace and are killed with SIGKILL at chosen
points (during the copy, between the two renames, between rename and metadata, after
the metadata). The parent then checks what a reader sees and that cleanup() removes
everything the killed process left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from glovebox.compilation.cache import ZmkWorkspaceCacheService
from glovebox.core.cache_v2 import reset_shared_cache_instances
from glovebox.testing import IsolatedConfig
from tests.helpers import REPO_ROOT
from tests.workspace_helpers import ZMK_V03, make_workspace, service_for, versions_in


def spawn(cache_path: Path, source: Path, version: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.workspace_child",
            str(cache_path),
            str(source),
            version,
            mode,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )


def kill_when_paused(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == "PAUSED\n", f"child did not reach its pause point: {line!r} {child.stderr}"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream is not None:
            stream.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("copying", "old"),
        ("after_trash", None),
        ("after_publish", None),
        ("before_purge", "new"),
    ],
)
def test_sigkill_while_replacing_leaves_old_new_or_nothing(
    isolated_config: IsolatedConfig,
    tmp_path: Path,
    point: str,
    expected: str | None,
    service: ZmkWorkspaceCacheService,
) -> None:
    assert service.cache_workspace(make_workspace(tmp_path / "old", "old", files=300), ZMK_V03)
    reset_shared_cache_instances()
    kill_when_paused(spawn(isolated_config.cache_path, tmp_path / "new", "new", point))

    service = service_for(isolated_config)
    entry = service.get_cached_workspace(ZMK_V03)
    if expected is None:
        assert entry is None
    else:
        assert entry is not None
        assert versions_in(entry.path) == {expected}
        out = tmp_path / "restored"
        assert service.restore_workspace(ZMK_V03, out) is not None
        assert versions_in(out) == {expected}
        assert len(list(out.rglob("*.c"))) == 300

    result = service.cleanup()
    assert not result.skipped_busy  # the dead process's lock was released by the kernel
    leftovers = [p.name for p in service.root.iterdir() if p.name.startswith((".stage", ".trash"))]
    assert leftovers == []
    if point == "after_publish":  # published directory never got its metadata: orphan
        assert result.expired_or_orphaned != []
    assert (service.get_cached_workspace(ZMK_V03) is None) == (expected is None)
    # The next writer is not blocked by anything the dead one left.
    again = service.cache_workspace(make_workspace(tmp_path / "next", "next", files=5), ZMK_V03)
    assert again is not None
    assert versions_in(again.entry.path) == {"next"}


@pytest.mark.slow
def test_a_killed_first_cacher_leaves_nothing_that_reads_as_cached(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    kill_when_paused(spawn(isolated_config.cache_path, tmp_path / "new", "new", "copying"))
    service = service_for(isolated_config)
    assert service.get_cached_workspace(ZMK_V03) is None
    assert service.list_workspaces() == []
    assert len(service.cleanup().leftovers) == 1
    assert [p.name for p in service.root.iterdir()] == [".locks"]
