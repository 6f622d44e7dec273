"""Hostile configuration files fail quickly with one clean line, in Python and in the CLI.

Each file is loaded in a fresh process with a generous timeout: a hang or an exponential
expansion shows up as ``TimeoutExpired``, never as a wall-clock assertion.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from glovebox.config import load_user_config
from glovebox.config.yaml_reader import MAX_DEPTH, MAX_NODES
from glovebox.errors import ConfigError
from glovebox.testing import IsolatedConfig
from tests.helpers import GLOVEBOX, run_child, write_yaml

CHILD_TIMEOUT = 20.0


def _laughs(kind: str, levels: int = 10, width: int = 9) -> str:
    def collection(items: list[str]) -> str:
        if kind == "list":
            return "[" + ", ".join(items) + "]"
        return "{" + ", ".join(f"k{index}: {item}" for index, item in enumerate(items)) + "}"

    lines = [f"l0: &l0 {collection(['lol'] * width)}"]
    lines += [f"l{n}: &l{n} {collection([f'*l{n - 1}'] * width)}" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def _laughs_in_domains() -> str:
    lines = ["cache:", "  domains:", "    layout: &d0 {strategy: memory}"]
    lines += [f"    t{n}: &d{n} [{', '.join([f'*d{n - 1}'] * 9)}]" for n in range(1, 10)]
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, Callable[[], str]] = {
    "billion_laughs_lists": lambda: _laughs("list"),
    "billion_laughs_mappings": lambda: _laughs("map"),
    "billion_laughs_under_cache_domains": _laughs_in_domains,
    "deep_flow_lists": lambda: "cache: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep_flow_mappings": lambda: "cache: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    "deep_block_sequences": lambda: "cache:\n" + "- " * 5000 + "x\n",
    "unclosed_deep_nesting": lambda: "cache: " + "[" * 200_000,
    "alias_cycle_mapping": lambda: "cache: &c\n  domains: *c\n",
    "alias_cycle_list": lambda: "cache_path: &x [1, *x]\n",
    "huge_integer": lambda: "cache:\n  timeout: " + "1" * 5000 + "\n",
    "huge_base_60_integer": lambda: "cache:\n  timeout: " + ":".join(["1"] * 200_000) + "\n",
    "many_keys": lambda: "".join(f"k{index}: 1\n" for index in range(20_000)),
    "long_unknown_key": lambda: "k" * 200_000 + ": 1\n",
    "long_bad_value": lambda: "cache_strategy: " + "y" * 200_000 + "\n",
    "long_undefined_alias": lambda: "cache: *" + "q" * 50_000 + "\n",
    "file_over_a_mebibyte": lambda: "# " + "x" * (2 << 20) + "\n",
    "python_object_tag": lambda: "cache: !!python/object/apply:os.system ['true']\n",
}

PYTHON_CHILD = """
import sys
from glovebox.config import load_user_config
from glovebox.errors import ConfigError
try:
    load_user_config(sys.argv[1])
except ConfigError as exc:
    print(str(exc))
    sys.exit(3)
print("LOADED")
"""


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE[name](), encoding="utf-8")
    return path


def nested_lists(depth: int) -> str:
    """``cache_path:`` holding ``depth`` nested flow lists around one scalar."""
    return "cache_path: " + "[" * depth + "x" + "]" * depth + "\n"


def _assert_one_clean_line(text: str, path: Path) -> None:
    assert "Traceback" not in text
    assert "RecursionError" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text[:2000]
    assert str(path) in lines[0]
    assert len(lines[0]) < len(str(path)) + 400


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_fails_cleanly_through_the_python_api(
    isolated_config: IsolatedConfig, tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path, name)
    result = run_child([sys.executable, "-c", PYTHON_CHILD, path], timeout=CHILD_TIMEOUT)
    assert result.returncode == 3, result.stdout + result.stderr[-2000:]
    assert result.stderr == ""
    _assert_one_clean_line(result.stdout, path)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_fails_cleanly_through_the_cli(
    isolated_config: IsolatedConfig, tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path, name)
    result = run_child([GLOVEBOX, "--config", path, "cache", "show"], timeout=CHILD_TIMEOUT)
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    _assert_one_clean_line(result.stderr, path)


def test_nesting_just_inside_the_bound_loads_to_a_validation_error(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    # cache_path plus MAX_DEPTH - 2 lists plus the scalar: exactly MAX_DEPTH levels.
    path = write_yaml(tmp_path / "deep-ok.yaml", nested_lists(MAX_DEPTH - 2))
    with pytest.raises(ConfigError, match="cache_path") as caught:
        load_user_config(path)
    assert "YAML refused" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        pytest.param(
            nested_lists(MAX_DEPTH - 1),
            f"nested more than {MAX_DEPTH} levels",
            id="nesting-one-past-the-bound",
        ),
        pytest.param(
            "cache_path: [" + ", ".join(["1"] * MAX_NODES) + "]\n",
            f"more than {MAX_NODES:,} nodes",
            id="expansion-past-the-node-bound-without-aliases",
        ),
    ],
)
def test_a_file_past_a_bound_is_refused(
    isolated_config: IsolatedConfig, tmp_path: Path, text: str, refusal: str
) -> None:
    path = write_yaml(tmp_path / "bounded.yaml", text)
    with pytest.raises(ConfigError, match=refusal):
        load_user_config(path)


def test_anchors_and_aliases_within_the_bounds_still_work(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write_yaml(
        tmp_path / "shared.yaml",
        "cache:\n  domains:\n    layout: &fast {strategy: memory, timeout: 5}\n"
        "    metrics: *fast\n    moergo:\n      <<: *fast\n      default_ttl: 60\n",
    )
    domains = load_user_config(path).cache.domains
    assert domains["metrics"].strategy == "memory"
    assert domains["moergo"].timeout == 5
    assert domains["moergo"].default_ttl == 60


def test_an_error_under_an_alias_names_a_line(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write_yaml(
        tmp_path / "alias-error.yaml",
        "cache:\n  domains:\n    layout: &bad {timeout: -1}\n    metrics: *bad\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_user_config(path)
    assert f"{path}:3: cache.domains.layout.timeout" in str(caught.value)
    assert f"{path}:4: cache.domains.metrics.timeout" in str(caught.value)


def test_exponent_without_a_dot_is_a_number(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path / "exp.yaml", "cache:\n  timeout: 1e2\n  max_size_gb: 5E-1\n")
    cache = load_user_config(path).cache
    assert (cache.timeout, cache.max_size_gb) == (100.0, 0.5)


def test_file_that_is_not_utf8_is_refused_in_one_line(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00" + b"\x80" * 10_000)
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        load_user_config(path)
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < len(str(path)) + 200
