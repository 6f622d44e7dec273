"""Everything a disk cache creates is owner-only, without touching the process umask."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from glovebox.core.cache_v2.backends.disk import open_cache
from glovebox.core.cache_v2.models import CacheSettings
from tests.other_user import as_nobody


def modes_under(root: Path) -> dict[str, int]:
    found = {}
    for path in [root, *root.rglob("*")]:
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def use_a_cache(root: Path) -> Path:
    directory = root / "private"
    cache = open_cache(root, "private", CacheSettings())
    cache.set("small", "value")
    cache.set("large-bytes", b"\x00" * 100_000)
    cache.set("large-text", "t" * 100_000)
    cache.set("large-object", {"payload": list(range(20_000))})
    assert cache.get_or_set("computed", lambda: 42) == 42
    cache.get("small")
    return directory


def test_every_file_and_directory_of_a_used_cache_is_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask, which would give 0644/0755
    try:
        directory = use_a_cache(tmp_path / "root")
        after = os.umask(previous)
    finally:
        os.umask(previous)
    assert after == 0o022, "the cache changed the process umask"
    modes = modes_under(directory)
    kinds = {name.rsplit(".", 1)[-1] for name in modes if "." in name}
    assert {"db", "db-wal", "db-shm", "val", "lock"} <= kinds, sorted(modes)
    loose = {
        name: f"{mode:04o}"
        for name, mode in modes.items()
        if mode != (0o700 if (directory / name).is_dir() else 0o600)
    }
    assert loose == {}


def test_an_existing_cache_with_loose_modes_is_made_private_when_opened(tmp_path: Path) -> None:
    directory = use_a_cache(tmp_path / "root")
    for path in [directory, *directory.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    open_cache(directory.parent, "private", CacheSettings()).close()
    for name in ("", "cache.db", "space.reserve"):
        mode = stat.S_IMODE((directory / name).stat().st_mode)
        assert mode in (0o600, 0o700), f"{name or '.'}: {mode:04o}"


@pytest.fixture
def open_to_all() -> Iterator[Path]:
    """A directory every user can enter (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="glovebox-modes-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


UNPRIVILEGED_READ = """
import sys
try:
    open(sys.argv[1], "rb").read(1)
except PermissionError:
    print("refused")
else:
    print("read")
"""


def test_another_user_cannot_read_the_database(open_to_all: Path) -> None:
    directory = use_a_cache(open_to_all / "root")
    (open_to_all / "root").chmod(0o755)  # even with a root others may enter
    directory.chmod(0o755)  # and a domain directory others may enter
    # The checkout may sit where nobody cannot enter: as_nobody() makes it reachable.
    with as_nobody() as nobody:
        result = nobody.run(
            [str(nobody.python), "-c", UNPRIVILEGED_READ, str(directory / "cache.db")]
        )
    assert result.stdout.strip() == "refused", result.stderr
