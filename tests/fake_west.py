"""A stand-in for the ``west`` tool: writes a workspace tree and records every call.

Installed on PATH by the compilation tests (there is no network and no real west). Each
call appends ``{"argv": [...], "cwd": "..."}`` to the JSON-lines file named by
``FAKE_WEST_LOG``. ``FAKE_WEST_FAIL=<subcommand>`` makes that subcommand exit 1.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve()


def install(bin_dir: Path) -> Path:
    """Put an executable ``west`` running this module into ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    west = bin_dir / "west"
    west.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    west.chmod(west.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return west


def calls(log: Path) -> list[list[str]]:
    """The argument vectors (without the program name) recorded so far."""
    if not log.exists():
        return []
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def main(argv: list[str]) -> int:
    cwd = Path.cwd()
    with open(os.environ["FAKE_WEST_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": argv, "cwd": str(cwd)}) + "\n")
    command = argv[0] if argv else ""
    if os.environ.get("FAKE_WEST_FAIL") == command:
        print(f"FATAL ERROR: west {command} failed (simulated)", file=sys.stderr)
        return 1
    if command == "init":
        url, ref, target = argv[argv.index("-m") + 1], argv[argv.index("--mr") + 1], argv[-1]
        west_dir = cwd / target / ".west"
        if west_dir.exists():
            print("FATAL ERROR: already initialized", file=sys.stderr)
            return 1
        west_dir.mkdir(parents=True)
        (west_dir / "config").write_text(f"[manifest]\nurl = {url}\nrevision = {ref}\n")
        return 0
    if command == "update":
        config = (cwd / ".west" / "config").read_text()
        for project in ("zmk/app/src", "zephyr/kernel", "modules/hal/nordic"):
            for index in range(20):
                path = cwd / project / f"f{index}.c"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"/* {config.splitlines()[-1]} */\n")
        (cwd / "zmk" / ".git").mkdir(exist_ok=True)
        (cwd / "zmk" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        return 0
    if command == "build":
        source = cwd / argv[argv.index("-s") + 1]
        if not source.is_dir():
            print(f"FATAL ERROR: source directory {source} does not exist", file=sys.stderr)
            return 1
        board = argv[argv.index("-b") + 1]
        out = cwd / argv[argv.index("-d") + 1] / "zephyr"
        out.mkdir(parents=True, exist_ok=True)
        extra = argv[argv.index("--") + 1 :] if "--" in argv else []
        (out / "zmk.uf2").write_text(f"firmware for {board} {' '.join(extra)}\n")
        return 0
    print(f"fake west: unsupported command {argv!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
