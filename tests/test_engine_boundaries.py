"""One way into the cache engine, and private names that stay in their module.

The rule (docs/decisions.md, "Engine shape"):

- Code in ``glovebox/`` outside ``glovebox/core/`` and in ``containers/`` imports the engine
  as ``glovebox.core.cache_v2`` and only names that package exports (``__all__``).
- ``tests/`` and ``benchmarks/`` may also import the engine's public modules, to test or
  measure internals: a module path with no part starting with ``_``.
- No name starting with ``_`` is imported from the engine by anyone, nor from any module
  of the project by ``glovebox/`` or ``containers/`` code; the engine's private modules
  (``_environ``) are imported by the engine only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import glovebox.core.cache_v2 as engine

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "glovebox.core.cache_v2"


def python_files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import in ``path``."""
    name = module_name(path) if path.is_relative_to(ROOT) else path.stem
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module, [alias.name for alias in node.names]


def is_project(module: str) -> bool:
    return module.split(".", maxsplit=1)[0] in ("glovebox", "containers", "tests", "benchmarks")


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_application_code_enters_the_engine_through_its_package_only() -> None:
    exported = set(engine.__all__)
    offenders = []
    outside_core = [
        path
        for path in python_files("glovebox", "containers")
        if not path.is_relative_to(ROOT / "glovebox" / "core")
    ]
    for path in outside_core:
        for line, module, names in imports(path):
            if module.startswith(ENGINE + "."):
                offenders.append(f"{where(path, line)}: imports submodule {module}")
            elif module == ENGINE:
                offenders.extend(
                    f"{where(path, line)}: {name} is not exported by {ENGINE}"
                    for name in names
                    if name not in exported
                )
    assert offenders == []


def test_tests_and_benchmarks_import_only_public_engine_modules() -> None:
    offenders = [
        f"{where(path, line)}: {module}"
        for path in python_files("tests", "benchmarks")
        for line, module, _ in imports(path)
        if module.startswith(ENGINE) and any(part.startswith("_") for part in module.split("."))
    ]
    assert offenders == []


def private_imports(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, module, name) of every ``_name`` imported by ``path`` from the project."""
    for line, module, names in imports(path):
        if is_project(module):
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    yield line, module, name


def test_no_private_name_leaves_the_engine_or_crosses_application_modules() -> None:
    offenders = [
        f"{where(path, line)}: {name} from {module}"
        for path in python_files("glovebox", "containers", "tests", "benchmarks")
        for line, module, name in private_imports(path)
        if module.startswith("glovebox.core")
        or (
            not path.is_relative_to(ROOT / "tests") and not path.is_relative_to(ROOT / "benchmarks")
        )
    ]
    assert offenders == []


def test_the_engine_private_modules_stay_in_the_engine() -> None:
    core = ROOT / "glovebox" / "core"
    offenders = [
        f"{where(path, line)}: {module}"
        for path in python_files("glovebox", "containers", "tests", "benchmarks")
        if not path.is_relative_to(core)
        for line, module, _ in imports(path)
        if module.startswith("glovebox.core")
        and any(part.startswith("_") for part in module.split("."))
    ]
    assert offenders == []


def test_the_import_reader_sees_what_the_checks_rely_on(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from glovebox.core.cache_v2.models import _check_number, CacheSettings\n"
        "import glovebox.core.cache_v2._environ\n"
        "from glovebox.core.cache_v2 import create_default_cache\n"
    )
    assert [(module, name) for _, module, name in private_imports(probe)] == [
        ("glovebox.core.cache_v2.models", "_check_number")
    ]
    assert [module for _, module, _ in imports(probe)] == [
        "glovebox.core.cache_v2.models",
        "glovebox.core.cache_v2._environ",
        "glovebox.core.cache_v2",
    ]
    # Relative imports are resolved against the file's package.
    disk = ROOT / "glovebox" / "core" / "cache_v2" / "backends" / "disk.py"
    assert "glovebox.core.cache_v2.backends.disk_store" in {m for _, m, _ in imports(disk)}


def test_the_package_exports_the_spec_names_and_the_admin_api() -> None:
    spec = {
        "CacheManager",
        "DiskCacheManager",
        "DisabledCache",
        "cleanup_shared_cache_instances",
        "create_cache_from_user_config",
        "create_default_cache",
        "get_cache_instance_count",
        "get_cache_instance_keys",
        "get_shared_cache_instance",
        "reset_shared_cache_instances",
    }
    admin = {
        "CacheAdmin",
        "DomainReport",
        "KNOWN_DOMAINS",
        "disk_usage",
        "known_tags",
        "list_tags",
        "quarantined",
        "resolve_user_config_strategy",
    }
    assert spec | admin <= set(engine.__all__)
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name


def test_one_fork_hook_in_the_whole_package() -> None:
    calls = [
        where(path, node.lineno)
        for path in python_files("glovebox")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "register_at_fork"
    ]
    assert calls == ["glovebox/core/cache_v2/forks.py:44"]
