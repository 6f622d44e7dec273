"""The dependency direction: containers -> glovebox, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

from containers import bootstrap, shutdown
from containers.cli import attach
from glovebox.testing import IsolatedConfig
from tests.helpers import invoke, run_python

PACKAGE = Path(__file__).resolve().parents[1] / "glovebox"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_glovebox_source_never_imports_containers() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "containers"
        )
        for path in PACKAGE.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_the_library_and_cli_does_not_load_containers() -> None:
    code = (
        "import sys, glovebox.cli.app, glovebox.api, glovebox.config, glovebox.cache_lookup\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'containers'))\n"
    )
    result = run_python(code)
    assert result.stdout.strip() == "[]"


def test_attached_cli_refuses_a_config_file(
    isolated_config: IsolatedConfig, tmp_path: Path
) -> None:
    container = bootstrap()
    try:
        result = invoke(
            "--config", str(tmp_path / "x.yaml"), "cache", "show", obj=attach(container)
        )
        assert result.exit_code == 2
        assert "existing container" in result.stderr
    finally:
        shutdown(container)
