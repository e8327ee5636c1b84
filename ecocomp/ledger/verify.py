"""Full integrity check of a ledger database: re-derive every hash, link and Merkle root.

:func:`verify_ledger` streams transactions and their transfers in one ordered SELECT and
checks, for each transaction in ``seq`` order:

* ``seq`` runs 1, 2, 3… without gaps, and each ``prev_hash`` is the previous ``hash``
  (the first one is 64 zeros);
* the stored ``hash`` equals SHA-256 of the canonical encoding re-built from the columns;
* it has transfers, numbered 0, 1, 2…, each positive and between two different accounts;
* its ``kind`` is known, its ``key`` is new and ``corrects`` names an earlier key;

then that no transfer row lacks its transaction, and that every checkpoint is numbered
1, 2, 3…, hash-chained, and its Merkle root equals the RFC 6962 root over the transaction
hashes it covers. The report names the first bad sequence number and why.

The loop reads text as bytes and builds the encoding inline — it is the hot path (a few
microseconds per transaction); :mod:`ecocomp.ledger.hashing` is the readable definition and
tests keep the two identical.
"""

from __future__ import annotations

import hashlib
import sqlite3
from binascii import hexlify
from typing import Any

import attrs

from ecocomp.errors import LedgerIntegrityError
from ecocomp.ledger import _store
from ecocomp.ledger.hashing import (
    GENESIS,
    RS,
    TRANSFER_FIELDS,
    TX_FIELDS,
    TX_TAG,
    US,
    checkpoint_bytes,
)
from ecocomp.ledger.merkle import MerkleTree
from ecocomp.ledger.model import KINDS, Checkpoint

__all__ = ["VerifyReport", "verify_ledger"]

# The loop below unpacks columns by position; this pins the order it was written for.
if TX_FIELDS != (
    "prev_hash", "seq", "key", "kind", "booked_on", "due", "agreement", "period",
    "component", "corrects", "reason", "reference", "inputs_digest", "meta", "posted_at",
) or TRANSFER_FIELDS != (
    "debit_party", "debit_purpose", "credit_party", "credit_purpose", "amount_fen",
):  # pragma: no cover - a guard for whoever changes the encoding
    raise RuntimeError("verify._scan no longer matches hashing.TX_FIELDS; update both")

_SCAN = f"""
SELECT t.seq, t.hash, t.prev_hash, t.key, t.kind, t.booked_on, t.due, t.agreement, t.period,
       t.component, t.corrects, t.reason, t.reference, t.inputs_digest, t.meta, t.posted_at,
       x.idx, x.debit_party, x.debit_purpose, x.credit_party, x.credit_purpose, x.amount_fen
FROM {_store.TRANSACTIONS} AS t LEFT JOIN {_store.TRANSFERS} AS x ON x.seq = t.seq
ORDER BY t.seq, x.idx
"""

_sha256 = hashlib.sha256
_US = US.encode()
_RS = RS.encode()
_TAG = TX_TAG.encode()
_EMPTY = b""
_KINDS = frozenset(k.encode() for k in KINDS)


@attrs.frozen
class VerifyReport:
    """The outcome of :func:`verify_ledger`.

    ``count`` is the number of transactions in the ledger, ``checkpoints`` the number of
    checkpoints. When ``ok`` is false, ``first_bad_seq`` names the first bad transaction
    (for a checkpoint problem: the last transaction the checkpoint covers, and
    ``first_bad_checkpoint`` its number) and ``reason`` says what is wrong.
    """

    ok: bool
    count: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str | None = None
    first_bad_checkpoint: int | None = None
    head: str | None = None

    def raise_for_problem(self) -> None:
        """Raise :class:`LedgerIntegrityError` (``seq``, ``reason``) unless ``ok``."""
        if not self.ok:
            raise LedgerIntegrityError(self.first_bad_seq, self.reason or "integrity problem")


@attrs.frozen
class _Problem:
    seq: int
    reason: str
    checkpoint: int | None = None


def verify_ledger(conn: sqlite3.Connection) -> VerifyReport:
    """Check every transaction, transfer and checkpoint in the open ledger database.

    Runs in one read transaction (a consistent snapshot) unless one is already open.
    """
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        return _verify(conn)
    finally:
        if own:
            conn.execute("COMMIT")


def _verify(conn: sqlite3.Connection) -> VerifyReport:
    count = conn.execute(f"SELECT count(*) FROM {_store.TRANSACTIONS}").fetchone()[0]
    factory = conn.text_factory
    conn.text_factory = bytes
    try:
        problems, digests, hashes, duplicates = _scan(conn)
    finally:
        conn.text_factory = factory
    problems += _check_hashes(digests, hashes)
    if duplicates:
        problems += _duplicate_keys(conn)
    problems += _orphans(conn, count)
    good = len(digests)
    first_tx_problem = min((p.seq for p in problems), default=None)
    if first_tx_problem is not None:
        good = min(good, first_tx_problem - 1)
    rows = conn.execute(
        f"SELECT {_store.checkpoint_select(conn)} FROM {_store.CHECKPOINTS} "
        "ORDER BY number"
    ).fetchall()
    problems += _check_checkpoints(rows, digests[:good], count)
    if problems:
        first = min(problems, key=lambda p: (p.seq, p.checkpoint is not None))
        return VerifyReport(
            ok=False, count=count, checkpoints=len(rows), first_bad_seq=first.seq,
            reason=first.reason, first_bad_checkpoint=first.checkpoint,
        )
    head = hashes[-1].decode() if hashes else None
    return VerifyReport(ok=True, count=count, checkpoints=len(rows), head=head)


def _scan(
    conn: sqlite3.Connection,
) -> tuple[list[_Problem], list[bytes], list[bytes], bool]:
    """The hot loop: chain links and structure inline; hashes collected for one comparison.

    For a transaction's first transfer row it checks everything at once and builds the
    header and first transfer with one join (``posted_at + RS + debit_party`` glues the
    two records); further transfer rows append to the message. Only when a check fails
    does :func:`_diagnose` work out which one, for the report.
    """
    sha = _sha256
    us_join = _US.join
    rs = _RS
    tag, e, kinds = _TAG, _EMPTY, _KINDS
    digests: list[bytes] = []
    hashes: list[bytes] = []
    add_digest = digests.append
    add_hash = hashes.append
    keys: set[bytes] = set()
    add_key = keys.add
    prev = GENESIS.encode()
    expected = 1
    current = 0
    nidx = 0
    message: bytes | None = None
    problem: _Problem | None = None
    row: tuple[Any, ...] | None = None
    try:
        for row in conn.execute(_SCAN):
            (seq, hash_, prev_hash, key, kind, booked_on, due, agreement, period, component,
             corrects, reason, reference, digest, meta, posted_at,
             idx, debit_party, debit_purpose, credit_party, credit_purpose, fen) = row
            if seq != current:
                if message is not None:
                    add_digest(sha(message).digest())
                    message = None
                if (seq != expected or prev_hash != prev or idx != 0 or kind not in kinds
                        or (corrects and corrects not in keys) or fen <= 0
                        or (debit_party == credit_party and debit_purpose == credit_purpose)):
                    problem = _diagnose(row, expected, prev, keys)
                    break
                add_key(key)
                add_hash(hash_)
                message = us_join((
                    tag, prev_hash, b"%d" % seq, key, kind, booked_on, due or e,
                    agreement or e, period or e, component or e, corrects or e, reason or e,
                    reference or e, digest or e, meta, posted_at + rs + debit_party,
                    debit_purpose, credit_party, credit_purpose, b"%d" % fen,
                ))
                current = seq
                expected = seq + 1
                prev = hash_
                nidx = 1
            else:
                if idx != nidx or fen <= 0 or (
                    debit_party == credit_party and debit_purpose == credit_purpose
                ):
                    problem = _diagnose_transfer(seq, idx, nidx)
                    break
                message += rs + us_join(
                    (debit_party, debit_purpose, credit_party, credit_purpose, b"%d" % fen)
                )
                nidx += 1
        else:
            if message is not None:
                add_digest(sha(message).digest())
    except (TypeError, ValueError, AttributeError) as exc:
        # a column holding the wrong type (only possible if the STRICT tables were replaced)
        at = row[0] if row is not None and isinstance(row[0], int) else expected
        problem = _Problem(at, f"malformed row: {exc}")
    duplicates = len(keys) != len(hashes)
    return ([problem] if problem else []), digests, hashes, duplicates


def _diagnose(row: tuple[Any, ...], expected: int, prev: bytes, keys: set[bytes]) -> _Problem:
    """Which check failed on a transaction's first row, in words."""
    seq, prev_hash, kind, corrects, idx = row[0], row[2], row[4], row[10], row[16]
    if seq != expected:
        return _Problem(expected, f"transaction #{expected} is missing "
                                  f"(the next stored one is #{seq})")
    if prev_hash != prev:
        return _Problem(seq, "prev_hash does not match the hash of the previous transaction "
                             "(chain broken)")
    if kind not in _KINDS:
        return _Problem(seq, f"unknown kind {kind!r}")
    if corrects and corrects not in keys:
        return _Problem(seq, f"corrects {corrects.decode()!r}, which is not an earlier "
                             "transaction")
    if idx != 0:
        return _diagnose_transfer(seq, idx, 0)
    return _Problem(seq, "transfer 0 is not a positive amount between two different accounts")


def _diagnose_transfer(seq: int, idx: int | None, expected: int) -> _Problem:
    if idx is None:
        return _Problem(seq, "has no transfers")
    if idx != expected:
        return _Problem(seq, f"transfer index {idx} where {expected} was expected "
                             "(a transfer is missing or was renumbered)")
    return _Problem(seq, f"transfer {idx} is not a positive amount between two different "
                         "accounts")


def _check_hashes(digests: list[bytes], hashes: list[bytes]) -> list[_Problem]:
    """Compare recomputed digests with stored hashes in one go; find the first mismatch."""
    stored = hashes[: len(digests)]
    if hexlify(b"".join(digests)) == b"".join(stored):
        return []
    for seq, (digest, hash_) in enumerate(zip(digests, stored, strict=True), start=1):
        if hexlify(digest) != hash_:
            return [_Problem(seq, "hash does not match the transaction's contents "
                                  "(a field or transfer was changed)")]
    return []  # pragma: no cover - the joined comparison differed, so one element does


def _duplicate_keys(conn: sqlite3.Connection) -> list[_Problem]:
    row = conn.execute(
        f"SELECT min(b.seq) FROM {_store.TRANSACTIONS} a JOIN {_store.TRANSACTIONS} b "
        "ON a.key = b.key AND a.seq < b.seq"
    ).fetchone()
    return [_Problem(row[0], "key already used by an earlier transaction")] if row[0] else []


def _orphans(conn: sqlite3.Connection, count: int) -> list[_Problem]:
    """Transfer rows whose transaction does not exist.

    Inside 1..count every transfer row meets its transaction in the scan (and its index
    is checked there), so only rows outside that range can be orphans.
    """
    low, high = conn.execute(f"SELECT min(seq), max(seq) FROM {_store.TRANSFERS}").fetchone()
    if low is not None and low < 1:
        return [_Problem(1, f"transfer rows for transaction #{low}, which does not exist")]
    if high is not None and high > count:
        return [_Problem(count + 1, f"transfer rows for transaction #{high}, which does "
                                    "not exist (transactions deleted?)")]
    return []


def _check_checkpoints(
    rows: list[tuple[Any, ...]], digests: list[bytes], count: int
) -> list[_Problem]:
    """Numbering, chain, hash and Merkle root of every checkpoint, in order.

    A checkpoint/2 (with a catalog digest) may cover the same ``seq`` as the one before
    (the catalog changed without new transactions); a checkpoint/1 must cover more.
    """
    covered = max((row[1] for row in rows if isinstance(row[1], int)), default=0)
    upto = min(covered, len(digests))
    tree = MerkleTree([_sha256(b"\x00" + d).digest() for d in digests[:upto]]) if rows else None
    prev = GENESIS
    last_seq = 0
    for expected, (number, seq, root, created_at, prev_hash, hash_, catalog, *_) in enumerate(
        rows, 1
    ):
        where = f"checkpoint #{expected}"
        at = seq if isinstance(seq, int) and seq >= 1 else max(last_seq, 1)
        if number != expected:
            return [_Problem(at, f"{where} is missing (found #{number})", expected)]
        if prev_hash != prev:
            return [_Problem(at, f"{where}: prev_hash does not match the previous checkpoint",
                             expected)]
        message = checkpoint_bytes(Checkpoint(number, seq, root, created_at, prev_hash, hash_,
                                              catalog))
        if _sha256(message).hexdigest() != hash_:
            return [_Problem(at, f"{where}: hash does not match its contents", expected)]
        if not isinstance(seq, int) or seq < last_seq or (seq == last_seq and catalog is None):
            return [_Problem(at, f"{where}: covers #{seq}, not more than the previous one",
                             expected)]
        if seq > count:
            return [_Problem(count + 1, f"{where} covers transactions up to #{seq} but the "
                                        f"ledger ends at #{count} (transactions deleted)",
                             expected)]
        if tree is not None and seq <= tree.size and tree.root(seq).hex() != root:
            return [_Problem(seq, f"{where}: Merkle root does not match transactions "
                                  f"1..{seq}", expected)]
        prev = hash_
        last_seq = seq
    return []
