"""Directory trees as zstd-compressed tar streams, produced and consumed in bounded memory.

Packing runs ``tarfile`` and the zstd compressor in a worker thread that hands chunks to
the uploader through a queue of at most ``_QUEUE_CHUNKS`` chunks, so archiving,
compression and upload overlap and no more than a few MiB are held at once. Only regular
files, directories and symlinks are packed; setuid, setgid and sticky bits are dropped.

Unpacking applies the workspace cache's archive rules
(:data:`glovebox.compilation.cache.archive.extraction_filter`): no absolute paths, no
``..``, no links out of the tree, no devices or fifos, no setuid/setgid/sticky bits.
Those rules resolve every member's path on disk (``realpath``), which costs more than
writing the file. :class:`_TreeFilter` gives the same answers with less work: into a
fresh, empty directory, a file or directory member whose path has no ``..``, no
leading ``/`` and passes through no symlink extracted before lands exactly at
``target/name``, so only those checks are needed; every other member (symlinks, hard
links, specials, anything beneath an extracted symlink) goes through the full rules.
"""

from __future__ import annotations

import os
import queue
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

__all__ = ["CHUNK_SIZE", "extract_tree", "tree_chunks"]

CHUNK_SIZE = 1 << 20
_QUEUE_CHUNKS = 8
_LEVEL = 3
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_DONE = object()


class _Cancelled(Exception):
    """The consumer stopped reading (an upload failed): the producer gives up."""


class _QueueSink:
    """A write-only file whose bytes go to a bounded queue in ``CHUNK_SIZE`` pieces."""

    def __init__(self, out: queue.Queue[object], cancelled: threading.Event) -> None:
        self._out = out
        self._cancelled = cancelled
        self._buffer = bytearray()

    def write(self, data: bytes | memoryview) -> int:
        self._buffer += data
        while len(self._buffer) >= CHUNK_SIZE:
            self._put(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()

    def _put(self, item: object) -> None:
        while True:
            if self._cancelled.is_set():
                raise _Cancelled
            try:
                self._out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue


def _member(name: str, info: os.stat_result) -> tarfile.TarInfo:
    """A tar header for ``info`` with no owner names (nothing is looked up per file)."""
    member = tarfile.TarInfo(name)
    member.mode = stat.S_IMODE(info.st_mode) & ~_SPECIAL_BITS
    member.mtime = int(info.st_mtime)
    return member


def _add_tree(tf: tarfile.TarFile, root: Path) -> None:
    """Add ``root`` as ``.``: directories, regular files and symlinks, in sorted order.

    Devices, fifos and sockets are left out; owners are not recorded (a reader owns what
    it extracts). One ``lstat`` per entry, no user or group name lookups.
    """
    top = _member(".", os.lstat(root))
    top.type = tarfile.DIRTYPE
    tf.addfile(top)
    for dirpath, dirnames, filenames in os.walk(root):
        prefix = os.path.relpath(dirpath, root)
        prefix = "./" if prefix == "." else f"./{prefix}/"
        descend: list[str] = []
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            member = _member(prefix + name, info)
            if stat.S_ISDIR(info.st_mode):
                member.type = tarfile.DIRTYPE
                tf.addfile(member)
                descend.append(name)
            elif stat.S_ISLNK(info.st_mode):
                member.type = tarfile.SYMTYPE
                member.linkname = os.readlink(path)
                tf.addfile(member)
            elif stat.S_ISREG(info.st_mode):
                member.size = info.st_size
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as source:
                    tf.addfile(member, source)
        dirnames[:] = descend


def _produce(src: Path, sink: _QueueSink, out: queue.Queue[object]) -> None:
    try:
        compressor = zstandard.ZstdCompressor(level=_LEVEL)
        with (
            compressor.stream_writer(sink, closefd=False) as compressed,  # type: ignore[arg-type]
            tarfile.open(fileobj=compressed, mode="w|", format=tarfile.GNU_FORMAT) as tf,
        ):
            _add_tree(tf, src)
        sink.flush()
        sink._put(_DONE)
    except _Cancelled:
        return
    except BaseException as exc:  # handed to the consumer, which raises it
        try:
            sink._put(exc)
        except _Cancelled:
            return


def tree_chunks(src: Path) -> Iterator[bytes]:
    """The tree under ``src`` as a zstd-compressed tar stream, in chunks of ~1 MiB.

    Closing the iterator early (an upload that failed) stops the worker thread.
    Raises whatever reading the tree raised (``OSError``).
    """
    out: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    cancelled = threading.Event()
    sink = _QueueSink(out, cancelled)
    worker = threading.Thread(
        target=_produce, args=(src, sink, out), name="glovebox-remote-pack", daemon=True
    )
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        cancelled.set()
        worker.join(timeout=30)


class _Limited:
    """The first ``length`` bytes of a binary file (the payload before the trailer)."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw = raw
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if size < 0 or size > self._left:
            size = self._left
        data = self._raw.read(size)
        self._left -= len(data)
        return data


class _TreeFilter:
    """``extraction_filter``'s answers for one extraction into an empty ``target``.

    Regular files and directories whose path is plain (no ``..``, not absolute, no
    extracted symlink on the way or at the path itself) get the result the full rules
    would give (the member with owners dropped and its permission bits kept, minus
    setuid/setgid/sticky) without resolving the path on disk. Everything else, and every
    symlink (whose name is remembered), goes through the full rules.
    """

    def __init__(self) -> None:
        from glovebox.compilation.cache.archive import extraction_filter

        self._full = extraction_filter
        self._links: set[str] = set()

    def _plain(self, name: str) -> bool:
        if name.startswith("/") or "\0" in name:
            return False
        path = ""
        for part in name.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                return False
            path = f"{path}/{part}" if path else part
            if path in self._links:
                return False
        return True

    def __call__(self, member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        if (member.isreg() or member.isdir()) and self._plain(member.name):
            return member.replace(
                mode=member.mode & 0o777 & ~_SPECIAL_BITS,
                uid=None,  # type: ignore[arg-type]  # None: not changed on extraction
                gid=None,  # type: ignore[arg-type]
                uname=None,  # type: ignore[arg-type]
                gname=None,  # type: ignore[arg-type]
                deep=False,
            )
        safe = self._full(member, dest)
        if safe is not None and not (safe.isreg() or safe.isdir()):
            self._links.add("/".join(p for p in safe.name.split("/") if p not in ("", ".")))
        return safe


def extract_tree(payload: BinaryIO, length: int, target: Path) -> None:
    """Unpack the first ``length`` bytes of ``payload`` (a tree stream) into ``target``.

    ``target`` must exist and be empty. Raises ``tarfile.TarError`` (including
    ``FilterError`` for a member the archive rules refuse), ``zstandard.ZstdError`` or
    ``OSError``; the caller removes ``target`` on any error.
    """
    if any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; trees are extracted into new directories")
    decompressor = zstandard.ZstdDecompressor()
    with (
        decompressor.stream_reader(_Limited(payload, length), read_size=CHUNK_SIZE) as plain,  # type: ignore[arg-type]
        tarfile.open(fileobj=plain, mode="r|") as tf,
    ):
        tf.extractall(target, filter=_TreeFilter(), numeric_owner=True)
