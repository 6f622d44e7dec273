"""MoergoClient: API answers cached with a TTL; the HTTP call is injected."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from containers import bootstrap, shutdown
from glovebox.core.cache_v2 import MemoryCache, create_diskcache_manager
from glovebox.moergo import MoergoApiError, MoergoClient, UrllibFetcher
from glovebox.testing import IsolatedConfig
from tests.helpers import write_yaml


class FakeApi:
    """Counts calls; answers with a payload naming the path."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, path: str) -> Any:
        self.calls.append(path)
        if self.fail:
            raise MoergoApiError(f"GET {path} failed: unavailable")
        return {"path": path, "n": len(self.calls)}


def test_second_read_is_served_from_the_cache(tmp_path: Path) -> None:
    api = FakeApi()
    with create_diskcache_manager(tmp_path, "moergo") as cache:
        client = MoergoClient(cache, api, ttl=60)
        assert client.get("layouts/v1/abc/config") == {"path": "layouts/v1/abc/config", "n": 1}
        assert client.get("layouts/v1/abc/config")["n"] == 1
    assert api.calls == ["layouts/v1/abc/config"]


def test_answers_expire_after_the_ttl() -> None:
    api = FakeApi()
    client = MoergoClient(MemoryCache("moergo"), api, ttl=0.05)
    client.get("p")
    deadline = time.monotonic() + 5
    while client.cache.exists("GET:p") and time.monotonic() < deadline:
        time.sleep(0.01)
    client.get("p")
    assert api.calls == ["p", "p"]


def test_failures_are_not_cached() -> None:
    api = FakeApi()
    client = MoergoClient(MemoryCache("moergo"), api)
    api.fail = True
    with pytest.raises(MoergoApiError, match="GET p failed"):
        client.get("p")
    api.fail = False
    assert client.get("p")["n"] == 2


def test_invalidate_forces_a_new_fetch() -> None:
    api = FakeApi()
    client = MoergoClient(MemoryCache("moergo"), api)
    client.get("p")
    assert client.invalidate("p")
    assert not client.invalidate("p")
    client.get("p")
    assert len(api.calls) == 2


def test_layout_ids_are_checked() -> None:
    client = MoergoClient(MemoryCache("moergo"), FakeApi())
    assert client.get_layout("a b")["path"] == "layouts/v1/a%20b/config"
    with pytest.raises(ValueError, match="layout id"):
        client.get_layout("../x")


def test_container_client_uses_the_configured_default_ttl(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    config = write_yaml(
        tmp_path / "c.yaml", "cache:\n  domains:\n    moergo:\n      default_ttl: 120\n"
    )
    app = bootstrap(config)
    api = FakeApi()
    try:
        with app.moergo_fetch.override(api):
            client = app.moergo_client()
            client.get("p")
            metadata = client.cache.get_metadata("GET:p")
            assert client.cache is app.moergo_cache()
        assert metadata is not None
        assert metadata.ttl_remaining is not None
        assert 0 < metadata.ttl_remaining <= 120
    finally:
        shutdown(app)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 404 if self.path.endswith("/missing") else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_urllib_fetcher_gets_json(server: str) -> None:
    assert UrllibFetcher(server)("layouts/v1/x/config") == {"path": "/api/layouts/v1/x/config"}
    with pytest.raises(MoergoApiError, match="404"):
        UrllibFetcher(server)("missing")
