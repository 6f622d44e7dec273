"""Numeric settings and paths are checked when the configuration is loaded.

A bad value is refused with one line naming the file and line (or the variable), the
YAML path and the accepted range, instead of failing later in SQLite or in arithmetic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glovebox.config import load_user_config, user_config_from_mapping
from glovebox.errors import ConfigError
from glovebox.testing import IsolatedConfig
from tests.helpers import write_yaml

BAD_YAML_NUMBERS = [".inf", "-.inf", "1e400", ".nan", "'2'", '"2"', "true", "false", "-1", "0"]
BAD_ENV_NUMBERS = ["inf", "-inf", "1e400", "nan", "NaN", "true", "-1", "0", "", "two", "2 GiB"]
DOMAIN = "cache:\n  domains:\n    layout:\n      {setting}: {{}}\n"
SETTINGS = [
    ("cache:\n  max_size_gb: {}\n", 2, "cache.max_size_gb"),
    ("cache:\n  timeout: {}\n", 2, "cache.timeout"),
    (DOMAIN.format(setting="max_size_gb"), 4, "cache.domains.layout.max_size_gb"),
    (DOMAIN.format(setting="timeout"), 4, "cache.domains.layout.timeout"),
    (DOMAIN.format(setting="default_ttl"), 4, "cache.domains.layout.default_ttl"),
]


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_user_config(path)
    return str(caught.value)


def refusal(tmp_path: Path, text: str, line: int, yaml_path: str) -> str:
    """The error loading ``text`` gives; it must start with the file, ``line`` and ``yaml_path``."""
    path = write_yaml(tmp_path / "settings.yaml", text)
    message = load_error(path)
    assert message.startswith(f"{path}:{line}: {yaml_path}: ")
    return message


def assert_clean(message: str) -> None:
    assert "\n" not in message
    assert "Value error" not in message
    assert "greater than 0" in message
    assert "finite" in message


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("value", BAD_YAML_NUMBERS)
def test_bad_number_in_yaml_is_refused_naming_file_line_and_range(
    isolated_config: IsolatedConfig, tmp_path: Path, setting: tuple[str, int, str], value: str
) -> None:
    template, line, yaml_path = setting
    message = refusal(tmp_path, template.format(value), line, yaml_path)
    assert_clean(message)


@pytest.mark.parametrize("setting", ["max_size_gb", "timeout"])
def test_null_global_limit_is_refused(
    isolated_config: IsolatedConfig, tmp_path: Path, setting: str
) -> None:
    message = refusal(tmp_path, f"cache:\n  {setting}: null\n", 2, f"cache.{setting}")
    assert "got null" in message
    assert_clean(message)


def test_null_domain_setting_still_defers_to_the_global_one(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write_yaml(
        tmp_path / "ok.yaml", "cache:\n  domains:\n    layout:\n      timeout: null\n"
    )
    assert load_user_config(path).cache.domains["layout"].timeout is None


def test_quoted_number_message_says_it_is_text(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    message = refusal(tmp_path, "cache:\n  max_size_gb: '2'\n", 2, "cache.max_size_gb")
    assert "'2'" in message


@pytest.mark.parametrize(
    ("setting", "value"), [("max_size_gb", "1e12"), ("timeout", "1e9"), ("timeout", "86401")]
)
def test_numbers_beyond_the_upper_bound_are_refused(
    isolated_config: IsolatedConfig, tmp_path: Path, setting: str, value: str
) -> None:
    message = refusal(tmp_path, f"cache:\n  {setting}: {value}\n", 2, f"cache.{setting}")
    assert "at most" in message


@pytest.mark.parametrize(
    ("variable", "yaml_path"),
    [
        ("GLOVEBOX__CACHE__MAX_SIZE_GB", "cache.max_size_gb"),
        ("GLOVEBOX__CACHE__TIMEOUT", "cache.timeout"),
        ("GLOVEBOX__CACHE__DOMAINS__LAYOUT__TIMEOUT", "cache.domains.layout.timeout"),
        ("GLOVEBOX__CACHE__DOMAINS__MOERGO__DEFAULT_TTL", "cache.domains.moergo.default_ttl"),
    ],
)
@pytest.mark.parametrize("value", BAD_ENV_NUMBERS)
def test_bad_number_in_environment_is_refused_naming_the_variable(
    isolated_config: IsolatedConfig,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    yaml_path: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_user_config()
    message = str(caught.value)
    assert message.startswith(f"{variable} ({yaml_path}): ")
    assert_clean(message)


def test_numbers_from_the_environment_are_parsed_from_text(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX__CACHE__MAX_SIZE_GB", " 0.5 ")
    monkeypatch.setenv("GLOVEBOX__CACHE__TIMEOUT", "12")
    config = load_user_config()
    assert (config.cache.max_size_gb, config.cache.timeout) == (0.5, 12.0)


@pytest.mark.parametrize(
    "data",
    [
        {"cache": {"max_size_gb": float("inf")}},
        {"cache": {"max_size_gb": float("nan")}},
        {"cache": {"max_size_gb": "2"}},
        {"cache": {"timeout": None}},
        {"cache": {"timeout": True}},
        {"cache": {"domains": {"layout": {"max_size_gb": float("inf")}}}},
    ],
)
def test_bad_number_from_a_mapping_is_refused(
    isolated_config: IsolatedConfig, data: dict[str, object]
) -> None:
    with pytest.raises(ConfigError) as caught:
        user_config_from_mapping(data)
    assert str(caught.value).startswith("configuration: cache.")
    assert_clean(str(caught.value))


def test_nul_byte_in_cache_path_yaml_is_refused(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    text = 'cache_strategy: enabled\ncache_path: "/tmp/a\\0b"\n'
    message = refusal(tmp_path, text, 2, "cache_path")
    assert "NUL" in message
    assert "\n" not in message


def test_nul_byte_in_cache_path_environment_is_refused(isolated_config: IsolatedConfig) -> None:
    # The OS cannot carry a NUL in a real variable; the mapping stands for one.
    with pytest.raises(ConfigError) as caught:
        load_user_config(environ={"GLOVEBOX__CACHE_PATH": "/tmp/a\x00b"})
    assert str(caught.value).startswith("GLOVEBOX__CACHE_PATH (cache_path): ")
    assert "NUL" in str(caught.value)


def test_long_bad_value_is_quoted_at_most_80_characters(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path / "long.yaml", "cache_strategy: " + "x" * 100_000 + "\n")
    message = load_error(path)
    assert "x" * 81 not in message
    assert "..." in message
    assert len(message) < 400


def test_long_unknown_key_is_quoted_at_most_80_characters(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path / "key.yaml", "k" * 50_000 + ": 1\n")
    message = load_error(path)
    assert "k" * 81 not in message
    assert len(message) < 400
