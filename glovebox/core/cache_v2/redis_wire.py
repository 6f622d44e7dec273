"""The Redis backend's hot path: commands packed once, sent on connections of its own.

redis-py's ``Redis.execute_command`` does a lot per call that a cache read does not need:
it borrows a connection from the pool (which polls the socket to check it is clean),
records metrics, wraps the call in a retry closure, and looks up response callbacks.
For a command that is one small write and one small read on a local socket, that
bookkeeping costs about as much as the round trip. :class:`Wire` keeps this process's
idle connections in a list (``pop``/``append`` are atomic, so no lock is taken), sends
commands packed here in the Redis protocol with one ``sendall``, and reads the replies
with redis-py's parser. Connections are redis-py's own, built from the same URL and
options as the backend's client, so TLS, authentication, database selection and the
configured timeouts apply unchanged.

A connection that fails in any way other than a server error reply is closed, never
reused: after a timeout it may still have a reply in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis

__all__ = [
    "SEND_WHOLE_LIMIT",
    "Wire",
    "coalesce",
    "pack_command",
    "pack_get",
    "pack_script",
    "pack_set",
]

# Commands up to this size are joined and sent with one system call; larger values are
# sent in pieces so that they are not copied once more.
SEND_WHOLE_LIMIT = 64 * 1024

_CRLF = b"\r\n"


def pack_get(name: bytes) -> list[bytes]:
    """``GET name`` in the Redis protocol."""
    return [b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(name), name)]


def pack_set(name: bytes, header: bytes, payload: bytes, px: int) -> list[bytes]:
    """``SET name header+payload [PX px]`` (``px`` 0: no expiry), without joining the value."""
    size = len(header) + len(payload)
    if px:
        head = b"*5\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n" % (len(name), name, size)
        digits = b"%d" % px
        tail = b"\r\n$2\r\nPX\r\n$%d\r\n%b\r\n" % (len(digits), digits)
    else:
        head = b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n" % (len(name), name, size)
        tail = _CRLF
    if size <= SEND_WHOLE_LIMIT:
        return [b"".join((head, header, payload, tail))]
    return [head, header, payload, tail]


def pack_command(args: Sequence[bytes]) -> bytes:
    """Any command, its arguments given as bytes."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(_CRLF)
    return b"".join(parts)


def pack_script(
    command: bytes, script: bytes, head: Sequence[bytes], values: Sequence[bytes]
) -> list[bytes]:
    """``EVAL``/``EVALSHA script numkeys keys... args...`` whose trailing arguments are
    ``values`` taken in pairs (header, payload), each pair sent as one argument."""
    parts = [
        b"*%d\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
        % (2 + len(head) + len(values) // 2, len(command), command, len(script), script)
    ]
    for arg in head:
        parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    for index in range(0, len(values), 2):
        header, payload = values[index], values[index + 1]
        parts.append(b"$%d\r\n%b" % (len(header) + len(payload), header))
        parts.append(payload)
        parts.append(_CRLF)
    return coalesce(parts)


def coalesce(pieces: list[bytes]) -> list[bytes]:
    """``pieces`` joined into buffers of about ``SEND_WHOLE_LIMIT`` bytes: few system
    calls, and pieces that are large by themselves are sent as they are, not copied."""
    out: list[bytes] = []
    run: list[bytes] = []
    size = 0
    for piece in pieces:
        if len(piece) > SEND_WHOLE_LIMIT:
            if run:
                out.append(b"".join(run))
                run, size = [], 0
            out.append(piece)
            continue
        run.append(piece)
        size += len(piece)
        if size >= SEND_WHOLE_LIMIT:
            out.append(b"".join(run))
            run, size = [], 0
    if run:
        out.append(b"".join(run))
    return out


class Wire:
    """This process's hot-path connections to one server. Thread-safe.

    ``connect`` builds a new (unconnected) redis-py connection; it connects on first send.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._idle: list[Any] = []
        self._closed = False

    def call(self, packed: list[bytes], replies: int = 1) -> Any:
        """Send ``packed`` and read ``replies`` replies; the last one is returned.

        A server error reply raises ``redis.ResponseError`` (the connection stays usable,
        and every reply has been read); anything else closes the connection and raises.
        """
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self._connect()
        try:
            connection.send_packed_command(packed, check_health=False)
            error: redis.ResponseError | None = None
            reply: Any = None
            for _ in range(replies):
                try:
                    reply = connection.read_response()
                except redis.ResponseError as exc:  # a whole error reply: still in step
                    error = error or exc
        except BaseException:
            connection.disconnect()
            raise
        self._release(connection)
        if error is not None:
            raise error
        return reply

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
