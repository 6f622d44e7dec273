"""What a firmware build produces and reports, and how its files are written.

Kept free of the compilation stack (pydantic models, west) so that serving a build from
the firmware level (:mod:`glovebox.firmware.hit`) loads only this.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from glovebox.errors import GloveboxError

__all__ = [
    "SPLIT_BOARDS",
    "BoardBuild",
    "FirmwareBuildError",
    "FirmwareError",
    "FirmwareInputError",
    "FirmwareResult",
    "LevelReport",
    "Phase",
    "PhaseCallback",
    "boards_for",
    "check_output_dir",
    "firmware_names",
    "write_firmware",
]


SPLIT_BOARDS: dict[str, tuple[str, ...]] = {"glove80": ("glove80_lh", "glove80_rh")}
"""Boards built in halves: the board name given -> the west boards, left first."""

_BOARD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class FirmwareError(GloveboxError):
    """A firmware build could not be completed (exit 1)."""


class FirmwareBuildError(FirmwareError):
    """A west step failed or timed out; the message has the command and its last lines."""


class FirmwareInputError(FirmwareError, ValueError):
    """An input or option was not usable (exit 2); nothing was started."""


@dataclass(frozen=True, slots=True)
class LevelReport:
    """Where one level's result came from and how long it took."""

    source: str
    seconds: float
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class BoardBuild:
    board: str
    source: Literal["incremental", "pristine"]
    seconds: float
    discarded: str | None = None


@dataclass(frozen=True, slots=True)
class FirmwareResult:
    """What ``compile`` wrote and where each level's part of it came from."""

    artifacts: list[Path]
    key: str
    commit: str
    boards: tuple[str, ...]
    firmware: LevelReport
    workspace: LevelReport | None
    builds: list[BoardBuild] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def from_cache(self) -> bool:
        return self.firmware.source in ("cache", "cache after wait", "remote cache")

    def as_dict(self) -> dict[str, Any]:
        return {
            "artifacts": [str(path) for path in self.artifacts],
            "key": self.key,
            "commit": self.commit,
            "boards": list(self.boards),
            "levels": {
                "firmware": {"source": self.firmware.source, "seconds": self.firmware.seconds},
                "workspace": None
                if self.workspace is None
                else {
                    "source": self.workspace.source,
                    "seconds": self.workspace.seconds,
                    "detail": self.workspace.detail,
                },
                "builds": [
                    {
                        "board": b.board,
                        "source": b.source,
                        "seconds": b.seconds,
                        "discarded": b.discarded,
                    }
                    for b in self.builds
                ],
            },
            "seconds": self.seconds,
        }


@dataclass(frozen=True, slots=True)
class Phase:
    """A progress event: ``started`` (``text`` names what runs) or a finished phase line."""

    name: str
    started: bool
    text: str
    command: str | None = None


PhaseCallback = Callable[[Phase], None]


def boards_for(board: str) -> tuple[str, ...]:
    """The west boards ``board`` builds (``glove80`` -> both halves)."""
    if not _BOARD.match(board):
        raise FirmwareInputError(
            f"--board {board!r}: not a board name (letters, digits, '_' and '-'; "
            "e.g. glove80, glove80_lh, nice_nano_v2)"
        )
    return SPLIT_BOARDS.get(board, (board,))


def check_output_dir(output_dir: Path) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise FirmwareInputError(f"{output_dir}: output exists and is not a directory")


def firmware_names(stem: str, boards: Sequence[str]) -> list[str]:
    """Output file names: ``<stem>.uf2`` (combined), then one per half for split boards."""
    if len(boards) == 1:
        return [f"{stem}.uf2"]
    return [f"{stem}.uf2", *(f"{stem}_{b.rpartition('_')[2]}.uf2" for b in boards)]


def write_firmware(output_dir: Path, stem: str, images: Sequence[tuple[str, bytes]]) -> list[Path]:
    """Write the images all or nothing; returns the absolute paths written.

    For a split board ``<stem>.uf2`` is the left image followed by the right one (what
    MoErgo's tools flash) and ``<stem>_lh.uf2``/``<stem>_rh.uf2`` are the halves. The
    files go through the layout outputs' all-or-nothing writer
    (:func:`glovebox.layout.files.replace_all`): every file is staged and synced first,
    and a failure (a full disk) puts back whatever was replaced.
    """
    from glovebox.layout.files import replace_all

    contents = [b"".join(data for _, data in images)]
    if len(images) > 1:
        contents += [data for _, data in images]
    names = firmware_names(stem, [board for board, _ in images])
    created = not output_dir.exists()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FirmwareError(
            f"{output_dir}: cannot create output directory: {exc.strerror or exc}"
        ) from None
    target = output_dir.resolve()
    paths = [target / name for name in names]
    try:
        replace_all(target, list(zip(paths, contents, strict=True)))
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                output_dir.rmdir()
        raise FirmwareError(
            f"{output_dir}: cannot write firmware: {exc.strerror or exc}; nothing was changed"
        ) from None
    return paths
