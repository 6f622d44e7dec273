"""The Redis backend wired in: strategy word, backend table, configuration, CLI, many machines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from glovebox.config import load_user_config
from glovebox.core.cache_v2 import create_cache_from_user_config, create_default_cache
from glovebox.core.cache_v2.backends import BACKENDS, backend_for_strategy
from glovebox.core.cache_v2.policy import (
    DecisionLayer,
    Strategy,
    parse_strategy,
    resolve_strategy,
    validate_tag,
)
from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.errors import ConfigError
from glovebox.testing import isolate_environment
from glovebox.testing.redis_server import RedisServer
from tests.helpers import invoke
from tests.redis_fixtures import REDIS_SECRET

ROOT = Path(__file__).resolve().parent.parent

# -- strategy and backend table --------------------------------------------------------


def test_redis_is_a_strategy_word_per_domain_and_globally() -> None:
    assert parse_strategy("Redis", where="x") is Strategy.REDIS
    assert parse_strategy("redis", where="x", allow_memory=False) is Strategy.REDIS
    decision = resolve_strategy("layout", {"GLOVEBOX_CACHE_LAYOUT": "redis"})
    assert (decision.strategy, decision.variable) == (Strategy.REDIS, "GLOVEBOX_CACHE_LAYOUT")
    decision = resolve_strategy("layout", {}, domain_strategy="redis")
    assert (decision.strategy, decision.layer) == (Strategy.REDIS, DecisionLayer.DOMAIN_CONFIG)
    decision = resolve_strategy("layout", {"GLOVEBOX_CACHE_GLOBAL": "redis"})
    assert (decision.strategy, decision.layer) == (Strategy.REDIS, DecisionLayer.ENV_GLOBAL)
    assert resolve_strategy("layout", {}, global_strategy="redis").strategy is Strategy.REDIS


def test_redis_is_in_the_backend_table() -> None:
    assert backend_for_strategy(Strategy.REDIS) == "redis"
    assert "redis" in BACKENDS


@pytest.mark.parametrize("tag", ["redis_url", "REDIS-URL", "redis.secret"])
def test_tags_named_like_the_redis_variables_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="GLOVEBOX_CACHE_REDIS_"):
        validate_tag(tag)


# -- configuration ---------------------------------------------------------------------


def write_config(home: Path, data: dict[str, Any]) -> Path:
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_domain_on_redis_from_the_configuration(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    config_file = write_config(
        tmp_path,
        {
            "cache": {
                "domains": {"compilation": {"strategy": "redis", "default_ttl": 60}},
                "redis": {"url": redis_server.url, "key_prefix": "cfg", "secret": REDIS_SECRET},
            }
        },
    )
    config = load_user_config(config_file)
    cache = create_cache_from_user_config(config, tag="compilation")
    assert isinstance(cache, RedisCache)
    assert cache.namespace == "cfg:compilation:"
    cache.set("k", 1)
    metadata = cache.get_metadata("k")
    assert metadata is not None
    assert metadata.ttl_remaining is not None
    assert 55 < metadata.ttl_remaining <= 60  # the domain's default_ttl applies
    assert create_cache_from_user_config(config, tag="layout").get_stats().backend == "disk"
    cache.clear()


def test_environment_alone_switches_a_domain_to_redis(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_METRICS", "redis")
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_URL", redis_server.url)
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_SECRET", REDIS_SECRET)
    cache = create_default_cache(tag="metrics")
    assert isinstance(cache, RedisCache)
    assert cache.server == redis_server.url
    config = load_user_config()
    assert config.origin("cache.redis.url") == "GLOVEBOX_CACHE_REDIS_URL"
    assert isinstance(create_cache_from_user_config(config, tag="metrics"), RedisCache)


def test_credentials_in_the_configuration_are_never_echoed(tmp_path: Path) -> None:
    password, secret = "yaml-password-5e1f", 123456789012345678
    config_file = write_config(
        tmp_path,
        {"cache": {"redis": {"url": f"http://u:{password}@h", "secret": secret}}},
    )
    with pytest.raises(ConfigError) as caught:
        load_user_config(config_file)
    message = str(caught.value)
    assert "cache.redis.url" in message
    assert "cache.redis.secret" in message
    assert password not in message
    assert str(secret) not in message


def test_a_missing_secret_is_a_clear_configuration_error(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    config_file = write_config(
        tmp_path,
        {
            "cache": {
                "domains": {"layout": {"strategy": "redis"}},
                "redis": {"url": redis_server.url},
            }
        },
    )
    with pytest.raises(ConfigError, match="GLOVEBOX_CACHE_REDIS_SECRET"):
        create_cache_from_user_config(load_user_config(config_file), tag="layout")


def test_cache_show_presents_the_redis_domain_masked(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "redis")
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_URL", f"{redis_server.url}?password=cli-pass-77")
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_SECRET", REDIS_SECRET)
    monkeypatch.setenv("COLUMNS", "250")
    result = invoke("cache", "show")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "layout" in line)
    assert "redis" in row
    assert "env GLOVEBOX_CACHE_LAYOUT" in row
    assert "cli-pass-77" not in result.stdout + result.stderr
    assert "password=***" in result.stdout
    assert "version 6." in result.stdout or "version 7." in result.stdout


def test_cache_stats_reports_server_version_and_shared_hits(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOVEBOX_CACHE_LAYOUT", "redis")
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_URL", redis_server.url)
    monkeypatch.setenv("GLOVEBOX__CACHE__REDIS__KEY_PREFIX", "clistats")
    monkeypatch.setenv("GLOVEBOX_CACHE_REDIS_SECRET", REDIS_SECRET)
    monkeypatch.setenv("COLUMNS", "250")
    assert invoke("cache", "set", "k", "v", "--tag", "layout").exit_code == 0
    assert invoke("cache", "get", "k", "--tag", "layout").exit_code == 0
    result = invoke("cache", "stats", "--tag", "layout")
    assert result.exit_code == 0, result.stderr
    assert "version 6." in result.stdout or "version 7." in result.stdout
    assert "clistats:layout:*" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "layout" in line)
    assert "100%" in row
    # The size is what the namespace holds on the server, not this machine's disk usage.
    assert " in Redis" in row
    assert "0 B in Redis" not in row
    assert " of 2.0 GiB" not in row


# -- many machines ---------------------------------------------------------------------


class Machine:
    """A process environment of its own (HOME, XDG directories, config) on one server."""

    def __init__(self, base: Path, server: RedisServer, prefix: str) -> None:
        paths, variables = isolate_environment(base)
        self.cache_root = paths.cache_path
        config_dir = paths.config_home / "glovebox"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "config.yaml").write_text(
            yaml.safe_dump(
                {
                    "cache": {
                        "domains": {"compilation": {"strategy": "redis"}},
                        "redis": {"url": server.url, "key_prefix": prefix},
                    }
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX_")}
        env.update(variables, GLOVEBOX_CACHE_REDIS_SECRET=REDIS_SECRET)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.env = env

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.redis_machine", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> dict[str, Any]:
        return finish(self.start(*args))


def finish(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert result["backends"] == ["redis", "disk"]
    return result


@pytest.mark.slow
def test_three_machines_share_one_server(redis_server: RedisServer, tmp_path: Path) -> None:
    a, b, c = (Machine(tmp_path / name, redis_server, "farm") for name in "abc")
    assert len({a.cache_root, b.cache_root, c.cache_root}) == 3

    a.run("store", "firmware", "v1")
    for machine in (b, c):
        seen = machine.run("read", "firmware")
        assert seen["shared"] == "v1"  # stored on A, read on B and C
        assert seen["private"] is None  # A's disk domain stays on A
    assert a.run("read", "firmware")["private"] == "v1"

    # Hit/miss totals add up: 3 reads above (hits) plus these lookups on every machine.
    for machine, (hits, misses) in zip((a, b, c), ((5, 1), (2, 3), (4, 0)), strict=True):
        assert machine.run("lookups", "firmware", str(hits), str(misses))["found"] == hits
    totals = b.run("stats")
    assert (totals["hits"], totals["misses"]) == (3 + 11, 4)

    log = tmp_path / "builds.log"
    start = str(time.time() + 2.0)
    children = [machine.start("get_or_set", "zmk", str(log), start) for machine in (a, b, c)]
    values = {finish(child)["value"] for child in children}
    builders = log.read_text().split()
    assert len(builders) == 1  # computed once across the three machines
    assert values == {f"built by {builders[0]}"}

    c.run("clear")
    for machine in (a, b):
        assert machine.run("read", "firmware")["shared"] is None  # cleared for everyone
    assert a.run("read", "firmware")["private"] == "v1"  # disk domains are untouched
    assert c.run("stats")["entries"] == 0
