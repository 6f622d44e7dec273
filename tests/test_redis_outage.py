"""Redis backend failures on real servers: outage and recovery, breaker, timeouts, masking."""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from glovebox.core.cache_v2.redis_cache import RedisCache, RedisUnavailableError
from glovebox.core.cache_v2.redis_settings import RedisSettings, mask_url
from glovebox.errors import CacheError
from glovebox.testing.redis_server import RedisServer
from tests.redis_fixtures import new_redis_settings
from tests.redis_proxy import CountingProxy

LOGGER = "glovebox.core.cache_v2.redis_cache"


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == LOGGER and record.levelno >= logging.WARNING
    ]


def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll ``condition`` until true or ``timeout`` passes (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.slow
def test_outage_reads_miss_writes_raise_one_warning_and_recovery(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = new_redis_settings(own_redis_server, retry_interval=0.2)
    cache = RedisCache(settings, tag="outage")
    cache.set("k", "before")
    assert cache.get("k") == "before"

    own_redis_server.kill()
    for _ in range(50):
        assert cache.get("k", "fallback") == "fallback"
        assert cache.get_many(["k"]) == {}
        assert cache.exists("k") is False
    with pytest.raises(RedisUnavailableError, match=r"could not store key 'k'.*unreachable") as exc:
        cache.set("k", "during")
    assert own_redis_server.url in str(exc.value)
    with pytest.raises(CacheError):
        cache.set_many({"a": 1})
    with pytest.raises(CacheError):
        cache.delete("k")
    assert cache.keys() == []
    assert cache.get_or_set("computed", lambda: 7) == 7  # computed, not stored
    assert len(cache_warnings(caplog)) == 1
    assert "unreachable" in cache_warnings(caplog)[0]
    assert cache.get_stats().errors > 0

    own_redis_server.start()  # same socket, empty (persistence is off)

    def stores() -> bool:
        try:
            cache.set("k", "after")
        except CacheError:
            return False
        return True

    assert eventually(stores)
    assert cache.get("k") == "after"
    assert len(cache_warnings(caplog)) == 1  # still the one warning of that outage
    assert "reachable again" in caplog.text
    cache.close()


@pytest.mark.slow
def test_the_breaker_allows_one_connect_attempt_per_back_off_period(
    own_redis_server: RedisServer,
) -> None:
    with CountingProxy(own_redis_server.socket_path) as proxy:
        cache = RedisCache(new_redis_settings(url=proxy.url, retry_interval=3600), tag="breaker")
        cache.set("k", 1)
        own_redis_server.kill()
        proxy.reset_counts()
        for _ in range(100):
            cache.get("k")
        for _ in range(20):
            with pytest.raises(CacheError):
                cache.set("k", 2)
        # The pooled connection breaks: one reconnect attempt, then the breaker holds.
        assert proxy.connections <= 1
        cache.close()


@pytest.mark.slow
def test_the_breaker_lets_a_probe_through_after_the_back_off(own_redis_server: RedisServer) -> None:
    with CountingProxy(own_redis_server.socket_path) as proxy:
        cache = RedisCache(new_redis_settings(url=proxy.url, retry_interval=0.2), tag="probe")
        own_redis_server.kill()
        cache.get("k")
        proxy.reset_counts()
        assert eventually(lambda: cache.get("k") is None and proxy.connections >= 1)
        cache.close()


def test_a_hung_server_costs_at_most_the_socket_timeout(tmp_path: Path) -> None:
    # A listener that never accepts: connecting works (the kernel queues it), answers never come.
    directory = Path(tempfile.mkdtemp(prefix="gbx-hung-"))
    path = directory / "hung.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)
    settings = new_redis_settings(url=f"unix://{path}", socket_timeout=0.3, connect_timeout=0.3)
    cache = RedisCache(settings, tag="hung")
    outcome: list[object] = []

    def calls() -> None:
        outcome.append(cache.get("k", "miss"))
        try:
            cache.set("k", 1)
        except CacheError as exc:
            outcome.append(type(exc).__name__)

    worker = threading.Thread(target=calls, daemon=True)
    worker.start()
    worker.join(timeout=30)  # a bound against hanging forever, not a timing assertion
    assert not worker.is_alive()
    assert outcome == ["miss", "RedisUnavailableError"]
    cache.close()
    listener.close()
    path.unlink()
    directory.rmdir()


# -- masking -------------------------------------------------------------------------


@pytest.fixture
def password_server() -> Iterator[RedisServer]:
    server = RedisServer(extra_args=("--requirepass", "the-right-password-42")).start()
    yield server
    server.close()


def test_passwords_and_secret_never_appear_in_errors_logs_or_repr(
    password_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "wrong-password-9f3b1c"
    secret = "signing-secret-7d2e9a4b"
    settings = new_redis_settings(url=f"{password_server.url}?password={password}", secret=secret)
    cache = RedisCache(settings, tag="masked")
    with pytest.raises(CacheError) as refused:
        cache.set("k", 1)
    assert cache.get("k") is None
    texts = [str(refused.value), caplog.text, repr(cache), repr(settings), str(settings)]
    for text in texts:
        assert password not in text
        assert secret not in text
    assert "***" in str(refused.value)
    assert str(password_server.socket_path) in str(refused.value)
    cache.close()


def test_a_password_in_a_tcp_url_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    password = "hunter2-tcp-password"
    url = f"redis://builder:{password}@127.0.0.1:1/0"
    assert mask_url(url) == "redis://builder:***@127.0.0.1:1/0"
    cache = RedisCache(new_redis_settings(url=url), tag="tcp")
    with pytest.raises(CacheError) as refused:
        cache.set("k", 1)
    assert password not in str(refused.value) + caplog.text + repr(cache)
    assert "redis://builder:***@127.0.0.1:1/0" in str(refused.value)
    cache.close()


def test_a_rejected_url_is_not_echoed_with_its_password() -> None:
    with pytest.raises(ValueError, match=r"url") as caught:
        RedisSettings(url="http://user:leaky-password@host")
    assert "leaky-password" not in str(caught.value)
