"""Strategy resolution (a pure function) and tag validation, table-tested."""

from __future__ import annotations

import pytest

from glovebox.core.cache_v2.policy import (
    ACCEPTED_SWITCH_WORDS,
    DecisionLayer,
    Strategy,
    env_var_for_tag,
    parse_strategy,
    resolve_strategy,
    validate_tag,
)
from glovebox.errors import ConfigError

D, E, M = Strategy.DISABLED, Strategy.ENABLED, Strategy.MEMORY


@pytest.mark.parametrize(
    ("environ", "domain", "user_global", "expected", "source"),
    [
        ({}, None, None, E, "default"),
        ({"GLOVEBOX_CACHE_GLOBAL": "disabled"}, None, None, D, "env GLOVEBOX_CACHE_GLOBAL"),
        # 1. the global switch beats everything, even an explicit per-tag "enabled"
        (
            {"GLOVEBOX_CACHE_GLOBAL": "off", "GLOVEBOX_CACHE_LAYOUT": "on"},
            "memory",
            "enabled",
            D,
            "env GLOVEBOX_CACHE_GLOBAL",
        ),
        # 2. the per-tag variable beats the config file
        ({"GLOVEBOX_CACHE_LAYOUT": "disabled"}, "enabled", None, D, "env GLOVEBOX_CACHE_LAYOUT"),
        ({"GLOVEBOX_CACHE_LAYOUT": "yes"}, "disabled", "disabled", E, "env GLOVEBOX_CACHE_LAYOUT"),
        ({"GLOVEBOX_CACHE_LAYOUT": "memory"}, None, None, M, "env GLOVEBOX_CACHE_LAYOUT"),
        # another tag's variable does not apply
        ({"GLOVEBOX_CACHE_METRICS": "disabled"}, None, None, E, "default"),
        # 3. the config's per-domain strategy beats the global ones
        ({}, "disabled", "enabled", D, "config cache.domains.layout.strategy"),
        (
            {"GLOVEBOX_CACHE_GLOBAL": "enabled"},
            "memory",
            None,
            M,
            "config cache.domains.layout.strategy",
        ),
        # 4. GLOBAL=enabled overrides the config's global cache_strategy
        ({"GLOVEBOX_CACHE_GLOBAL": "enabled"}, None, "disabled", E, "env GLOVEBOX_CACHE_GLOBAL"),
        ({}, None, "disabled", D, "config cache_strategy"),
        ({}, None, "shared", E, "config cache_strategy"),
        # empty variables count as unset
        ({"GLOVEBOX_CACHE_GLOBAL": "", "GLOVEBOX_CACHE_LAYOUT": " "}, None, None, E, "default"),
    ],
)
def test_precedence(
    environ: dict[str, str],
    domain: str | None,
    user_global: str | None,
    expected: Strategy,
    source: str,
) -> None:
    decision = resolve_strategy(
        "layout", environ, domain_strategy=domain, global_strategy=user_global
    )
    assert decision.strategy is expected
    assert decision.source == source


@pytest.mark.parametrize("word", ["disabled", "FALSE", "0", "Off", "no", " no "])
def test_disabling_words(word: str) -> None:
    assert parse_strategy(word, where="X") is D


@pytest.mark.parametrize("word", ["enabled", "True", "1", "ON", "yes", "shared", "disk"])
def test_enabling_words(word: str) -> None:
    assert parse_strategy(word, where="X") is E


def test_yaml_booleans_are_accepted() -> None:
    assert parse_strategy(False, where="X") is D
    assert parse_strategy(True, where="X") is E


@pytest.mark.parametrize("word", ["disable", "maybe", "2", "enabledd", ""])
def test_unknown_words_are_errors_naming_the_variable_and_accepted_words(word: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_strategy("compilation", {"GLOVEBOX_CACHE_COMPILATION": word + "x"})
    message = str(info.value)
    assert "GLOVEBOX_CACHE_COMPILATION" in message
    assert ACCEPTED_SWITCH_WORDS  # the loop below must check something
    for accepted in ACCEPTED_SWITCH_WORDS:
        assert accepted in message


def test_global_variable_does_not_accept_memory() -> None:
    with pytest.raises(ConfigError, match="GLOVEBOX_CACHE_GLOBAL"):
        resolve_strategy("layout", {"GLOVEBOX_CACHE_GLOBAL": "memory"})


def test_invalid_config_word_names_the_yaml_path() -> None:
    with pytest.raises(ConfigError, match=r"cache\.domains\.metrics\.strategy.*'sometimes'"):
        resolve_strategy("metrics", {}, domain_strategy="sometimes")


def test_a_typo_is_reported_even_when_a_higher_layer_decides() -> None:
    with pytest.raises(ConfigError, match="GLOVEBOX_CACHE_LAYOUT"):
        resolve_strategy(
            "layout", {"GLOVEBOX_CACHE_GLOBAL": "disabled", "GLOVEBOX_CACHE_LAYOUT": "of"}
        )


@pytest.mark.parametrize(
    ("tag", "variable"),
    [
        ("layout", "GLOVEBOX_CACHE_LAYOUT"),
        (None, "GLOVEBOX_CACHE_DEFAULT"),
        ("zmk-west.v2", "GLOVEBOX_CACHE_ZMK_WEST_V2"),
    ],
)
def test_env_var_for_tag(tag: str | None, variable: str) -> None:
    assert env_var_for_tag(tag) == variable


@pytest.mark.parametrize(
    "tag", ["", ".", "..", "a/b", "../escape", "a\\b", "x" * 65, "semi;colon", "sp ace", "global"]
)
def test_invalid_tags_raise_value_error_naming_the_tag(tag: str) -> None:
    with pytest.raises(ValueError, match="invalid cache tag") as info:
        validate_tag(tag)
    assert repr(tag) in str(info.value)
    assert "[A-Za-z0-9_.-]" in str(info.value)


def test_non_string_tag_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="tag"):
        validate_tag(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("tag", ["compilation", "a", "A_b-c.d", "x" * 64])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    ("environ", "domain", "user_global", "expected"),
    [
        ({}, None, None, (DecisionLayer.DEFAULT, None, None)),
        (
            {"GLOVEBOX_CACHE_GLOBAL": "off"},
            "memory",
            None,
            (DecisionLayer.ENV_GLOBAL, "GLOVEBOX_CACHE_GLOBAL", None),
        ),
        (
            {"GLOVEBOX_CACHE_GLOBAL": "on"},
            None,
            "off",
            (DecisionLayer.ENV_GLOBAL, "GLOVEBOX_CACHE_GLOBAL", None),
        ),
        (
            {"GLOVEBOX_CACHE_LAYOUT": "memory"},
            "off",
            None,
            (DecisionLayer.ENV_TAG, "GLOVEBOX_CACHE_LAYOUT", None),
        ),
        ({}, "memory", "off", (DecisionLayer.DOMAIN_CONFIG, None, "cache.domains.layout.strategy")),
        ({}, None, "off", (DecisionLayer.GLOBAL_CONFIG, None, "cache_strategy")),
    ],
)
def test_decisions_name_their_layer_variable_and_yaml_path(
    environ: dict[str, str],
    domain: str | None,
    user_global: str | None,
    expected: tuple[DecisionLayer, str | None, str | None],
) -> None:
    decision = resolve_strategy(
        "layout", environ, domain_strategy=domain, global_strategy=user_global
    )
    assert (decision.layer, decision.variable, decision.yaml_path) == expected
