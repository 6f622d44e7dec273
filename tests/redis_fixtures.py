"""A real Redis server for the test session, and per-test settings isolated by key prefix.

The server starts on first use (unix socket in a temporary directory, persistence off)
and stops when the session ends. Tests never share keys: each gets its own key prefix,
which is also how the backend keeps unrelated installations apart on one server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from glovebox.core.cache_v2.redis_settings import RedisSettings
from glovebox.testing.redis_server import RedisServer

__all__ = ["REDIS_SECRET", "new_redis_settings", "session_redis_server"]

REDIS_SECRET = "tests-signing-secret-0123456789"
_servers: list[RedisServer] = []  # the session's server, once started


def session_redis_server() -> RedisServer:
    """The session's server, started on first call."""
    if not _servers:
        _servers.append(RedisServer().start())
    return _servers[0]


def new_redis_settings(server: RedisServer | None = None, **overrides: object) -> RedisSettings:
    """Settings for a fresh, private namespace on ``server`` (default: the session's)."""
    values: dict[str, object] = {
        "url": (server or session_redis_server()).url,
        "key_prefix": "t" + uuid.uuid4().hex[:12],
        "secret": REDIS_SECRET,
        "connect_timeout": 2.0,
        "socket_timeout": 2.0,
        "retry_interval": 0.5,
        "lock_timeout": 30.0,
    }
    values.update(overrides)
    return RedisSettings.model_validate(values)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    while _servers:
        _servers.pop().close()


@pytest.fixture
def redis_server() -> RedisServer:
    return session_redis_server()


@pytest.fixture
def redis_settings(redis_server: RedisServer) -> RedisSettings:
    return new_redis_settings(redis_server)


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A server of the test's own, which it may kill and restart."""
    server = RedisServer().start()
    yield server
    server.close()
