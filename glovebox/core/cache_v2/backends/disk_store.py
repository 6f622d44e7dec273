"""The files of one disk cache: the diskcache handle, its value files and what can go wrong.

:class:`DiskStore` is ``diskcache.Cache`` with four guarantees added:

- Bounded waits. diskcache retries a locked database for 60 s while it opens, and without
  bound wherever a caller asks it to retry. Here every retry stops at the configured
  timeout, and a database that is already set up opens without writing, so another process
  holding the write lock delays nobody's reads.
- No memory map. SQLite's memory map turns a file shortened by another process into SIGBUS
  in ours; with ``mmap_size=0`` the same damage is an ordinary error.
- Private files. ``cache.db`` is created 0600 before SQLite sees it (SQLite gives its -wal
  and -shm files the database's mode), value files are made 0600 in directories made 0700.
  The process umask is never touched.
- Checked value files. A value stored in its own file carries its size in the file name;
  a file whose size differs is reported as :class:`DamagedValue` instead of being read.
- Authenticated pickles. A value diskcache would pickle is stored as ``GBP1``, an
  HMAC-SHA256 of the pickle under the user's key (:mod:`glovebox.core.cache_v2.signing`),
  then the pickle, inline or in its own file. A pickled value that does not verify (forged,
  written under another key, or written before values were signed) is reported as
  :class:`UntrustedValue` and never unpickled; so is a key stored pickled (keys are
  strings, stored as they are). JSON, strings, bytes and numbers are never unpickled.

The directory also holds ``space.reserve``, a small file deleted when the disk is full so
that deleting entries (which appends to SQLite's write-ahead log) can still work.

The failure classifiers (:func:`is_locked`, :func:`is_disk_full`, :func:`is_malformed`)
look through diskcache's ``Timeout`` (raised ``from None`` over the SQLite error) to the cause.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
import os
import pickle
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import ENOVAL, MODE_PICKLE, UNKNOWN

from glovebox.core.cache_v2.disk_layout import (
    CACHE_DB_NAME,
    CORRUPT_MARKER,
    REPLACED_NAME,
    RESERVE_BYTES,
    RESERVE_NAME,
)
from glovebox.core.cache_v2.redis_codec import Signer
from glovebox.core.cache_v2.signing import local_signer

__all__ = [
    "CACHE_DB_NAME",
    "CORRUPT_MARKER",
    "RESERVE_BYTES",
    "RESERVE_NAME",
    "SIGNED_MAGIC",
    "DamagedDatabase",
    "DamagedStore",
    "DamagedValue",
    "DiskStore",
    "LockWaitExpired",
    "PrivateDisk",
    "PrivateJSONDisk",
    "UntrustedValue",
    "current_identity",
    "is_disk_full",
    "is_locked",
    "is_malformed",
    "make_private",
    "mark_replaced",
    "move_aside",
    "prepare_files",
    "probe_damage",
    "recovery_lock",
    "release_reserve",
    "unwrap",
]

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700

_SIZED_NAME = re.compile(r"-(\d+)\.val$")

SIGNED_MAGIC = b"GBP1"
"""First bytes of a signed pickled value: then 32 bytes of HMAC-SHA256, then the pickle."""
_SIGNATURE_END = len(SIGNED_MAGIC) + 32
# What is signed besides the pickle: sets these values apart from the Redis backend's.
_LABEL = b"glovebox-disk"
_FORMAT = b"p"
_INT_RANGE = range(-(2**63), 2**63)


class DamagedValue(Exception):
    """A value file whose size is not the size stored with it (changed behind our back)."""

    def __init__(self, filename: str, expected: int, found: int | None) -> None:
        self.filename = filename
        shown = "missing" if found is None else f"{found} bytes"
        super().__init__(f"value file {filename} holds {shown}, {expected} bytes were stored")


class UntrustedValue(Exception):
    """A pickled value (or key) that does not verify under this user's key: never loaded.

    ``filename`` and ``inline`` are what the entry holds (its value file, or the bytes
    stored in the database), so that exactly this entry can be dropped.
    """

    def __init__(self, reason: str, filename: str | None, inline: bytes | None) -> None:
        self.filename = filename
        self.inline = inline
        super().__init__(reason)


# -- failure classification ----------------------------------------------------------


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def unwrap(exc: BaseException) -> BaseException:
    """The SQLite error under diskcache's bare ``Timeout``, else ``exc`` itself."""
    context = exc.__context__
    if isinstance(exc, diskcache.Timeout) and context is not None:
        return context
    return exc


def _sqlite_says(cause: BaseException, words: str) -> bool:
    return isinstance(cause, sqlite3.OperationalError) and words in str(cause)


def is_locked(exc: BaseException) -> bool:
    """The failure is another connection holding the database lock."""
    return any(
        _sqlite_says(cause, "locked")
        or (isinstance(cause, diskcache.Timeout) and cause.__context__ is None)
        for cause in _causes(exc)
    )


def is_disk_full(exc: BaseException) -> bool:
    return any(
        _sqlite_says(cause, "disk is full")
        or (isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT))
        for cause in _causes(exc)
    )


def is_malformed(exc: BaseException) -> bool:
    """The database file itself is damaged (not locked, not unreadable, not full)."""
    return any(
        isinstance(cause, sqlite3.DatabaseError) and not isinstance(cause, sqlite3.OperationalError)
        for cause in _causes(exc)
    )


# -- file modes and the space reserve ----------------------------------------------------


def make_private(path: Path, mode: int) -> None:
    """``chmod`` ``path`` to ``mode`` if it exists and has other bits (best effort)."""
    try:
        if os.stat(path).st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:
        pass


def _create_private_file(path: Path) -> None:
    # On failure SQLite reports the real problem when it opens the file.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))


def _ensure_reserve(directory: Path) -> None:
    path = directory / RESERVE_NAME
    if path.exists():
        make_private(path, FILE_MODE)
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(RESERVE_BYTES))
    except OSError:
        # No room for it now: try again at the next open rather than keep a partial file.
        path.unlink(missing_ok=True)


def release_reserve(directory: Path) -> bool:
    """Delete the space reserve; True if there was one to free."""
    try:
        (directory / RESERVE_NAME).unlink()
    except OSError:
        return False
    return True


def prepare_files(directory: Path) -> None:
    """Owner-only modes for what SQLite will open, and a space reserve, before opening."""
    with contextlib.suppress(OSError):  # diskcache reports a directory it cannot make
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    make_private(directory, DIR_MODE)
    database = directory / CACHE_DB_NAME
    if not database.exists():
        _create_private_file(database)
    for path in (database, directory / f"{CACHE_DB_NAME}-wal", directory / f"{CACHE_DB_NAME}-shm"):
        make_private(path, FILE_MODE)
    make_private(directory / "locks", DIR_MODE)
    _ensure_reserve(directory)


def probe_damage(directory: Path, timeout: float) -> sqlite3.DatabaseError | None:
    """The error a read-only look at ``directory``'s database meets, if it is damaged.

    Opens the file read-only (a read-only connection never writes, and never checkpoints
    the write-ahead log into the file when it closes) and reads the header, the schema, the
    settings and the first entry. None when nothing is wrong, when there is no database
    yet, or when the look is inconclusive (locked, or unopenable read-only): the ordinary
    open then decides.
    """
    database = directory / CACHE_DB_NAME
    try:
        if database.stat().st_size == 0:
            return None
    except OSError:
        return None
    try:
        connection = sqlite3.connect(
            f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout
        )
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA schema_version").fetchall()
        connection.execute("SELECT key, value FROM Settings").fetchall()
        connection.execute("SELECT rowid, key, raw FROM Cache LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        return None  # locked, no tables yet, unreadable: not the file's fault
    except sqlite3.DatabaseError as exc:
        return exc
    finally:
        connection.close()
    return None


class DamagedDatabase(Exception):
    """The domain's database is damaged; raised, chained to SQLite's error, by every use."""


class DamagedStore:
    """Stands in for the ``DiskStore`` of a damaged database until a write replaces it.

    Every operation raises :class:`DamagedDatabase` (chained to the error that revealed
    the damage, so :func:`is_malformed` recognises it); closing does nothing.
    """

    def __init__(self, directory: Path, cause: BaseException) -> None:
        self._directory = directory
        self._cause = cause

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise DamagedDatabase(
            f"{self._directory / CACHE_DB_NAME} is damaged ({self._cause})"
        ) from self._cause

    def __getattr__(self, name: str) -> Any:
        # Raised on access, so that ``store._disk.put(...)`` fails the same way.
        return self._fail()

    def __contains__(self, key: object) -> bool:
        return bool(self._fail())

    def close(self) -> None:
        pass


_VALUE_DIR = re.compile(r"[0-9a-f]{2}")


def move_aside(
    directory: Path, tag: str, reason: BaseException, release: Callable[[], None]
) -> Path:
    """Move a damaged database out of ``directory`` into ``<dir>.corrupt-<UTC stamp>-<pid>/``.

    What moves: ``cache.db`` with its ``-wal`` and ``-shm`` files, byte for byte as found,
    and the value files that database referenced (diskcache's two-hex-digit directories).
    Workspaces, locks and everything else stay. The files are copied before ``release``
    (which closes this process's connection: closing a connection writes the write-ahead
    log into the database) and removed after it, so the copy is what was damaged. When
    there is no room for a copy they are renamed instead. Nothing is deleted for good: the
    folder stays for inspection until ``glovebox cache clear --all``. Logged as a WARNING.
    """
    if isinstance(reason, DamagedDatabase) and reason.__cause__ is not None:
        reason = reason.__cause__  # SQLite's own words
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = directory.with_name(f"{directory.name}{CORRUPT_MARKER}{stamp}-{os.getpid()}")
    aside.mkdir(mode=DIR_MODE)
    names = [CACHE_DB_NAME, f"{CACHE_DB_NAME}-wal", f"{CACHE_DB_NAME}-shm"]
    present = [name for name in names if (directory / name).is_file()]
    copied = True
    try:
        for name in present:
            _copy_private(directory / name, aside / name)
    except OSError:
        copied = False
        for name in present:
            (aside / name).unlink(missing_ok=True)
    if not copied:
        for name in present:
            os.rename(directory / name, aside / name)
    release()
    for entry in os.scandir(directory):
        if _VALUE_DIR.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            os.rename(entry.path, aside / entry.name)
    if copied:
        for name in present:
            (directory / name).unlink(missing_ok=True)
    logger.warning(
        "cache %r: %s is not a usable database (%s); moved it and its value files to %s "
        "and started an empty database (workspaces and other files stay)",
        tag,
        directory / CACHE_DB_NAME,
        reason,
        aside,
    )
    return aside


def mark_replaced(directory: Path) -> None:
    """Record in ``directory`` when its damaged database was replaced (see ``REPLACED_NAME``)."""
    staging = directory / f".{REPLACED_NAME}-{os.getpid()}"
    fd = os.open(staging, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{time.time():.6f}\n")
    os.replace(staging, directory / REPLACED_NAME)


def _copy_private(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    with open(source, "rb") as reader, os.fdopen(fd, "wb") as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())


# -- value files ---------------------------------------------------------------------


class _PrivateCheckedFiles:
    """Mixed into diskcache's ``Disk`` classes: private value files that carry their size,
    and pickles that are signed when stored and verified before they are loaded."""

    _directory: str
    _pickles = True  # False for the JSON disk, whose values are never pickled
    _signer: Signer

    def __init__(self, directory: str, **kwargs: Any) -> None:
        super().__init__(directory, **kwargs)  # type: ignore[call-arg]
        self._signer = local_signer().bound(_LABEL, _FORMAT)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:  # keys are validated strings, stored raw; a pickled one is forged
            raise UntrustedValue("a key stored pickled (keys are stored as text)", None, None)
        return super().get(key, raw)  # type: ignore[misc]

    def filename(self, key: Any = UNKNOWN, value: Any = UNKNOWN) -> tuple[str, str]:
        filename, full_path = super().filename(key, value)  # type: ignore[misc]
        base = Path(self._directory)
        # Another process removing its last value file there may remove an empty parent
        # between the two mkdirs (diskcache's ``remove`` prunes empty directories): retry.
        for attempt in range(10):
            try:
                for part in Path(filename).parents[:-1][::-1]:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(base / part, DIR_MODE)
                break
            except FileNotFoundError:
                if attempt == 9:
                    raise
        return filename, full_path

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[Any, ...]:
        signed = self._pickles and not read and not _stored_plain(value)
        if signed:
            payload = pickle.dumps(value, protocol=self.pickle_protocol)  # type: ignore[attr-defined]
            value = SIGNED_MAGIC + self._signer.sign_payload(payload) + payload
        size, mode, filename, db_value = super().store(value, read, key=key)  # type: ignore[misc]
        if signed:
            mode = MODE_PICKLE  # stored by diskcache as bytes, inline or in a file
        if filename is None:
            return size, mode, filename, db_value
        base = Path(self._directory)
        sized = filename[: -len(".val")] + f"-{size}.val"
        os.rename(base / filename, base / sized)
        os.chmod(base / sized, FILE_MODE)
        # diskcache recreates the directories if another process removed them meanwhile.
        for part in Path(sized).parents[:-1]:
            make_private(base / part, DIR_MODE)
        return size, mode, sized, db_value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if filename is not None:
            match = _SIZED_NAME.search(filename)
            if match is not None:
                expected = int(match.group(1))
                try:
                    found: int | None = os.stat(os.path.join(self._directory, filename)).st_size
                except FileNotFoundError:
                    found = None  # deleted by a concurrent delete: diskcache answers a miss
                if found is not None and found != expected:
                    raise DamagedValue(filename, expected, found)
        if mode == MODE_PICKLE:
            return self._load_signed(filename, value)
        return super().fetch(mode, filename, value, read)  # type: ignore[misc]

    def _load_signed(self, filename: str | None, value: Any) -> Any:
        if value is None and filename is not None:
            with open(os.path.join(self._directory, filename), "rb") as reader:
                blob = reader.read()
            inline = None
        else:
            blob = inline = bytes(value)
        view = memoryview(blob)
        if blob[: len(SIGNED_MAGIC)] != SIGNED_MAGIC or len(blob) < _SIGNATURE_END:
            raise UntrustedValue("an unsigned pickle", filename, inline)
        payload = view[_SIGNATURE_END:]
        if not hmac.compare_digest(
            view[len(SIGNED_MAGIC) : _SIGNATURE_END], self._signer.sign_payload(payload)
        ):
            raise UntrustedValue(
                "a pickle whose signature does not verify under this user's key",
                filename,
                inline,
            )
        return pickle.loads(payload)


def _stored_plain(value: Any) -> bool:
    """Whether diskcache stores ``value`` without pickling it (as ``Disk.store`` decides)."""
    kind = type(value)
    return kind is str or kind is bytes or kind is float or (kind is int and value in _INT_RANGE)


class PrivateDisk(_PrivateCheckedFiles, diskcache.Disk):  # type: ignore[misc]
    """Pickle serialisation (diskcache's default) with private, size-checked value files."""


class PrivateJSONDisk(_PrivateCheckedFiles, diskcache.JSONDisk):  # type: ignore[misc]
    """JSON serialisation with private, size-checked value files (nothing is pickled)."""

    _pickles = False


# -- the handle ------------------------------------------------------------------------

_LOOKUP = (
    "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1"
    " AND (expire_time IS NULL OR expire_time > ?)"
)

# Settings a set-up database must hold to be used without running diskcache's set-up.
_REQUIRED_SETTINGS = ("count", "size", "hits", "misses", "eviction_policy", "size_limit")


class DiskStore(diskcache.Cache):  # type: ignore[misc]
    """``diskcache.Cache`` whose waits for the database lock end after ``timeout`` seconds.

    A database that is already set up is opened without writing: its settings are read
    and this handle's own settings applied in memory. So opening never writes into a
    database that turns out to be damaged, and another process holding the write lock
    delays nobody's reads. A new database gets diskcache's set-up (which writes its
    settings) within the timeout.
    """

    def __init__(self, directory: str, *, timeout: float, disk: type, **settings: Any) -> None:
        self._lock_wait = float(timeout)
        settings["sqlite_mmap_size"] = 0
        started = time.monotonic()
        try:
            existing = os.path.getsize(os.path.join(directory, CACHE_DB_NAME)) > 0
        except OSError:
            existing = False  # diskcache's set-up reports what is wrong with the directory
        self._text_keys = issubclass(disk, PrivateDisk)
        if existing:
            # The attributes diskcache's __init__ sets before its first query.
            self._directory = directory
            self._local = threading.local()
            self._txn_id = None
            if self._adopt_set_up(directory, timeout, disk, settings):
                return
        try:
            super().__init__(directory, timeout=timeout, disk=disk, **settings)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or not self._adopt_set_up(directory, timeout, disk, settings):
                raise LockWaitExpired(time.monotonic() - started) from exc
            logger.debug(
                "cache in %s opened without updating its settings: the database is locked "
                "by another process",
                directory,
            )

    def _adopt_set_up(
        self, directory: str, timeout: float, disk: type, settings: dict[str, Any]
    ) -> bool:
        self.close()
        self._timeout = timeout
        try:
            stored = dict(self._sql("SELECT key, value FROM Settings").fetchall())
            self._sql("SELECT rowid FROM Cache LIMIT 0").fetchall()
            ((page_size,),) = self._sql("PRAGMA page_size").fetchall()
        except sqlite3.OperationalError:
            self.close()
            return False
        except sqlite3.DatabaseError:
            self.close()
            raise
        if not all(name in stored for name in _REQUIRED_SETTINGS):
            return False
        merged = {**stored, **settings}
        for name, value in merged.items():
            setattr(self, name, value)
        disk_args = {name[5:]: value for name, value in merged.items() if name.startswith("disk_")}
        self._disk = disk(directory, **disk_args)
        self._page_size = page_size
        return True

    def lookup(self, key: str, default: Any) -> Any:
        """``get(key, default)`` for a text key: one SELECT, then the value's decoding.

        ``Cache.get``'s read path for this store's settings (no statistics, an eviction
        policy that updates nothing on reads, text keys stored as they are), without its
        general-purpose steps: what is saved pays for verifying the value. The JSON disk
        stores keys encoded; its lookups are ``get``.
        """
        if not self._text_keys:
            return self.get(key, default)
        con = getattr(self._local, "con", None) or self._con
        rows = con.execute(_LOOKUP, (key, time.time())).fetchall()
        if not rows:
            return default
        ((mode, filename, value),) = rows
        try:
            return self._disk.fetch(mode, filename, value, False)
        except OSError:  # a value file removed by a concurrent delete: a miss, as in get
            return default

    def reset(self, key: str, value: Any = ENOVAL, update: bool = True) -> Any:
        # Databases written before the memory map was switched off still store 64 MiB.
        if key == "sqlite_mmap_size" and value is not ENOVAL:
            value = 0
        return super().reset(key, value, update)

    @property
    def _sql_retry(self) -> Callable[..., sqlite3.Cursor]:
        # diskcache's version retries "database is locked" for 60 s; this one for the timeout.
        sql = self._sql
        limit = self._lock_wait

        def execute(statement: str, *args: Any) -> sqlite3.Cursor:
            deadline = time.monotonic() + limit
            while True:
                try:
                    return sql(statement, *args)  # type: ignore[no-any-return]
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(0.001)

        return execute

    def set_busy_timeout(self, seconds: float) -> None:
        """How long this thread's connection lets SQLite wait for a lock."""
        self._sql(f"PRAGMA busy_timeout = {max(0, int(seconds * 1000))}")

    def retry_while_locked(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` (a diskcache call made with ``retry=False``) until it gets the lock.

        SQLite's busy handler waits up to the timeout for each attempt; an attempt that
        fails early is repeated with the time left, so the whole call waits at most the
        timeout. Raises :class:`LockWaitExpired` (chained to the SQLite error) after that.
        """
        started = time.monotonic()
        deadline = started + self._lock_wait
        shortened = False
        try:
            while True:
                try:
                    return call()
                except (sqlite3.OperationalError, diskcache.Timeout) as exc:
                    if not is_locked(exc):
                        raise
                    remaining = deadline - time.monotonic()
                    if remaining <= 0.001:
                        raise LockWaitExpired(time.monotonic() - started) from exc
                    self.set_busy_timeout(remaining)
                    shortened = True
                    time.sleep(min(0.005, remaining / 2))
        finally:
            if shortened:
                self.set_busy_timeout(self._lock_wait)


class LockWaitExpired(Exception):
    """The database stayed locked by another connection for the whole timeout."""

    def __init__(self, waited: float) -> None:
        self.waited = waited
        super().__init__(f"database is locked by another process; waited {waited:.1f} s")


def current_identity(directory: Path) -> tuple[int, int] | None:
    """(device, inode) of the database file now at ``directory``, None if absent."""
    try:
        info = os.stat(directory / CACHE_DB_NAME)
    except OSError:
        return None
    return info.st_dev, info.st_ino


_recovery_lock = threading.Lock()


def recovery_lock() -> threading.Lock:
    """Serialises moving damaged directories aside within this process."""
    return _recovery_lock
