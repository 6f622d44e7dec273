"""The Redis backend's hot path: redis-py connections of its own, driven directly.

redis-py's ``Redis.execute_command`` does a lot per call that a cache read does not need:
it borrows a connection from the pool (which polls the socket to check it is clean),
records metrics, wraps the call in a retry closure, and looks up response callbacks.
For a command that is one small write and one small read on a local socket, that
bookkeeping costs about as much as the round trip.

:class:`Wire` keeps this process's idle connections in a list (``pop``/``append`` are
atomic, so no lock is taken) and uses redis-py's public connection interface for
everything on the wire: commands are encoded by the connection's own ``pack_command`` /
``pack_commands``, sent with ``send_packed_command`` and answered through
``read_response``, redis-py's reply parser. The connections are built by redis-py from the
same URL and options as the backend's client, so TLS, authentication, database selection,
the protocol version and the configured timeouts apply unchanged.

A connection that fails in any way other than a server error reply is closed, never
reused: after a timeout it may still have a reply in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis

__all__ = ["Argument", "Wire"]

# What redis-py's encoder accepts as a command argument (bool is refused by it).
Argument = bytes | memoryview | str | int | float

_MULTI: tuple[Argument, ...] = (b"MULTI",)
_EXEC: tuple[Argument, ...] = (b"EXEC",)


class Wire:
    """This process's hot-path connections to one server. Thread-safe.

    ``connect`` builds a new (unconnected) redis-py connection; it connects on first send.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._idle: list[Any] = []
        self._closed = False

    def call(self, *args: Argument) -> Any:
        """Send one command and return its reply.

        A server error reply raises ``redis.ResponseError`` and leaves the connection in
        step and reusable; any other failure closes the connection and propagates.
        """
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self._connect()
        try:
            connection.send_packed_command(connection.pack_command(*args), check_health=False)
            reply = connection.read_response()
        except redis.ResponseError:
            self._release(connection)  # a whole error reply was read: still in step
            raise
        except BaseException:
            connection.disconnect()
            raise
        self._release(connection)
        return reply

    def transaction(self, commands: Sequence[Sequence[Argument]]) -> list[Any]:
        """Run ``commands`` between MULTI and EXEC, all sent at once: one round trip.

        The server applies every command or none of them, and runs nothing else in
        between. Returns EXEC's replies, one per command. If the server refuses a
        command while queueing it (out of memory, say), it discards the transaction;
        that first refusal is raised as ``redis.ResponseError`` after every reply has
        been read, so the connection stays in step. An error reply inside EXEC's result
        is raised too.
        """
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self._connect()
        error: redis.ResponseError | None = None
        results: Any = None
        try:
            connection.send_packed_command(
                connection.pack_commands([_MULTI, *commands, _EXEC]), check_health=False
            )
            # MULTI's OK and one QUEUED per command, then EXEC's list (or its refusal).
            for _ in range(len(commands) + 2):
                try:
                    results = connection.read_response()
                except redis.ResponseError as exc:
                    error = error or exc
        except BaseException:
            connection.disconnect()
            raise
        self._release(connection)
        if error is not None:
            raise error
        if not isinstance(results, list):
            raise redis.ResponseError(f"EXEC answered {results!r} instead of a list of replies")
        for result in results:
            if isinstance(result, redis.ResponseError):
                raise result
        return results

    def _release(self, connection: Any) -> None:
        self._idle.append(connection)
        if self._closed:
            self.close()

    def close(self) -> None:
        """Disconnect the idle connections; ones in use are disconnected when returned."""
        self._closed = True
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return
            connection.disconnect()
