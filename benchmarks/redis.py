"""Redis benchmark: RedisCache against raw redis-py, on one server this script starts.

Every side talks to the same server over the same connection type (a unix socket, the
default RESP version of the installed redis-py) with the same payload (a layout-sized
dict, about 850 bytes pickled). Rounds are interleaved, the order of the two sides
alternating from round to round, and each row compares the medians of the rounds.

What each baseline includes:
- ``raw get``: ``redis.Redis.get`` of a key holding the pickled payload, then
  ``pickle.loads`` of the reply, as a caller storing Python objects must do.
- ``raw set``: ``pickle.dumps`` of the payload, then ``redis.Redis.set``.
- ``raw get miss``: ``redis.Redis.get`` of an absent key (nothing to unpickle).
- ``1,000 x set``: ``RedisCache.set`` called for each of the 1,000 items.
RedisCache's side adds its own work to these: the key's namespace, the value's header,
HMAC-SHA256 signing on write and verification before unpickling on read, and counting
hits and misses.

Context rows: raw ``GET`` without unpickling; dogpile.cache's Redis backend and Django's
``RedisCache`` on the same server and payload; the bound on any batch's speed-up: a batch
still encodes every value, so 1,000 x (encode + round trip) over 1,000 x encode is the
most it can gain; and two other ways to write a batch atomically in one round trip,
against ``set_many``'s MULTI/EXEC: one Lua script carrying every key and value (packed by
redis-py, sent on the same kind of connection as ``set_many``'s), and redis-py's own
transactional pipeline.
Run: ``python benchmarks/redis.py [--rounds N] [--ops N]``.

Targets: get-hit, get-miss and set <= 1.15x raw; ``set_many`` of 1,000 items >= 10x
faster than 1,000 ``set`` calls.
"""

from __future__ import annotations

import os
import pickle
import statistics
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path, and this file's name
# would hide the redis package: replace that entry by the repository root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import redis  # noqa: E402

from benchmarks._timing import Timing, print_ratios, rounds_and_ops  # noqa: E402
from glovebox.core.cache_v2.redis_cache import RedisCache  # noqa: E402
from glovebox.core.cache_v2.redis_settings import RedisSettings  # noqa: E402
from glovebox.core.cache_v2.redis_wire import Wire  # noqa: E402
from glovebox.testing.redis_server import RedisServer  # noqa: E402

PAYLOAD = {"layer": "base", "bindings": [f"&kp K{i}" for i in range(80)], "rev": 3}
SECRET = "benchmark-signing-secret-0123456789"


# Medians of rounds whose order alternates: the two sides share one server process.
TIMING = Timing(summary=statistics.median, alternate=True, label_width=44)
compare = TIMING.compare


def dogpile_region(url: str) -> Any:
    from dogpile.cache import make_region

    return make_region().configure(
        "dogpile.cache.redis", arguments={"url": url, "redis_expiration_time": 3600}
    )


def django_cache(url: str) -> Any:
    import django
    from django.conf import settings

    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "django-bench",
            }
        }
    )
    django.setup()
    from django.core.cache import cache

    return cache


def batch_rows(managed: RedisCache, raw: redis.Redis, batch_rounds: int) -> dict[str, float]:
    """``set_many`` against a loop of ``set``, the bound on that, and the alternatives."""
    ratios: dict[str, float] = {}
    batch = {f"batch:{i}": PAYLOAD for i in range(1000)}
    small = {f"small:{i}": i for i in range(1000)}

    ratios["set_many_speedup_vs_set_loop"] = TIMING.set_many_speedup(managed, batch, batch_rounds)
    # Context: with tiny values encoding is cheap and round trips dominate the loop.
    ratios["set_many_small_values_speedup_vs_set_loop"] = TIMING.set_many_speedup(
        managed, small, batch_rounds, "(context) set_many(1000 ints) vs 1000 x set"
    )
    # Context: what no batch can avoid, encoding each value, against the loop.
    codec, namespace = managed._codec, managed.namespace.encode()

    def encode_all(items: Mapping[str, object]) -> Callable[[int], None]:
        def run(_: int) -> None:
            for key, value in items.items():
                codec.encode(namespace + key.encode(), value, 1, 0)

        return run

    def set_loop(items: Mapping[str, object]) -> Callable[[int], None]:
        def run(_: int) -> None:
            for key, value in items.items():
                managed.set(key, value)

        return run

    for ratio, label, items in (
        ("batch_speedup_bound", "(context) bound: encoding alone vs 1000 x set", batch),
        (
            "batch_speedup_bound_small_values",
            "(context) bound, ints: encoding alone vs loop",
            small,
        ),
    ):
        ratios[ratio] = 1 / compare(label, encode_all(items), set_loop(items), batch_rounds, 1)
    # Context for the choice of MULTI/EXEC: one Lua script doing the same SETs, sent on
    # a connection of the same kind; and redis-py's own transactional pipeline.
    script = b"for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i]) end return #KEYS"
    sha = raw.script_load(script)
    pool = raw.connection_pool
    wire = Wire(lambda: pool.connection_class(**pool.connection_kwargs))

    def script_set_many(items: Mapping[str, object]) -> Callable[[int], None]:
        def run(_: int) -> None:
            names: list[bytes] = []
            values: list[bytes] = []
            for key, value in items.items():
                name = namespace + key.encode()
                names.append(name)
                values.append(codec.encode(name, value, 1, 0))
            wire.call(b"EVALSHA", sha, len(names), *names, *values)

        return run

    def pipeline_set_many(items: Mapping[str, object]) -> Callable[[int], None]:
        def run(_: int) -> None:
            pipe = raw.pipeline(transaction=True)
            for key, value in items.items():
                name = namespace + key.encode()
                pipe.set(name, codec.encode(name, value, 1, 0))
            pipe.execute()

        return run

    for label, items in (("", batch), (" ints", small)):
        suffix = "_small_values" if label else ""
        ratios[f"lua_script_vs_set_many{suffix}"] = compare(
            f"(context) Lua script vs set_many{label}",
            script_set_many(items),
            lambda _, items=items: managed.set_many(items),  # type: ignore[misc]
            batch_rounds,
            1,
        )
        ratios[f"redis_py_pipeline_vs_set_many{suffix}"] = compare(
            f"(context) redis-py MULTI/EXEC pipeline vs ours{label}",
            pipeline_set_many(items),
            lambda _, items=items: managed.set_many(items),  # type: ignore[misc]
            batch_rounds,
            1,
        )
    wire.close()
    return ratios


def main() -> None:
    rounds, ops = rounds_and_ops(__doc__, rounds=7)

    with RedisServer() as server:
        raw = redis.Redis.from_url(server.url)
        managed = RedisCache(
            RedisSettings(url=server.url, key_prefix="bench", secret=SECRET), tag="bench"
        )
        keys = [f"layout:{i}" for i in range(ops)]
        raw_keys = [f"raw:{key}" for key in keys]
        absent = [f"absent:{i}" for i in range(ops)]
        raw_absent = [f"raw:{key}" for key in absent]
        blob = pickle.dumps(PAYLOAD, protocol=pickle.HIGHEST_PROTOCOL)
        region = dogpile_region(server.url)
        django = django_cache(server.url)
        for key, raw_key in zip(keys, raw_keys, strict=True):
            managed.set(key, PAYLOAD)
            raw.set(raw_key, blob)
            region.set(key, PAYLOAD)
            django.set(key, PAYLOAD, None)

        def raw_get(name: str) -> object:
            value = raw.get(name)
            return None if value is None else pickle.loads(value)  # type: ignore[arg-type]

        def raw_set(name: str) -> object:
            return raw.set(name, pickle.dumps(PAYLOAD, protocol=pickle.HIGHEST_PROTOCOL))

        def raw_get_hit(i: int) -> object:
            return raw_get(raw_keys[i])

        def raw_set_one(i: int) -> object:
            return raw_set(raw_keys[i])

        rows: list[tuple[str, str, Callable[[int], object], Callable[[int], object]]] = [
            ("get_hit_ratio_vs_raw", "get hit", lambda i: managed.get(keys[i]), raw_get_hit),
            (
                "get_miss_ratio_vs_raw",
                "get miss",
                lambda i: managed.get(absent[i]),
                lambda i: raw_get(raw_absent[i]),
            ),
            ("set_ratio_vs_raw", "set", lambda i: managed.set(keys[i], PAYLOAD), raw_set_one),
            (
                "raw_get_hit_no_pickle_ratio",
                "(context) raw GET without pickle",
                lambda i: raw.get(raw_keys[i]),
                raw_get_hit,
            ),
            (
                "dogpile_get_hit_ratio_vs_raw",
                "(context) dogpile.cache redis get hit",
                lambda i: region.get(keys[i]),
                raw_get_hit,
            ),
            (
                "django_get_hit_ratio_vs_raw",
                "(context) Django RedisCache get hit",
                lambda i: django.get(keys[i]),
                raw_get_hit,
            ),
            (
                "dogpile_set_ratio_vs_raw",
                "(context) dogpile.cache redis set",
                lambda i: region.set(keys[i], PAYLOAD),
                raw_set_one,
            ),
            (
                "django_set_ratio_vs_raw",
                "(context) Django RedisCache set",
                lambda i: django.set(keys[i], PAYLOAD, None),
                raw_set_one,
            ),
        ]
        ratios = {
            ratio: compare(label, subject, baseline, rounds, ops)
            for ratio, label, subject, baseline in rows
        }
        ratios.update(batch_rows(managed, raw, max(5, rounds // 2)))
        managed.close()
        raw.close()
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)

    print_ratios(ratios)


if __name__ == "__main__":
    main()
