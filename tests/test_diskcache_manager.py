"""Behaviour specific to the SQLite-backed DiskCacheManager."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import diskcache
import pytest

from glovebox.core.cache_v2 import CacheSettings, DiskCacheManager, counters
from glovebox.errors import CacheError
from tests.helpers import REPO_ROOT, run_python


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "disk"


@pytest.fixture
def cache(directory: Path) -> Iterator[DiskCacheManager]:
    instance = DiskCacheManager(directory, tag="disk")
    yield instance
    instance.close()


def persisted_counts(directory: Path) -> tuple[int, int]:
    """Hit/miss totals as another process would read them from cache.db."""
    with sqlite3.connect(directory / "cache.db") as con:
        rows = dict(con.execute("SELECT key, value FROM Settings WHERE key IN ('hits','misses')"))
    return int(rows["hits"]), int(rows["misses"])


def count_transactions(cache: DiskCacheManager) -> list[str]:
    statements: list[str] = []
    cache._cache._con.set_trace_callback(statements.append)
    return statements


def test_reads_do_not_write_statistics_until_a_flush(
    cache: DiskCacheManager, directory: Path
) -> None:
    cache.set("k", 1)
    for _ in range(10):
        cache.get("k")
        cache.get("absent")
    assert persisted_counts(directory) == (0, 0)
    assert (cache.get_stats().hits, cache.get_stats().misses) == (10, 10)
    cache.close()
    assert persisted_counts(directory) == (10, 10)


def test_statistics_flush_periodically_in_batches(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counters, "FLUSH_EVERY_LOOKUPS", 50)
    cache = DiskCacheManager(directory, tag="disk")
    statements = count_transactions(cache)
    for _ in range(120):
        cache.get("absent")
    assert persisted_counts(directory) == (0, 100)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert len(begins) == 2  # one transaction per batch of 50, none per read
    cache.close()


def test_statistics_survive_restarts_and_add_up_across_processes(directory: Path) -> None:
    first = DiskCacheManager(directory, tag="disk")
    first.set("k", "v")
    first.get("k")
    first.get("nope")
    first.close()
    code = """
        import sys
        from glovebox.core.cache_v2 import DiskCacheManager
        cache = DiskCacheManager(sys.argv[1], tag="disk")
        cache.get("k"); cache.get("k"); cache.get("nope")
        cache.close()
    """
    run_python(code, str(directory))
    run_python(code, str(directory))
    reopened = DiskCacheManager(directory, tag="disk")
    stats = reopened.get_stats()
    reopened.close()
    assert (stats.hits, stats.misses) == (1 + 2 * 2, 1 + 2 * 1)


def test_set_many_runs_in_one_transaction(cache: DiskCacheManager) -> None:
    statements = count_transactions(cache)
    cache.set_many({f"k{i}": i for i in range(100)})
    assert len([s for s in statements if s.startswith("BEGIN")]) == 1
    assert len(cache.keys()) == 100


def test_delete_many_runs_in_one_transaction(cache: DiskCacheManager) -> None:
    cache.set_many({f"k{i}": i for i in range(50)})
    statements = count_transactions(cache)
    assert cache.delete_many([f"k{i}" for i in range(50)]) == 50
    assert len([s for s in statements if s.startswith("BEGIN")]) == 1
    assert cache.keys() == []


def test_a_failing_read_is_a_logged_miss_counted_as_error(
    cache: DiskCacheManager, directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache.set("damaged", {"a": 1})
    with sqlite3.connect(directory / "cache.db") as con:
        con.execute("UPDATE Cache SET value = X'80049501' WHERE key = 'damaged'")
    with caplog.at_level(logging.WARNING, logger="glovebox"):
        assert cache.get("damaged", "fallback") == "fallback"
    stats = cache.get_stats()
    assert stats.errors == 1
    assert stats.misses == 1
    assert "damaged" in caplog.text
    assert "'disk'" in caplog.text


def test_a_failing_write_raises_cache_error_naming_key_tag_and_cause(
    cache: DiskCacheManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_set(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cache._cache, "set", broken_set)
    with pytest.raises(CacheError, match=r"'disk'.*'build'.*OperationalError: disk I/O error"):
        cache.set("build", 1)
    assert cache.get_stats().errors == 1


def test_metadata_size_of_large_values_comes_from_the_stored_file(cache: DiskCacheManager) -> None:
    payload = b"z" * 200_000  # above diskcache's inline limit: stored as a file
    cache.set("big", payload)
    metadata = cache.get_metadata("big")
    assert metadata is not None
    assert metadata.size_bytes == 200_000


def test_cleanup_culls_to_the_size_limit_and_counts_evictions(tmp_path: Path) -> None:
    limit_gb = 200_000 / 1024**3
    roomy = DiskCacheManager(tmp_path / "small", tag="small")
    for i in range(40):
        roomy.set(f"k{i}", b"x" * 20_000)
    roomy.close()
    # The limit was lowered since: cleanup brings the cache within it.
    cache = DiskCacheManager(
        tmp_path / "small", tag="small", settings=CacheSettings(max_size_gb=limit_gb)
    )
    removed = cache.cleanup()
    stats = cache.get_stats()
    cache.close()
    assert removed > 0
    assert stats.evictions == removed
    assert stats.entries == 40 - removed
    assert stats.size_bytes <= 200_000


def test_writes_enforce_the_size_limit_without_cleanup(tmp_path: Path) -> None:
    cache = DiskCacheManager(
        tmp_path / "small", tag="small", settings=CacheSettings(max_size_gb=500_000 / 1024**3)
    )
    for i in range(60):
        cache.set(f"k{i}", b"y" * 20_000)
    stats = cache.get_stats()
    cache.close()
    assert stats.evictions > 0
    assert stats.entries < 60
    # Least recently stored go first: the newest entry survives.
    assert "k59" in DiskCacheManager(tmp_path / "small", tag="small").keys()


def test_json_serializer_round_trips_and_rejects_non_json(tmp_path: Path) -> None:
    cache = DiskCacheManager(
        tmp_path / "json", tag="json", settings=CacheSettings(serializer="json")
    )
    cache.set("doc", {"a": [1, 2], "b": None})
    assert cache.get("doc") == {"a": [1, 2], "b": None}
    with pytest.raises(CacheError, match="'doc2'"):
        cache.set("doc2", {1, 2})
    cache.close()
    with pytest.raises(ValueError, match="serializer"):
        DiskCacheManager(tmp_path / "x", settings=CacheSettings(serializer="yaml"))  # type: ignore[arg-type]


def test_get_or_set_computes_once_across_four_processes(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    marker = tmp_path / "computed.log"
    code = """
        import sys, time
        from pathlib import Path
        from glovebox.core.cache_v2 import DiskCacheManager
        directory, marker, start = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
        cache = DiskCacheManager(directory, tag="shared")
        def compute():
            with marker.open("a") as f:
                f.write("computed\\n")
            time.sleep(0.5)
            return "firmware"
        while time.time() < start:
            time.sleep(0.001)
        print(cache.get_or_set("build", compute))
        cache.close()
    """
    DiskCacheManager(directory, tag="shared").close()
    import textwrap
    import time

    start = str(time.time() + 1.5)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(directory), str(marker), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        for _ in range(4)
    ]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["firmware"] * 4
    assert marker.read_text().count("computed") == 1


def test_recovered_failures_say_what_failed_and_what_was_answered(
    cache: DiskCacheManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cache.set("k", 1)
    cache.get("absent")  # a pending miss, so get_stats() has counts to save

    def broken(*args: object, **kwargs: object) -> None:
        # An I/O error: a malformed database would be moved aside instead (tests/faults).
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(diskcache.Cache, "_sql", property(lambda self: broken))
    monkeypatch.setattr(diskcache.Cache, "__contains__", broken)
    for name in ("get", "lookup", "reset", "volume"):
        monkeypatch.setattr(cache._cache, name, broken)
    with caplog.at_level(logging.WARNING, logger="glovebox"):
        assert cache.get("k", "fallback") == "fallback"
        assert cache.exists("k") is False
        assert cache.keys() == []
        assert cache.get_metadata("k") is None
        stats = cache.get_stats()
        monkeypatch.setattr(cache._cache, "set", lambda *args, **kwargs: None)
        cache.set("another", 2)  # the size check after every write runs and fails
    lines = [record.getMessage() for record in caplog.records]
    cause = "failed (OperationalError: disk I/O error); "
    expected = [
        f"reading key 'k' {cause}answered as a miss",
        f"checking key 'k' {cause}answered as not cached",
        f"listing keys {cause}answered with no keys",
        f"reading metadata of key 'k' {cause}answered as no metadata",
        f"saving hit/miss counts {cause}kept in memory for the next attempt",
        f"reading statistics {cause}reported zero entries, size and stored hits/misses",
        f"evicting to the size limit {cause}tried again after the next write",
    ]
    assert len(lines) == len(expected)
    for line, ending in zip(lines, expected, strict=True):
        assert line.startswith("cache 'disk' (")
        assert line.endswith(ending)
    assert stats.errors == 6  # counted before the failing size check
    assert (stats.hits, stats.misses) == (0, 2)  # unsaved counts are kept, not lost
    monkeypatch.undo()
