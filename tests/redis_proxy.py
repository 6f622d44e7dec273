"""A counting unix-socket proxy in front of a real Redis server.

It forwards bytes unchanged and counts what a test needs to see from the outside:
connections accepted (connect attempts) and round trips (each time the client starts
sending again after the server answered). Requests small enough to arrive in one read
are counted exactly.
"""

from __future__ import annotations

import select
import socket
import tempfile
import threading
from pathlib import Path
from typing import Self

from glovebox._closing import ClosedOnExit

__all__ = ["CountingProxy"]


class CountingProxy(ClosedOnExit):
    def __init__(self, upstream: Path) -> None:
        self.upstream = upstream
        self.directory = Path(tempfile.mkdtemp(prefix="gbx-proxy-"))
        self.socket_path = self.directory / "proxy.sock"
        self.connections = 0
        self.round_trips = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.socket_path))
        self._listener.listen(64)
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def reset_counts(self) -> None:
        with self._lock:
            self.connections = self.round_trips = 0

    def __enter__(self) -> Self:
        self._accepter.start()
        return self

    def close(self) -> None:
        """Stop accepting, wait for the relaying threads and remove the socket."""
        self._stopping.set()
        self._listener.close()
        self._accepter.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self.socket_path.unlink(missing_ok=True)
        self.directory.rmdir()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if not ready or self._stopping.is_set():
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(str(self.upstream))
        except OSError:
            upstream.close()
            client.close()  # the server is down: the client sees the connection drop
            return
        server_spoke_last = True
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.05)
                for source in ready:
                    data = source.recv(1 << 20)
                    if not data:
                        return
                    if source is client:
                        if server_spoke_last:
                            with self._lock:
                                self.round_trips += 1
                        server_spoke_last = False
                        upstream.sendall(data)
                    else:
                        server_spoke_last = True
                        client.sendall(data)
        except OSError:
            return
        finally:
            upstream.close()
            client.close()
