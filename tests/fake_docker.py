"""A stand-in for ``docker`` running the fake ``west`` as an image would, paths unchanged.

``docker run [--rm] [--name N] [--user U] --mount type=bind,source=S,target=T
[--workdir W] [--env K=V] IMAGE west ...`` checks what a real container needs for ZMK
builds (the image is available; the workspace is mounted at its own path, so paths CMake
records stay valid; the working directory lies in the mount) and then runs the fake
west in W. ``docker kill N`` is accepted. Every call is appended to ``FAKE_DOCKER_LOG``.
``FAKE_DOCKER_IMAGES`` (comma-separated) lists the images present; default: ZMK's.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve()
DEFAULT_IMAGES = "zmkfirmware/zmk-build-arm:stable"


def install(bin_dir: Path) -> Path:
    """Put an executable ``docker`` running this module into ``bin_dir``."""
    from tests.fake_west import install_script  # not at the top: this file also runs alone

    return install_script(bin_dir, "docker", SCRIPT)


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def _run(argv: list[str]) -> int:
    options: dict[str, str] = {}
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        flag = argv[index]
        if flag in ("--rm", "-i", "-t", "--init"):
            index += 1
            continue
        options[flag] = argv[index + 1]
        index += 2
    image, command = argv[index], argv[index + 1 :]
    images = os.environ.get("FAKE_DOCKER_IMAGES", DEFAULT_IMAGES).split(",")
    if image not in images:
        print(f"Unable to find image '{image}' locally", file=sys.stderr)
        print("docker: Error response from daemon: pull access denied.", file=sys.stderr)
        return 125
    mount = dict(part.split("=", 1) for part in options["--mount"].split(","))
    if mount["source"] != mount["target"]:
        print("fake docker: mount the workspace at its own path", file=sys.stderr)
        return 126
    workdir = Path(options.get("--workdir", "/"))
    if not str(workdir).startswith(mount["target"]):
        print(f"fake docker: {workdir} is not inside the mounted workspace", file=sys.stderr)
        return 126
    if not command or command[0] != "west":
        print(f"fake docker: this image runs west only, not {command!r}", file=sys.stderr)
        return 127
    sys.path.insert(0, str(SCRIPT.parent.parent))
    from tests import fake_west

    os.chdir(workdir)
    return fake_west.main(command[1:])


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_DOCKER_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": argv, "pid": os.getpid()}) + "\n")
    if argv[:1] == ["run"]:
        return _run(argv[1:])
    if argv[:1] == ["kill"]:
        return 0
    print(f"fake docker: unsupported command {argv!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
