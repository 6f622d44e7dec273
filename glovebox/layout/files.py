"""Input discovery and all-or-nothing output for ``layout compile``."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from glovebox.layout.errors import LayoutError
from glovebox.layout.service import CompiledLayout

__all__ = ["expand_inputs", "replace_all", "write_atomically", "write_outputs"]


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files as given, directories as their ``*.json`` files (sorted); stems must be unique.

    Two inputs with the same stem would write the same output files, so that is refused.
    """
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(child for child in path.glob("*.json") if child.is_file())
            if not found:
                raise LayoutError(f"{path}: directory holds no *.json layout files")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise LayoutError(f"{path}: layout file not found")
    by_stem: dict[str, Path] = {}
    for path in files:
        earlier = by_stem.setdefault(path.stem, path)
        if earlier != path:
            raise LayoutError(
                f"{path}: would write the same {path.stem}.keymap as {earlier}; "
                "compile layouts with the same file name into different directories"
            )
    return files


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_outputs(
    output_dir: Path, compiled: Sequence[tuple[Path, CompiledLayout]]
) -> list[tuple[Path, Path]]:
    """Write ``<stem>.keymap`` and ``<stem>.conf`` per input; returns the paths written.

    All or nothing, even on a full disk: every file is first written in full and fsynced
    under a hidden name in ``output_dir`` (the same filesystem), and only then renamed
    into place; files it replaces are kept as hidden hard links until all renames are
    done. If any file cannot be written or renamed, the staged files are removed, replaced
    files are put back, directories this call created are removed again, and a
    ``LayoutError`` names the directory and the cause: ``output_dir`` is left as it was.
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise LayoutError(f"{output_dir}: output exists and is not a directory")
    created = _missing_parents(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(created)
        raise LayoutError(
            f"{output_dir}: cannot create output directory: {exc.strerror or exc}"
        ) from None
    targets: list[tuple[Path, str | bytes]] = []
    written: list[tuple[Path, Path]] = []
    for source, result in compiled:
        keymap = output_dir / f"{source.stem}.keymap"
        conf = output_dir / f"{source.stem}.conf"
        targets += [(keymap, result.keymap), (conf, result.conf)]
        written.append((keymap, conf))
    try:
        _Replacement(output_dir, targets).run()
    except OSError as exc:
        _remove_empty(created)
        raise LayoutError(f"{output_dir}: cannot write output: {_describe(exc)}") from None
    return written


def _describe(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{reason} (the disk is full); nothing was changed"
    return f"{reason}; nothing was changed"


def replace_all(directory: Path, targets: Sequence[tuple[Path, str | bytes]]) -> None:
    """Write every ``(path, content)`` in ``directory`` all or nothing (text or bytes).

    The staging, renaming and undoing of :func:`write_outputs`, for callers with other
    files (firmware images): raises the ``OSError`` after putting back what was there.
    """
    _Replacement(directory, targets).run()


class _Replacement:
    """Stage every file, then rename them all into place; undo everything on failure."""

    def __init__(self, directory: Path, targets: Sequence[tuple[Path, str | bytes]]) -> None:
        self._directory = directory
        self._targets = targets
        self._token = f"{os.getpid()}.{secrets.token_hex(4)}"
        self._staged: list[Path] = []
        self._backups: dict[Path, Path] = {}  # target -> hidden hard link to its old file
        self._moved: list[Path] = []  # targets already replaced (or created)

    def _hidden(self, target: Path, kind: str) -> Path:
        return target.with_name(f".{target.name}.{self._token}.{kind}")

    def run(self) -> None:
        try:
            for target, text in self._targets:
                self._staged.append(self._stage(target, text))
            for target, _ in self._targets:
                self._keep_old(target)
            for (target, _), staged in zip(self._targets, self._staged, strict=True):
                os.replace(staged, target)
                self._moved.append(target)
            _fsync_directory(self._directory)
        except BaseException as exc:
            self._undo(exc)
            raise
        for backup in self._backups.values():
            with contextlib.suppress(OSError):
                backup.unlink()

    def _stage(self, target: Path, text: str | bytes) -> Path:
        staged = self._hidden(target, "tmp")
        try:
            if isinstance(text, bytes):
                with staged.open("xb") as binary:
                    binary.write(text)
                    binary.flush()
                    os.fsync(binary.fileno())
            else:
                with staged.open("x", encoding="utf-8", newline="\n") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        return staged

    def _keep_old(self, target: Path) -> None:
        """Keep the file ``target`` names now under a hidden hard link (costs no space)."""
        if not (target.is_symlink() or target.is_file()):
            return  # nothing there (or a directory, which the rename will refuse)
        backup = self._hidden(target, "old")
        try:
            os.link(target, backup, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            shutil.copy2(target, backup, follow_symlinks=False)  # no hard links here
        self._backups[target] = backup

    def _undo(self, cause: BaseException) -> None:
        """Put back what was replaced, remove what was created and staged."""
        unrestored: list[str] = []
        for target in reversed(self._moved):
            backup = self._backups.get(target)
            try:
                if backup is not None:
                    os.replace(backup, target)
                    del self._backups[target]
                else:
                    target.unlink()
            except OSError:
                unrestored.append(f"{target} (old content kept as {backup})")
        for path in [*self._staged, *self._backups.values()]:
            with contextlib.suppress(OSError):
                path.unlink()
        if unrestored and isinstance(cause, OSError):
            cause.strerror = (
                f"{cause.strerror or cause}; could not put back {', '.join(unrestored)}"
            )


def _missing_parents(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    return missing


def _remove_empty(directories: Iterable[Path]) -> None:
    for directory in directories:
        with contextlib.suppress(OSError):
            directory.rmdir()


def _fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
