"""A validated snapshot of the configuration, so a command can skip the models.

After a full validation, the result (``GloveboxConfig.model_dump(mode="json")``, where
each setting came from, the files read) is kept as JSON in
``$XDG_STATE_HOME/glovebox/config-snapshot.json`` (``platformdirs.user_state_dir``), never
below the cache root. It is keyed by a digest of everything the result depends on:

- the path text and bytes of the built-in defaults and of the user file, or the fact
  that no user file exists;
- the environment variables the loader reads (``variables_read``: every ``GLOVEBOX__*``
  setting, ``GLOVEBOX_CONFIG``, ``GLOVEBOX_CACHE_REDIS_URL``/``_SECRET``, ``HOME``,
  ``XDG_CONFIG_HOME`` and ``XDG_CACHE_HOME``), plus any variable that ``cache_path``
  names (``$VAR``) and the working directory when ``cache_path`` is relative;
- the code: the glovebox version, the Python version, the source of the modules that
  shape the result (``result_code_files``) and pydantic's version.

The files, the variable names and the list of code come from
:mod:`glovebox.config.sources`, where the loader takes its own from.

A snapshot whose digest matches gives a :class:`UserConfig` without importing pydantic;
anything else (no file, another digest, a damaged, oversized, foreign-owned or
group/other-writable file) means a full validation, after which the snapshot is
rewritten (temporary file and rename, mode 0600, directory 0700). Configurations holding
a credential (a Redis secret, a Redis URL with a password) are never written; nor is a
snapshot whose directory would lie below the cache root. Failing to write it is logged
and otherwise ignored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import platformdirs

import glovebox
from glovebox.config.sources import (
    MAX_FILE_BYTES,
    default_config_file,
    find_user_config_file,
    result_code_files,
    variables_read,
)

if TYPE_CHECKING:
    from glovebox.config.models import GloveboxConfig
    from glovebox.config.user_config import UserConfig

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "SNAPSHOT_FORMAT",
    "SnapshotKey",
    "read_snapshot",
    "snapshot_key",
    "snapshot_path",
    "write_snapshot",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")

SNAPSHOT_FORMAT = 1
SNAPSHOT_NAME = "config-snapshot.json"
# A configuration is a few KiB; this bounds what is read back and what is written.
MAX_SNAPSHOT_BYTES = 256 * 1024
_MAX_CONFIG_BYTES = MAX_FILE_BYTES + 1  # one byte past the loader's limit: larger is an error

# What os.path.expandvars replaces on POSIX: $NAME and ${NAME}.
_VARIABLE_REFERENCE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
_VARIABLE_NAME = re.compile(r"[^}]{1,256}")

_code_digest: bytes | None = None


def snapshot_path() -> Path:
    """Where the snapshot is kept: ``platformdirs.user_state_dir("glovebox")``."""
    return Path(platformdirs.user_state_dir("glovebox")) / SNAPSHOT_NAME


def _feed(digest: Any, *parts: str | bytes | None) -> None:
    """Add ``parts`` to ``digest`` unambiguously (length-prefixed; None differs from "")."""
    for part in parts:
        if part is None:
            digest.update(b"\xff")
            continue
        raw = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)


def code_digest() -> bytes:
    """A digest of the code that produces a validated configuration (computed once)."""
    global _code_digest  # noqa: PLW0603 - memo of a per-process constant
    if _code_digest is None:
        digest = hashlib.sha256()
        _feed(digest, str(SNAPSHOT_FORMAT), glovebox.__version__, sys.version)
        for name, path in result_code_files().items():
            _feed(digest, name, _read_or_none(path))
        _feed(digest, _pydantic_version_source())
        _code_digest = digest.digest()
    return _code_digest


def _pydantic_version_source() -> bytes | None:
    """The text of pydantic's ``version.py``, found without importing pydantic."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("pydantic")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return _read_or_none(Path(locations[0]) / "version.py") if locations else None


def _read_or_none(path: Path, limit: int = _MAX_CONFIG_BYTES) -> bytes | None:
    try:
        with path.open("rb") as stream:
            return stream.read(limit)
    except OSError:
        return None


class SnapshotKey:
    """The inputs of one load that do not depend on what the files say."""

    __slots__ = ("base", "config_path")

    def __init__(self, config_path: Path | str | None, base: bytes) -> None:
        self.config_path = config_path
        self.base = base

    def digest(self, variables: Sequence[str], cwd: bool) -> str:
        """The full key: the base inputs plus ``variables`` and, if ``cwd``, the directory."""
        digest = hashlib.sha256(self.base)
        for name in variables:
            _feed(digest, name, os.environ.get(name))
        _feed(digest, os.getcwd() if cwd else None)
        return digest.hexdigest()


def snapshot_key(config_path: Path | str | None) -> SnapshotKey | None:
    """The key of loading with ``config_path`` now, or ``None`` if a file cannot be read."""
    digest = hashlib.sha256(code_digest())
    _feed(digest, None if config_path is None else os.fspath(config_path))
    for name in variables_read(os.environ):
        _feed(digest, name, os.environ.get(name))
    try:
        defaults = default_config_file()
        user_file = find_user_config_file(config_path)
    except Exception:  # the full load reports what is wrong
        return None
    for path in (defaults, user_file):
        if path is None:
            _feed(digest, None)
            continue
        content = _read_or_none(path)
        if content is None:
            return None
        _feed(digest, os.fspath(path), content)
    return SnapshotKey(config_path, digest.digest())


def _path_dependencies(raw: object) -> tuple[list[str], bool] | None:
    """The variables ``cache_path`` names and whether it is relative; ``None``: do not keep.

    ``None`` (or blank) is the platform directory, which depends on ``HOME`` and
    ``XDG_CACHE_HOME`` only; ``~user`` would need the password database, so such a
    configuration is not kept.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return [], False
    if not isinstance(raw, str):
        return None
    if raw.startswith("~") and not (raw == "~" or raw.startswith("~/")):
        return None
    names = sorted({match.strip("{}") for match in _VARIABLE_REFERENCE.findall(raw)})
    if not all(_VARIABLE_NAME.fullmatch(name) for name in names):
        return None
    expanded = os.path.expandvars(os.path.expanduser(raw))
    return names, not os.path.isabs(expanded)


def _below(path: Path, root: Path) -> bool:
    for left, right in ((path.absolute(), root.absolute()), (path.resolve(), root.resolve())):
        if left == right or right in left.parents:
            return True
    return False


def _has_credentials(config: GloveboxConfig) -> bool:
    from glovebox.core.cache_v2 import mask_url

    redis = config.cache.redis
    if config.cache.remote.secret is not None:  # the remote tier's signing secret
        return True
    return redis.secret is not None or mask_url(redis.url) != redis.url


def _logged_not_raised(write: Callable[P, bool]) -> Callable[P, bool]:
    """``write`` made to answer False, with a DEBUG record, instead of raising."""

    @functools.wraps(write)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> bool:
        try:
            return write(*args, **kwargs)
        except Exception:
            logger.debug("configuration snapshot not written", exc_info=True)
            return False

    return guarded


@_logged_not_raised
def write_snapshot(
    key: SnapshotKey,
    config: GloveboxConfig,
    raw_cache_path: object,
    origins: Mapping[str, str],
    files: Sequence[Path],
) -> bool:
    """Keep the result of a full validation under ``key``; True if it was written.

    ``raw_cache_path`` is the merged, unvalidated ``cache_path`` (what it depends on is
    part of the key). Never raises: a snapshot that cannot be written is only logged.
    """
    if _has_credentials(config):
        logger.debug("configuration snapshot not kept: it holds Redis credentials")
        return False
    dependencies = _path_dependencies(raw_cache_path)
    if dependencies is None:
        logger.debug("configuration snapshot not kept: cache_path needs the user database")
        return False
    path = snapshot_path()
    if _below(path.parent, config.cache_path):
        logger.debug("configuration snapshot not kept: %s is below the cache root", path)
        return False
    current = snapshot_key(key.config_path)
    if current is None or current.base != key.base:
        logger.debug("configuration snapshot not kept: a file changed while it was read")
        return False
    variables, cwd = dependencies
    document = {
        "format": SNAPSHOT_FORMAT,
        "digest": key.digest(variables, cwd),
        "depends": {"variables": variables, "cwd": cwd},
        "config": config.model_dump(mode="json"),
        "origins": dict(origins),
        "files": [os.fspath(file) for file in files],
    }
    payload = json.dumps(document, sort_keys=True).encode("utf-8")
    if len(payload) > MAX_SNAPSHOT_BYTES:
        logger.debug("configuration snapshot not kept: %d bytes", len(payload))
        return False
    import tempfile

    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o700:
        directory.chmod(0o700)
    handle, temporary = tempfile.mkstemp(prefix=".config-snapshot-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.debug("configuration snapshot written to %s", path)
    return True


def _read_document(path: Path) -> dict[str, Any] | None:
    """The parsed snapshot, or ``None`` if absent, unsafe to trust, oversized or damaged."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            logger.debug("configuration snapshot %s ignored: not a file of this user", path)
            return None
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            logger.debug("configuration snapshot %s ignored: writable by others", path)
            return None
        raw = stream.read(MAX_SNAPSHOT_BYTES + 1)
    if len(raw) > MAX_SNAPSHOT_BYTES:
        logger.debug("configuration snapshot %s ignored: too large", path)
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        logger.debug("configuration snapshot %s ignored: damaged", path)
        return None
    return document if isinstance(document, dict) else None


def read_snapshot(key: SnapshotKey, reload: Callable[[], GloveboxConfig]) -> UserConfig | None:
    """The configuration kept under ``key``, or ``None`` (then validate in full).

    ``reload`` gives the validated model when the returned object first needs it.
    """
    from glovebox.config.user_config import UserConfig

    path = snapshot_path()
    document = _read_document(path)
    if document is None or document.get("format") != SNAPSHOT_FORMAT:
        return None
    try:
        depends = document["depends"]
        variables = depends["variables"]
        cwd = depends["cwd"]
        if not isinstance(cwd, bool) or not isinstance(variables, list):
            return None
        if not all(isinstance(name, str) for name in variables):
            return None
        if document.get("digest") != key.digest(variables, cwd):
            logger.debug("configuration snapshot %s is for other inputs", path)
            return None
        origins = document["origins"]
        files = document["files"]
        if not isinstance(origins, dict) or not isinstance(files, list):
            return None
        if not all(isinstance(v, str) for v in (*origins, *origins.values(), *files)):
            return None
        config = document["config"]
        if not isinstance(config, dict):
            return None
        loaded = UserConfig.from_validated_data(
            config, reload=reload, origins=origins, files=[Path(file) for file in files]
        )
    except (KeyError, TypeError, ValueError):
        logger.debug("configuration snapshot %s ignored: not in the expected shape", path)
        return None
    if _below(path.parent, loaded.cache_path):
        return None
    logger.debug("configuration from snapshot %s", path)
    return loaded
