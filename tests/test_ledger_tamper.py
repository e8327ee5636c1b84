"""Tamper evidence: any change behind the library's back is found by verify(), by seq.

Every test drops the append-only triggers first (what someone with write access to the file
can do), changes the file with raw SQL, and checks that verify() names the right
transaction (or checkpoint).
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ecocomp.ledger import Ledger, NewTransaction, Transfer, VerifyReport, _store
from ecocomp.ledger.hashing import GENESIS, TX_FIELDS, encode_fields

A, B, C = "430700", "430800", "430000"


def clock() -> datetime:
    return datetime(2024, 2, 1, tzinfo=UTC)


def simple(key: str, amount: str = "100.00") -> NewTransaction:
    return NewTransaction(key=key, kind="accrual", booked_on=date(2023, 1, 31),
                          transfers=[Transfer.between(A, B, amount, purpose="accrued")])


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Six transactions (#3 has every field and two transfers), checkpoints at 4 and 6."""
    db = tmp_path / "ledger.db"
    with Ledger.open(db, clock=clock) as ledger:
        ledger.post(simple("a"))
        ledger.post(simple("b"))
        ledger.post(NewTransaction(
            key="full", kind="clearing", booked_on=date(2023, 12, 31), due=date(2024, 4, 30),
            agreement="lishui", period="2023", component="clearing", corrects="a",
            reason="annual net", reference="GK-1", inputs_digest="ab" * 32,
            meta={"net": "100.00", "parties": [A, B]},
            transfers=[Transfer.between(A, B, "100.00", purpose="payable"),
                       Transfer.between(B, A, "100.00", purpose="accrued")]))
        ledger.post(simple("c"))
        ledger.checkpoint()
        ledger.post(NewTransaction(key="b#adj1", kind="adjustment", corrects="b",
                                   reason="revised", booked_on=date(2024, 1, 5),
                                   transfers=[Transfer.between(B, A, "10.00", purpose="x")]))
        ledger.post(simple("d"))
        ledger.checkpoint()
        assert ledger.verify().ok
    return db


def tamper(path: Path, *statements: str) -> VerifyReport:
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                ).fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    with Ledger.open(path) as ledger:
        return ledger.verify()


TRANSACTION_CHANGES = {
    "seq": "100",
    "prev_hash": "'" + "f" * 64 + "'",
    "key": "'changed'",
    "kind": "'payment'",
    "booked_on": "'2023-12-30'",
    "due": "'2024-05-01'",
    "agreement": "'xiang'",
    "period": "'2022'",
    "component": "'class'",
    "corrects": "'b'",
    "reason": "'annual net!'",
    "reference": "NULL",
    "inputs_digest": "'" + "cd" * 32 + "'",
    "meta": """'{"net":"1000.00","parties":["430700","430800"]}'""",
    "posted_at": "'2024-02-01T00:00:00.000001Z'",
    "hash": "'" + "e" * 64 + "'",
}


def test_every_transaction_column_is_covered():
    conn = sqlite3.connect(":memory:")
    _store.migrate(conn)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(ledger_transactions)")}
    assert columns == set(TRANSACTION_CHANGES)
    transfer_columns = {row[1] for row in conn.execute("PRAGMA table_info(ledger_transfers)")}
    assert transfer_columns == set(TRANSFER_CHANGES)
    checkpoint_columns = {row[1] for row in conn.execute("PRAGMA table_info(ledger_checkpoints)")}
    assert checkpoint_columns == set(CHECKPOINT_CHANGES) | SIGNATURE_COLUMNS


@pytest.mark.parametrize(("column", "value"), sorted(TRANSACTION_CHANGES.items()))
def test_changing_any_transaction_column_is_found(path: Path, column: str, value: str):
    report = tamper(path, f"UPDATE ledger_transactions SET {column} = {value} WHERE seq = 3")
    assert not report.ok
    assert report.first_bad_seq == 3, report.reason


@pytest.mark.parametrize("column", ["due", "agreement", "reason", "inputs_digest"])
def test_clearing_an_optional_field_is_found(path: Path, column: str):
    report = tamper(path, f"UPDATE ledger_transactions SET {column} = NULL WHERE seq = 3")
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_setting_an_absent_field_is_found(path: Path):
    report = tamper(path, "UPDATE ledger_transactions SET reason = 'why' WHERE seq = 4")
    assert (report.ok, report.first_bad_seq) == (False, 4)


TRANSFER_CHANGES = {
    "seq": "100",
    "idx": "5",
    "debit_party": "'430000'",
    "debit_purpose": "'other'",
    "credit_party": "'430000'",
    "credit_purpose": "'settled'",
    "amount_fen": "amount_fen + 1",
}


@pytest.mark.parametrize(("column", "value"), sorted(TRANSFER_CHANGES.items()))
@pytest.mark.parametrize("idx", [0, 1])
def test_changing_any_transfer_column_is_found(path: Path, column: str, value: str, idx: int):
    report = tamper(path, f"UPDATE ledger_transfers SET {column} = {value} "
                          f"WHERE seq = 3 AND idx = {idx}")
    assert not report.ok
    assert report.first_bad_seq == 3, report.reason


CHECKPOINT_CHANGES = {
    "number": "7",
    "seq": "3",
    "root": "'" + "a" * 64 + "'",
    "created_at": "'2024-02-01T00:00:00.000001Z'",
    "prev_hash": "'" + "b" * 64 + "'",
    "hash": "'" + "c" * 64 + "'",
    "catalog": "'" + "d" * 64 + "'",
}
#: Checked against the operator's public key, which the verifier brings (test_ledger_checkpoints).
SIGNATURE_COLUMNS = {"signature", "key_id"}


@pytest.mark.parametrize(("column", "value"), sorted(CHECKPOINT_CHANGES.items()))
@pytest.mark.parametrize("number", [1, 2])
def test_changing_any_checkpoint_column_is_found(
    path: Path, column: str, value: str, number: int
):
    report = tamper(path, f"UPDATE ledger_checkpoints SET {column} = {value} "
                          f"WHERE number = {number}")
    assert not report.ok
    assert report.first_bad_checkpoint == number, report.reason
    assert "checkpoint" in (report.reason or "")


def test_deleting_a_transaction_is_found(path: Path):
    report = tamper(path, "DELETE FROM ledger_transactions WHERE seq = 3")
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "missing" in (report.reason or "")


@pytest.mark.parametrize("idx", [0, 1])
def test_deleting_a_transfer_is_found(path: Path, idx: int):
    report = tamper(path, f"DELETE FROM ledger_transfers WHERE seq = 3 AND idx = {idx}")
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_deleting_every_transfer_of_a_transaction_is_found(path: Path):
    report = tamper(path, "DELETE FROM ledger_transfers WHERE seq = 4")
    assert (report.ok, report.first_bad_seq, report.reason) == (False, 4, "has no transfers")


def test_truncating_the_tail_is_found_by_the_covering_checkpoint(path: Path):
    report = tamper(path, "DELETE FROM ledger_transfers WHERE seq = 6",
                    "DELETE FROM ledger_transactions WHERE seq = 6")
    assert (report.ok, report.first_bad_seq, report.first_bad_checkpoint) == (False, 6, 2)


def test_truncating_past_the_last_checkpoint_needs_a_published_root(path: Path):
    """Without a checkpoint covering it, a deleted tail leaves a valid shorter chain.

    This is why checkpoints are published: the last published root (and its seq) is what
    proves the tail existed. verify() cannot know about rows it never saw.
    """
    with Ledger.open(path) as ledger:
        ledger.post(simple("e"))
    report = tamper(path, "DELETE FROM ledger_transfers WHERE seq = 7",
                    "DELETE FROM ledger_transactions WHERE seq = 7")
    assert report.ok and report.count == 6


def test_deleting_a_checkpoint_is_found(path: Path):
    report = tamper(path, "DELETE FROM ledger_checkpoints WHERE number = 1")
    assert (report.ok, report.first_bad_checkpoint) == (False, 1)


def test_swapping_two_transactions_is_found(path: Path):
    columns = ", ".join(c for c in TRANSACTION_CHANGES if c != "seq")
    report = tamper(
        path,
        "CREATE TEMP TABLE copy AS SELECT * FROM ledger_transactions WHERE seq IN (2, 4)",
        "DELETE FROM ledger_transactions WHERE seq IN (2, 4)",
        f"INSERT INTO ledger_transactions (seq, {columns}) "
        f"SELECT CASE seq WHEN 2 THEN 4 ELSE 2 END, {columns} FROM copy",
    )
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_reordering_transactions_is_found(path: Path):
    rotate = "CASE seq WHEN 3 THEN 1003 WHEN 4 THEN 1004 WHEN 5 THEN 1005 END"
    back = "CASE seq WHEN 1003 THEN 4 WHEN 1004 THEN 5 WHEN 1005 THEN 3 END"
    report = tamper(
        path,
        f"UPDATE ledger_transactions SET seq = {rotate} WHERE seq BETWEEN 3 AND 5",
        f"UPDATE ledger_transactions SET seq = {back} WHERE seq BETWEEN 1003 AND 1005",
        f"UPDATE ledger_transfers SET seq = {rotate} WHERE seq BETWEEN 3 AND 5",
        f"UPDATE ledger_transfers SET seq = {back} WHERE seq BETWEEN 1003 AND 1005",
    )
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_swapping_the_transfers_of_a_transaction_is_found(path: Path):
    report = tamper(
        path,
        "UPDATE ledger_transfers SET idx = 9 WHERE seq = 3 AND idx = 0",
        "UPDATE ledger_transfers SET idx = 0 WHERE seq = 3 AND idx = 1",
        "UPDATE ledger_transfers SET idx = 1 WHERE seq = 3 AND idx = 9",
    )
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_extra_transfer_and_orphan_rows_are_found(path: Path):
    report = tamper(path, f"INSERT INTO ledger_transfers VALUES (3, 2, '{A}', 'x', '{B}', 'x', 1)")
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_orphan_transfer_rows_are_found(path: Path):
    report = tamper(path, f"INSERT INTO ledger_transfers VALUES (99, 0, '{A}', 'x', '{B}', 'x', 1)")
    assert (report.ok, report.first_bad_seq) == (False, 7)


def test_a_forged_transaction_appended_is_found(path: Path):
    with Ledger.open(path) as ledger:
        head = ledger.get_seq(6)
    assert head is not None
    report = tamper(
        path,
        "INSERT INTO ledger_transactions (seq, prev_hash, key, kind, booked_on, meta, "
        f"posted_at, hash) VALUES (7, '{head.hash}', 'forged', 'payment', '2024-01-01', '{{}}', "
        f"'2024-02-01T00:00:00.000000Z', '{'0' * 64}')",
        f"INSERT INTO ledger_transfers VALUES (7, 0, '{B}', 'settled', '{C}', 'settled', 100)",
    )
    assert (report.ok, report.first_bad_seq) == (False, 7)


def test_rewriting_history_with_recomputed_hashes_is_found_by_the_checkpoint(path: Path):
    """A forger who recomputes every hash still cannot match the published Merkle root."""
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                ).fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE ledger_transfers SET amount_fen = 1 WHERE seq = 2")
    prev = GENESIS
    rows = conn.execute(f"SELECT {', '.join(TX_FIELDS)} FROM ledger_transactions ORDER BY seq"
                        ).fetchall()
    for row in rows:
        seq = row[1]
        transfers = conn.execute(
            "SELECT debit_party, debit_purpose, credit_party, credit_purpose, "
            "CAST(amount_fen AS TEXT) FROM ledger_transfers WHERE seq = ? ORDER BY idx", (seq,)
        ).fetchall()
        fields = [prev, str(seq), *("" if v is None else str(v) for v in row[2:])]
        digest = hashlib.sha256(encode_fields(fields, transfers)).hexdigest()
        conn.execute("UPDATE ledger_transactions SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (prev, digest, seq))
        prev = digest
    conn.commit()
    conn.close()
    with Ledger.open(path) as ledger:
        report = ledger.verify()
    assert not report.ok and report.first_bad_checkpoint == 1 and report.first_bad_seq == 4
    assert "Merkle root" in (report.reason or "")


def test_malformed_rows_are_reported_not_crashed_on(path: Path):
    conn = sqlite3.connect(path)
    # replace the STRICT transfers table by a lax copy holding a text amount
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                ).fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("ALTER TABLE ledger_transfers RENAME TO old_transfers")
    conn.execute("CREATE TABLE ledger_transfers (seq, idx, debit_party, debit_purpose, "
                 "credit_party, credit_purpose, amount_fen, PRIMARY KEY (seq, idx))")
    conn.execute("INSERT INTO ledger_transfers SELECT * FROM old_transfers")
    conn.execute("UPDATE ledger_transfers SET amount_fen = 'lots' WHERE seq = 2")
    conn.commit()
    conn.close()
    with Ledger.open(path) as ledger:
        report = ledger.verify()
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "malformed" in (report.reason or "")
