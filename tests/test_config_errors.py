"""Bad configuration fails with the file, the line or YAML path, and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from glovebox.config import load_user_config, user_config_from_mapping
from glovebox.errors import ConfigError
from glovebox.testing import IsolatedConfig


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_user_config(path)
    return str(caught.value)


def test_malformed_yaml_names_file_and_line(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write(tmp_path / "broken.yaml", "cache:\n  timeout: 5\n  domains: [layout\n  x: 1\n")
    message = load_error(path)
    assert message.startswith(f"{path}:4:")
    assert "malformed YAML" in message


def test_bad_indentation_names_the_line(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    path = write(tmp_path / "indent.yaml", "cache:\n  timeout: 5\n   max_size_gb: 1\n")
    assert load_error(path).startswith(f"{path}:3:")


# Each case: an id, the file's text, and what the message must contain ({path} is the file).
# fmt: off
NAMED_ERRORS = [
    ("unknown-domain-key-names-path-and-accepted-keys",
     "cache:\n  domains:\n    layout:\n      stratgy: memory\n",
     ["{path}:4: cache.domains.layout.stratgy", "unknown setting 'stratgy'",
      "strategy, max_size_gb, timeout, default_ttl"]),
    ("unknown-top-level-key", "cache_pth: /tmp/x\n",
     ["{path}:1: cache_pth", "cache_path, cache_strategy, cache"]),
    ("bad-domain-strategy-names-path-and-words",
     "cache:\n  domains:\n    layout:\n      strategy: fast\n",
     ["{path}:4: cache.domains.layout.strategy", "'fast'",
      "enabled", "disabled", "memory", "disk", "shared"]),
    ("bad-number-names-path-and-constraint", "cache:\n  max_size_gb: -1\n",
     ["{path}:2: cache.max_size_gb", "greater than 0"]),
    ("several-errors-are-all-reported", "cache_strategy: nope\ncache:\n  timeout: 0\n",
     ["{path}:1: cache_strategy", "{path}:3: cache.timeout"]),
    ("invalid-tag-name", "cache:\n  domains:\n    ../escape:\n      strategy: memory\n",
     ["{path}:3: cache.domains.../escape", "[A-Za-z0-9_.-]"]),
    ("duplicate-key-is-refused", "cache:\n  timeout: 1\n  timeout: 2\n",
     ["{path}:3: cache.timeout", "twice"]),
    ("top-level-must-be-a-mapping", "- cache\n", ["{path}:1:", "mapping"]),
]
# fmt: on


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in NAMED_ERRORS],
    ids=[case[0] for case in NAMED_ERRORS],
)
def test_error_names_file_line_and_reason(
    isolated_config: IsolatedConfig, tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = write(tmp_path / "config.yaml", text)
    message = load_error(path)
    assert expected
    for fragment in expected:
        assert fragment.replace("{path}", str(path)) in message


def test_memory_is_not_a_global_strategy(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    message = load_error(write(tmp_path / "g.yaml", "cache_strategy: memory\n"))
    assert f"{tmp_path / 'g.yaml'}:1: cache_strategy" in message
    assert "memory" not in message.split("accepted", 1)[1]


def test_missing_explicit_file(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    message = load_error(tmp_path / "absent.yaml")
    assert str(tmp_path / "absent.yaml") in message
    assert "not found" in message


def test_missing_file_named_by_glovebox_config(
    isolated_config: IsolatedConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"gone\.yaml: configuration file not found"):
        load_user_config()


def test_bad_environment_value_names_the_variable(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX__CACHE__TIMEOUT", "soon")
    with pytest.raises(ConfigError) as caught:
        load_user_config()
    assert "GLOVEBOX__CACHE__TIMEOUT (cache.timeout)" in str(caught.value)
    assert "'soon'" in str(caught.value)


def test_unknown_environment_setting_names_the_variable(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX__CACHE__TIMOUT", "5")
    with pytest.raises(ConfigError, match=r"GLOVEBOX__CACHE__TIMOUT \(cache.timout\)"):
        load_user_config()


def test_bad_strategy_from_a_mapping(isolated_config: IsolatedConfig) -> None:
    with pytest.raises(ConfigError, match=r"cache\.domains\.metrics\.strategy.*'sometimes'"):
        user_config_from_mapping({"cache": {"domains": {"metrics": {"strategy": "sometimes"}}}})


def test_a_bad_file_is_left_untouched(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    text = "cache:\n  domains: [oops\n"
    path = write(tmp_path / "keep.yaml", text)
    load_error(path)
    assert path.read_text(encoding="utf-8") == text
