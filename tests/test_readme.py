"""Every Python example in README.md runs (docs must not rot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecocomp.formulas.base import _REGISTRY

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)


def test_readme_has_the_api_and_formula_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    # the README talks about "my-project"; run it on the bundled example in a scratch folder
    code = code.replace('"my-project"', repr(str(ROOT / "examples" / "hunan-2021")))
    monkeypatch.chdir(tmp_path)
    names = set(_REGISTRY)
    try:
        exec(compile(code, f"README.md block {index + 1}", "exec"), {})
    finally:
        for name in set(_REGISTRY) - names:
            _REGISTRY.pop(name)
