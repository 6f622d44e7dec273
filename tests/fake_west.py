"""A stand-in for the ``west`` tool that behaves like it as far as files go.

Installed on PATH by the compilation tests (there is no network and no real west):

- ``west init -m URL --mr REF [--mf app/west.yml] DIR`` creates ``DIR/.west/config`` and
  the manifest repository ``DIR/zmk`` (with ``app/west.yml`` and a ``.git`` whose HEAD is
  the commit REF resolves to).
- ``west update`` (in the workspace top) fetches the projects: ``zephyr/``, ``modules/``
  and ``zmk/app`` sources of a realistic shape (``FAKE_WEST_FILES`` files per project,
  ``FAKE_WEST_FILE_BYTES`` bytes each), after a simulated download of
  ``FAKE_WEST_DOWNLOAD_DELAY`` seconds, and checks ``zmk`` out at the commit the ref
  resolves to *now* (detached HEAD, as west leaves it).
- ``west build -s SRC -b BOARD -d DIR [-p] [-- -DZMK_CONFIG=ABS ...]`` behaves like CMake
  and ZMK: ``DIR/CMakeCache.txt`` ties the directory to its source and its own path (a
  moved or foreign build directory is refused), the first ``ZMK_CONFIG`` is kept across
  incremental builds, the keymap is read from ``<board>.keymap`` or ``<base>.keymap``
  there, and ``DIR/zephyr/zmk.uf2`` is written with bytes that depend on the board,
  keymap and conf. A keymap containing ``FAKE_COMPILE_ERROR`` fails like a compiler
  error. ``FAKE_WEST_BUILD_DELAY`` seconds are spent before the image is written
  (``FAKE_WEST_INCREMENTAL_DELAY``, when set, for an incremental build).

Every call appends ``{"argv": [...], "cwd": "...", "pid": N}`` to ``FAKE_WEST_LOG``.
``FAKE_WEST_FAIL=<subcommand>`` makes that subcommand exit 1. A branch "moves" with
:func:`move_branch`: refs resolve through the JSON file ``FAKE_WEST_REFS`` when set
(``{"main": "<sha>"}``), else to a commit derived from the URL and ref.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
UF2_BLOCK = 512


def install(bin_dir: Path) -> Path:
    """Put an executable ``west`` running this module into ``bin_dir``."""
    return install_script(bin_dir, "west", SCRIPT)


def install_script(bin_dir: Path, name: str, script: Path) -> Path:
    """Put an executable ``name`` into ``bin_dir`` that runs the module ``script`` as
    ``__main__`` with this interpreter; returns it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / name
    program.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return program


def calls(log: Path) -> list[list[str]]:
    """The argument vectors (without the program name) recorded so far."""
    if not log.exists():
        return []
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def subcommands(log: Path) -> list[str]:
    """The west subcommands recorded so far (``["init", "update", "build", ...]``)."""
    return [argv[0] for argv in calls(log) if argv]


def move_branch(refs_file: Path, ref: str, *, seed: str = "") -> str:
    """Make ``ref`` resolve to a new commit (as a push to the branch would); returns it."""
    refs = json.loads(refs_file.read_text()) if refs_file.exists() else {}
    commit = hashlib.sha1(f"{ref}:{refs.get(ref)}:{seed}:{time.time_ns()}".encode()).hexdigest()
    refs[ref] = commit
    refs_file.write_text(json.dumps(refs))
    return commit


def uf2_image(board: str, keymap: bytes, conf: bytes, shield: str = "") -> bytes:
    """The image the fake build writes: UF2-shaped blocks derived from its inputs."""
    target = f"{board} {shield}".strip().encode()
    digest = hashlib.sha256(target + b"\0" + keymap + b"\0" + conf).digest()
    blocks = []
    for number in range(4):
        header = b"UF2\n" + target[:40].ljust(40, b"\0") + number.to_bytes(4, "little")
        body = (digest * (UF2_BLOCK // len(digest) + 1))[: UF2_BLOCK - len(header)]
        blocks.append(header + body)
    return b"".join(blocks)


def _resolve(url: str, ref: str) -> str:
    refs_file = os.environ.get("FAKE_WEST_REFS")
    if refs_file and Path(refs_file).exists():
        commit = json.loads(Path(refs_file).read_text()).get(ref)
        if isinstance(commit, str):
            return commit
    if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
        return ref
    return hashlib.sha1(f"{url}@{ref}".encode()).hexdigest()


def _checkout(zmk: Path, url: str, ref: str) -> None:
    git = zmk / ".git"
    git.mkdir(parents=True, exist_ok=True)
    (git / "HEAD").write_text(_resolve(url, ref) + "\n")  # detached, as west leaves it


def _manifest(top: Path) -> tuple[str, str]:
    config = (top / ".west" / "config").read_text().splitlines()
    values = dict(line.split(" = ", 1) for line in config if " = " in line)
    return values["url"], values["revision"]


def _init(argv: list[str], cwd: Path) -> int:
    url, ref = argv[argv.index("-m") + 1], argv[argv.index("--mr") + 1]
    manifest_file = argv[argv.index("--mf") + 1] if "--mf" in argv else "west.yml"
    top = (cwd / argv[-1]).resolve()
    if (top / ".west").exists():
        print(f"FATAL ERROR: already initialized in {top}", file=sys.stderr)
        return 1
    (top / ".west").mkdir(parents=True)
    (top / ".west" / "config").write_text(
        f"[manifest]\npath = zmk\nfile = {manifest_file}\nurl = {url}\nrevision = {ref}\n"
    )
    manifest = top / "zmk" / manifest_file
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text("manifest:\n  projects:\n    - name: zephyr\n    - name: hal_nordic\n")
    _checkout(top / "zmk", url, ref)
    print(f'=== Initialized. Now run "west update" inside {top}.')
    return 0


def _update(cwd: Path) -> int:
    url, ref = _manifest(cwd)
    time.sleep(float(os.environ.get("FAKE_WEST_DOWNLOAD_DELAY", "0")))
    files = int(os.environ.get("FAKE_WEST_FILES", "20"))
    size = int(os.environ.get("FAKE_WEST_FILE_BYTES", "64"))
    for project in ("zmk/app/src", "zephyr/kernel", "modules/hal/nordic"):
        for index in range(files):
            path = cwd / project / f"f{index}.c"
            path.parent.mkdir(parents=True, exist_ok=True)
            text = f"/* {project} {index} from {url}@{ref} */\n"
            path.write_text(text + "x" * max(0, size - len(text)))
    (cwd / "zmk" / "app" / "CMakeLists.txt").write_text("project(zmk)\n")
    _checkout(cwd / "zmk", url, ref)
    print(f"=== updating zephyr, hal_nordic ({url} @ {ref})")
    return 0


def _cmake_cache(build_dir: Path) -> dict[str, str]:
    cache = build_dir / "CMakeCache.txt"
    if not cache.exists():
        return {}
    return dict(line.split("=", 1) for line in cache.read_text().splitlines() if "=" in line)


def _config_file(config_dir: Path, board: str, suffix: str) -> bytes:
    base = board.removesuffix("_lh").removesuffix("_rh")
    for name in (f"{board}{suffix}", f"{base}{suffix}"):
        if (config_dir / name).is_file():
            return (config_dir / name).read_bytes()
    return b""


def _build(argv: list[str], cwd: Path) -> int:
    source = (cwd / argv[argv.index("-s") + 1]).resolve()
    if not source.is_dir():
        print(f"FATAL ERROR: source directory {source} does not exist", file=sys.stderr)
        return 1
    board = argv[argv.index("-b") + 1]
    build_dir = (cwd / argv[argv.index("-d") + 1]).resolve()
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    defines = dict(item[2:].split("=", 1) for item in extra if item.startswith("-D"))
    cache = _cmake_cache(build_dir)
    pristine = "-p" in argv and argv[argv.index("-p") + 1 : argv.index("-p") + 2] != ["never"]
    if cache and not pristine:
        if cache["CMAKE_HOME_DIRECTORY"] != str(source) or cache["BUILD_DIR"] != str(build_dir):
            print(
                f"CMake Error: The current CMakeCache.txt directory {build_dir / 'CMakeCache.txt'}"
                f" is different than the directory {cache['BUILD_DIR']} where CMakeCache.txt "
                "was created, or the source does not match the source used to generate it "
                f"({cache['CMAKE_HOME_DIRECTORY']}).",
                file=sys.stderr,
            )
            return 1
        if cache["BOARD"] != board:
            pristine = True  # -p auto: a new board means a pristine build
    if pristine or not cache:
        kind = "pristine"
        if build_dir.exists():
            for path in sorted(build_dir.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
        build_dir.mkdir(parents=True, exist_ok=True)
        config_dir = defines.get("ZMK_CONFIG", "")
        (build_dir / "CMakeCache.txt").write_text(
            f"CMAKE_HOME_DIRECTORY={source}\nBUILD_DIR={build_dir}\nBOARD={board}\n"
            f"ZMK_CONFIG={config_dir}\n"
        )
    else:
        kind = "incremental"
        config_dir = cache["ZMK_CONFIG"]  # CMake keeps the first value
    keymap = _config_file(Path(config_dir), board, ".keymap") if config_dir else b""
    conf = _config_file(Path(config_dir), board, ".conf") if config_dir else b""
    if b"FAKE_COMPILE_ERROR" in keymap:
        print(f"-- Board: {board}\n[12/180] Building C object keymap.c.obj")
        print(f"{config_dir}/glove80.keymap:3:1: error: FAKE_COMPILE_ERROR is not a behavior")
        print("ninja: build stopped: subcommand failed.")
        return 1
    delay = os.environ.get("FAKE_WEST_BUILD_DELAY", "0")
    if kind == "incremental":
        delay = os.environ.get("FAKE_WEST_INCREMENTAL_DELAY", delay)
    time.sleep(float(delay))
    out = build_dir / "zephyr"
    out.mkdir(parents=True, exist_ok=True)
    image = uf2_image(board, keymap, conf, defines.get("SHIELD", ""))
    temporary = out / "zmk.uf2.tmp"
    temporary.write_bytes(image)
    temporary.replace(out / "zmk.uf2")
    print(f"-- Board: {board}\n[{kind} build] Wrote {len(image)} bytes to zmk.uf2")
    return 0


def main(argv: list[str]) -> int:
    cwd = Path.cwd()
    record = {"argv": argv, "cwd": str(cwd), "pid": os.getpid()}
    with open(os.environ["FAKE_WEST_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    command = argv[0] if argv else ""
    if os.environ.get("FAKE_WEST_FAIL") == command:
        print(f"FATAL ERROR: west {command} failed (simulated)", file=sys.stderr)
        return 1
    if command == "init":
        return _init(argv, cwd)
    if command == "update":
        return _update(cwd)
    if command == "build":
        return _build(argv, cwd)
    print(f"fake west: unsupported command {argv!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
