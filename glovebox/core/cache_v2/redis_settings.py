"""Settings of the Redis backend, and the masking that keeps its credentials out of output.

A URL may carry a password (``redis://user:password@host``, or ``?password=`` in a
``unix://`` URL) and the signing secret is a credential too: neither may appear in a
message, a log line or a ``repr``. :func:`mask_url` and :meth:`RedisSettings.scrub` are
the two places that guarantee it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from glovebox.core.cache_v2.models import MIN_SECRET_LENGTH, short_secret_problem
from glovebox.errors import ConfigError

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "REDIS_SCHEMES",
    "SECRET_ENV_VAR",
    "URL_ENV_VAR",
    "RedisSettingError",
    "RedisSettings",
    "mask_url",
    "settings_from_environment",
]

MASK = "***"
REDIS_SCHEMES = ("redis", "rediss", "unix")
_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SECRET_QUERY_NAMES = frozenset({"password", "pass", "passwd"})


class RedisSettingError(ValueError):
    """A refused Redis setting; the message never contains a password or the secret."""


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (user name, host and path kept)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:{MASK}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(name, MASK if name.lower() in _SECRET_QUERY_NAMES else v) for name, v in pairs],
                safe="*",
            )
        # Rebuilt by hand: urlunsplit drops the "//" of "unix:///path" (empty host).
        return (
            f"{parts.scheme}://{netloc}{parts.path}"
            + (f"?{query}" if query else "")
            + (f"#{parts.fragment}" if parts.fragment else "")
        )
    except ValueError:
        # Unparseable: show the scheme only, never the rest (it may hold a password).
        return url.partition(":")[0] + ":" + MASK


def _url_passwords(url: str) -> Iterator[str]:
    try:
        parts = urlsplit(url)
        if parts.password:
            yield parts.password
            yield unquote(parts.password)
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name.lower() in _SECRET_QUERY_NAMES and value:
                yield value
    except ValueError:
        return


class RedisSettings(BaseModel):
    """Where the shared server is, how long to wait for it, and how values are signed.

    ``url``: ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS) or
    ``unix:///path/to/redis.sock[?db=N&password=...]``.
    ``key_prefix``: first part of every key (``<prefix>:<tag>:<key>``); machines sharing
    a cache use the same prefix, unrelated installations on one server use different ones.
    ``connect_timeout``/``socket_timeout``: seconds; every call is bounded by them.
    ``secret``: HMAC-SHA256 key signing every value; pickled values require one.
    ``retry_interval``: after a failure, seconds during which calls fail fast without
    connecting (the circuit breaker's back-off).
    ``lock_timeout``: seconds a ``get_or_set`` lock lives; a crashed holder blocks the
    others at most this long.
    """

    # Error messages never echo the input: a rejected URL may hold a password.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str = "redis://localhost:6379/0"
    key_prefix: str = "glovebox"
    connect_timeout: float = Field(default=2.0, gt=0, le=3600, allow_inf_nan=False)
    socket_timeout: float = Field(default=2.0, gt=0, le=3600, allow_inf_nan=False)
    secret: SecretStr | None = None
    retry_interval: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    lock_timeout: float = Field(default=300.0, gt=0, le=86400, allow_inf_nan=False)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme not in REDIS_SCHEMES:
            raise RedisSettingError(
                "expected a URL starting with "
                + ", ".join(f"{name}://" for name in REDIS_SCHEMES)
                + f", got {mask_url(url)!r}"
            )
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError as exc:
            raise RedisSettingError(f"malformed URL {mask_url(url)!r}: {exc}") from None
        if scheme == "unix" and not parts.path:
            raise RedisSettingError(
                f"URL {mask_url(url)!r} names no socket path (unix:///path/to/redis.sock)"
            )
        if scheme != "unix" and not parts.hostname:
            raise RedisSettingError(f"URL {mask_url(url)!r} names no host")
        return url

    @field_validator("key_prefix")
    @classmethod
    def _check_prefix(cls, prefix: str) -> str:
        if not _PREFIX_PATTERN.fullmatch(prefix):
            raise RedisSettingError(
                f"expected a key prefix of 1-64 letters, digits, '_', '.' or '-', "
                f"got {prefix[:80]!r}"
            )
        return prefix

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        problem = short_secret_problem(None if secret is None else secret.get_secret_value())
        if problem is not None:
            raise RedisSettingError(problem)
        return secret

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def scrub(self, text: str) -> str:
        """``text`` with the URL's password and the signing secret replaced by ``***``."""
        hidden = list(_url_passwords(self.url))
        if self.secret is not None:
            hidden.append(self.secret.get_secret_value())
        for value in sorted(set(hidden), key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "url" else value)


URL_ENV_VAR = "GLOVEBOX_CACHE_REDIS_URL"
SECRET_ENV_VAR = "GLOVEBOX_CACHE_REDIS_SECRET"


def settings_from_environment(environ: Mapping[str, str] | None = None) -> RedisSettings:
    """Settings from ``GLOVEBOX_CACHE_REDIS_URL``/``_SECRET`` (unset: the defaults).

    Used when a cache is switched to Redis by the environment alone (no configuration
    object); raises ``ConfigError`` naming the variable if a value is refused.
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for field, variable in (("url", URL_ENV_VAR), ("secret", SECRET_ENV_VAR)):
        value = env.get(variable, "").strip()
        if value:
            values[field] = value
    try:
        return RedisSettings.model_validate(values)
    except ValueError as exc:
        reasons = "; ".join(
            f"{URL_ENV_VAR if error['loc'] == ('url',) else SECRET_ENV_VAR}: {error['msg']}"
            for error in getattr(exc, "errors", list)()
        )
        raise ConfigError(reasons or "invalid Redis settings in the environment") from None
