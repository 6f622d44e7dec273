"""Every ``glovebox`` command shown in README.md and docs/*.md is a real command.

Two kinds of examples are found in the markdown, whoever added them:

* Command lines in fenced blocks (```bash, ```sh, ```console or a bare fence), one per
  line, ``$ `` prompts allowed: they are **run**, block by block and in order, with the
  installed script, in an isolated ``HOME`` and a working directory holding the fixtures
  below. Each must exit 0, or the code named by a trailing ``# exit N`` comment. A block
  that cannot run here (it needs a Redis server, a real ``west``, network) is preceded by
  an HTML comment saying why, ``<!-- not run: needs a Redis server -->``; its commands
  are still checked as synopses. A block preceded by ``<!-- with an S3 server: ... -->``
  runs with the remote tier pointed at a fresh bucket of the test SeaweedFS server
  (``GLOVEBOX_CACHE_REMOTE_*``, ``GLOVEBOX_CACHE_SECRET`` and ``AWS_*`` set).
* ``glovebox ...`` in inline code (prose and tables) is a **synopsis**, with placeholders
  (``KEY``, ``FILE``, ``<version>``, ``...``): its command path must exist and every
  option it names must be an option of that command or a global one. ``a / b`` and
  ``a|b`` list alternative subcommands.

Fixtures in the working directory: ``my-layout.json`` (docs/examples/glove80-example.json)
and ``zmk-workspace/`` (a west-like workspace tree).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from glovebox.cli.app import app
from glovebox.testing import IsolatedConfig
from tests.helpers import CHILD_TIMEOUT, GLOVEBOX
from tests.workspace_helpers import make_workspace

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->")
WITH_S3 = re.compile(r"<!--\s*with an S3 server:")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[\w-]*)\s*$")
INLINE = re.compile(r"`(glovebox(?: [^`]+)?)`")


@dataclass(frozen=True)
class Block:
    """The command lines of one fenced block."""

    file: str
    line: int
    commands: tuple[str, ...]
    not_run: str | None
    with_s3: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def blocks_and_spans(path: Path) -> tuple[list[Block], list[str]]:
    """The fenced command blocks and the inline ``glovebox`` spans of one markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            prose.append(lines[index])
            index += 1
            continue
        start = index
        body = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        if opening.group("info") not in SHELL_FENCES:
            continue
        commands = tuple(
            stripped
            for raw in body
            if (stripped := raw.strip().removeprefix("$ ")).startswith("glovebox ")
            or stripped == "glovebox"
        )
        if not commands:
            continue
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        marker = NOT_RUN.search(before)
        name = str(path.relative_to(ROOT))
        reason = marker and marker.group("reason")
        blocks.append(Block(name, start + 1, commands, reason, bool(WITH_S3.search(before))))
    spans = [" ".join(text.split()) for text in INLINE.findall("\n".join(prose))]
    return blocks, spans


ALL_BLOCKS = [block for path in MARKDOWN for block in blocks_and_spans(path)[0]]
ALL_SYNOPSES = sorted(
    {
        (str(path.relative_to(ROOT)), span)
        for path in MARKDOWN
        for span in [
            *blocks_and_spans(path)[1],
            *(c for b in blocks_and_spans(path)[0] for c in b.commands),
        ]
    }
)


# Synopses ---------------------------------------------------------------------------------


def _placeholder(word: str) -> bool:
    return (
        word.isupper()
        or word.startswith("<")
        or "..." in word
        or word in {"-", "|", "/"}
        or bool(re.fullmatch(r"[A-Z_|.]+", word))
    )


def _options(command: Any) -> dict[str, bool]:
    """The options of ``command``, each with whether it takes a value."""
    return {
        opt: not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
    }


def check_synopsis(text: str) -> None:
    """Fail with what is wrong if ``text`` names a command or option that does not exist."""
    root = typer.main.get_command(app)
    global_options = _options(root) | {"--help": False, "-h": False}
    text = text.replace("\\|", "|")
    parts = text.split(" / ")
    first = shlex.split(parts[0], comments=True)
    prefix: list[str] = []
    for number, part in enumerate(parts):
        words = first if number == 0 else [*prefix, *shlex.split(part, comments=True)]
        assert words[0] == "glovebox", text
        command: Any = root
        path: list[str] = []
        skip = False
        for raw in words[1:]:
            word = raw.strip("[](),")
            if skip or not word:
                skip = False
                continue
            if word.startswith("-") and word not in {"-", "--"}:
                option = word.split("=", 1)[0]
                known = {**global_options, **_options(command)}
                assert option in known, (
                    f"{text!r}: {' '.join(path) or 'glovebox'} has no option {option}"
                )
                skip = known[option] and "=" not in word
            elif isinstance(command, TyperGroup):
                names = [name for name in word.split("|") if name]
                if all(name in command.commands for name in names):
                    if len(names) == 1:
                        command = command.commands[names[0]]
                        path.append(names[0])
                        continue
                    break
                assert _placeholder(word), f"{text!r}: no command {word!r} in {path}"
        if number == 0:
            prefix = ["glovebox", *path[:-1]]


def test_the_markdown_has_examples_of_both_kinds() -> None:
    assert any(not block.not_run for block in ALL_BLOCKS)
    assert len(ALL_SYNOPSES) > 20


@pytest.mark.parametrize(("file", "text"), ALL_SYNOPSES, ids=[f"{f}: {t}" for f, t in ALL_SYNOPSES])
def test_every_documented_command_exists(file: str, text: str) -> None:
    check_synopsis(text)


@pytest.mark.parametrize(
    "text",
    [
        "glovebox cache workspace export OUT.tar.gz --key KEY",
        "glovebox cache purge",
        "glovebox layout compile --fast a.json out",
    ],
)
def test_a_wrong_synopsis_is_caught(text: str) -> None:
    with pytest.raises(AssertionError):
        check_synopsis(text)


# Runnable examples ----------------------------------------------------------------------------


def _expected_code(line: str) -> int:
    match = re.search(r"#.*\bexit (\d+)\b", line)
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if not b.not_run], ids=str)
def test_every_example_block_runs(
    block: Block,
    isolated_config: IsolatedConfig,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if block.with_s3:
        from tests.remote_fixtures import REMOTE_SECRET

        bucket = request.getfixturevalue("remote_bucket")  # sets the AWS_* keys too
        monkeypatch.setenv("GLOVEBOX_CACHE_REMOTE_URL", bucket.url)
        monkeypatch.setenv("GLOVEBOX_CACHE_REMOTE_ENDPOINT", bucket.server.endpoint)
        monkeypatch.setenv("GLOVEBOX_CACHE_REMOTE_REGION", "us-east-1")
        monkeypatch.setenv("GLOVEBOX_CACHE_SECRET", REMOTE_SECRET.decode())
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "docs" / "examples" / "glove80-example.json", work / "my-layout.json")
    make_workspace(work / "zmk-workspace")
    for line in block.commands:
        argv = shlex.split(line, comments=True)
        result = subprocess.run(
            [str(GLOVEBOX), *argv[1:]],
            cwd=work,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        assert result.returncode == _expected_code(line), (
            f"{block}: {line}\n{result.stdout}\n{result.stderr}"
        )


def test_some_blocks_run_against_the_s3_server() -> None:
    assert any(block.with_s3 and not block.not_run for block in ALL_BLOCKS)


def test_blocks_that_are_not_run_say_why() -> None:
    for block in ALL_BLOCKS:
        if block.not_run is not None:
            assert len(block.not_run.split()) >= 2, block
