"""The ledger on PostgreSQL keeps the SQLite ledger's promises (issue 15, docs/postgres.md).

Byte-identical hashes for the same transactions on both backends; append-only by triggers
and by privileges; concurrent writer processes never fork the chain or double-post; a
client killed mid-batch leaves all or nothing; verify finds a changed row; migrate copies a
SQLite ledger to the same head. The server is the one ``ECOCOMP_TEST_POSTGRES`` names or a
throw-away cluster (tests/postgres_server.py).
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from postgres_server import database
from test_ledger_properties import new_transactions
from test_ledger_reliability import fork_server, kill_mid_batch, run_concurrent

from ecocomp import postgres
from ecocomp.cli import main
from ecocomp.errors import IdempotencyConflict, LedgerError
from ecocomp.ledger import Ledger, NewTransaction, Transfer
from ecocomp.ledger import postgres as pg_ledger
from ecocomp.ledger.hashing import TRANSFER_FIELDS, TX_FIELDS, encode_v2, transaction_hash

pytestmark = pytest.mark.slow

UP, DOWN, PROVINCE = "430800", "430700", "430000"


def clock() -> datetime:
    return datetime(2024, 2, 1, 8, 0, tzinfo=UTC)


def _sql(url: str, statement: str) -> None:
    conn = postgres.connect(url)
    try:
        conn.execute(statement)
    finally:
        conn.close()


def _transactions(seed: int) -> list[NewTransaction]:
    """A varied history: Chinese text, empty and absent fields, meta, several transfers."""
    rng = random.Random(seed)
    txs = []
    for i in range(40):
        fen = rng.randint(1, 10**12)
        amount = Decimal(fen) / 100
        txs.append(NewTransaction(
            key=f"湘江/{2021 + i % 3}-{1 + i % 12:02d}/{i}",
            kind="accrual",
            booked_on=date(2021 + i % 3, 1 + i % 12, 28),
            due=date(2024, 6, 30) if i % 2 else None,
            agreement=rng.choice(["lishui", "湘江干流", None]),
            period=f"{2021 + i % 3}-{1 + i % 12:02d}",
            component=rng.choice(["class", "trend", None]),
            reference=f"付款单 {i}" if i % 5 == 0 else None,
            meta={"amount": amount, "note": "断面 %s ? '" * (i % 3), "n": i},
            transfers=[Transfer.between(DOWN, UP, amount, purpose="accrued"),
                       Transfer.between(PROVINCE, UP, Decimal("0.01") * (1 + i),
                                        purpose="reward")],
        ))
    return txs


def _history(db: str) -> tuple[list[str], str, str, dict[str, Decimal], dict[str, Decimal]]:
    with Ledger.open(db, clock=clock) as ledger:
        txs = _transactions(7)
        ledger.post_many(txs[:30])
        with ledger.batch() as batch:
            for tx in txs[30:]:
                batch.post(tx)
            batch.reverse(txs[3].key, reason="读数更正", booked_on=date(2024, 1, 5))
        checkpoint = ledger.checkpoint()
        assert ledger.verify().ok
        return ([t.hash for t in ledger.transactions()], checkpoint.root, checkpoint.hash,
                ledger.balances(by="account"), ledger.net(agreement="lishui"))


def test_the_same_transactions_get_byte_identical_hashes_on_both_backends(
    pg_url: str, tmp_path: Path
):
    on_sqlite = _history(str(tmp_path / "ledger.db"))
    on_postgres = _history(pg_url)
    assert on_postgres == on_sqlite
    assert len(on_sqlite[0]) == 41


@settings(max_examples=12, deadline=None)
@given(st.lists(new_transactions().filter(lambda tx: tx.corrects is None), max_size=6))
def test_any_transactions_hash_alike_on_both_backends(pg_server: str, txs):
    outcomes = []
    with database(pg_server) as url:
        for db in (":memory:", url):
            with Ledger.open(db, clock=clock) as ledger:
                try:
                    ledger.post_many(txs)
                except LedgerError as exc:  # the same refusal on both (a key reused)
                    outcomes.append(type(exc).__name__)
                    continue
                outcomes.append([(t.seq, t.hash) for t in ledger.transactions()])
    assert outcomes[0] == outcomes[1]


def test_reads_match_sqlite_statements_filters_and_exports(pg_url: str, tmp_path: Path):
    _history(pg_url)
    _history(str(tmp_path / "l.db"))
    with Ledger.open(pg_url) as pg, Ledger.open(tmp_path / "l.db") as lite:
        for filters in ({"party": PROVINCE}, {"agreement": "湘江干流", "kind": "accrual"},
                        {"booked_from": date(2022, 1, 1), "booked_to": date(2022, 6, 30)}):
            assert pg.transactions(**filters) == lite.transactions(**filters)  # type: ignore
        start, end = date(2022, 1, 1), date(2023, 12, 31)
        assert pg.statement(UP, start, end) == lite.statement(UP, start, end)
        assert pg.balances(as_of=date(2022, 12, 31)) == lite.balances(as_of=date(2022, 12, 31))
        assert pg.inclusion_proof(5).verify(pg.checkpoints()[-1].root)
        assert pg.head() == lite.head()


def test_idempotency_keys_are_unique_and_conflicts_named(pg_url: str):
    tx = _transactions(1)[0]
    with Ledger.open(pg_url, clock=clock) as ledger:
        assert ledger.post(tx).status == "posted"
        assert ledger.post(tx).status == "unchanged"
        with pytest.raises(IdempotencyConflict, match="transfers"):
            ledger.post(NewTransaction(key=tx.key, kind="accrual", booked_on=tx.booked_on,
                                       transfers=[Transfer.between(DOWN, UP, 1,
                                                                   purpose="accrued")]))
        assert len(ledger) == 1


def test_a_failed_batch_posts_nothing(pg_url: str):
    txs = _transactions(2)
    with Ledger.open(pg_url, clock=clock) as ledger:
        with pytest.raises(RuntimeError), ledger.batch() as batch:
            batch.post_many(txs[:10])
            raise RuntimeError("formula failed")
        assert len(ledger) == 0 and ledger.verify().ok


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_transfers SET amount_fen = amount_fen + 1",
    "DELETE FROM ledger_transactions WHERE seq = 2",
    "TRUNCATE ledger_transfers, ledger_transactions",
    "UPDATE ledger_checkpoints SET root = 'x'",
    "DELETE FROM ledger_schema_version",
])
def test_triggers_refuse_changes_even_to_the_owner(pg_url: str, statement: str):
    _history(pg_url)
    with pytest.raises(Exception, match="append-only"):
        _sql(pg_url, statement)
    with Ledger.open(pg_url) as ledger:
        assert len(ledger) == 41 and ledger.verify().ok


def test_a_writer_role_may_only_insert_and_select(pg_url: str):
    _history(pg_url)
    conn = postgres.connect(pg_url)
    try:
        conn.execute("CREATE ROLE ecocomp_writer_t LOGIN")
        pg_ledger.grant_writer(conn, "ecocomp_writer_t")
    finally:
        conn.close()
    writer = pg_url.replace("://postgres@", "://ecocomp_writer_t@", 1)
    assert writer != pg_url or pytest.skip("the admin URL does not name the postgres user")
    try:
        with Ledger.open(writer, clock=clock) as ledger:  # settles: reads and appends
            extra = NewTransaction(key="writer/1", kind="payment", booked_on=date(2024, 2, 1),
                                   transfers=[Transfer.between(DOWN, UP, 5, purpose="paid")])
            assert ledger.post(extra).status == "posted"
            ledger.checkpoint()
            assert ledger.verify().ok
        for statement in (
            "UPDATE ledger_transfers SET amount_fen = 1",
            "DELETE FROM ledger_transactions",
            "TRUNCATE ledger_transfers",
            "ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_no_change",
            "DROP TRIGGER ledger_transactions_no_change ON ledger_transactions",
        ):
            with pytest.raises(Exception, match=r"permission denied|must be owner"):
                _sql(writer, statement)
    finally:
        _sql(pg_url, "DROP OWNED BY ecocomp_writer_t")
        _sql(pg_url, "DROP ROLE ecocomp_writer_t")


def test_verify_finds_a_row_changed_behind_the_triggers(pg_url: str):
    _history(pg_url)
    _sql(pg_url, "ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_no_change")
    _sql(pg_url, "UPDATE ledger_transfers SET amount_fen = amount_fen + 1 WHERE seq = 17")
    with Ledger.open(pg_url) as ledger:
        report = ledger.verify()
        assert not report.ok and "ledger_transfers_no_change" in report.reason  # type: ignore
    _sql(pg_url, "ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_no_change")
    with Ledger.open(pg_url) as ledger:
        report = ledger.verify()
        assert not report.ok and report.first_bad_seq == 17, report
        with pytest.raises(LedgerError, match="#17"):
            ledger.verify(raise_on_error=True)


def test_verify_finds_a_rewritten_chain_by_its_checkpoint(pg_url: str):
    _history(pg_url)
    with Ledger.open(pg_url) as ledger:
        txs = ledger.transactions()
    # rewrite the last transaction's row consistently (hash recomputed): the chain holds,
    # the checkpoint's Merkle root does not
    last = attrs.evolve(txs[-1], reason="改写")
    _sql(pg_url, "ALTER TABLE ledger_transactions DISABLE TRIGGER ledger_transactions_no_change")
    _sql(pg_url, f"UPDATE ledger_transactions SET reason = '改写', "
                 f"hash = '{transaction_hash(last)}' WHERE seq = {last.seq}")
    _sql(pg_url, "ALTER TABLE ledger_transactions ENABLE TRIGGER ledger_transactions_no_change")
    with Ledger.open(pg_url) as ledger:
        report = ledger.verify()
        assert not report.ok and report.first_bad_checkpoint == 1, report
        assert "Merkle root" in (report.reason or "")


def test_concurrent_writer_processes_never_fork_or_double_post(pg_url: str, tmp_path: Path):
    Ledger.open(pg_url).close()
    results = run_concurrent(pg_url, 8, tmp_path / "go")
    for i in range(30):
        statuses = Counter(r[f"shared/{i}"] for r in results)
        assert statuses == {"posted": 1, "unchanged": 7}, (i, statuses)
    assert Counter(r["race"] for r in results) == {
        "posted": 1, "conflict:transfers[0].amount": 7}
    with Ledger.open(pg_url) as ledger:
        txs = ledger.transactions()
        assert [t.seq for t in txs] == list(range(1, 30 + 8 * 20 + 2))
        keys = [t.key for t in txs]
        assert len(keys) == len(set(keys))
        report = ledger.verify()
        assert report.ok and report.checkpoints >= 1, report
        assert sum(ledger.balances().values()) == 0


def _open_at_once(url: str, clients: int) -> list[str]:
    """``clients`` threads, each with its own connection, released together to open the
    ledger at ``url`` and write beside it; each one's outcome ("ok" or its error)."""
    start = threading.Barrier(clients)
    outcomes = ["did not finish"] * clients

    def client(i: int) -> None:
        start.wait()
        try:
            with Ledger.open(url) as ledger, ledger.batch():
                ledger.connection.execute(
                    "CREATE TABLE IF NOT EXISTS beside_the_ledger (a TEXT)")
            outcomes[i] = "ok"
        except Exception as exc:  # reported below with the others'
            outcomes[i] = repr(exc)[-300:]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_clients_opening_a_new_database_at_once_all_succeed(pg_server: str):
    # the first opener creates the tables while the others wait on the lock; they must see
    # the new tables then, not the catalog as it was when they started waiting. Threads
    # released by a barrier (a connection each: the race is the server's) meet at the lock
    # every round (processes, half a second each to import, met in about one round of three)
    for _ in range(4):
        with database(pg_server) as url:
            assert _open_at_once(url, 8) == ["ok"] * 8
            with Ledger.open(url) as ledger:
                assert ledger.verify().ok


def test_a_client_killed_mid_batch_leaves_all_or_nothing(pg_url: str, tmp_path: Path):
    Ledger.open(pg_url).close()
    rng = random.Random(20240131)
    n, outcomes = 40, Counter[str]()
    with fork_server(tmp_path) as forks:
        for trial in range(6):
            mode = ("one", "many", "checkpoint")[trial % 3]
            finished = kill_mid_batch(forks, pg_url, trial, n, mode, rng, tmp_path)
            with Ledger.open(pg_url) as ledger:  # the dead client's lock is gone with it
                posted = len([t for t in ledger.transactions()
                              if t.key.startswith(f"trial{trial}/")])
                assert posted in (0, n), (trial, mode, posted)
                assert posted == n or not finished
                assert ledger.verify().ok
            outcomes["all" if posted else "none"] += 1
    with Ledger.open(pg_url) as ledger:
        assert len(ledger) == n * outcomes["all"]


def test_migrate_copies_a_sqlite_ledger_to_the_same_head(pg_url: str, tmp_path: Path):
    source = str(tmp_path / "ledger.db")
    hashes, *_ = _history(source)
    with Ledger.open(source) as lite, Ledger.open(pg_url) as pg:
        assert pg_ledger.copy_ledger(lite.connection, pg.connection) == (41, 1)
        assert pg.verify().head == lite.verify().head == hashes[-1]
        assert pg.head() == lite.head()
        # again: the target is now the whole source, nothing to copy
        assert pg_ledger.copy_ledger(lite.connection, pg.connection) == (0, 0)
        lite.post(NewTransaction(key="later", kind="payment", booked_on=date(2024, 3, 1),
                                 transfers=[Transfer.between(DOWN, UP, 3, purpose="paid")]))
        lite.checkpoint()
        assert pg_ledger.copy_ledger(lite.connection, pg.connection) == (1, 1)  # a prefix
        assert pg.verify().head == lite.verify().head
        assert [c.hash for c in pg.checkpoints()] == [c.hash for c in lite.checkpoints()]


def test_migrate_refuses_a_target_that_is_not_a_prefix(pg_url: str, tmp_path: Path):
    source = str(tmp_path / "ledger.db")
    _history(source)
    with Ledger.open(pg_url, clock=clock) as pg:
        pg.post(NewTransaction(key="other", kind="payment", booked_on=date(2024, 3, 1),
                               transfers=[Transfer.between(DOWN, UP, 3, purpose="paid")]))
    with Ledger.open(source) as lite, Ledger.open(pg_url) as pg:
        with pytest.raises(LedgerError, match="not the start of the source"):
            pg_ledger.copy_ledger(lite.connection, pg.connection)
        assert len(pg) == 1


def test_a_server_that_cannot_be_reached_is_a_plain_error():
    with pytest.raises(LedgerError, match="cannot reach the PostgreSQL server"):
        Ledger.open("postgresql://nobody:secret@127.0.0.1:1/none")
    try:
        Ledger.open("postgresql://nobody:secret@127.0.0.1:1/none")
    except LedgerError as exc:
        assert "secret" not in str(exc)


def test_the_dialect_differences_are_translated_in_one_place():
    from ecocomp.postgres import _special, _translated

    assert _translated("SELECT a FROM t WHERE b = ? AND c LIKE ? AND d = '?%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE %s AND d = '?%%'")
    assert _translated("INSERT OR REPLACE INTO t VALUES (?)") == "INSERT INTO t VALUES (%s)"
    assert _translated(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT) STRICT",
        placeholders=False,
    ) == ('CREATE TABLE IF NOT EXISTS t (id BIGINT GENERATED BY DEFAULT AS IDENTITY '
          'PRIMARY KEY, n BIGINT, s TEXT COLLATE "C")')
    assert _translated('CREATE TABLE t (s TEXT COLLATE "C")', placeholders=False) == (
        'CREATE TABLE t (s TEXT COLLATE "C")')
    assert "pg_advisory_xact_lock" in str(_special("BEGIN IMMEDIATE"))
    assert "REPEATABLE READ" in str(_special("BEGIN"))
    assert _special("SELECT 1") is None


def _rewrite_last(url: str, change: dict[str, object], transfer: dict[str, object]) -> int:
    """Rewrite the last transaction's row (and its first transfer) consistently: the hash
    is recomputed from the changed values, as an owner who drops the triggers could."""
    conn = postgres.connect(url)
    try:
        fields = ", ".join(TX_FIELDS)
        header = list(conn.execute(f"SELECT {fields} FROM ledger_transactions "
                                   "ORDER BY seq DESC LIMIT 1").fetchone())
        seq = header[TX_FIELDS.index("seq")]
        transfers = [list(row) for row in conn.execute(
            f"SELECT {', '.join(TRANSFER_FIELDS)} FROM ledger_transfers WHERE seq = ? "
            "ORDER BY idx", (seq,))]
        for name, value in change.items():
            header[TX_FIELDS.index(name)] = value
        for name, value in transfer.items():
            transfers[0][TRANSFER_FIELDS.index(name)] = value
        digest = hashlib.sha256(encode_v2(header, transfers)).hexdigest()
        for table in ("ledger_transactions", "ledger_transfers"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change")
        conn.execute("ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_key_key")
        sets = ", ".join(f"{name} = ?" for name in change)
        conn.execute(f"UPDATE ledger_transactions SET {sets}{', ' if sets else ''}hash = ? "
                     "WHERE seq = ?", (*change.values(), digest, seq))
        if transfer:
            sets = ", ".join(f"{name} = ?" for name in transfer)
            conn.execute(f"UPDATE ledger_transfers SET {sets} WHERE seq = ? AND idx = 0",
                         (*transfer.values(), seq))
        for table in ("ledger_transactions", "ledger_transfers"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_change")
    finally:
        conn.close()
    return seq


@pytest.mark.parametrize(("change", "transfer", "expected"), [
    ({}, {"debit_party": "43X700"}, "party"),
    ({}, {"credit_party": DOWN}, "to itself"),
    ({"meta": '{"n": 1}'}, {}, "meta"),
    ({"key": "湘江/2023-04/39\x1f"}, {}, "control character"),
    ({"key": "湘江/2021-01/0"}, {}, "key already used"),
    ({"kind": "reversal", "corrects": "no-such-key", "reason": "x"}, {}, "earlier"),
], ids=["party-code", "same-account", "meta-not-canonical", "key-control-char",
        "key-reused", "corrects-unknown"])
@pytest.mark.parametrize("jobs", [1, 3])
def test_verify_checks_every_field_as_on_sqlite(pg_url: str, change, transfer, expected, jobs):
    """A row rewritten with its hash recomputed (no checkpoint to compare with) still
    fails verify when a field breaks the model's rules: PostgreSQL's verify runs the
    SQLite scan's field checks, not only the hash chain — also split over 3 processes,
    where the reused key and the correction naming no earlier key cross ranges."""
    with Ledger.open(pg_url, clock=clock) as ledger:
        ledger.post_many(_transactions(7))
        assert pg_ledger.verify_ledger(ledger.connection, jobs=jobs).ok
    seq = _rewrite_last(pg_url, change, transfer)
    with Ledger.open(pg_url) as ledger:
        report = pg_ledger.verify_ledger(ledger.connection, jobs=jobs)
    assert not report.ok and report.first_bad_seq == seq, report
    assert expected in (report.reason or ""), report.reason


def test_verify_split_over_processes_reads_one_snapshot_and_agrees(pg_url: str):
    """--jobs N on PostgreSQL: workers joined to the coordinator's snapshot give the
    report of one job, also while a writer appends meanwhile; and the command runs it."""
    with Ledger.open(pg_url, clock=clock) as ledger:
        ledger.post_many(_transactions(7))
        ledger.checkpoint()
        one = pg_ledger.verify_ledger(ledger.connection)
        conn = ledger.connection
        conn.execute("BEGIN")
        try:
            with Ledger.open(pg_url, clock=clock) as other:  # a writer after the snapshot
                conn.execute("SELECT 1").fetchone()  # the snapshot is taken here
                other.post(attrs.evolve(_transactions(7)[0], key="appended-later"))
            split = pg_ledger.verify_ledger(conn, jobs=4)
        finally:
            conn.execute("COMMIT")
    assert one.ok and split == one, (one, split)
    from ecocomp.ledger import compiled  # PostgreSQL's rows take the compiled scan too
    assert one.scan == split.scan == compiled.describe()
    with Ledger.open(pg_url, clock=clock) as ledger:
        ledger.checkpoint()
    result = CliRunner().invoke(main, ["ledger", "verify", "--db", pg_url, "--jobs", "3"])
    assert result.exit_code == 0, result.output
    assert "OK: 41 transactions" in result.output


@pytest.mark.parametrize("jobs", [1, 3])
def test_verify_finds_an_amount_column_retyped_to_hold_fractions_of_a_fen(
        pg_url: str, jobs: int):
    """An owner who retypes amount_fen to NUMERIC can store 1.4 fen more without touching
    the hash: the scan formats an amount with %d, which truncates 100.4 to the 100 that
    was hashed. SQLite's verify refuses a non-integer amount (typeof); so must this one."""
    _history(pg_url)
    _sql(pg_url, "ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_no_change")
    _sql(pg_url, "ALTER TABLE ledger_transfers ALTER COLUMN amount_fen TYPE NUMERIC")
    _sql(pg_url, "UPDATE ledger_transfers SET amount_fen = amount_fen + 0.4 "
                 "WHERE seq = 17 AND idx = 0")
    _sql(pg_url, "ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_no_change")
    with Ledger.open(pg_url) as ledger:
        report = pg_ledger.verify_ledger(ledger.connection, jobs=jobs)
    assert not report.ok, report
    assert "amount_fen" in (report.reason or ""), report.reason
