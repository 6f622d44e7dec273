"""Firmware builds: a Glove80 layout or ZMK keymap to flashable ``.uf2`` files.

``compile_firmware`` is the Python API of ``glovebox firmware compile``: pass the
container (its ``firmware_service``) or a service, or let it wire one from the
configuration files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from glovebox._lazy import lazy_attributes
from glovebox.firmware.results import (
    SPLIT_BOARDS,
    BoardBuild,
    FirmwareBuildError,
    FirmwareError,
    FirmwareInputError,
    FirmwareResult,
    LevelReport,
    Phase,
    PhaseCallback,
    boards_for,
    firmware_names,
    write_firmware,
)

if TYPE_CHECKING:
    from glovebox.firmware.service import FirmwareService, workspace_config_for

# The service (and the compilation stack under it) is imported on first use: serving a
# build from the firmware level needs only the light modules above.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "FirmwareService": "glovebox.firmware.service",
        "workspace_config_for": "glovebox.firmware.service",
    },
)

__all__ = [
    "SPLIT_BOARDS",
    "BoardBuild",
    "FirmwareBuildError",
    "FirmwareError",
    "FirmwareInputError",
    "FirmwareResult",
    "FirmwareService",
    "LevelReport",
    "Phase",
    "PhaseCallback",
    "boards_for",
    "compile_firmware",
    "firmware_names",
    "workspace_config_for",
    "write_firmware",
]


def compile_firmware(
    source: Path | str,
    output_dir: Path | str,
    *,
    conf: Path | str | None = None,
    board: str | None = None,
    repository: str | None = None,
    revision: str | None = None,
    runner: str | None = None,
    use_cache: bool = True,
    update: bool = False,
    on_phase: PhaseCallback | None = None,
    service: FirmwareService | None = None,
    container: Any = None,
) -> FirmwareResult:
    """Build the firmware for ``source`` (layout ``.json`` or ``.keymap``) into ``output_dir``.

    Options left as None come from the ``compilation`` configuration. The service is
    ``service``, else ``container.firmware_service()``, else one wired from the
    configuration files (:func:`~glovebox.firmware.service.create_default_firmware_service`).
    """

    def run(chosen: FirmwareService) -> FirmwareResult:
        return chosen.compile(
            Path(source),
            Path(output_dir),
            conf=None if conf is None else Path(conf),
            board=board,
            repository=repository,
            revision=revision,
            runner=runner,
            use_cache=use_cache,
            update=update,
            on_phase=on_phase,
        )

    if service is not None:
        return run(service)
    if container is not None:
        return run(container.firmware_service())
    from glovebox.config import load_user_config
    from glovebox.firmware.service import create_default_firmware_service

    return run(create_default_firmware_service(load_user_config()))
