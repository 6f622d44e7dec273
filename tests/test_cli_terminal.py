"""Tables on a real terminal: at 80 and 120 columns every figure of ``--json`` is whole.

The installed ``glovebox`` script runs on a pseudo-terminal of the given width (set on
the terminal before the child starts, as a resized terminal window would be); its output
is parsed back into ``{row: {column: cell}}`` whichever layout it chose (a table, or one
block of ``column: value`` lines per row) and compared with the ``--json`` document.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path
from typing import Any

import pytest

from glovebox.cli.formatting import (
    elide_middle,
    format_hit_rate,
    format_size,
    format_usage,
    print_table,
)
from glovebox.testing import IsolatedConfig
from tests.helpers import CHILD_TIMEOUT, GLOVEBOX
from tests.helpers import glovebox_ok as ok
from tests.workspace_helpers import make_workspace

WIDTHS = (80, 120)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LONG_BRANCH = "a-feature-branch-with-a-rather-long-name"


def on_terminal(columns: int, *args: str) -> list[str]:
    """The lines ``glovebox ARGS`` prints on a ``columns``-wide pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    child = subprocess.Popen(
        [str(GLOVEBOX), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert child.wait(timeout=CHILD_TIMEOUT) == 0, b"".join(chunks)
    text = ANSI.sub("", b"".join(chunks).decode())
    return text.replace("\r\n", "\n").split("\n")


def parsed(lines: list[str], columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The rows of a table or of record blocks, keyed by their first cell."""
    header = next((i for i, line in enumerate(lines) if line.split()[:1] == [columns[0]]), None)
    rows: dict[str, dict[str, str]] = {}
    if header is not None and re.split(r" {2,}", lines[header].strip())[0] == columns[0]:
        names = re.split(r" {2,}", lines[header].strip())
        for line in lines[header + 1 :]:
            cells = re.split(r" {2,}", line.strip())
            if len(cells) != len(names):
                break
            rows[cells[0]] = dict(zip(names, cells, strict=True))
        for line in lines:  # paths moved below the table
            match = re.fullmatch(r"(\w[\w ]*) of (\S+): (.*)", line.strip())
            if match and match.group(2) in rows:
                rows[match.group(2)][match.group(1)] = match.group(3)
        return rows
    current: dict[str, str] | None = None
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if line and not line.startswith(" ") and following.startswith("  "):
            current = rows.setdefault(line.strip(), {columns[0]: line.strip()})
        elif line.startswith("  ") and current is not None:
            name, _, value = line.strip().partition(":")
            current[name] = value.strip()
        else:
            current = None
    return rows


def assert_fits(lines: list[str], columns: int, *whole_paths: Path) -> None:
    """No line is wider than the terminal, except one that holds a whole path (the cache
    root in a title, a configuration file) and would fit without it."""
    for line in lines:
        if len(line) <= columns:
            continue
        path = next((str(p) for p in whole_paths if str(p) in line), None)
        assert path is not None, f"{len(line)} > {columns}: {line!r}"
        assert len(line.replace(path, "")) <= columns, line


def shown_path(cell: str, path: str) -> None:
    """A path cell is the path, or the path shortened in the middle by an ellipsis."""
    if "\u2026" in cell:
        head, _, tail = cell.partition("\u2026")
        assert path.startswith(head), (cell, path)
        assert path.endswith(tail), (cell, path)
    else:
        assert path.endswith(cell.rstrip("/")), (cell, path)


@pytest.fixture
def busy_cache(isolated_config: IsolatedConfig, tmp_path: Path) -> IsolatedConfig:
    """Entries, hits and misses in several domains and a workspace with a long key."""
    workspace = make_workspace(tmp_path / "ws")
    ok("cache", "workspace", "add", str(workspace), "-r", "zmkfirmware/zmk", "-b", LONG_BRANCH)
    for index in range(4):
        ok("cache", "set", f"k{index}", "v" * 5000 * index, "--tag", "layout")
    for _ in range(3):
        ok("cache", "get", "k1", "--tag", "layout")
    ok("cache", "set", "one", "1")
    for key in ("one", "two", "three"):
        subprocess.run([str(GLOVEBOX), "cache", "get", key], capture_output=True, check=False)
    return isolated_config


def json_of(*args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ok(*args, "--json").stdout)
    return document


STATS_COLUMNS = (
    "tag", "backend", "entries", "stored", "disk usage", "evictions", "errors", "hits",
    "misses", "hit rate", "path",
)  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_stats_shows_every_figure_whole(busy_cache: IsolatedConfig, width: int) -> None:
    document = json_of("cache", "stats")
    lines = on_terminal(width, "cache", "stats")
    assert_fits(lines, width, busy_cache.cache_path)
    rows = parsed(lines, STATS_COLUMNS)
    assert set(rows) == {d["tag"] for d in document["domains"]}
    for domain in document["domains"]:
        row = rows[domain["tag"]]
        usage = format_usage(domain["disk_bytes"], domain["size_limit_bytes"])
        if domain["workspace_bytes"]:
            usage += f", workspaces {format_size(domain['workspace_bytes'])}"
        assert row["entries"] == str(domain["entries"])
        assert row["stored"] == format_size(domain["entries_bytes"])
        assert row["disk usage"] == usage
        assert row["hits"] == str(domain["hits"])
        assert row["misses"] == str(domain["misses"])
        assert row["hit rate"] == format_hit_rate(domain["hit_rate"])
        assert row["evictions"] == str(domain["evictions"])
        assert row["errors"] == str(domain["errors"])
        shown_path(row["path"], domain["directory"])
    layout = rows["layout"]
    assert (layout["entries"], layout["hits"]) == ("4", "3")
    assert (rows["default"]["hits"], rows["default"]["misses"]) == ("1", "2")
    assert "space.reserve" in "\n".join(lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_show_keeps_each_decision_on_one_line(busy_cache: IsolatedConfig, width: int) -> None:
    document = json_of("cache", "show")
    lines = on_terminal(width, "cache", "show")
    assert_fits(lines, width, busy_cache.cache_path, *document["configuration_files"])
    columns = ("tag", "strategy", "decided by", "backend", "path", "entries", "disk usage")
    rows = parsed(lines, columns)
    for domain in document["domains"]:
        row = rows[domain["tag"]]
        assert row["strategy"] == domain["strategy"]  # "enabled", never "enabl"/"ed"
        assert row["decided by"] == domain["decided_by"]
        assert row["entries"] == str(domain["entries"])
        assert row["disk usage"].startswith(
            format_usage(domain["disk_bytes"], domain["size_limit_bytes"])
        )
        assert row["hit rate"] == format_hit_rate(domain["hit_rate"])


@pytest.mark.parametrize("width", WIDTHS)
def test_workspace_list_keeps_key_and_figures(busy_cache: IsolatedConfig, width: int) -> None:
    (workspace,) = json_of("cache", "workspace", "list")["workspaces"]
    lines = on_terminal(width, "cache", "workspace", "list")
    assert_fits(lines, width)
    columns = ("key", "repository", "revision", "disk usage", "files", "age", "expires")
    row = parsed(lines, columns)[workspace["key"]]
    assert row["repository"] == workspace["repository"]
    assert row["revision"] == f"{LONG_BRANCH} (branch)"
    assert row["disk usage"] == format_size(workspace["disk_bytes"])
    assert row["files"] == str(workspace["file_count"])
    assert re.fullmatch(r"\d+[smhd]", row["age"])
    assert re.fullmatch(r"in \d+[smhd]", row["expires"])


@pytest.mark.parametrize("width", WIDTHS)
def test_info_and_workspace_show_keep_figures(busy_cache: IsolatedConfig, width: int) -> None:
    info = json_of("cache", "info")
    lines = on_terminal(width, "cache", "info")
    rows = parsed(lines, ("tag", "strategy", "disk usage of limit"))
    for domain in info["domains"]:
        assert rows[domain["tag"]]["disk usage of limit"] == format_usage(
            domain["disk_bytes"], domain["size_limit_bytes"]
        )
    assert f"disk usage:    {format_size(info['disk_bytes'])}" in lines
    (workspace,) = json_of("cache", "workspace", "list")["workspaces"]
    shown = on_terminal(width, "cache", "workspace", "show", workspace["key"])
    fields = dict(line.split(":", 1) for line in shown if ":" in line)
    assert fields["disk usage"].strip() == format_size(workspace["disk_bytes"])
    assert fields["file size total"].strip() == format_size(workspace["apparent_bytes"])
    assert fields["files"].strip() == str(workspace["file_count"])
    assert fields["key"].strip() == workspace["key"]


def test_disk_usage_agrees_with_du_after_the_command(busy_cache: IsolatedConfig) -> None:
    document = json_of("cache", "stats", "--tag", "layout")
    directory = busy_cache.cache_path / "layout"
    du = subprocess.run(
        ["du", "-s", "--block-size=1", str(directory)], capture_output=True, text=True, check=True
    )
    assert document["domains"][0]["disk_bytes"] == int(du.stdout.split()[0])
    assert not (directory / "cache.db-wal").exists()


def test_elide_middle_keeps_more_of_the_end() -> None:
    path = "/home/someone/.cache/glovebox/compilation"
    short = elide_middle(path, 20)
    assert len(short) == 20
    assert short.endswith("glovebox/compilation"[-13:])
    assert short.startswith(path[:6])
    assert elide_middle(path, len(path)) == path


@pytest.mark.parametrize(
    ("width", "layout"), [(200, "whole"), (75, "shortened"), (55, "moved"), (30, "blocks")]
)
def test_tables_give_way_in_order_paths_then_blocks(width: int, layout: str) -> None:
    from rich.console import Console

    path = "/home/someone/.cache/glovebox/" + "deep/" * 6 + "layout"
    rows = [["layout", "123456", "9.5 MiB of 2.0 GiB (0%)", path]]
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=width, color_system=None)
    print_table(
        "T", ("tag", "entries", "disk usage", "path"), rows, paths=("path",), console=console
    )
    lines = screen.getvalue().splitlines()
    text = "\n".join(lines)
    assert "123456" in text
    assert "9.5 MiB of 2.0 GiB (0%)" in text
    expected = {
        "whole": lambda: path in text and "path of" not in text,
        "shortened": lambda: "\u2026" in text and "path of" not in text,
        "moved": lambda: any(line.startswith("path of layout: ") for line in lines),
        "blocks": lambda: "  entries:" in text,
    }
    assert expected[layout](), text
    # in blocks a figure wider than the terminal stays whole; the path is what gives way
    fitting = [line for line in lines if layout != "blocks" or "path" in line]
    assert all(len(line) <= width for line in fitting), text
