"""Loading the configuration layers: defaults <- user file <- environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glovebox.config import (
    UserConfig,
    default_config_file,
    find_user_config_file,
    load_user_config,
    user_config_from_mapping,
)
from glovebox.core.cache_v2 import Strategy, create_cache_from_user_config
from glovebox.testing import IsolatedConfig
from tests.helpers import write_yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "config" / "examples"


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_defaults_come_from_config_default_yaml(isolated_config: IsolatedConfig) -> None:
    config = load_user_config()
    assert default_config_file() == REPO / "config" / "default.yaml"
    assert config.files == (REPO / "config" / "default.yaml",)
    assert config.cache_strategy is Strategy.ENABLED
    assert config.cache.max_size_gb == 2
    assert config.cache.timeout == 30
    assert set(config.cache.domains) == {"compilation", "layout", "metrics", "moergo"}
    assert config.cache.domains["moergo"].default_ttl == 86400
    assert config.cache.domains["layout"].strategy is None


def test_default_cache_path_follows_xdg_cache_home(isolated_config: IsolatedConfig) -> None:
    assert load_user_config().cache_path == isolated_config.cache_home / "glovebox"


def test_per_domain_example(isolated_config: IsolatedConfig) -> None:
    config = load_user_config(EXAMPLES / "per-domain.yaml")
    domains = config.cache.domains
    assert domains["compilation"].strategy is Strategy.ENABLED
    assert domains["compilation"].max_size_gb == 8
    assert domains["layout"].strategy is Strategy.MEMORY
    assert domains["metrics"].strategy is Strategy.DISABLED
    assert domains["moergo"].strategy is Strategy.ENABLED  # "disk" means enabled
    assert domains["moergo"].default_ttl == 3600


def test_ci_example_keeps_everything_in_the_workspace(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    config = load_user_config(EXAMPLES / "ci.yaml")
    assert config.cache_path == workspace / ".glovebox-cache"
    assert config.cache.domains["metrics"].strategy is Strategy.DISABLED
    assert config.cache.timeout == 120


def test_tests_example_uses_memory_and_no_metrics(isolated_config: IsolatedConfig) -> None:
    config = load_user_config(EXAMPLES / "tests.yaml")
    strategies = {tag: domain.strategy for tag, domain in config.cache.domains.items()}
    assert strategies == {
        "compilation": Strategy.MEMORY,
        "layout": Strategy.MEMORY,
        "metrics": Strategy.DISABLED,
        "moergo": Strategy.MEMORY,
    }


def test_user_file_merges_over_defaults_key_by_key(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    user = write_yaml(
        tmp_path / "user.yaml",
        "cache:\n  timeout: 5\n  domains:\n    moergo:\n      strategy: memory\n",
    )
    config = load_user_config(user)
    assert config.cache.timeout == 5
    assert config.cache.max_size_gb == 2  # untouched default
    assert config.cache.domains["moergo"].strategy is Strategy.MEMORY
    assert config.cache.domains["moergo"].default_ttl == 86400  # sibling default kept
    assert config.origin("cache.timeout") == f"{user}:2"
    assert config.origin("cache.max_size_gb").startswith(str(default_config_file()))


def test_glovebox_config_variable_names_the_user_file(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = write_yaml(tmp_path / "from-env.yaml", "cache_strategy: disabled\n")
    monkeypatch.setenv("GLOVEBOX_CONFIG", str(user))
    config = load_user_config()
    assert config.cache_strategy is Strategy.DISABLED
    assert config.files[-1] == user


def test_explicit_path_wins_over_glovebox_config(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = write_yaml(tmp_path / "env.yaml", "cache:\n  timeout: 1\n")
    monkeypatch.setenv("GLOVEBOX_CONFIG", str(from_env))
    explicit = write_yaml(tmp_path / "explicit.yaml", "cache:\n  timeout: 2\n")
    assert load_user_config(explicit).cache.timeout == 2


def test_xdg_config_file_is_used_when_present(
    isolated_config: IsolatedConfig,
) -> None:
    assert find_user_config_file() is None
    assert load_user_config().cache.timeout == 30
    user = write_yaml(
        isolated_config.config_home / "glovebox" / "config.yaml", "cache:\n  timeout: 7\n"
    )
    assert find_user_config_file() == user
    assert load_user_config().cache.timeout == 7


def test_environment_layer_wins_over_the_user_file(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = write_yaml(tmp_path / "user.yaml", "cache:\n  timeout: 5\n")
    monkeypatch.setenv("GLOVEBOX__CACHE__TIMEOUT", "9")
    monkeypatch.setenv("GLOVEBOX__CACHE__DOMAINS__LAYOUT__STRATEGY", "memory")
    monkeypatch.setenv("GLOVEBOX__CACHE_PATH", str(tmp_path / "from-env"))
    config = load_user_config(user)
    assert config.cache.timeout == 9
    assert config.cache.domains["layout"].strategy is Strategy.MEMORY
    assert config.cache_path == tmp_path / "from-env"
    assert config.origin("cache.timeout") == "GLOVEBOX__CACHE__TIMEOUT"


def test_cache_path_expands_home_and_variables(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_CACHES", str(tmp_path / "caches"))
    config = load_user_config(write_yaml(tmp_path / "a.yaml", "cache_path: $MY_CACHES/glovebox\n"))
    assert config.cache_path == tmp_path / "caches" / "glovebox"
    config = load_user_config(write_yaml(tmp_path / "b.yaml", "cache_path: ~/gb\n"))
    assert config.cache_path == isolated_config.home / "gb"


@pytest.mark.parametrize(
    ("word", "expected"),
    [("shared", Strategy.ENABLED), ("ENABLED", Strategy.ENABLED), ("off", Strategy.DISABLED)],
)
def test_cache_strategy_words(
    isolated_config: IsolatedConfig, tmp_path: Path, word: str, expected: Strategy
) -> None:
    config = load_user_config(write_yaml(tmp_path / "c.yaml", f"cache_strategy: {word}\n"))
    assert config.cache_strategy is expected


def test_yaml_booleans_are_strategy_words(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    config = load_user_config(write_yaml(tmp_path / "c.yaml", "cache_strategy: false\n"))
    assert config.cache_strategy is Strategy.DISABLED


def test_any_tag_can_be_configured(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    text = "cache:\n  domains:\n    firmware-v2:\n      strategy: memory\n"
    config = load_user_config(write_yaml(tmp_path / "c.yaml", text))
    assert config.cache.domains["firmware-v2"].strategy is Strategy.MEMORY


def test_user_config_and_its_model_give_the_same_shared_cache(
    isolated_config: IsolatedConfig,
) -> None:
    config = load_user_config()
    assert isinstance(config, UserConfig)
    assert config.cache_path == config._config.cache_path
    assert config.cache_strategy is config._config.cache_strategy
    via_wrapper = create_cache_from_user_config(config, tag="layout")
    via_model = create_cache_from_user_config(config._config, tag="layout")
    assert via_wrapper is via_model
    assert via_wrapper.get_stats().directory == isolated_config.cache_path / "layout"


def test_mapping_is_layered_over_the_defaults(isolated_config: IsolatedConfig) -> None:
    config = user_config_from_mapping({"cache": {"timeout": 3}})
    assert config.cache.timeout == 3
    assert config.cache.domains["moergo"].default_ttl == 86400


def test_loading_writes_nothing(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    user = write_yaml(tmp_path / "conf" / "user.yaml", "cache_path: ./never-created\n")
    before = tree(tmp_path)
    mtime = os.stat(user).st_mtime_ns
    load_user_config(user)
    assert tree(tmp_path) == before
    assert os.stat(user).st_mtime_ns == mtime
