"""Engine benchmark: DiskCacheManager against raw diskcache, measured side by side.

Every figure is a ratio against a baseline measured in the same run, alternating
subject and baseline round by round so machine noise hits both alike; the fastest round of
each side is used. Run: ``python benchmarks/engine.py [--rounds N] [--ops N]``.

Values are signed and verified (HMAC-SHA256, see glovebox/core/cache_v2/signing.py); the
"(context) decode" row shows what verifying costs on its own: decoding one stored value
(verify, then unpickle) against unpickling it without verifying.

Targets: get-hit <= 1.10x raw, get-miss <= 1.15x, set <= 1.05x, warm
``create_default_cache(tag)`` <= 0.25x one raw get-miss, ``set_many`` of 1,000 items
>= 5x faster than 1,000 ``set`` calls.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from pathlib import Path

import diskcache
from diskcache.core import MODE_PICKLE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import FASTEST, print_ratios, rounds_and_ops
from glovebox.core.cache_v2 import (
    DiskCacheManager,
    create_default_cache,
    reset_shared_cache_instances,
)
from glovebox.core.cache_v2.backends.disk_store import SIGNED_MAGIC, PrivateDisk

PAYLOAD = {"layer": "base", "bindings": [f"&kp K{i}" for i in range(80)], "rev": 3}


def main() -> None:
    rounds, ops = rounds_and_ops(__doc__, rounds=9)
    compare = FASTEST.compare

    with tempfile.TemporaryDirectory(prefix="glovebox-bench-") as tmp:
        base = Path(tmp)
        os.environ["XDG_STATE_HOME"] = str(base / "state")  # the signing key of this run
        raw = diskcache.Cache(str(base / "raw"))
        raw_stats = diskcache.Cache(str(base / "raw-stats"), statistics=1)
        managed = DiskCacheManager(base / "managed", tag="bench")
        keys = [f"layout:{i}" for i in range(ops)]
        for key in keys:
            raw.set(key, PAYLOAD)
            raw_stats.set(key, PAYLOAD)
            managed.set(key, PAYLOAD)

        ratios: dict[str, float] = {}
        ratios["get_hit_ratio_vs_raw"] = compare(
            "get hit", lambda i: managed.get(keys[i]), lambda i: raw.get(keys[i]), rounds, ops
        )
        ratios["get_miss_ratio_vs_raw"] = compare(
            "get miss",
            lambda i: managed.get(f"absent:{i}"),
            lambda i: raw.get(f"absent:{i}"),
            rounds,
            ops,
        )
        ratios["set_ratio_vs_raw"] = compare(
            "set",
            lambda i: managed.set(keys[i], PAYLOAD),
            lambda i: raw.set(keys[i], PAYLOAD),
            rounds,
            ops // 4,
        )
        ratios["raw_statistics_get_hit_ratio"] = compare(
            "(context) raw get hit, statistics=1",
            lambda i: raw_stats.get(keys[i]),
            lambda i: raw.get(keys[i]),
            rounds,
            ops,
        )

        signed_disk = PrivateDisk(str(base / "decode"), min_file_size=2**15)
        _, _, _, signed = signed_disk.store(PAYLOAD, False, key="k")
        signed = bytes(signed)
        pickled = memoryview(signed)[len(SIGNED_MAGIC) + 32 :]
        ratios["verified_decode_ratio_vs_unpickle"] = compare(
            "(context) decode: verify+unpickle",
            lambda i: signed_disk.fetch(MODE_PICKLE, None, signed, False),
            lambda i: pickle.loads(pickled),
            rounds,
            ops,
        )

        os.environ["XDG_CACHE_HOME"] = str(base / "xdg")
        create_default_cache(tag="layout")
        ratios["warm_create_default_cache_vs_raw_miss"] = compare(
            "warm create_default_cache(tag)",
            lambda i: create_default_cache(tag="layout"),
            lambda i: raw.get(f"absent:{i}"),
            rounds,
            ops,
        )

        batch = {f"batch:{i}": PAYLOAD for i in range(1000)}
        ratios["set_many_speedup_vs_set_loop"] = FASTEST.set_many_speedup(
            managed, batch, max(3, rounds // 3)
        )

        managed.close()
        raw.close()
        raw_stats.close()
        reset_shared_cache_instances()

    print_ratios(ratios)


if __name__ == "__main__":
    main()
