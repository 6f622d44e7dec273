"""The ``glovebox`` command line (typer + rich)."""
