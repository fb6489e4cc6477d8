"""README's Python examples run as written (they are the first code a user copies)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_python_block_runs(i: int, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    from p2pbyz.gars import _registry

    before = set(_registry._REGISTRY)
    namespace: dict = {"np": __import__("numpy")}
    try:
        exec(compile(BLOCKS[i], f"README.md block {i}", "exec"), namespace)
    finally:
        for name in set(_registry._REGISTRY) - before:
            _registry._REGISTRY.pop(name)


def test_ci_runs_the_readme_test_command() -> None:
    """CI must run exactly what README tells users to run."""
    text = README.read_text()
    block = re.search(r"## Test\n\n```bash\n(.*?)\n```", text, flags=re.S)
    assert block is not None
    command = block.group(1).strip()
    ci = (README.parent / ".ci" / "run").read_text()
    assert command in ci.splitlines()


def test_install_and_run_command_is_documented() -> None:
    text = README.read_text()
    assert 'pip install -e ".[test]" && p2pbyz run' in text
