"""One "machine" of the many-machines test (run as ``python -m tests.redis_machine``).

The parent gives each machine its own HOME, XDG directories and configuration file; the
configuration puts the ``compilation`` domain on the shared Redis server and leaves
``layout`` on this machine's disk. Usage: python -m tests.redis_machine ACTION [ARG...]
Prints one JSON line.

  store KEY VALUE           compilation[KEY] = VALUE and layout["private"] = VALUE
  read KEY                  compilation[KEY] and layout["private"]
  lookups KEY HITS MISSES   HITS reads of KEY, MISSES reads of absent keys
  get_or_set KEY LOG START  at time START, get_or_set KEY, logging each computation
  clear                     clear the compilation domain
  stats                     compilation's hits, misses and entries
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from glovebox.config import load_user_config
from glovebox.core.cache_v2 import create_cache_from_user_config, reset_shared_cache_instances


def main() -> None:
    action, args = sys.argv[1], sys.argv[2:]
    config = load_user_config()
    shared = create_cache_from_user_config(config, tag="compilation")
    private = create_cache_from_user_config(config, tag="layout")
    result: dict[str, Any] = {"backends": [shared.get_stats().backend, private.get_stats().backend]}
    if action == "store":
        shared.set(args[0], args[1])
        private.set("private", args[1])
    elif action == "read":
        result["shared"] = shared.get(args[0])
        result["private"] = private.get("private")
    elif action == "lookups":
        hits, misses = int(args[1]), int(args[2])
        result["found"] = sum(shared.get(args[0]) is not None for _ in range(hits))
        result["found"] += sum(shared.get(f"absent-{i}") is not None for i in range(misses))
    elif action == "get_or_set":
        key, log, start = args[0], Path(args[1]), float(args[2])

        def compute() -> str:
            with log.open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            time.sleep(0.3)
            return f"built by {os.getpid()}"

        time.sleep(max(0.0, start - time.time()))
        result["value"] = shared.get_or_set(key, compute)
    elif action == "clear":
        shared.clear()
    elif action == "stats":
        stats = shared.get_stats()
        result.update(hits=stats.hits, misses=stats.misses, entries=stats.entries)
    else:
        raise SystemExit(f"unknown action {action!r}")
    reset_shared_cache_instances()  # closes the caches: pending counts are flushed
    print(json.dumps(result))


if __name__ == "__main__":
    main()
