"""Sizes, hit rates, strategy decisions and errors as the CLI prints them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from glovebox.cli.cache import format_decision
from glovebox.cli.formatting import count, fail, format_hit_rate, format_size
from glovebox.config.loader import load_user_config
from glovebox.core.cache_v2 import Strategy, StrategyDecision
from glovebox.core.cache_v2.policy import DecisionLayer


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (32 * 1024, "32.0 KiB"),
        (120 * 1024**2, "120.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (5 * 1024**4, "5.0 TiB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(("rate", "text"), [(None, "-"), (0.0, "0%"), (0.5, "50%"), (1.0, "100%")])
def test_format_hit_rate(rate: float | None, text: str) -> None:
    assert format_hit_rate(rate) == text


def test_fail_prints_one_error_line_and_returns_the_exit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exit_ = fail("cache 'x' is broken: [bold] is not markup", code=1)
    assert isinstance(exit_, typer.Exit)
    assert exit_.exit_code == 1
    assert capsys.readouterr().err == "error: cache 'x' is broken: [bold] is not markup\n"


@pytest.mark.parametrize(
    ("decision", "text"),
    [
        (StrategyDecision(Strategy.ENABLED, DecisionLayer.DEFAULT), "default"),
        (
            StrategyDecision(
                Strategy.DISABLED, DecisionLayer.ENV_GLOBAL, variable="GLOVEBOX_CACHE_GLOBAL"
            ),
            "env GLOVEBOX_CACHE_GLOBAL",
        ),
        (
            StrategyDecision(
                Strategy.MEMORY,
                DecisionLayer.DOMAIN_CONFIG,
                yaml_path="cache.domains.layout.strategy",
            ),
            "gb.yaml:5",
        ),
        (
            StrategyDecision(
                Strategy.DISABLED, DecisionLayer.GLOBAL_CONFIG, yaml_path="cache_strategy"
            ),
            "gb.yaml:1 (cache_strategy)",
        ),
    ],
)
def test_format_decision_names_variable_or_file_and_line(
    tmp_path: Path, decision: StrategyDecision, text: str
) -> None:
    config_file = tmp_path / "gb.yaml"
    config_file.write_text(
        "cache_strategy: disabled\ncache:\n  domains:\n    layout:\n      strategy: memory\n"
    )
    user_config = load_user_config(config_file, environ={})
    assert format_decision(decision, user_config) == text


def test_the_cache_module_is_not_a_program_and_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glovebox.cli.cache", "stats"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: glovebox.cli.cache is not a program")
    assert "glovebox cache" in result.stderr
    assert result.stderr.count("\n") == 1


def test_count_puts_the_noun_in_the_right_number() -> None:
    assert count(1, "key") == "1 key"
    assert count(2, "key") == "2 keys"
    assert count(0, "entry") == "0 entries"
    assert count(1, "entry") == "1 entry"
    assert count(3, "workspace") == "3 workspaces"
