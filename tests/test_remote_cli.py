"""``glovebox cache remote ...`` and the remote tier in ``cache show``/``info``, run as the
installed console script against the real SeaweedFS server, and the remote settings'
one-line errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from glovebox.cli.remote import parse_age
from glovebox.testing import IsolatedConfig
from tests.helpers import glovebox_ok, run_glovebox
from tests.remote_fixtures import REMOTE_SECRET, RemoteBucket


def remote_env(bucket: RemoteBucket, **extra: str) -> dict[str, str]:
    env = {
        "GLOVEBOX_CACHE_REMOTE_URL": bucket.url,
        "GLOVEBOX_CACHE_REMOTE_ENDPOINT": bucket.server.endpoint,
        "GLOVEBOX_CACHE_REMOTE_REGION": "us-east-1",
        "GLOVEBOX_CACHE_REMOTE_TIMEOUT": "3",
        "GLOVEBOX_CACHE_SECRET": REMOTE_SECRET.decode(),
    }
    env.update(extra)
    return env


@pytest.fixture
def filled(remote_bucket: RemoteBucket, tmp_path: Path) -> RemoteBucket:
    blob = tmp_path / "fw.uf2"
    blob.write_bytes(b"f" * 4000)
    tier = remote_bucket.tier()
    assert tier.publish_blob("firmware/one.uf2", blob)
    assert tier.publish_blob("firmware/two.uf2", blob)
    return remote_bucket


def test_remote_list_json_names_every_object_under_the_prefix(
    isolated_config: IsolatedConfig, filled: RemoteBucket
) -> None:
    result = glovebox_ok("cache", "remote", "list", "--json", env=remote_env(filled))
    document = json.loads(result.stdout)
    assert document["command"] == "cache remote list"
    assert document["url"] == filled.url
    assert sorted(o["key"] for o in document["objects"]) == [
        "firmware/one.uf2",
        "firmware/two.uf2",
    ]
    assert document["total_bytes"] == sum(o["size_bytes"] for o in document["objects"])


def test_remote_list_prints_a_table(isolated_config: IsolatedConfig, filled: RemoteBucket) -> None:
    result = glovebox_ok("cache", "remote", "list", env=remote_env(filled))
    assert "firmware/one.uf2" in result.stdout
    assert "2 objects" in result.stdout


def test_remote_prune_older_than_removes_old_objects_only(
    isolated_config: IsolatedConfig, filled: RemoteBucket
) -> None:
    env = remote_env(filled)
    kept = json.loads(
        glovebox_ok("cache", "remote", "prune", "--older-than", "30d", "--json", env=env).stdout
    )
    assert (kept["removed"], kept["kept"]) == (0, 2)
    gone = json.loads(
        glovebox_ok("cache", "remote", "prune", "--older-than", "0s", "--json", env=env).stdout
    )
    assert (gone["removed"], gone["kept"]) == (2, 0)
    assert filled.listing() == []


def test_remote_prune_in_read_only_mode_is_one_line_and_deletes_nothing(
    isolated_config: IsolatedConfig, filled: RemoteBucket
) -> None:
    before = filled.listing()
    env = remote_env(filled, GLOVEBOX_CACHE_REMOTE_MODE="read-only")
    result = run_glovebox("cache", "remote", "prune", "--older-than", "0s", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "read-only mode" in result.stderr
    assert filled.listing() == before


def test_a_bad_age_is_one_line(isolated_config: IsolatedConfig) -> None:
    result = run_glovebox("cache", "remote", "prune", "--older-than", "soon")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--older-than" in result.stderr
    assert "30d" in result.stderr


def test_remote_commands_without_a_remote_say_how_to_configure_one(
    isolated_config: IsolatedConfig,
) -> None:
    result = run_glovebox("cache", "remote", "list")
    assert result.returncode == 2
    assert "GLOVEBOX_CACHE_REMOTE_URL" in result.stderr


def test_cache_show_and_info_report_the_remote_tier(
    isolated_config: IsolatedConfig, filled: RemoteBucket
) -> None:
    env = remote_env(filled)
    for command in ("show", "info"):
        document = json.loads(glovebox_ok("cache", command, "--json", env=env).stdout)
        remote = document["remote"]
        assert remote["url"] == filled.url
        assert remote["mode"] == "read-write"
        assert remote["reachable"] is True
        assert remote["objects"] == 2
        assert remote["bytes"] > 8000
        text = glovebox_ok("cache", command, env=env).stdout
        assert f"remote cache {filled.url}" in text
        assert "reachable, 2 objects" in text


def test_cache_show_without_a_remote_has_null_remote(isolated_config: IsolatedConfig) -> None:
    document = json.loads(glovebox_ok("cache", "show", "--json").stdout)
    assert document["remote"] is None


def test_cache_show_names_a_missing_bucket_in_one_line(
    isolated_config: IsolatedConfig, remote_bucket: RemoteBucket
) -> None:
    env = remote_env(remote_bucket, GLOVEBOX_CACHE_REMOTE_URL="s3://never-made-bucket/x")
    result = glovebox_ok("cache", "show", env=env)
    lines = [line for line in result.stdout.splitlines() if "remote cache" in line]
    assert lines == [
        f"remote cache s3://never-made-bucket/x at {remote_bucket.server.endpoint} "
        "(read-write): unreachable: bucket 'never-made-bucket' does not exist"
    ]


def test_cache_show_names_wrong_credentials_without_printing_them(
    isolated_config: IsolatedConfig, remote_bucket: RemoteBucket
) -> None:
    env = remote_env(
        remote_bucket, AWS_ACCESS_KEY_ID="nobody", AWS_SECRET_ACCESS_KEY="wrong-secret-key-123"
    )
    result = glovebox_ok("cache", "show", "--json", env=env)
    assert "access denied" in json.loads(result.stdout)["remote"]["problem"]
    everything = result.stdout + result.stderr + glovebox_ok("cache", "info", env=env).stdout
    assert "wrong-secret-key-123" not in everything
    assert REMOTE_SECRET.decode() not in everything


def test_cache_info_with_the_server_down_is_one_line(isolated_config: IsolatedConfig) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "GLOVEBOX_CACHE_REMOTE_URL": "s3://some-bucket",
        "GLOVEBOX_CACHE_REMOTE_ENDPOINT": f"http://127.0.0.1:{port}",
        "GLOVEBOX_CACHE_REMOTE_TIMEOUT": "1",
    }
    result = glovebox_ok("cache", "info", env=env)
    lines = [line for line in result.stdout.splitlines() if "remote cache" in line]
    assert len(lines) == 1
    assert "unreachable" in lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GLOVEBOX_CACHE_REMOTE_URL", "http://bucket/x", "s3://bucket/prefix"),
        ("GLOVEBOX_CACHE_REMOTE_URL", "s3://Bad_Bucket", "3-63 lower-case"),
        ("GLOVEBOX_CACHE_REMOTE_URL", "s3://bucket/../x", "prefix segments"),
        ("GLOVEBOX_CACHE_REMOTE_URL", "s3://key:secret@bucket", "never the URL"),
        ("GLOVEBOX_CACHE_REMOTE_ENDPOINT", "127.0.0.1:8333", "http://host[:port]"),
        ("GLOVEBOX_CACHE_REMOTE_ENDPOINT", "http://u:pw@host", "holds a password"),
        ("GLOVEBOX_CACHE_REMOTE_REGION", "US EAST", "region name"),
        ("GLOVEBOX_CACHE_REMOTE_MODE", "sometimes", "read-write, read-only, off"),
        ("GLOVEBOX_CACHE_REMOTE_WRITE_ERRORS", "explode", "warn, fail"),
        ("GLOVEBOX_CACHE_REMOTE_TIMEOUT", "0", "greater than 0"),
        ("GLOVEBOX_CACHE_REMOTE_TIMEOUT", "soon", "number of seconds"),
        ("GLOVEBOX_CACHE_SECRET", "short", "at least 16 characters"),
    ],
)
def test_bad_remote_settings_are_one_line_naming_the_variable(
    isolated_config: IsolatedConfig, variable: str, value: str, expected: str
) -> None:
    result = run_glovebox("cache", "show", env={variable: value})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert variable in result.stderr
    assert expected in result.stderr
    if variable == "GLOVEBOX_CACHE_SECRET" or "secret" in value or "pw" in value:
        assert "short" not in result.stderr.replace("shorter", "")
        assert ":pw@" not in result.stderr
        assert "key:secret" not in result.stderr


def test_a_bad_remote_setting_in_yaml_names_the_file_line_and_path(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = tmp_path / "remote.yaml"
    config.write_text("cache:\n  remote:\n    url: s3://zmk-cache\n    mode: maybe\n")
    result = run_glovebox("--config", str(config), "cache", "show")
    assert result.returncode == 2
    assert f"{config}:4" in result.stderr
    assert "cache.remote.mode" in result.stderr
    assert "read-write, read-only, off" in result.stderr


def test_an_unknown_remote_key_lists_the_accepted_ones(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = tmp_path / "remote.yaml"
    config.write_text("cache:\n  remote:\n    bucket: x\n")
    result = run_glovebox("--config", str(config), "cache", "show")
    assert result.returncode == 2
    assert "url, endpoint, region, mode, write_errors, timeout, secret" in result.stderr


def test_yaml_off_without_quotes_means_mode_off(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = tmp_path / "remote.yaml"
    config.write_text("cache:\n  remote:\n    url: s3://zmk-cache\n    mode: off\n")
    document = json.loads(glovebox_ok("--config", str(config), "cache", "show", "--json").stdout)
    assert document["remote"] is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600)]
)
def test_ages_are_read_with_their_unit(text: str, seconds: int) -> None:
    assert parse_age(text).total_seconds() == seconds


def test_the_remote_secret_is_never_written_to_the_configuration_snapshot(
    isolated_config: IsolatedConfig,
) -> None:
    secret = "remote-secret-never-on-disk-123"
    env = {"GLOVEBOX_CACHE_REMOTE_URL": "s3://zmk-cache", "GLOVEBOX_CACHE_SECRET": secret}
    glovebox_ok("cache", "set", "k", "v", env=env)
    assert glovebox_ok("cache", "get", "k", env=env).stdout == "v\n"
    state = isolated_config.home
    written = [
        path for path in state.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert written == []
