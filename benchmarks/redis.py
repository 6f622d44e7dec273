"""Redis benchmark: RedisCache against raw redis-py, on one server this script starts.

Every figure is a ratio against a baseline measured in the same run on the same server
and connection type (a unix socket), rounds interleaved, fastest round of each side used.
The raw baseline pickles and unpickles as any caller storing Python objects must
(``raw_*_no_pickle`` rows show redis-py alone). Context rows put dogpile.cache's Redis
backend and Django's ``RedisCache`` on the same server and payload.
Run: ``python benchmarks/redis.py [--rounds N] [--ops N]``.

Targets: get-hit, get-miss and set <= 1.15x raw; ``set_many`` of 1,000 items >= 10x
faster than 1,000 ``set`` calls. Each item is pickled and signed either way, so on a local
unix socket (round trips of tens of microseconds) encoding bounds that speed-up; the
small-values row shows the batch's own gain. Over a network the round trip grows and the
speed-up with it.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path, and this file's name
# would hide the redis package: replace that entry by the repository root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import redis  # noqa: E402

from glovebox.core.cache_v2.redis_cache import RedisCache  # noqa: E402
from glovebox.core.cache_v2.redis_settings import RedisSettings  # noqa: E402
from glovebox.testing.redis_server import RedisServer  # noqa: E402

PAYLOAD = {"layer": "base", "bindings": [f"&kp K{i}" for i in range(80)], "rev": 3}
SECRET = "benchmark-signing-secret-0123456789"


def per_op_ns(action: Callable[[int], object], ops: int) -> float:
    start = time.perf_counter_ns()
    for i in range(ops):
        action(i)
    return (time.perf_counter_ns() - start) / ops


def compare(
    name: str,
    subject: Callable[[int], object],
    baseline: Callable[[int], object],
    rounds: int,
    ops: int,
) -> float:
    """Best per-op time of ``subject`` over ``baseline``'s, rounds interleaved."""
    subject_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(rounds):
        baseline_times.append(per_op_ns(baseline, ops))
        subject_times.append(per_op_ns(subject, ops))
    ratio = min(subject_times) / min(baseline_times)
    print(
        f"{name:<38} subject {min(subject_times) / 1000:8.2f} us"
        f"  baseline {min(baseline_times) / 1000:8.2f} us  ratio {ratio:5.2f}"
    )
    return ratio


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    rounds, ops = args.rounds, args.ops

    with RedisServer() as server:
        raw = redis.Redis.from_url(server.url)
        managed = RedisCache(
            RedisSettings(url=server.url, key_prefix="bench", secret=SECRET), tag="bench"
        )
        keys = [f"layout:{i}" for i in range(ops)]
        raw_keys = [f"raw:{key}" for key in keys]
        blob = pickle.dumps(PAYLOAD, protocol=pickle.HIGHEST_PROTOCOL)
        for key, raw_key in zip(keys, raw_keys, strict=True):
            managed.set(key, PAYLOAD)
            raw.set(raw_key, blob)

        def raw_get(name: str) -> object:
            value = raw.get(name)
            return None if value is None else pickle.loads(value)  # type: ignore[arg-type]

        def raw_set(name: str) -> object:
            return raw.set(name, pickle.dumps(PAYLOAD, protocol=pickle.HIGHEST_PROTOCOL))

        ratios: dict[str, float] = {}
        ratios["get_hit_ratio_vs_raw"] = compare(
            "get hit", lambda i: managed.get(keys[i]), lambda i: raw_get(raw_keys[i]), rounds, ops
        )
        ratios["get_miss_ratio_vs_raw"] = compare(
            "get miss",
            lambda i: managed.get(f"absent:{i}"),
            lambda i: raw_get(f"raw:absent:{i}"),
            rounds,
            ops,
        )
        ratios["set_ratio_vs_raw"] = compare(
            "set",
            lambda i: managed.set(keys[i], PAYLOAD),
            lambda i: raw_set(raw_keys[i]),
            rounds,
            ops,
        )
        ratios["raw_get_hit_no_pickle_ratio"] = compare(
            "(context) raw GET without pickle",
            lambda i: raw.get(raw_keys[i]),
            lambda i: raw_get(raw_keys[i]),
            rounds,
            ops,
        )

        region = dogpile_region(server.url)
        django = django_cache(server.url)
        for key in keys:
            region.set(key, PAYLOAD)
            django.set(key, PAYLOAD, None)
        ratios["dogpile_get_hit_ratio_vs_raw"] = compare(
            "(context) dogpile.cache redis get hit",
            lambda i: region.get(keys[i]),
            lambda i: raw_get(raw_keys[i]),
            rounds,
            ops,
        )
        ratios["django_get_hit_ratio_vs_raw"] = compare(
            "(context) Django RedisCache get hit",
            lambda i: django.get(keys[i]),
            lambda i: raw_get(raw_keys[i]),
            rounds,
            ops,
        )
        ratios["dogpile_set_ratio_vs_raw"] = compare(
            "(context) dogpile.cache redis set",
            lambda i: region.set(keys[i], PAYLOAD),
            lambda i: raw_set(raw_keys[i]),
            rounds,
            ops,
        )
        ratios["django_set_ratio_vs_raw"] = compare(
            "(context) Django RedisCache set",
            lambda i: django.set(keys[i], PAYLOAD, None),
            lambda i: raw_set(raw_keys[i]),
            rounds,
            ops,
        )

        batch = {f"batch:{i}": PAYLOAD for i in range(1000)}

        def one_by_one(_: int) -> None:
            for key, value in batch.items():
                managed.set(key, value)

        ratios["set_many_speedup_vs_set_loop"] = 1 / compare(
            "set_many(1000) vs 1000 x set",
            lambda _: managed.set_many(batch),
            one_by_one,
            max(3, rounds // 2),
            1,
        )
        small = {f"small:{i}": i for i in range(1000)}

        def small_one_by_one(_: int) -> None:
            for key, value in small.items():
                managed.set(key, value)

        # Context: with tiny values the batch is bound by round trips, not by encoding.
        ratios["set_many_small_values_speedup_vs_set_loop"] = 1 / compare(
            "(context) set_many(1000 ints) vs 1000 x set",
            lambda _: managed.set_many(small),
            small_one_by_one,
            max(3, rounds // 2),
            1,
        )
        managed.close()
        raw.close()
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)

    print()
    for name, value in ratios.items():
        print(f"{name}={value:.2f}")


if __name__ == "__main__":
    main()
