"""Every ``glovebox`` command answers bad input with one error line and exit code 2.

The commands are enumerated from the typer app, so a new command is covered as soon as
it exists; each of its parameters must be classified below (a kind of bad input, or
free-form), otherwise ``test_every_parameter_is_classified`` fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from containers.cli import main
from glovebox.cli.app import app
from glovebox.testing import IsolatedConfig

GLOVEBOX = Path(sys.executable).parent / "glovebox"

BAD_TAGS = ["", "../x", "GLOBAL", "Global", "t\u202e\u200b\U0001f511", "t" * 65, "[/x]", "a b"]
BAD_KEYS = ["", "k" * 1025]
BAD_TTLS = ["nan", "inf", "-1", "0", "abc", "1e400"]
BAD_SELECTORS = [""]  # --repository/--branch/--revision

# Parameter name -> bad values to try. Path parameters get missing and wrong-kind paths.
BAD_VALUES: dict[str, list[str]] = {
    "tag": BAD_TAGS,
    "key": BAD_KEYS,
    "ttl": BAD_TTLS,
    "repository": BAD_SELECTORS,
    "branch": BAD_SELECTORS,
    "revision": BAD_SELECTORS,
    "older_than": ["", "30", "5x", "-1d", "0d", "d"],
    "board": ["", "glove 80", "../x", "b" * 200],  # firmware compile
    "runner": ["", "podman", "Native"],
}
# Parameters where any text is valid input (nothing to refuse).
FREE_FORM = {"value", "pattern"}
FILLERS = {"key": "k", "value": "v"}


def leaf_commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, click command) of every runnable command, e.g. (("cache", "get"), <get>)."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        children = getattr(command, "commands", None)
        if children:
            for name, child in sorted(children.items()):
                yield from walk(child, (*path, name))
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), ())


def _annotation(param: Any) -> Any:
    return getattr(getattr(param, "type_descriptor", None), "annotation", None)


def is_path(param: Any) -> bool:
    return _annotation(param) in (Path, list[Path])


def is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False)) or _annotation(param) is bool


class Invocation:
    """Builds argument lists for one command: required arguments filled with valid values."""

    def __init__(self, path: tuple[str, ...], command: Any, workdir: Path) -> None:
        self.path = path
        self.command = command
        self.workdir = workdir

    def filler(self, param: Any) -> str:
        if is_path(param):
            # An existing directory for sources, a fresh file name for outputs.
            return (
                str(self.workdir / "source")
                if param.name == "source"
                else str(self.workdir / "out.tar.gz")
            )
        return FILLERS.get(str(param.name), "x")

    def args(self, override: Any = None, value: str | None = None) -> list[str]:
        args = list(self.path)
        for param in self.command.params:
            is_argument = param.param_type_name == "argument"
            if param is override:
                if is_argument:
                    args.append(value if value is not None else "")
                else:
                    args += [param.opts[0], value if value is not None else ""]
            elif is_argument and param.required:
                args.append(self.filler(param))
        return args

    def bad_cases(self) -> Iterator[list[str]]:
        if any(param.required for param in self.command.params):
            yield list(self.path)  # a required argument missing
        for param in self.command.params:
            if is_flag(param) or param.name in FREE_FORM:
                continue
            if is_path(param):
                values = [str(self.workdir / "missing" / "nothing"), str(self.workdir / "dir/")]
            else:
                values = BAD_VALUES[str(param.name)]
            for value in values:
                yield self.args(param, value)
        yield [*self.args(), "--no-such-option"]


def bad_config_files(workdir: Path) -> list[Path]:
    files = {
        "deep.yaml": "cache: " + "[" * 5000 + "]" * 5000 + "\n",
        "laughs.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"a{n}: &a{n} [{', '.join(['*a' + (str(n - 1) if n > 1 else '')] * 10)}]\n"
            for n in range(1, 9)
        ),
        "infinite.yaml": "cache:\n  max_size_gb: .inf\n",
        "global-tag.yaml": "cache:\n  domains:\n    GLOBAL:\n      strategy: memory\n",
        "not-yaml.yaml": "cache: [\n",
    }
    paths = []
    for name, text in files.items():
        path = workdir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return [*paths, workdir / "absent.yaml", workdir]


def run_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + "\n<stderr>\n" + captured.err


def assert_refused(code: int, output: str, args: list[str]) -> None:
    shown = [arg[:40] for arg in args]
    err = output.split("\n<stderr>\n", 1)[1]
    assert "Traceback" not in output, (shown, output[-3000:])
    assert code == 2, (shown, code, output[-1000:])
    lines = err.strip().splitlines()
    assert len(lines) == 1, (shown, err)
    assert lines[0].startswith("error: "), (shown, err)
    assert len(lines[0]) < 600, (shown, len(lines[0]))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "source").mkdir()
    (tmp_path / "dir").mkdir()
    return tmp_path


def test_the_enumeration_finds_every_command_group() -> None:
    paths = {path for path, _ in leaf_commands()}
    expected = {
        ("cache", "get"),
        ("cache", "delete"),
        ("cache", "workspace", "add"),
        ("layout", "compile"),
        ("layout", "show"),
    }
    assert expected <= paths


def test_every_parameter_is_classified() -> None:
    unknown = [
        (path, param.name)
        for path, command in leaf_commands()
        for param in command.params
        if not (is_flag(param) or is_path(param) or param.name in FREE_FORM | BAD_VALUES.keys())
    ]
    assert not unknown, f"add bad inputs for these parameters to BAD_VALUES or FREE_FORM: {unknown}"


def bad_argument_lists(invocation: Invocation, workdir: Path) -> Iterable[list[str]]:
    return invocation.bad_cases()


def bad_configuration_lists(invocation: Invocation, workdir: Path) -> Iterable[list[str]]:
    good = invocation.args()
    return [["--config", str(config), *good] for config in bad_config_files(workdir)]


@pytest.mark.parametrize(
    "bad_inputs",
    [bad_argument_lists, bad_configuration_lists],
    ids=["arguments", "configuration"],
)
@pytest.mark.parametrize("path", [path for path, _ in leaf_commands()], ids=" ".join)
def test_bad_input_is_refused_in_one_line(
    isolated_config: IsolatedConfig,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    path: tuple[str, ...],
    bad_inputs: Callable[[Invocation, Path], Iterable[list[str]]],
) -> None:
    """Bad arguments, or a bad configuration file under good arguments, for every command."""
    invocation = Invocation(path, dict(leaf_commands())[path], workdir)
    for args in bad_inputs(invocation, workdir):
        assert_refused(*run_in_process(args, capsys), args)


@pytest.mark.parametrize(
    "args",
    [
        ["cache", "get", ""],
        ["cache", "get", "k" * 1025],
        ["cache", "delete", ""],
        ["cache", "set", "k", "v", "--tag", ""],
        ["cache", "keys", "--tag", "[/x]"],
        ["cache", "stats", "--tag", "GLOBAL"],
        ["cache", "set", "k", "v", "--ttl", "soon"],
    ],
    ids=lambda args: " ".join(arg[:12] for arg in args),
)
def test_installed_script_refuses_bad_input_in_one_line(
    isolated_config: IsolatedConfig, args: list[str]
) -> None:
    result = subprocess.run(
        [str(GLOVEBOX), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert_refused(result.returncode, result.stdout + "\n<stderr>\n" + result.stderr, args)


def test_empty_tag_never_writes_to_the_default_cache(
    isolated_config: IsolatedConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "set", "k", "v", "--tag", ""]) == 2
    capsys.readouterr()
    assert main(["cache", "get", "k"]) == 1  # the default cache holds nothing
    assert "miss" in capsys.readouterr().err


def test_markup_in_a_missing_key_is_printed_verbatim(
    isolated_config: IsolatedConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "get", "[/x][bold]"]) == 1
    assert "'[/x][bold]' is not in the 'default' cache" in capsys.readouterr().err


def test_unexpected_errors_are_one_line_with_exit_code_3(
    isolated_config: IsolatedConfig,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: object, key: str, default: object = None) -> object:
        raise RuntimeError("disk on fire")

    from glovebox.core.cache_v2 import DiskCacheManager

    assert main(["cache", "set", "k", "v"]) == 0  # the cache exists, so get reads it
    monkeypatch.setattr(DiskCacheManager, "get", broken)
    assert main(["cache", "get", "k"]) == 3  # a bug, never 1 ("not found"): docs/cli.md
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: unexpected RuntimeError: 'disk on fire'; run with --debug to see the traceback"
    ]
    assert main(["--debug", "cache", "get", "k"]) == 3
    assert "Traceback" in capsys.readouterr().err
