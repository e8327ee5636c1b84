"""settle and pay verify the whole ledger once (issue 12): the checkpoint at the end of the
batch checks only the transactions the batch appended when ``verify()`` passed on exactly
the ledger the batch started from — and the whole ledger again whenever anything changed
in between, so nothing that was caught before goes uncaught.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledger_forgery import opened_without_triggers

import ecocomp
import ecocomp.ledger.ledger as ledger_module
from ecocomp.errors import LedgerIntegrityError
from ecocomp.ledger import Ledger, NewTransaction, Transfer, _store
from ecocomp.ledger.hashing import posting_hash
from ecocomp.ledger.verify import VerifyReport, verify_appended

LISHUI = "lishui-zjj-cd-2020"
YEAR = 2021
PAYER, PAYEE = "430700", "430800"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the whole ledger and an appended suffix were verified."""
    counted = {"whole": 0, "appended": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return real(*args, **kwargs)
        return run

    monkeypatch.setattr(ledger_module, "verify_ledger",
                        counting("whole", ledger_module.verify_ledger))
    monkeypatch.setattr(ledger_module, "verify_appended",
                        counting("appended", ledger_module.verify_appended))
    return counted


def pay(db: Path, reference: str = "GK-1") -> None:
    with Ledger.open(db) as ledger:
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                    amount=Decimal("1.00"), paid_on=date(2022, 4, 21), reference=reference,
                    today=date(2022, 5, 1))


def test_pay_verifies_the_whole_ledger_once(db: Path, calls: dict[str, int]):
    pay(db)
    assert calls == {"whole": 1, "appended": 1}
    with Ledger.open(db) as ledger:
        assert ledger.verify().ok and ledger.unvouched() == 0


def test_settle_with_a_correction_verifies_the_whole_ledger_once(
    db: Path, calls: dict[str, int], tmp_path: Path
):
    project = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "hunan-2021",
                    project)
    (project / "corrections").mkdir()
    (project / "corrections" / "x.csv").write_text(
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
    with Ledger.open(db) as ledger:
        result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                                today=date(2022, 3, 15))
        assert result.adjusted > 0
        assert calls == {"whole": 1, "appended": 1}
        assert ledger.verify().ok


def other(key: str = "x/2021/other") -> NewTransaction:
    return NewTransaction(
        key=key, kind="accrual", booked_on=date(2021, 12, 31),
        transfers=[Transfer.between(PAYER, PAYEE, Decimal("1.00"), purpose="accrued")])


def test_a_ledger_changed_between_the_check_and_the_checkpoint_is_verified_whole(
    db: Path, calls: dict[str, int]
):
    with Ledger.open(db) as ledger:
        assert ledger.verify().ok
        # someone edits a stored amount in between (the triggers dropped and put back)
        with opened_without_triggers(db) as conn:
            conn.execute("UPDATE ledger_transfers SET amount_fen = amount_fen + 1 "
                         "WHERE seq = 1 AND idx = 0")
        count = len(ledger)
        with pytest.raises(LedgerIntegrityError, match="#1"), ledger.batch() as batch:
            batch.post(other())
            ledger.checkpoint()
        assert len(ledger) == count
    assert calls == {"whole": 2, "appended": 0}


def test_a_transaction_appended_in_between_is_verified_whole(db: Path, calls: dict[str, int]):
    with Ledger.open(db) as ledger:
        assert ledger.verify().ok
        ledger.post(other())  # a program posting directly, then a checkpoint
        ledger.checkpoint()
    assert calls == {"whole": 2, "appended": 0}


def append_raw(db: Path, tx: NewTransaction, *, hash_ok: bool = True) -> int:
    """Append ``tx`` straight into the file (the chain link right, the hash as asked)."""
    conn = sqlite3.connect(db)
    last_seq, last_hash, posted_at = conn.execute(
        "SELECT seq, hash, posted_at FROM ledger_transactions ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    seq = last_seq + 1
    digest = posting_hash(last_hash, seq, tx, posted_at)
    if not hash_ok:
        digest = ("0" if digest[0] != "0" else "1") + digest[1:]
    with conn:
        conn.execute(_store.TX_INSERT, (last_hash, seq, tx.key, tx.kind,
                                        tx.booked_on.isoformat(), None, None, None, None,
                                        tx.corrects, tx.reason, None, None, tx.meta_json,
                                        posted_at, digest))
        for i, t in enumerate(tx.transfers):
            conn.execute(_store.TRANSFER_INSERT, (seq, i, t.debit_party, t.debit_purpose,
                                                  t.credit_party, t.credit_purpose, t.fen))
    conn.close()
    return seq


def appended(db: Path, first: int) -> VerifyReport:
    conn = sqlite3.connect(db)
    try:
        return verify_appended(conn, first)
    finally:
        conn.close()


def test_the_suffix_check_finds_a_wrong_hash_and_a_correction_of_nothing(db: Path):
    seq = append_raw(db, other(), hash_ok=False)
    report = appended(db, seq)
    assert not report.ok and report.first_bad_seq == seq
    assert "hash does not match" in (report.reason or "")
    assert appended(db, seq - 1).first_bad_seq == seq  # the good one before it passes


def test_the_suffix_check_finds_a_correction_naming_no_earlier_key(db: Path):
    seq = append_raw(db, NewTransaction(
        key="x/2021/other#adj1", kind="adjustment", corrects="x/2021/nothing",
        reason="test", booked_on=date(2021, 12, 31),
        transfers=[Transfer.between(PAYER, PAYEE, Decimal("1.00"), purpose="accrued")]))
    report = appended(db, seq)
    assert not report.ok and report.first_bad_seq == seq
    assert "not an earlier transaction" in (report.reason or ""), report
    with Ledger.open(db) as ledger:  # the whole check says the same
        assert ledger.verify().first_bad_seq == seq


def test_the_suffix_check_passes_what_a_batch_posts(db: Path):
    with Ledger.open(db) as ledger:
        first = len(ledger) + 1
        ledger.post_many([other("x/2021/a"), other("x/2021/b")])
    report = appended(db, first)
    assert report.ok and report.count == first + 1, report
