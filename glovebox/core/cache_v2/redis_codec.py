"""How the Redis backend lays out a stored value, signs it, and checks it before use.

Every value is one Redis string::

    offset  0  b"GB1"                    format marker
            3  b"p" | b"j"               payload: pickle or JSON
            4  20 ASCII digits           store time, microseconds since the epoch
           24  20 ASCII digits           deadline, microseconds since the epoch (0: none)
           44  32 bytes                  HMAC-SHA256(secret, redis key + format + payload)
           76  payload

The signature binds the payload to its key, so a value cannot be replayed under another
key either. Times are outside the signature: ``touch`` rewrites the deadline in place
(a Lua script, one round trip) and a forged time can only make an entry look older or
expired, which anyone able to write to the server could achieve by deleting it.

A pickled payload is unpickled only after its signature checked out; without a secret
the codec refuses to write pickles and never reads one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from dataclasses import dataclass
from typing import Any

from glovebox.core.cache_v2.cache_manager import MISSING

__all__ = [
    "DEADLINE_END",
    "DELETE_SCRIPT",
    "HEADER_LENGTH",
    "RELEASE_SCRIPT",
    "TOUCH_SCRIPT",
    "InvalidValueError",
    "Signer",
    "Times",
    "ValueCodec",
    "deadline_field",
    "is_live",
    "read_times",
]

MAGIC = b"GB1"
PICKLE = b"p"
JSON = b"j"
_TIME_DIGITS = 20
STORED_AT = 4
DEADLINE_AT = STORED_AT + _TIME_DIGITS  # 24
DEADLINE_END = DEADLINE_AT + _TIME_DIGITS  # 44
SIGNATURE_AT = DEADLINE_END
HEADER_LENGTH = SIGNATURE_AT + 32  # 76
_UNSIGNED = bytes(32)


class InvalidValueError(Exception):
    """A stored value that must not be used (unsigned, forged, truncated or foreign)."""


def deadline_field(deadline_us: int) -> bytes:
    """The 20-digit deadline field (``0``: never expires)."""
    return b"%020d" % deadline_us


@dataclass(frozen=True, slots=True)
class Times:
    stored_us: int
    deadline_us: int  # 0: never expires


def read_times(head: bytes) -> Times | None:
    """Store time and deadline from the first ``DEADLINE_END`` bytes, or None if foreign."""
    if len(head) < DEADLINE_END or head[:3] != MAGIC:
        return None
    try:
        return Times(int(head[STORED_AT:DEADLINE_AT]), int(head[DEADLINE_AT:DEADLINE_END]))
    except ValueError:
        return None


def is_live(times: Times, now_us: int) -> bool:
    return times.deadline_us == 0 or times.deadline_us > now_us


_BLOCK = 64  # SHA-256's block size
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class Signer:
    """HMAC-SHA256 (RFC 2104) with the secret's inner and outer hash states prepared once.

    Signing copies two prepared ``hashlib`` states, which costs far less than building
    or copying an :class:`hmac.HMAC` object per value; the result is the same digest.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        if len(secret) > _BLOCK:
            secret = hashlib.sha256(secret).digest()
        block = secret.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_INNER_PAD))
        self._outer = hashlib.sha256(block.translate(_OUTER_PAD))

    def sign(self, name: bytes, fmt: bytes, payload: bytes | memoryview) -> bytes:
        inner = self._inner.copy()
        inner.update(name)
        inner.update(fmt)
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class ValueCodec:
    """Turns values into signed Redis strings and back. Thread-safe (no mutable state)."""

    def __init__(self, serializer: str, secret: bytes | None) -> None:
        if serializer not in ("pickle", "json"):
            raise ValueError(f"serializer must be 'pickle' or 'json', got {serializer!r}")
        if serializer == "pickle" and secret is None:
            raise ValueError("pickled values need a signing secret")
        self._format = PICKLE if serializer == "pickle" else JSON
        self._signer = None if secret is None else Signer(secret)

    @property
    def signs(self) -> bool:
        return self._signer is not None

    def encode(self, name: bytes, value: Any, stored_us: int, deadline_us: int) -> bytes:
        """The stored form of ``value`` under the Redis key ``name``: header, then payload.

        Raises whatever the serializer raises for a value it cannot represent.
        """
        fmt = self._format
        if fmt is PICKLE:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        else:
            payload = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        signature = _UNSIGNED if self._signer is None else self._signer.sign(name, fmt, payload)
        return b"%b%b%020d%020d%b%b" % (MAGIC, fmt, stored_us, deadline_us, signature, payload)

    def check(self, name: bytes, blob: bytes, now_us: int) -> memoryview | None:
        """The payload of a value that may be trusted; None if its deadline has passed.

        Reads the header and verifies the signature; never deserializes anything.
        Raises :class:`InvalidValueError` for a value that is foreign, damaged, unsigned
        where a signature is required, or signed for other content or another key.
        """
        if len(blob) < HEADER_LENGTH or not blob.startswith(MAGIC):
            raise InvalidValueError("not a Glovebox value (no header)")
        try:
            deadline = int(blob[DEADLINE_AT:DEADLINE_END])
        except ValueError:
            raise InvalidValueError("damaged header") from None
        if deadline and deadline <= now_us:
            return None
        fmt = blob[3:4]
        payload = memoryview(blob)[HEADER_LENGTH:]
        signer = self._signer
        if signer is not None:
            if not hmac.compare_digest(
                blob[SIGNATURE_AT:HEADER_LENGTH], signer.sign(name, fmt, payload)
            ):
                raise InvalidValueError("bad or missing signature")
        elif fmt != JSON:
            raise InvalidValueError("a pickled value, and no secret to verify it with")
        if fmt not in (PICKLE, JSON):
            raise InvalidValueError(f"unknown payload format {fmt!r}")
        return payload

    def present(self, name: bytes, blob: bytes, now_us: int) -> bool:
        """True if ``decode`` would return a value rather than expire or reject it.

        A signed payload is known good without being loaded: only this codec, holding
        the secret, produced it from a value it had serialized. An unsigned (JSON)
        payload is parsed, which is safe, since anyone could have written it.
        """
        payload = self.check(name, blob, now_us)
        if payload is None:
            return False
        if self._signer is None:
            self._load(JSON, payload)
        return True

    def decode(self, name: bytes, blob: bytes, now_us: int) -> Any:
        """The value in ``blob``; ``MISSING`` if its deadline has passed.

        Raises :class:`InvalidValueError` for anything that is not a value this codec may
        trust; a pickle is never loaded before its signature is verified.
        """
        payload = self.check(name, blob, now_us)
        if payload is None:
            return MISSING
        return self._load(blob[3:4], payload)

    @staticmethod
    def _load(fmt: bytes, payload: memoryview) -> Any:
        try:
            if fmt == PICKLE:
                return pickle.loads(payload)
            return json.loads(bytes(payload))
        except Exception as exc:
            raise InvalidValueError(f"payload cannot be decoded: {type(exc).__name__}") from None


# Lua scripts; each runs atomically on the server in one round trip. Offsets are 1-based.
# A key is live when its header is ours and its deadline (0: none) is after ARGV[1].
_LIVE_FUNCTION = f"""
local function live(key, now)
  local head = redis.call('GETRANGE', key, 0, {DEADLINE_END - 1})
  if string.len(head) < {DEADLINE_END} or string.sub(head, 1, 3) ~= '{MAGIC.decode()}' then
    return nil
  end
  local deadline = tonumber(string.sub(head, {DEADLINE_AT + 1}, {DEADLINE_END}))
  if deadline == nil then return nil end
  return deadline == 0 or deadline > now
end
"""

# KEYS: entries; ARGV[1]: now (us); ARGV[2]: "live" or "expired". Deletes the entries
# in that state and returns how many. Foreign values (no header) are deleted uncounted
# in "live" mode: they can never be read, and the caller asked for the key to go.
DELETE_SCRIPT = (
    _LIVE_FUNCTION
    + """
local now = tonumber(ARGV[1])
local removed = 0
for _, key in ipairs(KEYS) do
  local state = live(key, now)
  if ARGV[2] == 'live' then
    if state then removed = removed + redis.call('DEL', key)
    elseif state == nil then redis.call('DEL', key) end
  elseif state == false then
    removed = removed + redis.call('DEL', key)
  end
end
return removed
"""
)

# KEYS[1]: entry; ARGV[1]: now (us); ARGV[2]: new deadline field; ARGV[3]: expiry in ms
# ("0": none). Returns 1 if the live entry was re-armed, else 0.
TOUCH_SCRIPT = (
    _LIVE_FUNCTION
    + f"""
if not live(KEYS[1], tonumber(ARGV[1])) then return 0 end
redis.call('SETRANGE', KEYS[1], {DEADLINE_AT}, ARGV[2])
if ARGV[3] == '0' then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""
)

# KEYS[1]: lock; ARGV[1]: the holder's token. Deletes the lock only if still held by it.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
