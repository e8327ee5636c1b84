"""SQLite storage of the ledger: connection settings, schema, migrations, row mapping.

All tables are created here with explicit DDL (STRICT tables, money as INTEGER fen); no
schema is ever guessed. Every ledger table has triggers that abort UPDATE and DELETE, and an
INSERT that would replace an existing row (``INSERT OR REPLACE`` deletes without firing
DELETE triggers), so the file stays append-only even behind the library's back.

Migrations are a list of steps applied in order inside one ``BEGIN IMMEDIATE`` transaction;
each applied step appends a row to ``ledger_schema_version`` (itself append-only). To change
the schema, append a :class:`Migration` to :data:`MIGRATIONS`; never edit a published step.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs

from ecocomp import database
from ecocomp.errors import LedgerError
from ecocomp.ledger.hashing import TRANSFER_FIELDS, TX_FIELDS
from ecocomp.ledger.model import Checkpoint, Transaction, _unchecked_transfer

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "connect",
    "encoding_of",
    "migrate",
    "schema_version",
    "tx2_from",
]

TRANSACTIONS = "ledger_transactions"
TRANSFERS = "ledger_transfers"
CHECKPOINTS = "ledger_checkpoints"
VERSIONS = "ledger_schema_version"
ENCODINGS = "ledger_encodings"
TABLES = (VERSIONS, TRANSACTIONS, TRANSFERS, CHECKPOINTS, ENCODINGS)


def _append_only(table: str, key: str) -> list[str]:
    """Triggers that make ``table`` append-only; ``key`` is the SQL condition of a clash."""
    hint = "the ledger is append-only; post a correction (reversal or adjustment) instead"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table}: UPDATE refused: {hint}'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table}: DELETE refused: {hint}'); END",
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key}) "
        f"BEGIN SELECT RAISE(ABORT, '{table}: INSERT over an existing row refused: "
        f"{hint}'); END",
    ]


_BOOTSTRAP = [
    f"""CREATE TABLE IF NOT EXISTS {VERSIONS} (
        version INTEGER PRIMARY KEY CHECK (version >= 1),
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL
    ) STRICT""",
]

_V1 = [
    f"""CREATE TABLE {TRANSACTIONS} (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        prev_hash TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL
            CHECK (kind IN ('accrual', 'clearing', 'payment', 'reversal', 'adjustment')),
        booked_on TEXT NOT NULL,
        due TEXT,
        agreement TEXT,
        period TEXT,
        component TEXT,
        corrects TEXT,
        reason TEXT,
        reference TEXT,
        inputs_digest TEXT,
        meta TEXT NOT NULL,
        posted_at TEXT NOT NULL,
        hash TEXT NOT NULL
    ) STRICT""",
    f"CREATE INDEX {TRANSACTIONS}_agreement ON {TRANSACTIONS} (agreement, period)",
    f"CREATE INDEX {TRANSACTIONS}_corrects ON {TRANSACTIONS} (corrects) "
    "WHERE corrects IS NOT NULL",
    f"""CREATE TABLE {TRANSFERS} (
        seq INTEGER NOT NULL,
        idx INTEGER NOT NULL CHECK (idx >= 0),
        debit_party TEXT NOT NULL,
        debit_purpose TEXT NOT NULL,
        credit_party TEXT NOT NULL,
        credit_purpose TEXT NOT NULL,
        amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
        PRIMARY KEY (seq, idx)
    ) STRICT, WITHOUT ROWID""",
    f"""CREATE TABLE {CHECKPOINTS} (
        number INTEGER PRIMARY KEY CHECK (number >= 1),
        seq INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
        root TEXT NOT NULL,
        created_at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    ) STRICT""",
    *_append_only(TRANSACTIONS, "seq = NEW.seq OR key = NEW.key"),
    *_append_only(TRANSFERS, "seq = NEW.seq AND idx = NEW.idx"),
    *_append_only(CHECKPOINTS, "number = NEW.number OR seq = NEW.seq"),
]

# Version 2: checkpoints commit to the project catalog (checkpoint/2) and may be signed.
# The table is rebuilt because a changed catalog (a renamed party) needs a new checkpoint
# at the same ``seq``, which version 1's UNIQUE (seq) forbade. DROP TABLE fires no DELETE
# trigger; the rows are copied first and the triggers re-created on the new table.
_V2 = [
    f"""CREATE TABLE {CHECKPOINTS}_v2 (
        number INTEGER PRIMARY KEY CHECK (number >= 1),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        root TEXT NOT NULL,
        created_at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        catalog TEXT,
        signature TEXT,
        key_id TEXT
    ) STRICT""",
    f"INSERT INTO {CHECKPOINTS}_v2 (number, seq, root, created_at, prev_hash, hash) "
    f"SELECT number, seq, root, created_at, prev_hash, hash FROM {CHECKPOINTS} ORDER BY number",
    f"DROP TABLE {CHECKPOINTS}",
    f"ALTER TABLE {CHECKPOINTS}_v2 RENAME TO {CHECKPOINTS}",
    f"CREATE INDEX {CHECKPOINTS}_seq ON {CHECKPOINTS} (seq)",
    *_append_only(CHECKPOINTS, "number = NEW.number"),
]


@attrs.frozen
class Migration:
    """One schema step: the version it produces and the statements that produce it."""

    version: int
    description: str
    statements: Sequence[str]


# Version 3: the self-delimiting encoding tx/2 applies from the next sequence number on
# (1 in a new ledger); the transactions before it keep their tx/1 hashes.
_V3 = [
    f"""CREATE TABLE {ENCODINGS} (
        encoding INTEGER PRIMARY KEY CHECK (encoding >= 2),
        from_seq INTEGER NOT NULL UNIQUE CHECK (from_seq >= 1)
    ) STRICT""",
    f"INSERT INTO {ENCODINGS} (encoding, from_seq) "
    f"SELECT 2, coalesce(max(seq), 0) + 1 FROM {TRANSACTIONS}",
    *_append_only(ENCODINGS, "encoding = NEW.encoding OR from_seq = NEW.from_seq"),
]

#: Every schema step ever published, in order. Version N is ``MIGRATIONS[N - 1]``.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "transactions, transfers, checkpoints; append-only triggers",
        [*_V1, *_append_only(VERSIONS, "version = NEW.version")],
    ),
    Migration(
        2,
        "checkpoints commit to the catalog and may carry an Ed25519 signature",
        _V2,
    ),
    Migration(3, "encoding tx/2 from the next transaction on", _V3),
)
#: The schema version this code writes and reads.
SCHEMA_VERSION = MIGRATIONS[-1].version


def connect(path: str, *, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open ``path`` with the ledger's settings: autocommit, WAL, busy timeout, FULL sync.

    ``isolation_level=None`` leaves transactions to explicit BEGIN/COMMIT. FULL sync makes
    a committed run durable across power loss, not only across a killed process.
    """
    return database.connect(path, busy_timeout_ms=busy_timeout_ms, synchronous="FULL")


def schema_version(conn: sqlite3.Connection) -> int:
    """The ledger schema version of the open database (0 if it holds no ledger yet)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSIONS,)
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute(f"SELECT max(version) FROM {VERSIONS}").fetchone()
    return int(row[0] or 0)


def tx2_from(conn: sqlite3.Connection) -> int | None:
    """The first ``seq`` hashed with encoding tx/2, or None in a ledger without tx/2 yet."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (ENCODINGS,)
    ).fetchone()
    if not exists:
        return None
    row = conn.execute(f"SELECT from_seq FROM {ENCODINGS} WHERE encoding = 2").fetchone()
    return int(row[0]) if row else None


def encoding_of(seq: int, tx2_from_seq: int | None) -> int:
    """The encoding of transaction ``seq`` in a ledger where tx/2 starts at ``tx2_from_seq``."""
    return 2 if tx2_from_seq is not None and seq >= tx2_from_seq else 1


def _too_new(found: int, supported: int) -> LedgerError:
    return LedgerError(
        f"ledger schema version {found} is newer than this ecocomp supports ({supported}); "
        "upgrade ecocomp to open this database"
    )


def migrate(
    conn: sqlite3.Connection,
    *,
    migrations: Sequence[Migration] = MIGRATIONS,
    now: Callable[[], str] | None = None,
) -> int:
    """Bring the database to the latest schema; returns the version. Safe to race.

    Opening a database written by a newer ecocomp raises :class:`LedgerError` instead of
    guessing at a schema it does not know.
    """
    target = migrations[-1].version if migrations else 0
    current = schema_version(conn)
    if current > target:
        raise _too_new(current, target)
    if current == target:
        return current
    stamp = now or _utc_now
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _BOOTSTRAP:
            conn.execute(statement)
        # another process may have migrated while we waited for the lock
        current = schema_version(conn)
        if current > target:
            raise _too_new(current, target)
        for step in migrations:
            if step.version <= current:
                continue
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                f"INSERT INTO {VERSIONS} (version, description, applied_at) VALUES (?, ?, ?)",
                (step.version, step.description, stamp()),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target


def _utc_now() -> str:
    return utc_stamp(datetime.now(UTC))


def utc_stamp(moment: datetime) -> str:
    """A UTC timestamp as stored: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if moment.tzinfo is None:
        raise LedgerError("clock returned a naive datetime; return an aware (UTC) one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- row mapping

#: Columns of ledger_transactions as read into a Transaction (hash last).
TX_COLUMNS: tuple[str, ...] = (*TX_FIELDS, "hash")
TX_INSERT = (
    f"INSERT INTO {TRANSACTIONS} ({', '.join(TX_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(TX_COLUMNS))})"
)
TRANSFER_COLUMNS: tuple[str, ...] = ("seq", "idx", *TRANSFER_FIELDS)
TRANSFER_INSERT = (
    f"INSERT INTO {TRANSFERS} ({', '.join(TRANSFER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(TRANSFER_COLUMNS))})"
)
CHECKPOINT_COLUMNS = (
    "number", "seq", "root", "created_at", "prev_hash", "hash", "catalog", "signature", "key_id",
)


def checkpoint_select(conn: sqlite3.Connection) -> str:
    """The SELECT list of CHECKPOINT_COLUMNS, with NULL for columns a version 1 file lacks.

    Lets a reader that does not migrate (a read-only open) read checkpoint/1 rows.
    """
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({CHECKPOINTS})")}
    return ", ".join(c if c in present else f"NULL AS {c}" for c in CHECKPOINT_COLUMNS)

_I = {name: i for i, name in enumerate(TX_COLUMNS)}
#: Position of ``seq`` in a row of TX_COLUMNS.
TX_SEQ = _I["seq"]


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def transaction_from_row(
    row: Sequence[Any], transfers: Sequence[Sequence[Any]], encoding: int = 2
) -> Transaction:
    """A Transaction from a ledger_transactions row and its transfer rows (in idx order)."""
    meta_json = row[_I["meta"]]
    try:
        meta = json.loads(meta_json)
    except (TypeError, ValueError):
        meta = {}
    return Transaction(
        seq=row[_I["seq"]],
        key=row[_I["key"]],
        kind=row[_I["kind"]],
        transfers=tuple(_unchecked_transfer(*t) for t in transfers),
        booked_on=_date(row[_I["booked_on"]]),
        agreement=row[_I["agreement"]],
        period=row[_I["period"]],
        component=row[_I["component"]],
        due=_date(row[_I["due"]]),
        reason=row[_I["reason"]],
        corrects=row[_I["corrects"]],
        reference=row[_I["reference"]],
        inputs_digest=row[_I["inputs_digest"]],
        meta=meta if isinstance(meta, dict) else {},
        meta_json=meta_json,
        posted_at=row[_I["posted_at"]],
        prev_hash=row[_I["prev_hash"]],
        hash=row[_I["hash"]],
        encoding=encoding,
    )


def checkpoint_from_row(row: Sequence[Any]) -> Checkpoint:
    """A Checkpoint from a ledger_checkpoints row (columns in CHECKPOINT_COLUMNS order)."""
    return Checkpoint(*row)
