"""Checkpoints held outside the file: what an attacker who can write the database cannot hide.

The attacker drops the append-only triggers and rewrites the file with raw SQL, recomputing
every hash ecocomp could recompute. Plain ``verify()`` cannot see such a consistent
rewrite; a head kept outside the file (``--head-out``, a statement's receipt) and the
operator's public key can.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from ledger_forgery import opened_without_triggers, write_tx1_ledger

import ecocomp
from ecocomp.cli import main
from ecocomp.errors import LedgerError, LedgerIntegrityError
from ecocomp.ledger import (
    Checkpoint,
    Ledger,
    LedgerHead,
    MerkleTree,
    NewTransaction,
    Signer,
    Transaction,
    Transfer,
    _store,
    catalog_digest,
    leaf_hash,
    load_public_key,
    transaction_hash,
)
from ecocomp.ledger.backup import backup_database
from ecocomp.ledger.checkpoints import (
    _CATALOG_V1,
    CATALOG_FORMAT,
    CATALOG_TABLES,
    _catalog_digest,
    verify_head_signature,
)
from ecocomp.ledger.hashing import checkpoint_bytes, checkpoint_message, posting_hash
from ecocomp.ledger.verify import verify_ledger
from ecocomp.statements import party_statement

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
LISHUI = "lishui-zjj-cd-2020"
YOUSHUI = "youshui-cq-hn-2019"
PAYER, PAYEE = "430700", "430800"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture(scope="module")
def settled(
    tmp_path_factory: pytest.TempPathFactory, signer: Signer
) -> Iterator[tuple[Path, Path, LedgerHead]]:
    """The example settled and one payment made, both signed; returns (db, older, head).

    ``older`` is a copy taken after the settlement, before the payment; ``head`` is what a
    county kept after the payment.
    """
    folder = tmp_path_factory.mktemp("checkpoints")
    db, older = folder / "settle.db", folder / "older.db"
    project = ecocomp.load_project(EXAMPLE)
    with Ledger.open(db) as ledger:
        result = ecocomp.settle(project, year=YEAR, ledger=ledger, today=date(2022, 3, 1),
                                signer=signer)
        assert result.head is not None and result.head.seq == len(ledger)
    shutil.copy(db, older)
    with Ledger.open(db) as ledger:
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                    amount=Decimal("300000.00"), paid_on=date(2022, 4, 20),
                    reference="GK2022-0001", signer=signer)
        head = ledger.head()
    assert head is not None and head.signature
    yield db, older, head


@pytest.fixture
def db(tmp_path: Path, settled: tuple[Path, Path, LedgerHead]) -> Path:
    copy = tmp_path / "settle.db"
    shutil.copy(settled[0], copy)
    return copy


@pytest.fixture
def held(settled: tuple[Path, Path, LedgerHead]) -> LedgerHead:
    return settled[2]


def raw(path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    """What someone with write access does: drop the triggers, change the file, and put
    the triggers back exactly (verify's schema check would see them missing)."""
    with opened_without_triggers(path) as conn:
        for statement in statements:
            conn.execute(statement, params if "?" in statement else ())


def recompute_everything(path: Path) -> None:
    """Re-chain every transaction and re-root every checkpoint, as a careful attacker would.

    Signatures cannot be recomputed without the private key; they are left as they were.
    """
    with Ledger.open(path) as ledger:
        txs = ledger.transactions()
        cps = ledger.checkpoints()
    with opened_without_triggers(path) as conn:
        _rechain(conn, txs, cps)


def _rechain(conn: sqlite3.Connection, txs: list[Transaction], cps: list[Checkpoint]) -> None:
    prev = "0" * 64
    leaves = []
    for tx in txs:
        rechained = attrs.evolve(tx, prev_hash=prev)
        digest = transaction_hash(rechained)
        conn.execute("UPDATE ledger_transactions SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (prev, digest, tx.seq))
        leaves.append(leaf_hash(bytes.fromhex(digest)))
        prev = digest
    tree = MerkleTree(leaves)
    catalog = catalog_digest(conn)
    previous = "0" * 64
    for cp in cps:
        seq = min(cp.seq, len(leaves))
        fixed = attrs.evolve(cp, seq=seq, root=tree.root(seq).hex(), prev_hash=previous,
                             catalog=catalog if cp.catalog is not None else None)
        digest = hashlib.sha256(checkpoint_bytes(fixed)).hexdigest()
        conn.execute("UPDATE ledger_checkpoints SET seq = ?, root = ?, prev_hash = ?, "
                     "hash = ?, catalog = ? WHERE number = ?",
                     (seq, fixed.root, previous, digest, fixed.catalog, cp.number))
        previous = digest


def check(path: Path, head: LedgerHead, key: Signer | None = None) -> ecocomp.ledger.HeadCheck:
    with Ledger.open(path) as ledger:
        return ledger.verify_against(head, public_key=key.public_key if key else None)


def verified(path: Path) -> bool:
    with Ledger.open(path) as ledger:
        return ledger.verify().ok


# --------------------------------------------------------------------------- by default


def test_settle_and_pay_checkpoint_every_post(settled: tuple[Path, Path, LedgerHead],
                                              signer: Signer):
    db, older, head = settled
    with Ledger.open(older) as ledger:
        first = ledger.checkpoints()
        assert [c.seq for c in first] == [len(ledger)] and ledger.unvouched() == 0
    with Ledger.open(db) as ledger:
        cps = ledger.checkpoints()
        assert [c.number for c in cps] == [1, 2] and cps[-1].seq == len(ledger) == head.seq
        assert all(c.key_id == signer.key_id and c.catalog for c in cps)
        assert ledger.unvouched() == 0 and ledger.verify().ok
        assert head.chain == ledger.get_seq(head.seq).hash  # type: ignore[union-attr]
    assert verify_head_signature(head, signer.public_key) is None


def test_a_dry_run_makes_no_checkpoint(db: Path):
    with Ledger.open(db) as ledger:
        before = ledger.checkpoints()
        result = ecocomp.settle(ecocomp.load_project(EXAMPLE), year=YEAR, ledger=ledger,
                                dry_run=True)
        assert result.head is None and ledger.checkpoints() == before
        assert result.to_json()["head"] is None


def test_the_checkpoint_commits_with_the_posts_or_not_at_all(db: Path, monkeypatch):
    """A failure while checkpointing rolls the payment back: no unvouched tail is left."""
    with Ledger.open(db) as ledger:
        count, checkpoints = len(ledger), len(ledger.checkpoints())

    def broken(self: Ledger, **_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Ledger, "checkpoint", broken)
    with Ledger.open(db) as ledger, pytest.raises(OSError, match="disk full"):
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                    amount=Decimal("1.00"), paid_on=date(2022, 4, 21), reference="GK-ROLL")
    monkeypatch.undo()
    with Ledger.open(db) as ledger:
        assert (len(ledger), len(ledger.checkpoints()), ledger.unvouched()) == (
            count, checkpoints, 0)


def test_an_untampered_ledger_extends_the_held_head(db: Path, held: LedgerHead,
                                                    signer: Signer):
    result = check(db, held, signer)
    assert result.ok and result.problems == () and result.unvouched == 0
    with Ledger.open(db) as ledger:
        assert ledger.verify_against(seq=held.seq, root=held.root).ok
        proof = ledger.inclusion_proof(held.seq, held.seq)
        assert proof.verify(held.root)


# --------------------------------------------------------------------------- attacks


def test_truncation_is_caught_against_the_held_head(db: Path, held: LedgerHead):
    """The payment, its transfers and its checkpoint removed: a valid shorter ledger."""
    raw(db, f"DELETE FROM ledger_transfers WHERE seq = {held.seq}",
        f"DELETE FROM ledger_transactions WHERE seq = {held.seq}",
        f"DELETE FROM ledger_checkpoints WHERE number = {held.number}")
    assert verified(db)  # verify alone cannot know the payment existed
    result = check(db, held)
    assert not result.ok and "removed" in " ".join(result.problems)


def test_rollback_to_an_older_copy_is_caught(settled: tuple[Path, Path, LedgerHead],
                                             tmp_path: Path):
    _, older, held = settled
    copy = tmp_path / "restored.db"
    shutil.copy(older, copy)
    assert verified(copy)
    result = check(copy, held)
    assert not result.ok and result.count == held.seq - 1


def test_a_consistent_rewrite_is_caught(db: Path, held: LedgerHead, signer: Signer):
    """An 11,000,000.00 clearing erased to 1 fen, every hash and root recomputed."""
    with Ledger.open(db) as ledger:
        clearing = next(tx for tx in ledger.transactions(agreement=YOUSHUI)
                        if tx.component == "clearing")
    assert clearing.transfers[0].amount == Decimal("11000000.00")
    raw(db, f"UPDATE ledger_transfers SET amount_fen = 1 WHERE seq = {clearing.seq}")
    assert not verified(db)
    recompute_everything(db)
    assert verified(db)  # a fully recomputed chain passes verify alone
    result = check(db, held)
    assert not result.ok and any("does not extend" in p for p in result.problems)
    with Ledger.open(db) as ledger:  # the county's inclusion proof no longer checks
        proof = ledger.inclusion_proof(clearing.seq, held.seq)
        assert proof.verify(proof.root) and not proof.verify(held.root)
    signed = check(db, held, signer)
    assert not signed.ok and any("signature does not verify" in p for p in signed.problems)


def test_a_payable_leg_removed_and_rechained_is_caught(db: Path, held: LedgerHead,
                                                       signer: Signer):
    """The payment's payable leg deleted, the other leg renumbered, everything recomputed."""
    raw(db, f"DELETE FROM ledger_transfers WHERE seq = {held.seq} AND idx = 0",
        f"UPDATE ledger_transfers SET idx = 0 WHERE seq = {held.seq}")
    recompute_everything(db)
    assert verified(db)
    assert not check(db, held).ok and not check(db, held, signer).ok


def test_a_payment_booked_twice_by_appending_a_copy_is_caught(db: Path, held: LedgerHead,
                                                              signer: Signer):
    """A 300,000.00 payment appended again under another reference, chain recomputed."""
    seq = forge_payment(db, amount_fen=30_000_000)
    with Ledger.open(db) as ledger:
        assert ledger.verify().ok and ledger.unvouched() == 1
        assert ledger.get_seq(seq).transfers[0].amount == Decimal("300000.00")  # type: ignore
    assert not check(db, held).ok and not check(db, held, signer).ok


def test_deleted_checkpoints_are_caught_against_the_held_head(db: Path, held: LedgerHead):
    raw(db, "DELETE FROM ledger_checkpoints")
    assert verified(db)
    result = check(db, held)
    assert not result.ok and any("no longer in the ledger" in p for p in result.problems)
    with Ledger.open(db) as ledger:
        bare = ledger.verify_against(seq=held.seq, root=held.root)
    assert not bare.ok and any("checkpoints deleted" in p for p in bare.problems)


def forge_payment(path: Path, amount_fen: int = 50_000_000) -> int:
    """Append a 500,000.00 payment with a correctly computed hash after the last one."""
    with Ledger.open(path) as ledger:
        last = ledger.get_seq(len(ledger))
    assert last is not None
    forged = NewTransaction(
        key=f"{LISHUI}/{YEAR}/payment/FORGED", kind="payment", booked_on=date(2022, 4, 22),
        agreement=LISHUI, period=str(YEAR), component="payment", reference="FORGED",
        transfers=[Transfer.between(PAYEE, PAYER, Decimal(amount_fen) / 100, purpose="payable"),
                   Transfer.between(PAYER, PAYEE, Decimal(amount_fen) / 100, purpose="settled")])
    seq, posted_at = last.seq + 1, last.posted_at
    digest = posting_hash(last.hash, seq, forged, posted_at)
    conn = sqlite3.connect(path)
    conn.execute(_store.TX_INSERT, (last.hash, seq, forged.key, "payment", "2022-04-22", None,
                                    LISHUI, str(YEAR), "payment", None, None, "FORGED", None,
                                    forged.meta_json, posted_at, digest))
    for i, t in enumerate(forged.transfers):
        conn.execute(_store.TRANSFER_INSERT, (seq, i, t.debit_party, t.debit_purpose,
                                              t.credit_party, t.credit_purpose, t.fen))
    conn.commit()
    conn.close()
    return seq


def test_a_forged_payment_appended_with_a_recomputed_chain_is_reported(
    db: Path, held: LedgerHead, signer: Signer
):
    seq = forge_payment(db)
    assert verified(db)  # the chain is intact: verify alone passes, as before
    with Ledger.open(db) as ledger:
        assert ledger.unvouched() == 1
        with pytest.raises(LedgerIntegrityError, match=f"#{seq}..#{seq}.*nothing vouches"):
            ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                        amount=Decimal("1.00"), paid_on=date(2022, 4, 23), reference="GK-2")
        assert len(ledger) == seq  # the refused payment did not vouch for the forgery
    result = check(db, held)
    assert not result.ok and result.unvouched == 1
    out = CliRunner().invoke(main, ["ledger", "verify", "--db", str(db)])
    assert out.exit_code == 1 and "nothing vouches for them" in out.output


def test_a_forged_payment_with_a_forged_checkpoint_fails_only_the_signed_check(
    db: Path, held: LedgerHead, signer: Signer
):
    """Unsigned checkpoints are only as good as the file; a signature is not."""
    forge_payment(db)
    with Ledger.open(db) as ledger:
        ledger.checkpoint()  # what the attacker can do: the code is public
        assert ledger.verify().ok and ledger.unvouched() == 0
    assert check(db, held).ok  # the extension is append-only, so the held head agrees
    signed = check(db, held, signer)
    assert not signed.ok
    assert any("not covered by a checkpoint signed" in p for p in signed.problems)


def test_pay_with_the_key_refuses_to_sign_over_a_forged_unsigned_checkpoint(
    db: Path, signer: Signer
):
    forge_payment(db)
    with Ledger.open(db) as ledger:
        forged = ledger.checkpoint()
        raw_key = forged.number
    raw(db, "UPDATE ledger_checkpoints SET key_id = ?, signature = ? WHERE number = ?",
        params=(signer.key_id, "ab" * 64, raw_key))  # claims the operator's key
    with Ledger.open(db) as ledger:
        count = len(ledger)
        with pytest.raises(LedgerIntegrityError, match="signed with this key"):
            ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                        amount=Decimal("1.00"), paid_on=date(2022, 4, 23), reference="GK-3",
                        signer=signer)
        assert len(ledger) == count


def test_an_edited_party_name_is_caught(db: Path):
    raw(db, "UPDATE catalog_parties SET name = '某县' WHERE code = '430700'")
    with Ledger.open(db) as ledger:
        report = ledger.verify()
    assert not report.ok and "catalog" in (report.reason or "")
    with pytest.raises(LedgerIntegrityError, match="catalog"):
        party_statement(db, PAYER, YEAR, as_of=date(2022, 5, 1))


def test_an_edited_agreement_name_is_caught_even_with_a_new_checkpoint(db: Path,
                                                                       held: LedgerHead,
                                                                       signer: Signer):
    raw(db, f"UPDATE catalog_agreements SET name = 'x' WHERE id = '{LISHUI}'")
    assert not verified(db)
    with Ledger.open(db) as ledger:
        ledger.checkpoint()  # the attacker re-commits to the edited catalog, unsigned
        assert ledger.verify().ok
    signed = check(db, held, signer)
    assert not signed.ok


def test_a_renamed_party_gets_a_new_checkpoint_at_the_same_seq(db: Path, tmp_path: Path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    parties = project / "parties.toml"
    parties.write_text(parties.read_text(encoding="utf-8").replace("株洲市", "株洲市人民政府"),
                       encoding="utf-8")
    with Ledger.open(db) as ledger:
        before = ledger.checkpoints()[-1]
        result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                                today=date(2022, 3, 1))
        assert result.posted == 0 and result.head is not None
        assert result.head.seq == before.seq and result.head.number == before.number + 1
        assert result.head.catalog != before.catalog and ledger.verify().ok


# --------------------------------------------------------------------------- signatures


def test_a_signed_head_with_a_wrong_key_or_altered_fields_is_refused(held: LedgerHead,
                                                                     signer: Signer):
    assert verify_head_signature(held, signer.public_key) is None
    other = Signer.generate()
    assert "not by the given public key" in str(verify_head_signature(held, other.public_key))
    altered = attrs.evolve(held, root="0" * 64)
    assert "hash does not match" in str(verify_head_signature(altered, signer.public_key))
    rehashed = attrs.evolve(altered, hash=hashlib.sha256(
        checkpoint_bytes(altered.checkpoint())).hexdigest())
    assert "signature does not match" in str(verify_head_signature(rehashed,
                                                                   signer.public_key))
    impostor = attrs.evolve(held, key_id=other.key_id)  # claims the other key
    assert verify_head_signature(impostor, other.public_key) is not None


def test_verify_with_a_wrong_key_fails(db: Path, held: LedgerHead):
    result = check(db, held, Signer.generate())
    assert not result.ok and any("held head" in p for p in result.problems)


def test_a_stored_signature_changed_in_the_file_is_refused(db: Path, held: LedgerHead,
                                                           signer: Signer):
    raw(db, "UPDATE ledger_checkpoints SET signature = ? WHERE number = 2",
        params=(Signer.generate().sign(b"x"),))
    assert verified(db)  # signatures are checked against the verifier's key only
    result = check(db, held, signer)
    assert not result.ok and any("#2 claims the given key" in p for p in result.problems)


def test_keys_round_trip_and_the_private_key_is_private(tmp_path: Path):
    signer = Signer.generate()
    public = signer.save(tmp_path / "op.key")
    assert (tmp_path / "op.key").stat().st_mode & 0o777 == 0o600
    assert Signer.load(tmp_path / "op.key").key_id == signer.key_id
    assert load_public_key(public) == signer.public_key
    with pytest.raises(LedgerError, match="already exists"):
        signer.save(tmp_path / "op.key")
    with pytest.raises(LedgerError, match="not an unencrypted PEM private key"):
        Signer.load(public)


# --------------------------------------------------------------------------- old ledgers


def test_a_v1_ledger_with_checkpoint_1_rows_migrates_and_keeps_verifying(tmp_path: Path):
    path = tmp_path / "v1.db"
    write_tx1_ledger(path, [
        NewTransaction(key=key, kind="accrual", booked_on=date(2023, 1, 31),
                       transfers=[Transfer.between(PAYER, PAYEE, "1.00", purpose="accrued")])
        for key in ("a", "b", "c")])
    conn = _store.connect(str(path), busy_timeout_ms=1000)
    stored = [row[0] for row in conn.execute("SELECT hash FROM ledger_transactions ORDER BY seq")]
    hashes = [leaf_hash(bytes.fromhex(h)) for h in stored]
    root = MerkleTree(hashes).root().hex()
    stamp = "2024-02-01T00:00:00.000000Z"
    digest = hashlib.sha256(
        checkpoint_message("0" * 64, 1, 3, root, stamp)).hexdigest()
    conn.execute("INSERT INTO ledger_checkpoints VALUES (1, 3, ?, ?, ?, ?)",
                 (root, stamp, "0" * 64, digest))
    assert verify_ledger(conn).ok  # a reader that does not migrate reads checkpoint/1 rows
    conn.close()
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == _store.SCHEMA_VERSION and ledger.verify().ok
        assert ledger.checkpoints()[0].catalog is None
        ledger.post(NewTransaction(key="d", kind="accrual", booked_on=date(2023, 2, 28),
                                   transfers=[Transfer.between(PAYER, PAYEE, "1.00",
                                                               purpose="accrued")]))
        second = ledger.checkpoint()
        assert second.catalog and second.prev_hash == digest and ledger.verify().ok
        held = LedgerHead.of(ledger.checkpoints()[0], ledger.get_seq(3).hash)  # type: ignore
        assert ledger.verify_against(held).ok
    raw(path, "UPDATE ledger_checkpoints SET root = '" + "a" * 64 + "' WHERE number = 1")
    assert not verified(path)


# --------------------------------------------------------------------------- backups


def test_a_backup_holds_a_transaction_still_only_in_the_wal(db: Path, tmp_path: Path):
    with Ledger.open(db) as ledger:
        ledger.connection.execute("PRAGMA wal_autocheckpoint = 0")
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                    amount=Decimal("1.00"), paid_on=date(2022, 4, 21), reference="GK-WAL")
        count = len(ledger)
        assert Path(f"{db}-wal").stat().st_size > 0
        copied = tmp_path / "copied.db"
        shutil.copy(db, copied)  # a file copy of only the .db: the payment is lost
        result = backup_database(db, tmp_path / "backup.db")
    plain = sqlite3.connect(copied)
    assert plain.execute("SELECT max(seq) FROM ledger_transactions").fetchone()[0] < count
    plain.close()
    assert result.count == count and result.head is not None and result.head.seq == count
    assert not Path(f"{tmp_path / 'backup.db'}-wal").exists()
    with Ledger.open(tmp_path / "backup.db") as backup:
        assert len(backup) == count and backup.verify().ok and backup.unvouched() == 0
        assert backup.get(f"{LISHUI}/{YEAR}/payment/gk-wal") is not None


def test_a_backup_of_a_tampered_file_is_refused(db: Path, tmp_path: Path):
    raw(db, "UPDATE ledger_transfers SET amount_fen = 1 WHERE seq = 1 AND idx = 0")
    with pytest.raises(LedgerError, match="fails verification"):
        backup_database(db, tmp_path / "backup.db")
    assert not (tmp_path / "backup.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------- the CLI


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_cli_keygen_sign_receipt_and_verify(tmp_path: Path):
    key = tmp_path / "operator.key"
    code, out = run("ledger", "keygen", "--out", str(key))
    assert code == 0 and "key id" in out and key.stat().st_mode & 0o777 == 0o600
    pub = tmp_path / "operator.key.pub"
    db, head_file = tmp_path / "s.db", tmp_path / "head.json"
    code, out = run("settle", str(EXAMPLE), "--year", str(YEAR), "--db", str(db), "--json",
                    "--head-out", str(head_file), env={"ECOCOMP_SIGNING_KEY": str(key)})
    assert code == 0, out
    printed = json.loads(out)["head"]
    assert printed["signature"] and json.loads(head_file.read_text()) == printed
    code, out = run("pay", "--db", str(db), "--agreement", LISHUI, "--year", str(YEAR),
                    "--payer", PAYER, "--payee", PAYEE, "--amount", "300000.00",
                    "--date", "2022-04-20", "--reference", "GK-1", "--signing-key", str(key))
    assert code == 0 and "head: #" in out and "signed by key" in out
    statement = tmp_path / "statement.json"
    code, out = run("statement", PAYER, "--db", str(db), "--year", str(YEAR), "--json")
    statement.write_text(out, encoding="utf-8")
    assert json.loads(out)["receipt"]["signature"]
    code, out = run("ledger", "verify", "--against", str(statement), "--public-key", str(pub))
    assert code == 0 and "is signed by key" in out  # offline: no database
    code, out = run("ledger", "verify", "--db", str(db), "--against", str(head_file),
                    "--public-key", str(pub))
    assert code == 0 and "extends the held head" in out
    code, out = run("ledger", "head", "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["unvouched"] == 0
    receipt = json.loads(statement.read_text(encoding="utf-8"))
    receipt["receipt"]["root"] = "0" * 64
    statement.write_text(json.dumps(receipt), encoding="utf-8")
    code, out = run("ledger", "verify", "--against", str(statement), "--public-key", str(pub))
    assert code == 1 and "hash does not match" in out
    older = tmp_path / "older.db"
    code, out = run("ledger", "backup", "--db", str(db), str(older))
    assert code == 0 and "verified" in out
    raw(older, "DELETE FROM ledger_transfers WHERE seq = (SELECT max(seq) FROM "
               "ledger_transactions)",
        "DELETE FROM ledger_transactions WHERE seq = (SELECT max(seq) FROM "
        "ledger_transactions)")
    code, out = run("ledger", "verify", "--db", str(older), "--seq", str(printed["seq"] + 1),
                    "--root", json.loads(run("ledger", "head", "--db", str(db),
                                             "--json")[1])["root"])
    # caught twice over: the latest checkpoint still covers the removed transaction
    assert code == 1 and "transactions deleted" in out


def test_cli_refuses_a_head_out_on_a_dry_run(tmp_path: Path):
    code, out = run("settle", str(EXAMPLE), "--year", str(YEAR), "--db",
                    str(tmp_path / "s.db"), "--dry-run", "--head-out", str(tmp_path / "h.json"))
    assert code == 1 and "dry run makes no checkpoint" in out


def test_a_head_file_that_is_not_a_head_is_refused_clearly():
    with pytest.raises(LedgerError, match="carries no receipt"):
        LedgerHead.from_json({"party": PAYER, "receipt": None}, where="statement.json")
    with pytest.raises(LedgerError, match=r"statement\.json: not a ledger head"):
        LedgerHead.from_json({"seq": 3}, where="statement.json")


def test_the_catalog_digest_is_the_sha256_of_its_documented_json_text(db: Path):
    """Hashed row by row, the digest is still that of one ``json.dumps`` of every catalog
    table (keys sorted, compact, UTF-8): what checkpoints made before committed to."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO catalog_parties VALUES ('999999', '测试, \"引号\"', 'city', "
                     "NULL)")
        conn.execute("CREATE TABLE catalog_extra (a BLOB, b TEXT)")  # a blob, an empty table
        conn.execute("INSERT INTO catalog_extra VALUES (x'00ff', '水')")
        conn.execute("CREATE TABLE catalog_empty (a TEXT)")
        for form, names in [(CATALOG_FORMAT, CATALOG_TABLES),
                            (CATALOG_FORMAT, (*CATALOG_TABLES, "catalog_extra", "catalog_empty",
                                              "catalog_absent")),
                            _CATALOG_V1]:
            tables = []
            for name in names:
                columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
                order = (f'"{columns[0]}"' if form == _CATALOG_V1[0]
                         else ", ".join(f'"{c}"' for c in columns))
                rows = [[{"blob": v.hex()} if isinstance(v, bytes) else v for v in row]
                        for row in conn.execute(f"SELECT * FROM {name} ORDER BY {order}")
                        ] if columns else []
                tables.append({"name": name, "columns": columns, "rows": rows})
            text = json.dumps({"format": form, "tables": tables}, ensure_ascii=False,
                              separators=(",", ":"), sort_keys=True)
            assert len(tables[0]["rows"]) > 1 and (form == _CATALOG_V1[0] or tables[3]["rows"])
            assert _catalog_digest(conn, form, names) == \
                hashlib.sha256(text.encode("utf-8")).hexdigest()
    finally:
        conn.close()
