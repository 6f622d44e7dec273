"""What scripts rely on: exit codes, JSON error documents, global options anywhere, and
the behaviour of clear, prune, dir and keys that a new user meets first.

Commands are found by walking the command tree, so commands added later (a ``firmware``
group, ``cache remote``) are covered by the same checks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from glovebox.cli.app import GLOBAL_FLAGS, GLOBAL_VALUE_OPTIONS, app, hoist_global_options
from glovebox.cli.formatting import EXIT_CODES, SCHEMA_VERSION
from glovebox.testing import IsolatedConfig
from glovebox.testing.redis_server import RedisServer
from tests.helpers import glovebox_ok as ok
from tests.helpers import run_glovebox as run
from tests.helpers import write_yaml

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def commands(
    command: Any = None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command below ``glovebox``, with its path."""
    command = typer.main.get_command(app) if command is None else command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))
    else:
        yield path, command


def json_commands() -> list[tuple[str, ...]]:
    return [
        path
        for path, command in commands()
        if any("--json" in param.opts for param in command.params)
    ]


def error_document(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    assert document["schema_version"] == SCHEMA_VERSION
    assert set(document) == {"schema_version", "command", "error"}
    assert set(document["error"]) == {"exit_code", "kind", "message", "messages"}
    return document


# Exit codes -------------------------------------------------------------------------------


def test_the_exit_code_table_of_the_docs_is_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", section, re.MULTILINE)
    assert {int(code): kind for code, kind in rows} == EXIT_CODES


def test_a_miss_is_1_and_a_cache_that_cannot_exist_is_2(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    assert run("cache", "get", "k").returncode == 1
    config = write_yaml(tmp_path / "proc.yaml", "cache_path: /proc/nope\n")
    result = run("--config", str(config), "cache", "get", "k")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: the 'default' cache could not be opened: cannot create cache directory "
        "/proc/nope/default: No such file or directory"
    ]
    assert not (isolated_config.cache_path / "default").exists()


def test_an_unusable_output_directory_of_layout_compile_is_2(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    layout = Path(__file__).resolve().parent.parent / "docs" / "examples" / "glove80-example.json"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run("layout", "compile", str(layout), str(blocker / "out"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# JSON error documents -----------------------------------------------------------------------


def test_the_json_commands_are_found() -> None:
    found = json_commands()
    assert ("cache", "stats") in found
    assert ("cache", "prune") in found
    assert ("cache", "workspace", "list") in found


@pytest.mark.parametrize("path", json_commands(), ids=" ".join)
def test_every_json_command_prints_an_error_document(
    path: tuple[str, ...], isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    usage = run(*path, "--json", "--no-such-option")
    assert usage.returncode == 2
    document = error_document(usage.stdout)
    assert document["command"] == " ".join(path)
    assert document["error"]["exit_code"] == 2
    assert document["error"]["kind"] == "error"
    assert "--no-such-option" in document["error"]["message"]
    assert usage.stderr.startswith("error: No such option")

    broken = write_yaml(tmp_path / "broken.yaml", "cache:\n  timeout: soon\n")
    _, command = next(item for item in commands() if item[0] == path)
    if any(param.required for param in command.params):
        return  # its arguments are checked before the configuration is read
    started = run("--config", str(broken), *path, "--json")
    assert started.returncode == 2
    document = error_document(started.stdout)
    assert "timeout" in document["error"]["message"]
    assert document["error"]["message"] in started.stderr


def test_not_found_with_json_is_a_document_with_code_1(isolated_config: IsolatedConfig) -> None:
    key = "zmkfirmware_zmk_main-" + "a" * 20
    result = run("cache", "workspace", "show", key, "--json")
    if result.returncode == 2:  # the key format is checked first
        pytest.fail(result.stderr)
    assert result.returncode == 1
    document = error_document(result.stdout)
    assert document["error"]["kind"] == "not_found"
    assert "is not cached" in document["error"]["message"]
    # get --json answers a miss with its own document (found: false), not an error one
    miss = run("cache", "get", "absent", "--json")
    assert miss.returncode == 1
    assert json.loads(miss.stdout)["found"] is False


def test_a_failing_command_without_json_prints_nothing_on_stdout(
    isolated_config: IsolatedConfig,
) -> None:
    result = run("cache", "stats", "--tag", "nope")
    assert (result.returncode, result.stdout) == (2, "")


# Global options anywhere ----------------------------------------------------------------------


def test_no_command_defines_an_option_named_like_a_global_one() -> None:
    globals_ = set(GLOBAL_FLAGS) | set(GLOBAL_VALUE_OPTIONS)
    for path, command in commands():
        for param in command.params:
            assert not globals_ & set(param.opts + param.secondary_opts), (path, param.opts)


def test_global_options_are_hoisted_before_the_command() -> None:
    assert hoist_global_options(["layout", "compile", "--debug", "a.json", "out"]) == [
        "--debug", "layout", "compile", "a.json", "out",
    ]  # fmt: skip
    assert hoist_global_options(["cache", "stats", "-c", "x.yaml", "-q"]) == [
        "-c", "x.yaml", "-q", "cache", "stats",
    ]  # fmt: skip
    assert hoist_global_options(["cache", "set", "k", "--", "--debug"]) == [
        "cache", "set", "k", "--", "--debug",
    ]  # fmt: skip


def test_global_options_work_after_the_command(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    result = run("cache", "stats", "--debug", "--tag", "default")
    assert result.returncode == 0, result.stderr
    assert "DEBUG glovebox" in result.stderr
    config = write_yaml(
        tmp_path / "c.yaml", "cache:\n  domains:\n    layout: {strategy: disabled}\n"
    )
    shown = json.loads(ok("cache", "show", "--json", "--config", str(config)).stdout)
    layout = next(d for d in shown["domains"] if d["tag"] == "layout")
    assert layout["strategy"] == "disabled"
    ok("cache", "set", "k", "v")
    assert ok("cache", "clear", "--tag", "default", "--yes", "--quiet").stdout == ""
    ok("cache", "set", "k", "v")
    assert ok("cache", "clear", "--tag", "default", "--yes").stdout != ""


# clear, prune, dir, keys ------------------------------------------------------------------------


def test_clear_without_a_tag_clears_every_domain_after_asking(
    isolated_config: IsolatedConfig,
) -> None:
    ok("cache", "set", "a", "1")
    ok("cache", "set", "b", "2", "--tag", "layout")
    declined = run("cache", "clear", input="n\n")
    assert declined.returncode == 1
    assert "Remove everything in all 5 domains: 2 entries" in declined.stdout
    assert "  layout: 1 entry" in declined.stdout
    assert ok("cache", "get", "b", "--tag", "layout").stdout == "2\n"
    unanswered = run("cache", "clear", input="")
    assert unanswered.returncode == 1
    assert "--yes" in unanswered.stderr
    assert ok("cache", "get", "a").stdout == "1\n"
    cleared = ok("cache", "clear", input="y\n").stdout
    assert "cleared 1 entry from 'default'" in cleared
    assert "cleared 1 entry from 'layout'" in cleared
    assert run("cache", "get", "b", "--tag", "layout").returncode == 1


def test_prune_asks_and_reports_as_json(isolated_config: IsolatedConfig) -> None:
    ok("cache", "set", "short", "v", "--ttl", "0.01", "--tag", "layout")
    declined = run("cache", "prune", input="n\n")
    assert declined.returncode == 1
    assert "nothing was pruned" in declined.stderr
    assert "Remove expired entries and orphaned workspaces from all 5 domains?" in declined.stdout
    result = ok("cache", "prune", "--json", "--yes")
    document = json.loads(result.stdout)
    assert document["command"] == "cache prune"
    layout = next(d for d in document["domains"] if d["tag"] == "layout")
    assert layout == {"tag": "layout", "expired": 1, "older": 0, "workspaces": 0}
    # asked with --json: the question goes to stderr, stdout stays one document
    asked = run("cache", "prune", "--json", input="y\n")
    assert asked.returncode == 0
    assert json.loads(asked.stdout)["command"] == "cache prune"
    assert "Remove expired entries" in asked.stderr


def test_dir_help_says_what_it_prints(isolated_config: IsolatedConfig) -> None:
    text = " ".join(ok("cache", "dir", "--help").stdout.split())
    assert "default: the cache root" in text
    assert "every domain" not in text
    assert ok("cache", "dir").stdout == f"{isolated_config.cache_path}\n"


@pytest.mark.parametrize("key", ["two\nlines", "trailing\n", "cr\rhere", "sep\u2028x"])
def test_a_key_with_a_line_break_is_refused_in_one_line(
    isolated_config: IsolatedConfig, key: str
) -> None:
    for args in (("set", key, "v"), ("get", key), ("delete", key)):
        result = run("cache", *args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "one line" in result.stderr
    assert not (isolated_config.cache_path / "default").exists()


def test_debug_names_the_redis_server_of_a_redis_domain_not_a_directory(
    redis_server: RedisServer, isolated_config: IsolatedConfig
) -> None:
    env = {
        "GLOVEBOX_CACHE_LAYOUT": "redis",
        "GLOVEBOX_CACHE_REDIS_URL": redis_server.url,
        "GLOVEBOX_CACHE_REDIS_SECRET": "a-secret-shared-by-every-machine",
        "GLOVEBOX__CACHE__REDIS__KEY_PREFIX": "debugline",
    }
    result = run("cache", "set", "k", "v", "--tag", "layout", "--debug", env=env)
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "'layout' keeps its data" in line]
    assert line.endswith(f"on the redis server {redis_server.url} under debugline:layout:")
    assert str(isolated_config.cache_path) not in line
    disk = run("cache", "set", "k", "v", "--debug")
    (line,) = [line for line in disk.stderr.splitlines() if "keeps its data" in line]
    assert line.endswith(
        f"'default' keeps its data on disk in {isolated_config.cache_path / 'default'}"
    )


def test_running_in_process_leaves_logging_as_it_was(isolated_config: IsolatedConfig) -> None:
    from containers.cli import main

    logger = logging.getLogger("glovebox")
    before = (logger.handlers[:], logger.level, logger.propagate)
    assert main(["cache", "dir", "--debug"]) == 0
    assert (logger.handlers[:], logger.level, logger.propagate) == before
