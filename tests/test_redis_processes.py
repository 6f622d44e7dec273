"""Redis backend across real processes: shared statistics, one computation, forks, crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.core.cache_v2.redis_settings import RedisSettings

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 60


def settings_json(settings: RedisSettings) -> str:
    values = settings.model_dump(mode="json")
    values["secret"] = None if settings.secret is None else settings.secret.get_secret_value()
    return json.dumps(values)


def start_child(settings: RedisSettings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.redis_child", settings_json(settings), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate(timeout=CHILD_TIMEOUT)
    assert child.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_hit_and_miss_totals_add_up_across_processes(redis_settings: RedisSettings) -> None:
    cache = RedisCache(redis_settings, tag="shared")
    cache.set_many({f"k{i}": i for i in range(20)})
    # One after the other, so each can check that its reads alone wrote nothing.
    results = [result_of(start_child(redis_settings, "lookups", "20", "7")) for _ in range(2)]
    assert [result["found"] for result in results] == [20, 20]
    # Below the batch size nothing is written per read; each process adds its counts once.
    assert not any(result["flushed_before_close"] for result in results)
    stats = cache.get_stats()
    assert (stats.hits, stats.misses) == (40, 14)
    cache.close()


@pytest.mark.slow
def test_get_or_set_computes_once_across_processes(
    redis_settings: RedisSettings, tmp_path: Path
) -> None:
    log = tmp_path / "computations.log"
    start = time.time() + 1.5  # every child is up and waiting before anyone starts
    children = [
        start_child(redis_settings, "get_or_set", "firmware", str(log), str(start))
        for _ in range(3)
    ]
    values = {result_of(child)["value"] for child in children}
    computed_by = log.read_text().split()
    assert len(computed_by) == 1
    assert values == {f"computed by {computed_by[0]}"}


@pytest.mark.slow
def test_a_crashed_lock_holder_blocks_others_only_until_the_lock_expires(
    redis_settings: RedisSettings,
) -> None:
    settings = redis_settings.model_copy(update={"lock_timeout": 1.0})
    child = start_child(settings, "die_holding_lock", "k")
    child.communicate(timeout=CHILD_TIMEOUT)
    assert child.returncode == -9  # killed while holding the lock
    lock = f"{settings.key_prefix}:shared#lock:k"
    raw = redis.Redis.from_url(settings.url)
    cache = RedisCache(settings, tag="shared")
    assert cache.get_or_set("k", lambda: "after the crash") == "after the crash"
    assert raw.exists(lock) == 0  # released by its new holder
    cache.close()
    raw.close()


def wire_client_id(cache: RedisCache) -> int:
    """The server's id of the connection the cache's reads and writes go through."""
    return int(cache._link.wire.call(b"CLIENT", b"ID"))


def test_a_forked_child_uses_its_own_connections(redis_settings: RedisSettings) -> None:
    cache = RedisCache(redis_settings, tag="fork")
    cache.set("k", "from parent")
    parent_client_id = cache._link.client.client_id()
    parent_wire_id = wire_client_id(cache)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            report = {
                "value": cache.get("k"),
                "client_id": cache._link.client.client_id(),
                "wire_id": wire_client_id(cache),
            }
            cache.set("from-child", 1)
            cache.close()
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        report = json.loads(reader.read() or "{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["value"] == "from parent"
    assert report["client_id"] != parent_client_id
    assert report["wire_id"] not in (parent_wire_id, parent_client_id)
    # The child neither used nor closed the parent's connections.
    assert cache._link.client.client_id() == parent_client_id
    assert wire_client_id(cache) == parent_wire_id
    assert cache.get("from-child") == 1
    cache.close()
