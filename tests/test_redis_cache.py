"""Redis backend specifics, on a real server: namespace, expiry, round trips, signing."""

from __future__ import annotations

import hashlib
import hmac
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
from glovebox.core.cache_v2.redis_codec import HEADER_LENGTH, SIGNATURE_AT, Signer
from glovebox.core.cache_v2.redis_settings import RedisSettings
from glovebox.core.cache_v2.redis_wire import Wire
from glovebox.errors import CacheError, ConfigError
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
    assert measure(lambda: cache.exists("k")) == (1, Counter(get=1))
    # set_many: one transaction, MULTI, the SETs and EXEC sent together.
    assert measure(lambda: cache.set_many(items, ttl=60)) == (1, Counter(multi=1, set=20, exec=1))
    assert measure(lambda: cache.set_many(items)) == (1, Counter(multi=1, set=20, exec=1))
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


def replay_signature(cache: RedisCache, raw: redis.Redis, key: str, payload: bytes) -> None:
    """Replace ``key``'s stored value by ``payload`` under the genuine value's signature."""
    name = name_of(cache, key)
    genuine = raw.get(name)
    assert isinstance(genuine, bytes)
    raw.set(name, forged_value(cache, payload, genuine[SIGNATURE_AT:HEADER_LENGTH]))


def copy_stored(raw: redis.Redis, cache: RedisCache, source: str, target: str) -> None:
    """Store ``source``'s value, header and signature included, under ``target``."""
    raw.set(name_of(cache, target), raw.get(name_of(cache, source)) or b"")


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
    marker = tmp_path / "unpickled"
    replay_signature(cache, raw, "k", pickle.dumps(_Planted(marker)))
    assert cache.get("k") is None
    assert not marker.exists()
    assert "signature" in warnings_of_cache.text


def test_a_signed_value_replayed_under_another_key_is_rejected(
    cache: RedisCache, raw: redis.Redis
) -> None:
    cache.set("price", 10)
    copy_stored(raw, cache, "price", "cost")
    assert cache.exists("cost") is False
    assert cache.get("cost") is None
    assert cache.exists("price") is True
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


# -- exists() and get_metadata() agree with get() ------------------------------------


def test_exists_and_metadata_say_absent_for_a_tampered_value_without_loading_it(
    cache: RedisCache, raw: redis.Redis, tmp_path: Path, warnings_of_cache: pytest.LogCaptureFixture
) -> None:
    cache.set("k", "genuine")
    assert cache.exists("k")
    assert cache.get_metadata("k") is not None
    marker = tmp_path / "unpickled"
    replay_signature(cache, raw, "k", pickle.dumps(_Planted(marker)))
    errors_before = cache.get_stats().errors
    assert cache.exists("k") is False
    assert cache.get_metadata("k") is None
    assert cache.get("k") is None
    assert not marker.exists()
    assert cache.get_stats().errors == errors_before + 3
    assert warnings_of_cache.text.count("signature") == 3


def test_exists_agrees_with_get_for_unsigned_json(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    cache = RedisCache(
        new_redis_settings(redis_server, secret=None), tag="plain", serializer="json"
    )
    cache.set("good", [1, 2])
    stored = raw.get(name_of(cache, "good"))
    assert isinstance(stored, bytes)
    raw.set(name_of(cache, "broken"), stored[:HEADER_LENGTH] + b"[1, 2")  # not JSON
    assert (cache.exists("good"), cache.get("good")) == (True, [1, 2])
    assert (cache.exists("broken"), cache.get("broken")) == (False, None)
    cache.close()


# -- signing -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", [b"k" * 16, b"x" * 64, b"long secret " * 20, bytes(range(65))])
def test_signer_computes_hmac_sha256(secret: bytes) -> None:
    payload = pickle.dumps({"a": list(range(100))})
    expected = hmac.new(secret, b"ns:key" + b"p" + payload, hashlib.sha256).digest()
    signer = Signer(secret)
    assert signer.sign(b"ns:key", b"p", payload) == expected
    assert signer.sign(b"ns:key", b"p", memoryview(payload)) == expected  # and again
    assert signer.sign(b"ns:kez", b"p", payload) != expected


# -- the hot path's connections --------------------------------------------------------


def test_large_values_round_trip_through_set_and_set_many(cache: RedisCache) -> None:
    # Larger than the buffers redis-py packs small arguments into, so sent in pieces.
    big = {f"big{i}": bytes([i]) * (200_000 + i) for i in range(3)}
    mixed = {**big, "small": 1, "tiny": b""}
    cache.set_many(mixed, ttl=60)
    assert cache.get_many(list(mixed)) == mixed
    cache.set("alone", big["big1"])
    assert cache.get("alone") == big["big1"]


def test_a_url_asking_for_decoded_replies_still_stores_bytes(redis_server: RedisServer) -> None:
    settings = new_redis_settings(redis_server, url=redis_server.url + "?decode_responses=True")
    cache = RedisCache(settings, tag="decoded")
    cache.set("k", {"bytes": b"\xff\xfe"})
    cache.set_many({"a": 1, "b": 2})
    assert cache.get("k") == {"bytes": b"\xff\xfe"}
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    assert cache.exists("k")
    assert cache.get_stats().entries == 3
    cache.close()


def test_a_refused_set_many_writes_nothing_and_the_connection_stays_usable(
    own_redis_server: RedisServer,
) -> None:
    cache = RedisCache(new_redis_settings(own_redis_server), tag="full")
    admin = redis.Redis.from_url(own_redis_server.url)
    cache.set_many({"a": "old a", "b": "old b"})
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)  # every write is refused as out of memory
    try:
        with pytest.raises(CacheError, match=r"(?i)set_many.*memory"):
            cache.set_many({"a": "new a", "b": "new b", "c": "new c"})
    finally:
        admin.config_set("maxmemory", 0)
    # Nothing of the refused batch was written, and the same connections still answer
    # in step (each reply of the failed transaction was consumed).
    assert cache.get_many(["a", "b", "c"]) == {"a": "old a", "b": "old b"}
    cache.set_many({"c": "new c"})
    assert cache.get("c") == "new c"
    cache.close()
    admin.close()


def test_set_many_gives_every_entry_the_servers_expiry(cache: RedisCache, raw: redis.Redis) -> None:
    raw.script_flush()  # as after a restart: set_many depends on no loaded script
    cache.set_many({"a": 1, "b": 2}, ttl=60)
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    assert all(0 < raw.pttl(name_of(cache, key)) <= 60_000 for key in ("a", "b"))
    cache.set_many({"a": 3, "c": 5})  # no TTL: the entries stay until deleted
    assert cache.get_many(["a", "c"]) == {"a": 3, "c": 5}
    assert raw.pttl(name_of(cache, "a")) == -1
    assert raw.pttl(name_of(cache, "c")) == -1


@pytest.fixture
def wire(redis_server: RedisServer, raw: redis.Redis) -> Iterator[Wire]:
    """A wire connection to the test server; its ``wire:*`` keys are removed afterwards."""
    pool = redis.ConnectionPool.from_url(redis_server.url)
    connection = Wire(lambda: pool.connection_class(**pool.connection_kwargs))
    yield connection
    connection.close()
    raw.delete("wire:text", "wire:a", "wire:b", "wire:c")


@pytest.fixture
def text_key(raw: redis.Redis) -> bytes:
    """A key holding text, which INCR refuses with an error reply."""
    raw.set("wire:text", "not a number")
    return b"wire:text"


def test_an_error_reply_leaves_the_wire_connection_in_step(wire: Wire, text_key: bytes) -> None:
    own_id = wire.call(b"CLIENT", b"ID")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        wire.call(b"INCR", text_key)
    # The same connection answers the next command with its own reply.
    assert wire.call(b"CLIENT", b"ID") == own_id
    assert wire.call(b"GET", text_key) == b"not a number"


def test_a_transaction_reports_an_error_reply_inside_exec(
    wire: Wire, text_key: bytes, raw: redis.Redis
) -> None:
    own_id = wire.call(b"CLIENT", b"ID")
    # INCR of text is queued, then fails when EXEC runs it; Redis has no rollback, so
    # the SET before it stands. The failure must not pass unnoticed.
    with pytest.raises(redis.ResponseError, match="not an integer"):
        wire.transaction([(b"SET", b"wire:a", b"1"), (b"INCR", text_key)])
    assert raw.get("wire:a") == b"1"
    assert wire.transaction([(b"INCR", b"wire:a"), (b"GET", b"wire:a")]) == [2, b"2"]
    assert wire.call(b"CLIENT", b"ID") == own_id


def test_a_transaction_refused_while_queueing_raises_the_refusal_not_the_abort(
    wire: Wire, raw: redis.Redis
) -> None:
    with pytest.raises(redis.ResponseError, match=r"(?i)wrong number of arguments"):
        wire.transaction([(b"SET", b"wire:b", b"1"), (b"SET", b"wire:c")])
    assert raw.exists("wire:b", "wire:c") == 0  # discarded: nothing was written
    assert wire.transaction([(b"SET", b"wire:b", b"2")]) == [b"OK"]
    assert raw.get("wire:b") == b"2"
