"""Serving a repeat build from the firmware level with the least work a process can do.

A repeat ``glovebox firmware compile`` of the same inputs should cost about as much as
starting the command. This module answers it without the compilation stack (no pydantic
models of the workspace cache, no west adapters): the request as given (repository,
revision, board, runner, image) was recorded by the full service with the workspace key
it resolved to; the build area's record of that workspace gives the commit; the firmware
key follows; the firmware level serves the images. Anything missing or stale is a
``None`` and the full :class:`~glovebox.firmware.service.FirmwareService` runs instead,
which checks everything again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glovebox.compilation.firmware_store import firmware_key
from glovebox.compilation.levels import build_area, firmware_store
from glovebox.firmware.results import (
    FirmwareResult,
    LevelReport,
    Phase,
    PhaseCallback,
    boards_for,
    check_output_dir,
    write_firmware,
)
from glovebox.layout.service import GENERATOR_VERSION, LayoutService

__all__ = ["request_identity", "served_from_cache"]


def request_identity(
    *, repository: str, revision: str, runner: str, image: str | None, boards: Sequence[str]
) -> dict[str, Any]:
    """What a request names before validation: equal requests resolve to one workspace."""
    return {
        "repository": repository,
        "revision": revision,
        "runner": runner,
        "image": image,
        "boards": list(boards),
    }


def served_from_cache(
    *,
    layout_service: LayoutService,
    settings: Mapping[str, Any],
    cache_path: Path,
    source: Path,
    output_dir: Path,
    conf: Path | None = None,
    board: str | None = None,
    repository: str | None = None,
    revision: str | None = None,
    runner: str | None = None,
    on_phase: PhaseCallback | None = None,
) -> FirmwareResult | None:
    """The stored firmware for this request written to ``output_dir``, or None.

    ``settings`` is the validated ``compilation`` section as plain data. Bad input raises
    the same errors the full service raises (``FirmwareInputError``, ``LayoutError``).
    """
    started = time.perf_counter()
    boards = boards_for(str(settings["board"]) if board is None else board)
    chosen_runner = str(settings["west_runner"]) if runner is None else runner
    if chosen_runner not in ("native", "docker"):
        return None
    image = str(settings["docker_image"]) if chosen_runner == "docker" else None
    store = firmware_store(cache_path)
    answer = store.recall_request(
        request_identity(
            repository=str(settings["zmk_repository"]) if repository is None else repository,
            revision=str(settings["zmk_revision"]) if revision is None else revision,
            runner=chosen_runner,
            image=image,
            boards=boards,
        )
    )
    if answer is None:
        return None
    suffix = source.suffix.lower()
    if suffix == ".json" and conf is None:
        compiled = layout_service.compile(source)
        keymap, conf_bytes = compiled.keymap.encode("utf-8"), compiled.conf.encode("utf-8")
    elif suffix == ".keymap":
        try:
            keymap = source.read_bytes()
            conf_bytes = b"" if conf is None else conf.read_bytes()
        except OSError:
            return None  # the full service reports it
    else:
        return None
    record = build_area(cache_path).record(str(answer.get("workspace_key")))
    if record is None or record.expired:
        return None
    key = firmware_key(
        keymap=keymap,
        conf=conf_bytes,
        boards=boards,
        repository=str(answer.get("repository")),
        commit=record.commit,
        runner=chosen_runner,
        image=image,
        generator_version=GENERATOR_VERSION,
    )
    entry = store.get(key, boards)
    if entry is None:
        return None
    check_output_dir(output_dir)
    images = [(board_name, entry.images[board_name].read_bytes()) for board_name in boards]
    report = LevelReport("cache", time.perf_counter() - started)
    if on_phase is not None:
        on_phase(Phase("firmware", False, f"firmware: from cache ({report.seconds:.2f} s)"))
    artifacts = write_firmware(output_dir, source.stem, images)
    return FirmwareResult(
        artifacts=artifacts,
        key=key,
        commit=record.commit,
        boards=boards,
        firmware=report,
        workspace=None,
        seconds=time.perf_counter() - started,
    )
