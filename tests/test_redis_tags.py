"""A Redis domain is a known cache on every machine using the server.

Two "machines" (each its own HOME, XDG directories and cache root) run the installed
``glovebox`` script against one real Redis server (its own, so the namespace holds only
what these tests store). Nothing about a Redis domain is on the second machine's disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from glovebox.testing.plugin import isolate_environment
from glovebox.testing.redis_server import RedisServer
from tests.helpers import GLOVEBOX, run_child
from tests.redis_fixtures import REDIS_SECRET


class Machine:
    def __init__(self, base: Path, server: RedisServer, **variables: str) -> None:
        paths, isolated = isolate_environment(base)
        self.cache_root = paths.cache_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX_")}
        self.env.update(
            isolated,
            COLUMNS="200",
            GLOVEBOX_CACHE_REDIS_URL=server.url,
            GLOVEBOX_CACHE_REDIS_SECRET=REDIS_SECRET,
            **variables,
        )

    def run(self, *args: str, code: int = 0) -> str:
        result = run_child([GLOVEBOX, *args], env=self.env)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout


def test_a_redis_tag_named_by_its_variable_is_known_on_another_machine(
    own_redis_server: RedisServer, tmp_path: Path
) -> None:
    a = Machine(tmp_path / "a", own_redis_server, GLOVEBOX_CACHE_SHARED="redis")
    b = Machine(tmp_path / "b", own_redis_server, GLOVEBOX_CACHE_SHARED="redis")
    a.run("cache", "set", "build:1", "x", "--tag", "shared")

    assert b.run("cache", "get", "build:1", "--tag", "shared").strip() == "x"
    assert b.run("cache", "keys", "--tag", "shared").split() == ["build:1"]
    shown = json.loads(b.run("cache", "show", "--json"))
    (shared,) = [d for d in shown["domains"] if d["tag"] == "shared"]
    assert shared["backend"] == "redis"
    assert shared["entries"] == 1
    assert "shared" in b.run("cache", "show")
    b.run("cache", "clear", "--tag", "shared", "--yes")
    assert a.run("cache", "keys", "--tag", "shared").split() == []
    assert not (b.cache_root / "shared").exists()  # nothing of it on B's disk
    # A Redis tag is known before anything is stored in it: a miss, not "no cache named".
    b.run("cache", "get", "nothing", "--tag", "shared", code=1)


def test_show_lists_the_tags_found_in_the_servers_namespace(
    own_redis_server: RedisServer, tmp_path: Path
) -> None:
    a = Machine(tmp_path / "a", own_redis_server, GLOVEBOX_CACHE_ARTIFACTS="redis")
    b = Machine(tmp_path / "b", own_redis_server, GLOVEBOX_CACHE_GLOBAL="redis")
    a.run("cache", "set", "fw:1", "blob", "--tag", "artifacts")

    shown = json.loads(b.run("cache", "show", "--json"))
    tags = {d["tag"]: d for d in shown["domains"]}
    assert tags["artifacts"]["backend"] == "redis"
    assert tags["artifacts"]["entries"] == 1
    assert b.run("cache", "get", "fw:1", "--tag", "artifacts").strip() == "blob"
    assert not (b.cache_root / "artifacts").exists()

    # A machine on which that tag is not on Redis neither lists nor knows it.
    c = Machine(tmp_path / "c", own_redis_server)
    tags_c = {d["tag"] for d in json.loads(c.run("cache", "show", "--json"))["domains"]}
    assert "artifacts" not in tags_c


def test_an_unreachable_server_costs_a_warning_not_the_listing(tmp_path: Path) -> None:
    server = RedisServer().start()
    url = server.url
    server.close()
    machine = Machine(tmp_path / "m", server, GLOVEBOX_CACHE_SHARED="redis")
    machine.env["GLOVEBOX_CACHE_REDIS_URL"] = url
    result = run_child([GLOVEBOX, "cache", "show", "--json"], env=machine.env)
    assert result.returncode == 0, result.stderr
    tags = {d["tag"] for d in json.loads(result.stdout)["domains"]}
    assert {"shared", "layout"} <= tags
