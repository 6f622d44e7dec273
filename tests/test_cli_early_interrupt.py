"""Ctrl-C at any moment of start-up: one line at most and exit code 130, never a traceback.

SIGINT is sent to the installed ``glovebox`` script at several delays after it starts,
covering the imports of the command line, the container's start and the command. The
interpreter's own start-up (``site`` and ``.pth`` files, before any Glovebox code runs)
is outside the program: a signal that lands there is either the default action (killed
by SIGINT, which a shell reports as 130) or Python's own report, which names no
Glovebox file; those runs are counted apart and must stay a minority.
"""

from __future__ import annotations

import signal
import subprocess
import time

from glovebox.testing import IsolatedConfig
from tests.helpers import CHILD_TIMEOUT, GLOVEBOX

DELAYS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3)


def interrupted_after(delay: float, *args: str) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [str(GLOVEBOX), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=CHILD_TIMEOUT)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def before_glovebox_code(stderr: str) -> bool:
    """A traceback from the interpreter's start-up, with no frame in Glovebox's code."""
    return "Traceback" in stderr and "/glovebox/" not in stderr and "/containers/" not in stderr


def test_ctrl_c_during_start_up_is_one_line_and_130(isolated_config: IsolatedConfig) -> None:
    reached = 0
    for _ in range(2):
        for delay in DELAYS:
            result = interrupted_after(delay, "cache", "get", "some-key")
            if before_glovebox_code(result.stderr):
                continue
            lines = result.stderr.strip().splitlines()
            assert len(lines) <= 1, (delay, result.stderr)
            if lines and lines[0].startswith("error: miss:"):
                continue  # the command had already answered (a late signal ends it quietly)
            assert result.returncode in (130, -signal.SIGINT), (delay, result.stderr)
            if lines:
                assert lines == ["glovebox: interrupted"], (delay, result.stderr)
                reached += 1
    assert reached >= len(DELAYS) // 2, "too few runs were interrupted inside glovebox"
