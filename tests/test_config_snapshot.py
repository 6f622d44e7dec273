"""The validated configuration snapshot: when it is used, when it is not, what it holds."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from glovebox.config import loader
from glovebox.config import snapshot as snapshots
from glovebox.config.loader import load_user_config
from glovebox.config.sources import result_code_files
from glovebox.config.user_config import UserConfig
from glovebox.core.cache_v2 import Strategy, create_cache_from_user_config
from glovebox.errors import ConfigError
from glovebox.testing import IsolatedConfig
from tests.helpers import write_yaml

SECRET = "s3cret-signing-key-0123456789"
PASSWORD = "hunter2hunter2"


def load(config_path: Path | None = None) -> UserConfig:
    return load_user_config(config_path, snapshot=True)


def served_from_snapshot(monkeypatch: pytest.MonkeyPatch, config_path: Path | None = None) -> bool:
    """True if loading now needs no validation (the snapshot answered)."""

    class Validated(Exception):
        pass

    def refuse(*args: object, **kwargs: object) -> None:
        raise Validated

    with monkeypatch.context() as patch:
        patch.setattr(loader, "_validate", refuse)
        try:
            load(config_path)
        except Validated:
            return False
    return True


def user_file(isolated_config: IsolatedConfig, text: str) -> Path:
    return write_yaml(isolated_config.config_home / "glovebox" / "config.yaml", text)


def snapshot_document() -> dict[str, object]:
    data = json.loads(snapshots.snapshot_path().read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_second_load_is_served_from_the_snapshot_with_the_same_values(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file(
        isolated_config,
        "cache_strategy: enabled\ncache:\n  timeout: 12\n  domains:\n"
        "    layout:\n      strategy: memory\n      default_ttl: 60\n",
    )
    assert not snapshots.snapshot_path().exists()
    full = load()
    assert snapshots.snapshot_path().is_file()
    assert served_from_snapshot(monkeypatch)
    kept = load()
    assert kept._validated is None  # nothing validated yet
    assert kept.cache_path == full.cache_path
    assert kept.cache_strategy is full.cache_strategy is Strategy.ENABLED
    assert (kept.cache.max_size_gb, kept.cache.timeout) == (2.0, 12.0)
    assert set(kept.cache.domains) == set(full.cache.domains)
    for tag, domain in full.cache.domains.items():
        plain = kept.cache.domains[tag]
        fields = ("strategy", "max_size_gb", "timeout", "default_ttl")
        assert [getattr(plain, f) for f in fields] == [getattr(domain, f) for f in fields]
    assert kept.cache.domains["layout"].strategy is Strategy.MEMORY
    assert kept.origins == full.origins
    assert kept.origin("cache.timeout") == full.origin("cache.timeout")
    assert kept.files == full.files
    assert kept.to_dict() == full.to_dict()
    assert repr(kept) == repr(full)
    # The model is validated on first need and agrees with the snapshot.
    assert kept._config == full._config
    assert kept.compilation == full.compilation
    assert create_cache_from_user_config(kept, tag="metrics") is create_cache_from_user_config(
        full._config, tag="metrics"
    )


def test_a_changed_user_file_invalidates(isolated_config: IsolatedConfig) -> None:
    path = user_file(isolated_config, "cache:\n  timeout: 5\n")
    assert load().cache.timeout == 5
    path.write_text("cache:\n  timeout: 7\n", encoding="utf-8")  # same size, other bytes
    assert load().cache.timeout == 7


def test_a_user_file_appearing_invalidates(isolated_config: IsolatedConfig) -> None:
    assert load().cache.timeout == 30
    user_file(isolated_config, "cache:\n  timeout: 9\n")
    loaded = load()
    assert loaded.cache.timeout == 9
    assert loaded.origin("cache.timeout").endswith("config.yaml:2")


def test_a_user_file_disappearing_invalidates(isolated_config: IsolatedConfig) -> None:
    path = user_file(isolated_config, "cache:\n  timeout: 9\n")
    assert load().cache.timeout == 9
    path.unlink()
    assert load().cache.timeout == 30


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("GLOVEBOX__CACHE__TIMEOUT", "17", lambda c: c.cache.timeout == 17),
        ("GLOVEBOX__CACHE_STRATEGY", "disabled", lambda c: c.cache_strategy is Strategy.DISABLED),
        (
            "XDG_CACHE_HOME",
            "/elsewhere/cache",
            lambda c: c.cache_path == Path("/elsewhere/cache/glovebox"),
        ),
    ],
)
def test_a_changed_variable_invalidates(
    isolated_config: IsolatedConfig,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    read: object,
) -> None:
    assert callable(read)
    first = load()
    assert not read(first)
    assert served_from_snapshot(monkeypatch)
    monkeypatch.setenv(variable, value)
    assert not served_from_snapshot(monkeypatch)
    assert read(load())


def test_another_config_file_named_by_variable_or_argument_invalidates(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("cache:\n  timeout: 3\n", encoding="utf-8")
    assert load().cache.timeout == 30
    assert load(other).cache.timeout == 3
    monkeypatch.setenv("GLOVEBOX_CONFIG", str(other))
    assert load().cache.timeout == 3


def test_a_variable_named_in_cache_path_is_part_of_the_key(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    user_file(isolated_config, "cache_path: $GLOVEBOX_TEST_ROOT/caches\n")
    monkeypatch.setenv("GLOVEBOX_TEST_ROOT", str(tmp_path / "one"))
    assert load().cache_path == tmp_path / "one" / "caches"
    assert served_from_snapshot(monkeypatch)
    monkeypatch.setenv("GLOVEBOX_TEST_ROOT", str(tmp_path / "two"))
    assert load().cache_path == tmp_path / "two" / "caches"


def test_the_working_directory_matters_only_for_a_relative_cache_path(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert load().cache_path == isolated_config.cache_path
    monkeypatch.chdir(tmp_path / "b")
    assert served_from_snapshot(monkeypatch)  # an absolute root does not depend on it

    user_file(isolated_config, "cache_path: relative/caches\n")
    assert load().cache_path == tmp_path / "b" / "relative" / "caches"
    monkeypatch.chdir(tmp_path / "a")
    assert load().cache_path == tmp_path / "a" / "relative" / "caches"


def test_a_change_of_code_invalidates(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    load()
    assert served_from_snapshot(monkeypatch)
    monkeypatch.setattr(snapshots, "_code_digest", b"other code")
    assert not served_from_snapshot(monkeypatch)


def test_the_code_digest_covers_the_model_sources() -> None:
    files = result_code_files()
    assert "config/models.py" in files
    package = Path(snapshots.__file__).resolve().parents[1]
    assert all((package / name).is_file() for name in files)


def test_a_redis_secret_is_never_written(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    load()
    before = snapshots.snapshot_path().read_bytes()
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_SECRET", SECRET)
    loaded = load()
    assert loaded.to_dict()["cache"]["redis"]["secret"] == SECRET
    assert loaded.cache.redis.secret is not None
    assert snapshots.snapshot_path().read_bytes() == before  # not rewritten with it
    assert SECRET.encode() not in before
    assert not served_from_snapshot(monkeypatch)


def test_a_redis_url_with_a_password_is_never_written(isolated_config: IsolatedConfig) -> None:
    user_file(
        isolated_config, f"cache:\n  redis:\n    url: redis://app:{PASSWORD}@cachehost:6380/1\n"
    )
    loaded = load()
    assert loaded.cache.redis.url == f"redis://app:{PASSWORD}@cachehost:6380/1"
    assert not snapshots.snapshot_path().exists()


def test_redis_settings_without_credentials_come_from_the_validated_model(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file(isolated_config, "cache:\n  redis:\n    url: redis://cachehost:6380/1\n")
    load()
    assert served_from_snapshot(monkeypatch)
    kept = load()
    assert kept.cache.redis.url == "redis://cachehost:6380/1"
    assert kept._validated is not None  # reading the Redis settings validated in full
    assert kept.to_dict()["cache"]["redis"]["url"] == "redis://cachehost:6380/1"


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"format": 1}', b"\xff\xfe not json", b'{"format": 1, "depends": 3}'],
)
def test_a_damaged_snapshot_means_a_full_validation(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    user_file(isolated_config, "cache:\n  timeout: 4\n")
    path = snapshots.snapshot_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert load().cache.timeout == 4
    assert served_from_snapshot(monkeypatch)  # and it was written afresh


def test_a_snapshot_of_the_wrong_shape_means_a_full_validation(
    isolated_config: IsolatedConfig,
) -> None:
    load()
    document = snapshot_document()
    config = document["config"]
    assert isinstance(config, dict)
    config["cache"]["domains"]["layout"]["strategy"] = "sometimes"
    snapshots.snapshot_path().write_text(json.dumps(document), encoding="utf-8")
    assert load().cache.domains["layout"].strategy is None


def test_an_oversized_snapshot_is_not_read(isolated_config: IsolatedConfig) -> None:
    load()
    document = snapshot_document()
    config = document["config"]
    assert isinstance(config, dict)
    config["cache"]["timeout"] = 99.0
    document["padding"] = "x" * snapshots.MAX_SNAPSHOT_BYTES
    snapshots.snapshot_path().write_text(json.dumps(document), encoding="utf-8")
    assert load().cache.timeout == 30


def tamper(timeout: float) -> Path:
    """Change the kept timeout without changing the key (as only its owner could)."""
    document = snapshot_document()
    config = document["config"]
    assert isinstance(config, dict)
    config["cache"]["timeout"] = timeout
    path = snapshots.snapshot_path()
    path.write_text(json.dumps(document), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_snapshot_writable_by_others_is_ignored(isolated_config: IsolatedConfig) -> None:
    load()
    path = tamper(99.0)
    assert load().cache.timeout == 99.0  # the owner's own file is trusted as written
    tamper(98.0)
    path.chmod(0o622)
    assert load().cache.timeout == 30


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_snapshot_owned_by_someone_else_is_ignored(isolated_config: IsolatedConfig) -> None:
    load()
    path = tamper(99.0)
    os.chown(path, 54321, 54321)
    assert load().cache.timeout == 30


def test_a_symlinked_snapshot_is_ignored(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    load()
    path = tamper(99.0)
    target = tmp_path / "elsewhere.json"
    path.rename(target)
    path.symlink_to(target)
    assert load().cache.timeout == 30


def test_the_snapshot_is_private(isolated_config: IsolatedConfig) -> None:
    load()
    path = snapshots.snapshot_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent == Path(os.environ["XDG_STATE_HOME"]) / "glovebox"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_the_snapshot_is_never_below_the_cache_root(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load()
    path = snapshots.snapshot_path()
    assert loaded.cache_path not in path.parents
    # A state directory that is the cache root: nothing is written there.
    monkeypatch.setenv("XDG_STATE_HOME", os.environ["XDG_CACHE_HOME"])
    root = load().cache_path
    assert snapshots.snapshot_path().parent == root
    assert not root.exists()


def test_failing_to_write_the_snapshot_does_not_fail_the_load(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    user_file(isolated_config, "cache:\n  timeout: 6\n")
    assert load().cache.timeout == 6
    assert blocker.read_text(encoding="utf-8") == ""


def test_bad_configuration_is_still_reported_with_a_snapshot(
    isolated_config: IsolatedConfig,
) -> None:
    path = user_file(isolated_config, "cache:\n  timeout: 6\n")
    load()
    path.write_text("cache:\n  timeout: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml:2: cache\.timeout"):
        load()


def test_a_snapshot_needs_the_process_environment(isolated_config: IsolatedConfig) -> None:
    with pytest.raises(ValueError, match="process environment"):
        load_user_config(environ={}, snapshot=True)


def test_loading_without_snapshot_writes_none(isolated_config: IsolatedConfig) -> None:
    load_user_config()
    assert not snapshots.snapshot_path().exists()


def test_a_snapshot_that_cannot_be_written_is_logged_and_loading_goes_on(
    isolated_config: IsolatedConfig, caplog: pytest.LogCaptureFixture
) -> None:
    user_file(isolated_config, "cache:\n  timeout: 9\n")
    state_dir = snapshots.snapshot_path().parent
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    state_dir.write_text("a file where the state directory belongs", encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="glovebox.config.snapshot"):
        config = load()
    assert config.cache.timeout == 9
    assert state_dir.is_file()
    failures = [r for r in caplog.records if r.getMessage() == "configuration snapshot not written"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
