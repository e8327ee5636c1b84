"""The ledger on PostgreSQL: schema, append-only triggers, writer role, verify, migrate.

The tables, columns and rows are those of the SQLite ledger (:mod:`ecocomp.ledger._store`,
schema version 3, encoding tx/2 from the first transaction), so the same transactions get
byte-identical hashes on both backends: the hash is computed in Python from the values,
never by the database. Text columns use the "C" collation, so every ``ORDER BY`` sorts
by code point exactly as SQLite does.

Append-only is enforced twice: PL/pgSQL triggers refuse UPDATE, DELETE and TRUNCATE on
every ledger table for every role (an owner must drop a trigger first, which leaves a
trace in the schema that :func:`verify_ledger` reports), and :func:`grant_writer` gives
the role settlement runs under only ``SELECT`` and ``INSERT``.

Concurrent writers queue on one advisory lock (:data:`ecocomp.postgres.WRITE_LOCK`,
taken by every ``BEGIN IMMEDIATE``), then read the head and append, so two writers never
fork the chain; the primary key on ``seq`` and the unique ``key`` are the last line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import attrs

from ecocomp import postgres
from ecocomp.errors import EcocompError, LedgerError, LedgerIntegrityError
from ecocomp.ledger import _store, verify
from ecocomp.ledger._store import (
    CHECKPOINTS,
    ENCODINGS,
    MIGRATIONS,
    TRANSACTIONS,
    TRANSFERS,
    VERSIONS,
)
from ecocomp.ledger.checkpoints import CATALOG_TABLES
from ecocomp.ledger.hashing import GENESIS
from ecocomp.ledger.verify import VerifyReport

__all__ = [
    "TABLES",
    "Migrated",
    "copy_ledger",
    "grant_writer",
    "migrate",
    "migrate_ledger",
    "schema_version",
    "verify_ledger",
]

TABLES = (VERSIONS, TRANSACTIONS, TRANSFERS, CHECKPOINTS, ENCODINGS)
_T = 'TEXT COLLATE "C"'
_HINT = "the ledger is append-only; post a correction (reversal or adjustment) instead"
_CHUNK = 50_000  # transactions per verify query

_FUNCTION = f"""CREATE OR REPLACE FUNCTION ecocomp_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % refused: {_HINT}', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$"""


def _append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ecocomp_ledger_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ecocomp_ledger_append_only()",
    ]


#: The whole schema, version 3 at once (a new PostgreSQL ledger has no older history).
SCHEMA: tuple[str, ...] = (
    _FUNCTION,
    f"""CREATE TABLE {VERSIONS} (
        version BIGINT PRIMARY KEY CHECK (version >= 1),
        description {_T} NOT NULL,
        applied_at {_T} NOT NULL
    )""",
    f"""CREATE TABLE {TRANSACTIONS} (
        seq BIGINT PRIMARY KEY CHECK (seq >= 1),
        prev_hash {_T} NOT NULL,
        key {_T} NOT NULL UNIQUE,
        kind {_T} NOT NULL
            CHECK (kind IN ('accrual', 'clearing', 'payment', 'reversal', 'adjustment')),
        booked_on {_T} NOT NULL,
        due {_T},
        agreement {_T},
        period {_T},
        component {_T},
        corrects {_T},
        reason {_T},
        reference {_T},
        inputs_digest {_T},
        meta {_T} NOT NULL,
        posted_at {_T} NOT NULL,
        hash {_T} NOT NULL
    )""",
    f"CREATE INDEX {TRANSACTIONS}_agreement ON {TRANSACTIONS} (agreement, period)",
    f"CREATE INDEX {TRANSACTIONS}_corrects ON {TRANSACTIONS} (corrects) "
    "WHERE corrects IS NOT NULL",
    f"""CREATE TABLE {TRANSFERS} (
        seq BIGINT NOT NULL REFERENCES {TRANSACTIONS} (seq),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        debit_party {_T} NOT NULL,
        debit_purpose {_T} NOT NULL,
        credit_party {_T} NOT NULL,
        credit_purpose {_T} NOT NULL,
        amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
        PRIMARY KEY (seq, idx)
    )""",
    f"CREATE INDEX {TRANSFERS}_parties ON {TRANSFERS} (debit_party, credit_party)",
    f"""CREATE TABLE {CHECKPOINTS} (
        number BIGINT PRIMARY KEY CHECK (number >= 1),
        seq BIGINT NOT NULL CHECK (seq >= 1),
        root {_T} NOT NULL,
        created_at {_T} NOT NULL,
        prev_hash {_T} NOT NULL,
        hash {_T} NOT NULL,
        catalog {_T},
        signature {_T},
        key_id {_T}
    )""",
    f"CREATE INDEX {CHECKPOINTS}_seq ON {CHECKPOINTS} (seq)",
    f"""CREATE TABLE {ENCODINGS} (
        encoding BIGINT PRIMARY KEY CHECK (encoding >= 2),
        from_seq BIGINT NOT NULL UNIQUE CHECK (from_seq >= 1)
    )""",
    f"INSERT INTO {ENCODINGS} (encoding, from_seq) VALUES (2, 1)",
    *(statement for table in TABLES for statement in _append_only(table)),
)
#: The integer columns :func:`verify_ledger` requires an integer type of (any other, such
#: as NUMERIC, could hold a fraction the scan's %d would not see).
_INTEGER_COLUMNS = (
    (TRANSACTIONS, "seq"), (TRANSFERS, "seq"), (TRANSFERS, "idx"), (TRANSFERS, "amount_fen"),
    (CHECKPOINTS, "number"), (CHECKPOINTS, "seq"), (ENCODINGS, "encoding"),
    (ENCODINGS, "from_seq"),
)
_INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})
#: The triggers :func:`verify_ledger` requires, by table.
TRIGGERS = {table: (f"{table}_no_change", f"{table}_no_truncate") for table in TABLES}


def _exists(conn: Any, table: str) -> bool:
    # a scan of pg_class sees what is committed now (to_regclass may read a cached catalog)
    row = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n "
        "ON n.oid = c.relnamespace WHERE c.relname = ? AND n.nspname = current_schema()",
        (table,)).fetchone()
    return row is not None


def schema_version(conn: Any) -> int:
    """The ledger schema version of the open database (0 if it holds no ledger yet)."""
    if not _exists(conn, VERSIONS):
        return 0
    row = conn.execute(f"SELECT max(version) FROM {VERSIONS}").fetchone()
    return int(row[0] or 0)


def migrate(conn: Any, *, now: Callable[[], str]) -> int:
    """Create the ledger tables (schema version 3) unless they exist; safe to race.

    A database written by a newer ecocomp raises :class:`LedgerError`.
    """
    target = _store.SCHEMA_VERSION
    current = schema_version(conn)
    if current == target:
        return current
    if current > target:
        raise _store._too_new(current, target)
    conn.execute("BEGIN IMMEDIATE")  # the advisory lock: one process creates the tables
    try:
        current = schema_version(conn)
        if current == 0:
            for statement in SCHEMA:
                conn.execute(statement)
            stamp = now()
            for step in MIGRATIONS:
                conn.execute(
                    f"INSERT INTO {VERSIONS} (version, description, applied_at) "
                    "VALUES (?, ?, ?)", (step.version, step.description, stamp))
        elif current != target:
            raise LedgerError(
                f"ledger schema version {current} on PostgreSQL; this ecocomp creates and "
                f"reads version {target} only"
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target


#: Tables a settlement run rewrites beside the ledger (catalog, identity, inputs digests):
#: not part of the append-only record, so a writer may also empty them.
BESIDE = (
    *CATALOG_TABLES, "catalog_runs", "project_identity",
    "settlement_inputs", "settlement_runs", "settlement_terms",
)


def grant_writer(conn: Any, role: str) -> None:
    """Let ``role`` read and append to the ledger, nothing more (no UPDATE/DELETE/TRUNCATE).

    Run as the owner of the tables. On the tables a settlement rewrites beside the ledger
    (:data:`BESIDE`, those that exist: run one settlement as the owner first) the role may
    also DELETE. The role also needs ``CONNECT`` on the database.
    """
    if not role.replace("_", "").isalnum():
        raise LedgerError(f"role name {role!r}: use letters, digits and _ only")
    schema = _current_schema(conn)
    tables = ", ".join(TABLES)
    conn.execute(f"REVOKE ALL ON {tables} FROM {role}")
    conn.execute(f"GRANT SELECT, INSERT ON {tables} TO {role}")
    conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    beside = [t for t in BESIDE if _exists(conn, t)]
    if beside:
        conn.execute(f"REVOKE ALL ON {', '.join(beside)} FROM {role}")
        conn.execute(f"GRANT SELECT, INSERT, DELETE ON {', '.join(beside)} TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")


def _current_schema(conn: Any) -> str:
    return str(conn.execute("SELECT current_schema()").fetchone()[0])


# --------------------------------------------------------------------------- verify


def verify_ledger(
    conn: Any, *, quick: bool = False, committed: bool | None = None, jobs: int = 1
) -> VerifyReport:
    """Check every transaction, transfer and checkpoint of a PostgreSQL ledger.

    The rows go through the very scan that checks an SQLite ledger
    (:func:`ecocomp.ledger.verify._scan`): transactions numbered 1..n without a gap, each
    hash recomputed from its row (tx/2) and linked to the one before, every field checked
    against the model's rules (kind, dates, ``posted_at``, party codes, purposes, inputs
    digest, ``meta`` canonical JSON, no control characters, amounts integer fen in range,
    corrections with ``corrects`` naming an earlier key and a ``reason``), transfers
    numbered from 0 between two different accounts, keys never used twice — none of it
    taken on trust from the table's constraints, which an owner can drop. Also: schema
    version and the append-only triggers present, no transfer without its transaction,
    and every checkpoint's number, chain, hash and Merkle root. The file checks of SQLite
    (``integrity_check``) belong to the server (``pg_amcheck``). Reads one snapshot.

    ``jobs`` > 1 splits the transactions into that many ranges: this process scans the
    first, worker processes the others, each in its own connection joined to this one's
    snapshot (``pg_export_snapshot``), so all read the same ledger; the ranges are then
    joined as on SQLite (:func:`ecocomp.ledger.verify.scan_split`).
    """
    del quick, committed  # SQLite's file checks have no PostgreSQL counterpart here
    if jobs < 1:
        raise LedgerError(f"--jobs {jobs}: use 1 or more processes")
    if conn.in_transaction:
        return _verify(conn, jobs)
    conn.execute("BEGIN")
    try:
        return _verify(conn, jobs)
    finally:
        conn.execute("COMMIT")


def _bytes(column: str) -> str:
    return f"convert_to({column}, 'UTF8')"


# the columns of verify._SCAN, texts as bytes (bytea) as the scan reads them from SQLite
_SCAN = (
    "SELECT t.seq, " + ", ".join(_bytes(f"t.{c}") for c in (
        "hash", "prev_hash", "key", "kind", "booked_on", "due", "agreement", "period",
        "component", "corrects", "reason", "reference", "inputs_digest", "meta",
        "posted_at")) + ", x.idx, " + ", ".join(_bytes(f"x.{c}") for c in (
        "debit_party", "debit_purpose", "credit_party", "credit_purpose")) +
    f", x.amount_fen FROM {TRANSACTIONS} AS t LEFT JOIN {TRANSFERS} AS x ON x.seq = t.seq "
    "WHERE t.seq BETWEEN ? AND ? ORDER BY t.seq, x.idx"
)


def _rows(conn: Any, first: int, last: int) -> Iterator[tuple[Any, ...]]:
    """The rows of transactions first..last with their transfers, a chunk at a time."""
    for start in range(first, last + 1, _CHUNK):
        yield from conn.execute(_SCAN, (start, min(start + _CHUNK - 1, last)))


def _scanned(conn: Any, count: int, tx2_from: int | None, jobs: int) -> Any:
    """Scan transactions 1..count: here, or split over ``jobs`` processes."""
    if jobs < 2 or count < 2 * jobs:
        return verify._scan(lambda: _rows(conn, 1, count), 1, count, GENESIS.encode(),
                            tx2_from, set())
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    with ProcessPoolExecutor(max_workers=jobs - 1, mp_context=verify._MP_CONTEXT) as pool:
        def elsewhere(ranges: list[tuple[int, int, bytes]]) -> Iterable[tuple[Any, ...]]:
            n = len(ranges)
            return pool.map(_scan_range, [conn.url] * n, [snapshot] * n,
                            [r[0] for r in ranges], [r[1] for r in ranges],
                            [r[2] for r in ranges], [tx2_from] * n)

        def stored_hash(seq: int) -> bytes:
            row = conn.execute(f"SELECT {_bytes('hash')} FROM {TRANSACTIONS} WHERE seq = ?",
                               (seq,)).fetchone()
            return bytes(row[0]) if row else b""

        return verify.scan_split(count, jobs, tx2_from, stored_hash=stored_hash,
                                 rows=lambda first, last: _rows(conn, first, last),
                                 elsewhere=elsewhere)


def _scan_range(url: str, snapshot: str, first: int, last: int, prev: bytes,
                tx2_from: int | None) -> tuple[Any, ...]:
    """Worker: scan transactions ``first..last`` in the coordinator's snapshot."""
    conn = postgres.connect(url)
    try:
        conn.execute("BEGIN")
        conn.execute("SET TRANSACTION SNAPSHOT " + _literal(snapshot))
        unresolved: list[tuple[int, bytes]] = []
        scanned = verify._scan(lambda: _rows(conn, first, last), first, last, prev,
                               tx2_from, set(), unresolved)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return verify.range_result(scanned, unresolved)


def _literal(text: str) -> str:
    """A snapshot id as an SQL string literal (the server's own id: digits, hex and '-')."""
    if not text or any(c not in "0123456789ABCDEFabcdef-" for c in text):
        raise LedgerError(f"unexpected snapshot id {text!r} from the server")
    return f"'{text}'"


def _verify(conn: Any, jobs: int = 1) -> VerifyReport:
    version = schema_version(conn)
    schema = _schema_problems(conn, version)
    if schema:
        return VerifyReport(ok=False, count=0, checkpoints=0, reason=schema[0],
                            problems=tuple(schema), schema_version=version or None)
    tx2_from = _store.tx2_from(conn)
    count = int(conn.execute(f"SELECT count(*) FROM {TRANSACTIONS}").fetchone()[0])
    scanned = _scanned(conn, count, tx2_from, jobs)
    problems = [scanned.problem] if scanned.problem else []
    problems += verify._check_hashes(scanned.digests, scanned.hashes)
    if len(scanned.keys) != len(scanned.hashes):
        seen: set[bytes] = set()
        for seq, key in conn.execute(f"SELECT seq, {_bytes('key')} FROM {TRANSACTIONS} "
                                     "ORDER BY seq"):
            if key in seen:
                problems.append(verify._Problem(seq, "key already used by an earlier "
                                                     "transaction"))
                break
            seen.add(key)
    orphans = conn.execute(
        f"SELECT min(x.seq) FROM {TRANSFERS} AS x LEFT JOIN {TRANSACTIONS} AS t "
        "ON t.seq = x.seq WHERE t.seq IS NULL").fetchone()[0]
    if orphans is not None:
        problems.append(verify._Problem(int(orphans), f"transfer rows for transaction "
                                                      f"#{orphans}, which does not exist"))
    good = len(scanned.digests)
    first_bad = min((p.seq for p in problems if p.seq), default=None)
    if first_bad is not None:
        good = min(good, first_bad - 1)
    rows = conn.execute(
        f"SELECT {', '.join(_store.CHECKPOINT_COLUMNS)} FROM {CHECKPOINTS} ORDER BY number"
    ).fetchall()
    digests = scanned.digests[:good]
    problems += verify._check_checkpoints(rows, digests, count, verify._leaves(digests))
    head = scanned.hashes[-1].decode() if scanned.hashes and not problems else None
    return verify._report(problems, count, len(rows), head, version, tx2_from, False,
                          verify._scan_name(scanned))


def _schema_problems(conn: Any, version: int) -> list[str]:
    if version != _store.SCHEMA_VERSION:
        return [f"ledger schema version {version or 'missing'}: expected "
                f"{_store.SCHEMA_VERSION}; open it with Ledger.open to create the tables"]
    present = {
        (row[0], row[1]) for row in conn.execute(
            "SELECT c.relname::text, t.tgname::text FROM pg_trigger AS t "
            "JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_namespace AS n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND NOT t.tgisinternal AND t.tgenabled <> 'D'")
    }
    problems = [f"{table}: the append-only trigger {name} is missing or disabled (someone "
                "with the owner's rights removed it); restore it and verify again"
                for table, names in TRIGGERS.items() for name in names
                if (table, name) not in present]
    # the scan formats integers with %d, which truncates a NUMERIC 100.4 to the 100 hashed:
    # a column retyped by an owner would pass with fractions of a fen (SQLite: typeof)
    types = dict(((row[0], row[1]), row[2]) for row in conn.execute(
        "SELECT table_name::text, column_name::text, data_type::text "
        "FROM information_schema.columns WHERE table_schema = current_schema()"))
    problems += [f"{table}.{column}: type {types.get((table, column), 'missing')}, expected "
                 "an integer type (someone with the owner's rights changed the column); "
                 "restore it and verify again"
                 for table, column in _INTEGER_COLUMNS
                 if types.get((table, column)) not in _INTEGER_TYPES]
    return problems


# --------------------------------------------------------------------------- migrate


def copy_ledger(source: Any, target: Any) -> tuple[int, int]:
    """Append the transactions and checkpoints of ``source`` that ``target`` lacks.

    Both are open connections (SQLite or PostgreSQL) holding ledger schema version 3 with
    tx/2 from the first transaction. ``target`` must be empty or a prefix of ``source``
    (the same hashes for its transactions and checkpoints); anything else is refused and
    nothing is written. Rows are copied as stored, so every hash and root stays the same.
    Runs in one transaction on ``target``; returns (transactions, checkpoints) copied.
    """
    for conn, what in ((source, "source"), (target, "target")):
        start = _store.tx2_from(conn)
        if start not in (None, 1):
            raise LedgerError(
                f"the {what} ledger hashes transactions before #{start} with the older "
                "encoding tx/1; only ledgers in tx/2 from the first transaction migrate"
            )
    target.execute("BEGIN IMMEDIATE")
    try:
        have = int(target.execute(f"SELECT count(*) FROM {TRANSACTIONS}").fetchone()[0])
        have_cp = int(target.execute(f"SELECT count(*) FROM {CHECKPOINTS}").fetchone()[0])
        if have:
            mine = target.execute(
                f"SELECT hash FROM {TRANSACTIONS} WHERE seq = ?", (have,)).fetchone()
            theirs = source.execute(
                f"SELECT hash FROM {TRANSACTIONS} WHERE seq = ?", (have,)).fetchone()
            if theirs is None or mine is None or mine[0] != theirs[0]:
                raise LedgerError(
                    f"the target ledger already holds {have} transactions that are not the "
                    "start of the source ledger; migrate into an empty database"
                )
        cps = source.execute(
            f"SELECT {', '.join(_store.CHECKPOINT_COLUMNS)} FROM {CHECKPOINTS} "
            "ORDER BY number").fetchall()
        mine_cps = target.execute(
            f"SELECT {', '.join(_store.CHECKPOINT_COLUMNS)} FROM {CHECKPOINTS} "
            "ORDER BY number").fetchall()
        if [tuple(r) for r in mine_cps] != [tuple(r) for r in cps[:have_cp]]:
            raise LedgerError("the target ledger's checkpoints are not the source's first "
                              "checkpoints; migrate into an empty database")
        txs = source.execute(
            f"SELECT {', '.join(_store.TX_COLUMNS)} FROM {TRANSACTIONS} WHERE seq > ? "
            "ORDER BY seq", (have,)).fetchall()
        transfers = source.execute(
            f"SELECT {', '.join(_store.TRANSFER_COLUMNS)} FROM {TRANSFERS} WHERE seq > ? "
            "ORDER BY seq, idx", (have,)).fetchall()
        _bulk(target, TRANSACTIONS, _store.TX_COLUMNS, txs)
        _bulk(target, TRANSFERS, _store.TRANSFER_COLUMNS, transfers)
        _bulk(target, CHECKPOINTS, _store.CHECKPOINT_COLUMNS, cps[have_cp:])
        _copy_catalog(source, target)
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return len(txs), len(cps) - have_cp


@attrs.frozen
class Migrated:
    """What :func:`migrate_ledger` copied, and the head both ledgers verify to."""

    transactions: int
    checkpoints: int
    count: int
    head: str | None
    checkpoint: str | None


def migrate_ledger(source: str, target: str) -> Migrated:
    """Copy the ledger in ``source`` to ``target`` (SQLite file or postgresql:// URL each).

    The source must verify; the target is created if empty, and must otherwise hold the
    start of the same ledger (:func:`copy_ledger`). After the copy both are verified and
    must end at the same chain head and the same latest checkpoint, else
    :class:`LedgerIntegrityError`. Running it again copies only what is new.
    """
    from ecocomp.ledger.ledger import Ledger

    with Ledger.open(source, create=False) as src:
        before = src.verify()
        if not before.ok:
            raise LedgerIntegrityError(
                before.first_bad_seq, f"{src.path}: the source ledger does not verify "
                f"({before.reason}); fix or restore it before migrating")
        with Ledger.open(target) as dst:
            copied, checkpoints = copy_ledger(src.connection, dst.connection)
            _copy_terms(src.connection, dst.connection)
            after = dst.verify()
            theirs = src.checkpoints()[-1:]
            mine = dst.checkpoints()[-1:]
            if not after.ok or after.head != before.head or mine != theirs:
                raise LedgerIntegrityError(
                    after.first_bad_seq, f"{dst.path}: the copy does not verify to the "
                    f"source's head ({after.reason or 'a different head'}); the copy "
                    "was committed, so inspect it with `ecocomp ledger verify`")
    return Migrated(copied, checkpoints, after.count, after.head,
                    mine[0].hash if mine else None)


def _copy_terms(source: Any, target: Any) -> None:
    """Copy the terms each year was settled under (``settlement_terms``, beside the ledger)
    for the years the target has none of, so that a run on the target still warns about
    the years an agreement edited since changes (:func:`ecocomp.runs.recorded_terms`)."""
    from ecocomp.runs import record_terms, recorded_terms

    theirs = recorded_terms(source)
    mine = recorded_terms(target)
    new = {year: terms for year, terms in theirs.items() if year not in mine}
    if not new:
        return
    target.execute("BEGIN IMMEDIATE")
    try:
        for year, terms in sorted(new.items()):
            record_terms(target, year, terms)
    except BaseException:
        target.execute("ROLLBACK")
        raise
    target.execute("COMMIT")


def _copy_catalog(source: Any, target: Any) -> None:
    """Replace the target's catalog (the names the latest checkpoint commits to) with the
    source's, so that the copy verifies like the source.

    A missing catalog table is created with the source's columns (text, as the catalog
    stores them, and integer where the source's is: the zero amounts' ``year``, which the
    digest reads as a number) and primary key; the digest reads the columns in that order.
    """
    present = {row[0] for row in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in CATALOG_TABLES:
        if table not in present:
            continue
        info = source.execute(f"PRAGMA table_info({table})").fetchall()
        quoted = [f'"{row[1]}"' for row in info]
        keys = [f'"{row[1]}"' for row in sorted(info, key=lambda r: r[5]) if row[5]]
        types = ["INTEGER" if str(row[2]).upper() in ("INTEGER", "BIGINT") else "TEXT"
                 for row in info]
        columns = [f"{q} {kind}{' NOT NULL' if row[3] else ''}"
                   for q, kind, row in zip(quoted, types, info, strict=True)]
        if keys:
            columns.append(f"PRIMARY KEY ({', '.join(keys)})")
        target.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
        target.execute(f"DELETE FROM {table}")
        rows = source.execute(f"SELECT {', '.join(quoted)} FROM {table}").fetchall()
        _bulk(target, table, quoted, rows)


def _bulk(conn: Any, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    if not rows:
        return
    if hasattr(conn, "copy_rows"):
        conn.copy_rows(table, columns, rows)
    else:
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                         f"VALUES ({', '.join('?' * len(columns))})", rows)


def open_connection(url: str, *, now: Callable[[], str], create: bool = True) -> Any:
    """Connect to ``url`` and create the ledger tables if needed; errors as LedgerError.

    With ``create=False`` the database must already hold a ledger (nothing is created).
    """
    try:
        conn = postgres.connect(url)
    except EcocompError:
        raise
    except Exception as exc:  # the driver's OperationalError and friends
        raise LedgerError(f"cannot open ledger: {postgres.describe(exc, url)}") from exc
    try:
        if not create and schema_version(conn) == 0:
            raise LedgerError(
                f"{postgres.redacted(url)}: no ecocomp ledger in this database; check the "
                "--db URL (a ledger is created by `ecocomp settle` or `ecocomp ledger migrate`)"
            )
        migrate(conn, now=now)
    except LedgerError:
        conn.close()
        raise
    except Exception as exc:
        conn.close()
        raise LedgerError(f"cannot open ledger: {postgres.describe(exc, url)}") from exc
    return conn
