"""A caching wrapper around MoErgo API calls; the HTTP call itself is injected."""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from glovebox.core.cache_v2 import CacheManager, best_effort
from glovebox.errors import GloveboxError

__all__ = ["Fetch", "MoergoApiError", "MoergoClient", "UrllibFetcher"]

logger = logging.getLogger(__name__)

Fetch = Callable[[str], Any]
"""Performs one GET of an API path and returns the decoded JSON (raises on failure)."""


class MoergoApiError(GloveboxError):
    """The MoErgo API could not be reached or answered with an error."""


class UrllibFetcher:
    """GET ``base_url + path`` and decode the JSON body (standard library only)."""

    def __init__(self, base_url: str, *, timeout: float = 10) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._timeout = timeout

    def __call__(self, path: str) -> Any:
        url = urllib.parse.urljoin(self._base_url, path.lstrip("/"))
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise MoergoApiError(f"GET {url} failed: {exc}") from exc


class MoergoClient:
    """Answers API reads from the moergo cache, fetching at most once per ``ttl``.

    ``ttl=None`` uses the cache's own default (``cache.domains.moergo.default_ttl``).
    Failed fetches are not cached, so the next call tries again.
    """

    def __init__(self, cache: CacheManager, fetch: Fetch, *, ttl: float | None = None) -> None:
        self._cache = cache
        self._store = best_effort(cache)  # a failing cache costs a miss, not the call
        self._fetch = fetch
        self._ttl = ttl

    @property
    def cache(self) -> CacheManager:
        return self._cache

    @staticmethod
    def _key(path: str) -> str:
        return f"GET:{path}"

    def get(self, path: str) -> Any:
        """The decoded answer for ``path``, from the cache when it is fresh."""
        return self._store.get_or_set(self._key(path), lambda: self._fetch(path), ttl=self._ttl)

    def get_layout(self, layout_id: str) -> Any:
        """A stored layout by its MoErgo id."""
        if not layout_id or "/" in layout_id:
            raise ValueError(f"invalid MoErgo layout id {layout_id!r}: a non-empty id without '/'")
        return self.get(f"layouts/v1/{urllib.parse.quote(layout_id)}/config")

    def invalidate(self, path: str) -> bool:
        """Forget the cached answer for ``path``; True if one was cached."""
        return self._cache.delete(self._key(path))  # its job is the cache: errors propagate
