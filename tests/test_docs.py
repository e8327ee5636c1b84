"""Every code block of README.md and docs/*.md runs, leaves nothing behind, cites real files.

The blocks of one file run in order in a scratch folder holding a copy of the bundled example
as ``my-project`` (so the docs' own paths work), sharing one namespace like a notebook:

- ``python`` blocks run as code, or as doctests when they start with ``>>>``;
- ``sh`` blocks run each ``ecocomp …`` command through click's test runner and expect it
  to succeed; a block that cannot run here is listed in :data:`NOT_RUN` with the reason;
- ``toml`` blocks must parse; blocks without a language are layouts and sample output, and
  must not hold a command or Python code.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import shutil
import subprocess
import tomllib
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from ecocomp.cli import main
from ecocomp.formulas.base import _REGISTRY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hunan-2021"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Blocks that are not run, by (file, first line), each with the reason.
NOT_RUN = {
    ("README.md", "python3 -m venv .venv && . .venv/bin/activate && pip install . && ecocomp demo"):
        "installs the package into a new venv: .ci/run runs exactly this command",
    ("README.md", "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
                  "python -m pytest"):
        "installs the package and runs these tests: .ci/run runs exactly this command",
    ("README.md", "pip install -e '.[test]' --config-settings editable_mode=compat"):
        "installs the package in editable mode: a developer's setup, not run by the tests",
    ("docs/project.md", "ecocomp settle my-project --year 2021 --db settle.db [--json] "
                        "[--dry-run]"):
        "a synopsis: [--json] and [--dry-run] are optional parts, not arguments",
    ("docs/postgres.md", "pip install 'ecocomp[postgres]'"):
        "installs a package: the test extra includes the driver",
    ("docs/postgres.md", "createuser ecocomp_owner"):
        "PostgreSQL's own commands on a server: tests/postgres_server.py sets one up",
    ("docs/postgres.md", "from ecocomp import postgres"):
        "needs a PostgreSQL server: tests/test_postgres_ledger.py grants a writer role",
    ("docs/postgres.md", "ecocomp ledger migrate --from settle.db --to "
                         "postgresql://ecocomp_owner@localhost/ecocomp"):
        "needs a PostgreSQL server: tests/test_postgres_settlement.py runs these commands",
    ("docs/postgres.md", "from datetime import date"):
        "needs a PostgreSQL server: tests/test_postgres_settlement.py settles this way",
    ("docs/postgres.md", "ecocomp settle my-project --year 2021 --db "
                         "postgresql://ecocomp_owner@localhost/ecocomp"):
        "needs a PostgreSQL server: tests/test_postgres_settlement.py runs this command",
}
#: Docs whose ``sh`` blocks another test runs in a real shell (pipes, environment variables).
SHELL_RUN = {
    "docs/cli.md": "tests/test_cli_conventions.py runs each sh block in bash beside a settled "
                   "copy of the example",
}
#: Files a doc's examples read that the example project does not have: name → content.
SETUP = {
    "docs/readings.md": {
        "readings/2023.csv": "section,sampled_at,parameter,value,unit,source,flag\n"
                             "zhuting,2023-01-09T08:00,nh3n,0.15,mg/L,automatic,\n",
        "readings/2023-manual.csv": "section,sampled_at,parameter,value,unit,source,flag\n"
                                    "zhuting,2023-01-09,tp,<0.01,,manual,\n",
        "readings/2023-automatic.csv": "section,sampled_at,parameter,value,unit,source,flag\n"
                                       "zhuting,2023-01-09T08:00,tp,43,µg/L,automatic,\n",
    },
}
#: Single commands of a run block that are expected to fail here, with the reason.
EXPECTED_FAILURES = {
    "ecocomp readings forget readings/old.csv --db settle.db":
        "an illustration: the example project has no readings/old.csv to forget",
}


@attrs.frozen
class Block:
    path: Path
    line: int
    lang: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def key(self) -> tuple[str, str]:
        first = " ".join(self.code.strip().splitlines()[0].split()) if self.code.strip() else ""
        return (str(self.path.relative_to(ROOT)), first)


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return [
        Block(path, text[: m.start()].count("\n") + 1, m.group(1), m.group(2))
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
    ]


def _snapshot() -> set[str]:
    """Every file of the repository outside venvs, caches and git."""
    skip = {".git", ".venv", ".ci-venv", "__pycache__", ".pytest_cache", ".ruff_cache",
            ".hypothesis", "build", "dist"}
    found = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        found.update(os.path.join(folder, f) for f in files)
    return found


def _commands(code: str) -> list[list[str]]:
    """The commands of an sh block as words: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def _run_sh(block: Block) -> None:
    if block.key in NOT_RUN or block.key[0] in SHELL_RUN:
        return
    for words in _commands(block.code):
        command = " ".join(words)
        assert words[0] == "ecocomp", (
            f"{block.where}: `{command}` is not an ecocomp command; list the block in NOT_RUN "
            "with the reason it cannot run in the doc test")
        result = CliRunner().invoke(main, words[1:])
        if command in EXPECTED_FAILURES:
            assert result.exit_code != 0, f"{block.where}: `{command}` now succeeds"
            continue
        assert result.exit_code == 0, (
            f"{block.where}: `{command}` exited {result.exit_code}:\n{result.output}")


def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    if block.code.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(block.code, namespace, block.where,
                                                   str(block.path), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test, clear_globs=False)
        namespace.update(test.globs)  # the doctest ran on a copy: later blocks see its names
        assert runner.failures == 0, f"{block.where}: doctest failed (output above)"
        return
    exec(compile(block.code, block.where, "exec"), namespace)


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_every_code_block_runs_and_leaves_nothing_behind(path, tmp_path, monkeypatch):
    shutil.copytree(EXAMPLE, tmp_path / "my-project")
    for name, content in SETUP.get(str(path.relative_to(ROOT)), {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before, names = _snapshot(), set(_REGISTRY)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # re-registering a formula in a later block
            for block in blocks(path):
                if block.lang == "python" and block.key in NOT_RUN:
                    continue  # needs what the doc test has not (the reason is in NOT_RUN)
                if block.lang == "python":
                    _run_python(block, namespace)
                elif block.lang == "sh":
                    _run_sh(block)
                elif block.lang == "toml":
                    tomllib.loads(block.code)
                else:
                    first = block.code.lstrip()
                    assert not first.startswith(("ecocomp ", "import ", "from ", ">>>")), (
                        f"{block.where}: code in a block without a language; mark it "
                        "```python or ```sh so it runs")
    finally:
        for name in set(_REGISTRY) - names:
            _REGISTRY.pop(name)
    assert _snapshot() == before, f"{path.name}'s examples wrote into the repository"


def test_the_docs_have_code_to_run():
    counted = [b for p in DOCS for b in blocks(p) if b.lang in ("python", "sh")]
    assert len(counted) >= 30
    assert all(any(b.key == key for p in DOCS for b in blocks(p)) for key in NOT_RUN), (
        "a NOT_RUN entry names a block that no longer exists")


CITED = re.compile(r"(?<![\w/.-])((?:ecocomp|examples|schemas|docs|benchmarks|tests)/"
                   r"[\w*./-]*[\w*/])")


def _tracked() -> set[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # an unpacked sdist: what is there ships
        return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()}
    return set(out.splitlines())


def test_the_docs_cite_only_files_that_ship():
    tracked = _tracked()
    folders = {str(Path(f).parent) for f in tracked} | {
        str(p) for f in tracked for p in Path(f).parents}
    missing = []
    for path in DOCS:
        text = re.sub(r"<[\w-]+>", "*", path.read_text(encoding="utf-8"))  # <formula> → *
        for cited in set(CITED.findall(text)):
            cited = cited.rstrip("/.")
            if "*" in cited:
                ok = any(Path(f).match(cited) for f in tracked)
            else:
                ok = cited in tracked or cited in folders
            if not ok:
                missing.append(f"{path.relative_to(ROOT)}: {cited}")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            resolved = os.path.normpath(os.path.join(str(path.parent.relative_to(ROOT)),
                                                     target))
            if resolved not in tracked and resolved not in folders:
                missing.append(f"{path.relative_to(ROOT)}: link {target}")
    assert not missing, "cited files that do not ship:\n" + "\n".join(sorted(missing))
