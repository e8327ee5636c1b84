"""Tamper evidence: any change behind the library's back is found by verify(), by seq.

Every test drops the append-only triggers first (what someone with write access to the file
can do), changes the file with raw SQL, and checks that verify() names the right
transaction (or checkpoint).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from ledger_forgery import opened_without_triggers, rehash, write_tx1_ledger

from ecocomp.ledger import (
    Ledger,
    NewTransaction,
    Transfer,
    VerifyReport,
    _store,
    transaction_hash,
)

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
    """Drop the triggers, run ``statements``, put the triggers back exactly; verify."""
    conn = sqlite3.connect(path)
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                            ).fetchall()
    for name, _sql in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement)
    for _name, sql in triggers:
        conn.execute(sql)
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
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transfers SET amount_fen = 1 WHERE seq = 2")
        rehash(conn)
    with Ledger.open(path) as ledger:
        report = ledger.verify()
    assert not report.ok and report.first_bad_checkpoint == 1 and report.first_bad_seq == 4
    assert "Merkle root" in (report.reason or "")


def test_malformed_rows_are_reported_not_crashed_on(path: Path):
    with opened_without_triggers(path) as conn:
        # replace the STRICT transfers table by a lax copy holding a text amount
        conn.execute("ALTER TABLE ledger_transfers RENAME TO old_transfers")
        conn.execute("CREATE TABLE ledger_transfers (seq, idx, debit_party, debit_purpose, "
                     "credit_party, credit_purpose, amount_fen, PRIMARY KEY (seq, idx))")
        conn.execute("INSERT INTO ledger_transfers SELECT * FROM old_transfers")
        conn.execute("UPDATE ledger_transfers SET amount_fen = 'lots' WHERE seq = 2")
    with Ledger.open(path) as ledger:
        report = ledger.verify()
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert report.problems[0].startswith(
        "schema: table ledger_transfers is not as ecocomp creates it")
    assert ("transaction #2: transfer 0: amount_fen is stored as text 'lots', not an integer "
            "(the table was rebuilt without STRICT?)") in report.problems


# --------------------------------------------------------------------------- issue 10
# Someone who can write the file and knows the encoding. Each test is one attack.


def tx1_path(tmp_path: Path) -> Path:
    """A ledger started before tx/2 (its transactions hashed with tx/1), then upgraded."""
    db = tmp_path / "old.db"
    write_tx1_ledger(db, [
        simple("a"),
        NewTransaction(key="two", kind="accrual", booked_on=date(2023, 1, 31),
                       agreement="lishui", period="2023-01",
                       transfers=[Transfer.between(A, B, "100.00", purpose="accrued"),
                                  Transfer.between(B, C, "10.00", purpose="accrued")]),
        simple("c"),
    ])
    with Ledger.open(db) as ledger:
        assert ledger.verify().ok and ledger.verify().tx2_from_seq == 4
    return db


def test_moving_a_transfer_into_posted_at_keeps_a_tx1_hash_but_is_found(tmp_path: Path):
    """tx/1 joins fields with 0x1F/0x1E: the second transfer, glued onto posted_at with
    those bytes, gives the same message and hash. verify refuses the control characters."""
    path = tx1_path(tmp_path)
    glued = f"2024-01-31T00:00:00.000000Z\x1e{A}\x1faccrued\x1f{B}\x1faccrued\x1f10000"
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET posted_at = ? WHERE seq = 2", (glued,))
        conn.execute("DELETE FROM ledger_transfers WHERE seq = 2 AND idx = 0")
        conn.execute("UPDATE ledger_transfers SET idx = 0 WHERE seq = 2 AND idx = 1")
        (stored,) = conn.execute("SELECT hash FROM ledger_transactions WHERE seq = 2"
                                 ).fetchone()
    with Ledger.open(path) as ledger:
        tx = ledger.get_seq(2)
        assert tx is not None and transaction_hash(tx) == stored  # the forgery keeps the hash
        report = ledger.verify()
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert (report.reason or "").startswith("posted_at '2024-01-31T00:00:00.000000Z\\x1e430700")
    assert (report.reason or "").endswith("is not a UTC stamp YYYY-MM-DDTHH:MM:SS.ffffffZ")


def test_an_empty_text_for_an_absent_field_keeps_a_tx1_hash_but_is_found(tmp_path: Path):
    """tx/1 writes an absent field as an empty string: '' and NULL give the same bytes."""
    path = tx1_path(tmp_path)
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET reason = '' WHERE seq = 1")
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "reason is an empty text" in (report.reason or "")


def test_the_same_moves_change_a_tx2_hash(path: Path):
    """tx/2 values carry their length: gluing a transfer onto posted_at changes the bytes."""
    glued = f"2024-02-01T00:00:00.000000Z\x1e{B}\x1faccrued\x1f{A}\x1faccrued\x1f10000"
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET posted_at = ? WHERE seq = 3", (glued,))
        conn.execute("DELETE FROM ledger_transfers WHERE seq = 3 AND idx = 1")
    with Ledger.open(path) as ledger:
        tx = ledger.get_seq(3)
        assert tx is not None and transaction_hash(tx) != tx.hash
        assert (ledger.verify().ok, ledger.verify().first_bad_seq) == (False, 3)


def verify_only(path: Path) -> VerifyReport:
    with Ledger.open(path) as ledger:
        return ledger.verify()


def test_a_real_amount_in_a_table_rebuilt_without_strict_is_found(path: Path):
    """10000.5 fen formats as "10000" in the encoding: the hash survives; the schema and
    the column type do not."""
    with opened_without_triggers(path) as conn:
        conn.execute("ALTER TABLE ledger_transfers RENAME TO old_transfers")
        conn.execute(_store.MIGRATIONS[0].statements[3].replace(") STRICT, WITHOUT ROWID",
                                                                ") WITHOUT ROWID"))
        conn.execute("INSERT INTO ledger_transfers SELECT * FROM old_transfers")
        conn.execute("DROP TABLE old_transfers")
        conn.execute("UPDATE ledger_transfers SET amount_fen = 10000.5 WHERE seq = 2")
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "schema: table ledger_transfers is not as ecocomp creates it" in (report.reason or "")
    assert any("amount_fen is stored as real 10000.5" in p for p in report.problems)


def test_a_blob_key_behind_a_restored_strict_schema_is_found(path: Path):
    """STRICT removed in sqlite_master, a BLOB key written, STRICT put back: same bytes,
    same hash, same schema text — the file's own type check and verify's typeof find it."""
    with opened_without_triggers(path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = "
                              "'ledger_transactions'").fetchone()
        set_table_sql(conn, "ledger_transactions", sql.removesuffix(" STRICT"))
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET key = CAST(key AS BLOB) WHERE seq = 2")
        set_table_sql(conn, "ledger_transactions", sql)
    report = verify_only(path)
    assert report.ok is False and report.first_bad_seq == 2
    assert "integrity_check(ledger_transactions): non-TEXT value" in (report.reason or "")
    assert "transaction #2: key is stored as blob b'b', not text (the table was rebuilt " \
           "without STRICT?)" in report.problems


def set_table_sql(conn: sqlite3.Connection, table: str, sql: str) -> None:
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql, table))
    conn.execute("PRAGMA writable_schema = OFF")


TRIGGERS = [f"{table}_no_{what}" for table in _store.TABLES
            for what in ("update", "delete", "replace")]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_dropped_trigger_is_found(path: Path, trigger: str):
    conn = sqlite3.connect(path)
    conn.execute(f"DROP TRIGGER {trigger}")
    conn.close()
    report = verify_only(path)
    assert report.ok is False and report.first_bad_seq is None
    assert report.reason == (f"schema: trigger {trigger} is missing (dropped?); the ledger is "
                             "no longer protected as ecocomp made it")


def test_a_weakened_trigger_is_found(path: Path):
    """The no-replace trigger reduced to ``seq = NEW.seq`` would let a REPLACE on the key
    delete a transaction; verify compares the trigger's SQL with the library's."""
    conn = sqlite3.connect(path)
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = "
                          "'ledger_transactions_no_replace'").fetchone()
    conn.execute("DROP TRIGGER ledger_transactions_no_replace")
    conn.execute(sql.replace("seq = NEW.seq OR key = NEW.key", "seq = NEW.seq"))
    conn.commit()
    conn.close()
    report = verify_only(path)
    assert report.ok is False
    assert (report.reason or "").startswith(
        "schema: trigger ledger_transactions_no_replace is not as ecocomp creates it")


def test_an_extra_trigger_or_index_on_a_ledger_table_is_found(path: Path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TRIGGER sneaky AFTER INSERT ON ledger_transactions "
                 "BEGIN SELECT 1; END")
    conn.commit()
    conn.close()
    report = verify_only(path)
    assert report.reason == ("schema: unexpected trigger sneaky on ledger_transactions; "
                             "ecocomp creates no such object")


def test_a_correction_of_a_later_transaction_is_found(path: Path):
    """#3 made to correct "c" (#4), every hash recomputed: only the rule can tell."""
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET corrects = 'c' WHERE seq = 3")
        rehash(conn)
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert report.reason == ("corrects 'c', which is not an earlier transaction (a correction "
                             "must name a key posted before it)")


@pytest.mark.parametrize(("seq", "column", "value", "words"), [
    (4, "kind", "'adjustment'", "a adjustment without corrects"),
    (5, "reason", "NULL", "a adjustment without a reason"),
    (3, "booked_on", "'2023-02-30'", "booked_on '2023-02-30' is not a date YYYY-MM-DD"),
    (3, "booked_on", "'20230131'", "booked_on '20230131' is not a date YYYY-MM-DD"),
    (3, "due", "'2024-4-30'", "due '2024-4-30' is not a date YYYY-MM-DD"),
    (3, "posted_at", "'2024-02-01 00:00:00'", "posted_at '2024-02-01 00:00:00' is not a UTC"),
    (3, "inputs_digest", "'ABCDEF0123456789'", "inputs_digest 'ABCDEF0123456789' is not a "
                                               "lowercase hex digest"),
    (3, "inputs_digest", "'abcdef012345678'", "is not a lowercase hex digest"),  # 15
    (3, "inputs_digest", "'" + "a" * 129 + "'", "is not a lowercase hex digest"),
    (3, "inputs_digest", "'abcdef0123456789' || char(10)", "is not a lowercase hex digest"),
    (3, "inputs_digest", "'abcdef012345678g'", "is not a lowercase hex digest"),
    (3, "meta", """'{"parties":["430700","430800"],"net":"100.00"}'""", "not canonical JSON"),
    (3, "meta", """'{"net": "100.00"}'""", "not canonical JSON"),
    (3, "meta", """'{"net":1.5}'""", "not canonical JSON"),
    (3, "meta", """'{"net":9007199254740993}'""", "not canonical JSON"),
    (3, "meta", """'{"net":"\\u0031"}'""", "not canonical JSON"),
    (3, "meta", "'[]'", "not canonical JSON"),
    (3, "key", "'full' || char(10)", "key 'full\\n' contains a control character"),
    # #4 repeats #1's values: the scan's own check, not a first-seen value's diagnosis
    (4, "key", "'c' || char(31)", "key 'c\\x1f' contains a control character"),
    (3, "reason", "'bad ' || char(0) || ' byte'", "contains a control character"),
    (3, "agreement", "'lishui' || char(31)", "agreement 'lishui\\x1f' contains a control"),
])
def test_a_field_breaking_the_models_rules_is_found_even_with_recomputed_hashes(
    path: Path, seq: int, column: str, value: str, words: str
):
    with opened_without_triggers(path) as conn:
        conn.execute(f"UPDATE ledger_transactions SET {column} = {value} WHERE seq = {seq}")
        rehash(conn)
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, seq), report.problems
    assert words in (report.reason or ""), report.reason


def test_text_that_is_not_utf8_is_found(path: Path):
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET key = CAST(X'66FF' AS TEXT) WHERE seq = 3")
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "a text field is not valid UTF-8" in (report.reason or "")


@pytest.mark.parametrize(("column", "value", "words"), [
    ("debit_party", "'43070'", "debit_party '43070' is not a 6-digit GB/T 2260 code"),
    ("credit_party", "'４３０８００'", "credit_party '４３０８００' is not a 6-digit"),
    ("debit_purpose", "'Payable'", "debit_purpose 'Payable' is not a lowercase slug"),
    ("credit_purpose", "'a' || char(31) || 'b'", "credit_purpose 'a\\x1fb' is not a lowercase"),
    ("debit_purpose", "'2023-01-31'", "debit_purpose '2023-01-31' is not a lowercase slug"),
    ("credit_party", "'2023-01-31'", "credit_party '2023-01-31' is not a 6-digit GB/T 2260"),
])
@pytest.mark.parametrize("idx", [0, 1])
def test_a_transfer_breaking_the_models_rules_is_found_even_with_recomputed_hashes(
    path: Path, column: str, value: str, words: str, idx: int
):
    with opened_without_triggers(path) as conn:
        conn.execute(f"UPDATE ledger_transfers SET {column} = {value} "
                     f"WHERE seq = 3 AND idx = {idx}")
        rehash(conn)
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, 3), report.problems
    assert words in (report.reason or ""), report.reason


def test_the_file_check_beside_the_scan_finds_the_same(path: Path, monkeypatch):
    """Ledger.verify of a large file ledger runs SQLite's check on a second connection in
    a thread; it still finds what the check finds on the ledger's own connection."""
    from ecocomp.ledger import verify

    ran: list[str] = []
    check = verify._integrity_of_file

    def spy(name: str, mode: str, existing: set[str], quick: bool) -> list:
        ran.append(threading.current_thread().name)
        return check(name, mode, existing, quick)

    monkeypatch.setattr(verify, "BESIDE_FROM", 1)
    monkeypatch.setattr(verify, "_integrity_of_file", spy)
    test_a_blob_key_behind_a_restored_strict_schema_is_found(path)
    assert len(ran) == 1 and ran[0] != threading.main_thread().name


@pytest.mark.parametrize("digest", ["0" * 16, "abcdef0123456789" * 8])
def test_inputs_digests_of_the_shortest_and_longest_length_pass(tmp_path: Path, digest: str):
    with Ledger.open(tmp_path / "ledger.db", clock=clock) as ledger:
        ledger.post(NewTransaction(key="d", kind="accrual", booked_on=date(2023, 1, 31),
                                   inputs_digest=digest,
                                   transfers=[Transfer.between(A, B, "1.00", purpose="accrued")]))
        report = ledger.verify()
    assert report.ok, report.problems


# --------------------------------------------------------------------------- own party codes
#: A village collective's own code (南山): its county's GB/T 2260 code, '-', a slug.
VILLAGE = "430529-baiyun-cun"


def test_a_ledger_with_a_collectives_own_code_verifies_strictly(tmp_path: Path):
    db = tmp_path / "own.db"
    with Ledger.open(db, clock=clock) as ledger:
        ledger.post(NewTransaction(key="v", kind="accrual", booked_on=date(2026, 12, 31),
                                   transfers=[Transfer.between(C, VILLAGE, "287342.47",
                                                               purpose="accrued")]))
        ledger.checkpoint()
        assert ledger.verify().ok
        assert ledger.balances()[VILLAGE] > 0
    assert verify_only(db).ok


@pytest.mark.parametrize("value", [
    "'430529-Baiyun'",          # upper case
    "'430529-'",                # nothing after the dash
    "'430529--baiyun'",         # an empty part
    "'430529-baiyun-'",         # a trailing dash
    "'430529-baiyun cun'",      # a space
    "'43052-baiyun'",           # five digits
    "'430529-a-b-c-d-e'",       # more than 4 parts
    "'430529-' || char(31)",    # a control character
])
def test_a_party_code_that_only_looks_like_an_own_code_is_found(path: Path, value: str):
    with opened_without_triggers(path) as conn:
        conn.execute(f"UPDATE ledger_transfers SET credit_party = {value} "
                     "WHERE seq = 3 AND idx = 0")
        rehash(conn)
    report = verify_only(path)
    assert (report.ok, report.first_bad_seq) == (False, 3), report.problems
    assert "is not a 6-digit GB/T 2260 code or a party's own code" in (report.reason or "")


@pytest.mark.parametrize("code", ["430529-Baiyun", "430529-", "430529--x", "430529-a-b-c-d-e",
                                  "430529-" + "x" * 25])
def test_the_model_refuses_what_verify_refuses(code: str):
    from ecocomp.ledger.model import InvalidTransaction

    with pytest.raises(InvalidTransaction, match="party's own code"):
        Transfer.between(C, code, "1.00", purpose="accrued")
