"""Input discovery and all-or-nothing output for ``layout compile``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from glovebox.layout.errors import LayoutError
from glovebox.layout.service import CompiledLayout

__all__ = ["expand_inputs", "write_atomically", "write_outputs"]


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

    Everything was compiled before this is called, so a bad layout never leaves output
    behind; each file is written to a temporary name and renamed into place.
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise LayoutError(f"{output_dir}: output exists and is not a directory")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LayoutError(
            f"{output_dir}: cannot create output directory: {exc.strerror or exc}"
        ) from None
    written: list[tuple[Path, Path]] = []
    for source, result in compiled:
        keymap = output_dir / f"{source.stem}.keymap"
        conf = output_dir / f"{source.stem}.conf"
        try:
            write_atomically(keymap, result.keymap)
            write_atomically(conf, result.conf)
        except OSError as exc:
            raise LayoutError(
                f"{keymap.parent}: cannot write output: {exc.strerror or exc}"
            ) from None
        written.append((keymap, conf))
    return written
