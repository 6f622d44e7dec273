"""A fresh bucket on the session's SeaweedFS server per test, and tiers pointed at it.

The server is the plugin's ``seaweedfs_server`` (real S3 API over loopback). Credentials
reach the client the way they reach it for users: through ``AWS_*`` variables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import obstore
import pytest
from obstore.store import S3Store

from glovebox.remote.settings import RemoteSettings
from glovebox.remote.tier import RemoteTier
from glovebox.testing.seaweedfs_server import ACCESS_KEY, SECRET_KEY, SeaweedServer

__all__ = ["REMOTE_SECRET", "RemoteBucket", "admin_store"]

REMOTE_SECRET = b"tests-remote-signing-secret-42"


def admin_store(endpoint: str, bucket: str) -> S3Store:
    """A raw client with the administrator's keys: how tests look behind the tier's back."""
    return S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region="us-east-1",
        client_options={"allow_http": True, "timeout": "30s"},
    )


@dataclass
class RemoteBucket:
    server: SeaweedServer
    name: str

    @property
    def url(self) -> str:
        return f"s3://{self.name}/ci"

    def settings(self, **overrides: object) -> RemoteSettings:
        values: dict[str, object] = {
            "url": self.url,
            "endpoint": self.server.endpoint,
            "region": "us-east-1",
            "timeout": 5,
        }
        values.update(overrides)
        return RemoteSettings.model_validate(values)

    def tier(self, secret: bytes | None = REMOTE_SECRET, **overrides: object) -> RemoteTier:
        return RemoteTier(self.settings(**overrides), secret)

    def raw(self) -> S3Store:
        return admin_store(self.server.endpoint, self.name)

    def listing(self) -> list[tuple[str, int, str | None]]:
        """Every object in the bucket (path, size, etag), sorted."""
        found = [
            (meta["path"], meta["size"], meta["e_tag"])
            for batch in obstore.list(self.raw())
            for meta in batch
        ]
        return sorted(found)


@pytest.fixture
def aws_keys(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """Set the AWS credentials for the test (administrator keys unless told otherwise)."""

    def use(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    use()
    return use


@pytest.fixture
def remote_bucket(
    seaweedfs_server: SeaweedServer, aws_keys: Callable[[str, str], None]
) -> RemoteBucket:
    name = "t-" + uuid.uuid4().hex[:16]
    seaweedfs_server.create_bucket(name)
    return RemoteBucket(seaweedfs_server, name)
