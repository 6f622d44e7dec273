"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glovebox.testing import IsolatedConfig

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_readme_has_a_python_example() -> None:
    assert python_blocks()


@pytest.mark.parametrize("block", python_blocks())
def test_readme_python_example_runs(
    block: str, isolated_config: IsolatedConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(block, str(README), "exec"), {})
    assert (isolated_config.cache_path / "layout" / "cache.db").is_file()
    assert capsys.readouterr().out.strip() == "0.5"  # one hit, one miss (get_or_set)
