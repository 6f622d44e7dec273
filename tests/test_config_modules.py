"""How the configuration package's modules depend on each other and on the rest of glovebox.

Read from the source (every import statement, those inside functions included): the
configuration depends on the engine's settings vocabulary, never on the domains that
consume it; its modules import each other without a cycle; and the snapshot's key
covers the code of every module a validated result depends on.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from glovebox.config import snapshot as snapshots
from glovebox.config import sources
from glovebox.testing import IsolatedConfig

PACKAGE = Path(sources.__file__).resolve().parents[1]
CONFIG = PACKAGE / "config"
# Modules a validated result does not depend on: errors and message wording only.
MESSAGES_ONLY = {"glovebox.errors", "glovebox.text", "glovebox._lazy"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(name: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def glovebox_imports(path: Path) -> set[str]:
    """The glovebox modules ``path`` imports anywhere in its body (``from a import b``
    counts as ``a.b`` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if module_path(f"{node.module}.{alias.name}") is not None
            )
    return {name for name in found if name.split(".")[0] == "glovebox"}


def config_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(CONFIG.glob("*.py"))}


def test_the_configuration_never_imports_a_domain() -> None:
    offenders = {
        name: sorted(
            imported
            for imported in glovebox_imports(path)
            if imported.split(".")[1:2]
            in (["compilation"], ["layout"], ["metrics"], ["moergo"], ["cli"])
        )
        for name, path in config_modules().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_configuration_modules_import_each_other_without_a_cycle() -> None:
    # The package's __init__ only names where each public name lives (imported lazily).
    modules = {name: path for name, path in config_modules().items() if name != "glovebox.config"}
    graph = {
        name: sorted(imported for imported in glovebox_imports(path) if imported in modules)
        for name, path in modules.items()
    }
    assert "glovebox.config.loader" not in graph["glovebox.config.snapshot"]
    assert "glovebox.config.sources" in graph["glovebox.config.snapshot"]
    assert "glovebox.config.sources" in graph["glovebox.config.loader"]

    def cycle_from(start: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        for following in graph[start]:
            if following in path:
                return (*path, following)
            found = cycle_from(following, (*path, following))
            if found:
                return found
        return None

    assert {name: cycle_from(name, (name,)) for name in graph} == dict.fromkeys(graph)


def test_the_snapshot_key_covers_every_module_a_result_depends_on() -> None:
    covered = {module_name(path) for path in sources.result_code_files().values() if path.is_file()}
    assert set(config_modules()) <= covered
    assert len(covered) == len(sources.result_code_files())  # every listed file exists
    missing: dict[str, list[str]] = {}
    for name in sorted(covered):
        path = module_path(name)
        assert path is not None
        uncovered = glovebox_imports(path) - covered - MESSAGES_ONLY
        # ``import glovebox.core.cache_v2.policy`` also names its packages, which only
        # hold the submodules (the engine package's own code is not read by the models).
        uncovered = {
            imported
            for imported in uncovered
            if not any(other.startswith(imported + ".") for other in covered)
        }
        if uncovered:
            missing[name] = sorted(uncovered)
    assert missing == {}


def test_every_configuration_module_is_in_the_code_digest() -> None:
    names = list(sources.result_code_files())
    assert [name for name in names if name.startswith("config/")] == sorted(
        f"config/{path.name}" for path in CONFIG.glob("*.py")
    )
    assert "config/models.py" in names
    assert "config/restore_strategy.py" in names
    assert "config/sources.py" in names
    assert names == list(dict.fromkeys(names))  # each once, in a fixed order


def test_the_snapshot_key_reads_the_variables_the_loader_reads(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = snapshots.snapshot_key(None)
    assert base is not None
    read = sources.variables_read({**os.environ, "GLOVEBOX__CACHE__TIMEOUT": "5"})
    assert read[-1] == "GLOVEBOX__CACHE__TIMEOUT"
    for name in read:
        with monkeypatch.context() as patch:
            patch.setenv(name, "/changed" if name != "GLOVEBOX__CACHE__TIMEOUT" else "7")
            changed = snapshots.snapshot_key(None)
        assert changed is None or changed.base != base.base, name
    for name in sources.REDIS_ENV_SETTINGS:
        assert name in read
    assert sources.CONFIG_ENV_VAR in read
