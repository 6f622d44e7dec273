"""``glovebox firmware compile`` end to end through the installed script, with a fake west.

The fake west (tests/fake_west.py) writes real files the way west, CMake and ZMK do, so
these tests check what a user would: which west steps ran, which bytes were written,
which build directory was reused, and what the cache levels hold afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from glovebox.layout import compile_layout
from glovebox.testing import IsolatedConfig
from tests import fake_docker, fake_west
from tests.helpers import CHILD_TIMEOUT, GLOVEBOX, REPO_ROOT, run_glovebox

EXAMPLE = REPO_ROOT / "docs" / "examples" / "glove80-example.json"


@pytest.fixture
def west_env(
    isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Isolated caches, a fake west on PATH, and a refs file for moving branches."""
    monkeypatch.setenv("FAKE_WEST_REFS", str(tmp_path / "refs.json"))
    return west_log


def compile_(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_glovebox("firmware", "compile", *args, env=env)


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = compile_(*args)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def as_json(*args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ok(*args, "--json").stdout)
    return document


def levels() -> dict[str, dict[str, int]]:
    result = run_glovebox("cache", "stats", "--tag", "compilation", "--json")
    assert result.returncode == 0, result.stderr
    found: dict[str, dict[str, int]] = json.loads(result.stdout)["domains"][0]["levels"]
    return found


def builds(log: Path) -> list[list[str]]:
    return [argv for argv in fake_west.calls(log) if argv[0] == "build"]


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_layout_to_firmware_then_served_from_cache_without_west(
    west_env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = ok(str(EXAMPLE), str(out))
    assert fake_west.subcommands(west_env) == ["init", "update", "build", "build"]
    init = fake_west.calls(west_env)[0]
    assert init[init.index("--mf") + 1] == "app/west.yml"
    assert option(init, "-m") == "https://github.com/moergo-sc/zmk"
    assert option(init, "--mr") == "main"
    assert "workspace: downloaded" in first.stdout
    assert "build glove80_lh:" in first.stdout
    assert "build glove80_rh:" in first.stdout

    compiled = compile_layout(EXAMPLE)
    keymap, conf = compiled.keymap.encode(), compiled.conf.encode()
    left = fake_west.uf2_image("glove80_lh", keymap, conf)
    right = fake_west.uf2_image("glove80_rh", keymap, conf)
    assert (out / "glove80-example_lh.uf2").read_bytes() == left
    assert (out / "glove80-example_rh.uf2").read_bytes() == right
    assert (out / "glove80-example.uf2").read_bytes() == left + right
    # ZMK found the keymap under the name it looks for, in an absolute ZMK_CONFIG.
    for argv in builds(west_env):
        config_dir = Path(argv[-1].removeprefix("-DZMK_CONFIG="))
        assert config_dir.is_absolute()
        assert (config_dir / "glove80.keymap").read_bytes() == keymap
        assert "-p" not in argv
    assert levels()["firmware"]["entries"] == 1

    calls_before = fake_west.calls(west_env)
    for target in (out, tmp_path / "elsewhere"):
        second = as_json(str(EXAMPLE), str(target))
        assert second["levels"]["firmware"]["source"] == "cache"
        assert second["artifacts"] == [
            str(target.resolve() / name)
            for name in ("glove80-example.uf2", "glove80-example_lh.uf2", "glove80-example_rh.uf2")
        ]
        assert (target / "glove80-example.uf2").read_bytes() == left + right
    assert fake_west.calls(west_env) == calls_before  # no west at all
    assert "firmware: from cache (" in ok(str(EXAMPLE), str(out)).stdout


def test_a_keymap_change_reuses_the_workspace_and_the_build_directory(
    west_env: Path, tmp_path: Path
) -> None:
    keymap = tmp_path / "mine.keymap"
    keymap.write_text("/ { keymap { base { bindings = <&kp A>; }; }; };\n")
    conf = tmp_path / "mine.conf"
    conf.write_text("CONFIG_ZMK_SLEEP=y\n")
    first = as_json(str(keymap), str(tmp_path / "out"), "--conf", str(conf))
    assert [b["source"] for b in first["levels"]["builds"]] == ["pristine", "pristine"]
    dirs = [option(argv, "-d") for argv in builds(west_env)]

    keymap.write_text("/ { keymap { base { bindings = <&kp B>; }; }; };\n")
    second = as_json(str(keymap), str(tmp_path / "out"), "--conf", str(conf))
    assert second["levels"]["firmware"]["source"] == "built"
    assert second["levels"]["workspace"]["source"] == "reused"
    assert [b["source"] for b in second["levels"]["builds"]] == ["incremental", "incremental"]
    assert fake_west.subcommands(west_env) == ["init", "update"] + ["build"] * 4
    assert [option(argv, "-d") for argv in builds(west_env)[2:]] == dirs  # same directories
    assert second["key"] != first["key"]
    # The incremental build saw the new keymap (ZMK_CONFIG kept its stable path).
    image = fake_west.uf2_image("glove80_lh", keymap.read_bytes(), conf.read_bytes())
    assert (tmp_path / "out" / "mine_lh.uf2").read_bytes() == image
    assert levels()["firmware"]["entries"] == 2


def test_a_moved_branch_refreshed_with_update_gives_a_new_key(
    west_env: Path, tmp_path: Path
) -> None:
    refs = Path(os.environ["FAKE_WEST_REFS"])
    old = fake_west.move_branch(refs, "main")
    first = as_json(str(EXAMPLE), str(tmp_path / "out"))
    assert first["commit"] == old
    new = fake_west.move_branch(refs, "main")
    # Within the branch's TTL and without --update, the recorded commit still serves.
    assert as_json(str(EXAMPLE), str(tmp_path / "out"))["key"] == first["key"]
    refreshed = as_json(str(EXAMPLE), str(tmp_path / "out"), "--update")
    assert refreshed["commit"] == new
    assert refreshed["key"] != first["key"]
    assert refreshed["levels"]["firmware"]["source"] == "built"
    assert fake_west.subcommands(west_env).count("update") == 2
    # The cached workspace was updated (west update fetches what changed), not refetched.
    assert fake_west.subcommands(west_env).count("init") == 1
    assert refreshed["levels"]["workspace"]["source"] == "updated"
    assert levels()["workspaces"]["entries"] == 1  # the entry was replaced by the update
    # The new commit is what later runs are keyed by.
    assert as_json(str(EXAMPLE), str(tmp_path / "out"))["key"] == refreshed["key"]


def test_a_failing_build_prints_the_command_caches_nothing_and_the_next_run_builds(
    west_env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.uf2").write_bytes(b"older firmware")
    keymap = tmp_path / "mine.keymap"
    keymap.write_text("/ { FAKE_COMPILE_ERROR };\n")
    failed = compile_(str(keymap), str(out))
    assert failed.returncode == 1
    assert "west build -s zmk/app -b glove80_lh" in failed.stderr
    assert "FAKE_COMPILE_ERROR is not a behavior" in failed.stderr  # the output's last lines
    assert "Traceback" not in failed.stderr
    assert (out / "mine.uf2").read_bytes() == b"older firmware"
    assert sorted(p.name for p in out.iterdir()) == ["mine.uf2"]
    assert levels()["firmware"]["entries"] == 0

    keymap.write_text("/ { fixed };\n")
    fixed = as_json(str(keymap), str(out))
    assert fixed["levels"]["firmware"]["source"] == "built"
    left = fixed["levels"]["builds"][0]
    assert left["source"] == "pristine"
    assert "interrupted or failed" in left["discarded"]  # the failed directory was not trusted
    assert (out / "mine.uf2").read_bytes() != b"older firmware"


def test_two_identical_builds_at_once_build_once(west_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FAKE_WEST_BUILD_DELAY": "1.5", "COLUMNS": "80"}
    command = [str(GLOVEBOX), "firmware", "compile", str(EXAMPLE)]
    processes = [
        subprocess.Popen(
            [*command, str(tmp_path / f"out{n}"), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    documents = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=CHILD_TIMEOUT)
        assert process.returncode == 0, stderr
        documents.append(json.loads(stdout))
    assert fake_west.subcommands(west_env) == ["init", "update", "build", "build"]
    sources = sorted(d["levels"]["firmware"]["source"] for d in documents)
    assert sources == ["built", "cache after wait"]
    images = [(tmp_path / f"out{n}" / "glove80-example.uf2").read_bytes() for n in range(2)]
    assert images[0] == images[1]


def test_bad_input_never_reaches_west(west_env: Path, tmp_path: Path) -> None:
    bad_layout = tmp_path / "bad.json"
    bad_layout.write_text('{"keyboard": "glove80", "layers": "not a list"}')
    cases: list[tuple[list[str], str]] = [
        ([str(bad_layout), str(tmp_path / "out")], "bad.json"),
        ([str(tmp_path / "missing.json"), str(tmp_path / "out")], "missing.json"),
        ([str(tmp_path / "notes.txt"), str(tmp_path / "out")], ".json or a ZMK .keymap"),
        ([str(EXAMPLE), str(tmp_path / "out"), "--board", "glove 80"], "--board"),
        ([str(EXAMPLE), str(tmp_path / "out"), "--revision", "a..b"], "--revision"),
        ([str(EXAMPLE), str(tmp_path / "out"), "--repository", "not a repo"], "--repository"),
        ([str(EXAMPLE), str(tmp_path / "out"), "--runner", "podman"], "--runner"),
        ([str(EXAMPLE), str(tmp_path / "out"), "--conf", str(EXAMPLE)], "--conf"),
    ]
    (tmp_path / "notes.txt").write_text("hello")
    for args, named in cases:
        result = compile_(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert named in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not west_env.exists()  # west never ran
    assert not (tmp_path / "out").exists()


def _wait_for_build(log: Path, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text().splitlines():
                record: dict[str, Any] = json.loads(line)
                if record["argv"][0] == "build":
                    return record
        time.sleep(0.05)
    raise AssertionError("no west build started")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_an_interrupted_build_leaves_nothing_trusted(
    west_env: Path, tmp_path: Path, how: str
) -> None:
    env = {**os.environ, "FAKE_WEST_BUILD_DELAY": "30"}
    process = subprocess.Popen(
        [str(GLOVEBOX), "firmware", "compile", str(EXAMPLE), str(tmp_path / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    west = _wait_for_build(west_env)
    if how == "sigint":
        process.send_signal(signal.SIGINT)
    else:
        os.killpg(process.pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=CHILD_TIMEOUT)
    if how == "sigint":
        assert process.returncode == 130, stderr
        assert "interrupted" in stderr
        deadline = time.monotonic() + 10
        while _alive(west["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(west["pid"])  # west was stopped with glovebox
    assert not (tmp_path / "out").exists()
    assert levels()["firmware"]["entries"] == 0

    again = as_json(str(EXAMPLE), str(tmp_path / "out"))
    left = again["levels"]["builds"][0]
    assert left["source"] == "pristine"
    assert "interrupted or failed" in left["discarded"]


def test_a_build_over_its_timeout_is_stopped_with_its_children(
    west_env: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("compilation:\n  build_timeout: 1\n")
    env = {"FAKE_WEST_BUILD_DELAY": "30"}
    result = run_glovebox(
        "--config", str(config), "firmware", "compile", str(EXAMPLE), str(tmp_path / "o"), env=env
    )
    assert result.returncode == 1, result.stderr
    assert "timeout" in result.stderr
    assert "compilation.build_timeout" in result.stderr
    west = _wait_for_build(west_env)
    assert not _alive(west["pid"])  # stopped, not left running to its end
    assert not list(tmp_path.glob("isolated/**/zephyr/zmk.uf2"))
    assert levels()["firmware"]["entries"] == 0


def test_docker_runner_mounts_the_workspace_at_its_own_path(
    west_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_docker.install(tmp_path / "bin")
    docker_log = tmp_path / "docker.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(docker_log))
    native = as_json(str(EXAMPLE), str(tmp_path / "native"))
    docker = as_json(str(EXAMPLE), str(tmp_path / "docker"), "--runner", "docker")
    assert docker["key"] != native["key"]  # runner and image are part of the key
    runs = [argv for argv in fake_docker.calls(docker_log) if argv[0] == "run"]
    assert [argv[argv.index("west") + 1] for argv in runs] == ["build", "build"]
    for argv in runs:
        source, target = option(argv, "--mount").split(",")[1:]
        assert source.removeprefix("source=") == target.removeprefix("target=")
        assert "zmkfirmware/zmk-build-arm:stable" in argv
    # A build directory of the native toolchain was not trusted by the docker one.
    assert all(b["discarded"] for b in docker["levels"]["builds"])
    assert (
        as_json(str(EXAMPLE), str(tmp_path / "d2"), "--runner", "docker")["levels"]["firmware"][
            "source"
        ]
        == "cache"
    )

    monkeypatch.setenv("FAKE_DOCKER_IMAGES", "something/else:1")
    (tmp_path / "changed.keymap").write_text("changed")
    missing = compile_(str(tmp_path / "changed.keymap"), str(tmp_path / "x"), "--runner", "docker")
    assert missing.returncode == 1
    assert "docker pull zmkfirmware/zmk-build-arm:stable" in missing.stderr


def test_cache_clear_removes_all_three_levels(west_env: Path, tmp_path: Path) -> None:
    ok(str(EXAMPLE), str(tmp_path / "out"))
    before = levels()
    assert {name: level["entries"] for name, level in before.items()} == {
        "firmware": 1,
        "workspaces": 1,
        "builds": 2,
    }
    assert all(level["bytes"] > 0 for level in before.values())
    cleared = run_glovebox("cache", "clear", "--tag", "compilation", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert "and 1 workspace" in cleared.stdout
    assert "; also 1 firmware entry and 2 build directories" in cleared.stdout
    assert {name: level["entries"] for name, level in levels().items()} == {
        "firmware": 0,
        "workspaces": 0,
        "builds": 0,
    }
    shown = run_glovebox("cache", "show")
    assert "compilation levels: firmware 0" in shown.stdout
    again = as_json(str(EXAMPLE), str(tmp_path / "out"))
    assert again["levels"]["workspace"]["source"] == "downloaded"


def test_builds_of_different_layouts_run_side_by_side(west_env: Path, tmp_path: Path) -> None:
    ok(str(EXAMPLE), str(tmp_path / "warm"))  # the workspace tree exists
    env = {**os.environ, "FAKE_WEST_BUILD_DELAY": "3", "COLUMNS": "80"}
    processes = []
    for name in ("one", "two"):
        keymap = tmp_path / f"{name}.keymap"
        keymap.write_text(f"/ {{ {name} }};\n")
        processes.append(
            subprocess.Popen(
                [str(GLOVEBOX), "firmware", "compile", str(keymap), str(tmp_path / name)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _, stderr = process.communicate(timeout=CHILD_TIMEOUT)
        assert process.returncode == 0, stderr
    later = builds(west_env)[2:]
    assert len(later) == 4
    # One build held slot 0 of each board while the other built: the second took slot 1,
    # so the two were running at the same time, each in a directory of its own.
    slots = sorted(Path(option(argv, "-d")).parent.name for argv in later)
    assert slots == ["slot-0", "slot-0", "slot-1", "slot-1"]
    for name in ("one", "two"):
        image = fake_west.uf2_image("glove80_lh", f"/ {{ {name} }};\n".encode(), b"")
        assert (tmp_path / name / f"{name}_lh.uf2").read_bytes() == image


def test_debug_adds_the_commands_and_piped_output_has_no_spinner(
    west_env: Path, tmp_path: Path
) -> None:
    result = run_glovebox("--debug", "firmware", "compile", str(EXAMPLE), str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "$ west build -s zmk/app -b glove80_lh -d " in result.stderr
    assert "west init -m https://github.com/moergo-sc/zmk" in result.stderr
    quiet = ok(str(EXAMPLE), str(tmp_path / "o"))
    assert "$ west" not in quiet.stderr
    for text in (result.stdout, result.stderr, quiet.stdout, quiet.stderr):
        assert "\r" not in text
    assert result.stdout.splitlines()[0].startswith("workspace: downloaded (")


def test_the_domain_size_limit_covers_the_firmware_and_build_levels(
    west_env: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cache:\n  domains:\n    compilation:\n      max_size_gb: 0.000001\n")
    keymaps = []
    for name in ("one", "two"):
        keymaps.append(tmp_path / f"{name}.keymap")
        keymaps[-1].write_text(f"/ {{ {name} }};\n")
    for keymap in keymaps:
        result = run_glovebox(
            "--config", str(config), "firmware", "compile", str(keymap), str(tmp_path / "o")
        )
        assert result.returncode == 0, result.stderr
    stats = run_glovebox(
        "--config", str(config), "cache", "stats", "--json", "--tag", "compilation"
    )
    found = json.loads(stats.stdout)["domains"][0]["levels"]
    assert found["firmware"]["entries"] == 1  # the older firmware made room for the newer
    assert found["builds"]["entries"] == 2  # the tree in use by the build was kept
    again = run_glovebox(
        "--config", str(config), "firmware", "compile", str(keymaps[1]), str(tmp_path / "o")
    )
    assert "firmware: from cache" in again.stdout


def test_a_missing_tool_is_one_line_saying_what_to_install(west_env: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for runner, expected in (("native", "cannot run 'west'"), ("docker", "install Docker")):
        result = run_glovebox(
            "firmware", "compile", str(EXAMPLE), str(tmp_path / "o"), "--runner", runner,
            env={"PATH": str(empty)},
        )  # fmt: skip
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert expected in errors[0]
        assert "Traceback" not in result.stderr
    assert levels()["firmware"]["entries"] == 0
