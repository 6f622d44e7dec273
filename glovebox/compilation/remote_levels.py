"""The compilation levels on the remote tier: which objects a build reads and publishes.

The remote tier (:mod:`glovebox.remote.tier`) stores signed blobs and trees under keys;
this module chooses the keys and the formats for the firmware flow (docs/remote.md):

``heads/<workspace key>``
    A small JSON blob ``{"commit", "expires_at", "published_at"}``: the ZMK commit the
    workspace ``<workspace key>`` (a repository and revision) resolved to when it was last
    fetched with west, and until when that answer is current (the workspace's TTL). It
    is the only object that is replaced: a later fetch of a moved branch publishes a new
    head. A machine without a workspace reads it to compute firmware keys.
``workspaces/<workspace key>/<commit>``
    The workspace tree (the cached entry's ``tree/``), as a zstd tar stream.
``firmware/<firmware key>``
    A JSON blob with the images of every board (base64) and the entry's metadata.

Every read is a miss on any problem (the tier logs and turns itself off on store-level
failures); nothing here raises for a remote problem except a ``RemoteWriteError`` when
``write_errors: fail`` asks for it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glovebox.remote.tier import RemoteTier

__all__ = ["RemoteFirmware", "RemoteHead", "RemoteLevels", "remote_levels"]

logger = logging.getLogger(__name__)

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class RemoteHead:
    """The commit a workspace key resolved to, as published, and until when it holds."""

    commit: str
    expires_at: str | None

    @property
    def expired(self) -> bool:
        if self.expires_at is None:
            return False
        try:
            return datetime.fromisoformat(self.expires_at) <= datetime.now(UTC)
        except ValueError:
            return True


@dataclass(frozen=True, slots=True)
class RemoteFirmware:
    """A firmware result read from the remote tier (checked against its key and boards)."""

    images: dict[str, bytes]
    meta: dict[str, Any]


class RemoteLevels:
    """The firmware flow's view of one :class:`RemoteTier`.

    ``scratch`` is a directory on the local cache's filesystem where downloads land
    before they are checked (the tier writes nothing at a destination before that).
    """

    def __init__(self, tier: RemoteTier, scratch: Path) -> None:
        self.tier = tier
        self.scratch = Path(scratch)

    @property
    def writable(self) -> bool:
        return self.tier.writable

    # Small JSON blobs ----------------------------------------------------------------------

    def _read_json(self, key: str) -> Any:
        try:
            self.scratch.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            logger.warning("remote cache: cannot use %s: %s; treated as a miss", self.scratch, exc)
            return None
        dest = self.scratch / f".fetch-{secrets.token_hex(6)}"
        try:
            if not self.tier.fetch_blob(key, dest):
                return None
            return json.loads(dest.read_bytes())
        except (OSError, ValueError) as exc:
            logger.warning("remote cache: %s is not readable (%s); treated as a miss", key, exc)
            return None
        finally:
            dest.unlink(missing_ok=True)

    def _write_json(self, key: str, document: Mapping[str, Any], *, replace: bool = False) -> bool:
        if not self.tier.writable:
            return False
        try:
            self.scratch.mkdir(parents=True, exist_ok=True)
            source = self.scratch / f".publish-{secrets.token_hex(6)}"
            source.write_bytes(json.dumps(dict(document), sort_keys=True).encode())
        except OSError as exc:
            logger.warning("remote cache: cannot stage %s for publishing: %s", key, exc)
            return False
        try:
            return self.tier.publish_blob(key, source, replace=replace)
        finally:
            source.unlink(missing_ok=True)

    # Heads ---------------------------------------------------------------------------------

    def head(self, workspace_key: str) -> RemoteHead | None:
        """The published, unexpired head of ``workspace_key``, or None."""
        document = self._read_json(f"heads/{workspace_key}")
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            return None
        commit, expires = document.get("commit"), document.get("expires_at")
        if not isinstance(commit, str) or not commit or not isinstance(expires, str | None):
            return None
        head = RemoteHead(commit, expires)
        return None if head.expired else head

    def publish_head(self, workspace_key: str, commit: str, expires_at: str | None) -> bool:
        """Say that ``workspace_key`` resolves to ``commit`` until ``expires_at`` (replaces)."""
        document = {
            "format": _FORMAT,
            "commit": commit,
            "expires_at": expires_at,
            "published_at": datetime.now(UTC).isoformat(),
        }
        return self._write_json(f"heads/{workspace_key}", document, replace=True)

    # Workspaces ----------------------------------------------------------------------------

    def fetch_workspace(self, workspace_key: str, commit: str, dest: Path) -> bool:
        """Extract the workspace tree of ``workspace_key`` at ``commit`` into ``dest``."""
        return self.tier.fetch_tree(f"workspaces/{workspace_key}/{commit}", dest)

    def publish_workspace(self, workspace_key: str, commit: str, tree: Path) -> bool:
        return self.tier.publish_tree(f"workspaces/{workspace_key}/{commit}", tree)

    # Firmware ------------------------------------------------------------------------------

    def fetch_firmware(self, key: str, boards: Sequence[str]) -> RemoteFirmware | None:
        """The images of firmware ``key`` for ``boards``, or None (a miss of any kind)."""
        document = self._read_json(f"firmware/{key}")
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            return None
        encoded, meta = document.get("images"), document.get("meta")
        if document.get("key") != key or not isinstance(encoded, dict):
            logger.warning("remote cache: firmware/%s describes another entry; a miss", key)
            return None
        try:
            images = {board: base64.b64decode(encoded[board], validate=True) for board in boards}
        except (KeyError, TypeError, ValueError, binascii.Error):
            logger.warning("remote cache: firmware/%s lacks a board's image; a miss", key)
            return None
        return RemoteFirmware(images, meta if isinstance(meta, dict) else {})

    def publish_firmware(
        self, key: str, images: Mapping[str, bytes], meta: Mapping[str, Any]
    ) -> bool:
        document = {
            "format": _FORMAT,
            "key": key,
            "images": {board: base64.b64encode(data).decode() for board, data in images.items()},
            "meta": dict(meta),
        }
        return self._write_json(f"firmware/{key}", document)


def remote_levels(tier: RemoteTier | None, domain: Path) -> RemoteLevels | None:
    """The levels over ``tier`` for the compilation domain directory ``domain`` (downloads
    are staged in ``firmware/.remote``, which clearing the domain removes); None without
    a tier."""
    if tier is None:
        return None
    return RemoteLevels(tier, Path(domain) / "firmware" / ".remote")
