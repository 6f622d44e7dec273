"""Repository strings: hostile paths refused, spellings of one repository keyed as one."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from glovebox.compilation.cache import WorkspaceConfig, workspace_key
from glovebox.compilation.zmk_west_service import create_default_zmk_west_service
from glovebox.testing import IsolatedConfig
from tests import fake_west
from tests.helpers import invoke

DOT_SEGMENTS = [
    "../etc",
    "../..",
    "owner/..",
    "./x",
    "../zmk",
    "owner/.",
    "owner/.git",
    "https://github.com/../etc",
    "https://github.com/owner/../../etc",
    "https://example.org/a/./b",
    "file:///srv/git/../../etc",
    "git@github.com:../etc",
]
ONE_REPOSITORY = [
    "zmkfirmware/zmk",
    "zmkfirmware/zmk.git",
    "zmkfirmware/zmk/",
    "https://github.com/zmkfirmware/zmk",
    "https://github.com/zmkfirmware/zmk/",
    "https://github.com/zmkfirmware/zmk.git",
    "HTTPS://GitHub.com/zmkfirmware/zmk.git/",
]


@pytest.mark.parametrize("repository", DOT_SEGMENTS)
def test_a_dot_segment_in_the_repository_is_refused(repository: str) -> None:
    with pytest.raises(ValidationError, match=r"'\.' or '\.\.'") as caught:
        WorkspaceConfig(repository=repository, revision="v0.3.0")
    assert len(caught.value.errors()) == 1


@pytest.mark.parametrize("repository", ["../etc", "owner/..", "https://github.com/../etc"])
def test_the_cli_refuses_a_dot_segment_in_one_line(
    isolated_config: IsolatedConfig, repository: str
) -> None:
    code, out, err = invoke(
        "cache", "workspace", "show", "--repository", repository, "--revision", "v1"
    )
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "'.' or '..'" in lines[0]
    assert out == ""


@pytest.mark.parametrize("repository", ONE_REPOSITORY)
def test_spellings_of_one_github_repository_share_a_key(repository: str) -> None:
    config = WorkspaceConfig(repository=repository, revision="v0.3.0")
    assert config.repository == "zmkfirmware/zmk"
    assert workspace_key(config) == workspace_key(
        WorkspaceConfig(repository="zmkfirmware/zmk", revision="v0.3.0")
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://gitlab.com/zmk/zmk.git", "https://gitlab.com/zmk/zmk.git"),
        ("HTTPS://GitLab.COM/Zmk/Zmk/", "https://gitlab.com/Zmk/Zmk"),
        ("ssh://Git@Host.Example/x/zmk", "ssh://Git@host.example/x/zmk"),
        ("git@github.com:zmkfirmware/zmk.git", "git@github.com:zmkfirmware/zmk.git"),
        ("file:///srv/git/zmk.git/", "file:///srv/git/zmk.git"),
        ("ZMKfirmware/ZMK", "ZMKfirmware/ZMK"),
    ],
)
def test_other_spellings_stay_distinct_where_the_server_could_tell_them_apart(
    given: str, kept: str
) -> None:
    assert WorkspaceConfig(repository=given, revision="v1").repository == kept


def test_three_spellings_at_one_revision_download_once(
    isolated_config: IsolatedConfig, tmp_path: Path, west_log: Path
) -> None:
    service = create_default_zmk_west_service(
        types.SimpleNamespace(
            cache_path=isolated_config.cache_path,
            cache_strategy="enabled",
            compilation=types.SimpleNamespace(),
        )
    )
    spellings = ["zmkfirmware/zmk", "zmkfirmware/zmk.git", "https://github.com/zmkfirmware/zmk"]
    for index, repository in enumerate(spellings):
        config = WorkspaceConfig(repository=repository, revision="v0.3.0")
        prepared = service.prepare_workspace(config, tmp_path / f"build{index}")
        assert (prepared.path / "zmk" / "app" / "src" / "f0.c").is_file()
    calls = fake_west.calls(west_log)
    assert [argv[0] for argv in calls] == ["init", "update"]
    assert "https://github.com/zmkfirmware/zmk" in calls[0]
