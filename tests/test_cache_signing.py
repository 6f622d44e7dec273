"""Pickled values on disk are signed: a forged or foreign value is never unpickled.

Each test writes with one process and reads with another (real SQLite files, real value
files); the attacker edits the database or the value file directly, as anyone able to
write the cache directory could.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import stat
import sys
import textwrap
from pathlib import Path

import diskcache

from glovebox.core.cache_v2.signing import KEY_FILE_NAME
from glovebox.core.cache_v2.signing import SHARED_SECRET_ENV_VAR as SECRET_ENV_VAR
from glovebox.testing.plugin import isolate_environment
from tests.helpers import run_child

SMALL = {"layer": "base", "n": 1}
LARGE = {"blob": "x" * 200_000}  # stored in its own value file

CHILD = textwrap.dedent(
    """
    import json, logging, sys
    from pathlib import Path
    from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    action, root = sys.argv[1], Path(sys.argv[2])
    cache = create_diskcache_manager(root, "layout", settings=CacheSettings(timeout=5))
    if action == "write":
        cache.set("small", {"layer": "base", "n": 1})
        cache.set("large", {"blob": "x" * 200_000})
        cache.set("text", "plain text")
        out = {}
    else:
        out = {
            key: (None if value is None else (value if key == "small" else len(str(value))))
            for key in sys.argv[3:]
            for value in [cache.get(key)]
        }
        out["keys"] = cache.keys()
    cache.close()
    print(json.dumps(out))
    """
)


class Evil:
    """Unpickling this creates ``marker``: the proof that a value was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def environment(base: Path, **extra: str) -> dict[str, str]:
    _, variables = isolate_environment(base)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX_")}
    env.update(variables, PYTHONPATH=str(Path(__file__).resolve().parents[1]), **extra)
    return env


def child(
    action: str, root: Path, env: dict[str, str], *keys: str
) -> tuple[dict[str, object], str]:
    result = run_child([sys.executable, "-c", CHILD, action, str(root), *keys], env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def rows(db: Path) -> dict[str, tuple[int, str | None, bytes | None]]:
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT key, mode, filename, value FROM Cache").fetchall()
    return {key: (mode, filename, value) for key, mode, filename, value in found}


def test_values_are_stored_signed_and_read_back(tmp_path: Path) -> None:
    env = environment(tmp_path / "user")
    root = tmp_path / "root"
    child("write", root, env)
    out, _ = child("read", root, env, "small", "large", "text")
    assert out["small"] == SMALL
    assert out["large"] == len(str(LARGE))
    assert out["keys"] == ["small", "large", "text"]
    stored = rows(root / "layout" / "cache.db")
    assert bytes(stored["small"][2] or b"").startswith(b"GBP1")  # inline, signed
    filename = stored["large"][1]
    assert filename is not None
    assert (root / "layout" / filename).read_bytes().startswith(b"GBP1")  # own file, signed
    key = tmp_path / "user" / "xdg-state" / "glovebox" / KEY_FILE_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not key.is_relative_to(root)


def test_a_forged_pickle_is_never_loaded_but_dropped_with_a_warning(tmp_path: Path) -> None:
    env = environment(tmp_path / "user")
    root = tmp_path / "root"
    child("write", root, env)
    db = root / "layout" / "cache.db"
    stored = rows(db)
    inline_marker, file_marker = tmp_path / "pwned-inline", tmp_path / "pwned-file"
    # Inline value: replaced in the database (bare pickle, and one dressed as signed).
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE Cache SET value = ? WHERE key = 'small'",
            (b"GBP1" + bytes(32) + pickle.dumps(Evil(inline_marker)),),
        )
    # Value file: rewritten in place with the same size (the size check cannot catch it).
    filename = stored["large"][1]
    assert filename is not None
    value_file = root / "layout" / filename
    size = value_file.stat().st_size
    value_file.write_bytes(pickle.dumps(Evil(file_marker)).ljust(size, b"\0"))

    out, stderr = child("read", root, env, "small", "large")

    assert not inline_marker.exists()
    assert not file_marker.exists()
    assert out["small"] is None
    assert out["large"] is None
    assert stderr.count("WARNING") >= 2
    assert "'small'" in stderr
    assert "'large'" in stderr
    assert "signature" in stderr
    assert set(rows(db)) == {"text"}  # both entries dropped, the rest kept
    assert not value_file.exists()


def test_a_key_stored_pickled_is_never_loaded(tmp_path: Path) -> None:
    env = environment(tmp_path / "user")
    root = tmp_path / "root"
    child("write", root, env)
    marker = tmp_path / "pwned-key"
    with sqlite3.connect(root / "layout" / "cache.db") as conn:
        conn.execute(
            "UPDATE Cache SET key = ?, raw = 0 WHERE key = 'text'",
            (pickle.dumps(Evil(marker)),),
        )
    out, _ = child("read", root, env, "small")
    assert out["keys"] == ["small", "large"]
    assert not marker.exists()


def test_a_root_copied_to_another_user_without_the_key_gives_misses(tmp_path: Path) -> None:
    root = tmp_path / "root"
    child("write", root, environment(tmp_path / "alice"))
    out, stderr = child("read", root, environment(tmp_path / "bob"), "small", "large", "text")
    assert out["small"] is None
    assert out["large"] is None
    assert out["text"] == len("plain text")  # a plain string is never unpickled
    assert "WARNING" in stderr


def test_glovebox_cache_secret_signs_and_keeps_the_key_file_away(tmp_path: Path) -> None:
    secret = {SECRET_ENV_VAR: "ci-provided-secret-0123456789"}
    root = tmp_path / "root"
    child("write", root, environment(tmp_path / "runner-1", **secret))
    # Another machine (another HOME and state directory) with the same secret: hits.
    out, stderr = child(
        "read", root, environment(tmp_path / "runner-2", **secret), "small", "large"
    )
    assert out["small"] == SMALL
    assert out["large"] == len(str(LARGE))
    assert "WARNING" not in stderr
    # A runner with another secret cannot use (or be fed) those values.
    other = environment(tmp_path / "runner-3", **{SECRET_ENV_VAR: "another-secret-9876543210"})
    out, _ = child("read", root, other, "small", "large")
    assert out["small"] is None
    assert out["large"] is None
    for runner in ("runner-1", "runner-2", "runner-3"):
        assert not (tmp_path / runner / "xdg-state" / "glovebox" / KEY_FILE_NAME).exists()


def test_a_short_secret_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    env = environment(tmp_path / "user", **{SECRET_ENV_VAR: "short"})
    result = run_child([sys.executable, "-c", CHILD, "write", str(tmp_path / "r")], env=env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert SECRET_ENV_VAR in last
    assert "16 characters" in last


def test_values_written_before_signing_are_misses_not_errors(tmp_path: Path) -> None:
    env = environment(tmp_path / "user")
    root = tmp_path / "root"
    old = diskcache.Cache(str(root / "layout"))  # what the cache stored before signing
    old.set("small", SMALL)
    old.set("large", LARGE)
    old.close()
    out, _ = child("read", root, env, "small", "large")
    assert out["small"] is None
    assert out["large"] is None
    assert rows(root / "layout" / "cache.db") == {}  # dropped: the next write replaces them
    child("write", root, env)
    out, _ = child("read", root, env, "small")
    assert out["small"] == SMALL


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    env = environment(tmp_path / "user")
    root = tmp_path / "root"
    child("write", root, env)
    key = tmp_path / "user" / "xdg-state" / "glovebox" / KEY_FILE_NAME
    key.chmod(0o644)
    result = run_child([sys.executable, "-c", CHILD, "read", str(root), "small"], env=env)
    assert result.returncode != 0
    assert "chmod 600" in result.stderr.strip().splitlines()[-1]


def test_the_json_serializer_never_unpickles_a_forged_row(tmp_path: Path) -> None:
    from glovebox.core.cache_v2 import CacheSettings, create_diskcache_manager

    root = tmp_path / "root"
    cache = create_diskcache_manager(root, "layout", settings=CacheSettings(serializer="json"))
    cache.set("k", {"a": 1})
    assert cache.get("k") == {"a": 1}
    marker = tmp_path / "pwned-json"
    with sqlite3.connect(root / "layout" / "cache.db") as conn:
        conn.execute("UPDATE Cache SET mode = 4, value = ?", (pickle.dumps(Evil(marker)),))
    assert cache.get("k") is None
    assert not marker.exists()
    cache.close()
