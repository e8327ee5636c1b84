"""Canonical encodings of transactions and checkpoints, and their SHA-256 hash chain.

Two transaction encodings exist; docs/ledger.md gives both byte by byte.

* ``ecocomp.ledger.tx/2`` (every transaction posted by this version): each value is
  self-delimiting — ``N`` for an absent value, ``T<length>:<UTF-8 bytes>`` for text and
  ``I<length>:<decimal digits>`` for an integer, the length being the byte count in decimal.
  The tag, the 15 header values and 5 values per transfer follow each other with nothing
  in between. Two different transactions never have the same
  bytes, whatever characters their fields hold.
* ``ecocomp.ledger.tx/1`` (transactions posted before the upgrade): text fields joined by
  the ASCII unit separator (0x1F), the header and each transfer joined by the record
  separator (0x1E), absent fields empty. It is unambiguous only while no field is empty or
  holds a control character, which ``verify`` checks for every stored tx/1 transaction.

A ledger records the sequence number from which tx/2 applies (``ledger_encodings``).

>>> encode_v2(["a", None], [["b", 7]])
b'T19:ecocomp.ledger.tx/2T1:aNT1:bI1:7'
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
    "CURRENT_ENCODING",
    "ENCODINGS",
    "GENESIS",
    "RS",
    "TRANSFER_FIELDS",
    "TX_FIELDS",
    "TX_TAG",
    "TX_TAG_V1",
    "TX_TAG_V2",
    "US",
    "checkpoint_bytes",
    "checkpoint_hash",
    "checkpoint_message",
    "checkpoint_message_v2",
    "encode_fields",
    "encode_v2",
    "encode_value",
    "posting_hash",
    "transaction_hash",
    "transaction_message",
]

#: ``prev_hash`` of the first transaction and of the first checkpoint.
GENESIS = "0" * 64
#: First field of a tx/1 encoding (transactions posted before tx/2).
TX_TAG_V1 = "ecocomp.ledger.tx/1"
#: First value of a tx/2 encoding.
TX_TAG_V2 = "ecocomp.ledger.tx/2"
#: The tag of the encoding new transactions get.
TX_TAG = TX_TAG_V2
#: Encoding versions by number; new transactions use :data:`CURRENT_ENCODING`.
ENCODINGS: dict[int, str] = {1: TX_TAG_V1, 2: TX_TAG_V2}
CURRENT_ENCODING = 2
#: First field of every checkpoint/1 encoding (checkpoints without a catalog digest).
CHECKPOINT_TAG = "ecocomp.ledger.checkpoint/1"
#: First field of every checkpoint/2 encoding (with the catalog digest).
CHECKPOINT_TAG_V2 = "ecocomp.ledger.checkpoint/2"
#: tx/1 unit separator: between fields.
US = "\x1f"
#: tx/1 record separator: between the header and each transfer.
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
Value = str | int | None


def encode_fields(fields: Sequence[str], transfers: Iterable[Sequence[str]]) -> bytes:
    """The tx/1 bytes: tag and ``fields`` joined by US, then RS and each transfer.

    >>> encode_fields(["x"], [["y"], ["z"]])
    b'ecocomp.ledger.tx/1\\x1fx\\x1ey\\x1ez'
    """
    records = [US.join((TX_TAG_V1, *fields))]
    records.extend(US.join(t) for t in transfers)
    return RS.join(records).encode("utf-8")


def encode_value(value: Value) -> bytes:
    """One self-delimiting tx/2 value: ``N``, ``T<len>:<utf-8>`` or ``I<len>:<digits>``.

    >>> encode_value(None), encode_value(""), encode_value("水"), encode_value(-12)
    (b'N', b'T0:', b'T3:\\xe6\\xb0\\xb4', b'I3:-12')
    """
    if value is None:
        return b"N"
    if isinstance(value, str):
        data = value.encode("utf-8")
        return b"T%d:%b" % (len(data), data)
    if isinstance(value, int) and not isinstance(value, bool):
        digits = b"%d" % value
        return b"I%d:%b" % (len(digits), digits)
    raise TypeError(f"a tx/2 value is a str, an int or None, not {value!r}")


def encode_v2(header: Sequence[Value], transfers: Sequence[Sequence[Value]]) -> bytes:
    """The tx/2 bytes: the tag, the ``header`` values, then each transfer's values.

    >>> encode_v2(["x"], [["y", 1], ["z", 2]])
    b'T19:ecocomp.ledger.tx/2T1:xT1:yI1:1T1:zI1:2'
    """
    parts = [encode_value(TX_TAG_V2)]
    parts.extend(encode_value(v) for v in header)
    for transfer in transfers:
        parts.extend(encode_value(v) for v in transfer)
    return b"".join(parts)


def _header(
    prev_hash: str, seq: int, tx: NewTransaction | Transaction, posted_at: str
) -> tuple[Value, ...]:
    return (
        prev_hash,
        seq,
        tx.key,
        tx.kind,
        tx.booked_on.isoformat(),
        tx.due.isoformat() if tx.due else None,
        tx.agreement,
        tx.period,
        tx.component,
        tx.corrects,
        tx.reason,
        tx.reference,
        tx.inputs_digest,
        tx.meta_json,
        posted_at,
    )


def _transfer_values(tx: NewTransaction | Transaction) -> list[tuple[Value, ...]]:
    return [
        (t.debit_party, t.debit_purpose, t.credit_party, t.credit_purpose, t.fen)
        for t in tx.transfers
    ]


def _message(
    prev_hash: str, seq: int, tx: NewTransaction | Transaction, posted_at: str, encoding: int
) -> bytes:
    header = _header(prev_hash, seq, tx, posted_at)
    transfers = _transfer_values(tx)
    if encoding == 2:
        return encode_v2(header, transfers)
    if encoding == 1:
        return encode_fields(
            ["" if v is None else str(v) for v in header],
            [[str(v) for v in t] for t in transfers],
        )
    raise ValueError(f"unknown transaction encoding {encoding!r}; known: {sorted(ENCODINGS)}")


def posting_hash(
    prev_hash: str,
    seq: int,
    tx: NewTransaction,
    posted_at: str,
    encoding: int = CURRENT_ENCODING,
) -> str:
    """The hash ``tx`` gets when posted as ``seq`` after ``prev_hash`` at ``posted_at``."""
    return _sha256(_message(prev_hash, seq, tx, posted_at, encoding)).hexdigest()


def transaction_message(tx: Transaction) -> bytes:
    """The canonical bytes of a stored transaction (what its ``hash`` covers).

    ``tx.encoding`` says which encoding: 2 for transactions posted by this version, 1 for
    those of a ledger started before it.
    """
    return _message(tx.prev_hash, tx.seq, tx, tx.posted_at, tx.encoding)


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
