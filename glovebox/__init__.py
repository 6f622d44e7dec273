"""Glovebox: ZMK keyboard firmware tooling built on a shared, domain-isolated cache."""

__version__ = "0.1.0"
