"""docs/dependency-injection.md: every example on the page runs, in order."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from glovebox.testing import IsolatedConfig
from tests.helpers import env_without_glovebox, run_child

DOC = Path(__file__).resolve().parents[1] / "docs" / "dependency-injection.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="([^"]+)"')


def blocks() -> list[tuple[str, str | None, str]]:
    """(language, title or None, code) of every fenced block."""
    found = []
    for match in FENCE.finditer(DOC.read_text(encoding="utf-8")):
        title = TITLE.search(match.group(2))
        found.append((match.group(1), title.group(1) if title else None, match.group(3)))
    return found


def test_the_page_has_examples_of_each_kind() -> None:
    kinds = {(language, title is not None) for language, title, _ in blocks()}
    assert {("python", False), ("python", True), ("yaml", True)} <= kinds


def test_examples_run(isolated_config: IsolatedConfig, tmp_path: Path) -> None:
    script: list[str] = []
    work = tmp_path / "work"
    work.mkdir()
    for language, title, code in blocks():
        if title is not None:
            (work / title).write_text(code, encoding="utf-8")
        elif language == "python":
            script.append(code)
    (work / "example.py").write_text("\n".join(script), encoding="utf-8")
    result = run_child([sys.executable, "example.py"], cwd=work, env=env_without_glovebox())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout  # the pytest module on the page
    assert result.stdout.strip().endswith("glovebox.yaml:5")
    assert (work / "caches" / "firmware" / "cache.db").is_file()
