"""SPEC §5.6–5.7 at the level of whole settlement runs: concurrent runs and kill -9."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecocomp.ledger import Ledger

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
KEYS_2021 = 62  # 54 accruals + 8 clearings for the example year


def _settle_cmd(project: Path, db: Path) -> list[str]:
    code = (
        "import sys, ecocomp\n"
        "project = ecocomp.load_project(sys.argv[1])\n"
        "with ecocomp.Ledger.open(sys.argv[2]) as ledger:\n"
        "    r = ecocomp.settle(project, year=2021, ledger=ledger)\n"
        "print(r.posted, r.unchanged, r.adjusted)\n"
    )
    return [sys.executable, "-c", code, str(project), str(db)]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE, target)
    return target


def _keys(db: Path) -> list[str]:
    with Ledger.open(db) as ledger:
        report = ledger.verify()
        assert report.ok, report.reason
        keys = [tx.key for tx in ledger.transactions()]
        assert sum(ledger.balances().values()) == 0
    return keys


@pytest.mark.slow
def test_two_runs_settling_the_same_year_at_once_post_every_key_once(project, tmp_path):
    db = tmp_path / "settle.db"
    procs = [
        subprocess.Popen(_settle_cmd(project, db), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    posted = sorted(int(out.split()[0]) for out, _ in outputs)
    keys = _keys(db)
    assert len(keys) == len(set(keys)) == KEYS_2021
    # one run posted everything, the others found it all in place
    assert posted == [0, 0, KEYS_2021]


@pytest.mark.slow
def test_a_run_killed_at_any_point_leaves_all_or_nothing_and_a_rerun_completes(
    project, tmp_path
):
    rng = random.Random(20211231)
    for trial in range(4):
        db = tmp_path / f"killed-{trial}.db"
        proc = subprocess.Popen(_settle_cmd(project, db), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.6))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if db.exists():
            keys = _keys(db)
            assert len(keys) in (0, KEYS_2021), f"trial {trial}: {len(keys)} keys"
        rerun = subprocess.run(_settle_cmd(project, db), capture_output=True, text=True,
                               timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert len(_keys(db)) == KEYS_2021
