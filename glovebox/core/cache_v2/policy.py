"""Strategy resolution and input validation for cache tags.

Everything here is a pure function of its arguments (the environment is passed in as a
mapping), so the precedence rules can be table-tested without touching ``os.environ``.

Precedence, first match wins:

1. ``GLOVEBOX_CACHE_GLOBAL=disabled``        -> disabled for every tag
2. ``GLOVEBOX_CACHE_<TAG>=<word>``           -> that word, for that tag
3. the user config's ``cache.domains.<tag>.strategy``
4. ``GLOVEBOX_CACHE_GLOBAL=enabled``, else the user config's ``cache_strategy``
5. the built-in default: enabled (disk backend)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from glovebox.errors import ConfigError, InvalidArgumentError, InvalidArgumentTypeError
from glovebox.text import quote

__all__ = [
    "ACCEPTED_DOMAIN_WORDS",
    "ACCEPTED_SWITCH_WORDS",
    "DEFAULT_TAG",
    "GLOBAL_CONFIG_PATH",
    "GLOBAL_ENV_VAR",
    "KNOWN_DOMAINS",
    "DecisionLayer",
    "Strategy",
    "StrategyDecision",
    "decide_strategy",
    "domain_strategy_path",
    "env_var_for_tag",
    "parse_strategy",
    "plain_str",
    "resolve_strategy",
    "tag_variable",
    "validate_tag",
]

DEFAULT_TAG = "default"
KNOWN_DOMAINS: tuple[str, ...] = ("compilation", "layout", "metrics", "moergo")
"""The standard domain tags, always listed whether or not they hold anything yet."""
GLOBAL_ENV_VAR = "GLOVEBOX_CACHE_GLOBAL"
GLOBAL_CONFIG_PATH = "cache_strategy"
ENV_PREFIX = "GLOVEBOX_CACHE_"

_TAG_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_RESERVED_TAGS = frozenset({".", "..", "global"})


class Strategy(StrEnum):
    """How a domain's cache is backed."""

    ENABLED = "enabled"  # persistent disk backend (diskcache, SQLite)
    DISABLED = "disabled"  # DisabledCache: stores nothing
    MEMORY = "memory"  # in-process backend, gone when the process exits
    REDIS = "redis"  # a shared Redis server (docs/redis.md)


_SWITCH_WORDS: dict[str, Strategy] = {
    **dict.fromkeys(("disabled", "false", "0", "off", "no"), Strategy.DISABLED),
    **dict.fromkeys(("enabled", "true", "1", "on", "yes", "shared"), Strategy.ENABLED),
}
# Words accepted globally (GLOVEBOX_CACHE_GLOBAL, cache_strategy): "memory" is per domain
# only, but every domain may share one Redis server.
_GLOBAL_WORDS: dict[str, Strategy] = {**_SWITCH_WORDS, "redis": Strategy.REDIS}
_DOMAIN_WORDS: dict[str, Strategy] = {
    **_GLOBAL_WORDS,
    "memory": Strategy.MEMORY,
    "disk": Strategy.ENABLED,
}
# Tags whose GLOVEBOX_CACHE_<TAG> variable is a setting of its own, not a strategy switch.
_RESERVED_VARIABLE_TAGS = frozenset({"redis_url", "redis_secret", "secret"})

ACCEPTED_SWITCH_WORDS: tuple[str, ...] = tuple(_GLOBAL_WORDS)
ACCEPTED_DOMAIN_WORDS: tuple[str, ...] = tuple(_DOMAIN_WORDS)


class DecisionLayer(StrEnum):
    """The layer of the precedence order (module docstring) that decided a strategy."""

    ENV_GLOBAL = "env-global"  # GLOVEBOX_CACHE_GLOBAL
    ENV_TAG = "env-tag"  # GLOVEBOX_CACHE_<TAG>
    DOMAIN_CONFIG = "domain-config"  # cache.domains.<tag>.strategy
    GLOBAL_CONFIG = "global-config"  # cache_strategy
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class StrategyDecision:
    """The strategy chosen for one tag and which layer chose it (for ``cache show``).

    ``variable`` is the environment variable of the ``ENV_*`` layers; ``yaml_path`` the
    configuration key of the ``*_CONFIG`` layers (the configuration object knows the file
    and line that set it). Both are ``None`` where they do not apply.
    """

    strategy: Strategy
    layer: DecisionLayer
    variable: str | None = None
    yaml_path: str | None = None

    @property
    def source(self) -> str:
        """A short plain-text account of the deciding layer, for logs and messages."""
        if self.variable is not None:
            return f"env {self.variable}"
        if self.yaml_path is not None:
            return f"config {self.yaml_path}"
        return self.layer.value


def plain_str(value: str) -> str:
    """The plain ``str`` equal to ``value``, which may be a ``str`` subclass.

    A ``StrEnum`` member, say, must be stored and found as the same entry as its plain
    string. ``str(value)`` would call the subclass's own ``__str__``, which may return
    something else; ``str.__str__`` is the base class's, which returns the characters.
    """
    return value if type(value) is str else str.__str__(value)


def parse_strategy(value: object, *, where: str, allow_memory: bool = True) -> Strategy:
    """Turn a configured word into a :class:`Strategy`, or raise ``ConfigError``.

    ``where`` names the origin (an environment variable or a YAML path) so the error can
    point at it. Words are case-insensitive; surrounding whitespace is ignored. Booleans
    (YAML ``true``/``false``) are accepted as their words.
    """
    words = _DOMAIN_WORDS if allow_memory else _GLOBAL_WORDS
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, Strategy) and (allow_memory or value is not Strategy.MEMORY):
        return value
    if isinstance(value, str):
        strategy = words.get(value.strip().lower())
        if strategy is not None:
            return strategy
    accepted = ", ".join(words)
    raise ConfigError(
        f"{where}: invalid cache strategy {quote(value)}; accepted (any case): {accepted}"
    )


def validate_tag(tag: str | None) -> str:
    """Return the directory name for ``tag`` (``None`` -> ``"default"``), or raise.

    Raises ``InvalidArgumentError`` (a ``ValueError``), or ``InvalidArgumentTypeError``
    (a ``TypeError``) for a tag that is not a string.

    A tag becomes a directory below the cache root, so anything that could escape the root
    or collide with the global switch is refused.
    """
    if tag is None:
        return DEFAULT_TAG
    if not isinstance(tag, str):
        raise InvalidArgumentTypeError(
            f"cache tag must be a str or None, got {type(tag).__name__}: {quote(tag)}"
        )
    # Compared case-insensitively: "GLOBAL" would also map to GLOVEBOX_CACHE_GLOBAL.
    if tag.lower() in _RESERVED_TAGS or not _TAG_PATTERN.fullmatch(tag):
        raise InvalidArgumentError(
            f"invalid cache tag {quote(tag)}: a tag is 1-64 characters from [A-Za-z0-9_.-], "
            "not '.', '..' or 'global' in any case (reserved for GLOVEBOX_CACHE_GLOBAL)"
        )
    if re.sub(r"[^A-Za-z0-9]", "_", tag).lower() in _RESERVED_VARIABLE_TAGS:
        raise InvalidArgumentError(
            f"invalid cache tag {quote(tag)}: its variable "
            f"{ENV_PREFIX}{re.sub(r'[^A-Za-z0-9]', '_', tag).upper()} is a cache setting of "
            "its own (a Redis setting or the signing secret), not a strategy switch; "
            "choose another tag"
        )
    return tag if type(tag) is str else plain_str(tag)


def domain_strategy_path(tag: str | None) -> str:
    """``"layout"`` -> ``"cache.domains.layout.strategy"`` (the YAML key of its strategy)."""
    return _domain_path(validate_tag(tag))


def env_var_for_tag(tag: str | None) -> str:
    """``"layout"`` -> ``"GLOVEBOX_CACHE_LAYOUT"``; non-alphanumerics become ``_``."""
    return tag_variable(validate_tag(tag))


def _domain_path(name: str) -> str:
    return f"cache.domains.{name}.strategy"


def tag_variable(name: str) -> str:
    """:func:`env_var_for_tag` of a ``name`` that :func:`validate_tag` returned."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def resolve_strategy(
    tag: str | None,
    environ: Mapping[str, str],
    *,
    domain_strategy: object = None,
    global_strategy: object = None,
) -> StrategyDecision:
    """Decide the strategy for ``tag`` (see the module docstring for the order).

    ``domain_strategy``/``global_strategy`` are the user config's values (``None`` when
    unset). Invalid words anywhere raise ``ConfigError`` naming where they came from, even
    when a higher layer would have decided: a typo is never silently ignored.
    """
    return decide_strategy(
        validate_tag(tag),
        environ,
        domain_strategy=domain_strategy,
        global_strategy=global_strategy,
    )


def decide_strategy(
    name: str,
    environ: Mapping[str, str],
    *,
    domain_strategy: object = None,
    global_strategy: object = None,
) -> StrategyDecision:
    """:func:`resolve_strategy` for a ``name`` that :func:`validate_tag` returned.

    For callers that validated the tag already (the factories' first open): the name is
    not checked again.
    """
    domain_path = _domain_path(name)
    global_raw = environ.get(GLOBAL_ENV_VAR)
    global_env = (
        None
        if global_raw is None or global_raw.strip() == ""
        else parse_strategy(global_raw, where=GLOBAL_ENV_VAR, allow_memory=False)
    )
    tag_var = tag_variable(name)
    tag_raw = environ.get(tag_var)
    tag_env = (
        None if tag_raw is None or tag_raw.strip() == "" else parse_strategy(tag_raw, where=tag_var)
    )
    domain = None if domain_strategy is None else parse_strategy(domain_strategy, where=domain_path)
    user_global = (
        None
        if global_strategy is None
        else parse_strategy(global_strategy, where=GLOBAL_CONFIG_PATH, allow_memory=False)
    )

    if global_env is Strategy.DISABLED:
        return StrategyDecision(global_env, DecisionLayer.ENV_GLOBAL, variable=GLOBAL_ENV_VAR)
    if tag_env is not None:
        return StrategyDecision(tag_env, DecisionLayer.ENV_TAG, variable=tag_var)
    if domain is not None:
        return StrategyDecision(domain, DecisionLayer.DOMAIN_CONFIG, yaml_path=domain_path)
    if global_env is not None:
        return StrategyDecision(global_env, DecisionLayer.ENV_GLOBAL, variable=GLOBAL_ENV_VAR)
    if user_global is not None:
        return StrategyDecision(
            user_global, DecisionLayer.GLOBAL_CONFIG, yaml_path=GLOBAL_CONFIG_PATH
        )
    return StrategyDecision(Strategy.ENABLED, DecisionLayer.DEFAULT)
