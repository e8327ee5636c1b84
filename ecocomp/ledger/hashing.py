"""Canonical encoding of transactions and checkpoints, and their SHA-256 hash chain.

The encoding is deliberately plain so that anyone can re-implement it (docs/ledger.md gives
it byte by byte): the UTF-8 bytes of text fields joined by the ASCII unit separator (0x1F),
the transaction's header and each transfer joined by the record separator (0x1E). Absent
fields are empty strings; integers are plain decimal; dates are ``YYYY-MM-DD``; ``meta`` is its
canonical JSON text. Text fields cannot contain control characters (the model refuses them),
so the encoding is unambiguous.

>>> encode_fields(["a", "b"], [["c", "d"]])
b'ecocomp.ledger.tx/1\\x1fa\\x1fb\\x1ec\\x1fd'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ecocomp.ledger.model import Checkpoint, NewTransaction, Transaction

__all__ = [
    "CHECKPOINT_TAG",
    "CHECKPOINT_TAG_V2",
    "GENESIS",
    "RS",
    "TRANSFER_FIELDS",
    "TX_FIELDS",
    "TX_TAG",
    "US",
    "checkpoint_bytes",
    "checkpoint_hash",
    "checkpoint_message",
    "checkpoint_message_v2",
    "encode_fields",
    "posting_hash",
    "transaction_hash",
    "transaction_message",
]

#: ``prev_hash`` of the first transaction and of the first checkpoint.
GENESIS = "0" * 64
#: First field of every transaction encoding: names the format and its version.
TX_TAG = "ecocomp.ledger.tx/1"
#: First field of every checkpoint/1 encoding (checkpoints without a catalog digest).
CHECKPOINT_TAG = "ecocomp.ledger.checkpoint/1"
#: First field of every checkpoint/2 encoding (with the catalog digest).
CHECKPOINT_TAG_V2 = "ecocomp.ledger.checkpoint/2"
#: Unit separator: between fields.
US = "\x1f"
#: Record separator: between the header and each transfer.
RS = "\x1e"

#: Header fields after the tag, in encoding order (also the ledger_transactions columns).
TX_FIELDS: tuple[str, ...] = (
    "prev_hash",
    "seq",
    "key",
    "kind",
    "booked_on",
    "due",
    "agreement",
    "period",
    "component",
    "corrects",
    "reason",
    "reference",
    "inputs_digest",
    "meta",
    "posted_at",
)
#: Fields of each transfer, in encoding order (``amount_fen`` = integer fen).
TRANSFER_FIELDS: tuple[str, ...] = (
    "debit_party",
    "debit_purpose",
    "credit_party",
    "credit_purpose",
    "amount_fen",
)

_sha256 = hashlib.sha256


def encode_fields(fields: Sequence[str], transfers: Iterable[Sequence[str]]) -> bytes:
    """The canonical bytes: tag and ``fields`` joined by US, then RS and each transfer.

    >>> encode_fields(["x"], [["y"], ["z"]])
    b'ecocomp.ledger.tx/1\\x1fx\\x1ey\\x1ez'
    """
    records = [US.join((TX_TAG, *fields))]
    records.extend(US.join(t) for t in transfers)
    return RS.join(records).encode("utf-8")


def _header(
    prev_hash: str, seq: int, tx: NewTransaction | Transaction, posted_at: str
) -> tuple[str, ...]:
    return (
        prev_hash,
        str(seq),
        tx.key,
        tx.kind,
        tx.booked_on.isoformat(),
        tx.due.isoformat() if tx.due else "",
        tx.agreement or "",
        tx.period or "",
        tx.component or "",
        tx.corrects or "",
        tx.reason or "",
        tx.reference or "",
        tx.inputs_digest or "",
        tx.meta_json,
        posted_at,
    )


def _transfer_fields(tx: NewTransaction | Transaction) -> list[tuple[str, ...]]:
    return [
        (t.debit_party, t.debit_purpose, t.credit_party, t.credit_purpose, str(t.fen))
        for t in tx.transfers
    ]


def posting_hash(prev_hash: str, seq: int, tx: NewTransaction, posted_at: str) -> str:
    """The hash ``tx`` gets when posted as ``seq`` after ``prev_hash`` at ``posted_at``."""
    message = encode_fields(_header(prev_hash, seq, tx, posted_at), _transfer_fields(tx))
    return _sha256(message).hexdigest()


def transaction_message(tx: Transaction) -> bytes:
    """The canonical bytes of a stored transaction (what its ``hash`` covers)."""
    return encode_fields(_header(tx.prev_hash, tx.seq, tx, tx.posted_at), _transfer_fields(tx))


def transaction_hash(tx: Transaction) -> str:
    """Recompute a transaction's hash from its fields (lowercase hex SHA-256).

    A party holding an exported record checks it with
    ``transaction_hash(Transaction.from_json(record)) == record["hash"]``.
    """
    return _sha256(transaction_message(tx)).hexdigest()


def checkpoint_message(
    prev_hash: str, number: int, seq: int, root: str, created_at: str
) -> bytes:
    """The canonical bytes of a checkpoint: tag, prev_hash, number, seq, root, created_at.

    >>> checkpoint_message("0" * 64, 1, 5, "ab", "2024-01-31T00:00:00.000000Z")[:27]
    b'ecocomp.ledger.checkpoint/1'
    """
    return US.join(
        (CHECKPOINT_TAG, prev_hash, str(number), str(seq), root, created_at)
    ).encode("utf-8")


def checkpoint_message_v2(
    prev_hash: str, number: int, seq: int, root: str, catalog: str, created_at: str
) -> bytes:
    """The canonical bytes of a checkpoint/2: checkpoint/1 plus the catalog digest.

    Tag, prev_hash, number, seq, root, catalog, created_at; the hash and the operator's
    signature cover exactly these bytes.

    >>> checkpoint_message_v2("0" * 64, 1, 5, "ab", "cd", "2024-01-31T00:00:00.000000Z")[:27]
    b'ecocomp.ledger.checkpoint/2'
    """
    return US.join(
        (CHECKPOINT_TAG_V2, prev_hash, str(number), str(seq), root, catalog, created_at)
    ).encode("utf-8")


def checkpoint_bytes(checkpoint: Checkpoint) -> bytes:
    """A checkpoint's canonical bytes: checkpoint/2 when it has a catalog, else /1."""
    if checkpoint.catalog is None:
        return checkpoint_message(checkpoint.prev_hash, checkpoint.number, checkpoint.seq,
                                  checkpoint.root, checkpoint.created_at)
    return checkpoint_message_v2(checkpoint.prev_hash, checkpoint.number, checkpoint.seq,
                                 checkpoint.root, checkpoint.catalog, checkpoint.created_at)


def checkpoint_hash(checkpoint: Checkpoint) -> str:
    """Recompute a checkpoint's hash from its fields (lowercase hex SHA-256)."""
    return _sha256(checkpoint_bytes(checkpoint)).hexdigest()
