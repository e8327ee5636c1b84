"""Checkpoints held outside the database: the checkpoint/2 encoding, heads, and checks.

A *head* is what a party keeps of a checkpoint (seq, chain hash, Merkle root, catalog
digest, checkpoint hash and, when signed, the signature and the key's fingerprint). With a
head held outside the file, :func:`verify_against` proves the ledger still *extends* what
the party saw: the Merkle tree is rebuilt from transaction hashes recomputed from the rows
(never from a stored hash or root) and an RFC 6962 consistency proof from the head's size
to today's size is checked against the root the caller holds. Truncation, rollback to an
older copy and a history rewritten with a fully recomputed chain all fail that check.

checkpoint/2 encoding (:func:`ecocomp.ledger.hashing.checkpoint_message_v2`; checkpoint/1
lacks ``catalog`` and still verifies)::

    "ecocomp.ledger.checkpoint/2" US prev_hash US number US seq US root US catalog US created_at

``catalog`` is :func:`catalog_digest`: SHA-256 of the canonical JSON of the tables holding
the names users read (parties, sections, agreements) and the zero amounts statements show,
so editing a name or a zero amount is caught. A signed
checkpoint carries the operator's Ed25519 signature of exactly these bytes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ecocomp.errors import LedgerError
from ecocomp.ledger import _store
from ecocomp.ledger.hashing import checkpoint_bytes, transaction_hash
from ecocomp.ledger.merkle import MerkleTree, leaf_hash, verify_consistency
from ecocomp.ledger.model import Checkpoint, Transaction

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ecocomp.ledger.verify import VerifyReport

__all__ = [
    "CATALOG_TABLES",
    "HEAD_FORMAT",
    "HeadCheck",
    "LedgerHead",
    "catalog_checked",
    "catalog_digest",
    "catalog_matches",
    "recomputed_hashes",
    "signed_by",
    "verify_against",
    "verify_head_signature",
]

#: ``format`` of a head (receipt) file.
HEAD_FORMAT = "ecocomp.ledger.head/1"
#: The tables whose every row a checkpoint/2 commits to, in digest order: the names, and
#: the zero amounts and in-kind lines statements show (the ledger holds only money).
CATALOG_TABLES: tuple[str, ...] = ("catalog_parties", "catalog_sections", "catalog_agreements",
                                   "catalog_zero_amounts")
CATALOG_FORMAT = "ecocomp.catalog/2"
#: What checkpoints made before the zero amounts were covered committed to (still accepted).
_CATALOG_V1 = ("ecocomp.catalog/1", CATALOG_TABLES[:3])

_sha256 = hashlib.sha256


def _json_value(value: object) -> object:
    return {"blob": value.hex()} if isinstance(value, bytes) else value


def catalog_digest(conn: sqlite3.Connection) -> str:
    """SHA-256 (hex) of the catalog tables: every column of every row, canonical JSON.

    The JSON is ``{"format": "ecocomp.catalog/2", "tables": [{"name", "columns", "rows"}]}``
    with the tables of :data:`CATALOG_TABLES` in that order, columns in declaration order,
    rows ordered by every column in turn, compact separators and UTF-8 text. A missing
    table counts as empty, so a ledger without a project has a digest too.
    """
    return _catalog_digest(conn, CATALOG_FORMAT, CATALOG_TABLES)


def catalog_matches(conn: sqlite3.Connection, committed: str) -> bool:
    """Whether the catalog is the one a checkpoint committed to: its catalog/2 digest, or
    for a checkpoint made before catalog/2, the catalog/1 digest (the names only)."""
    return committed in (catalog_digest(conn), _catalog_digest(conn, *_CATALOG_V1))


def _catalog_digest(conn: sqlite3.Connection, form: str, names: tuple[str, ...]) -> str:
    # The text is {"format": form, "tables": [{"columns", "name", "rows"}, ...]} as one
    # json.dumps (keys sorted) writes it, hashed a row at a time: a national year's catalog
    # holds thousands of zero-amount bases, tens of MB as one text.
    digest = _sha256()

    def put(*texts: str) -> None:
        for text in texts:
            digest.update(text.encode("utf-8"))

    put('{"format":', _dumps(form), ',"tables":[')
    for i, name in enumerate(names):
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
        put("," if i else "", '{"columns":', _dumps(columns), ',"name":', _dumps(name),
            ',"rows":[')
        if columns:
            # catalog/1: by the first column (the key of each of its tables); catalog/2 by
            # every column, as catalog_zero_amounts' key is its first four
            order = (f'"{columns[0]}"' if form == _CATALOG_V1[0]
                     else ", ".join(f'"{c}"' for c in columns))
            for j, row in enumerate(conn.execute(f"SELECT * FROM {name} ORDER BY {order}")):
                put("," if j else "", _dumps([_json_value(v) for v in row]))
        put("]}")
    put("]}")
    return digest.hexdigest()


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def catalog_checked(conn: sqlite3.Connection, report: VerifyReport) -> VerifyReport:
    """``report``, failed when the catalog differs from what the latest checkpoint committed.

    Only the latest checkpoint counts: a settlement run rewrites the catalog and commits to
    it in the same transaction, so earlier checkpoints hold earlier catalogs.
    """
    if not report.ok:
        return report
    row = conn.execute(
        f"SELECT {_store.checkpoint_select(conn)} FROM {_store.CHECKPOINTS} "
        "ORDER BY number DESC LIMIT 1"
    ).fetchone()
    row = (row[0], row[1], row[6]) if row else None  # number, seq, catalog
    if row is None or row[2] is None or catalog_matches(conn, row[2]):
        return report
    return attrs.evolve(
        report, ok=False, first_bad_seq=row[1], first_bad_checkpoint=row[0], head=None,
        reason=f"checkpoint #{row[0]}: the catalog (party, section or agreement names and "
               "details in catalog_parties, catalog_sections, catalog_agreements, or the zero "
               "amounts and in-kind lines statements show, in catalog_zero_amounts) was "
               "changed after the checkpoint committed to it; restore the file from a "
               "backup (to rename a party, change the project's files and settle again)",
    )


@attrs.frozen
class LedgerHead:
    """A checkpoint as a party keeps it: enough to check the ledger later, offline.

    ``chain`` is the hash of transaction ``seq`` (the hash chain's head at the checkpoint).
    Written to a file with :meth:`to_json` (``--head-out``), and carried by statements as
    a receipt.
    """

    number: int
    seq: int
    chain: str
    root: str
    catalog: str | None
    created_at: str
    prev_hash: str
    hash: str
    signature: str | None = None
    key_id: str | None = None

    @classmethod
    def of(cls, checkpoint: Checkpoint, chain: str) -> LedgerHead:
        return cls(number=checkpoint.number, seq=checkpoint.seq, chain=chain,
                   root=checkpoint.root, catalog=checkpoint.catalog,
                   created_at=checkpoint.created_at, prev_hash=checkpoint.prev_hash,
                   hash=checkpoint.hash, signature=checkpoint.signature,
                   key_id=checkpoint.key_id)

    def checkpoint(self) -> Checkpoint:
        """The checkpoint this head keeps (without its chain hash)."""
        return Checkpoint(self.number, self.seq, self.root, self.created_at, self.prev_hash,
                          self.hash, self.catalog, self.signature, self.key_id)

    def to_json(self) -> dict[str, Any]:
        return {"format": HEAD_FORMAT, **attrs.asdict(self)}

    @classmethod
    def from_json(cls, record: Mapping[str, Any], *, where: str = "head") -> LedgerHead:
        """A head from its JSON (a ``--head-out`` file or a statement's ``receipt``)."""
        if "receipt" in record and record["receipt"] is None:
            raise LedgerError(f"{where}: the statement carries no receipt (its ledger had no "
                              "checkpoint yet); keep the head `ecocomp ledger head` shows")
        if isinstance(record.get("receipt"), Mapping):  # a whole statement: use its receipt
            record = record["receipt"]
        if isinstance(record.get("head"), Mapping):  # `settle --json` output
            record = record["head"]
        try:
            head = cls(number=int(record["number"]), seq=int(record["seq"]),
                       chain=str(record["chain"]), root=str(record["root"]),
                       catalog=None if record.get("catalog") is None else str(record["catalog"]),
                       created_at=str(record["created_at"]),
                       prev_hash=str(record["prev_hash"]), hash=str(record["hash"]),
                       signature=record.get("signature"), key_id=record.get("key_id"))
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"{where}: not a ledger head ({exc!r} missing or malformed); give "
                              "a file written by --head-out or a statement's receipt") from exc
        if head.seq < 1 or head.number < 1:
            raise LedgerError(f"{where}: seq and number must be 1 or more")
        return head

    def describe(self, label: str = "head") -> str:
        """One line for the terminal."""
        signed = f", signed by key {self.key_id}" if self.signature else ", unsigned"
        return (f"{label}: #{self.seq} chain {self.chain} root {self.root} "
                f"(checkpoint #{self.number}{signed})")


def verify_head_signature(head: LedgerHead, public_key: Ed25519PublicKey) -> str | None:
    """Why ``head`` is not vouched for by ``public_key``, or None when it is.

    Checks the fingerprint, the checkpoint hash against the head's fields and the
    signature over the checkpoint bytes. Needs no database.
    """
    from ecocomp.ledger import signing  # cryptography only when a key is used

    expected = signing.key_id(public_key)
    if not head.signature:
        return "the head carries no signature"
    if head.key_id != expected:
        return (f"the head is signed by key {head.key_id}, not by the given public key "
                f"{expected}")
    message = checkpoint_bytes(head.checkpoint())
    if _sha256(message).hexdigest() != head.hash:
        return "the head's hash does not match its fields (altered seq, root or catalog)"
    if not signing.verify_signature(public_key, message, head.signature):
        return "the signature does not match the head's fields and the given public key"
    return None


def signed_by(
    checkpoints: Sequence[Checkpoint], public_key: Ed25519PublicKey
) -> list[Checkpoint]:
    """The checkpoints validly signed with ``public_key`` (fingerprint, hash and signature)."""
    from ecocomp.ledger import signing  # cryptography only when a key is used

    kid = signing.key_id(public_key)
    return [c for c in checkpoints if c.key_id == kid and c.signature
            and _sha256(checkpoint_bytes(c)).hexdigest() == c.hash
            and signing.verify_signature(public_key, checkpoint_bytes(c), c.signature)]


@attrs.frozen
class HeadCheck:
    """The outcome of :func:`verify_against`.

    ``ok`` when the ledger extends the held head (and, with a public key, its latest
    checkpoint is validly signed and covers every transaction). ``unvouched`` counts the
    transactions after the latest checkpoint that vouches for them (with a public key: the
    latest validly signed one); ``problems`` say in words what failed.
    """

    ok: bool
    held_seq: int
    count: int
    root: str
    unvouched: int
    latest_checkpoint: int | None
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v)
                            if isinstance(v, tuple) else v)


def recomputed_hashes(transactions: Sequence[Transaction]) -> tuple[list[str], list[str]]:
    """Each transaction's hash recomputed from its fields; problems where a stored one differs.

    Stops at a gap in ``seq``: the hashes after it could not be placed in the tree.
    """
    hashes: list[str] = []
    problems: list[str] = []
    for expected, tx in enumerate(transactions, start=1):
        if tx.seq != expected:
            problems.append(f"transaction #{expected} is missing (the next one is #{tx.seq})")
            break
        digest = transaction_hash(tx)
        if digest != tx.hash and not problems:
            problems.append(f"transaction #{tx.seq}: the stored hash does not match its "
                            "contents")
        hashes.append(digest)
    return hashes, problems


def verify_against(
    conn: sqlite3.Connection,
    tx_hashes: Sequence[str],
    checkpoints: Sequence[Checkpoint],
    *,
    seq: int,
    root: str,
    held: LedgerHead | None = None,
    public_key: Ed25519PublicKey | None = None,
    row_problems: Sequence[str] = (),
) -> HeadCheck:
    """Check a ledger against a head held outside (``seq`` and ``root`` trusted).

    ``tx_hashes`` are the transaction hashes *recomputed from the rows* in ``seq`` order
    (:func:`recomputed_hashes`, or stored hashes that a full verify of the same snapshot
    just recomputed), ``row_problems`` what that recomputation found. Normally called as
    :meth:`ecocomp.ledger.Ledger.verify_against`, which reads everything in one snapshot.
    ``held`` (a full head) adds checks that the ledger still holds that very checkpoint;
    ``public_key`` requires the head and the ledger's latest checkpoint to be signed with
    it and that checkpoint to cover every transaction.
    """
    problems: list[str] = []
    if public_key is not None and held is not None:
        why = verify_head_signature(held, public_key)
        if why:
            problems.append(f"held head: {why}")
    leaves = [leaf_hash(bytes.fromhex(h)) for h in tx_hashes]
    problems += row_problems
    count = len(leaves)
    tree = MerkleTree(leaves)
    current_root = tree.root().hex()
    if seq > count:
        problems.append(f"the ledger has {count} transactions but the held head vouches for "
                        f"{seq}: transactions were removed (truncated, or an older copy "
                        "restored)")
    else:
        proof = tree.consistency_proof(seq, count)
        if not verify_consistency(seq, count, root, current_root, proof):
            problems.append(f"the ledger does not extend the held head: transactions 1..{seq} "
                            "are not the ones it vouches for (history rewritten, or another "
                            "ledger)")
    if held is not None:
        mine = next((c for c in checkpoints if c.number == held.number), None)
        if mine is None:
            problems.append(f"checkpoint #{held.number} of the held head is no longer in the "
                            "ledger (checkpoints deleted)")
        elif mine.hash != held.hash or mine.seq != held.seq:
            problems.append(f"checkpoint #{held.number} in the ledger differs from the held "
                            "head (checkpoints rewritten)")
        if 1 <= seq <= count and tx_hashes[seq - 1] != held.chain and not row_problems:
            problems.append(f"transaction #{seq}'s hash differs from the held chain hash")
    if seq and not any(c.seq >= seq for c in checkpoints):
        problems.append(f"no checkpoint in the ledger covers the held head's #{seq} "
                        "(checkpoints deleted, or an older copy restored)")
    vouching = [c for c in checkpoints if c.seq <= count]
    if public_key is not None:
        from ecocomp.ledger import signing  # cryptography only when a key is used

        kid = signing.key_id(public_key)
        vouching = signed_by(vouching, public_key)
        forged = [c.number for c in checkpoints if c.key_id == kid
                  and c.number not in {v.number for v in vouching}]
        if forged:
            problems.append(f"checkpoint #{forged[0]} claims the given key but its signature "
                            "does not verify (forged or altered)")
    latest = vouching[-1] if vouching else None
    if latest is not None and tree.root(latest.seq).hex() != latest.root:
        problems.append(f"checkpoint #{latest.number}: its root does not match transactions "
                        f"1..{latest.seq} recomputed from the rows")
    vouched_upto = max(latest.seq if latest else 0, seq)
    unvouched = max(count - vouched_upto, 0)
    covered = latest.seq if latest else 0
    if public_key is not None and covered < count:
        problems.append(f"transactions #{covered + 1}..#{count} are not covered by a checkpoint "
                        "signed with the given key (appended behind the operator's back, or "
                        "not yet signed)")
    elif public_key is None and checkpoints and unvouched:
        problems.append(f"transactions #{count - unvouched + 1}..#{count} come after the latest "
                        "checkpoint and nothing vouches for them")
    if public_key is not None and checkpoints and not signed_by(checkpoints[-1:], public_key):
        problems.append(f"the latest checkpoint #{checkpoints[-1].number} is not signed with "
                        "the given key (made without the operator's key)")
    if latest is not None and latest.catalog is not None and (
        latest is checkpoints[-1] or public_key is not None
    ):
        if not catalog_matches(conn, latest.catalog):
            problems.append(f"the catalog (party, section or agreement names, zero amounts) "
                            f"differs from what checkpoint #{latest.number} committed to")
    return HeadCheck(ok=not problems, held_seq=seq, count=count, root=current_root,
                     unvouched=unvouched,
                     latest_checkpoint=latest.number if latest else None,
                     problems=tuple(problems))
