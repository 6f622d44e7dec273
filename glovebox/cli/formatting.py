"""How the CLI writes sizes for people."""

from __future__ import annotations

__all__ = ["format_size"]


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``120.0 MiB``... (binary units, one decimal above bytes)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
