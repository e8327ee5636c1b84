"""The ledger: an append-only, double-entry, hash-chained record in one SQLite file.

>>> from datetime import date
>>> from decimal import Decimal
>>> from ecocomp.ledger import Ledger, NewTransaction, Transfer
>>> ledger = Ledger.open(":memory:")
>>> res = ledger.post(NewTransaction(
...     key="lishui/2023-01/class", kind="accrual", booked_on=date(2024, 1, 31),
...     transfers=[Transfer.between("430700", "430800", Decimal("800000.00"),
...                                 purpose="accrued")]))
>>> res.status, res.transaction.seq
('posted', 1)
>>> ledger.balances()
{'430700': Decimal('-800000.00'), '430800': Decimal('800000.00')}
>>> ledger.verify().ok
True
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import json
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Literal

from ecocomp import database, postgres
from ecocomp.errors import IdempotencyConflict, LedgerError, LedgerIntegrityError
from ecocomp.ledger import _store
from ecocomp.ledger._store import CHECKPOINTS, TRANSACTIONS, TRANSFERS
from ecocomp.ledger.checkpoints import (
    HeadCheck,
    LedgerHead,
    catalog_checked,
    catalog_digest,
    recomputed_hashes,
    signed_by,
    verify_against,
)
from ecocomp.ledger.hashing import (
    CURRENT_ENCODING,
    GENESIS,
    checkpoint_message_v2,
    posting_hash,
)
from ecocomp.ledger.merkle import ConsistencyProof, InclusionProof, MerkleTree, leaf_hash
from ecocomp.ledger.model import (
    Checkpoint,
    InvalidTransaction,
    NewTransaction,
    PostResult,
    Statement,
    StatementLine,
    Transaction,
)
from ecocomp.ledger.verify import (
    VerifyReport,
    connect_read_only,
    verify_appended,
    verify_ledger,
)

if TYPE_CHECKING:  # cryptography loads only when a key is used (ecocomp.ledger.signing)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ecocomp.ledger.signing import Signer
from ecocomp.money import from_fen
from ecocomp.outputs import replaced, spreadsheet_text

__all__ = ["Batch", "Ledger"]

_CHUNK = 500  # keys per "IN (...)" query, well under SQLite's parameter limit
_TX_SELECT = ", ".join(f"t.{c}" for c in _store.TX_COLUMNS)
_TRANSFER_SELECT = (
    "x.seq, x.debit_party, x.debit_purpose, x.credit_party, x.credit_purpose, x.amount_fen"
)
_CSV_COLUMNS = (
    "seq", "key", "kind", "booked_on", "due", "agreement", "period", "component", "corrects",
    "reason", "reference", "inputs_digest", "meta", "posted_at", "prev_hash", "hash",
    "transfer", "debit_party", "debit_purpose", "credit_party", "credit_purpose", "amount",
)
By = Literal["party", "account"]


class Ledger:
    """An append-only, double-entry, hash-chained ledger in a SQLite file.

    Open with :meth:`open`; use as a context manager to close it. Every write runs inside
    ``BEGIN IMMEDIATE`` so concurrent writers (threads or processes) queue up and can never
    fork the chain; a batch posts all of its transactions or none.

    >>> with Ledger.open("settlement.db") as ledger:  # doctest: +SKIP
    ...     ledger.verify().ok
    True
    """

    def __init__(
        self, conn: sqlite3.Connection, path: str, clock: Callable[[], datetime]
    ) -> None:
        self._conn = conn
        self._path = path
        self._clock = clock
        self._batch: Batch | None = None
        # the state the last successful verify() saw (see checkpoint)
        self._verified: tuple[Any, ...] | None = None
        # where tx/2 starts; fixed once the schema is migrated (the table is append-only)
        self._tx2_from = _store.tx2_from(conn)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 30_000,
        clock: Callable[[], datetime] | None = None,
        create: bool = True,
    ) -> Ledger:
        """Open (creating or migrating) the ledger in ``path``; ``":memory:"`` works too.

        A ``postgresql://`` URL opens the ledger in that PostgreSQL database instead
        (``ecocomp[postgres]``; docs/postgres.md), with the same tables and guarantees.

        ``busy_timeout_ms`` is how long a write waits for another writer. ``clock`` returns
        the aware datetime stamped as ``posted_at`` (default: now, UTC). With
        ``create=False`` the file must already hold a ledger: a wrong path is an error that
        leaves the file untouched (for commands that only inspect).

        >>> ledger = Ledger.open(":memory:")
        >>> ledger.schema_version
        3
        """
        name = os.fspath(path)
        the_clock = clock or (lambda: datetime.now(UTC))
        if postgres.is_url(name):  # the PostgreSQL backend (docs/postgres.md)
            from ecocomp.ledger import postgres as pg_ledger

            conn = pg_ledger.open_connection(
                name, now=lambda: _store.utc_stamp(the_clock()), create=create)
            return cls(conn, postgres.redacted(name), the_clock)
        try:
            if not create and not database.has_table(name, _store.VERSIONS):
                raise LedgerError(
                    f"{name}: no ecocomp ledger in this file; check the --db path (a ledger "
                    "is created by `ecocomp settle`)"
                )
            conn = _store.connect(name, busy_timeout_ms=busy_timeout_ms)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger: {database.describe(exc, name)}") from exc
        try:
            _store.migrate(conn, now=lambda: _store.utc_stamp(the_clock()))
        except sqlite3.Error as exc:
            conn.close()
            raise LedgerError(f"cannot open ledger: {database.describe(exc, name)}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, name, the_clock)

    @classmethod
    def open_read_only(cls, path: str | os.PathLike[str]) -> Ledger:
        """Open an existing ledger for inspection only: nothing is migrated or written.

        For ``ecocomp ledger verify`` on read-only media or an archived copy; posting
        through it fails.
        """
        conn = connect_read_only(path)
        return cls(conn, os.fspath(path), lambda: datetime.now(UTC))

    @property
    def path(self) -> str:
        """The database path as given to :meth:`open`."""
        return self._path

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying connection (autocommit; for read-only inspection)."""
        return self._conn

    @property
    def schema_version(self) -> int:
        return _store.schema_version(self._conn)

    def close(self) -> None:
        """Close the database; an open batch is rolled back."""
        if self._batch is not None and self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        self._batch = None
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        row = self._conn.execute(f"SELECT max(seq) FROM {TRANSACTIONS}").fetchone()
        return int(row[0] or 0)

    def __repr__(self) -> str:
        return f"Ledger({self._path!r})"

    def to_frame(self, **filters: Any) -> Any:
        """One row per transfer as a pandas DataFrame (amounts Decimal); ``ecocomp[pandas]``."""
        from ecocomp.notebook import ledger_frame

        return ledger_frame(self, **filters)

    def _now(self) -> str:
        return _store.utc_stamp(self._clock())

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """One atomic batch: everything posted inside commits together, or nothing does.

        An exception inside the block rolls the whole batch back. Reads through the batch
        (or the ledger) inside the block see the batch's own posts.

        >>> with ledger.batch() as b:  # doctest: +SKIP
        ...     b.post(first)
        ...     b.post(second)
        """
        if self._batch is not None:
            raise LedgerError("a batch is already open on this ledger; post through it")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerError(
                f"{self._path}: cannot start a write ({exc}); another writer held the lock "
                "longer than the busy timeout, or the file is read-only"
            ) from exc
        try:
            batch = Batch(self)
            self._batch = batch
            yield batch
        except BaseException:
            self._batch = None
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._batch = None
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Batch]:
        """The open batch, or a new one just for this call."""
        if self._batch is not None:
            yield self._batch
        else:
            with self.batch() as batch:
                yield batch

    def post(self, tx: NewTransaction) -> PostResult:
        """Append one transaction; the same key with the same content is a no-op.

        Returns ``PostResult("posted", stored)`` or ``PostResult("unchanged", existing)``;
        the same key with different content raises :class:`IdempotencyConflict` naming the
        fields that differ. Inside an open batch the post joins the batch.
        """
        with self._writing() as batch:
            return batch.post(tx)

    def post_many(self, txs: Iterable[NewTransaction]) -> list[PostResult]:
        """Append many transactions atomically (all or none), fast: one executemany.

        >>> results = ledger.post_many([tx1, tx2])  # doctest: +SKIP
        >>> [r.status for r in results]             # doctest: +SKIP
        ['posted', 'posted']
        """
        with self._writing() as batch:
            return batch.post_many(txs)

    def reverse(
        self,
        key: str,
        *,
        reason: str,
        new_key: str | None = None,
        booked_on: date | None = None,
    ) -> PostResult:
        """Post the exact opposite of transaction ``key`` (kind ``reversal``).

        ``new_key`` defaults to ``"<key>#reversal"``; ``booked_on`` to today (local date).
        A transaction can be reversed once; reversing again with the same key and content
        returns the existing reversal (``"unchanged"``).

        >>> ledger.reverse("lishui/2023-01/class", reason="wrong section")  # doctest: +SKIP
        """
        with self._writing() as batch:
            return batch.reverse(key, reason=reason, new_key=new_key, booked_on=booked_on)

    def checkpoint(self, *, signer: Signer | None = None) -> Checkpoint:
        """Publish a Merkle root over every transaction so far (verifying the ledger first).

        The checkpoint (checkpoint/2) also commits to the catalog digest (the names users
        read; see :func:`ecocomp.ledger.checkpoints.catalog_digest`) and, with ``signer``,
        carries the operator's Ed25519 signature. Returns the latest checkpoint unchanged
        when it already covers every transaction with the same catalog (and, with
        ``signer``, is signed with that key). Inside an open batch it joins the batch, so
        the checkpoint commits with the posts or not at all. Refuses to certify a ledger
        that fails :meth:`verify`: it verifies the whole ledger, or — when :meth:`verify`
        (not ``quick``) passed on exactly the ledger the open batch started from (settle
        and pay verify first) — only the transactions the batch appended, so one run
        verifies once.

        >>> cp = ledger.checkpoint()  # doctest: +SKIP
        >>> cp.seq, cp.root           # doctest: +SKIP
        (41, '5b0c…')
        """
        with self._writing() as batch:
            head = batch.head_seq
            if head == 0:
                raise LedgerError("nothing to checkpoint: the ledger has no transactions yet")
            latest = self._latest_checkpoint()
            catalog = catalog_digest(self._conn)
            if latest is not None and latest.seq == head and latest.catalog == catalog and (
                signer is None or signed_by([latest], signer.public_key)
            ):
                return latest
            if batch.start_state is not None and batch.start_state == self._verified:
                # verify() passed on exactly the ledger this batch started from, and the
                # write lock kept everyone else out since: check only what it appended
                verify_appended(self._conn, batch.start_seq + 1).raise_for_problem()
            else:
                _verify_ledger(self._conn).raise_for_problem()
            tree = self._tree(head)
            number = latest.number + 1 if latest else 1
            prev = latest.hash if latest else GENESIS
            root = tree.root().hex()
            created_at = self._now()
            message = checkpoint_message_v2(prev, number, head, root, catalog, created_at)
            digest = _sha256_hex(message)
            signature = signer.sign(message) if signer is not None else None
            kid = signer.key_id if signer is not None else None
            checkpoint = Checkpoint(number, head, root, created_at, prev, digest, catalog,
                                    signature, kid)
            self._conn.execute(
                f"INSERT INTO {CHECKPOINTS} ({', '.join(_store.CHECKPOINT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_store.CHECKPOINT_COLUMNS))})",
                (number, head, root, created_at, prev, digest, catalog, signature, kid),
            )
            return checkpoint

    def _state(self) -> tuple[Any, ...] | None:
        """What changes whenever the ledger's tables change through SQLite: the schema
        cookie (editing a row means dropping the append-only triggers first), the last
        transaction and the last checkpoint. None on PostgreSQL, which has no schema
        cookie: there every checkpoint verifies the whole ledger."""
        conn = self._conn
        if postgres.is_connection(conn):
            return None
        return (
            conn.execute("PRAGMA schema_version").fetchone()[0],
            conn.execute(f"SELECT seq, hash FROM {TRANSACTIONS} ORDER BY seq DESC "
                         "LIMIT 1").fetchone(),
            conn.execute(f"SELECT number, hash FROM {CHECKPOINTS} ORDER BY number DESC "
                         "LIMIT 1").fetchone(),
        )

    def head(self) -> LedgerHead | None:
        """The latest checkpoint as a party keeps it (see :class:`LedgerHead`), or None.

        >>> ledger.head().seq  # doctest: +SKIP
        41
        """
        with self._reading():
            latest = self._latest_checkpoint()
            if latest is None:
                return None
            row = self._conn.execute(
                f"SELECT hash FROM {TRANSACTIONS} WHERE seq = ?", (latest.seq,)
            ).fetchone()
        return LedgerHead.of(latest, row[0] if row else "")

    def unvouched(self) -> int:
        """How many transactions come after the latest checkpoint (all, if there is none)."""
        with self._reading():
            latest = self._latest_checkpoint()
            return max(len(self) - (latest.seq if latest else 0), 0)

    def verify_against(
        self,
        head: LedgerHead | None = None,
        *,
        seq: int | None = None,
        root: str | None = None,
        public_key: Ed25519PublicKey | None = None,
    ) -> HeadCheck:
        """Prove the ledger still extends a head held outside the file.

        Give the whole ``head`` (a ``--head-out`` file or a statement's receipt, read with
        :meth:`LedgerHead.from_json`) or just ``seq`` and ``root``: the trusted values come
        from the caller, never from the database. The Merkle tree is rebuilt from hashes
        recomputed from the rows. With ``public_key`` the head and the ledger's latest
        checkpoint must be signed with it, and that checkpoint must cover every
        transaction.

        >>> ledger.verify_against(held).ok  # doctest: +SKIP
        True
        """
        if head is not None:
            seq, root = head.seq, head.root
        if seq is None or root is None:
            raise LedgerError("verify_against needs a head, or both seq and root")
        with self._reading() as conn:
            if _verify_ledger(conn).ok:  # every stored hash was just recomputed from its row
                hashes = [row[0] for row in conn.execute(
                    f"SELECT hash FROM {TRANSACTIONS} ORDER BY seq")]
                problems: list[str] = []
            else:  # recompute them one by one, to tell where the ledger still agrees
                hashes, problems = recomputed_hashes(self._select("", ()))
            return verify_against(conn, hashes, self.checkpoints(), seq=seq, root=root,
                                  held=head, public_key=public_key, row_problems=problems)

    # ------------------------------------------------------------------ reading

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for multi-query reads (joins an open transaction)."""
        if self._conn.in_transaction:
            yield self._conn
            return
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    def get(self, key: str) -> Transaction | None:
        """The transaction with idempotency key ``key``, or None.

        >>> ledger.get("lishui/2023-01/class").seq  # doctest: +SKIP
        1
        """
        found = self._select("WHERE t.key = ?", (key,))
        return found[0] if found else None

    def get_seq(self, seq: int) -> Transaction | None:
        """The transaction with sequence number ``seq``, or None."""
        found = self._select("WHERE t.seq = ?", (seq,))
        return found[0] if found else None

    def transactions(
        self,
        *,
        agreement: str | None = None,
        period: str | None = None,
        component: str | None = None,
        kind: str | None = None,
        party: str | None = None,
        corrects: str | None = None,
        booked_from: date | None = None,
        booked_to: date | None = None,
    ) -> list[Transaction]:
        """Transactions matching every given filter, in ``seq`` order.

        ``party`` matches either side of any transfer; ``booked_from``/``booked_to`` bound
        ``booked_on`` inclusively.

        >>> [t.key for t in ledger.transactions(agreement="lishui", period="2023-01")]
        ... # doctest: +SKIP
        ['lishui/2023-01/class']
        """
        where, params = _filters(
            agreement=agreement, period=period, component=component, kind=kind,
            party=party, corrects=corrects, booked_from=booked_from, booked_to=booked_to,
        )
        return self._select(where, params)

    def _select(self, where: str, params: Sequence[Any]) -> list[Transaction]:
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_TX_SELECT} FROM {TRANSACTIONS} AS t {where} ORDER BY t.seq", params
            ).fetchall()
            if not rows:
                return []
            if where:
                transfer_rows = conn.execute(
                    f"SELECT {_TRANSFER_SELECT} FROM {TRANSFERS} AS x WHERE x.seq IN "
                    f"(SELECT t.seq FROM {TRANSACTIONS} AS t {where}) ORDER BY x.seq, x.idx",
                    params,
                ).fetchall()
            else:
                transfer_rows = conn.execute(
                    f"SELECT {_TRANSFER_SELECT} FROM {TRANSFERS} AS x ORDER BY x.seq, x.idx"
                ).fetchall()
        grouped: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in transfer_rows:
            grouped[row[0]].append(row[1:])
        seq = _store.TX_SEQ
        tx2_from = self._tx2_from
        return [
            _store.transaction_from_row(
                row, grouped.get(row[seq], ()), _store.encoding_of(row[seq], tx2_from)
            )
            for row in rows
        ]

    def _by_keys(self, keys: Iterable[str]) -> dict[str, Transaction]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Transaction] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for tx in self._select(f"WHERE t.key IN ({marks})", chunk):
                found[tx.key] = tx
        return found

    def _existing_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self._conn.execute(
                    f"SELECT key FROM {TRANSACTIONS} WHERE key IN ({marks})", chunk
                )
            )
        return found

    def balances(
        self,
        *,
        as_of: date | None = None,
        upto_seq: int | None = None,
        by: By = "party",
    ) -> dict[str, Decimal]:
        """Credits minus debits ("received minus paid") per party or per ``party:purpose``.

        ``as_of`` keeps transactions booked on or before that date, ``upto_seq`` those up to
        that sequence number; both reproduce exactly at any later time. The values sum to
        zero.

        >>> ledger.balances(as_of=date(2023, 12, 31))  # doctest: +SKIP
        {'430700': Decimal('-800000.00'), '430800': Decimal('800000.00')}
        """
        if by not in ("party", "account"):
            raise LedgerError(f"balances by {by!r}: use 'party' or 'account'")
        where, params = _filters(booked_to=as_of, upto_seq=upto_seq)
        sums = self._sums(where, params, by_purpose=by == "account")
        if by == "party":
            return {party: from_fen(fen) for (party, _), fen in sums.items()}
        return {f"{party}:{purpose}": from_fen(fen) for (party, purpose), fen in sums.items()}

    def _sums(
        self, where: str, params: Sequence[Any], *, by_purpose: bool
    ) -> dict[tuple[str, str], int]:
        purpose = "purpose" if by_purpose else "''"
        scope = f"WHERE m.seq IN (SELECT t.seq FROM {TRANSACTIONS} AS t {where})" if where else ""
        sql = f"""
            SELECT party, {purpose} AS p, sum(fen) FROM (
                SELECT seq, credit_party AS party, credit_purpose AS purpose, amount_fen AS fen
                FROM {TRANSFERS}
                UNION ALL
                SELECT seq, debit_party, debit_purpose, -amount_fen FROM {TRANSFERS}
            ) AS m {scope}
            GROUP BY party, p ORDER BY party, p
        """
        return {(row[0], row[1]): row[2] for row in self._conn.execute(sql, params)}

    def net(
        self,
        *,
        agreement: str | None = None,
        period: str | None = None,
        component: str | None = None,
        purpose: str | None = None,
    ) -> dict[str, Decimal]:
        """Non-zero net per party over every transaction with this metadata, corrections too.

        After any corrections this is what the parties owe each other for, say, one
        agreement and period.

        >>> ledger.net(agreement="lishui", period="2023-01")  # doctest: +SKIP
        {'430700': Decimal('-800000.00'), '430800': Decimal('800000.00')}
        """
        where, params = _filters(agreement=agreement, period=period, component=component)
        sums = self._sums(where, params, by_purpose=purpose is not None)
        totals: dict[str, int] = defaultdict(int)
        for (party, p), fen in sums.items():
            if purpose is None or p == purpose:
                totals[party] += fen
        return {party: from_fen(fen) for party, fen in sorted(totals.items()) if fen}

    def statement(
        self, party: str, start: date, end: date, *, purpose: str | None = None
    ) -> Statement:
        """``party``'s movements booked from ``start`` to ``end`` with a running balance.

        Lines are ordered by booking date, then ``seq``; the opening balance is everything
        booked before ``start``.

        >>> st = ledger.statement("430700", date(2023, 1, 1), date(2023, 12, 31))  # doctest: +SKIP
        >>> st.closing  # doctest: +SKIP
        Decimal('-800000.00')
        """
        with self._reading():
            before = self._sums(*_filters(booked_before=start), by_purpose=True)
            txs = self.transactions(party=party, booked_from=start, booked_to=end)
        opening = sum(fen for (p, pp), fen in before.items()
                      if p == party and purpose in (None, pp))
        lines = []
        balance = opening
        for tx in sorted(txs, key=lambda t: (t.booked_on, t.seq)):
            accounts: dict[str, int] = defaultdict(int)
            for t in tx.transfers:
                if t.credit_party == party and purpose in (None, t.credit_purpose):
                    accounts[t.credit_purpose] += t.fen
                if t.debit_party == party and purpose in (None, t.debit_purpose):
                    accounts[t.debit_purpose] -= t.fen
            if not accounts:
                continue  # the party moved money only in other purposes
            amount = sum(accounts.values())
            balance += amount
            lines.append(
                StatementLine(
                    seq=tx.seq, key=tx.key, kind=tx.kind, booked_on=tx.booked_on,
                    agreement=tx.agreement, period=tx.period, component=tx.component,
                    amount=from_fen(amount), balance=from_fen(balance),
                    accounts={p: from_fen(v) for p, v in sorted(accounts.items())},
                )
            )
        return Statement(party=party, start=start, end=end, opening=from_fen(opening),
                         closing=from_fen(balance), lines=tuple(lines))

    # ------------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_store.checkpoint_select(self._conn)} FROM {CHECKPOINTS} ORDER BY number"
        ).fetchall()
        return [_store.checkpoint_from_row(row) for row in rows]

    def _latest_checkpoint(self) -> Checkpoint | None:
        row = self._conn.execute(
            f"SELECT {_store.checkpoint_select(self._conn)} FROM {CHECKPOINTS} "
            "ORDER BY number DESC LIMIT 1"
        ).fetchone()
        return _store.checkpoint_from_row(row) if row else None

    def _checkpoint_at(self, seq: int | None) -> Checkpoint:
        if seq is None:
            latest = self._latest_checkpoint()
            if latest is None:
                raise LedgerError("no checkpoint yet; call checkpoint() first")
            return latest
        row = self._conn.execute(
            f"SELECT {_store.checkpoint_select(self._conn)} FROM {CHECKPOINTS} WHERE seq = ? "
            "ORDER BY number DESC LIMIT 1",
            (seq,),
        ).fetchone()
        if row is None:
            sizes = [c.seq for c in self.checkpoints()]
            raise LedgerError(
                f"no checkpoint covers exactly transactions 1..{seq}; checkpoints exist at "
                f"{sizes or 'no sequence number yet'}"
            )
        return _store.checkpoint_from_row(row)

    def _tree(self, size: int) -> MerkleTree:
        rows = self._conn.execute(
            f"SELECT hash FROM {TRANSACTIONS} WHERE seq <= ? ORDER BY seq", (size,)
        ).fetchall()
        if len(rows) != size:
            raise LedgerIntegrityError(len(rows) + 1, "transactions are missing; run verify()")
        return MerkleTree([leaf_hash(bytes.fromhex(row[0])) for row in rows])

    def _checked_tree(self, checkpoint: Checkpoint) -> MerkleTree:
        tree = self._tree(checkpoint.seq)
        if tree.root().hex() != checkpoint.root:
            raise LedgerIntegrityError(
                checkpoint.seq,
                f"checkpoint #{checkpoint.number}: Merkle root does not match; run verify()",
            )
        return tree

    def inclusion_proof(
        self, key_or_seq: str | int, checkpoint_seq: int | None = None
    ) -> InclusionProof:
        """Prove that a transaction is covered by a checkpoint (default: the latest one).

        ``checkpoint_seq`` is the last sequence number the checkpoint covers. The proof
        verifies with :func:`ecocomp.ledger.verify_inclusion` against the published root.

        >>> proof = ledger.inclusion_proof("lishui/2023-01/class")  # doctest: +SKIP
        >>> proof.verify(published_root)                          # doctest: +SKIP
        True
        """
        with self._reading():
            tx = self.get_seq(key_or_seq) if isinstance(key_or_seq, int) else self.get(key_or_seq)
            if tx is None:
                raise LedgerError(f"no transaction {key_or_seq!r} in the ledger")
            checkpoint = self._checkpoint_at(checkpoint_seq)
            if tx.seq > checkpoint.seq:
                raise LedgerError(
                    f"transaction #{tx.seq} was posted after checkpoint #{checkpoint.number} "
                    f"(which covers 1..{checkpoint.seq}); call checkpoint() to cover it"
                )
            tree = self._checked_tree(checkpoint)
        path = tree.inclusion_proof(tx.seq - 1, checkpoint.seq)
        return InclusionProof(seq=tx.seq, key=tx.key, tx_hash=tx.hash,
                              tree_size=checkpoint.seq, root=checkpoint.root,
                              path=tuple(p.hex() for p in path))

    def consistency_proof(self, old_seq: int, new_seq: int | None = None) -> ConsistencyProof:
        """Prove that the checkpoint at ``new_seq`` (default latest) extends the one at ``old_seq``.

        >>> ledger.consistency_proof(12, 41).verify(old_root, new_root)  # doctest: +SKIP
        True
        """
        with self._reading():
            old = self._checkpoint_at(old_seq)
            new = self._checkpoint_at(new_seq)
            if old.seq > new.seq:
                raise LedgerError(f"checkpoint at {old.seq} is newer than the one at {new.seq}")
            tree = self._checked_tree(new)
        return ConsistencyProof(old_size=old.seq, new_size=new.seq, old_root=old.root,
                                new_root=new.root,
                                path=tuple(p.hex() for p in tree.consistency_proof(old.seq)))

    # ------------------------------------------------------------------ integrity

    def verify(self, *, raise_on_error: bool = False, quick: bool = False) -> VerifyReport:
        """Check the schema, the file, and every hash, chain link, field and checkpoint.

        Also recomputes the catalog digest the latest checkpoint committed to (a name
        edited in the database fails). Returns a :class:`VerifyReport` naming the first bad
        sequence number and why;
        with ``raise_on_error=True`` a failure raises :class:`LedgerIntegrityError` instead.
        ``quick=True`` runs SQLite's ``quick_check`` instead of ``integrity_check``. See
        :func:`ecocomp.ledger.verify.verify_ledger`; ``ecocomp ledger verify`` uses
        :func:`~ecocomp.ledger.verify.verify_file`, which never writes to the file.

        >>> ledger.verify().ok  # doctest: +SKIP
        True
        """
        committed = not self._conn.in_transaction  # else a batch's writes are pending
        with self._reading() as conn:
            report = catalog_checked(
                conn, _verify_ledger(conn, quick=quick, committed=committed))
            # only a full check stands in for the checkpoint's (quick_check does not
            # compare indexes with their tables)
            self._verified = self._state() if report.ok and not quick else None
        if raise_on_error:
            report.raise_for_problem()
        return report

    # ------------------------------------------------------------------ export

    def export_json(self, target: str | os.PathLike[str] | IO[str]) -> int:
        """Write every transaction (with hashes) and checkpoint as JSON; returns the count.

        The format is ``{"format": "ecocomp.ledger/1", "schema_version": …,
        "transactions": [...], "checkpoints": [...]}`` with each transaction as
        :meth:`Transaction.to_json` (amounts as yuan strings).
        """
        with _opened(target) as out, self._reading():
            txs = self._select("", ())
            head = {"format": "ecocomp.ledger/1", "schema_version": self.schema_version}
            out.write(json.dumps(head)[:-1] + ', "transactions": [')
            for i, tx in enumerate(txs):
                out.write(("," if i else "") + "\n")
                out.write(json.dumps(tx.to_json(), ensure_ascii=False, sort_keys=True))
            out.write('\n], "checkpoints": [')
            for i, cp in enumerate(self.checkpoints()):
                out.write(("," if i else "") + "\n")
                out.write(json.dumps(cp.to_json(), sort_keys=True))
            out.write("\n]}\n")
        return len(txs)

    def export_csv(self, target: str | os.PathLike[str] | IO[str], *, bom: bool = False) -> int:
        """Write one CSV row per transfer (transaction columns repeated); returns the count.

        ``bom=True`` starts the file with a UTF-8 byte order mark so Excel shows Chinese text.
        The CSV is for spreadsheets: a text field that could start a formula (``=``, ``+``,
        ``-``, ``@``, tab, CR) gets a leading ``'`` (:func:`ecocomp.outputs.spreadsheet_text`);
        numbers stay numbers. :meth:`export_json` is the exact record to recompute hashes from.
        """
        with _opened(target, bom=bom) as out:
            txs = self._select("", ())
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(_CSV_COLUMNS)
            for tx in txs:
                head = [tx.seq, tx.key, tx.kind, tx.booked_on.isoformat(),
                        tx.due.isoformat() if tx.due else "", tx.agreement or "",
                        tx.period or "", tx.component or "", tx.corrects or "",
                        tx.reason or "", tx.reference or "", tx.inputs_digest or "",
                        tx.meta_json, tx.posted_at, tx.prev_hash, tx.hash]
                for i, t in enumerate(tx.transfers):
                    row = [*head, i, t.debit_party, t.debit_purpose, t.credit_party,
                           t.credit_purpose]
                    writer.writerow([spreadsheet_text(v) if isinstance(v, str) else v
                                     for v in row] + [f"{t.amount:.2f}"])
        return len(txs)


class Batch:
    """Posts inside one ``BEGIN IMMEDIATE`` transaction, opened by :meth:`Ledger.batch`.

    The chain head is read once inside the lock, so no other writer can interleave.
    Reads (``get``, ``transactions``, ``balances``, ``net``) see the batch's own posts.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._conn = ledger._conn
        row = self._conn.execute(
            f"SELECT seq, hash FROM {TRANSACTIONS} ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self.head_seq: int = row[0] if row else 0
        self.head_hash: str = row[1] if row else GENESIS
        #: where the batch started, and the ledger's state then (see Ledger.checkpoint)
        self.start_seq: int = self.head_seq
        self.start_state: tuple[Any, ...] | None = ledger._state()

    # reads delegate to the ledger: same connection, same transaction
    def get(self, key: str) -> Transaction | None:
        return self._ledger.get(key)

    def transactions(self, **filters: Any) -> list[Transaction]:
        return self._ledger.transactions(**filters)

    def balances(self, **options: Any) -> dict[str, Decimal]:
        return self._ledger.balances(**options)

    def net(self, **filters: Any) -> dict[str, Decimal]:
        return self._ledger.net(**filters)

    def post(self, tx: NewTransaction) -> PostResult:
        """Post one transaction in this batch (see :meth:`Ledger.post`)."""
        return self.post_many([tx])[0]

    def reverse(
        self,
        key: str,
        *,
        reason: str,
        new_key: str | None = None,
        booked_on: date | None = None,
    ) -> PostResult:
        """Post the reversal of ``key`` in this batch (see :meth:`Ledger.reverse`)."""
        original = self.get(key)
        if original is None:
            raise InvalidTransaction("corrects_not_found", f"no transaction {key!r} to reverse")
        day = booked_on or self._ledger._clock().astimezone().date()
        return self.post(
            NewTransaction(
                key=new_key or f"{key}#reversal",
                kind="reversal",
                transfers=[t.reversed() for t in original.transfers],
                booked_on=day,
                agreement=original.agreement,
                period=original.period,
                component=original.component,
                reason=reason,
                corrects=key,
            )
        )

    def post_many(self, txs: Iterable[NewTransaction]) -> list[PostResult]:
        """Post many transactions in this batch; all or none of them (a savepoint)."""
        with _gc_paused():
            return self._post_many(list(txs))

    def _post_many(self, todo: list[NewTransaction]) -> list[PostResult]:
        for tx in todo:
            if not isinstance(tx, NewTransaction):
                raise LedgerError(f"post expects NewTransaction, not {type(tx).__name__}")
        ledger = self._ledger
        existing = ledger._by_keys(tx.key for tx in todo)
        mentioned = {tx.corrects for tx in todo if tx.corrects is not None}
        known = ledger._existing_keys(mentioned - existing.keys())
        pending: dict[str, Transaction] = {}
        results: list[PostResult] = []
        tx_rows: list[tuple[Any, ...]] = []
        transfer_rows: list[tuple[Any, ...]] = []
        posted_at = ledger._now()
        seq, prev = self.head_seq, self.head_hash
        for tx in todo:
            old = pending.get(tx.key) or existing.get(tx.key)
            if old is not None:
                differences = tx.differences(old)
                if differences:
                    raise IdempotencyConflict(tx.key, differences)
                results.append(PostResult("unchanged", old))
                continue
            if tx.corrects is not None:
                if tx.corrects not in pending and tx.corrects not in known \
                        and tx.corrects not in existing:
                    raise InvalidTransaction(
                        "corrects_not_found",
                        f"{tx.key}: corrects {tx.corrects!r}, which is not in the ledger; "
                        "post the original first",
                    )
                if tx.kind == "reversal":
                    self._check_reversal(tx, pending)
            seq += 1
            digest = posting_hash(prev, seq, tx, posted_at, CURRENT_ENCODING)
            stored = _stored(tx, seq, posted_at, prev, digest)
            tx_rows.append(_tx_row(stored))
            transfer_rows.extend(
                (seq, i, t.debit_party, t.debit_purpose, t.credit_party, t.credit_purpose, t.fen)
                for i, t in enumerate(tx.transfers)
            )
            pending[tx.key] = stored
            results.append(PostResult("posted", stored))
            prev = digest
        if tx_rows:
            self._conn.execute("SAVEPOINT ledger_post_many")
            try:
                self._conn.executemany(_store.TX_INSERT, tx_rows)
                self._conn.executemany(_store.TRANSFER_INSERT, transfer_rows)
            except BaseException:
                self._conn.execute("ROLLBACK TO ledger_post_many")
                self._conn.execute("RELEASE ledger_post_many")
                raise
            self._conn.execute("RELEASE ledger_post_many")
            self.head_seq, self.head_hash = seq, prev
        return results

    def _check_reversal(self, tx: NewTransaction, pending: dict[str, Transaction]) -> None:
        assert tx.corrects is not None
        original = pending.get(tx.corrects) or self._ledger.get(tx.corrects)
        assert original is not None
        mirror = tuple(t.reversed() for t in original.transfers)
        if tx.transfers != mirror:
            raise InvalidTransaction(
                "reversal_must_mirror_original",
                f"{tx.key}: a reversal must have exactly the opposite transfers of "
                f"{tx.corrects}; use Ledger.reverse() or post an adjustment",
            )
        earlier = [p.key for p in pending.values()
                   if p.kind == "reversal" and p.corrects == tx.corrects]
        earlier += [t.key for t in self._ledger.transactions(corrects=tx.corrects, kind="reversal")]
        if earlier:
            raise InvalidTransaction(
                "already_reversed",
                f"{tx.corrects} was already reversed by {earlier[0]}; a transaction is "
                "reversed at most once",
            )


# --------------------------------------------------------------------------- helpers


def _stored(
    tx: NewTransaction, seq: int, posted_at: str, prev_hash: str, digest: str
) -> Transaction:
    return Transaction(
        seq=seq, key=tx.key, kind=tx.kind, transfers=tx.transfers, booked_on=tx.booked_on,
        agreement=tx.agreement, period=tx.period, component=tx.component, due=tx.due,
        reason=tx.reason, corrects=tx.corrects, reference=tx.reference,
        inputs_digest=tx.inputs_digest, meta=tx.meta, meta_json=tx.meta_json,
        posted_at=posted_at, prev_hash=prev_hash, hash=digest, encoding=CURRENT_ENCODING,
    )


def _tx_row(tx: Transaction) -> tuple[Any, ...]:
    # order of _store.TX_COLUMNS
    return (
        tx.prev_hash, tx.seq, tx.key, tx.kind, tx.booked_on.isoformat(),
        tx.due.isoformat() if tx.due else None, tx.agreement, tx.period, tx.component,
        tx.corrects, tx.reason, tx.reference, tx.inputs_digest, tx.meta_json, tx.posted_at,
        tx.hash,
    )


def _filters(
    *,
    agreement: str | None = None,
    period: str | None = None,
    component: str | None = None,
    kind: str | None = None,
    party: str | None = None,
    corrects: str | None = None,
    booked_from: date | None = None,
    booked_to: date | None = None,
    booked_before: date | None = None,
    upto_seq: int | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause over ``ledger_transactions AS t`` and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("agreement", agreement), ("period", period),
                          ("component", component), ("kind", kind), ("corrects", corrects)):
        if value is not None:
            clauses.append(f"t.{column} = ?")
            params.append(value)
    if party is not None:
        clauses.append(
            f"t.seq IN (SELECT seq FROM {TRANSFERS} WHERE debit_party = ? OR credit_party = ?)"
        )
        params += [party, party]
    if booked_from is not None:
        clauses.append("t.booked_on >= ?")
        params.append(booked_from.isoformat())
    if booked_to is not None:
        clauses.append("t.booked_on <= ?")
        params.append(booked_to.isoformat())
    if booked_before is not None:
        clauses.append("t.booked_on < ?")
        params.append(booked_before.isoformat())
    if upto_seq is not None:
        clauses.append("t.seq <= ?")
        params.append(int(upto_seq))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _verify_ledger(conn: Any, **options: Any) -> VerifyReport:
    """:func:`verify_ledger` of the connection's backend (SQLite or PostgreSQL)."""
    if postgres.is_connection(conn):
        from ecocomp.ledger import postgres as pg_ledger

        return pg_ledger.verify_ledger(conn, **options)
    return verify_ledger(conn, **options)


def _sha256_hex(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cycle collection while a bulk post builds many objects that hold no cycles.

    Collections triggered by the allocations would only walk the growing heap again and
    again; the objects are freed by reference counting as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _opened(target: str | os.PathLike[str] | IO[str], *, bom: bool = False) -> Iterator[IO[str]]:
    if isinstance(target, str | os.PathLike):  # all or nothing: an earlier export survives
        with replaced(target, encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
            yield out
    else:
        if bom:
            target.write("\ufeff")
        yield target

