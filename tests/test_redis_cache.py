"""Redis backend specifics, on a real server: namespace, expiry, round trips, signing."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.core.cache_v2.redis_codec import HEADER_LENGTH, SIGNATURE_AT
from glovebox.core.cache_v2.redis_settings import RedisSettings
from glovebox.errors import ConfigError
from glovebox.testing.redis_server import RedisServer
from tests.redis_fixtures import new_redis_settings
from tests.redis_proxy import CountingProxy


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def cache(redis_settings: RedisSettings) -> Iterator[RedisCache]:
    instance = RedisCache(redis_settings, tag="unit")
    yield instance
    instance.close()


def name_of(cache: RedisCache, key: str) -> bytes:
    return (cache.namespace + key).encode()


# -- namespace -----------------------------------------------------------------------


def test_keys_live_under_prefix_and_tag(cache: RedisCache, raw: redis.Redis) -> None:
    cache.set("layout:1", {"a": 1})
    prefix = cache.settings.key_prefix
    assert raw.exists(f"{prefix}:unit:layout:1") == 1


def test_foreign_keys_survive_keys_and_clear(
    cache: RedisCache, raw: redis.Redis, redis_settings: RedisSettings
) -> None:
    prefix = redis_settings.key_prefix
    foreign = {
        "unrelated": b"1",
        f"{prefix}:unitx:k": b"2",  # a tag that merely starts like ours
        f"{prefix}:unit": b"3",  # our namespace without the separator
        f"other{prefix}:unit:k": b"4",
        f"{prefix}-x:unit:k": b"5",
    }
    raw.mset(foreign)
    neighbour = RedisCache(redis_settings, tag="neighbour")
    neighbour.set("n", "kept")
    cache.set_many({f"k{i}": i for i in range(30)})
    assert sorted(cache.keys()) == sorted(f"k{i}" for i in range(30))
    cache.clear()
    assert cache.keys() == []
    assert {key: raw.get(key) for key in foreign} == foreign
    assert neighbour.get("n") == "kept"
    neighbour.close()
    raw.delete(*foreign)


# -- expiry and metadata ---------------------------------------------------------------


def test_ttl_is_the_servers_expiry_and_touch_rearms_it(cache: RedisCache, raw: redis.Redis) -> None:
    name = name_of(cache, "k")
    cache.set("k", 1, ttl=60)
    assert 58_000 < raw.pttl(name) <= 60_000
    assert cache.touch("k", ttl=600) is True
    assert 598_000 < raw.pttl(name) <= 600_000
    assert cache.touch("k") is True  # no ttl: the server keeps it for good
    assert raw.pttl(name) == -1
    assert cache.get("k") == 1


def test_the_server_drops_expired_entries_itself(cache: RedisCache, raw: redis.Redis) -> None:
    cache.set("brief", "x", ttl=0.05)
    name = name_of(cache, "brief")
    deadline = time.monotonic() + 10
    while raw.exists(name) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert raw.exists(name) == 0
    assert cache.get("brief") is None
    assert cache.cleanup() == 0  # nothing left for cleanup to do


def test_metadata_reports_store_time_server_expiry_and_size(
    cache: RedisCache, raw: redis.Redis
) -> None:
    before = datetime.now(UTC)
    cache.set("meta", b"x" * 1000, ttl=120)
    metadata = cache.get_metadata("meta")
    assert metadata is not None
    assert metadata.stored_at is not None
    assert before - timedelta(seconds=1) <= metadata.stored_at <= datetime.now(UTC)
    name = name_of(cache, "meta")
    assert metadata.size_bytes == raw.strlen(name)
    raw.pexpire(name, 30_000)  # the server's expiry is what metadata reports
    shortened = cache.get_metadata("meta")
    assert shortened is not None
    assert shortened.ttl_remaining is not None
    assert 25 < shortened.ttl_remaining <= 30


# -- round trips -----------------------------------------------------------------------


def command_calls(client: redis.Redis) -> Counter[str]:
    stats: dict[str, Any] = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


@pytest.fixture
def measured(
    redis_server: RedisServer, raw: redis.Redis
) -> Iterator[tuple[RedisCache, Callable[[Callable[[], object]], tuple[int, Counter[str]]]]]:
    """A cache behind a counting proxy, and a function measuring one action's traffic."""
    with CountingProxy(redis_server.socket_path) as proxy:
        cache = RedisCache(new_redis_settings(url=proxy.url), tag="trips")
        cache.exists("warm-up")  # connect (and handshake) before measuring

        def measure(action: Callable[[], object]) -> tuple[int, Counter[str]]:
            cache.exists("warm-up-scripts")
            before = command_calls(raw)
            proxy.reset_counts()
            action()
            trips = proxy.round_trips
            delta = command_calls(raw) - before
            delta.pop("info", None)
            return trips, delta

        yield cache, measure
        cache.close()


def test_each_operation_is_one_round_trip(
    measured: tuple[RedisCache, Callable[[Callable[[], object]], tuple[int, Counter[str]]]],
) -> None:
    cache, measure = measured
    cache.delete_many(["load the delete script"])
    cache.touch("load the touch script")
    items = {f"k{i}": i for i in range(20)}
    assert measure(lambda: cache.set("k", 1)) == (1, Counter(set=1))
    assert measure(lambda: cache.get("k")) == (1, Counter(get=1))
    assert measure(lambda: cache.exists("k")) == (1, Counter(getrange=1))
    trips, commands = measure(lambda: cache.set_many(items, ttl=60))
    assert (trips, commands["evalsha"], commands["set"]) == (1, 1, 20)
    assert measure(lambda: cache.get_many(list(items))) == (1, Counter(mget=1))
    # Scripts: one EVALSHA from the client; the commands inside run on the server.
    trips, commands = measure(lambda: cache.delete_many(["k1", "k2", "k3"]))
    assert (trips, commands["evalsha"], commands["del"]) == (1, 1, 3)
    trips, commands = measure(lambda: cache.touch("k4", ttl=5))
    assert (trips, commands["evalsha"], commands["pexpire"]) == (1, 1, 1)


def test_reads_add_to_shared_statistics_in_batches(
    measured: tuple[RedisCache, Callable[[Callable[[], object]], tuple[int, Counter[str]]]],
) -> None:
    cache, measure = measured
    cache.set("k", 1)

    def reads() -> None:
        for _ in range(100):
            cache.get("k")

    trips, commands = measure(reads)
    assert (trips, commands) == (100, Counter(get=100))  # no statistics write per read
    _, flush = measure(cache.get_stats)
    assert flush["hincrby"] == 2
    assert cache.get_stats().hits == 100


def test_readers_never_see_half_of_a_set_many(cache: RedisCache) -> None:
    keys = [f"k{i}" for i in range(200)]
    cache.set_many(dict.fromkeys(keys, -1))
    torn: list[set[object]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            versions = set(cache.get_many(keys).values())
            if len(versions) > 1:
                torn.append(versions)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for version in range(40):
        cache.set_many(dict.fromkeys(keys, version))
    done.set()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert torn == []
    assert set(cache.get_many(keys).values()) == {39}


# -- signing ---------------------------------------------------------------------------


class _Planted:
    """Unpickling this creates ``marker``: proof that a payload was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def forged_value(cache: RedisCache, payload: bytes, signature: bytes = bytes(32)) -> bytes:
    stored = int(time.time() * 1_000_000)
    return b"GB1p" + b"%020d%020d" % (stored, 0) + signature + payload


@pytest.fixture
def warnings_of_cache(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="glovebox.core.cache_v2.redis_cache")
    return caplog


def test_unsigned_pickle_is_a_miss_a_warning_and_an_error_never_loaded(
    cache: RedisCache, raw: redis.Redis, tmp_path: Path, warnings_of_cache: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Planted(marker))
    pickle.loads(payload)  # the payload works: loading it does create the marker
    assert marker.exists()
    marker.unlink()
    raw.set(name_of(cache, "evil"), forged_value(cache, payload))
    errors_before = cache.get_stats().errors
    assert cache.get("evil", "fallback") == "fallback"
    assert not marker.exists()
    assert cache.get_stats().errors == errors_before + 1
    assert "signature" in warnings_of_cache.text
    assert "'evil'" in warnings_of_cache.text


def test_tampered_payload_with_the_old_signature_is_rejected(
    cache: RedisCache, raw: redis.Redis, tmp_path: Path, warnings_of_cache: pytest.LogCaptureFixture
) -> None:
    cache.set("k", "genuine")
    name = name_of(cache, "k")
    genuine = raw.get(name)
    assert isinstance(genuine, bytes)
    marker = tmp_path / "unpickled"
    signature = genuine[SIGNATURE_AT:HEADER_LENGTH]
    raw.set(name, forged_value(cache, pickle.dumps(_Planted(marker)), signature))
    assert cache.get("k") is None
    assert not marker.exists()
    assert "signature" in warnings_of_cache.text


def test_a_signed_value_replayed_under_another_key_is_rejected(
    cache: RedisCache, raw: redis.Redis
) -> None:
    cache.set("price", 10)
    raw.set(name_of(cache, "cost"), raw.get(name_of(cache, "price")) or b"")
    assert cache.get("cost") is None
    assert cache.get("price") == 10


def test_a_value_signed_with_another_secret_is_rejected(redis_settings: RedisSettings) -> None:
    writer = RedisCache(redis_settings, tag="unit")
    other = redis_settings.model_copy(update={"secret": None})
    reader = RedisCache(
        RedisSettings.model_validate({**dict(other), "secret": "another-secret-0123456789"}),
        tag="unit",
    )
    writer.set("k", [1, 2])
    assert reader.get("k") is None
    assert writer.get("k") == [1, 2]
    writer.close()
    reader.close()


def test_foreign_data_in_the_namespace_is_a_miss(
    cache: RedisCache, raw: redis.Redis, warnings_of_cache: pytest.LogCaptureFixture
) -> None:
    raw.set(name_of(cache, "junk"), b"not ours")
    assert cache.get("junk", 5) == 5
    assert not cache.exists("junk")
    assert "no header" in warnings_of_cache.text


def test_pickle_without_a_secret_is_refused_with_a_clear_error(redis_server: RedisServer) -> None:
    settings = new_redis_settings(redis_server, secret=None)
    with pytest.raises(ConfigError, match=r"secret.*GLOVEBOX_CACHE_REDIS_SECRET.*json"):
        RedisCache(settings, tag="nosecret")


def test_json_values_work_without_a_secret_and_never_load_pickles(
    redis_server: RedisServer, raw: redis.Redis, tmp_path: Path
) -> None:
    settings = new_redis_settings(redis_server, secret=None)
    cache = RedisCache(settings, tag="plain", serializer="json")
    cache.set("k", {"layers": [1, 2]})
    assert cache.get("k") == {"layers": [1, 2]}
    marker = tmp_path / "unpickled"
    raw.set(name_of(cache, "evil"), forged_value(cache, pickle.dumps(_Planted(marker))))
    assert cache.get("evil") is None
    assert not marker.exists()
    cache.close()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "http://host", "starting with redis://, rediss://, unix://"),
        ("url", "unix://", "names no socket path"),
        ("url", "redis://:pw@host:99999", "malformed"),
        ("key_prefix", "a:b", "key_prefix"),
        ("key_prefix", "", "key_prefix"),
        ("socket_timeout", float("nan"), "finite"),
        ("connect_timeout", 0, "greater than 0"),
        ("secret", "short", "at least 16"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        RedisSettings.model_validate({field: value})
    assert field in str(caught.value)
    assert "pw" not in str(caught.value)
