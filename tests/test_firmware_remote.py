"""``glovebox firmware compile`` with the remote tier: three machines, one bucket.

Each "machine" is the installed script run with its own HOME, XDG directories (so its
own cache root) and its own fake-west log, pointed at one bucket of the session's
SeaweedFS server through the ``GLOVEBOX_CACHE_REMOTE_*`` variables, as a CI job would be.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import obstore
import pytest

from glovebox.layout import compile_layout
from glovebox.testing import IsolatedConfig
from glovebox.testing.plugin import isolate_environment
from tests import fake_west
from tests.helpers import CHILD_TIMEOUT, REPO_ROOT, run_glovebox
from tests.remote_fixtures import REMOTE_SECRET, RemoteBucket

EXAMPLE = REPO_ROOT / "docs" / "examples" / "glove80-example.json"


class Machine:
    """One machine: its environment, its west log, and commands run as it."""

    def __init__(self, base: Path, bucket: RemoteBucket | None, **extra: str) -> None:
        _, variables = isolate_environment(base)
        self.log = base / "west-calls.jsonl"
        self.env = {**variables, "FAKE_WEST_LOG": str(self.log)}
        if bucket is not None:
            self.env.update(
                {
                    "GLOVEBOX_CACHE_REMOTE_URL": bucket.url,
                    "GLOVEBOX_CACHE_REMOTE_ENDPOINT": bucket.server.endpoint,
                    "GLOVEBOX_CACHE_REMOTE_REGION": "us-east-1",
                    "GLOVEBOX_CACHE_REMOTE_TIMEOUT": "3",
                    "GLOVEBOX_CACHE_SECRET": REMOTE_SECRET.decode(),
                }
            )
        self.env.update(extra)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_glovebox(*args, env=self.env)

    def compile(self, source: Path, out: Path, *args: str) -> tuple[dict[str, Any], str]:
        """The ``--json`` document and stderr of a successful build."""
        result = self.run("firmware", "compile", str(source), str(out), "--json", *args)
        assert result.returncode == 0, result.stderr + result.stdout
        document: dict[str, Any] = json.loads(result.stdout)
        return document, result.stderr

    def text(self, source: Path, out: Path) -> str:
        result = self.run("firmware", "compile", str(source), str(out))
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    def west(self) -> list[str]:
        return fake_west.subcommands(self.log)

    def levels(self) -> dict[str, dict[str, int]]:
        result = self.run("cache", "stats", "--tag", "compilation", "--json")
        assert result.returncode == 0, result.stderr
        found: dict[str, dict[str, int]] = json.loads(result.stdout)["domains"][0]["levels"]
        return found


@pytest.fixture
def machines(isolated_config: IsolatedConfig, west_log: Path, tmp_path: Path) -> Path:
    """The fake west on PATH (each machine logs to its own file); returns the base dir."""
    return tmp_path


def changed_layout(directory: Path, name: str = "changed", key: str = "Q") -> Path:
    """The example layout with its first key changed (another keymap, same workspace)."""
    layout = json.loads(EXAMPLE.read_text())
    layout["layers"][0][0] = {"value": "&kp", "params": [{"value": key, "params": []}]}
    changed = directory / f"{name}.json"
    changed.write_text(json.dumps(layout))
    return changed


def images(layout: Path) -> tuple[bytes, bytes]:
    compiled = compile_layout(layout)
    keymap, conf = compiled.keymap.encode(), compiled.conf.encode()
    return (
        fake_west.uf2_image("glove80_lh", keymap, conf),
        fake_west.uf2_image("glove80_rh", keymap, conf),
    )


def test_three_machines_share_firmware_and_workspaces_through_one_bucket(
    machines: Path, remote_bucket: RemoteBucket
) -> None:
    base = machines
    a = Machine(base / "a", remote_bucket)
    b = Machine(base / "b", remote_bucket)
    c = Machine(base / "c", remote_bucket, GLOVEBOX_CACHE_REMOTE_MODE="read-only")
    changed = changed_layout(base)
    left, right = images(EXAMPLE)

    # A: nothing anywhere, so west runs; the result is published.
    built, _ = a.compile(EXAMPLE, base / "a-out")
    assert a.west() == ["init", "update", "build", "build"]
    assert built["levels"]["firmware"]["source"] == "built"
    names = {path for path, _, _ in remote_bucket.listing()}
    assert f"ci/firmware/{built['key']}" in names
    assert any(name.startswith("ci/heads/") for name in names)
    assert any(
        name.startswith("ci/workspaces/") and name.endswith(f"/{built['commit']}.tar.zst")
        for name in names
    )

    # B: the same layout; no west at all, the firmware comes from the remote tier.
    served, _ = b.compile(EXAMPLE, base / "b-out")
    assert b.west() == []
    assert served["levels"]["firmware"]["source"] == "remote cache"
    assert (served["key"], served["commit"]) == (built["key"], built["commit"])
    assert (base / "b-out" / "glove80-example.uf2").read_bytes() == left + right
    assert (base / "b-out" / "glove80-example_rh.uf2").read_bytes() == right
    assert b.levels()["firmware"]["entries"] == 1  # backfilled locally
    # Now local: served from B's own firmware level.
    assert "firmware: from cache (" in b.text(EXAMPLE, base / "b-out")
    assert b.west() == []

    # B: a changed layout; the workspace comes from the remote tier (no init/update).
    rebuilt, _ = b.compile(changed, base / "b-out2")
    assert b.west() == ["build", "build"]
    assert rebuilt["levels"]["workspace"]["source"] == "remote cache"
    assert rebuilt["levels"]["firmware"]["source"] == "built"
    assert rebuilt["commit"] == built["commit"]
    assert (base / "b-out2" / "changed_lh.uf2").read_bytes() == images(changed)[0]
    assert b.levels()["workspaces"]["entries"] == 1  # backfilled into B's workspace cache
    assert f"ci/firmware/{rebuilt['key']}" in {p for p, _, _ in remote_bucket.listing()}

    # C (read-only): reads both, writes nothing.
    before = remote_bucket.listing()
    text = c.text(EXAMPLE, base / "c-out")
    assert "firmware: from remote cache (" in text
    assert (base / "c-out" / "glove80-example.uf2").read_bytes() == left + right
    assert c.west() == []
    other = changed_layout(base, "other", "Z")
    result = c.run("firmware", "compile", str(other), str(base / "c-out2"))
    assert result.returncode == 0, result.stderr
    assert "workspace: from remote cache (" in result.stdout
    assert "firmware: not cached, building" in result.stdout
    assert c.west() == ["build", "build"]
    assert remote_bucket.listing() == before
    assert "WARNING" not in result.stderr


def test_a_tampered_firmware_object_is_refused_and_the_build_proceeds(
    machines: Path, remote_bucket: RemoteBucket
) -> None:
    a = Machine(machines / "a", remote_bucket)
    b = Machine(machines / "b", remote_bucket)
    built, _ = a.compile(EXAMPLE, machines / "a-out")
    name = f"ci/firmware/{built['key']}"
    raw = remote_bucket.raw()
    body = bytearray(obstore.get(raw, name).bytes())
    marker = body.index(b'"images"')
    body[marker + 20] ^= 0x01  # one bit inside the first image's base64
    obstore.put(raw, name, bytes(body))

    document, stderr = b.compile(EXAMPLE, machines / "b-out")
    assert document["levels"]["firmware"]["source"] == "built"
    assert document["levels"]["workspace"]["source"] == "remote cache"
    assert b.west() == ["build", "build"]
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, stderr
    assert "refused" in warnings[0]
    assert "firmware/" in warnings[0]
    left, right = images(EXAMPLE)
    assert (machines / "b-out" / "glove80-example.uf2").read_bytes() == left + right
    # The only local entry is the one B built, nothing taken from the tampered object,
    # and no download was left behind.
    assert b.levels()["firmware"]["entries"] == 1
    firmware = machines / "b" / "xdg-cache" / "glovebox" / "compilation" / "firmware"
    record = json.loads((firmware / document["key"] / "entry.json").read_text())
    assert "from" not in record["meta"]
    scratch = firmware / ".remote"
    assert not scratch.exists() or list(scratch.iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("problem", ["down", "wrong credentials"])
def test_a_store_that_fails_costs_one_warning_and_the_build_completes(
    machines: Path, remote_bucket: RemoteBucket, problem: str
) -> None:
    extra = (
        {"GLOVEBOX_CACHE_REMOTE_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}
        if problem == "down"
        else {"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "wrong-secret-key"}
    )
    a = Machine(machines / "a", remote_bucket, **extra)
    document, stderr = a.compile(EXAMPLE, machines / "out")
    assert document["levels"]["firmware"]["source"] == "built"
    assert a.west() == ["init", "update", "build", "build"]
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, stderr
    assert "unusable, continuing without it" in warnings[0]
    assert "wrong-secret-key" not in stderr
    assert remote_bucket.listing() == []
    left, right = images(EXAMPLE)
    assert (machines / "out" / "glove80-example.uf2").read_bytes() == left + right


def test_no_cache_neither_reads_nor_writes_the_remote_tier(
    machines: Path, remote_bucket: RemoteBucket
) -> None:
    a = Machine(machines / "a", remote_bucket)
    a.compile(EXAMPLE, machines / "a-out")
    before = remote_bucket.listing()
    b = Machine(machines / "b", remote_bucket)
    document, _ = b.compile(EXAMPLE, machines / "b-out", "--no-cache")
    assert document["levels"]["firmware"]["source"] == "not cached"
    assert b.west() == ["init", "update", "build", "build"]  # no workspace from the bucket
    assert remote_bucket.listing() == before


_MODULES_AFTER = """
import io, json, sys, contextlib
from containers.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps({"modules": sorted(sys.modules), "out": out.getvalue()}))
"""


def modules_after(machine: Machine, *args: str) -> tuple[set[str], str]:
    """The modules a fresh interpreter loaded running ``glovebox ARGS`` as ``machine``."""
    env = {**os.environ, **machine.env, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    data = json.loads(result.stdout.splitlines()[-1])
    return set(data["modules"]), str(data["out"])


def test_local_hits_never_load_the_remote_client(
    machines: Path, remote_bucket: RemoteBucket
) -> None:
    a = Machine(machines / "a", remote_bucket)
    b = Machine(machines / "b", remote_bucket)
    a.compile(EXAMPLE, machines / "a-out")
    b.compile(EXAMPLE, machines / "b-out")  # from the remote tier, backfilled
    command = ("firmware", "compile", str(EXAMPLE), str(machines / "again"))
    # A holds the workspace: the fast hit path, without even the tier's module.
    modules, out = modules_after(a, *command)
    assert "firmware: from cache (" in out
    assert modules.isdisjoint({"obstore", "zstandard", "glovebox.remote.tier"})
    # B holds only the firmware: served locally by the full service, no S3 client.
    modules, out = modules_after(b, *command)
    assert "firmware: from cache (" in out
    assert modules.isdisjoint({"obstore", "zstandard"})


def test_update_asks_west_even_when_the_store_has_the_workspace(
    machines: Path, remote_bucket: RemoteBucket
) -> None:
    a = Machine(machines / "a", remote_bucket)
    b = Machine(machines / "b", remote_bucket)
    a.compile(EXAMPLE, machines / "a-out")
    document, _ = b.compile(EXAMPLE, machines / "b-out", "--update")
    assert b.west() == ["init", "update", "build", "build"]
    assert document["levels"]["workspace"]["source"] == "updated"


def test_after_remote_hits_later_runs_read_nothing_remote(
    machines: Path, remote_bucket: RemoteBucket
) -> None:
    a = Machine(machines / "a", remote_bucket)
    b = Machine(machines / "b", remote_bucket)
    second = changed_layout(machines, "second", "W")
    a.compile(EXAMPLE, machines / "a-out")
    a.compile(second, machines / "a-out")
    for layout in (EXAMPLE, second):
        served, _ = b.compile(layout, machines / "b-out")
        assert served["levels"]["firmware"]["source"] == "remote cache"
    # The store is gone now: B still serves both from its own cache, without a warning.
    offline = Machine(machines / "b", remote_bucket)
    offline.env["GLOVEBOX_CACHE_REMOTE_ENDPOINT"] = f"http://127.0.0.1:{_closed_port()}"
    for layout in (EXAMPLE, second):
        document, stderr = offline.compile(layout, machines / "b-out")
        assert document["levels"]["firmware"]["source"] == "cache"
        assert "WARNING" not in stderr
    assert b.west() == []
