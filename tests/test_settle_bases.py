"""How a run writes each obligation's basis: from the frozen basis it holds, never from a
thawed copy (docs/architecture.md, "Issue 12, round ten"), and byte for byte as the thawed
copy's JSON: the transaction's meta, the recorded run (tests/test_settle_memory.py) and
the catalog's zero amounts."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import ecocomp.obligations
from ecocomp import Ledger, load_project, settle
from ecocomp.agreements import thaw
from ecocomp.ledger.model import canonical_meta
from ecocomp.settlement import SettlementResult, obligation_key

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> tuple[SettlementResult, Path, int]:
    """The example settled once, counting the bases thawed while it ran."""
    root = tmp_path_factory.mktemp("bases")
    project = root / "project"
    shutil.copytree(EXAMPLE, project)
    thawed = 0
    original = ecocomp.obligations.thaw

    def counting(value: object) -> object:
        nonlocal thawed
        thawed += 1
        return original(value)

    loaded = load_project(project)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ecocomp.obligations, "thaw", counting)
        with Ledger.open(root / "settle.db") as ledger:
            result = settle(loaded, year=YEAR, ledger=ledger)
    return result, root / "settle.db", thawed


def test_a_run_thaws_no_basis(settled: tuple[SettlementResult, Path, int]) -> None:
    """Before, each basis was thawed for its transaction's meta and again for the
    recorded run, and each zero amount's for the catalog: twice per obligation."""
    result, _, thawed = settled
    assert result.posted > 0 and any(o.amount == 0 for o in result.obligations)
    assert thawed == 0


def test_each_posted_meta_is_the_obligations_json(
        settled: tuple[SettlementResult, Path, int]) -> None:
    result, db, _ = settled
    with Ledger.open(db) as ledger:
        by_key = {tx.key: tx for tx in ledger.transactions()}
    posted = [o for o in result.obligations if o.amount != 0]
    assert posted
    for o in posted:
        tx = by_key[obligation_key(o.agreement, o.period, o.component)]
        assert tx.meta == o.to_json()
        assert tx.meta_json == canonical_meta(o.to_json())


def test_each_zero_amounts_basis_is_its_thawed_copys_json(
        settled: tuple[SettlementResult, Path, int]) -> None:
    result, db, _ = settled
    conn = sqlite3.connect(db)
    try:
        stored = {row[:3]: row[3] for row in conn.execute(
            "SELECT agreement, period, component, basis FROM catalog_zero_amounts")}
    finally:
        conn.close()
    zeros = [o for o in result.obligations if o.amount == 0]
    assert len(stored) == len(zeros) > 0
    for o in zeros:
        assert stored[(o.agreement, str(o.period), o.component)] == json.dumps(
            thaw(o.basis), ensure_ascii=False, sort_keys=True)
