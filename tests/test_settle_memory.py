"""What a run holds while it posts a year: each obligation's basis once, not four times.

A national year's bases are the bulk of a run's memory (docs/architecture.md, "Settle
memory"). The promise is measured with ``tracemalloc`` on a small generated project, in
units of the bases' own JSON text: posting must not hold the bases again in other forms
(thawed for every transaction's meta, all at once for the recorded run or the catalog's
digest). Before, posting rose above what computing left by more than ten times that text;
now about four (the transactions themselves, posted in one call with one posting time).
"""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
import zlib
from pathlib import Path

import pytest

from benchmarks.project import write_project
from ecocomp import Ledger, load_project, settle
from ecocomp.settlement import SettlementResult

YEAR = 2021


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("memory") / "project"
    write_project(root, sections=10, years=[YEAR - 1, YEAR])
    return root


def _settle_traced(project: Path, db: Path) -> tuple[SettlementResult, int, int]:
    """The result, the traced heap when posting starts and the traced peak from then on."""
    at_posting: list[int] = []

    def progress(stage: str, rows: int) -> None:
        if stage == "posting" and rows == -1:
            at_posting.append(tracemalloc.get_traced_memory()[0])
            tracemalloc.reset_peak()

    loaded = load_project(project)
    tracemalloc.start()
    try:
        with Ledger.open(db) as ledger:
            result = settle(loaded, year=YEAR, ledger=ledger, progress=progress)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, at_posting[0], peak


def test_posting_a_year_does_not_hold_its_bases_again(project: Path, tmp_path: Path):
    result, at_posting, peak = _settle_traced(project, tmp_path / "settle.db")
    assert result.posted > 100
    bases = sum(len(json.dumps(o.to_json(), ensure_ascii=False).encode())
                for o in result.obligations)
    assert peak - at_posting < 7 * bases, (peak - at_posting) / bases


def test_the_recorded_run_is_the_json_of_every_obligation_and_net(project: Path,
                                                                   tmp_path: Path):
    """Written one obligation at a time, the record is still one ``json.dumps`` of all."""
    db = tmp_path / "settle.db"
    with Ledger.open(db) as ledger:
        result = settle(load_project(project), year=YEAR, ledger=ledger)
    conn = sqlite3.connect(db)
    try:
        (blob,) = conn.execute("SELECT result FROM settlement_runs").fetchone()
    finally:
        conn.close()
    whole = json.dumps({"obligations": [o.to_json() for o in result.obligations],
                        "nets": [n.to_json() for n in result.nets]},
                       ensure_ascii=False, separators=(",", ":"))
    assert blob == zlib.compress(whole.encode(), 1)
