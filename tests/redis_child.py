"""A child process for the multi-process Redis tests (run as ``python -m tests.redis_child``).

Usage: python -m tests.redis_child SETTINGS_JSON ACTION [ARG...]
Prints one JSON line with what it observed.

ACTION is one of:
  lookups HITS MISSES       read HITS stored keys and MISSES absent ones, report whether
                            the shared statistics moved before close, then close
  get_or_set KEY LOG START  wait until the time START, then get_or_set KEY with a slow
                            computation that appends one line to LOG
  die_holding_lock KEY      take KEY's get_or_set lock and die (SIGKILL) while holding it
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import redis

from glovebox.core.cache_v2.redis_cache import RedisCache
from glovebox.core.cache_v2.redis_settings import RedisSettings


def main() -> None:
    settings = RedisSettings.model_validate_json(sys.argv[1])
    action, args = sys.argv[2], sys.argv[3:]
    cache = RedisCache(settings, tag="shared")
    if action == "lookups":
        hits, misses = int(args[0]), int(args[1])
        raw = redis.Redis.from_url(settings.url)
        stats_key = f"{settings.key_prefix}:shared#stats"
        at_start = raw.hgetall(stats_key)
        found = sum(cache.get(f"k{i}") is not None for i in range(hits))
        found += sum(cache.get(f"absent{os.getpid()}-{i}") is not None for i in range(misses))
        before_close = raw.hgetall(stats_key)
        raw.close()
        cache.close()
        print(json.dumps({"found": found, "flushed_before_close": before_close != at_start}))
    elif action == "get_or_set":
        key, log, start = args[0], Path(args[1]), float(args[2])

        def compute() -> str:
            with log.open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            time.sleep(0.3)  # the window in which other machines would compute too
            return f"computed by {os.getpid()}"

        time.sleep(max(0.0, start - time.time()))
        value = cache.get_or_set(key, compute)
        cache.close()
        print(json.dumps({"value": value}))
    elif action == "die_holding_lock":

        def die() -> str:
            print(json.dumps({"holding": True}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
            return "never"

        cache.get_or_set(args[0], die)
    else:
        raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main()
