"""The compilation service: west through an adapter, with the workspace cache in between.

A fake ``west`` on PATH writes a workspace and records each call, so the tests see exactly
which west steps ran: a cache miss runs init and update, a hit runs neither.
"""

from __future__ import annotations

import threading
import types
from pathlib import Path

import pytest

from glovebox.compilation.cache import RestoreStrategy, WorkspaceConfig, compilation_settings
from glovebox.compilation.west_adapter import (
    DockerWestAdapter,
    NativeWestAdapter,
    WestCommandError,
    WestCommands,
    create_west_adapter,
    repository_url,
)
from glovebox.compilation.zmk_west_service import (
    CompilationServiceProtocol,
    ZmkWestService,
    create_default_zmk_west_service,
)
from glovebox.errors import ConfigError, WorkspaceError
from glovebox.testing import IsolatedConfig
from tests import fake_west
from tests.helpers import run_threads
from tests.workspace_helpers import ZMK_MAIN, ZMK_V03

BOARD = "nice_nano_v2"


def subcommands(log: Path) -> list[str]:
    return [argv[0] for argv in fake_west.calls(log)]


def make_service(paths: IsolatedConfig, **compilation: object) -> ZmkWestService:
    user_config = types.SimpleNamespace(
        cache_path=paths.cache_path,
        cache_strategy=paths.cache_strategy,
        compilation=types.SimpleNamespace(**compilation),
    )
    return create_default_zmk_west_service(user_config)


def test_native_command_lines() -> None:
    commands = WestCommands()
    assert commands.init(ZMK_V03) == [
        "west", "init", "-m", "https://github.com/zmkfirmware/zmk", "--mr", "v0.3.0",
        "--mf", "app/west.yml", ".",
    ]  # fmt: skip
    assert commands.update() == ["west", "update", "--fetch-opt=--filter=tree:0"]
    assert commands.build(BOARD, "build", shield="corne_left", config_dir="/cfg") == [
        "west", "build", "-s", "zmk/app", "-b", BOARD, "-d", "build",
        "--", "-DSHIELD=corne_left", "-DZMK_CONFIG=/cfg",
    ]  # fmt: skip
    assert commands.build(BOARD, "out") == [
        "west", "build", "-s", "zmk/app", "-b", BOARD, "-d", "out",
    ]  # fmt: skip
    adapter = NativeWestAdapter()
    assert adapter.command_line(commands.update(), Path("/ws")) == commands.update()


def test_docker_command_line_mounts_the_workspace_and_runs_as_the_user(tmp_path: Path) -> None:
    adapter = DockerWestAdapter(image="zmkfirmware/zmk-build-arm:3.5", uid=1000, gid=100)
    assert adapter.command_line(["west", "update"], tmp_path) == [
        "docker", "run", "--rm",
        "--user", "1000:100",
        "--mount", f"type=bind,source={tmp_path.resolve()},target={tmp_path.resolve()}",
        "--workdir", str(tmp_path.resolve()),
        "--env", f"HOME={tmp_path.resolve()}/.home",
        "zmkfirmware/zmk-build-arm:3.5",
        "west", "update",
    ]  # fmt: skip


def test_repository_urls() -> None:
    assert repository_url("zmkfirmware/zmk") == "https://github.com/zmkfirmware/zmk"
    assert repository_url("https://example.org/zmk.git") == "https://example.org/zmk.git"
    assert repository_url("git@github.com:me/zmk.git") == "git@github.com:me/zmk.git"


def test_adapter_is_chosen_by_the_user_config() -> None:
    def config(**fields: object) -> types.SimpleNamespace:
        return types.SimpleNamespace(compilation=types.SimpleNamespace(**fields))

    def adapter(user_config: object) -> object:
        return create_west_adapter(compilation_settings(user_config))

    assert isinstance(adapter(types.SimpleNamespace()), NativeWestAdapter)
    docker = adapter(config(west_runner="docker", docker_image="my/image:1"))
    assert isinstance(docker, DockerWestAdapter)
    assert docker.image == "my/image:1"
    with pytest.raises(ConfigError, match=r"compilation\.west_runner.*'native' or 'docker'"):
        adapter(config(west_runner="podman"))


def test_first_build_downloads_and_caches_second_build_skips_west_update(
    isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path
) -> None:
    service = make_service(isolated_config)
    assert isinstance(service, CompilationServiceProtocol)
    first = service.compile(ZMK_V03, tmp_path / "build1", board=BOARD, shield="corne_left")
    assert subcommands(west_log) == ["init", "update", "build"]
    assert first.workspace.source == "west"
    assert [a.name for a in first.artifacts] == ["zmk.uf2"]
    assert b"corne_left" in first.artifacts[0].read_bytes()
    assert service.workspace_service.get_cached_workspace(ZMK_V03) is not None

    second = service.compile(ZMK_V03, tmp_path / "build2", board=BOARD)
    assert subcommands(west_log) == ["init", "update", "build", "build"]  # no init, no update
    assert second.workspace.source == "cache"
    assert second.workspace.restore is not None
    assert second.workspace.restore.used is RestoreStrategy.COPY
    assert (tmp_path / "build2" / "zmk" / "app" / "src" / "f0.c").is_file()
    assert second.artifacts == [tmp_path / "build2" / "build" / "zephyr" / "zmk.uf2"]


@pytest.mark.usefixtures("west_log")
def test_the_build_directory_of_a_restored_workspace_is_not_cached(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    service = make_service(isolated_config, workspace_restore_strategy="hardlink")
    service.compile(ZMK_V03, tmp_path / "one", board=BOARD)
    second = service.compile(ZMK_V03, tmp_path / "two", board=BOARD)
    assert second.workspace.restore is not None
    assert second.workspace.restore.used is RestoreStrategy.HARDLINK
    entry = service.workspace_service.get_cached_workspace(ZMK_V03)
    assert entry is not None  # still valid: the builds wrote only into build/
    assert not (entry.path / "build").exists()


def test_different_revisions_get_their_own_workspace(
    isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path
) -> None:
    service = make_service(isolated_config)
    service.prepare_workspace(ZMK_V03, tmp_path / "a")
    service.prepare_workspace(ZMK_MAIN, tmp_path / "b")
    service.prepare_workspace(ZMK_V03, tmp_path / "c")
    assert subcommands(west_log) == ["init", "update", "init", "update"]
    assert "revision = main" in (tmp_path / "b" / ".west" / "config").read_text()
    assert "revision = v0.3.0" in (tmp_path / "c" / ".west" / "config").read_text()


def test_with_the_compilation_cache_disabled_every_build_downloads(
    isolated_config: IsolatedConfig,
    west_log: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_COMPILATION", "disabled")
    service = make_service(isolated_config)
    first = service.prepare_workspace(ZMK_V03, tmp_path / "a")
    service.prepare_workspace(ZMK_V03, tmp_path / "b")
    assert subcommands(west_log) == ["init", "update", "init", "update"]
    assert first.restore is None
    assert (tmp_path / "a" / "zmk" / "app" / "src" / "f0.c").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.usefixtures("west_log")
def test_a_failing_west_update_caches_nothing_and_leaves_nothing(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WEST_FAIL", "update")
    service = make_service(isolated_config)
    with pytest.raises(WestCommandError, match=r"(?s)west update.*exit code 1.*simulated") as info:
        service.prepare_workspace(ZMK_V03, tmp_path / "out" / "ws")
    assert info.value.returncode == 1
    assert service.workspace_service.get_cached_workspace(ZMK_V03) is None
    assert list((tmp_path / "out").iterdir()) == []


def test_a_missing_west_executable_is_a_clear_error(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    service = make_service(isolated_config)
    service.adapter = NativeWestAdapter(WestCommands(str(tmp_path / "no-such-west")))
    with pytest.raises(WorkspaceError, match="not found on PATH"):
        service.prepare_workspace(ZMK_V03, tmp_path / "ws")


def test_bad_restore_strategy_setting_is_a_config_error(isolated_config: IsolatedConfig) -> None:
    with pytest.raises(ConfigError, match=r"compilation\.workspace_restore_strategy"):
        make_service(isolated_config, workspace_restore_strategy="symlink")


def test_a_custom_manifest_is_part_of_the_identity(
    isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path
) -> None:
    service = make_service(isolated_config)
    custom = WorkspaceConfig(
        repository="zmkfirmware/zmk", revision="v0.3.0", manifest_hash="ab" * 32
    )
    service.prepare_workspace(ZMK_V03, tmp_path / "a")
    service.prepare_workspace(custom, tmp_path / "b")
    assert subcommands(west_log) == ["init", "update", "init", "update"]


def test_concurrent_builds_of_one_workspace_download_it_once(
    isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path
) -> None:
    service = make_service(isolated_config)
    start = threading.Barrier(3)
    results: dict[str, str] = {}

    def build(name: str) -> None:
        start.wait()
        results[name] = service.prepare_workspace(ZMK_V03, tmp_path / name).source

    run_threads(build, over=("a", "b", "c"))  # re-raises what any build raised
    assert subcommands(west_log) == ["init", "update"]
    assert sorted(results.values()) == ["cache", "cache", "west"]
    for name in ("a", "b", "c"):
        assert (tmp_path / name / "zmk" / "app" / "src" / "f0.c").is_file()


def test_bad_download_timeout_setting_is_a_config_error(isolated_config: IsolatedConfig) -> None:
    with pytest.raises(ConfigError, match=r"compilation\.workspace_download_timeout"):
        make_service(isolated_config, workspace_download_timeout=0)


def test_refresh_updates_a_copy_of_the_cached_workspace_and_replaces_the_entry(
    isolated_config: IsolatedConfig,
    west_log: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_WEST_REFS", str(tmp_path / "refs.json"))
    service = make_service(isolated_config)
    main = WorkspaceConfig(repository="zmkfirmware/zmk", branch="main")
    first = service.prepare_workspace(main, tmp_path / "one")
    old_entry = service.workspace_service.get_cached_workspace(main)
    assert old_entry is not None
    moved = fake_west.move_branch(tmp_path / "refs.json", "main")
    refreshed = service.refresh_workspace(main, tmp_path / "two")
    assert subcommands(west_log) == ["init", "update", "update"]
    assert refreshed.commit == moved != first.commit
    new_entry = service.workspace_service.get_cached_workspace(main)
    assert new_entry is not None
    assert new_entry.entry_id != old_entry.entry_id
    assert (new_entry.path / ".glovebox" / "zmk-commit").read_text().strip() == moved
    assert not list(tmp_path.glob(".two.update-*"))  # the scratch copy is gone

    without_git = make_service(isolated_config, workspace_exclude_git=True)
    again = without_git.refresh_workspace(main, tmp_path / "three")
    assert subcommands(west_log)[3:] == ["init", "update"]  # west update needs .git: refetched
    assert again.commit == moved
