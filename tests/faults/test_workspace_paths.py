"""Keys read from metadata or directory names never become paths outside the cache."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from glovebox.compilation.cache import ZmkWorkspaceCacheService, workspace_key
from glovebox.compilation.cache.models import metadata_key
from glovebox.errors import WorkspaceError
from glovebox.testing.plugin import isolate_environment
from tests.helpers import GLOVEBOX, env_without_glovebox, run_child
from tests.workspace_helpers import ZMK_V03, cache_sample

# "{tmp}" stands for the test's own directory, so an absolute key stays inside it.
HOSTILE_KEYS = ["../../../../ESCAPED", "../ESCAPED", "{tmp}/ESCAPED", "a/../../ESCAPED", "..", ""]


def run_glovebox(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_child([GLOVEBOX, *args], env=env, cwd=cwd)


def test_cleanup_ignores_a_hostile_record_written_through_the_cli(tmp_path: Path) -> None:
    paths, variables = isolate_environment(tmp_path / "iso")
    env = env_without_glovebox(variables)
    work = paths.home / "a" / "b" / "c"
    work.mkdir(parents=True)
    stored = run_glovebox(
        env, work, "cache", "set", "workspace:../../../../ESCAPED", "x", "--tag", "compilation"
    )
    assert stored.returncode == 0, stored.stderr
    cleaned = run_glovebox(env, work, "cache", "workspace", "cleanup")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "Traceback" not in cleaned.stderr
    assert "WARNING" in cleaned.stderr
    assert "workspace:../../../../ESCAPED" in cleaned.stderr
    assert "ignored" in cleaned.stderr
    assert list(tmp_path.rglob("*ESCAPED*")) == []
    # the user's record is left as it was: nothing stored is lost
    kept = run_glovebox(
        env, work, "cache", "get", "workspace:../../../../ESCAPED", "--tag", "compilation"
    )
    assert kept.returncode == 0, kept.stderr
    assert "x" in kept.stdout


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_the_store_lock_refuses_a_key_that_is_not_a_workspace_key(
    tmp_path: Path, key: str, service: ZmkWorkspaceCacheService
) -> None:
    key = key.format(tmp=tmp_path)
    with pytest.raises(WorkspaceError, match="invalid workspace key"), service.store.lock(key):
        pass
    assert list(tmp_path.rglob("*ESCAPED*")) == []
    locks = service.root / ".locks"
    assert not locks.exists() or list(locks.iterdir()) == []


@pytest.mark.usefixtures("sample")
def test_a_record_naming_another_key_is_never_served_nor_followed(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    key = workspace_key(ZMK_V03)
    record = service.cache.get(metadata_key(key))
    assert isinstance(record, dict)
    service.cache.set(metadata_key(key), {**record, "key": "../../../../ESCAPED"})
    assert service.get_cached_workspace(ZMK_V03) is None
    assert service.list_workspaces() == []
    service.cleanup()
    assert list(tmp_path.rglob("*ESCAPED*")) == []
    assert service.cache.get(metadata_key(key)) is None  # our own record, unusable: dropped


def test_a_leftover_directory_without_a_valid_key_is_left_alone_with_a_warning(
    caplog: pytest.LogCaptureFixture, service: ZmkWorkspaceCacheService
) -> None:
    service.store.ensure()
    odd = service.root / ".stage-..-0123abcd"
    odd.mkdir()
    with caplog.at_level(logging.WARNING, logger="glovebox"):
        result = service.cleanup()
    assert odd.is_dir()
    assert result.leftovers == []
    assert any(".stage-..-0123abcd" in r.getMessage() for r in caplog.records)
    assert [p.name for p in (service.root / ".locks").iterdir()] == []


@pytest.mark.usefixtures("sample")
def test_the_files_the_store_creates_are_owner_only(service: ZmkWorkspaceCacheService) -> None:
    entry_dir = service.root / workspace_key(ZMK_V03)
    created = [
        service.root,
        service.root / ".locks",
        service.root / ".locks" / f"{workspace_key(ZMK_V03)}.lock",
        entry_dir,
        entry_dir / "entry.json",
        entry_dir / "manifest",
    ]
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in created}
    assert modes == {
        "workspace": "0o700",
        ".locks": "0o700",
        f"{workspace_key(ZMK_V03)}.lock": "0o600",
        workspace_key(ZMK_V03): "0o700",
        "entry.json": "0o600",
        "manifest": "0o600",
    }


def test_a_lock_directory_replaced_by_a_symlink_is_refused(
    tmp_path: Path, service: ZmkWorkspaceCacheService
) -> None:
    service.store.ensure()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (service.root / ".locks").rmdir()
    os.symlink(elsewhere, service.root / ".locks")
    with pytest.raises(WorkspaceError, match="symlink"):
        cache_sample(service, tmp_path)
    assert list(elsewhere.iterdir()) == []
