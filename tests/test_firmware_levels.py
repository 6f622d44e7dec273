"""The firmware levels in process: the Python API, the store, the build area, the output."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from containers import ApplicationContainer
from glovebox.compilation.build_area import BuildArea, read_commit
from glovebox.compilation.firmware_store import FirmwareStore, firmware_key
from glovebox.compilation.levels import compilation_levels
from glovebox.firmware import (
    FirmwareError,
    FirmwareInputError,
    Phase,
    compile_firmware,
    firmware_names,
    write_firmware,
)
from glovebox.testing import IsolatedConfig
from tests import fake_west
from tests.helpers import REPO_ROOT

EXAMPLE = REPO_ROOT / "docs" / "examples" / "glove80-example.json"

KEY_INPUTS: dict[str, Any] = {
    "keymap": b"keymap",
    "conf": b"CONFIG_X=y\n",
    "boards": ["glove80_lh", "glove80_rh"],
    "repository": "moergo-sc/zmk",
    "commit": "a" * 40,
    "runner": "native",
    "image": None,
    "generator_version": 1,
}


def test_compile_firmware_through_the_container(
    container: ApplicationContainer, west_log: Path, tmp_path: Path
) -> None:
    phases: list[Phase] = []
    first = compile_firmware(EXAMPLE, tmp_path / "out", container=container, on_phase=phases.append)
    assert first.firmware.source == "built"
    assert not first.from_cache
    assert first.workspace is not None
    assert first.workspace.source == "downloaded"
    assert [b.board for b in first.builds] == ["glove80_lh", "glove80_rh"]
    assert [p.name for p in first.artifacts] == firmware_names("glove80-example", first.boards)
    assert all(p.is_absolute() for p in first.artifacts)
    finished = [p.text for p in phases if not p.started]
    assert finished[0].startswith("workspace: downloaded (west init + update")
    assert any(text.startswith("build glove80_rh: ") for text in finished)
    commands = [p.command for p in phases if p.started and p.command]
    assert all("west build -s zmk/app" in command for command in commands)

    second = compile_firmware(EXAMPLE, tmp_path / "again", container=container)
    assert second.from_cache
    assert second.key == first.key
    assert fake_west.subcommands(west_log) == ["init", "update", "build", "build"]
    document = second.as_dict()
    assert document["levels"]["firmware"]["source"] == "cache"
    assert document["artifacts"] == [str(p) for p in second.artifacts]


def test_no_cache_builds_and_stores_nothing(
    container: ApplicationContainer, west_log: Path, tmp_path: Path, isolated_config: IsolatedConfig
) -> None:
    result = compile_firmware(EXAMPLE, tmp_path / "out", container=container, use_cache=False)
    assert result.firmware.source == "not cached"
    again = compile_firmware(EXAMPLE, tmp_path / "out", container=container, use_cache=False)
    assert again.firmware.source == "not cached"
    assert fake_west.subcommands(west_log).count("build") == 4
    levels = {level.name: level for level in compilation_levels(isolated_config.cache_path)}
    assert levels["firmware"].entries == 0
    assert levels["workspaces"].entries == 1  # the download is still reused


def test_the_firmware_key_changes_with_each_input() -> None:
    base = firmware_key(**KEY_INPUTS)
    assert base == firmware_key(**KEY_INPUTS)
    changes: dict[str, Any] = {
        "keymap": b"other",
        "conf": b"",
        "boards": ["glove80_lh"],
        "repository": "zmkfirmware/zmk",
        "commit": "b" * 40,
        "runner": "docker",
        "image": "zmkfirmware/zmk-build-arm:stable",
        "generator_version": 2,
    }
    for name, value in changes.items():
        assert firmware_key(**{**KEY_INPUTS, name: value}) != base, name


def test_a_damaged_firmware_entry_is_a_miss(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path / "firmware")
    key = firmware_key(**KEY_INPUTS)
    entry = store.put(key, {"glove80_lh": b"left", "glove80_rh": b"right"}, {})
    assert entry.images["glove80_lh"].read_bytes() == b"left"
    assert store.get(key, ["glove80_lh", "glove80_rh"]) is not None
    entry.images["glove80_rh"].write_bytes(b"rotten")
    assert store.get(key, ["glove80_lh", "glove80_rh"]) is None
    assert store.get(key, ["glove80_lh", "nice_nano"]) is None
    (tmp_path / "firmware" / key / "entry.json").write_text("{")
    assert store.get(key, ["glove80_lh"]) is None
    assert store.clear() == 1
    assert store.get(key, ["glove80_lh"]) is None


def test_a_build_directory_is_trusted_only_when_ready_for_the_same_identity(
    tmp_path: Path,
) -> None:
    area = BuildArea(tmp_path / "builds")
    identity = {"workspace_entry": "e1", "board": "glove80_lh", "toolchain": "native:-"}
    with area.slot("ws", "glove80_lh", identity, timeout=1) as slot:
        assert not slot.reused
        slot.build_dir.mkdir()
        (slot.build_dir / "CMakeCache.txt").write_text("x")
        slot.mark("ready", identity)
    with area.slot("ws", "glove80_lh", identity, timeout=1) as slot:
        assert slot.reused
        assert (slot.build_dir / "CMakeCache.txt").exists()
        slot.mark("building", identity)  # then the process dies
    with area.slot("ws", "glove80_lh", identity, timeout=1) as slot:
        assert not slot.reused
        assert slot.discarded == "left by an interrupted or failed build"
        assert not slot.build_dir.exists()
        slot.build_dir.mkdir()
        slot.mark("ready", identity)
    for changed in ({"toolchain": "docker:img"}, {"workspace_entry": "e2"}):
        with area.slot("ws", "glove80_lh", {**identity, **changed}, timeout=1) as slot:
            assert not slot.reused
            assert slot.discarded is not None
            assert next(iter(changed)) in slot.discarded
            slot.build_dir.mkdir()
            slot.mark("ready", {**identity, **changed})


def test_builds_at_once_never_share_a_build_directory(tmp_path: Path) -> None:
    area = BuildArea(tmp_path / "builds")
    identity = {"workspace_entry": "e1", "board": "b", "toolchain": "native:-"}
    with (
        area.slot("ws", "b", identity, timeout=1) as one,
        area.slot("ws", "b", identity, timeout=1) as two,
    ):
        assert one.path != two.path
    with area.slot("ws", "b", identity, timeout=1) as again:
        assert again.path == one.path  # slot 0 first: one user's builds reuse one directory


def test_the_commit_is_read_from_a_detached_or_symbolic_head(tmp_path: Path) -> None:
    git = tmp_path / "zmk" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("c" * 40 + "\n")
    assert read_commit(tmp_path / "zmk") == "c" * 40
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("d" * 40 + "\n")
    assert read_commit(tmp_path / "zmk") == "d" * 40
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs\n{'e' * 40} refs/heads/main\n")
    assert read_commit(tmp_path / "zmk") == "e" * 40
    (git / "HEAD").write_text("garbage\n")
    assert read_commit(tmp_path / "zmk") is None


def test_firmware_output_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    images = [("glove80_lh", b"L" * 100), ("glove80_rh", b"R" * 100)]
    written = write_firmware(out, "mine", images)
    assert [p.name for p in written] == ["mine.uf2", "mine_lh.uf2", "mine_rh.uf2"]
    assert (out / "mine.uf2").read_bytes() == b"L" * 100 + b"R" * 100

    real_fsync = os.fsync
    calls = {"n": 0}

    def full_disk(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # the third file does not fit
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(FirmwareError, match="No space left on device"):
        write_firmware(out, "mine", [("glove80_lh", b"new L"), ("glove80_rh", b"new R")])
    assert (out / "mine.uf2").read_bytes() == b"L" * 100 + b"R" * 100  # nothing replaced
    assert (out / "mine_lh.uf2").read_bytes() == b"L" * 100
    assert sorted(p.name for p in out.iterdir()) == ["mine.uf2", "mine_lh.uf2", "mine_rh.uf2"]

    single = write_firmware(tmp_path / "one", "mine", [("nice_nano_v2", b"N")])
    assert [p.name for p in single] == ["mine.uf2"]


def test_bad_inputs_are_refused_before_anything_runs(
    container: ApplicationContainer, west_log: Path, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(FirmwareInputError, match="not a directory"):
        compile_firmware(EXAMPLE, tmp_path / "file", container=container)
    with pytest.raises(FirmwareInputError, match="--board"):
        compile_firmware(EXAMPLE, tmp_path / "o", board="", container=container)
    with pytest.raises(FirmwareInputError, match="keymap file not found"):
        compile_firmware(tmp_path / "none.keymap", tmp_path / "o", container=container)
    assert not west_log.exists()


def test_the_request_index_never_serves_another_request(
    container: ApplicationContainer, west_log: Path, tmp_path: Path, isolated_config: IsolatedConfig
) -> None:
    compile_firmware(EXAMPLE, tmp_path / "out", container=container)
    requests = isolated_config.cache_path / "compilation" / "firmware" / ".requests"
    recorded = [json.loads(p.read_text()) for p in requests.glob("*.json")]
    assert len(recorded) == 1
    assert recorded[0]["repository"] == "moergo-sc/zmk"
    other = compile_firmware(EXAMPLE, tmp_path / "lh", board="glove80_lh", container=container)
    assert other.firmware.source == "built"
    assert other.boards == ("glove80_lh",)
    assert len(list(requests.glob("*.json"))) == 2


def test_compile_firmware_without_a_container_wires_one_from_the_configuration(
    isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path
) -> None:
    first = compile_firmware(EXAMPLE, tmp_path / "out")
    assert first.firmware.source == "built"
    second = compile_firmware(str(EXAMPLE), str(tmp_path / "out"))
    assert second.from_cache
    assert fake_west.subcommands(west_log) == ["init", "update", "build", "build"]
