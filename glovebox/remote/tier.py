"""The remote tier: blobs and directory trees shared through S3-compatible object storage.

What a caller (the firmware flow, the workspace cache) gets:

- ``fetch_blob(key, dest)`` / ``fetch_tree(key, dest)``: True when the object was found,
  verified and put in place; False for a miss of any kind (absent, refused by the
  integrity check, store unusable). Nothing is written at ``dest`` unless it is True.
- ``publish_blob(key, path)`` / ``publish_tree(key, src)``: True when the object is in
  the store afterwards (published now, or already there). ``read-only`` and ``off``
  never write. A failure is a WARNING (``write_errors: warn``) or a
  :class:`RemoteWriteError` (``write_errors: fail``).
- ``status()``, ``list()``, ``prune(older_than)``: what ``glovebox cache remote`` shows.

Guarantees:

- Atomic publish. An S3 PUT or completed multipart upload becomes visible whole or not at
  all, so a reader never sees a partial object (an interrupted multipart upload leaves
  only invisible parts, removed by the bucket's lifecycle rule, docs/remote.md). Objects
  are created with ``If-None-Match: *``: of two machines publishing one key, the first
  to finish wins and the other is told the object exists, which counts as published.
  A server that ignores the header lets the later upload replace the earlier one; both
  are complete and signed, so readers still see one complete object.
- Integrity. Every object ends with its SHA-256 and an HMAC under the shared secret
  (:mod:`glovebox.remote.envelope`); a download is checked in full before anything is
  extracted or renamed into place. A failed check is a miss and a WARNING.
- Bounded failures. Every request has a timeout (``cache.remote.timeout``: connect and
  each read) and at most one retry. The first store-level failure (unreachable,
  credentials refused, missing bucket, no secret) logs ONE WARNING and turns the tier off
  for the rest of the process: later calls are immediate misses.

Credentials come from the AWS chain only (environment, then the shared credentials file
and profile, then the client's own chain: web identity, container and instance roles);
they are never stored or printed.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glovebox.errors import CacheError
from glovebox.remote.envelope import TRAILER_LENGTH, IntegrityError, Sealer, check_trailer
from glovebox.remote.settings import RemoteMode, RemoteSettings, WriteErrors

if TYPE_CHECKING:
    from obstore.store import S3Store

__all__ = [
    "BLOB",
    "TREE",
    "PruneResult",
    "RemoteError",
    "RemoteObject",
    "RemoteStatus",
    "RemoteTier",
    "RemoteWriteError",
    "remote_tier_from_config",
]

logger = logging.getLogger(__name__)

BLOB = b"b"
TREE = b"t"
TREE_SUFFIX = ".tar.zst"
_KEY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_MAX_KEY = 512
_PART_SIZE = 8 << 20
_DOWNLOAD_CHUNK = 1 << 20


class RemoteError(CacheError):
    """A remote-tier command that cannot be done (store unusable, mode forbids it)."""


class RemoteWriteError(RemoteError):
    """A failed publish, raised only with ``write_errors: fail``."""


@dataclass(frozen=True, slots=True)
class RemoteObject:
    key: str  # relative to the prefix, with its suffix (".tar.zst" for trees)
    size: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    url: str | None
    endpoint: str | None
    mode: str
    reachable: bool
    problem: str | None
    objects: int | None
    bytes: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "endpoint": self.endpoint,
            "mode": self.mode,
            "reachable": self.reachable,
            "problem": self.problem,
            "objects": self.objects,
            "bytes": self.bytes,
        }


@dataclass(frozen=True, slots=True)
class PruneResult:
    removed: int
    removed_bytes: int
    kept: int


_DENIED = (
    "access denied: check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "or AWS_PROFILE) and their rights on the bucket"
)
_DENIED_WORDS = (
    "403 Forbidden",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "401 Unauthorized",
)


class _StoreProblem(Exception):
    """The store cannot be used at all (not one object's problem)."""


class _TransferError(Exception):
    """A failure of the store while a body was streaming (not a local file error)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _LocalReadError(Exception):
    """Reading the local file or tree being published failed."""


def _guarded(stream: Any) -> Iterator[Any]:
    """``stream``'s items; a failure while fetching the next one is a ``_TransferError``."""
    iterator = iter(stream)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _TransferError(exc) from exc
        yield item


def _first_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def check_key(key: str) -> str:
    """``key`` if it is a usable object key (``a/b-1.c``), else ``ValueError``."""
    if (
        not isinstance(key, str)
        or len(key) > _MAX_KEY
        or not _KEY.fullmatch(key)
        or any(part in (".", "..") for part in key.split("/"))
    ):
        raise ValueError(
            f"remote key must be 1-{_MAX_KEY} characters of letters, digits, '_', '.', '-' "
            f"in '/'-separated segments (no '.' or '..'), got {str(key)[:80]!r}"
        )
    return key


def _profile_credentials() -> dict[str, str]:
    """Keys from the shared credentials file for ``AWS_PROFILE`` (else ``default``).

    Used only when the environment holds no access key: the environment comes first in
    the AWS chain. Nothing is returned for a profile the file does not have.
    """
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return {}
    path = Path(
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials"
    )
    profile = os.environ.get("AWS_PROFILE") or "default"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return {}
    if not parser.has_section(profile):
        return {}
    section = parser[profile]
    found = {
        "access_key_id": section.get("aws_access_key_id", ""),
        "secret_access_key": section.get("aws_secret_access_key", ""),
        "token": section.get("aws_session_token", ""),
    }
    return {name: value for name, value in found.items() if value}


class RemoteTier:
    """One S3-compatible store under ``settings.url``; see the module docstring.

    ``secret`` signs and verifies objects; without one the tier refuses to work (one
    WARNING) rather than share unsigned objects. Thread-safe: the client is shared,
    warnings and the failure state are guarded by a lock.
    """

    def __init__(self, settings: RemoteSettings, secret: bytes | None) -> None:
        self.settings = settings
        self._secret = secret
        self._store: S3Store | None = None
        self._lock = threading.Lock()
        self._down: str | None = None
        self._writes_down: str | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def mode(self) -> RemoteMode:
        return self.settings.mode if self.settings.url is not None else RemoteMode.OFF

    @property
    def writable(self) -> bool:
        return self.mode is RemoteMode.READ_WRITE

    def _usable(self) -> bool:
        if self.mode is RemoteMode.OFF:
            return False
        if self._secret is None:
            self._fail(
                "no signing secret: set GLOVEBOX_CACHE_SECRET (or cache.remote.secret) to "
                "the same random string on every machine"
            )
        return self._down is None

    def _fail(self, reason: str) -> None:
        """Turn the tier off for this process; the first reason is logged as a WARNING."""
        with self._lock:
            if self._down is not None:
                return
            self._down = reason
        logger.warning(
            "remote cache %s unusable, continuing without it: %s",
            self.settings.masked_url,
            self.settings.scrub(reason),
        )

    def _write_failed(self, key: str, reason: str) -> bool:
        text = self.settings.scrub(reason)
        if self.settings.write_errors is WriteErrors.FAIL:
            raise RemoteWriteError(
                f"remote cache {self.settings.masked_url}: cannot publish {key!r}: {text}"
            )
        with self._lock:
            first = self._writes_down is None
            self._writes_down = self._writes_down or text
        if first:
            logger.warning(
                "remote cache %s: cannot publish %r, not publishing for the rest of this run: %s",
                self.settings.masked_url,
                key,
                text,
            )
        return False

    # -- the client ---------------------------------------------------------------------

    def _client(self) -> S3Store:
        if self._store is not None:
            return self._store
        from obstore.store import S3Store

        settings = self.settings
        timeout = f"{settings.timeout:g}s"
        config: dict[str, Any] = {
            "region": settings.region or os.environ.get("AWS_REGION") or "us-east-1",
        }
        config.update(_profile_credentials())
        if settings.endpoint is not None:
            config["endpoint"] = settings.endpoint
        store = S3Store(
            settings.bucket,
            client_options={
                "allow_http": (settings.endpoint or "").startswith("http://"),
                "connect_timeout": timeout,
                "read_timeout": timeout,
                "timeout": "3600s",  # a whole transfer; stalls are caught by read_timeout
            },
            retry_config={
                "max_retries": 1,
                "retry_timeout": timedelta(seconds=settings.timeout),
            },
            **config,
        )
        self._store = store
        return store

    def _name(self, key: str, kind: bytes) -> str:
        check_key(key)
        name = key + (TREE_SUFFIX if kind == TREE else "")
        prefix = self.settings.prefix
        return f"{prefix}/{name}" if prefix else name

    def _classify(self, exc: Exception) -> Exception:
        """``exc`` as ``_StoreProblem`` when the store as a whole is unusable."""
        from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

        text = str(exc)
        if isinstance(exc, FileNotFoundError):  # how obstore reports a missing object
            if "NoSuchBucket" in text:
                return _StoreProblem(f"bucket {self.settings.bucket!r} does not exist")
            return exc
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
            return _StoreProblem(_DENIED)
        if "NoSuchBucket" in text:
            return _StoreProblem(f"bucket {self.settings.bucket!r} does not exist")
        if any(word in text for word in _DENIED_WORDS):  # as some list errors report it
            return _StoreProblem(_DENIED)
        return _StoreProblem(f"unreachable: {_first_line(text)}")

    # -- reading ------------------------------------------------------------------------

    def _download(self, name: str, kind: bytes, partial: Path) -> int | None:
        """Download ``name`` into ``partial``, verified; the payload length, or None.

        On a miss, a refused object or a store problem, ``partial`` is removed and None
        returned (a store problem also turns the tier off).
        """
        import hashlib

        import obstore

        assert self._secret is not None
        try:
            result = obstore.get(self._client(), name)
        except FileNotFoundError as exc:  # a miss, or no bucket
            problem = self._classify(exc)
            if isinstance(problem, _StoreProblem):
                self._fail(str(problem))
            return None
        except Exception as exc:
            self._fail(str(self._classify(exc)))
            return None
        try:
            size = int(result.meta["size"])
            length = size - TRAILER_LENGTH
            if length < 0:
                raise IntegrityError(f"{size} bytes, shorter than a trailer")
            digest = hashlib.sha256()
            tail = bytearray()
            position = 0
            with open(partial, "xb") as out:
                for chunk in _guarded(result.stream(min_chunk_size=_DOWNLOAD_CHUNK)):
                    view = memoryview(chunk)
                    take = max(0, min(len(view), length - position))
                    if take:
                        digest.update(view[:take])
                        out.write(view[:take])
                    tail += view[take:]
                    position += len(view)
            if position != size:
                raise IntegrityError(f"received {position} of {size} bytes")
            check_trailer(
                self._secret, name, kind, bytes(tail), length=length, digest=digest.digest()
            )
            return length
        except IntegrityError as exc:
            partial.unlink(missing_ok=True)
            logger.warning(
                "remote cache %s: refused %s (%s); treated as a miss",
                self.settings.masked_url,
                name,
                exc,
            )
            return None
        except _TransferError as exc:
            partial.unlink(missing_ok=True)
            self._fail(str(self._classify(exc.cause)))
            return None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def fetch_blob(self, key: str, dest: Path) -> bool:
        """Put the blob ``key`` at ``dest`` (replacing it atomically); False on a miss."""
        if not self._usable():
            return False
        name = self._name(key, BLOB)
        partial = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.remote")
        try:
            if self._download(name, BLOB, partial) is None:
                return False
            os.replace(partial, dest)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            logger.warning("remote cache: cannot write %s: %s; treated as a miss", dest, exc)
            return False
        logger.debug("remote cache hit: %s", name)
        return True

    def fetch_tree(self, key: str, dest: Path) -> bool:
        """Extract the tree ``key`` into ``dest`` (which must not exist); False on a miss.

        The archive is downloaded beside ``dest``, verified, extracted into a hidden
        sibling directory and renamed to ``dest``: ``dest`` appears complete or not at all.
        """
        import tarfile

        import zstandard

        from glovebox.remote.tree_stream import extract_tree

        if not self._usable():
            return False
        if dest.exists() or dest.is_symlink():
            raise FileExistsError(f"{dest} already exists; fetch_tree creates it")
        name = self._name(key, TREE)
        token = secrets.token_hex(4)
        partial = dest.with_name(f".{dest.name}.{token}.remote.tar.zst")
        staging = dest.with_name(f".{dest.name}.{token}.remote")
        try:
            length = self._download(name, TREE, partial)
            if length is None:
                return False
            staging.mkdir()
            with open(partial, "rb") as payload:
                extract_tree(payload, length, staging)
            os.rename(staging, dest)
        except (tarfile.TarError, zstandard.ZstdError) as exc:
            logger.warning(
                "remote cache %s: refused %s (%s); treated as a miss",
                self.settings.masked_url,
                name,
                _first_line(str(exc)),
            )
            return False
        except OSError as exc:
            logger.warning("remote cache: cannot extract into %s: %s; a miss", dest, exc)
            return False
        finally:
            partial.unlink(missing_ok=True)
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        logger.debug("remote cache hit: %s", name)
        return True

    # -- writing ------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        import obstore

        try:
            obstore.head(self._client(), name)
            return True
        except FileNotFoundError as exc:  # absent, or no bucket
            problem = self._classify(exc)
            if isinstance(problem, _StoreProblem):
                raise problem from None
            return False

    def _publish(
        self, key: str, kind: bytes, chunks: Iterator[bytes], *, replace: bool = False
    ) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        if not self.writable or not self._usable():
            return False
        if self._writes_down is not None:
            return False
        assert self._secret is not None
        name = self._name(key, kind)
        sealer = Sealer(self._secret, name, kind)

        def sealed() -> Iterator[bytes]:
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except OSError as exc:
                    raise _LocalReadError(str(exc)) from exc
                sealer.update(chunk)
                yield chunk
            yield sealer.trailer()

        try:
            if not replace and self._exists(name):
                logger.debug("remote cache: %s already published", name)
                return True
            obstore.put(
                self._client(),
                name,
                sealed(),
                mode="overwrite" if replace else "create",
                chunk_size=_PART_SIZE,
                max_concurrency=4,
            )
        except (AlreadyExistsError, PreconditionError):
            logger.debug("remote cache: %s published concurrently by another machine", name)
            return True
        except _StoreProblem as exc:
            self._fail(str(exc))
            return False
        except _LocalReadError as exc:
            # Reading the local file or tree failed: the store is not at fault.
            return self._write_failed(key, f"cannot read the local copy: {exc}")
        except Exception as exc:
            if isinstance(exc.__cause__, _LocalReadError):
                return self._write_failed(key, f"cannot read the local copy: {exc.__cause__}")
            problem = self._classify(exc)
            if isinstance(problem, _StoreProblem) and "unreachable" in str(problem):
                self._fail(str(problem))
                return False
            return self._write_failed(key, str(problem))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        logger.debug("remote cache: published %s", name)
        return True

    def publish_blob(self, key: str, path: Path, *, replace: bool = False) -> bool:
        """Publish the file ``path`` as the blob ``key``; see the module docstring.

        ``replace=True`` overwrites an existing object (a plain PUT, still atomic: readers
        see the old object or the new one): for small pointers that change, never for
        content addressed by its key.
        """

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as source:
                while chunk := source.read(_DOWNLOAD_CHUNK):
                    yield chunk

        return self._publish(key, BLOB, chunks(), replace=replace)

    def publish_tree(self, key: str, src: Path) -> bool:
        """Publish the directory ``src`` as the tree ``key`` (streamed, never whole in memory)."""
        from glovebox.remote.tree_stream import tree_chunks

        if not src.is_dir():
            return self._write_failed(key, f"{src} is not a directory")
        return self._publish(key, TREE, tree_chunks(src))

    # -- managing -----------------------------------------------------------------------

    def _objects(self) -> Iterator[RemoteObject]:
        import obstore

        prefix = self.settings.prefix
        try:
            for batch in obstore.list(self._client(), prefix or None, chunk_size=1000):
                for meta in batch:
                    path = meta["path"]
                    relative = path[len(prefix) + 1 :] if prefix else path
                    yield RemoteObject(relative, int(meta["size"]), meta["last_modified"])
        except Exception as exc:
            problem = self._classify(exc)
            raise RemoteError(
                f"remote cache {self.settings.masked_url}: {self.settings.scrub(str(problem))}"
            ) from None

    def list(self) -> list[RemoteObject]:
        """Every object under the prefix, oldest first. Raises ``RemoteError``."""
        if self.settings.url is None:
            raise RemoteError(
                "no remote cache configured: set GLOVEBOX_CACHE_REMOTE_URL or cache.remote.url"
            )
        return sorted(self._objects(), key=lambda o: (o.last_modified, o.key))

    def prune(self, older_than: timedelta, *, dry_run: bool = False) -> PruneResult:
        """Delete objects last written more than ``older_than`` ago. Raises ``RemoteError``."""
        import obstore

        if self.settings.url is None:
            raise RemoteError(
                "no remote cache configured: set GLOVEBOX_CACHE_REMOTE_URL or cache.remote.url"
            )
        if not dry_run and self.mode is not RemoteMode.READ_WRITE:
            raise RemoteError(
                f"remote cache {self.settings.masked_url} is in {self.mode.value} mode, which "
                "never deletes; prune needs mode read-write (GLOVEBOX_CACHE_REMOTE_MODE)"
            )
        cutoff = datetime.now(UTC) - older_than
        objects = self.list()
        old = [o for o in objects if o.last_modified < cutoff]
        if not dry_run:
            prefix = self.settings.prefix
            names = [f"{prefix}/{o.key}" if prefix else o.key for o in old]
            try:
                for start in range(0, len(names), 500):
                    obstore.delete(self._client(), names[start : start + 500])
            except Exception as exc:
                problem = self._classify(exc)
                raise RemoteError(
                    f"remote cache {self.settings.masked_url}: {self.settings.scrub(str(problem))}"
                ) from None
        return PruneResult(len(old), sum(o.size for o in old), len(objects) - len(old))

    def status(self) -> RemoteStatus:
        """URL (masked), mode, whether the store answers, and what is under the prefix."""
        settings = self.settings
        problem: str | None = None
        objects = size = None
        if self.mode is not RemoteMode.OFF:
            if self._secret is None:
                problem = "no signing secret (set GLOVEBOX_CACHE_SECRET)"
            try:
                listed = list(self._objects())
                objects, size = len(listed), sum(o.size for o in listed)
            except RemoteError as exc:
                problem = str(exc).split(": ", 1)[-1]
        reachable = objects is not None
        return RemoteStatus(
            url=settings.masked_url,
            endpoint=settings.endpoint,
            mode=self.mode.value,
            reachable=reachable,
            problem=problem,
            objects=objects,
            bytes=size,
        )


def _secret_of(config: Any) -> bytes | None:
    """The remote tier's signing key: ``cache.remote.secret``, else ``cache.redis.secret``."""
    cache = getattr(config, "cache", None)
    for section in ("remote", "redis"):
        secret = getattr(getattr(cache, section, None), "secret", None)
        if secret is not None:
            value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
            if value:
                return str(value).encode()
    return None


def remote_tier_from_config(config: Any) -> RemoteTier | None:
    """The tier ``config`` (a ``GloveboxConfig`` or ``UserConfig``) describes, or None
    when no store is named or the mode is ``off``."""
    inner = getattr(config, "_config", config)
    settings = getattr(getattr(inner, "cache", None), "remote", None)
    if not isinstance(settings, RemoteSettings) or not settings.enabled:
        return None
    return RemoteTier(settings, _secret_of(inner))
