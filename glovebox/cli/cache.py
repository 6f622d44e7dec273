"""``glovebox cache ...``: look at and control the caches of each domain.

Inspection commands (``stats``, ``show``, ``keys``, ``info``, ``dir``) count no hits or
misses and create nothing; see :mod:`glovebox.cli.domains`. ``--json`` documents are
described in ``docs/cli.md``.
"""

from __future__ import annotations

import typer

from glovebox.cli.cache_common import format_decision, known_tags
from glovebox.cli.cache_inspect import dir_, get, info, keys, show, stats
from glovebox.cli.cache_manage import cleanup, clear, delete, prune, remove, set_
from glovebox.cli.formatting import fail
from glovebox.cli.remote import remote_app
from glovebox.cli.workspace import workspace_app

__all__ = ["cache_app", "format_decision", "known_tags"]

cache_app = typer.Typer(help="Inspect and manage the cache of each domain.", no_args_is_help=True)
cache_app.add_typer(workspace_app, name="workspace")
cache_app.add_typer(remote_app, name="remote")

# Registered here, in this order, which is the order of ``glovebox cache --help``.
for _name, _command in (
    ("stats", stats),
    ("show", show),
    ("keys", keys),
    ("get", get),
    ("set", set_),
    ("delete", delete),
    ("clear", clear),
    ("remove", remove),
    ("cleanup", cleanup),
    ("prune", prune),
    ("dir", dir_),
    ("info", info),
):
    cache_app.command(_name)(_command)

if __name__ == "__main__":
    # The commands need the container that only the composition root builds.
    raise SystemExit(
        fail(
            "glovebox.cli.cache is not a program of its own; run `glovebox cache ...` "
            "(the entry point configures the caches)"
        ).exit_code
    )
