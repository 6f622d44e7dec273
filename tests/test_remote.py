"""The remote tier against a real S3 server (SeaweedFS on loopback, started by the tests)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import stat
import tarfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import obstore
import pytest
import zstandard
from obstore.exceptions import AlreadyExistsError

from glovebox.remote.envelope import TRAILER_LENGTH, Sealer
from glovebox.remote.settings import RemoteMode
from glovebox.remote.tier import (
    BLOB,
    TREE,
    RemoteError,
    RemoteTier,
    RemoteWriteError,
    check_key,
    remote_tier_from_config,
)
from glovebox.testing.seaweedfs_server import (
    READER_ACCESS_KEY,
    READER_SECRET_KEY,
    SeaweedServer,
)
from tests.remote_fixtures import REMOTE_SECRET, RemoteBucket

WARNING_LOGGER = "glovebox.remote.tier"


def make_tree(root: Path, seed: str = "one") -> Path:
    """A small workspace-like tree: nested files, an executable, an empty dir, a symlink."""
    (root / "zmk" / "app").mkdir(parents=True)
    (root / "zephyr" / "scripts" / "build").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "zmk" / "app" / "west.yml").write_text(f"manifest: {seed}\n")
    (root / "zephyr" / "scripts" / "build" / "run.py").write_text("print('x')\n")
    tool = root / "zmk" / "tool.sh"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    readonly = root / "zmk" / "readonly.txt"
    readonly.write_text("keep me")
    readonly.chmod(0o444)
    (root / "data.bin").write_bytes(os.urandom(300_000) + seed.encode())
    os.symlink("zmk/app/west.yml", root / "manifest-link")
    return root


def tree_state(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """What a tree holds: kind, permission bits and content (or link target) per path."""
    state: dict[str, tuple[str, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            state[rel] = ("link", 0, os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            state[rel] = ("dir", stat.S_IMODE(info.st_mode), b"")
        else:
            state[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return state


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == WARNING_LOGGER and r.levelno == logging.WARNING
    ]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- round trips --------------------------------------------------------------------------


def test_a_blob_published_by_one_machine_is_fetched_by_another(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    firmware = tmp_path / "a" / "glove80.uf2"
    firmware.parent.mkdir()
    firmware.write_bytes(os.urandom(2_500_000))
    assert remote_bucket.tier().publish_blob("firmware/abc123/glove80.uf2", firmware)

    dest = tmp_path / "b" / "glove80.uf2"
    dest.parent.mkdir()
    assert remote_bucket.tier().fetch_blob("firmware/abc123/glove80.uf2", dest)
    assert dest.read_bytes() == firmware.read_bytes()
    assert leftovers(dest.parent) == []


def test_a_tree_round_trip_keeps_files_modes_links_and_empty_directories(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    assert remote_bucket.tier().publish_tree("workspace/zmk-main", src)
    dest = tmp_path / "machine-b" / "workspace"
    dest.parent.mkdir()
    assert remote_bucket.tier().fetch_tree("workspace/zmk-main", dest)
    assert tree_state(dest) == tree_state(src)
    assert leftovers(dest.parent) == []


def test_a_missing_key_is_a_quiet_miss_and_writes_nothing(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tier = remote_bucket.tier()
    out = tmp_path / "out"
    out.mkdir()
    assert not tier.fetch_blob("firmware/none.uf2", out / "x.uf2")
    assert not tier.fetch_tree("workspace/none", out / "ws")
    assert list(out.iterdir()) == []
    assert warnings_of(caplog) == []


def test_publishing_a_key_that_exists_leaves_the_object_alone(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    first.write_bytes(b"one" * 1000)
    second = tmp_path / "second"
    second.write_bytes(b"two" * 1000)
    tier = remote_bucket.tier()
    assert tier.publish_blob("firmware/k", first)
    before = remote_bucket.listing()
    assert tier.publish_blob("firmware/k", second)  # already there: counts as published
    assert remote_bucket.listing() == before
    assert tier.fetch_blob("firmware/k", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == first.read_bytes()


def test_objects_live_under_the_prefix_with_their_trailer(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 5000)
    remote_bucket.tier().publish_blob("firmware/k", blob)
    remote_bucket.tier().publish_tree("workspace/w", make_tree(tmp_path / "t"))
    paths = [path for path, _, _ in remote_bucket.listing()]
    assert paths == ["ci/firmware/k", "ci/workspace/w.tar.zst"]
    assert remote_bucket.listing()[0][1] == 5000 + TRAILER_LENGTH


# -- concurrency --------------------------------------------------------------------------


def test_concurrent_publishers_of_one_key_leave_one_complete_object(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    sources = [make_tree(tmp_path / f"src{i}", seed=f"machine-{i}") for i in range(4)]
    start = threading.Barrier(len(sources))

    def publish(src: Path) -> bool:
        tier = remote_bucket.tier()  # each "machine" has its own client
        start.wait(timeout=30)
        return tier.publish_tree("workspace/shared", src)

    with ThreadPoolExecutor(len(sources)) as pool:
        results = list(pool.map(publish, sources))
    assert results == [True] * len(sources)
    assert [p for p, _, _ in remote_bucket.listing()] == ["ci/workspace/shared.tar.zst"]
    dest = tmp_path / "fetched"
    assert remote_bucket.tier().fetch_tree("workspace/shared", dest)
    assert tree_state(dest) in [tree_state(src) for src in sources]


def test_the_store_refuses_a_second_create_of_one_key(remote_bucket: RemoteBucket) -> None:
    # What the atomic publish relies on: SeaweedFS honours If-None-Match: *.
    store = remote_bucket.raw()
    obstore.put(store, "probe", b"first", mode="create")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        obstore.put(store, "probe", b"second", mode="create")
    assert bytes(obstore.get(store, "probe").bytes()) == b"first"


# -- integrity ----------------------------------------------------------------------------


def test_a_tampered_blob_is_refused_with_a_warning_and_nothing_written(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob = tmp_path / "src.uf2"
    blob.write_bytes(b"good firmware" * 1000)
    assert remote_bucket.tier().publish_blob("firmware/k.uf2", blob)
    store = remote_bucket.raw()
    stored = bytes(obstore.get(store, "ci/firmware/k.uf2").bytes())
    tampered = b"evil" + stored[4:]  # same length, same trailer, other payload
    obstore.put(store, "ci/firmware/k.uf2", tampered)

    out = tmp_path / "out"
    out.mkdir()
    assert not remote_bucket.tier().fetch_blob("firmware/k.uf2", out / "k.uf2")
    assert list(out.iterdir()) == []
    assert any("SHA-256 mismatch" in w for w in warnings_of(caplog))


def test_an_object_copied_under_another_key_is_refused(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob = tmp_path / "src"
    blob.write_bytes(b"old firmware")
    assert remote_bucket.tier().publish_blob("firmware/old", blob)
    store = remote_bucket.raw()
    obstore.copy(store, "ci/firmware/old", "ci/firmware/new")
    assert not remote_bucket.tier().fetch_blob("firmware/new", tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert any("bad signature" in w for w in warnings_of(caplog))


def test_an_object_signed_with_another_secret_is_refused(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert remote_bucket.tier(secret=b"another-secret-of-20-chars").publish_tree(
        "workspace/w", make_tree(tmp_path / "src")
    )
    assert not remote_bucket.tier().fetch_tree("workspace/w", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert leftovers(tmp_path) == []
    assert any("bad signature" in w for w in warnings_of(caplog))


def test_a_truncated_object_is_refused(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remote_bucket.tier().publish_tree("workspace/w", make_tree(tmp_path / "src"))
    store = remote_bucket.raw()
    stored = bytes(obstore.get(store, "ci/workspace/w.tar.zst").bytes())
    obstore.put(store, "ci/workspace/w.tar.zst", stored[: len(stored) // 2])
    assert not remote_bucket.tier().fetch_tree("workspace/w", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert leftovers(tmp_path) == []
    assert warnings_of(caplog)


def _signed_tree_object(name: str, members: Callable[[tarfile.TarFile], None]) -> bytes:
    """A correctly signed tree object whose tar holds what ``members`` adds."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        members(tf)
    payload = zstandard.ZstdCompressor().compress(raw.getvalue())
    sealer = Sealer(REMOTE_SECRET, name, TREE)
    sealer.update(payload)
    return payload + sealer.trailer()


def _add_file(tf: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tf.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    "member",
    ["../escaped.txt", "device", "link-out", "link-chain-out", "file-under-link-out"],
)
def test_a_signed_archive_breaking_the_archive_rules_extracts_nothing(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture, member: str
) -> None:
    def members(tf: tarfile.TarFile) -> None:
        _add_file(tf, "./ok.txt", b"fine")
        if member == "device":
            info = tarfile.TarInfo("./dev-null")
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            tf.addfile(info)
        elif member == "link-out":
            info = tarfile.TarInfo("./escape")
            info.type = tarfile.SYMTYPE
            info.linkname = "../../outside"
            tf.addfile(info)
        elif member == "link-chain-out":  # each link alone stays inside; together out
            for name, target in (("./here", "."), ("./here/up", "..")):
                info = tarfile.TarInfo(name)
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tf.addfile(info)
        elif member == "file-under-link-out":  # a file written through ./here/..
            info = tarfile.TarInfo("./here")
            info.type = tarfile.SYMTYPE
            info.linkname = "."
            tf.addfile(info)
            _add_file(tf, "./here/../escaped.txt", b"escaped")
        else:
            _add_file(tf, member, b"escaped")

    obstore.put(
        remote_bucket.raw(),
        "ci/workspace/evil.tar.zst",
        _signed_tree_object("ci/workspace/evil.tar.zst", members),
    )
    work = tmp_path / "work"
    work.mkdir()
    assert not remote_bucket.tier().fetch_tree("workspace/evil", work / "dest")
    assert list(work.iterdir()) == []
    assert not (tmp_path / "escaped.txt").exists()
    assert any("refused" in w for w in warnings_of(caplog))


def test_a_file_beneath_an_extracted_link_lands_where_the_link_points(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    def members(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("./sub")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tf.addfile(info)
        link = tarfile.TarInfo("./lib")
        link.type = tarfile.SYMTYPE
        link.linkname = "sub"
        tf.addfile(link)
        _add_file(tf, "./lib/f.txt", b"through the link")

    obstore.put(
        remote_bucket.raw(),
        "ci/workspace/linked.tar.zst",
        _signed_tree_object("ci/workspace/linked.tar.zst", members),
    )
    assert remote_bucket.tier().fetch_tree("workspace/linked", tmp_path / "dest")
    assert (tmp_path / "dest" / "lib").is_symlink()
    assert (tmp_path / "dest" / "sub" / "f.txt").read_bytes() == b"through the link"


def test_an_absolute_member_lands_inside_the_destination(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    def members(tf: tarfile.TarFile) -> None:
        _add_file(tf, f"{tmp_path}/abs.txt", b"inside")

    obstore.put(
        remote_bucket.raw(),
        "ci/workspace/abs.tar.zst",
        _signed_tree_object("ci/workspace/abs.tar.zst", members),
    )
    assert remote_bucket.tier().fetch_tree("workspace/abs", tmp_path / "dest")
    assert not (tmp_path / "abs.txt").exists()
    inside = tmp_path / "dest" / str(tmp_path).lstrip("/") / "abs.txt"
    assert inside.read_bytes() == b"inside"


def test_setuid_bits_are_never_extracted(remote_bucket: RemoteBucket, tmp_path: Path) -> None:
    def members(tf: tarfile.TarFile) -> None:
        _add_file(tf, "./suid", b"#!/bin/sh\n", mode=0o4755)

    obstore.put(
        remote_bucket.raw(),
        "ci/workspace/suid.tar.zst",
        _signed_tree_object("ci/workspace/suid.tar.zst", members),
    )
    assert remote_bucket.tier().fetch_tree("workspace/suid", tmp_path / "dest")
    assert stat.S_IMODE((tmp_path / "dest" / "suid").stat().st_mode) == 0o755


# -- modes and policies -------------------------------------------------------------------


def test_read_only_mode_reads_and_never_writes(remote_bucket: RemoteBucket, tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"published by main")
    assert remote_bucket.tier().publish_blob("firmware/main", blob)
    before = remote_bucket.listing()

    reader = remote_bucket.tier(mode="read-only")
    assert reader.fetch_blob("firmware/main", tmp_path / "got")
    assert not reader.publish_blob("firmware/pr", blob)
    assert not reader.publish_tree("workspace/pr", make_tree(tmp_path / "src"))
    with pytest.raises(RemoteError, match="read-only mode"):
        reader.prune(timedelta(0))
    assert remote_bucket.listing() == before


def test_read_only_credentials_in_read_write_mode_warn_once_and_keep_reading(
    remote_bucket: RemoteBucket,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    aws_keys: Callable[[str, str], None],
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"published by main")
    assert remote_bucket.tier().publish_blob("firmware/main", blob)
    aws_keys(READER_ACCESS_KEY, READER_SECRET_KEY)
    tier = remote_bucket.tier()
    assert not tier.publish_blob("firmware/a", blob)
    assert not tier.publish_blob("firmware/b", blob)
    assert tier.fetch_blob("firmware/main", tmp_path / "got")
    assert len(warnings_of(caplog)) == 1
    assert "cannot publish" in warnings_of(caplog)[0]


def test_write_errors_fail_raises_instead_of_warning(
    remote_bucket: RemoteBucket, tmp_path: Path, aws_keys: Callable[[str, str], None]
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    aws_keys(READER_ACCESS_KEY, READER_SECRET_KEY)
    with pytest.raises(RemoteWriteError, match="cannot publish 'firmware/a'"):
        remote_bucket.tier(write_errors="fail").publish_blob("firmware/a", blob)


def test_without_a_secret_the_tier_is_a_miss_with_one_warning(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    tier = remote_bucket.tier(secret=None)
    assert not tier.publish_blob("firmware/a", blob)
    assert not tier.fetch_blob("firmware/a", tmp_path / "out")
    assert remote_bucket.listing() == []
    assert len(warnings_of(caplog)) == 1
    assert "GLOVEBOX_CACHE_SECRET" in warnings_of(caplog)[0]
    assert tier.status().problem is not None


def test_mode_off_does_nothing(remote_bucket: RemoteBucket, tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    tier = remote_bucket.tier(mode="off")
    assert tier.mode is RemoteMode.OFF
    assert not tier.publish_blob("firmware/a", blob)
    assert remote_bucket.listing() == []


# -- failures of the store ---------------------------------------------------------------


def _assert_down(
    tier: RemoteTier, tmp_path: Path, caplog: pytest.LogCaptureFixture, expected: str
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 100)
    results = [
        tier.fetch_blob("firmware/a", tmp_path / "a"),
        tier.fetch_tree("workspace/a", tmp_path / "w"),
        tier.publish_blob("firmware/a", blob),
        tier.publish_tree("workspace/b", make_tree(tmp_path / "src")),
        tier.fetch_blob("firmware/a", tmp_path / "a"),
    ]
    assert results == [False] * 5
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "w").exists()
    warned = warnings_of(caplog)
    assert len(warned) == 1, warned
    assert expected in warned[0]
    status = tier.status()
    assert not status.reachable
    assert status.problem is not None
    assert expected in status.problem


def test_a_server_that_is_down_costs_a_miss_and_one_warning(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    tier = remote_bucket.tier(endpoint=f"http://127.0.0.1:{port}", timeout=2)
    _assert_down(tier, tmp_path, caplog, "unreachable")


def test_a_server_that_never_answers_is_bounded_by_the_timeout(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the kernel; nothing ever replies
        port = silent.getsockname()[1]
        tier = remote_bucket.tier(endpoint=f"http://127.0.0.1:{port}", timeout=1)
        _assert_down(tier, tmp_path, caplog, "unreachable")


def test_wrong_credentials_cost_a_miss_and_one_clear_warning(
    remote_bucket: RemoteBucket,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    aws_keys: Callable[[str, str], None],
) -> None:
    aws_keys("glovebox-test-admin", "not-the-secret-key")
    _assert_down(remote_bucket.tier(), tmp_path, caplog, "access denied")
    assert "not-the-secret-key" not in caplog.text


def test_a_missing_bucket_costs_a_miss_and_one_clear_warning(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tier = remote_bucket.tier(url="s3://no-such-bucket-here/ci")
    _assert_down(tier, tmp_path, caplog, "bucket 'no-such-bucket-here' does not exist")


def test_a_server_killed_mid_upload_leaves_no_partial_object(
    tmp_path: Path, aws_keys: Callable[[str, str], None], caplog: pytest.LogCaptureFixture
) -> None:
    # A private server: this test kills it.
    with SeaweedServer(base=tmp_path).start() as server:
        server.create_bucket("crash")
        bucket = RemoteBucket(server, "crash")
        fifo = tmp_path / "firmware.fifo"
        os.mkfifo(fifo)
        tier = bucket.tier(timeout=3)
        result: list[bool] = []
        uploader = threading.Thread(
            target=lambda: result.append(tier.publish_blob("firmware/big", fifo))
        )
        uploader.start()
        with open(fifo, "wb") as feed:
            feed.write(os.urandom(20 << 20))  # two and a half 8 MiB parts
            feed.flush()
            server.kill()
            with contextlib.suppress(BrokenPipeError):
                feed.write(os.urandom(4 << 20))
        uploader.join(timeout=60)
        assert result == [False]
        assert warnings_of(caplog)

        server.restart()
        assert bucket.listing() == []
        fresh = bucket.tier()  # the next run
        assert not fresh.fetch_blob("firmware/big", tmp_path / "got")
        blob = tmp_path / "blob"
        blob.write_bytes(os.urandom(1 << 20))
        assert fresh.publish_blob("firmware/big", blob)
        assert fresh.fetch_blob("firmware/big", tmp_path / "got")
        assert (tmp_path / "got").read_bytes() == blob.read_bytes()


# -- managing -----------------------------------------------------------------------------


def test_status_counts_objects_and_bytes_under_the_prefix(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"y" * 1000)
    tier = remote_bucket.tier()
    tier.publish_blob("firmware/a", blob)
    tier.publish_blob("firmware/b", blob)
    obstore.put(remote_bucket.raw(), "elsewhere/c", b"outside the prefix")
    status = tier.status()
    assert status.reachable
    assert (status.objects, status.bytes) == (2, 2 * (1000 + TRAILER_LENGTH))
    assert status.url == remote_bucket.url
    assert status.mode == "read-write"


def test_prune_removes_only_objects_older_than_the_age(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"z" * 10)
    tier = remote_bucket.tier()
    tier.publish_blob("firmware/a", blob)
    tier.publish_blob("firmware/b", blob)
    kept = tier.prune(timedelta(days=30))
    assert (kept.removed, kept.kept) == (0, 2)
    dry = tier.prune(timedelta(0), dry_run=True)
    assert (dry.removed, dry.kept) == (2, 0)
    assert len(tier.list()) == 2
    gone = tier.prune(timedelta(0))
    assert (gone.removed, gone.removed_bytes) == (2, 2 * (10 + TRAILER_LENGTH))
    assert tier.list() == []


@pytest.mark.parametrize("key", ["", "../x", "a/../b", "/abs", "a//b", "sp ace", "x" * 600])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="remote key"):
        check_key(key)


def test_the_tier_comes_from_the_configuration_with_the_redis_secret_as_fallback(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    from glovebox.config.models import GloveboxConfig

    assert remote_tier_from_config(GloveboxConfig()) is None
    remote = {"url": remote_bucket.url, "endpoint": remote_bucket.server.endpoint}
    config = GloveboxConfig.model_validate(
        {"cache": {"remote": remote, "redis": {"secret": REMOTE_SECRET.decode()}}}
    )
    tier = remote_tier_from_config(config)
    assert tier is not None
    blob = tmp_path / "blob"
    blob.write_bytes(b"signed with the Redis secret")
    assert tier.publish_blob("firmware/a", blob)
    assert remote_bucket.tier(secret=REMOTE_SECRET).fetch_blob("firmware/a", tmp_path / "b")
    off = GloveboxConfig.model_validate({"cache": {"remote": {**remote, "mode": "off"}}})
    assert remote_tier_from_config(off) is None


def test_blob_kind_and_tree_kind_are_not_interchangeable(
    remote_bucket: RemoteBucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"not a tree")
    sealer = Sealer(REMOTE_SECRET, "ci/workspace/w.tar.zst", BLOB)
    sealer.update(blob.read_bytes())
    obstore.put(remote_bucket.raw(), "ci/workspace/w.tar.zst", blob.read_bytes() + sealer.trailer())
    assert not remote_bucket.tier().fetch_tree("workspace/w", tmp_path / "dest")
    assert any("wrong kind" in w for w in warnings_of(caplog))


def test_publishing_leaves_out_special_files_and_setuid_bits(
    remote_bucket: RemoteBucket, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "src")
    os.mkfifo(src / "a-fifo")
    suid = src / "zmk" / "suid-tool"
    suid.write_text("#!/bin/sh\n")
    suid.chmod(0o4755)
    assert remote_bucket.tier().publish_tree("workspace/special", src)
    dest = tmp_path / "dest"
    assert remote_bucket.tier().fetch_tree("workspace/special", dest)
    assert not (dest / "a-fifo").exists()
    assert stat.S_IMODE((dest / "zmk" / "suid-tool").stat().st_mode) == 0o755
    (src / "a-fifo").unlink()
    suid.chmod(0o755)
    assert tree_state(dest) == tree_state(src)


def test_the_container_gives_one_tier_per_process_or_none(
    remote_bucket: RemoteBucket, isolated_config: object
) -> None:
    from containers import ApplicationContainer
    from glovebox.config.models import GloveboxConfig

    plain = ApplicationContainer()
    plain.config.from_dict(GloveboxConfig().model_dump(mode="json"))
    assert plain.remote_tier() is None

    container = ApplicationContainer()
    data = GloveboxConfig().model_dump(mode="json")
    data["cache"]["remote"] = {
        "url": remote_bucket.url,
        "endpoint": remote_bucket.server.endpoint,
        "secret": REMOTE_SECRET.decode(),
    }
    container.config.from_dict(data)
    tier = container.remote_tier()
    assert isinstance(tier, RemoteTier)
    assert container.remote_tier() is tier  # one failure state and one warning per run
    assert tier.status().reachable
