"""The shipped examples run as users run them: a fresh process in an empty working folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANNUAL_RUN = ROOT / "examples" / "annual_run.py"


def run_example(script: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


@pytest.mark.skipif(not ANNUAL_RUN.is_file(), reason="examples/annual_run.py not written yet")
def test_annual_run_settles_verifies_writes_the_report_and_posts_nothing_the_second_time(
        tmp_path):
    done = run_example(ANNUAL_RUN, tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Traceback" not in done.stderr
    assert "lishui-zjj-cd-2020: 常德市 pays 张家界市 800,000.00 yuan by 2022-04-30" in out
    assert "lvshui-jx-hn-2019: 湖南省 pays 江西省 8,000,000.00 yuan by 2022-04-30" in out
    assert "ledger verified" in out
    assert "inclusion proof against the published root: valid" in out
    assert (tmp_path / "annual-run.db").is_file()
    report = tmp_path / "annual-run.html"
    assert report.is_file() and "<svg" in report.read_text(encoding="utf-8")
    # the same folder again (one run fewer than two tests starting afresh would take)
    second = run_example(ANNUAL_RUN, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "posted 0," in second.stdout and "adjusted 0" in second.stdout


@pytest.mark.skipif(not ANNUAL_RUN.is_file(), reason="examples/annual_run.py not written yet")
def test_annual_run_on_a_broken_project_exits_1_listing_problems(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    done = run_example(ANNUAL_RUN, tmp_path, str(broken))
    assert done.returncode == 1
    assert "parties.toml" in done.stderr and "Traceback" not in done.stderr
