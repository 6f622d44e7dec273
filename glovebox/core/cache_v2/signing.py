"""The key that authenticates what the local disk cache stores, and where it comes from.

diskcache unpickles what its directory holds, so whoever can write that directory (a CI
cache restored from a pull request, a copied home directory) could run code in the next
reader. Every pickled value the disk backend stores is therefore signed with HMAC-SHA256
(:class:`~glovebox.core.cache_v2.redis_codec.Signer`, the same signing the Redis backend
uses) under a key that never lives in the cache root:

1. ``GLOVEBOX_CACHE_SECRET`` when set (at least 16 characters): how CI, or several
   machines that share a cache directory, provide one;
2. otherwise ``<user state dir>/glovebox/cache.key`` (``platformdirs.user_state_dir``,
   ``$XDG_STATE_HOME`` on Linux): 32 random bytes created 0600 on first use. A key file
   that another user owns, or that group or others can write or read, is refused.

The key is read once per process (per variable value and path) and kept in memory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from pathlib import Path

import platformdirs

from glovebox.core.cache_v2.models import MIN_SECRET_LENGTH
from glovebox.core.cache_v2.redis_codec import Signer
from glovebox.errors import UnusableStorageError

__all__ = [
    "KEY_FILE_NAME",
    "SHARED_SECRET_ENV_VAR",
    "key_file",
    "local_signer",
]

# One secret for the local disk cache and the remote tier (docs/remote.md).
SHARED_SECRET_ENV_VAR = "GLOVEBOX_CACHE_SECRET"
KEY_FILE_NAME = "cache.key"
_KEY_BYTES = 32

_signers: dict[tuple[str | None, str], Signer] = {}
_lock = threading.Lock()


def key_file() -> Path:
    """Where the per-user key is kept when ``GLOVEBOX_CACHE_SECRET`` is not set."""
    return Path(platformdirs.user_state_dir("glovebox")) / KEY_FILE_NAME


def local_signer() -> Signer:
    """The signer of the local disk cache: the environment's secret, else the key file.

    Raises ``UnusableStorageError`` naming the variable or the file when neither can be
    used (a short secret, a key file that is not private or cannot be created).
    """
    secret = os.environ.get(SHARED_SECRET_ENV_VAR) or None
    path = key_file()
    memo = (secret, str(path))
    signer = _signers.get(memo)
    if signer is not None:
        return signer
    with _lock:
        signer = _signers.get(memo)
        if signer is None:
            signer = Signer(_from_env(secret) if secret is not None else _from_file(path))
            _signers[memo] = signer
    return signer


def _from_env(secret: str) -> bytes:
    if len(secret) < MIN_SECRET_LENGTH:
        raise UnusableStorageError(
            f"{SHARED_SECRET_ENV_VAR} is {len(secret)} characters long; it signs cached values and "
            f"must be a random string of at least {MIN_SECRET_LENGTH} characters"
        )
    return secret.encode()


def _from_file(path: Path) -> bytes:
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _key_error(path, exc) from exc
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        try:
            return _read_key(path)
        except OSError as exc:
            raise _key_error(path, exc) from exc
    except OSError as exc:
        raise _key_error(path, exc) from exc
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise _key_error(path, exc) from exc
    return key


def _read_key(path: Path) -> bytes:
    # A half-written key (a writer killed between create and write) is waited for briefly.
    for _ in range(50):
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            _check_private(path, info)
            key = handle.read()
        if len(key) >= _KEY_BYTES:
            return key
        threading.Event().wait(0.02)
    raise UnusableStorageError(
        f"the cache signing key {path} holds {len(key)} bytes, not {_KEY_BYTES}; delete it "
        f"to have a new one made (cached values signed with the old one become misses)"
    )


def _check_private(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise UnusableStorageError(
            f"the cache signing key {path} is owned by uid {info.st_uid}, not by the current "
            f"user (uid {os.geteuid()}); delete it or set {SHARED_SECRET_ENV_VAR}"
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UnusableStorageError(
            f"the cache signing key {path} is accessible by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); fix it with: chmod 600 {path}"
        )


def _key_error(path: Path, exc: OSError) -> UnusableStorageError:
    return UnusableStorageError(
        f"cannot use the cache signing key {path}: {exc.strerror or exc}; make its directory "
        f"writable or set {SHARED_SECRET_ENV_VAR} to a random string"
    )
