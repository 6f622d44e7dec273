"""A child process for the workspace crash and concurrency tests (run as a script).

Usage: python -m tests.workspace_child CACHE_PATH SOURCE VERSION MODE
MODE is "run" (cache and exit), "hold" (hold the key lock until stdin closes) or a
pause point: "copying", "after_trash", "after_publish", "before_purge". At a pause
point the child prints "PAUSED" and sleeps, waiting for the parent's SIGKILL.
"""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path
from typing import Any

from glovebox.compilation.cache import WorkspaceProgress, create_compilation_cache_service
from glovebox.compilation.cache.store import WorkspaceStore
from tests.workspace_helpers import ZMK_V03, make_workspace


def pause() -> None:
    print("PAUSED", flush=True)
    time.sleep(600)


def main() -> None:
    cache_path, source, version, mode = sys.argv[1:5]
    user_config = types.SimpleNamespace(cache_path=Path(cache_path), cache_strategy="enabled")
    _, service = create_compilation_cache_service(user_config)
    if mode == "hold":
        from glovebox.compilation.cache import workspace_key

        with service.store.lock(workspace_key(ZMK_V03)):
            print("LOCKED", flush=True)
            sys.stdin.read()
        return
    workspace = make_workspace(Path(source), version, files=300)
    progress = None
    if mode == "copying":

        def progress(report: WorkspaceProgress) -> None:
            if report.files_done >= 64:
                pause()

    elif mode in ("after_trash", "after_publish", "before_purge"):
        original: Any = {
            "after_trash": WorkspaceStore._to_trash,
            "after_publish": WorkspaceStore.publish,
            "before_purge": WorkspaceStore.purge,
        }[mode]

        def wrapper(*args: Any) -> Any:
            if mode == "before_purge":
                pause()
            result = original(*args)
            pause()
            return result

        setattr(WorkspaceStore, original.__name__, wrapper)
    service.cache_workspace(workspace, ZMK_V03, progress=progress)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
