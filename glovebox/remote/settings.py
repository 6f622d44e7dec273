"""Settings of the remote tier (``cache.remote``): where the store is and what may be done.

Credentials are never part of these settings: they come from the standard AWS chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and
the shared credentials file), read when the store is opened and never written anywhere.
The signing secret is a credential too: it is held as a ``SecretStr`` and never printed.

This module is imported by the configuration models, so it stays light: no S3 client.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from glovebox.core.cache_v2 import MASK, mask_url, short_secret_problem

__all__ = [
    "SECRET_ENV_VAR",
    "RemoteMode",
    "RemoteSettingError",
    "RemoteSettings",
    "WriteErrors",
]

SECRET_ENV_VAR = "GLOVEBOX_CACHE_SECRET"


# S3 bucket naming rules (lower-case letters, digits, dots and hyphens, 3-63 characters);
# R2 and the self-hosted servers accept the same names.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class RemoteSettingError(ValueError):
    """A refused remote-tier setting; the message names what is accepted."""


class RemoteMode(StrEnum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"
    OFF = "off"


class WriteErrors(StrEnum):
    """What a failed publish does: a WARNING and the build goes on, or the command fails."""

    WARN = "warn"
    FAIL = "fail"


def _words(enum: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enum)


class RemoteSettings(BaseModel):
    """``cache.remote``: the S3-compatible store shared by machines (docs/remote.md).

    ``url``: ``s3://bucket`` or ``s3://bucket/prefix``; null: no remote tier.
    ``endpoint``: the server of a non-AWS store (``http://127.0.0.1:8333``, an R2
    account endpoint); null: AWS S3 itself.
    ``region``: the signing region (null: ``us-east-1``; R2 takes ``auto``).
    ``mode``: ``read-write``, ``read-only`` (never writes: untrusted builds) or ``off``.
    ``write_errors``: ``warn`` (a failed publish is a WARNING) or ``fail`` (an error).
    ``timeout``: seconds every request may take (connect, and each part of a transfer).
    ``secret``: HMAC-SHA256 key signing every object; prefer ``GLOVEBOX_CACHE_SECRET``.
    Without one, the Redis backend's secret (``cache.redis.secret``) is used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str | None = None
    endpoint: str | None = None
    region: str | None = None
    mode: RemoteMode = RemoteMode.READ_WRITE
    write_errors: WriteErrors = WriteErrors.WARN
    timeout: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False)
    secret: SecretStr | None = None

    @field_validator("url", "endpoint", "region", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        bucket, prefix = split_url(url)
        return f"s3://{bucket}" + (f"/{prefix}" if prefix else "")

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, endpoint: str | None) -> str | None:
        if endpoint is None:
            return None
        try:
            parts = urlsplit(endpoint)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteSettingError(
                "expected the server's URL, http://host[:port] or https://host[:port] "
                f"(e.g. http://127.0.0.1:8333), got {mask_url(endpoint)!r}"
            )
        if parts.password is not None:
            raise RemoteSettingError(
                f"the endpoint {mask_url(endpoint)!r} holds a password; credentials come from "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile, never the URL"
            )
        return endpoint.rstrip("/")

    @field_validator("region")
    @classmethod
    def _check_region(cls, region: str | None) -> str | None:
        if region is not None and not re.fullmatch(r"[a-z0-9-]{1,40}", region):
            raise RemoteSettingError(
                f"expected a region name such as us-east-1 or auto, got {region[:60]!r}"
            )
        return region

    @field_validator("mode", mode="before")
    @classmethod
    def _check_mode(cls, value: Any) -> RemoteMode:
        text = value.strip().lower().replace("_", "-") if isinstance(value, str) else None
        if isinstance(value, bool) and not value:
            text = "off"  # YAML reads a bare `off` as false
        try:
            return RemoteMode(text or "")
        except ValueError:
            raise RemoteSettingError(
                f"expected one of {_words(RemoteMode)}, got {_shown(value)}"
            ) from None

    @field_validator("write_errors", mode="before")
    @classmethod
    def _check_write_errors(cls, value: Any) -> WriteErrors:
        text = value.strip().lower() if isinstance(value, str) else None
        try:
            return WriteErrors(text or "")
        except ValueError:
            raise RemoteSettingError(
                f"expected one of {_words(WriteErrors)} (what a failed publish does), "
                f"got {_shown(value)}"
            ) from None

    @field_validator("timeout", mode="before")
    @classmethod
    def _check_timeout(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise RemoteSettingError(
                    f"expected a number of seconds greater than 0 and at most 3600, "
                    f"got {_shown(value)}"
                ) from None
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        problem = short_secret_problem(None if secret is None else secret.get_secret_value())
        if problem is not None:
            raise RemoteSettingError(problem)
        return secret

    @property
    def enabled(self) -> bool:
        """True when a store is named and the mode is not ``off``."""
        return self.url is not None and self.mode is not RemoteMode.OFF

    @property
    def bucket(self) -> str:
        return split_url(self.url or "")[0]

    @property
    def prefix(self) -> str:
        return split_url(self.url or "")[1]

    @property
    def masked_url(self) -> str | None:
        """The URL for display. An ``s3://`` URL holds no credentials; kept for symmetry."""
        return None if self.url is None else mask_url(self.url)

    def scrub(self, text: str) -> str:
        """``text`` with the signing secret and any AWS secret key replaced by ``***``."""
        import os

        hidden = [os.environ.get(name, "") for name in ("AWS_SECRET_ACCESS_KEY",)]
        hidden.append(os.environ.get("AWS_SESSION_TOKEN", ""))
        if self.secret is not None:
            hidden.append(self.secret.get_secret_value())
        for value in sorted({h for h in hidden if len(h) >= 4}, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text


def _shown(value: object) -> str:
    if isinstance(value, str):
        return repr(value[:60])
    return f"{value!r} (a {type(value).__name__})"


def split_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket[/prefix]``, or ``RemoteSettingError``."""
    accepted = "expected s3://bucket or s3://bucket/prefix (e.g. s3://zmk-cache/glovebox)"
    if not url.lower().startswith("s3://"):
        raise RemoteSettingError(f"{accepted}, got {mask_url(url)!r}")
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if "@" in bucket or ":" in bucket:
        raise RemoteSettingError(
            f"{accepted}; credentials come from the AWS chain, never the URL, got "
            f"{'s3://' + MASK!r}"
        )
    if not _BUCKET.fullmatch(bucket):
        raise RemoteSettingError(
            f"{accepted}; a bucket name is 3-63 lower-case letters, digits, '.' or '-', "
            f"got {bucket[:70]!r}"
        )
    segments = [segment for segment in prefix.split("/") if segment]
    for segment in segments:
        if not _PREFIX_SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise RemoteSettingError(
                f"{accepted}; prefix segments are letters, digits, '_', '.' or '-', "
                f"got {segment[:70]!r}"
            )
    return bucket, "/".join(segments)
