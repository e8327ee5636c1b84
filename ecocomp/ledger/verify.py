"""Full integrity check of a ledger database: trust nothing in the file, re-derive everything.

:func:`verify_ledger` checks, in this order:

1. **the schema**: every ledger table, index and trigger exactly as this library creates it
   (compared with a fresh in-memory ledger of the same schema version, never with anything
   stored), no foreign object on or about a ledger table, the migration rows 1..N, and the
   sequence number from which encoding tx/2 applies;
2. **the file**: ``PRAGMA integrity_check`` (``quick_check`` with ``quick=True``) of every
   ledger table and its indexes — b-trees, index contents, STRICT column types;
3. **the shape of every row**, in SQL: column types (``typeof``), NULLs, no empty text,
   amounts integer fen in 1..1万亿 yuan;
4. for each transaction in ``seq`` order, in one streamed ``SELECT``: ``seq`` runs 1, 2, 3…
   without gaps; each ``prev_hash`` is the previous ``hash`` (64 zeros first); the stored
   ``hash`` equals SHA-256 of the canonical encoding (tx/1 or tx/2) re-built from the
   columns; every field obeys the model's rules (kind, dates, ``posted_at`` stamp, party
   codes, purposes, inputs digest, no control characters, valid UTF-8, ``meta`` canonical
   JSON without floats, corrections with ``corrects`` and ``reason``); transfers numbered
   0, 1, 2… between two different accounts; ``key`` new; ``corrects`` names an earlier key;
5. no transfer row lacks its transaction; every checkpoint numbered 1, 2, 3…, hash-chained,
   and its Merkle root equal to the RFC 6962 root over the transaction hashes it covers.

The report names the first bad sequence number and why, and lists every problem found.

The loop reads text as bytes and builds the encodings inline — it is the hot path (a few
microseconds per transaction); values that repeat (dates, stamps, parties, purposes) are
checked once and remembered. :mod:`ecocomp.ledger.hashing` is the readable definition of the
encodings and tests keep the two identical. Where the install has it, the compiled fast path
(``_scanc.c``, :func:`_scan_compiled`) runs the same checks first and can only prove a range
sound; any problem is found and named by the Python loop. On a database file it reads the
rows itself (:class:`_FileScan`), on its own read-only connection through the SQLite library
Python's ``sqlite3`` uses, and what it proves must end at the hash that the checked snapshot
holds. :func:`verify_file` opens a database file
read-only, never writes to it (nor creates ``-wal``/``-shm`` files next to it when it can
avoid it) and can split the work over several processes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import re
import sqlite3
from binascii import hexlify
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from datetime import date, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

from ecocomp.errors import LedgerError, LedgerIntegrityError
from ecocomp.ledger import _store, compiled, model
from ecocomp.ledger.hashing import (
    GENESIS,
    RS,
    TRANSFER_FIELDS,
    TX_FIELDS,
    TX_TAG_V1,
    TX_TAG_V2,
    US,
    checkpoint_bytes,
)
from ecocomp.ledger.merkle import MerkleTree
from ecocomp.ledger.model import CORRECTION_KINDS, KINDS, Checkpoint
from ecocomp.money import MAX_YUAN

__all__ = ["VerifyReport", "verify_appended", "verify_file", "verify_ledger"]

# The loop below unpacks columns by position; this pins the order it was written for.
if TX_FIELDS != (
    "prev_hash", "seq", "key", "kind", "booked_on", "due", "agreement", "period",
    "component", "corrects", "reason", "reference", "inputs_digest", "meta", "posted_at",
) or TRANSFER_FIELDS != (
    "debit_party", "debit_purpose", "credit_party", "credit_purpose", "amount_fen",
):  # pragma: no cover - a guard for whoever changes the encoding
    raise RuntimeError("verify._scan no longer matches hashing.TX_FIELDS; update both")

_TX = _store.TRANSACTIONS
_XF = _store.TRANSFERS
_SCAN = f"""
SELECT t.seq, t.hash, t.prev_hash, t.key, t.kind, t.booked_on, t.due, t.agreement, t.period,
       t.component, t.corrects, t.reason, t.reference, t.inputs_digest, t.meta, t.posted_at,
       x.idx, x.debit_party, x.debit_purpose, x.credit_party, x.credit_purpose, x.amount_fen
FROM {_TX} AS t LEFT JOIN {_XF} AS x ON x.seq = t.seq
WHERE t.seq BETWEEN ? AND ?
ORDER BY t.seq, x.idx
"""
_MAX_FEN = int(MAX_YUAN * 100)
# worker processes for --jobs: forked where the platform can (fast), else spawned
_MP_CONTEXT = multiprocessing.get_context(
    "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")

# -- shape rules, checked in SQL over whole tables: (column, SQL condition, what it must be)
_TEXT, _OPTIONAL = "text", "optional"
_TX_SHAPE: tuple[tuple[str, str], ...] = (
    ("seq", "integer"), ("prev_hash", _TEXT), ("key", _TEXT), ("kind", _TEXT),
    ("booked_on", _TEXT), ("due", _OPTIONAL), ("agreement", _OPTIONAL), ("period", _OPTIONAL),
    ("component", _OPTIONAL), ("corrects", _OPTIONAL), ("reason", _OPTIONAL),
    ("reference", _OPTIONAL), ("inputs_digest", _OPTIONAL), ("meta", _TEXT),
    ("posted_at", _TEXT), ("hash", _TEXT),
)
_TRANSFER_SHAPE: tuple[tuple[str, str], ...] = (
    ("seq", "integer"), ("idx", "integer"), ("debit_party", _TEXT), ("debit_purpose", _TEXT),
    ("credit_party", _TEXT), ("credit_purpose", _TEXT), ("amount_fen", "integer"),
)
_CHECKPOINT_SHAPE: tuple[tuple[str, str], ...] = (
    ("number", "integer"), ("seq", "integer"), ("root", _TEXT), ("created_at", _TEXT),
    ("prev_hash", _TEXT), ("hash", _TEXT),
)


def _condition(column: str, rule: str) -> str:
    """The SQL condition a well-formed value of ``column`` meets (never NULL itself)."""
    if rule == "integer":
        return f"typeof({column}) = 'integer'"
    if rule == _TEXT:
        return f"(typeof({column}) = 'text' AND {column} <> '')"
    return f"({column} IS NULL OR (typeof({column}) = 'text' AND {column} <> ''))"


def _shape_sql(table: str, shape: tuple[tuple[str, str], ...], extra: str, order: str) -> str:
    good = " AND ".join([*(_condition(c, r) for c, r in shape), extra])
    return f"SELECT rowid, * FROM {table} WHERE NOT ({good}) ORDER BY {order} LIMIT 1"


_TX_SHAPE_SQL = _shape_sql(_TX, _TX_SHAPE, "seq >= 1", "seq")
# WITHOUT ROWID: select the key columns instead of rowid
_TRANSFER_SHAPE_SQL = _shape_sql(
    _XF, _TRANSFER_SHAPE, f"idx >= 0 AND amount_fen BETWEEN 1 AND {_MAX_FEN}", "seq, idx"
).replace("SELECT rowid, *", "SELECT seq, *")
_CHECKPOINT_SHAPE_SQL = _shape_sql(_store.CHECKPOINTS, _CHECKPOINT_SHAPE, "1", "number")

# -- field syntax (bytes, as read in the scan)
_DAY = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_STAMP = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_HEX64 = re.compile(rb"[0-9a-f]{64}")
# the model's own rules, as bytes patterns (they are ASCII-only)
_DIGEST = re.compile(model._DIGEST.pattern.encode())
_PARTY = re.compile(model._PARTY.pattern.encode())
_PARTY_WHAT = "a 6-digit GB/T 2260 code or a party's own code such as '430529-baiyun-cun'"
_PURPOSE = re.compile(model._PURPOSE.pattern.encode())
_CONTROL = re.compile(rb"[\x00-\x1f]")
_CONTROLS = bytes(range(0x20))
# the scan checks inputs_digest without the regular expression (3× faster): its length,
# then nothing left once the hex digits are deleted; this pins the rule it was written for
_HEX_DIGITS = b"0123456789abcdef"
if model._DIGEST.pattern != "[0-9a-f]{16,128}":  # pragma: no cover - a guard
    raise RuntimeError("verify._scan's inputs_digest check no longer matches model._DIGEST")
_MAX_SAFE_INT = 2**53 - 1

_sha256 = hashlib.sha256
_US = US.encode()
_RS = RS.encode()
_TAG1 = TX_TAG_V1.encode()
_TAG2 = b"T%d:%b" % (len(TX_TAG_V2), TX_TAG_V2.encode())
_NULL = b"N"
_EMPTY = b""
_KINDS = frozenset(k.encode() for k in KINDS)
# tx/2 length prefixes of text (T) and integer (I) values, by length: the scan looks them
# up instead of formatting them (an integer has at most 20 digits and a sign; the digest,
# 16–128 characters once checked, always finds its prefix here)
_T_PREFIX = tuple(b"T%d:" % n for n in range(4096))
_I_PREFIX = tuple(b"I%d:" % n for n in range(22))


def _field(value: bytes) -> bytes:
    """A present text field's tx/2 encoding (the same as :mod:`hashing`'s)."""
    return b"T%d:%b" % (len(value), value)


_CORRECTIONS = frozenset(k.encode() for k in CORRECTION_KINDS)


@attrs.frozen
class VerifyReport:
    """The outcome of :func:`verify_ledger`.

    ``count`` is the number of transactions in the ledger, ``checkpoints`` the number of
    checkpoints. When ``ok`` is false, ``reason`` says what is wrong first (a schema or
    file problem comes before any transaction's) and ``first_bad_seq`` names the first bad
    transaction, if one is bad (for a checkpoint problem: the last transaction the
    checkpoint covers, and ``first_bad_checkpoint`` its number). ``problems`` lists every
    problem found, the first first. ``schema_version`` is the ledger's schema version,
    ``tx2_from_seq`` the first transaction hashed with encoding tx/2 (None before the
    upgrade), ``quick`` whether only ``PRAGMA quick_check`` ran. ``scan`` says which scan
    checked the transactions: ``"compiled"`` when the compiled fast path proved them sound,
    ``"Python"`` when the Python scan ran (always where it found a problem, for a tx/1
    part, and without the compiled part).
    """

    ok: bool
    count: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str | None = None
    first_bad_checkpoint: int | None = None
    head: str | None = None
    problems: tuple[str, ...] = ()
    schema_version: int | None = None
    tx2_from_seq: int | None = None
    quick: bool = False
    scan: str = "Python"

    def raise_for_problem(self) -> None:
        """Raise :class:`LedgerIntegrityError` (``seq``, ``reason``) unless ``ok``.

        When the first problem is the schema's or the file's, ``seq`` is None and the
        message lists the first problems.
        """
        if self.ok:
            return
        reason = self.reason or "integrity problem"
        if self.first_bad_seq is None or (
                self.problems and not self.problems[0].startswith("transaction #")):
            raise LedgerIntegrityError(None, "; ".join(self.problems[:3]) or reason)
        raise LedgerIntegrityError(self.first_bad_seq, reason)


@attrs.frozen
class _Problem:
    seq: int | None
    reason: str
    checkpoint: int | None = None
    rank: int = 2  # 0 schema, 1 file integrity, 2 transactions and checkpoints

    @property
    def order(self) -> tuple[int, int, bool]:
        return (self.rank, self.seq or 0, self.checkpoint is not None)

    def line(self) -> str:
        if self.seq is None or self.rank < 2:
            return self.reason
        return f"transaction #{self.seq}: {self.reason}"


@attrs.frozen
class _Scanned:
    """What the scan of a range of transactions found."""

    problem: _Problem | None
    digests: list[bytes]
    hashes: list[bytes]
    keys: set[bytes]
    leaves: list[bytes] | None = None  # RFC 6962 leaf hashes of the digests, if computed
    hashes_checked: bool = False  # each digest already compared with its stored hash
    compiled: bool = False  # the compiled fast path proved the range sound


@attrs.frozen
class _FileScan:
    """A database file the compiled scan may read on its own connection, and the stored
    hash (bytes, None if absent) at a sequence number in the snapshot being checked.

    That connection reads in its own snapshot, which can only differ from the checked one
    by what was appended since or by a concurrent rewrite. Rows past the range are not read;
    and a range it proves sound counts only if it ends at the stored hash the checked
    snapshot holds: that hash commits to every transaction of the range and before it.
    Otherwise the rows are read on the checked connection.
    """

    uri: str
    stored_hash: Callable[[int], bytes | None]


# --------------------------------------------------------------------------- entry points


def verify_ledger(
    conn: sqlite3.Connection, *, quick: bool = False, committed: bool | None = None
) -> VerifyReport:
    """Check the schema, the file and every transaction, transfer and checkpoint.

    Runs in one read transaction (a consistent snapshot) unless one is already open, and
    never writes. ``quick=True`` runs ``PRAGMA quick_check`` instead of ``integrity_check``
    (it does not compare indexes with their tables).

    ``committed`` says that ``conn`` holds no uncommitted writes (None: true when no
    transaction is open). Then, for a ledger file of :data:`BESIDE_FROM` transactions or
    more, SQLite's file check runs on a second read-only connection in a thread beside the
    scan, as ``ecocomp ledger verify`` does (it runs in C without the GIL, so on a second
    core it costs no time); inside a write transaction it runs on ``conn`` itself, which
    is the only one that sees the uncommitted pages.
    """
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        name = _beside_file(conn) if (own if committed is None else committed) else None
        try:
            mode = _read_only_mode(name)[0] if name is not None else None
        except LedgerError:  # not a plain database file after all
            mode = None
        if name is None or mode is None:
            return _verify(conn, quick=quick, scan=_scan_here)
        file, file_mode = name, mode
        scan = functools.partial(_scan_here, file=file, mode=file_mode)
        with ThreadPoolExecutor(max_workers=1) as pool:
            def integrity(existing: set[str]) -> Callable[[], list[_Problem]]:
                future = pool.submit(_integrity_of_file, file, file_mode, existing, quick)

                def wait() -> list[_Problem]:
                    try:
                        return future.result()
                    except (sqlite3.Error, LedgerError, OSError):  # cannot open it twice
                        return _check_integrity(conn, existing, quick)
                return wait

            return _verify(conn, quick=quick, scan=scan, integrity=integrity)
    finally:
        if own:
            conn.execute("COMMIT")


#: From this many transactions on, :func:`verify_ledger` checks the file in a thread.
BESIDE_FROM = 5_000


def verify_appended(conn: sqlite3.Connection, first: int) -> VerifyReport:
    """Check transactions ``first``.. (those a batch just appended) as :func:`verify_ledger`
    checks each one, for a caller that verified transactions 1..``first - 1`` in full
    inside the same write transaction (nothing else could write in between).

    Each link from the stored hash of ``first - 1``, every field and transfer, the hash
    recomputed from the row; keys new (in the range and before it); every ``corrects``
    naming an earlier key; no transfer row beyond the last transaction. The schema, the
    file check and the checkpoints are the full verification's.
    """
    count = conn.execute(f"SELECT count(*) FROM {_TX}").fetchone()[0]
    before = conn.execute(f"SELECT hash FROM {_TX} WHERE seq = ?", (first - 1,)).fetchone()
    prev = before[0].encode() if before else GENESIS.encode()
    tx2_from = _store.tx2_from(conn)
    unresolved: list[tuple[int, bytes]] = []
    factory = conn.text_factory
    conn.text_factory = bytes
    try:
        scanned = _scan(lambda: conn.execute(_SCAN, (first, count)), first, count, prev,
                        tx2_from, set(), unresolved)
    finally:
        conn.text_factory = factory
    problems = [scanned.problem] if scanned.problem else []
    if not scanned.hashes_checked:
        problems += _check_hashes(scanned.digests, scanned.hashes, first)
    earlier = f"SELECT 1 FROM {_TX} WHERE key = ? AND seq < ?"
    if len(scanned.keys) != len(scanned.hashes) or any(
            conn.execute(earlier, (key.decode(), first)).fetchone() for key in scanned.keys):
        problems += _duplicate_keys(conn)
    problems += [_Problem(seq, _not_earlier(corrects)) for seq, corrects in unresolved
                 if not conn.execute(earlier, (corrects.decode(), seq)).fetchone()]
    problems += _orphans(conn, count)
    head = scanned.hashes[-1].decode() if scanned.hashes and not problems else None
    return _report(problems, count, 0, head, None, tx2_from, False, _scan_name(scanned))


def _beside_file(conn: sqlite3.Connection) -> str | None:
    """The ledger's database file if the file check is worth a second connection."""
    try:
        files = {row[1]: row[2] for row in conn.execute("PRAGMA database_list")}
        if not files.get("main"):
            return None  # in memory or a temporary database: no second connection
        top = conn.execute(f"SELECT max(seq) FROM {_TX}").fetchone()[0]
    except sqlite3.Error:
        return None  # no transactions table: the schema check says so
    return files["main"] if type(top) is int and top >= BESIDE_FROM else None


def verify_file(
    path: str | os.PathLike[str], *, quick: bool = False, jobs: int = 1
) -> VerifyReport:
    """Verify the ledger in the database file ``path`` without writing anything.

    The file is opened read-only (``mode=ro``). A WAL database with no ``-wal`` file next
    to it (a copy, an archive, read-only media) holds every committed transaction in the
    file itself and is opened ``immutable=1``, so no ``-wal``/``-shm`` file is created; if
    the file changed meanwhile (a writer started), the check is run again read-only.
    ``jobs`` > 1 splits the transactions over that many processes.
    """
    name = os.fspath(path)
    if jobs < 1:
        raise LedgerError(f"--jobs {jobs}: use 1 or more processes")
    for _attempt in range(2):
        mode, before = _read_only_mode(name)
        conn = _connect(name, mode)
        try:
            _require_a_ledger(conn, name)
            report = _verify_open(conn, name, mode, quick=quick, jobs=jobs)
        finally:
            conn.close()
        if mode != "immutable" or _file_state(name) == before:
            return report
    return _verify_read_only(name, quick=quick, jobs=jobs)


def _require_a_ledger(conn: sqlite3.Connection, name: str) -> None:
    try:
        tables = _existing_tables(conn)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot verify the ledger: {_describe(exc, name)}") from exc
    if not tables & {_store.VERSIONS, _TX, _XF}:
        raise LedgerError(f"{name}: no ecocomp ledger in this file; check the --db path (a "
                          "ledger is created by `ecocomp settle`)")


def _verify_read_only(name: str, *, quick: bool, jobs: int) -> VerifyReport:
    conn = _connect(name, "ro")
    try:
        return _verify_open(conn, name, "ro", quick=quick, jobs=jobs)
    finally:
        conn.close()


def _verify_open(
    conn: sqlite3.Connection, name: str, mode: str, *, quick: bool, jobs: int
) -> VerifyReport:
    try:
        conn.execute("BEGIN")
        try:
            # SQLite's file check runs beside the scan in a thread (it runs in C without
            # the GIL). With --jobs N, this process scans the first range and N - 1 worker
            # processes the others; the workers are all started (forked) before the
            # thread exists, so forking them is safe.
            workers: Executor | None = None
            scan: Scan = functools.partial(_scan_here, file=name, mode=mode)
            if jobs > 1:
                workers = ProcessPoolExecutor(max_workers=jobs - 1, mp_context=_MP_CONTEXT)
                workers.submit(int).result()  # a fork context starts every worker now
                scan = functools.partial(_scan_parallel, name, mode, jobs, workers)
            with ThreadPoolExecutor(max_workers=1) as checker, workers or nullcontext():
                def integrity(existing: set[str]) -> Callable[[], list[_Problem]]:
                    return checker.submit(_integrity_of_file, name, mode, existing,
                                          quick).result

                return _verify(conn, quick=quick, scan=scan, integrity=integrity)
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot verify the ledger: {_describe(exc, name)}") from exc


#: Page cache of the connection that runs SQLite's file check (KiB; a cap, allocated only
#: as the file needs it): with the default 2 MB, integrity_check reads the same index pages
#: from the OS again and again (100,000 transactions: 0.40 s of CPU against 0.24 s).
INTEGRITY_CACHE_KIB = 65_536
#: The file check's connection maps the file (its first this many bytes) instead of
#: copying pages from the OS, again and again once its page cache is full (``mmap_size``;
#: 100,000 transactions: 0.01 s of system time against 0.05 s; 1,000,000: 2.3 s of CPU
#: against 4.6 s). The mapped pages it reads count in the process's resident memory:
#: they are the OS's cache of the file, shared and reclaimable, not memory ecocomp holds.
MAP_BYTES = 1 << 30


def _integrity_of_file(name: str, mode: str, existing: set[str], quick: bool) -> list[_Problem]:
    conn = _connect(name, mode)
    try:
        conn.execute(f"PRAGMA cache_size = -{INTEGRITY_CACHE_KIB}")
        conn.execute(f"PRAGMA mmap_size = {MAP_BYTES}")
        conn.execute("BEGIN")
        return _check_integrity(conn, existing, quick)
    finally:
        conn.close()


def _describe(exc: sqlite3.Error, name: str) -> str:
    from ecocomp import database

    if "unable to open" in str(exc) and Path(name + "-wal").exists():
        return (f"{name}: its -wal file holds changes not yet in the database file and the "
                "folder cannot be written; copy the database and its -wal file to a "
                "writable folder and verify the copy")
    return database.describe(exc, name)


# --------------------------------------------------------------------------- opening


def _file_state(name: str) -> tuple[int, int, bool]:
    st = os.stat(name)
    return st.st_size, st.st_mtime_ns, os.path.exists(name + "-wal")


def _read_only_mode(name: str) -> tuple[str, tuple[int, int, bool]]:
    """``"immutable"`` for a WAL database with no -wal file, else ``"ro"``; and its state."""
    if not os.path.isfile(name):
        raise LedgerError(f"{name}: no such file; check the --db path")
    state = _file_state(name)
    with open(name, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise LedgerError(f"{name}: not an SQLite database; check the --db path")
    # bytes 18 and 19: file format read/write versions, 2 = WAL
    wal_mode = header[18] == 2 or header[19] == 2
    return ("immutable" if wal_mode and not state[2] else "ro"), state


def connect_read_only(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection that never writes to ``path`` (nor creates -wal/-shm beside a copy)."""
    name = os.fspath(path)
    mode, _ = _read_only_mode(name)
    conn = _connect(name, mode)
    _require_a_ledger(conn, name)
    return conn


def _connect(name: str, mode: str) -> sqlite3.Connection:
    return sqlite3.connect(_uri(name, mode), uri=True, isolation_level=None)


def _uri(name: str, mode: str) -> str:
    """The read-only URI of database file ``name`` opened as ``mode`` (``"ro"``/``"immutable"``)."""
    flag = "immutable=1" if mode == "immutable" else "mode=ro"
    return f"file:{quote(os.path.abspath(name))}?{flag}"


# --------------------------------------------------------------------------- the checks


Scan = Callable[[sqlite3.Connection, int, int | None], _Scanned]


#: Starts the file check of the given tables; the returned callable waits for its problems.
Integrity = Callable[[set[str]], Callable[[], list[_Problem]]]


def _verify(
    conn: sqlite3.Connection, *, quick: bool, scan: Scan, integrity: Integrity | None = None
) -> VerifyReport:
    problems, version, tx2_from = _check_schema(conn)
    existing = _existing_tables(conn)
    if _TX not in existing or _XF not in existing:
        return _report(problems, 0, 0, None, version, tx2_from, quick)
    if integrity is None:
        found = _check_integrity(conn, existing, quick)
        wait: Callable[[], list[_Problem]] = lambda: found  # noqa: E731
    else:
        wait = integrity(existing)
    count = conn.execute(f"SELECT count(*) FROM {_TX}").fetchone()[0]
    factory = conn.text_factory
    conn.text_factory = bytes
    try:
        scanned = scan(conn, count, tx2_from)
    finally:
        conn.text_factory = factory
    problems += wait()
    if problems:
        # Tables exactly as created (STRICT, NOT NULL, CHECK) that pass the file check hold
        # only the declared types, no NULL where one is refused and only positive amounts:
        # SQLite's check proves it. Otherwise every row's types are checked here.
        problems += _check_shapes(conn, existing)
    digests, hashes = scanned.digests, scanned.hashes
    if scanned.problem:
        problems.append(scanned.problem)
    if not scanned.hashes_checked:
        problems += _check_hashes(digests, hashes)
    if len(scanned.keys) != len(hashes):
        problems += _duplicate_keys(conn)
    problems += _orphans(conn, count)
    good = len(digests)
    first_tx_problem = min((p.seq for p in problems if p.rank == 2 and p.seq), default=None)
    if first_tx_problem is not None:
        good = min(good, first_tx_problem - 1)
    rows: list[Any] = []
    if _store.CHECKPOINTS in existing:
        rows = conn.execute(
            f"SELECT {_store.checkpoint_select(conn)} FROM {_store.CHECKPOINTS} "
            "ORDER BY number"
        ).fetchall()
        leaves = scanned.leaves[:good] if scanned.leaves is not None else None
        problems += _check_checkpoints(rows, digests[:good], count, leaves)
    head = hashes[-1].decode() if hashes and not problems else None
    return _report(problems, count, len(rows), head, version, tx2_from, quick,
                   _scan_name(scanned))


def _report(
    problems: list[_Problem], count: int, checkpoints: int, head: str | None,
    version: int | None, tx2_from: int | None, quick: bool, scan: str = "Python",
) -> VerifyReport:
    if not problems:
        return VerifyReport(ok=True, count=count, checkpoints=checkpoints, head=head,
                            schema_version=version, tx2_from_seq=tx2_from, quick=quick,
                            scan=scan)
    ordered = sorted(problems, key=lambda p: p.order)
    first = ordered[0]
    bad = [p for p in ordered if p.rank == 2 and p.seq is not None]
    return VerifyReport(
        ok=False, count=count, checkpoints=checkpoints,
        first_bad_seq=bad[0].seq if bad else None, reason=first.reason,
        first_bad_checkpoint=bad[0].checkpoint if bad else None,
        problems=tuple(dict.fromkeys(p.line() for p in ordered)),
        schema_version=version, tx2_from_seq=tx2_from, quick=quick, scan=scan,
    )


# -- 1. schema


@functools.lru_cache(maxsize=8)
def _expected_schema(version: int) -> dict[str, tuple[str, str, str | None]]:
    """``name: (type, tbl_name, sql)`` of every object a ledger of ``version`` has."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        _store.migrate(conn, migrations=_store.MIGRATIONS[:version],
                       now=lambda: "2000-01-01T00:00:00.000000Z")
        return {name: (kind, table, sql) for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master")}
    finally:
        conn.close()


def _ledger_objects(conn: sqlite3.Connection) -> dict[str, tuple[str, str, str | None]]:
    """Every object in the file that is, belongs to or mentions a ledger table."""
    rows = conn.execute(
        r"""SELECT type, name, tbl_name, sql FROM sqlite_master
        WHERE name LIKE 'ledger\_%' ESCAPE '\' OR tbl_name LIKE 'ledger\_%' ESCAPE '\'
           OR sql LIKE '%ledger\_%' ESCAPE '\'"""
    ).fetchall()
    return {name: (kind, table, sql) for kind, name, table, sql in rows}


def _existing_tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}


def _check_schema(conn: sqlite3.Connection) -> tuple[list[_Problem], int | None, int | None]:
    """Compare the ledger's objects with the ones this library creates for its version."""
    def problem(text: str) -> _Problem:
        return _Problem(None, f"schema: {text}", rank=0)

    found = _ledger_objects(conn)
    if _store.VERSIONS not in found:
        return [problem(f"no {_store.VERSIONS} table: this file holds no ecocomp ledger "
                        "(or it was removed)")], None, None
    rows = conn.execute(f"SELECT version, description FROM {_store.VERSIONS} "
                        "ORDER BY version").fetchall()
    versions = [r[0] for r in rows]
    version = max((v for v in versions if type(v) is int), default=0)
    if version > _store.SCHEMA_VERSION:
        raise LedgerError(
            f"ledger schema version {version} is newer than this ecocomp supports "
            f"({_store.SCHEMA_VERSION}); upgrade ecocomp to verify this database")
    problems: list[_Problem] = []
    published = [(m.version, m.description) for m in _store.MIGRATIONS[:version]]
    if version < 1 or [tuple(r) for r in rows] != published:
        problems.append(problem(
            f"{_store.VERSIONS} holds {[tuple(r) for r in rows]}, not the published "
            f"migrations {published}"))
    expected = _expected_schema(max(version, 1))
    for name, (kind, table, sql) in sorted(expected.items()):
        if name not in found:
            problems.append(problem(f"{kind} {name} is missing (dropped?); the ledger is "
                                    "no longer protected as ecocomp made it"))
        elif found[name] != (kind, table, sql):
            problems.append(problem(
                f"{kind} {name} is not as ecocomp creates it (found {found[name][0]} "
                f"{found[name][2]!r}); a changed table or trigger can hide edits"))
    for name, (kind, table, _sql) in sorted(found.items()):
        if name not in expected:
            problems.append(problem(f"unexpected {kind} {name} on {table}; ecocomp creates "
                                    "no such object"))
    tx2_from: int | None = None
    if version >= 3 and _store.ENCODINGS in found:
        encodings = conn.execute(
            f"SELECT encoding, from_seq FROM {_store.ENCODINGS} ORDER BY encoding").fetchall()
        if (len(encodings) != 1 or encodings[0][0] != 2 or type(encodings[0][1]) is not int
                or encodings[0][1] < 1):
            problems.append(problem(f"{_store.ENCODINGS} holds {encodings}, not one row "
                                    "(2, first seq hashed with tx/2)"))
        else:
            tx2_from = encodings[0][1]
    return problems, version, tx2_from


# -- 2. the file


def _check_integrity(conn: sqlite3.Connection, existing: set[str], quick: bool) -> list[_Problem]:
    pragma = "quick_check" if quick else "integrity_check"
    problems = []
    for table in _store.TABLES:
        if table not in existing:
            continue
        lines = [row[0] for row in conn.execute(f"PRAGMA {pragma}({table})")]
        if lines != ["ok"]:
            problems.append(_Problem(None, f"PRAGMA {pragma}({table}): "
                                           f"{'; '.join(map(str, lines[:5]))}", rank=1))
    return problems


# -- 3. shapes


def _check_shapes(conn: sqlite3.Connection, existing: set[str]) -> list[_Problem]:
    """Types, NULLs, empty text and amount ranges of every row, checked by SQLite."""
    problems = []
    row = conn.execute(_TX_SHAPE_SQL).fetchone()
    if row is not None:
        problems.append(_shape_problem(row[1], row[0], _TX_SHAPE, row[1:], ""))
    row = conn.execute(_TRANSFER_SHAPE_SQL).fetchone()
    if row is not None:
        problems.append(_shape_problem(row[1], None, _TRANSFER_SHAPE, row[1:],
                                       f"transfer {row[2]!r}: "))
    if _store.CHECKPOINTS in existing:
        row = conn.execute(_CHECKPOINT_SHAPE_SQL).fetchone()
        if row is not None:
            values = row[1:]
            at = values[1] if type(values[1]) is int and values[1] >= 1 else None
            problem = _shape_problem(at, None, _CHECKPOINT_SHAPE, values,
                                     f"checkpoint #{values[0]!r}: ")
            problems.append(attrs.evolve(
                problem, checkpoint=values[0] if type(values[0]) is int else 0))
    return problems


def _shape_problem(
    seq: object, rowid: int | None, shape: tuple[tuple[str, str], ...],
    values: tuple[Any, ...], prefix: str,
) -> _Problem:
    at = seq if type(seq) is int and seq >= 1 else None
    rowid_note = f" (rowid {rowid})" if rowid else ""
    where = "" if at is not None else f"row with seq {seq!r}{rowid_note}: "
    for (column, rule), value in zip(shape, values, strict=False):
        kind = _sql_type(value)
        if rule == "integer" and kind != "integer":
            return _Problem(at, f"{where}{prefix}{column} is stored as {kind} {value!r}, not "
                                "an integer (the table was rebuilt without STRICT?)")
        if rule in (_TEXT, _OPTIONAL) and value is None and rule == _TEXT:
            return _Problem(at, f"{where}{prefix}{column} is NULL; it is required")
        if rule in (_TEXT, _OPTIONAL) and value is not None and kind != "text":
            return _Problem(at, f"{where}{prefix}{column} is stored as {kind} {value!r}, not "
                                "text (the table was rebuilt without STRICT?)")
        if rule in (_TEXT, _OPTIONAL) and value == "":
            return _Problem(at, f"{where}{prefix}{column} is an empty text; the ledger "
                                "stores an absent value as NULL and never an empty one")
    if at is None:
        return _Problem(None, f"{where}{prefix}seq must be 1 or more")
    if prefix.startswith("transfer"):
        idx, fen = values[1], values[6]
        if idx < 0:
            return _Problem(at, f"{prefix}idx {idx} is negative")
        return _Problem(at, f"{prefix}amount_fen {fen} is not between 1 and {_MAX_FEN:,} fen")
    return _Problem(at, f"{where}{prefix}malformed row {values!r}")  # pragma: no cover


def _sql_type(value: object) -> str:
    if value is None:
        return "null"
    if type(value) is int:
        return "integer"
    if type(value) is float:
        return "real"
    if type(value) is str:
        return "text"
    return "blob"


# -- 4. the scan


class _Seen:
    """Values already validated, one dict per rule (a valid date is no valid purpose).

    Each maps a valid value to its tx/2 field encoding, so the scan looks a value up once
    to know that it is valid and how it is encoded. An absent (NULL) value is only in
    ``texts`` (the optional texts); an absent due date is handled by the scan.
    """

    def __init__(self) -> None:
        self.kinds: dict[bytes, bytes] = {k: _field(k) for k in _KINDS}
        self.days: dict[bytes, bytes] = {}
        self.stamps: dict[bytes, bytes] = {}
        self.texts: dict[bytes | None, bytes] = {None: _NULL}  # no control characters
        self.parties: dict[bytes, bytes] = {}
        self.purposes: dict[bytes, bytes] = {}


def _scan_here(
    conn: sqlite3.Connection, count: int, tx2_from: int | None, *, file: str | None = None,
    mode: str | None = None,
) -> _Scanned:
    """Scan the whole ledger on ``conn``; given the database ``file`` and its opening
    ``mode``, the compiled scan may read the rows itself (:class:`_FileScan`)."""
    last = max(count, 1) if count else 0
    return _scan(lambda: conn.execute(_SCAN, (1, last)), 1, last, GENESIS.encode(), tx2_from,
                 set(), file=_file_scan(conn, file, mode))


def _file_scan(conn: sqlite3.Connection, file: str | None, mode: str | None) -> _FileScan | None:
    """:class:`_FileScan` of ``file`` opened as ``mode``, with ``conn``'s stored hashes."""
    if file is None or mode is None:
        return None

    def stored_hash(seq: int) -> bytes | None:
        row = conn.execute(f"SELECT hash FROM {_TX} WHERE seq = ?", (seq,)).fetchone()
        value = row[0] if row else None
        return value.encode() if isinstance(value, str) else value

    return _FileScan(_uri(file, mode), stored_hash)


Rows = Callable[[], Iterable[tuple[Any, ...]]]


def _scan(
    rows: Rows,
    first: int,
    last: int,
    prev: bytes,
    tx2_from: int | None,
    keys: set[bytes],
    unresolved: list[tuple[int, bytes]] | None = None,
    *,
    file: _FileScan | None = None,
) -> _Scanned:
    """Scan transactions ``first..last``: the compiled fast path if it can prove them
    sound, else (or when a check fails) :func:`_scan_rows`, which names the problem.

    ``rows()`` runs :data:`_SCAN` for the range (in the same snapshot each time: it is
    called again when the fast path gives up). With ``file``, the fast path first reads
    the rows itself. Every path returns the same digests, hashes and keys for a sound range
    (property tests compare them); the fast path only covers tx/2 transactions and never
    reports a problem itself.
    """
    if compiled.scanc is not None and tx2_from is not None and tx2_from <= first:
        if file is not None and compiled.reads_files():
            fast = _scan_compiled(None, first, last, prev, keys, unresolved, file=file)
            if fast is not None:
                return fast
        fast = _scan_compiled(rows(), first, last, prev, keys, unresolved)
        if fast is not None:
            return fast
    return _scan_rows(rows(), first, last, prev, tx2_from, keys, unresolved)


def _scan_compiled(
    rows: Iterable[tuple[Any, ...]] | None, first: int, last: int, prev: bytes,
    keys: set[bytes], unresolved: list[tuple[int, bytes]] | None, *,
    file: _FileScan | None = None,
) -> _Scanned | None:
    """``_scanc.scan`` over the rows (``_scanc.scan_file`` over those it reads from
    ``file``, which must end at the hash ``file.stored_hash`` gives): a sound range's
    :class:`_Scanned` (with its Merkle leaves), or None when it gave up. It asks
    :func:`_diagnose` and
    :func:`_diagnose_transfer` about any value it has not seen valid yet, as the Python
    loop does, and compares each digest with the stored hash. ``keys`` (the keys before
    ``first``) is not changed: the result holds them and the range's; ``unresolved``
    changes only if it succeeds."""
    scanc = compiled.scanc
    assert scanc is not None
    seen = _Seen()
    meta_ok = _canonical_meta_check()
    mine = set(keys)
    later: list[tuple[int, bytes]] | None = [] if unresolved is not None else None
    digests: list[bytes] = []
    hashes: list[bytes] = []
    leaves: list[bytes] = []

    def diagnose(row: tuple[Any, ...], expected: int, prev_hash: bytes) -> _Problem | None:
        return _diagnose(row, expected, prev_hash, mine, seen, meta_ok, later)

    def diagnose_transfer(row: tuple[Any, ...], expected: int) -> _Problem | None:
        return _diagnose_transfer(row, expected, seen)

    rules = (first, last, prev, seen.kinds, seen.days, seen.stamps, seen.texts, seen.parties,
             seen.purposes, mine, _CORRECTIONS, meta_ok, diagnose, diagnose_transfer, _MAX_FEN,
             unresolved is not None, digests, hashes, leaves)
    try:
        if file is not None:
            sound = scanc.scan_file(file.uri, _SCAN, *rules)
        else:
            sound = scanc.scan(rows, *rules)
    except Exception:  # anything unexpected in the rows: the Python scan decides
        return None
    if not sound:
        return None
    if file is not None and (not hashes or file.stored_hash(last) != hashes[-1]):
        return None  # not the snapshot being checked: read its rows instead
    if unresolved is not None and later:
        unresolved.extend(later)
    return _Scanned(None, digests, hashes, mine, leaves, hashes_checked=True, compiled=True)


def _scan_rows(
    rows: Iterable[tuple[Any, ...]],
    first: int,
    last: int,
    prev: bytes,
    tx2_from: int | None,
    keys: set[bytes],
    unresolved: list[tuple[int, bytes]] | None = None,
) -> _Scanned:
    """The hot loop over transactions ``first..last``: links, fields and encodings.

    ``rows`` are those of :data:`_SCAN` for the range (texts as bytes), in its order: from
    SQLite, or from any other backend that returns the same columns (PostgreSQL).
    ``prev`` is the stored hash of transaction ``first - 1`` and ``keys`` the keys before
    ``first`` (genesis and empty for the whole ledger); with ``unresolved`` (a worker's
    range), a ``corrects`` naming no key of the range is listed there for the join instead
    of being a problem. For a transaction's first transfer
    row it checks everything at once and builds the header and first transfer; further
    transfer rows append to the message. Values that repeat (dates, stamps, texts such as
    agreement names, parties, purposes) are validated once and kept in :class:`_Seen`; every
    stored field is checked on its own, so neither encoding relies on the message as a
    whole. Only when a check fails does :func:`_diagnose` work out which one.
    """
    sha = _sha256
    us_join = _US.join
    rs = _RS
    tag1, tag2, null, e = _TAG1, _TAG2, _NULL, _EMPTY
    corrections = _CORRECTIONS
    controls = _CONTROLS  # translate deletes them: a key unchanged holds none
    max_fen = _MAX_FEN
    hex_digits = _HEX_DIGITS
    join = _EMPTY.join
    t_prefix, i_prefix, n_prefix = _T_PREFIX, _I_PREFIX, len(_T_PREFIX)
    meta_ok = _canonical_meta_check()
    last_meta = b"{}"
    v2_from = tx2_from if tx2_from is not None else last + 1
    seen = _Seen()
    kinds, days, stamps, texts = seen.kinds, seen.days, seen.stamps, seen.texts
    parties, purposes = seen.parties, seen.purposes
    digests: list[bytes] = []
    hashes: list[bytes] = []
    add_digest = digests.append
    add_hash = hashes.append
    add_key = keys.add
    expected = first
    current = 0
    nidx = 0
    v2 = False
    message: bytes | None = None
    problem: _Problem | None = None
    row: tuple[Any, ...] | None = None
    try:
        for row in rows:
            (seq, hash_, prev_hash, key, kind, booked_on, due, agreement, period, component,
             corrects, reason, reference, digest, meta, posted_at,
             idx, debit_party, debit_purpose, credit_party, credit_purpose, fen) = row
            if seq != current:
                if message is not None:
                    message.decode()  # valid UTF-8, no surrogates, in every text field
                    add_digest(sha(message).digest())
                    message = None
                # each repeating value's tx/2 encoding, None if not (yet) known valid
                e_kind = kinds.get(kind)
                e_booked = days.get(booked_on)
                e_due = null if due is None else days.get(due)
                e_agreement = texts.get(agreement)
                e_period = texts.get(period)
                e_component = texts.get(component)
                e_reason = texts.get(reason)
                e_reference = texts.get(reference)
                e_posted = stamps.get(posted_at)
                e_dparty = parties.get(debit_party)
                e_dpurpose = purposes.get(debit_purpose)
                e_cparty = parties.get(credit_party)
                e_cpurpose = purposes.get(credit_purpose)
                if (seq != expected or prev_hash != prev or idx != 0 or e_kind is None
                        or (corrects is not None and corrects not in keys)
                        or e_booked is None or e_due is None or e_posted is None
                        or not key or key.translate(None, controls) != key
                        or not 0 < fen <= max_fen
                        or e_agreement is None or e_period is None or e_component is None
                        or e_reason is None or e_reference is None
                        or e_dparty is None or e_cparty is None
                        or e_dpurpose is None or e_cpurpose is None
                        or (debit_party == credit_party and debit_purpose == credit_purpose)
                        or (kind in corrections and (corrects is None or reason is None))
                        or (digest is not None and (not 16 <= len(digest) <= 128
                                                    or digest.translate(None, hex_digits)))
                        or (meta != last_meta and not meta_ok(meta))):
                    problem = _diagnose(row, expected, prev, keys, seen, meta_ok, unresolved)
                    if problem is not None:
                        break
                    # every value is valid now, and known
                    e_kind, e_booked = kinds[kind], days[booked_on]
                    e_due = null if due is None else days[due]
                    e_agreement, e_period = texts[agreement], texts[period]
                    e_component, e_reason = texts[component], texts[reason]
                    e_reference, e_posted = texts[reference], stamps[posted_at]
                    e_dparty, e_dpurpose = parties[debit_party], purposes[debit_purpose]
                    e_cparty, e_cpurpose = parties[credit_party], purposes[credit_purpose]
                last_meta = meta
                add_key(key)
                add_hash(hash_)
                if seq >= v2_from:
                    v2 = True
                    seqb, fenb = b"%d" % seq, b"%d" % fen
                    # joined from pieces: the length prefixes come from tables
                    n_key, n_meta = len(key), len(meta)
                    message = join((
                        tag2, t_prefix[len(prev_hash)] if len(prev_hash) < n_prefix
                        else b"T%d:" % len(prev_hash), prev_hash, i_prefix[len(seqb)], seqb,
                        t_prefix[n_key] if n_key < n_prefix else b"T%d:" % n_key, key,
                        e_kind, e_booked, e_due, e_agreement, e_period, e_component,
                        null if corrects is None else b"T%d:%b" % (len(corrects), corrects),
                        e_reason, e_reference,
                        null if digest is None else t_prefix[len(digest)] + digest,
                        t_prefix[n_meta] if n_meta < n_prefix else b"T%d:" % n_meta, meta,
                        e_posted, e_dparty, e_dpurpose, e_cparty, e_cpurpose,
                        i_prefix[len(fenb)], fenb))
                else:
                    v2 = False
                    message = us_join((
                        tag1, prev_hash, b"%d" % seq, key, kind, booked_on, due or e,
                        agreement or e, period or e, component or e, corrects or e,
                        reason or e, reference or e, digest or e, meta,
                        posted_at + rs + debit_party, debit_purpose, credit_party,
                        credit_purpose, b"%d" % fen,
                    ))
                current = seq
                expected = seq + 1
                prev = hash_
                nidx = 1
            else:
                e_dparty = parties.get(debit_party)
                e_dpurpose = purposes.get(debit_purpose)
                e_cparty = parties.get(credit_party)
                e_cpurpose = purposes.get(credit_purpose)
                if (idx != nidx or not 0 < fen <= max_fen
                        or e_dparty is None or e_cparty is None
                        or e_dpurpose is None or e_cpurpose is None
                        or (debit_party == credit_party and debit_purpose == credit_purpose)):
                    problem = _diagnose_transfer(row, nidx, seen)
                    if problem is not None:
                        break
                    e_dparty, e_dpurpose = parties[debit_party], purposes[debit_purpose]
                    e_cparty, e_cpurpose = parties[credit_party], purposes[credit_purpose]
                if v2:
                    fenb = b"%d" % fen
                    message = join((message, e_dparty, e_dpurpose, e_cparty, e_cpurpose,
                                    i_prefix[len(fenb)], fenb))
                else:
                    message += rs + us_join(
                        (debit_party, debit_purpose, credit_party, credit_purpose,
                         b"%d" % fen)
                    )
                nidx += 1
        else:
            if message is not None:
                message.decode()
                add_digest(sha(message).digest())
            if problem is None and expected <= last:
                problem = _Problem(expected, f"transaction #{expected} is missing")
    except UnicodeDecodeError as exc:
        problem = _Problem(current, f"a text field is not valid UTF-8 ({exc.reason} at byte "
                                    f"{exc.start} of the encoding); the library writes only "
                                    "valid UTF-8")
    except (TypeError, ValueError, AttributeError, OverflowError, LookupError) as exc:
        # a column holding the wrong type (only possible if the STRICT tables were replaced)
        at = row[0] if row is not None and type(row[0]) is int else expected
        problem = _Problem(at, f"malformed row: {exc}")
    return _Scanned(problem, digests, hashes, keys)


def _canonical_meta_check() -> Callable[[bytes], bool]:
    """A fast test: is this stored ``meta`` the canonical JSON of a dict without floats?

    Canonical is what :func:`ecocomp.ledger.model.canonical_meta` writes. The full test
    parses the text and compares it with the parsed value encoded again. Most texts take
    a shorter way with the same answer (a property test compares the two): when the text
    holds no backslash, no tab, CR or LF and no space next to a ``{ } [ ] , :`` or at
    either end, its strings need no escape and nothing separates its tokens, so a parse
    that refuses floats, ``-0``, integers beyond ±(2**53-1), and objects whose keys are not
    strictly increasing (unsorted or repeated) proves it canonical without encoding it.
    """
    full = _full_meta_check()
    decoder = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float,
                               parse_int=_canonical_int, object_pairs_hook=_sorted_object)
    scan = json.scanner.make_scanner(decoder)
    maybe_spaced = _SPACED.search

    def ok(meta: bytes) -> bool:
        # (find, not "in": "in" first tries the needle as an integer, and fails slowly)
        find = meta.find
        if (find(b"\\") >= 0 or find(b"\n") >= 0 or find(b"\r") >= 0 or find(b"\t") >= 0
                or (find(b" ") >= 0 and maybe_spaced(meta) is not None)):
            return full(meta)
        try:
            text = meta.decode()
            value, end = scan(text, 0)
        except (ValueError, StopIteration, RecursionError):
            return False
        return end == len(text) and type(value) is dict

    return ok


# the fast meta check leaves a text with a space next to a separator or at either end
# to the full check
_SPACED = re.compile(rb"\A |[\[\]{},:] | [\[\]{},:]| \Z")


def _sorted_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are strictly increasing, as canonical JSON has them."""
    value = dict(pairs)
    if len(value) != len(pairs) or list(value) != sorted(value):
        raise ValueError("keys not sorted or repeated")
    return value


def _canonical_int(text: str) -> int:
    """:func:`_safe_int`, refusing ``-0`` too (canonical JSON writes 0)."""
    value = int(text)
    if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT or text == "-0":
        raise ValueError(f"integer {text} is beyond ±(2**53-1) or not canonical")
    return value


def _full_meta_check() -> Callable[[bytes], bool]:
    """Parse ``meta``, encode the value again canonically and compare the two texts."""
    decoder = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float,
                               parse_int=_safe_int)
    scan = json.scanner.make_scanner(decoder)
    try:
        from _json import make_encoder  # the C encoder json.dumps itself uses
    except ImportError:  # pragma: no cover - pure-Python json
        encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode
    else:
        c_encode = make_encoder(None, _no_default, encode_basestring, None, ":", ",", True,
                                False, False)

        def encode(value: object) -> str:
            return "".join(c_encode(value, 0))

    def ok(meta: bytes) -> bool:
        try:
            text = meta.decode()
            value, end = scan(text, 0)
        except (ValueError, StopIteration, RecursionError):
            return False
        return end == len(text) and type(value) is dict and encode(value) == text

    return ok


def _no_float(text: str) -> Any:
    raise ValueError(f"{text} is not allowed in meta")


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > _MAX_SAFE_INT:
        raise ValueError(f"integer {text} is beyond ±(2**53-1)")
    return value


def _no_default(value: object) -> Any:  # pragma: no cover - parsed JSON is always encodable
    raise TypeError(f"{value!r} is not JSON")


def _not_earlier(corrects: bytes) -> str:
    return (f"corrects {_text(corrects)}, which is not an earlier transaction (a correction "
            "must name a key posted before it)")


def _text(value: bytes) -> str:
    return repr(value.decode("utf-8", "backslashreplace"))


def _valid_day(value: bytes) -> bool:
    if not _DAY.fullmatch(value):
        return False
    try:
        date.fromisoformat(value.decode())
    except ValueError:
        return False
    return True


def _valid_stamp(value: bytes) -> bool:
    if not _STAMP.fullmatch(value):
        return False
    try:
        datetime.strptime(value.decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def _diagnose(
    row: tuple[Any, ...], expected: int, prev: bytes, keys: set[bytes], seen: _Seen,
    meta_ok: Callable[[bytes], bool], unresolved: list[tuple[int, bytes]] | None = None,
) -> _Problem | None:
    """Which check failed on a transaction's first row, in words; None if none did.

    Values met for the first time are validated here and remembered in ``seen``.
    """
    (seq, _hash, prev_hash, key, kind, booked_on, due, agreement, period, component,
     corrects, reason, reference, digest, meta, posted_at, idx, *_transfer) = row
    if seq != expected:
        if seq < expected:  # pragma: no cover - seq is the primary key
            return _Problem(seq, "sequence number repeated")
        return _Problem(expected, f"transaction #{expected} is missing "
                                  f"(the next stored one is #{seq})")
    if prev_hash != prev:
        return _Problem(seq, "prev_hash does not match the hash of the previous transaction "
                             "(chain broken)")
    for name, value in (("key", key), ("corrects", corrects), ("agreement", agreement),
                        ("period", period), ("component", component), ("reason", reason),
                        ("reference", reference), ("inputs_digest", digest)):
        if value == b"":
            return _Problem(seq, f"{name} is an empty text; the ledger stores an absent value "
                                 "as NULL and never an empty one")
    if _CONTROL.search(key):
        return _Problem(seq, _control_reason("key", key))
    if kind not in _KINDS:
        return _Problem(seq, f"unknown kind {_text(kind)}; the kinds are "
                             f"{', '.join(sorted(KINDS))}")
    if corrects is not None and corrects not in keys:
        if unresolved is None:
            return _Problem(seq, _not_earlier(corrects))
        unresolved.append((seq, corrects))
    for name, value in (("booked_on", booked_on), ("due", due)):
        if value not in seen.days and (value is not None or name != "due"):
            if not _valid_day(value):
                return _Problem(seq, f"{name} {_text(value)} is not a date YYYY-MM-DD")
            seen.days[value] = _field(value)
    if posted_at not in seen.stamps:
        if not _valid_stamp(posted_at):
            return _Problem(seq, f"posted_at {_text(posted_at)} is not a UTC stamp "
                                 "YYYY-MM-DDTHH:MM:SS.ffffffZ")
        seen.stamps[posted_at] = _field(posted_at)
    for name, value in (("agreement", agreement), ("period", period),
                        ("component", component), ("reason", reason),
                        ("reference", reference)):
        if value not in seen.texts:
            if _CONTROL.search(value):
                return _Problem(seq, _control_reason(name, value))
            seen.texts[value] = _field(value)
    if kind in _CORRECTIONS and corrects is None:
        return _Problem(seq, f"a {kind.decode()} without corrects (it must name the "
                             "transaction it corrects)")
    if kind in _CORRECTIONS and reason is None:
        return _Problem(seq, f"a {kind.decode()} without a reason")
    if digest is not None and _DIGEST.fullmatch(digest) is None:
        return _Problem(seq, f"inputs_digest {_text(digest)} is not a lowercase hex digest "
                             "(16–128 characters)")
    if not meta_ok(meta):
        return _Problem(seq, f"meta {_text(meta[:80])} is not canonical JSON of an object "
                             "(keys sorted, no spaces, no floats, integers within ±(2**53-1))")
    if idx is None:
        return _Problem(seq, "has no transfers")
    return _diagnose_transfer(row, 0, seen)


def _diagnose_transfer(row: tuple[Any, ...], expected: int, seen: _Seen) -> _Problem | None:
    seq, idx, debit_party, debit_purpose, credit_party, credit_purpose = (row[0], *row[16:21])
    if idx is None:
        return _Problem(seq, "has no transfers")
    if idx != expected:
        return _Problem(seq, f"transfer index {idx} where {expected} was expected "
                             "(a transfer is missing or was renumbered)")
    fen = row[21]
    if not 0 < fen <= _MAX_FEN:
        return _Problem(seq, f"transfer {idx}: amount_fen {fen} is not between 1 and "
                             f"{_MAX_FEN:,} fen")
    for name, value, known, pattern, what in (
        ("debit_party", debit_party, seen.parties, _PARTY, _PARTY_WHAT),
        ("credit_party", credit_party, seen.parties, _PARTY, _PARTY_WHAT),
        ("debit_purpose", debit_purpose, seen.purposes, _PURPOSE,
         "a lowercase slug such as 'accrued'"),
        ("credit_purpose", credit_purpose, seen.purposes, _PURPOSE,
         "a lowercase slug such as 'accrued'"),
    ):
        if value in known:
            continue
        if pattern.fullmatch(value) is None:
            return _Problem(seq, f"transfer {idx}: {name} {_text(value)} is not {what}")
        known[value] = _field(value)
    if debit_party == credit_party and debit_purpose == credit_purpose:
        return _Problem(seq, f"transfer {idx} moves money from "
                             f"{debit_party.decode()}:{debit_purpose.decode()} to itself")
    return None


def _control_reason(name: str, value: bytes) -> str:
    return (f"{name} {_text(value[:80])} contains a control character (U+0000–U+001F); the "
            "ledger never stores one (a field shifted across separators?)")


def _check_hashes(digests: list[bytes], hashes: list[bytes], first: int = 1) -> list[_Problem]:
    """Compare recomputed digests with stored hashes in one go; find the first mismatch."""
    stored = hashes[: len(digests)]
    if hexlify(b"".join(digests)) == b"".join(stored):
        return []
    for seq, (digest, hash_) in enumerate(zip(digests, stored, strict=True), start=first):
        if hexlify(digest) != hash_:
            if _HEX64.fullmatch(hash_) is None:
                return [_Problem(seq, f"hash {_text(hash_[:80])} is not 64 lowercase hex "
                                      "digits")]
            return [_Problem(seq, "hash does not match the transaction's contents "
                                  "(a field or transfer was changed)")]
    return []  # pragma: no cover - the joined comparison differed, so one element does


def _duplicate_keys(conn: sqlite3.Connection) -> list[_Problem]:
    """The first transaction whose key an earlier one used (one pass, no index trusted)."""
    seen: set[object] = set()
    for seq, key in conn.execute(f"SELECT seq, key FROM {_TX} NOT INDEXED ORDER BY seq"):
        if key in seen:
            return [_Problem(seq, "key already used by an earlier transaction")]
        seen.add(key)
    return []


def _orphans(conn: sqlite3.Connection, count: int) -> list[_Problem]:
    """Transfer rows whose transaction does not exist.

    Inside 1..count every transfer row meets its transaction in the scan (and its index
    is checked there), so only rows outside that range can be orphans.
    """
    low, high = conn.execute(f"SELECT min(seq), max(seq) FROM {_XF}").fetchone()
    if type(low) is int and low < 1:
        return [_Problem(1, f"transfer rows for transaction #{low}, which does not exist")]
    if type(high) is int and high > count:
        return [_Problem(count + 1, f"transfer rows for transaction #{high}, which does "
                                    "not exist (transactions deleted?)")]
    return []


def _check_checkpoints(
    rows: list[tuple[Any, ...]], digests: list[bytes], count: int,
    leaves: list[bytes] | None = None,
) -> list[_Problem]:
    """Numbering, chain, hash and Merkle root of every checkpoint, in order.

    A checkpoint/2 (with a catalog digest) may cover the same ``seq`` as the one before
    (the catalog changed without new transactions); a checkpoint/1 must cover more.
    """
    covered = max((row[1] for row in rows if type(row[1]) is int), default=0)
    upto = min(covered, len(digests))
    if leaves is None and rows:
        leaves = _leaves(digests[:upto])
    tree = MerkleTree(leaves[:upto]) if rows and leaves is not None else None
    prev = GENESIS
    last_seq = 0
    for expected, (number, seq, root, created_at, prev_hash, hash_, catalog, *_) in enumerate(
        rows, 1
    ):
        where = f"checkpoint #{expected}"
        at = seq if type(seq) is int and seq >= 1 else max(last_seq, 1)
        if number != expected:
            return [_Problem(at, f"{where} is missing (found #{number})", expected)]
        if prev_hash != prev:
            return [_Problem(at, f"{where}: prev_hash does not match the previous checkpoint",
                             expected)]
        if not all(type(v) is str for v in (root, created_at, prev_hash, hash_)):
            return [_Problem(at, f"{where}: a text column holds another type", expected)]
        if (_HEX64.fullmatch(root.encode()) is None or not _valid_stamp(created_at.encode())
                or _HEX64.fullmatch(hash_.encode()) is None):
            return [_Problem(at, f"{where}: root, created_at or hash is malformed", expected)]
        if catalog is not None and (type(catalog) is not str
                                    or _HEX64.fullmatch(catalog.encode()) is None):
            return [_Problem(at, f"{where}: catalog digest is malformed", expected)]
        message = checkpoint_bytes(Checkpoint(number, seq, root, created_at, prev_hash, hash_,
                                              catalog))
        if _sha256(message).hexdigest() != hash_:
            return [_Problem(at, f"{where}: hash does not match its contents", expected)]
        if type(seq) is not int or seq < last_seq or (seq == last_seq and catalog is None):
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


# --------------------------------------------------------------------------- parallel scan


def _scan_parallel(
    name: str, mode: str, jobs: int, pool: Executor, conn: sqlite3.Connection, count: int,
    tx2_from: int | None,
) -> _Scanned:
    """:func:`scan_split` of an SQLite file: the first range here on ``conn``, the others
    in the worker processes of ``pool``, each on its own read-only connection."""
    if count < 2 * jobs:
        return _scan_here(conn, count, tx2_from, file=name, mode=mode)

    def stored_hash(seq: int) -> bytes:
        row = conn.execute(f"SELECT hash FROM {_TX} WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else b""

    def elsewhere(ranges: list[tuple[int, int, bytes]]) -> Iterable[tuple[Any, ...]]:
        n = len(ranges)
        return pool.map(_scan_range, [name] * n, [mode] * n, [r[0] for r in ranges],
                        [r[1] for r in ranges], [r[2] for r in ranges], [tx2_from] * n)

    return scan_split(count, jobs, tx2_from, stored_hash=stored_hash,
                      rows=lambda first, last: conn.execute(_SCAN, (first, last)),
                      elsewhere=elsewhere, file=_file_scan(conn, name, mode))


def scan_split(
    count: int, jobs: int, tx2_from: int | None, *,
    stored_hash: Callable[[int], bytes],
    rows: Callable[[int, int], Iterable[tuple[Any, ...]]],
    elsewhere: Callable[[list[tuple[int, int, bytes]]], Iterable[tuple[Any, ...]]],
    file: _FileScan | None = None,
) -> _Scanned:
    """Split transactions 1..count into ``jobs`` ranges, scan them, then join them.

    ``elsewhere`` starts the scans of ranges 2..jobs, given as (first, last, stored hash
    before first), each returning :func:`range_result`'s tuple; meanwhile the first range
    is scanned here from ``rows(first, last)`` (rows of :data:`_SCAN`). ``stored_hash(seq)``
    reads a stored hash (bytes). The backend (SQLite file, PostgreSQL snapshot) only
    supplies rows: every check is :func:`_scan`'s. ``file`` lets the compiled scan read the
    first range itself (:class:`_FileScan`).

    Each range's scan checks its links, fields and hashes from the stored hash just before
    it; joining the ranges checks what crosses a boundary: a key used in two ranges
    and a ``corrects`` naming no key of an earlier range (each worker lists the corrections
    it could not resolve inside its own range).
    """
    bounds = [1 + count * i // jobs for i in range(jobs)] + [count + 1]
    ranges = list(zip(bounds[:-1], [b - 1 for b in bounds[1:]], strict=True))
    starts = [GENESIS.encode(), *(stored_hash(first - 1) for first, _last in ranges[1:])]
    others = elsewhere([(first, last, start) for (first, last), start
                        in zip(ranges[1:], starts[1:], strict=True)])
    # the first range here, while the workers scan theirs
    first, last = ranges[0]
    here = _scan(lambda: rows(first, last), first, last, starts[0], tx2_from, set(), file=file)
    parts = [range_result(here, []), *others]
    digests: list[bytes] = []
    hashes: list[bytes] = []
    keys: set[bytes] = set()
    leaves: list[bytes] = []
    compiled = True
    for (problem, part_digests, part_hashes, part_keys, unresolved, part_leaves,
         part_compiled) in parts:
        compiled = compiled and part_compiled
        found = [_Problem(*problem)] if problem is not None else []
        found += [_Problem(seq, _not_earlier(corrects)) for seq, corrects in unresolved
                  if corrects not in keys]
        if found:
            first_problem = min(found, key=lambda p: p.seq or 0)
            return _Scanned(first_problem, digests + part_digests, hashes + part_hashes,
                            keys | part_keys)
        digests += part_digests
        leaves += part_leaves
        hashes += part_hashes
        keys |= part_keys
        if len(keys) != len(hashes):
            break  # a key repeated across ranges: the caller's duplicate check names it
    return _Scanned(None, digests, hashes, keys, leaves, compiled=compiled)


def range_result(scanned: _Scanned, unresolved: list[tuple[int, bytes]]) -> tuple[Any, ...]:
    """What a worker sends back for :func:`scan_split` (plain values, picklable): the
    problem as (seq, reason), digests, hashes, keys, unresolved corrections and the Merkle
    leaves (so that the parent does not hash them one after the other)."""
    problem = scanned.problem
    leaves = scanned.leaves if scanned.leaves is not None else _leaves(scanned.digests)
    return ((problem.seq, problem.reason) if problem else None, scanned.digests,
            scanned.hashes, scanned.keys, unresolved, leaves, scanned.compiled)


def _scan_range(
    name: str, mode: str, first: int, last: int, prev: bytes, tx2_from: int | None
) -> tuple[Any, ...]:
    """Worker: scan transactions ``first..last`` of the file; corrections left to the join."""
    conn = _connect(name, mode)
    conn.text_factory = bytes
    unresolved: list[tuple[int, bytes]] = []
    try:
        conn.execute("BEGIN")
        scanned = _scan(lambda: conn.execute(_SCAN, (first, last)), first, last, prev,
                        tx2_from, set(), unresolved, file=_file_scan(conn, name, mode))
    finally:
        conn.close()
    return range_result(scanned, unresolved)


def _scan_name(scanned: _Scanned) -> str:
    """:attr:`VerifyReport.scan` of a scan."""
    return "compiled" if scanned.compiled else "Python"


def _leaves(digests: list[bytes]) -> list[bytes]:
    """The RFC 6962 leaf hashes of transaction digests."""
    sha = _sha256
    return [sha(b"\x00" + d).digest() for d in digests]
