"""Every test in this suite can fail: it checks something, and checks it narrowly enough.

A test function must contain an ``assert``, a ``pytest.raises``/``warns``/``fail``, a call
of an ``assert_*`` method (pytester's ``assert_outcomes``) or a call of a helper that itself
asserts. Nowhere may a test assert a constant, expect any ``Exception`` at all, or swallow
every exception in an ``except`` that does nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHECKING_CALLS = {"raises", "warns", "fail", "fnmatch_lines"}
BROAD = {"Exception", "BaseException"}


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _checks_directly(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Assert):
            return True
        if isinstance(inner, ast.Call):
            name = _called_name(inner)
            if name in CHECKING_CALLS or name.startswith("assert"):
                return True
    return False


def asserting_helpers(sources: Iterable[str]) -> set[str]:
    """Names of the non-test functions in ``sources`` that check something themselves."""
    return {
        node.name
        for source in sources
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("test")
        and _checks_directly(node)
    }


def _names_broad(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    if kinds is None:
        return True
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(isinstance(name, ast.Name) and name.id in BROAD for name in names)


def _swallows(handler: ast.ExceptHandler) -> bool:
    """A handler for every exception whose body does nothing with it."""
    inert = all(isinstance(stmt, ast.Pass | ast.Continue | ast.Return) for stmt in handler.body)
    return inert and _names_broad(handler)


def findings(source: str, filename: str, helpers: set[str]) -> list[str]:
    """What in ``source`` makes a test unable to fail, one line per place."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            calls = {_called_name(n) for n in ast.walk(node) if isinstance(n, ast.Call)}
            if not _checks_directly(node) and not calls & helpers:
                found.append(f"{where}: {node.name} checks nothing")
        elif isinstance(node, ast.Assert) and isinstance(node.test, ast.Constant):
            found.append(f"{where}: assert of a constant")
        elif isinstance(node, ast.Call) and _called_name(node) == "raises" and node.args:
            expected = node.args[0]
            names = expected.elts if isinstance(expected, ast.Tuple) else [expected]
            if any(isinstance(name, ast.Name) and name.id in BROAD for name in names):
                found.append(f"{where}: pytest.raises accepts any exception")
        elif isinstance(node, ast.ExceptHandler) and _swallows(node):
            found.append(f"{where}: broad except swallows the error")
    return found


def test_every_test_in_the_suite_can_fail() -> None:
    sources = {path.name: path.read_text(encoding="utf-8") for path in TESTS.glob("*.py")}
    helpers = asserting_helpers(sources.values())
    modules = {name: text for name, text in sources.items() if name.startswith("test_")}
    assert len(modules) > 20  # the scan really read the suite
    problems = [line for name, text in modules.items() for line in findings(text, name, helpers)]
    assert problems == []


SMELLS = """
import pytest


def check(value):
    assert value


def test_nothing():
    value = 1 + 1


def test_helper_that_checks():
    check(2)


def test_constant():
    assert True


def test_anything_goes():
    with pytest.raises(Exception):
        int("x")


def test_swallowed():
    try:
        assert int("x")
    except BaseException:
        pass
"""


def test_the_scan_reports_each_kind_of_test_that_cannot_fail() -> None:
    helpers = asserting_helpers([SMELLS])
    assert helpers == {"check"}
    assert set(findings(SMELLS, "smells.py", helpers)) == {
        "smells.py:9: test_nothing checks nothing",
        "smells.py:18: assert of a constant",
        "smells.py:22: pytest.raises accepts any exception",
        "smells.py:29: broad except swallows the error",
    }
