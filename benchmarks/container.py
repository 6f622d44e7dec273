"""Cost of resolving a warm cache through the container, against one raw diskcache miss.

The baseline is a ``diskcache.Cache.get`` of an absent key in the same run (one SQLite
lookup); the target is that a warm ``container.layout_cache()`` costs at most a quarter of it,
so resolving caches through the container is never what makes a cached call slow.

Run: ``python benchmarks/container.py``. The last line is the ratio.
"""

from __future__ import annotations

import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

import diskcache

from containers import ApplicationContainer
from glovebox.core.cache_v2 import reset_shared_cache_instances

ROUNDS = 7
TARGET = 0.25


def per_call(statement: Callable[[], object], number: int) -> float:
    """Best-of-ROUNDS seconds per call (the least disturbed round on a shared machine)."""
    timer = timeit.Timer(statement)
    return min(timer.repeat(repeat=ROUNDS, number=number)) / number


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="glovebox-bench-") as tmp:
        root = Path(tmp)
        container = ApplicationContainer()
        container.config.from_dict({"cache_path": str(root / "caches")})
        container.layout_cache()  # warm: the instance exists from here on

        raw = diskcache.Cache(str(root / "raw"))
        try:
            raw_miss = per_call(lambda: raw.get("absent-key"), 20_000)
            resolve = per_call(container.layout_cache, 200_000)
        finally:
            raw.close()
            container.reset_singletons()
            reset_shared_cache_instances()

    ratio = resolve / raw_miss
    print(f"raw_diskcache_get_miss_us={raw_miss * 1e6:.3f}")
    print(f"container_layout_cache_warm_us={resolve * 1e6:.3f}")
    print(f"target_ratio<={TARGET}")
    print(f"container_resolve_ratio_vs_raw_miss={ratio:.3f}")


if __name__ == "__main__":
    main()
