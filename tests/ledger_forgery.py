"""Shared test tools: what someone with write access to a ledger file can do to it.

Written with raw SQL and the documented encodings (docs/ledger.md), not with the ledger's own
write path, so the tamper tests do not check the code with itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from ecocomp.ledger import GENESIS, NewTransaction, _store
from ecocomp.ledger.hashing import encode_fields, encode_v2

TX1_POSTED_AT = "2024-01-31T00:00:00.000000Z"


def write_tx1_ledger(path: Path, txs: Sequence[NewTransaction]) -> None:
    """A ledger as ecocomp wrote it before tx/2: schema version 1, tx/1 hashes."""
    conn = _store.connect(str(path), busy_timeout_ms=1000)
    _store.migrate(conn, migrations=_store.MIGRATIONS[:1])
    prev = GENESIS
    for seq, tx in enumerate(txs, start=1):
        row = [prev, seq, tx.key, tx.kind, tx.booked_on.isoformat(),
               tx.due.isoformat() if tx.due else None, tx.agreement, tx.period, tx.component,
               tx.corrects, tx.reason, tx.reference, tx.inputs_digest, tx.meta_json,
               TX1_POSTED_AT]
        transfers = [(t.debit_party, t.debit_purpose, t.credit_party, t.credit_purpose, t.fen)
                     for t in tx.transfers]
        digest = hashlib.sha256(_tx1_message(row, transfers)).hexdigest()
        conn.execute(_store.TX_INSERT, (*row, digest))
        conn.executemany(_store.TRANSFER_INSERT,
                         [(seq, i, *t) for i, t in enumerate(transfers)])
        prev = digest
    conn.close()


def _tx1_message(row: Sequence[object], transfers: Sequence[Sequence[object]]) -> bytes:
    return encode_fields(["" if v is None else str(v) for v in row],
                         [[str(v) for v in t] for t in transfers])


@contextlib.contextmanager
def opened_without_triggers(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection with the append-only triggers dropped, put back exactly after."""
    conn = sqlite3.connect(path)
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                            ).fetchall()
    for name, _sql in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    try:
        yield conn
        for _name, sql in triggers:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def rehash(conn: sqlite3.Connection, *, encoding: int = 2) -> None:
    """Recompute every prev_hash and hash (a consistent rewrite of the whole chain)."""
    columns = ", ".join(_store.TX_COLUMNS[:-1])
    prev = GENESIS
    for row in conn.execute(f"SELECT {columns} FROM ledger_transactions ORDER BY seq"
                            ).fetchall():
        values = [prev, *row[1:]]
        transfers = conn.execute(
            "SELECT debit_party, debit_purpose, credit_party, credit_purpose, amount_fen "
            "FROM ledger_transfers WHERE seq = ? ORDER BY idx", (row[1],)).fetchall()
        message = (encode_v2(values, transfers) if encoding == 2
                   else _tx1_message(values, transfers))
        digest = hashlib.sha256(message).hexdigest()
        conn.execute("UPDATE ledger_transactions SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (prev, digest, row[1]))
        prev = digest
