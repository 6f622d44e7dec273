"""How a remote object is laid out, signed and checked.

Every object is its payload followed by a fixed-size trailer::

    payload                      the blob, or the tree as a zstd-compressed tar stream
    b"GBRO1"                     trailer marker
    kind                         b"b" (blob) or b"t" (tree)
    20 ASCII digits              payload length in bytes
    32 bytes                     SHA-256 of the payload
    32 bytes                     HMAC-SHA256(secret, context, name, kind, length, SHA-256)

A trailer rather than a header or object metadata: the payload is streamed while it is
produced (a tree is archived, compressed and uploaded at once), so its digest is known
only at the end. The signature binds the digest to the object's name, so an object copied
under another name, or a payload swapped under a valid trailer, is refused. Readers check
the length, the digest and the signature before anything is extracted or renamed into
place.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["TRAILER_LENGTH", "IntegrityError", "Sealer", "check_trailer"]

_MAGIC = b"GBRO1"
_CONTEXT = b"glovebox-remote-object-v1\0"
TRAILER_LENGTH = len(_MAGIC) + 1 + 20 + 32 + 32  # 90
KINDS = (b"b", b"t")


class IntegrityError(Exception):
    """An object that must not be used: foreign, truncated, altered or signed for another name."""


def _signature(secret: bytes, name: str, kind: bytes, length: int, digest: bytes) -> bytes:
    message = _CONTEXT + name.encode() + b"\0" + kind + b"%020d" % length + digest
    return hmac.new(secret, message, hashlib.sha256).digest()


class Sealer:
    """Hashes a payload as it passes and produces the signed trailer at the end."""

    def __init__(self, secret: bytes, name: str, kind: bytes) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self._secret = secret
        self._name = name
        self._kind = kind
        self._hash = hashlib.sha256()
        self._length = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._hash.update(chunk)
        self._length += len(chunk)

    def trailer(self) -> bytes:
        digest = self._hash.digest()
        signature = _signature(self._secret, self._name, self._kind, self._length, digest)
        return _MAGIC + self._kind + b"%020d" % self._length + digest + signature


def check_trailer(
    secret: bytes, name: str, kind: bytes, trailer: bytes, *, length: int, digest: bytes
) -> None:
    """Raise ``IntegrityError`` unless ``trailer`` vouches for a payload of ``length``
    bytes hashing to ``digest``, stored under ``name`` as ``kind``."""
    if len(trailer) != TRAILER_LENGTH or not trailer.startswith(_MAGIC):
        raise IntegrityError("not a Glovebox object (no trailer)")
    at = len(_MAGIC)
    if trailer[at : at + 1] != kind:
        raise IntegrityError(f"wrong kind {trailer[at : at + 1]!r}, expected {kind!r}")
    try:
        stated = int(trailer[at + 1 : at + 21])
    except ValueError:
        raise IntegrityError("damaged trailer") from None
    if stated != length:
        raise IntegrityError(f"payload is {length} bytes, the trailer says {stated}")
    if not hmac.compare_digest(trailer[at + 21 : at + 53], digest):
        raise IntegrityError("SHA-256 mismatch: the payload was altered or truncated")
    expected = _signature(secret, name, kind, length, digest)
    if not hmac.compare_digest(trailer[at + 53 :], expected):
        raise IntegrityError("bad signature: not signed with this secret for this name")
