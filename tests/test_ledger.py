"""The ledger's promises: model validation, posting, idempotency, corrections, queries,
exports, schema migrations and append-only triggers (SPEC §5)."""

from __future__ import annotations

import csv
import doctest
import hashlib
import importlib
import io
import json
import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_forgery import write_tx1_ledger

from ecocomp.ledger import (
    GENESIS,
    Account,
    IdempotencyConflict,
    InvalidTransaction,
    Ledger,
    LedgerError,
    LedgerIntegrityError,
    NewTransaction,
    Transaction,
    Transfer,
    UnbalancedTransaction,
    _store,
    canonical_meta,
    checkpoint_hash,
    leaf_hash,
    transaction_hash,
    verify_consistency,
    verify_inclusion,
)
from ecocomp.ledger.hashing import encode_v2

UP, DOWN, PROVINCE = "430800", "430700", "430000"


def clock() -> datetime:
    return datetime(2024, 2, 1, 8, 0, tzinfo=UTC)


def accrual(key: str = "lishui/2023-01/class", amount: str = "800000.00", **overrides: object
            ) -> NewTransaction:
    fields: dict[str, object] = {
        "key": key,
        "kind": "accrual",
        "transfers": [Transfer.between(DOWN, UP, Decimal(amount), purpose="accrued")],
        "agreement": "lishui",
        "period": "2023-01",
        "component": "class",
        "booked_on": date(2023, 1, 31),
        "meta": {"class": "I", "amount": Decimal(amount)},
    }
    fields.update(overrides)
    return NewTransaction(**fields)  # type: ignore[arg-type]


@pytest.fixture
def ledger() -> Ledger:
    with Ledger.open(":memory:", clock=clock) as opened:
        yield opened


# --------------------------------------------------------------------------- model


def test_a_transfer_moves_a_positive_whole_fen_amount_between_two_accounts():
    t = Transfer.between(DOWN, UP, "0.10", purpose="accrued")
    assert t.amount == Decimal("0.10") and t.fen == 10
    assert t.debit == Account(DOWN, "accrued") and t.credit == Account(UP, "accrued")
    assert Transfer.between(DOWN, UP, 12, purpose="payable").amount == Decimal("12.00")
    assert t.reversed() == Transfer(UP, "accrued", DOWN, "accrued", Decimal("0.10"))
    big = Transfer.between(DOWN, UP, "1000000000000.00", purpose="x")  # MAX_YUAN, 1万亿
    assert big.fen == 100000000000000


@pytest.mark.parametrize(
    "amount", ["0", "-1.00", "0.001", "NaN", 0.1, "abc", "1000000000000.01", "1e20"]
)
def test_bad_amounts_are_refused_as_unbalanced(amount: object):
    with pytest.raises(UnbalancedTransaction):
        Transfer.between(DOWN, UP, amount, purpose="accrued")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((DOWN, "accrued", DOWN, "accrued", "1"), "accounts_must_be_different"),
        (("43070", "accrued", UP, "accrued", "1"), "invalid_party"),
        (("４３０７００", "accrued", UP, "accrued", "1"), "invalid_party"),
        ((DOWN, "Accrued", UP, "accrued", "1"), "invalid_purpose"),
        ((DOWN, "accrued", UP, "", "1"), "invalid_purpose"),
    ],
)
def test_transfers_name_the_rule_they_break(args: tuple[str, ...], code: str):
    with pytest.raises(InvalidTransaction) as info:
        Transfer(*args)  # type: ignore[arg-type]
    assert info.value.code == code


def test_same_party_different_purposes_is_a_valid_transfer():
    t = Transfer(DOWN, "accrued", DOWN, "payable", Decimal("5"))
    assert str(t.debit) == "430700:accrued"


def test_account_parses_and_prints():
    assert Account.parse("430700:payable") == Account("430700", "payable")
    with pytest.raises(InvalidTransaction):
        Account.parse("430700")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"transfers": []}, "transfers_must_not_be_empty"),
        ({"kind": "refund"}, "invalid_kind"),
        ({"key": ""}, "invalid_field"),
        ({"key": "a\x1fb"}, "invalid_field"),
        ({"reason": "two\nlines"}, "invalid_field"),
        ({"agreement": ""}, "invalid_field"),
        ({"booked_on": datetime(2023, 1, 31)}, "invalid_field"),
        ({"booked_on": "2023-01-31"}, "invalid_field"),
        ({"inputs_digest": "XYZ"}, "invalid_field"),
        ({"meta": {"rate": 0.1}}, "invalid_meta"),
        ({"meta": {"deep": [{"rate": 1.5}]}}, "invalid_meta"),
        ({"meta": {1: "x"}}, "invalid_meta"),
        ({"meta": {"big": 2**60}}, "invalid_meta"),
        ({"meta": {"when": date(2023, 1, 1)}}, "invalid_meta"),
        ({"kind": "adjustment", "reason": "x"}, "correction_needs_corrects"),
        ({"kind": "reversal", "corrects": "k"}, "correction_needs_reason"),
        ({"corrects": "lishui/2023-01/class"}, "corrects_itself"),
    ],
)
def test_invalid_transactions_cannot_be_built(overrides: dict[str, object], code: str):
    with pytest.raises(InvalidTransaction) as info:
        accrual(**overrides)
    assert info.value.code == code


def test_meta_is_normalised_decimal_to_str_and_tuples_to_lists():
    tx = accrual(meta={"b": (1, Decimal("0.50")), "a": {"z": None, "y": True}})
    assert tx.meta == {"b": [1, "0.50"], "a": {"z": None, "y": True}}
    assert tx.meta_json == '{"a":{"y":true,"z":null},"b":[1,"0.50"]}'
    assert canonical_meta({"名": "水"}) == '{"名":"水"}'


# --------------------------------------------------------------------------- posting


def test_posting_assigns_gap_free_seq_and_chains_hashes(ledger: Ledger):
    results = [ledger.post(accrual(f"k{i}")) for i in range(3)]
    txs = [r.transaction for r in results]
    assert [r.status for r in results] == ["posted"] * 3
    assert [t.seq for t in txs] == [1, 2, 3]
    assert txs[0].prev_hash == GENESIS == "0" * 64
    assert txs[1].prev_hash == txs[0].hash and txs[2].prev_hash == txs[1].hash
    assert txs[0].posted_at == "2024-02-01T08:00:00.000000Z"
    assert all(transaction_hash(t) == t.hash for t in txs)
    assert ledger.get("k1") == txs[1] and ledger.get_seq(3) == txs[2]
    assert ledger.get("nope") is None and ledger.get_seq(99) is None
    assert len(ledger) == 3


def test_same_key_same_content_is_unchanged(ledger: Ledger):
    first = ledger.post(accrual())
    again = ledger.post(accrual())
    assert again.status == "unchanged" and not again.posted
    assert again.transaction == first.transaction
    assert len(ledger) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"transfers": [Transfer.between(DOWN, UP, "1.00", purpose="accrued")]},
         "transfers[0].amount"),
        ({"transfers": [Transfer.between(DOWN, PROVINCE, "800000", purpose="accrued")]},
         "transfers[0].credit_party"),
        ({"transfers": [Transfer.between(PROVINCE, UP, "800000", purpose="accrued")]},
         "transfers[0].debit_party"),
        ({"transfers": [Transfer.between(DOWN, UP, "800000", purpose="payable")]},
         "transfers[0].debit_purpose"),
        ({"transfers": [Transfer.between(DOWN, UP, "400000", purpose="accrued")] * 2},
         "transfers"),
        ({"meta": {"class": "II", "amount": "800000.00"}}, "meta.class"),
        ({"meta": {"class": "I", "amount": "800000.00", "extra": 1}}, "meta.extra"),
        ({"kind": "clearing"}, "kind"),
        ({"booked_on": date(2023, 2, 1)}, "booked_on"),
        ({"period": "2023-02"}, "period"),
        ({"agreement": None}, "agreement"),
        ({"reference": "GK-1"}, "reference"),
        ({"due": date(2024, 4, 30)}, "due"),
        ({"inputs_digest": "ab" * 32}, "inputs_digest"),
        ({"component": "flow"}, "component"),
        ({"reason": "recomputed"}, "reason"),
        ({"corrects": "lishui/2022-12/class"}, "corrects"),
    ],
)
def test_same_key_different_content_is_a_conflict_naming_the_field(
    ledger: Ledger, change: dict[str, object], field: str
):
    ledger.post(accrual())
    with pytest.raises(IdempotencyConflict) as info:
        ledger.post(accrual(**change))
    assert field in info.value.differences
    assert info.value.key == "lishui/2023-01/class"
    assert field in str(info.value)
    assert len(ledger) == 1


def test_meta_true_and_one_differ(ledger: Ledger):
    ledger.post(accrual(meta={"flag": True}))
    with pytest.raises(IdempotencyConflict) as info:
        ledger.post(accrual(meta={"flag": 1}))
    assert info.value.differences == ("meta",)


def test_post_many_is_all_or_nothing(ledger: Ledger):
    ledger.post(accrual("a"))
    batch = [accrual("b"), accrual("c"), accrual("a", "1.00")]
    with pytest.raises(IdempotencyConflict):
        ledger.post_many(batch)
    assert len(ledger) == 1 and ledger.get("b") is None
    results = ledger.post_many([accrual("b"), accrual("a"), accrual("b")])
    assert [r.status for r in results] == ["posted", "unchanged", "unchanged"]
    assert results[2].transaction == results[0].transaction
    assert ledger.verify().ok


def test_a_batch_rolls_back_on_any_exception(ledger: Ledger):
    with pytest.raises(RuntimeError), ledger.batch() as b:
        b.post(accrual("x"))
        assert b.get("x") is not None  # the batch sees its own posts
        assert ledger.balances()[UP] == Decimal("800000.00")
        raise RuntimeError("settlement computation failed")
    assert len(ledger) == 0 and ledger.balances() == {}
    with ledger.batch() as b:
        b.post(accrual("x"))
        ledger.post(accrual("y"))  # joins the open batch
        assert [t.key for t in b.transactions(agreement="lishui")] == ["x", "y"]
    assert len(ledger) == 2 and ledger.verify().ok


def test_a_failed_post_inside_a_batch_leaves_the_rest_of_the_batch(ledger: Ledger):
    with ledger.batch() as b:
        b.post(accrual("a"))
        with pytest.raises(IdempotencyConflict):
            b.post_many([accrual("b"), accrual("a", "2.00")])
        b.post(accrual("c"))
    assert [t.key for t in ledger.transactions()] == ["a", "c"]
    assert ledger.verify().ok


def test_batches_do_not_nest(ledger: Ledger):
    with ledger.batch(), pytest.raises(LedgerError, match="already open"):
        with ledger.batch():
            pass


def test_posting_something_else_is_refused(ledger: Ledger):
    with pytest.raises(LedgerError):
        ledger.post("not a transaction")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- corrections


def test_reversal_is_the_exact_opposite_and_nets_to_zero(ledger: Ledger):
    original = ledger.post(accrual()).transaction
    result = ledger.reverse(original.key, reason="wrong section", booked_on=date(2023, 3, 1))
    rev = result.transaction
    assert result.status == "posted" and rev.kind == "reversal"
    assert rev.key == "lishui/2023-01/class#reversal" and rev.corrects == original.key
    assert rev.transfers == tuple(t.reversed() for t in original.transfers)
    assert (rev.agreement, rev.period, rev.component) == ("lishui", "2023-01", "class")
    assert ledger.net(agreement="lishui", period="2023-01") == {}
    again = ledger.reverse(original.key, reason="wrong section", booked_on=date(2023, 3, 1))
    assert again.status == "unchanged"
    with pytest.raises(InvalidTransaction) as info:
        ledger.reverse(original.key, reason="twice", new_key="other", booked_on=date(2023, 3, 1))
    assert info.value.code == "already_reversed"


def test_reversal_must_mirror_and_reference_an_existing_key(ledger: Ledger):
    ledger.post(accrual())
    with pytest.raises(InvalidTransaction) as info:
        ledger.post(accrual("r", kind="reversal", corrects="lishui/2023-01/class", reason="x"))
    assert info.value.code == "reversal_must_mirror_original"
    with pytest.raises(InvalidTransaction) as info:
        ledger.post(accrual("a", kind="adjustment", corrects="missing", reason="x"))
    assert info.value.code == "corrects_not_found"
    with pytest.raises(InvalidTransaction):
        ledger.reverse("missing", reason="x")


def test_adjustment_corrects_the_net_of_an_agreement_period(ledger: Ledger):
    ledger.post(accrual())
    adjustment = NewTransaction(
        key="lishui/2023-01/class#adj1", kind="adjustment", booked_on=date(2024, 5, 1),
        transfers=[Transfer.between(UP, DOWN, "300000.00", purpose="accrued")],
        agreement="lishui", period="2023-01", component="class",
        corrects="lishui/2023-01/class", reason="revised readings: class II, not I",
    )
    ledger.post(adjustment)
    assert ledger.net(agreement="lishui", period="2023-01") == {
        DOWN: Decimal("-500000.00"), UP: Decimal("500000.00")}
    assert [t.key for t in ledger.transactions(corrects="lishui/2023-01/class")] == [
        "lishui/2023-01/class#adj1"]


def test_a_correction_may_reference_an_earlier_post_in_the_same_batch(ledger: Ledger):
    with ledger.batch() as b:
        b.post(accrual("a"))
        b.reverse("a", reason="posted by mistake", booked_on=date(2023, 2, 1))
    assert ledger.balances() == {DOWN: Decimal("0.00"), UP: Decimal("0.00")}


# --------------------------------------------------------------------------- queries


def _year(ledger: Ledger) -> None:
    for month in range(1, 13):
        ledger.post(accrual(f"lishui/2023-{month:02d}/class", "80000.00",
                            period=f"2023-{month:02d}", booked_on=date(2023, month, 28)))
    ledger.post(NewTransaction(
        key="lishui/2023/clearing", kind="clearing", booked_on=date(2023, 12, 31),
        due=date(2024, 4, 30), agreement="lishui", period="2023", component="clearing",
        transfers=[Transfer.between(DOWN, UP, "960000.00", purpose="payable"),
                   Transfer.between(UP, DOWN, "960000.00", purpose="accrued")]))
    ledger.post(NewTransaction(
        key="lishui/2023/payment/GK-1", kind="payment", booked_on=date(2024, 4, 20),
        reference="GK-1", agreement="lishui", period="2023", component="payment",
        transfers=[Transfer.between(UP, DOWN, "960000.00", purpose="payable"),
                   Transfer.between(DOWN, UP, "960000.00", purpose="settled")]))


def test_balances_as_of_a_date_or_seq_reproduce_and_sum_to_zero(ledger: Ledger):
    _year(ledger)
    june = ledger.balances(as_of=date(2023, 6, 30))
    assert june == {DOWN: Decimal("-480000.00"), UP: Decimal("480000.00")}
    assert ledger.balances(upto_seq=6) == june
    accounts = ledger.balances(by="account")
    assert accounts == {
        f"{DOWN}:accrued": Decimal("0.00"), f"{DOWN}:payable": Decimal("0.00"),
        f"{DOWN}:settled": Decimal("-960000.00"), f"{UP}:accrued": Decimal("0.00"),
        f"{UP}:payable": Decimal("0.00"), f"{UP}:settled": Decimal("960000.00"),
    }
    assert sum(accounts.values()) == 0 == sum(ledger.balances().values())
    before_payment = ledger.balances(as_of=date(2024, 1, 1), by="account")
    assert before_payment[f"{DOWN}:payable"] == Decimal("-960000.00")
    ledger.post(accrual("later", booked_on=date(2023, 6, 1)))  # back-dated
    assert ledger.balances(upto_seq=6) == june  # by seq: unchanged forever
    assert ledger.balances(as_of=date(2023, 6, 30))[UP] == Decimal("1280000.00")
    with pytest.raises(LedgerError):
        ledger.balances(by="purpose")  # type: ignore[arg-type]


def test_statement_has_opening_running_and_closing_balance(ledger: Ledger):
    _year(ledger)
    st = ledger.statement(DOWN, date(2023, 7, 1), date(2024, 12, 31))
    assert st.opening == Decimal("-480000.00")
    assert [line.amount for line in st.lines[:6]] == [Decimal("-80000.00")] * 6
    assert st.lines[5].balance == Decimal("-960000.00")
    clearing = st.lines[6]
    assert clearing.kind == "clearing" and clearing.amount == 0
    assert clearing.accounts == {"accrued": Decimal("960000.00"),
                                 "payable": Decimal("-960000.00")}
    assert st.closing == Decimal("-960000.00") == st.lines[-1].balance
    payable = ledger.statement(DOWN, date(2023, 1, 1), date(2024, 12, 31), purpose="payable")
    assert [line.balance for line in payable.lines] == [Decimal("-960000.00"), Decimal("0.00")]


def test_transactions_filter_by_metadata_and_party(ledger: Ledger):
    _year(ledger)
    ledger.post(accrual("other", agreement="xiang", transfers=[
        Transfer.between(PROVINCE, UP, "1.00", purpose="accrued")]))
    assert len(ledger.transactions(agreement="lishui")) == 14
    assert [t.key for t in ledger.transactions(period="2023-03")] == ["lishui/2023-03/class"]
    assert [t.kind for t in ledger.transactions(kind="payment")] == ["payment"]
    assert [t.key for t in ledger.transactions(party=PROVINCE)] == ["other"]
    assert len(ledger.transactions(component="class", booked_from=date(2023, 11, 1))) == 2
    assert ledger.transactions(party="110000") == []
    tx = ledger.get("lishui/2023/clearing")
    assert tx is not None and tx.parties == (DOWN, UP) and tx.effect(DOWN) == 0
    assert tx.effect(DOWN, "payable") == Decimal("-960000.00")
    assert tx.total == Decimal("1920000.00")


def test_net_over_corrections_per_agreement_and_period(ledger: Ledger):
    _year(ledger)
    assert ledger.net(agreement="lishui", period="2023-01") == {
        DOWN: Decimal("-80000.00"), UP: Decimal("80000.00")}
    assert ledger.net(agreement="lishui", purpose="payable") == {}
    assert ledger.net(agreement="lishui", purpose="settled") == {
        DOWN: Decimal("-960000.00"), UP: Decimal("960000.00")}


# --------------------------------------------------------------------------- export


def test_export_json_round_trips_and_rehashes(ledger: Ledger, tmp_path: Path):
    _year(ledger)
    ledger.checkpoint()
    out = tmp_path / "ledger.json"
    assert ledger.export_json(out) == 14
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "ecocomp.ledger/1"
    assert data["schema_version"] == _store.SCHEMA_VERSION
    prev = GENESIS
    for record in data["transactions"]:
        tx = Transaction.from_json(record)
        assert tx == ledger.get(record["key"])
        assert transaction_hash(tx) == record["hash"] and record["prev_hash"] == prev
        prev = record["hash"]
    cp = data["checkpoints"][0]
    assert cp["seq"] == 14 and cp["root"] == ledger.checkpoints()[0].root


def test_export_csv_has_one_row_per_transfer_with_hashes(ledger: Ledger):
    _year(ledger)
    out = io.StringIO()
    assert ledger.export_csv(out) == 14
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 16
    assert rows[-1]["amount"] == "960000.00" and rows[-1]["transfer"] == "1"
    assert rows[-1]["hash"] == ledger.get_seq(14).hash  # type: ignore[union-attr]
    withbom = io.StringIO()
    ledger.export_csv(withbom, bom=True)
    assert withbom.getvalue().startswith("\ufeffseq,")


# --------------------------------------------------------------------------- checkpoints


def test_checkpoints_prove_inclusion_and_consistency_without_the_database(ledger: Ledger):
    with pytest.raises(LedgerError, match="nothing to checkpoint"):
        ledger.checkpoint()
    _year(ledger)
    first = ledger.checkpoint()
    assert ledger.checkpoint() == first  # nothing new: the same checkpoint
    ledger.post(accrual("late"))
    second = ledger.checkpoint()
    assert (first.number, first.seq, second.number, second.seq) == (1, 14, 2, 15)
    assert second.prev_hash == first.hash and checkpoint_hash(second) == second.hash
    proof = ledger.inclusion_proof("lishui/2023-05/class", first.seq)
    leaf = leaf_hash(bytes.fromhex(ledger.get("lishui/2023-05/class").hash))  # type: ignore
    assert verify_inclusion(leaf, 4, 14, list(proof.path), first.root)
    assert proof.verify(first.root) and not proof.verify(second.root)
    latest = ledger.inclusion_proof(15)
    assert latest.tree_size == 15 and latest.verify(second.root)
    c = ledger.consistency_proof(first.seq, second.seq)
    assert verify_consistency(14, 15, first.root, second.root, list(c.path))
    assert c.verify(first.root, second.root) and not c.verify(second.root, second.root)
    with pytest.raises(LedgerError, match="no checkpoint covers"):
        ledger.inclusion_proof(1, 7)
    ledger.post(accrual("after"))
    with pytest.raises(LedgerError, match="after checkpoint"):
        ledger.inclusion_proof("after")
    with pytest.raises(LedgerError, match="no transaction"):
        ledger.inclusion_proof("missing")


def test_checkpoint_refuses_to_certify_a_broken_ledger(tmp_path: Path):
    path = tmp_path / "l.db"
    with Ledger.open(path) as ledger:
        ledger.post(accrual("a"))
        conn = ledger.connection
        (trigger,) = conn.execute("SELECT sql FROM sqlite_master "
                                  "WHERE name = 'ledger_transactions_no_update'").fetchone()
        conn.execute("DROP TRIGGER ledger_transactions_no_update")
        conn.execute("UPDATE ledger_transactions SET reason = 'edited' WHERE seq = 1")
        conn.execute(trigger)
        with pytest.raises(LedgerIntegrityError) as info:
            ledger.checkpoint()
        assert info.value.seq == 1
        assert ledger.checkpoints() == []
        conn.execute("DROP TRIGGER ledger_transactions_no_update")
        with pytest.raises(LedgerIntegrityError, match="schema: trigger "
                           "ledger_transactions_no_update is missing") as info:
            ledger.checkpoint()
        assert info.value.seq is None


# --------------------------------------------------------------------------- verify


def test_verify_reports_and_optionally_raises(ledger: Ledger):
    _year(ledger)
    report = ledger.verify()
    assert report.ok and report.count == 14 and report.first_bad_seq is None
    assert report.head == ledger.get_seq(14).hash  # type: ignore[union-attr]
    assert ledger.verify(raise_on_error=True).ok
    conn = ledger.connection
    (trigger,) = conn.execute("SELECT sql FROM sqlite_master "
                              "WHERE name = 'ledger_transfers_no_update'").fetchone()
    conn.execute("DROP TRIGGER ledger_transfers_no_update")
    conn.execute("UPDATE ledger_transfers SET amount_fen = amount_fen + 1 WHERE seq = 5")
    conn.execute(trigger)
    report = ledger.verify()
    assert not report.ok and report.first_bad_seq == 5 and "hash" in (report.reason or "")
    with pytest.raises(LedgerIntegrityError) as info:
        ledger.verify(raise_on_error=True)
    assert info.value.seq == 5 and "transaction #5" in str(info.value)


def test_quick_verify_runs_quick_check(ledger: Ledger):
    _year(ledger)
    assert ledger.verify(quick=True).quick and not ledger.verify().quick
    assert ledger.verify(quick=True).ok


def test_an_empty_ledger_verifies(ledger: Ledger):
    report = ledger.verify()
    assert report.ok and report.count == 0 and report.head is None


def test_verify_inline_encoding_matches_the_reference_encoding(ledger: Ledger):
    """The fast verify loop and hashing.encode_v2 must agree on every field."""
    ledger.post(accrual(
        "every/field", due=date(2024, 4, 30), reason="理由 with unicode", reference="GK-9",
        inputs_digest="ab" * 32, meta={"水": ["Ⅲ", 1, None, True], "a": {"b": "c"}},
        transfers=[Transfer.between(DOWN, UP, "1.01", purpose="accrued"),
                   Transfer(UP, "payable", DOWN, "settled", Decimal("0.01"))]))
    ledger.post(accrual("c", kind="adjustment", corrects="every/field", reason="r"))
    assert ledger.verify().ok
    tx = ledger.get("every/field")
    assert tx is not None
    values = [tx.prev_hash, tx.seq, tx.key, tx.kind, "2023-01-31", "2024-04-30",
              "lishui", "2023-01", "class", None, "理由 with unicode", "GK-9", "ab" * 32,
              '{"a":{"b":"c"},"水":["Ⅲ",1,null,true]}', tx.posted_at]
    transfers = [[DOWN, "accrued", UP, "accrued", 101], [UP, "payable", DOWN, "settled", 1]]
    assert tx.encoding == 2
    assert hashlib.sha256(encode_v2(values, transfers)).hexdigest() == tx.hash


# --------------------------------------------------------------------------- storage


def test_storage_is_wal_strict_and_integer_fen(tmp_path: Path):
    path = tmp_path / "s.db"
    with Ledger.open(path) as ledger:
        ledger.post(accrual(amount="0.10"))
        conn = ledger.connection
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        row = conn.execute("SELECT amount_fen, typeof(amount_fen) FROM ledger_transfers"
                           ).fetchone()
        assert row == (10, "integer")
        with pytest.raises(sqlite3.IntegrityError):  # STRICT: no REAL in a money column
            conn.execute("INSERT INTO ledger_transfers VALUES (9, 0, 'a', 'b', 'c', 'd', 1.5)")
    assert ledger.path == str(path)


def test_the_ledger_shares_a_database_file_with_other_tables(tmp_path: Path):
    path = tmp_path / "shared.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE catalog_parties (code TEXT PRIMARY KEY)")
    conn.commit()
    conn.close()
    with Ledger.open(path) as ledger:
        ledger.post(accrual())
    with Ledger.open(path) as ledger:
        assert ledger.verify().ok and len(ledger) == 1


@pytest.mark.parametrize("table", ["ledger_transactions", "ledger_transfers",
                                   "ledger_checkpoints", "ledger_schema_version",
                                   "ledger_encodings"])
def test_triggers_refuse_update_delete_and_replace(tmp_path: Path, table: str):
    with Ledger.open(tmp_path / "t.db") as ledger:
        _year(ledger)
        ledger.checkpoint()
        conn = ledger.connection
        with pytest.raises(sqlite3.IntegrityError, match="UPDATE refused"):
            first_column = conn.execute(f"PRAGMA table_info({table})").fetchone()[1]
            conn.execute(f"UPDATE {table} SET {first_column} = {first_column}")
        with pytest.raises(sqlite3.IntegrityError, match="DELETE refused"):
            conn.execute(f"DELETE FROM {table}")
        with pytest.raises(sqlite3.IntegrityError, match="INSERT over an existing row"):
            conn.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} LIMIT 1")
        assert ledger.verify().ok


@pytest.mark.parametrize(("table", "other_column", "clash_on"), [
    ("ledger_transactions", "seq", "key"),
    ("ledger_encodings", "encoding", "from_seq"),
])
def test_replace_through_the_second_unique_column_is_refused_too(
    tmp_path: Path, table: str, other_column: str, clash_on: str
):
    """A row new by its primary key but clashing on the other UNIQUE column: REPLACE would
    delete the old row. The trigger checks both columns (a trigger reduced to the primary
    key, e.g. ``seq = NEW.seq``, lets this through)."""
    with Ledger.open(tmp_path / "t.db") as ledger:
        _year(ledger)
        ledger.checkpoint()
        conn = ledger.connection
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        values = ", ".join(f"{c} + 100" if c == other_column else c for c in columns)
        before = conn.execute(f"SELECT * FROM {table}").fetchall()
        with pytest.raises(sqlite3.IntegrityError, match="INSERT over an existing row"):
            conn.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                         f"SELECT {values} FROM {table} LIMIT 1")
        assert conn.execute(f"SELECT * FROM {table}").fetchall() == before
        assert clash_on in columns and ledger.verify().ok


def test_sqlite_utils_upsert_and_replace_cannot_edit_the_ledger(tmp_path: Path):
    sqlite_utils = pytest.importorskip("sqlite_utils")
    path = tmp_path / "u.db"
    with Ledger.open(path) as ledger:
        ledger.post(accrual())
    db = sqlite_utils.Database(path)
    row = dict(next(db["ledger_transactions"].rows))
    with pytest.raises(sqlite3.IntegrityError):
        db["ledger_transactions"].upsert({**row, "reason": "edited"}, pk="seq")
    with pytest.raises(sqlite3.IntegrityError):
        db["ledger_transactions"].insert({**row, "reason": "edited"}, replace=True)
    db.close()
    with Ledger.open(path) as ledger:
        assert ledger.verify().ok and ledger.get_seq(1).reason is None  # type: ignore


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path):
    path = tmp_path / "future.db"
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    future = _store.SCHEMA_VERSION + 1
    conn.execute(f"INSERT INTO ledger_schema_version VALUES ({future}, 'from the future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match=f"schema version {future} is newer"):
        Ledger.open(path)


def test_migrations_apply_in_order_and_a_newer_one_is_refused(tmp_path: Path):
    path = tmp_path / "v.db"
    with Ledger.open(path) as ledger:
        ledger.post(accrual())
        assert ledger.schema_version == _store.SCHEMA_VERSION == 3
    with Ledger.open(path) as ledger:
        assert ledger.verify().ok and ledger.schema_version == _store.SCHEMA_VERSION
    n = _store.SCHEMA_VERSION + 1
    later = _store.Migration(n, "add a notes table", ["CREATE TABLE ledger_notes (x TEXT)"])
    conn = _store.connect(str(path), busy_timeout_ms=1000)
    assert _store.migrate(conn, migrations=(*_store.MIGRATIONS, later)) == n
    assert _store.migrate(conn, migrations=(*_store.MIGRATIONS, later)) == n  # no-op
    versions = conn.execute("SELECT version, description FROM ledger_schema_version").fetchall()
    assert versions == [*((m.version, m.description) for m in _store.MIGRATIONS),
                        (n, "add a notes table")]
    conn.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger.open(path)  # this code does not know version n


def test_a_tx1_ledger_upgrades_keeps_verifying_and_new_posts_use_tx2(tmp_path: Path):
    path = tmp_path / "old.db"
    write_tx1_ledger(path, [accrual("a"),
                            accrual("b", kind="adjustment", corrects="a", reason="r")])
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == _store.SCHEMA_VERSION
        report = ledger.verify()
        assert report.ok and report.count == 2 and report.tx2_from_seq == 3, report
        old = ledger.get("a")
        assert old is not None and old.encoding == 1 and transaction_hash(old) == old.hash
        new = ledger.post(accrual("c")).transaction
        assert new.seq == 3 and new.encoding == 2 and transaction_hash(new) == new.hash
        assert Transaction.from_json(new.to_json()) == new
        assert ledger.verify().ok and ledger.get("c") == new
    with Ledger.open(path) as ledger:  # reopening keeps where tx/2 starts
        assert ledger.verify().tx2_from_seq == 3 and ledger.get_seq(2).encoding == 1  # type: ignore[union-attr]


def test_an_export_made_before_tx2_still_rehashes(tmp_path: Path):
    path = tmp_path / "old.db"
    write_tx1_ledger(path, [accrual("a")])
    with Ledger.open(path) as ledger:
        record = ledger.get("a").to_json()  # type: ignore[union-attr]
    del record["encoding"]  # exports before tx/2 had no such field
    assert transaction_hash(Transaction.from_json(record)) == record["hash"]


def test_a_failed_migration_leaves_nothing(tmp_path: Path):
    path = tmp_path / "m.db"
    conn = _store.connect(str(path), busy_timeout_ms=1000)
    broken = _store.Migration(3, "broken", ["CREATE TABLE ok_table (x)", "NOT SQL"])
    with pytest.raises(sqlite3.OperationalError):
        _store.migrate(conn, migrations=(*_store.MIGRATIONS, broken))
    assert _store.schema_version(conn) == 0
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "ok_table" not in tables and "ledger_transactions" not in tables
    conn.close()


def test_clock_must_be_timezone_aware():
    with pytest.raises(LedgerError, match="naive"):
        Ledger.open(":memory:", clock=lambda: datetime(2024, 1, 1))


def test_posted_at_is_utc(tmp_path: Path):
    cst = datetime(2024, 2, 1, 16, 0, tzinfo=UTC) + timedelta(hours=8)
    with Ledger.open(":memory:", clock=lambda: cst.astimezone()) as ledger:
        tx = ledger.post(accrual()).transaction
    assert tx.posted_at == "2024-02-02T00:00:00.000000Z"


# --------------------------------------------------------------------------- docs


@pytest.mark.parametrize("module", ["ecocomp.ledger", "ecocomp.ledger.ledger",
                                    "ecocomp.ledger.model", "ecocomp.ledger.hashing",
                                    "ecocomp.ledger.merkle"])
def test_docstring_examples_run(module: str):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_the_examples_in_docs_ledger_md_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = (Path(__file__).resolve().parents[1] / "docs" / "ledger.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/ledger.md", "exec"), namespace)


def test_unopenable_files_raise_ledger_errors(tmp_path: Path):
    with pytest.raises(LedgerError, match=r"cannot open ledger: .*l\.db: the folder .*missing"
                                          r"/dir does not exist"):
        Ledger.open(tmp_path / "missing" / "dir" / "l.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match=r"cannot open ledger: .*junk\.db: not an SQLite"):
        Ledger.open(junk)


@pytest.mark.parametrize("content", ["empty", "foreign"])
def test_opening_without_create_refuses_a_file_without_a_ledger_and_leaves_it_alone(
    tmp_path: Path, content: str
):
    path = tmp_path / "other.db"
    if content == "empty":
        path.touch()
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE customers (id INTEGER)")
        conn.commit()
        conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match=r"other\.db: no ecocomp ledger in this file"):
        Ledger.open(path, create=False)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal, no -shm
    with pytest.raises(LedgerError, match=r"nope\.db: cannot open the file"):
        Ledger.open(tmp_path / "nope.db", create=False)


def test_opening_without_create_opens_an_existing_ledger(tmp_path: Path):
    path = tmp_path / "l.db"
    with Ledger.open(path) as ledger:
        ledger.post(accrual("a"))
    with Ledger.open(path, create=False) as ledger:
        assert len(ledger) == 1 and ledger.verify().ok


def test_a_writer_that_cannot_get_the_lock_gets_a_clear_error(tmp_path: Path):
    path = tmp_path / "busy.db"
    with Ledger.open(path) as first, Ledger.open(path, busy_timeout_ms=50) as second:
        with first.batch() as b:
            b.post(accrual("a"))
            with pytest.raises(LedgerError, match="cannot start a write"):
                second.post(accrual("b"))
            assert second.get("a") is None  # readers see only committed data
        assert second.get("a") is not None
        assert second.post(accrual("b")).status == "posted"
