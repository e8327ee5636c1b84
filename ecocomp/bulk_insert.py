"""Blocks of rows into SQLite from their columns: the readings import's insert.

A block of readings comes from :mod:`ecocomp.columnar` as columns (pyarrow buffers and a few
Python values), not as rows. :func:`insert` writes it on the store's own connection: through
the compiled ``ecocomp/_bulkc.c`` when this install has it, as one ``INSERT … SELECT`` from
``ecocomp_block``, a virtual table whose rows are the block's, read straight from the
buffers, without the GIL while SQLite works (so the next block is parsed meanwhile); else
with ``executemany`` over :func:`rows`. The same values go in, in the same order; what is
stored is the same (``tests/test_bulk_insert.py``). One statement a block instead of one a
row: SQLite opens the table's and indexes' cursors once, and binds nothing.

A column is a tuple, one per parameter of the statement:

``(0, values)``
    ``values[0]`` on every row (``values``: str, int or None);
``(0, values, indices, offset)``
    ``values[indices[offset + r]]`` on row ``r``: ``indices`` an int32 buffer (a pyarrow
    dictionary's indices);
``(1, offsets, data, offset)``
    a pyarrow string array without nulls: its int32 offsets and UTF-8 data buffers;
``(2, data, validity, offset)``
    a pyarrow int64 array: its data buffer and validity bitmap (None: no nulls);
``(3, start)``
    ``start + r`` (row numbers).

:func:`pack` (compiled only, :func:`can_pack`) turns a block of readings into parts, each of
at most ``max_readings`` readings of one (section, parameter, source, month), each part's
readings as JSON text, with their monthly sums.

The compiled insert finds the connection's SQLite handle through SQLite itself: while
:func:`watching` is on, each connection opened answers ``SELECT ecocomp_bulk_handle()``
and has the ``ecocomp_block`` table (an SQLite auto extension), never by reading Python's
connection object. It is used only where the SQLite library is the one Python's
``_sqlite3`` module links (the same copy), and is 3.31 or newer (the function and the table
are DIRECTONLY: a database file's views and triggers cannot reach them; an older SQLite
would drop that flag). Outside :func:`insert`, the table has no rows; inside, only the
statements of the connection inserting read them (a statement that Python code run during the
insert keeps reads no more after it, from a copy of its current row).
"""

from __future__ import annotations

import array
import contextlib
import itertools
import sqlite3
import struct
import threading
from collections.abc import Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any

from ecocomp.compiled import optional

__all__ = ["available", "can_pack", "handle", "insert", "pack", "rows", "values_statement",
           "watching"]

Column = tuple[Any, ...]


def _load() -> ModuleType | None:
    _bulkc = optional("ecocomp._bulkc")
    if _bulkc is None:
        return None
    import _sqlite3

    path = getattr(_sqlite3, "__file__", None)  # None: built into the interpreter
    if not path or not _bulkc.sqlite_attach(path):
        return None
    return _bulkc


_bulkc: ModuleType | None = _load()


def _load_packer() -> ModuleType | None:
    # the packer needs no SQLite: only the compiled module, built with pack()
    _bulkc = optional("ecocomp._bulkc")
    return _bulkc if _bulkc is not None and hasattr(_bulkc, "pack") else None


_packer: ModuleType | None = _load_packer()


def available() -> bool:
    """True if the compiled insert runs in this process (built, SQLite found, not
    ``ECOCOMP_PURE_PYTHON``)."""
    return _bulkc is not None


def can_pack() -> bool:
    """True if :func:`pack` runs in this process (``ecocomp/_bulkc.c`` built, not
    ``ECOCOMP_PURE_PYTHON``); it needs no SQLite of its own."""
    return _packer is not None


#: One part of a block: (section, parameter, source, month, first_at, last_at, count, data,
#: valid_count, high, low, inexact, exponent, nondetects, suspect, invalid).
Part = tuple[str, str, str, str, str, str, int, str,
             int, int | None, int | None, int, int | None, int, int, int]


def pack(columns: Sequence[Column], count: int, *, max_readings: int = 64,
         split: int = 10**10) -> list[Part] | None:
    """The ``count`` readings of a block's ten ``columns`` (:attr:`columnar.Batch.columns`:
    section, sampled_at, parameter, source, value, below_dl, flag, eff_units, eff_exp, row)
    as parts of groups: a group is the readings of one (section, parameter, source, month),
    month the first 7 characters of sampled_at (``YYYY-MM``); the groups sorted by those in
    byte order (SQLite's ``BINARY``), each group's readings by sampled_at (byte order).

    A group of g readings is cut, in time order, into ``ceil(g / max_readings)`` parts of
    equal size within one reading (the larger first; one part when g <= max_readings): the
    parts of a group follow one another in the list, in time order.

    Each part is ``(section, parameter, source, month, first_at, last_at, count, data,
    valid_count, high, low, inexact, exponent, nondetects, suspect, invalid)``: first_at
    and last_at the part's earliest and latest sampled_at (whole), ``data`` its readings as
    JSON text, ``[[time,value,below_dl,flag,eff_units,eff_exp,row],...]``, no spaces, where
    ``time`` is sampled_at without its first 8 characters (the ``YYYY-MM-`` its month says:
    SQLite gives it back as ``month || '-' || time``); texts with ``"`` and ``\\`` escaped and
    every character below U+0020 as ``\\u00xx``; eff_units ``null`` for NULL. Each value is
    what :func:`insert` binds for that row (:func:`rows`).

    The last eight are the part's sums as ``store._MONTHLY_SELECT`` adds them up (valid: flag
    not ``'invalid'``): valid readings; the sums of ``eff_units / split`` and ``eff_units %
    split`` over the valid ones with eff_units (truncated toward zero, as SQLite's ``/`` and
    ``%``; None where there is none); valid readings without eff_units; the smallest eff_exp
    of the valid ones (None: none valid); valid readings with below_dl non-zero; readings
    flagged ``'suspect'``; ``'invalid'``. ``split`` is the store's (``10**SCALE``).

    None if one group holds two readings of the same sampled_at (the caller takes the path
    that reports the repeat). A sampled_at whose 8th character is not ``-`` or with nothing
    after it raises :class:`ValueError` (the store writes none); a sum past 64 bits
    :class:`OverflowError`. Columns of unknown form, indices or offsets outside their
    buffers, or a value of the wrong type (a text column's int or None, an integer
    column's text, a NULL other than eff_units) raise :class:`ValueError` (or the
    :class:`TypeError` / :class:`OverflowError` of :func:`insert`). Compiled only: raises
    :class:`RuntimeError` where :func:`can_pack` is False.
    """
    if _packer is None:
        raise RuntimeError("bulk_insert.pack needs the compiled ecocomp._bulkc (not built "
                           "in this install, or ECOCOMP_PURE_PYTHON is set): see can_pack()")
    result: list[Part] | None = _packer.pack(tuple(columns), count, max_readings, split)
    return result


#: The watches under way (all threads) and their lock: SQLite's auto extension is one for
#: the whole process, on while any watch is, off when the last one ends.
_watches = 0
_watch_lock = threading.Lock()


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Connections opened inside answer ``SELECT ecocomp_bulk_handle()`` (see :func:`handle`).

    Nested or in several threads at once, it stays on until the last one ends."""
    global _watches
    if _bulkc is None:
        yield
        return
    with _watch_lock:
        if _watches == 0 and not _bulkc.watch(True):
            on = False
        else:
            on = True
            _watches += 1
    try:
        yield
    finally:
        if on:
            with _watch_lock:
                _watches -= 1
                if _watches == 0:
                    _bulkc.watch(False)


def handle(conn: sqlite3.Connection) -> int | None:
    """The SQLite handle of ``conn`` for the compiled insert, or None (not built, or the
    connection was not opened inside :func:`watching`)."""
    if _bulkc is None:
        return None
    try:
        found = conn.execute("SELECT ecocomp_bulk_handle()").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "no such function" in str(exc):
            return None
        raise  # interrupted, ...: what any statement on this connection would raise
    return int(found) if found else None


def insert(conn: sqlite3.Connection, native: int | None, into: str, n: int,
           columns: Sequence[Column], *, fixed: str = "", upsert: str = "") -> None:
    """Insert the ``n`` rows of ``columns`` with ``INSERT INTO {into}``.

    ``into`` names the table and its columns (``"t (a, b, c)"``): first one per column of
    ``columns``, then any whose values are the SQL expressions ``fixed`` (``"7"``: the same on
    every row). Compiled, it is one statement, ``INSERT INTO {into} SELECT c0, c1, …, {fixed}
    FROM ecocomp_block``, whose rows are the block's; else ``executemany`` of ``INSERT INTO
    {into} VALUES (?, …, {fixed})`` over :func:`rows`. The same rows go in, in the same order.
    ``upsert`` (``"ON CONFLICT … DO UPDATE …"``) ends either statement.

    ``native`` is :func:`handle` of ``conn`` (None: ``executemany``), checked on each call:
    a closed connection or another thread raises :class:`sqlite3.ProgrammingError` as
    ``executemany`` does, another connection's handle :class:`ValueError`. A row SQLite refuses
    raises what ``executemany`` raises — :class:`sqlite3.IntegrityError` for a constraint
    or a datatype mismatch, :class:`sqlite3.DataError` for a string too big, mostly
    :class:`sqlite3.OperationalError` else (sqlite3's class for each SQLite result code),
    the compiled one naming the refused row of the block where SQLite refused it as it read
    it (not where SQLite reads the whole block before inserting a row — a trigger on the
    table — or checks at the statement's end — a foreign key). What stays written of the block
    then differs — none of it (compiled: one statement), the rows before the refused one
    (``executemany``) — so the caller rolls back, as the store's import step does; an
    interrupt inside the compiled one's statement has SQLite roll back the whole transaction.
    """
    width = len(columns)
    if native is None or _bulkc is None:
        conn.executemany(f"{values_statement(into, width, fixed)} {upsert}".rstrip(),
                         rows(columns, n))
        return
    # Asked again each time (one query per block): a closed connection, or one of another
    # thread, raises sqlite3's ProgrammingError here as executemany would, instead of the
    # compiled insert using a freed handle or one sqlite3 forbids this thread; and a handle
    # that is not this connection's is refused instead of writing into another database.
    if handle(conn) != native:
        raise ValueError("the native handle is not the handle of this connection")
    if not conn.in_transaction and _legacy(conn) and conn.isolation_level is not None:
        # what executemany does before a DML statement: the rows go into a transaction
        # the caller can roll back, not committed on their own
        conn.execute(f"BEGIN {conn.isolation_level}")
    values = ", ".join([f"c{k}" for k in range(width)] + ([fixed] if fixed else []))
    sql = f"INSERT INTO {into} SELECT {values} FROM ecocomp_block"
    if upsert:  # "WHERE true": SQLite would read ON as a join's (its upsert documentation)
        sql = f"{sql} WHERE true {upsert}"
    failed = _bulkc.insert(native, sql, n, tuple(columns))
    if failed is None:
        return
    code, message, row = failed
    primary = code & 0xFF
    if primary == _SQLITE_NOMEM:
        raise MemoryError
    if row >= 0:  # the refused row, where it is known (see _bulkc.c: py_insert)
        message = f"{message} (row {row + 1} of the block)"
    error = _ERRORS.get(primary, sqlite3.DatabaseError)(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    raise error


_SQLITE_NOMEM = 7
#: SQLite's primary result codes → the class sqlite3 raises for them (CPython's
#: Modules/_sqlite/util.c); any other: DatabaseError.
_ERRORS: dict[int, type[sqlite3.Error]] = {
    **dict.fromkeys((1, 3, 4, 5, 6, 8, 9, 10, 13, 14, 15, 16, 17), sqlite3.OperationalError),
    2: sqlite3.InternalError,  # SQLITE_INTERNAL
    12: sqlite3.InternalError,  # SQLITE_NOTFOUND
    18: sqlite3.DataError,  # SQLITE_TOOBIG
    19: sqlite3.IntegrityError,  # SQLITE_CONSTRAINT
    20: sqlite3.IntegrityError,  # SQLITE_MISMATCH
    21: sqlite3.InterfaceError,  # SQLITE_MISUSE
    25: sqlite3.InterfaceError,  # SQLITE_RANGE
}


def value_columns(values: Sequence[Sequence[Any]]) -> tuple[Column, ...]:
    """Columns of Python values (``values[k]``: column k, every one as long) for
    :func:`insert`: each a ``(0, values, indices, 0)`` column picking its values in order."""
    count = len(values[0]) if values else 0
    indices = array.array("i", range(count))
    if indices.itemsize != 4:  # pragma: no cover - C int is 32 bits where CPython runs
        raise ValueError("no 32-bit C int for the indices")
    return tuple((0, tuple(column), indices, 0) for column in values)


def values_statement(into: str, width: int, fixed: str = "") -> str:
    """``INSERT INTO {into} VALUES (?, …, {fixed})`` with ``width`` parameters: the statement
    :func:`insert` runs without the compiled part, row by row.

    >>> values_statement("t (a, b, c)", 2, "7")
    'INSERT INTO t (a, b, c) VALUES (?, ?, 7)'
    """
    marks = ", ".join(["?"] * width + ([fixed] if fixed else []))
    return f"INSERT INTO {into} VALUES ({marks})"


def _legacy(conn: sqlite3.Connection) -> bool:
    """True where sqlite3 opens transactions by ``isolation_level`` (Python < 3.12, or
    ``autocommit`` left at its default)."""
    return getattr(conn, "autocommit", None) == getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL",
                                                        None)


def rows(columns: Sequence[Column], n: int) -> Iterator[tuple[Any, ...]]:
    """The ``n`` rows of ``columns`` as tuples of Python values (what is bound)."""
    if not columns:  # zip() of nothing would give no row at all
        return iter([()] * n)
    return zip(*(_values(column, n) for column in columns))  # noqa: B905 (n each)


def _values(column: Column, n: int) -> Iterable[Any]:
    kind = column[0]
    if kind == 0:
        values = column[1]
        if len(column) == 2:
            return [values[0]] * n
        offset = column[3]
        indices = struct.unpack_from(f"<{n}i", column[2], 4 * offset) if n else ()
        return map(values.__getitem__, indices)
    if kind == 1:
        offset = column[3]
        ends = struct.unpack_from(f"<{n + 1}i", column[1], 4 * offset)
        data = memoryview(column[2])
        return [str(data[a:b], "utf-8") for a, b in itertools.pairwise(ends)]
    if kind == 2:
        offset = column[3]
        numbers: Sequence[int | None] = struct.unpack_from(f"<{n}q", column[1], 8 * offset)
        valid = column[2]
        if valid is not None:
            bits = memoryview(valid)
            numbers = [x if bits[(offset + r) >> 3] >> ((offset + r) & 7) & 1 else None
                       for r, x in enumerate(numbers)]
        return numbers
    if kind == 3:
        return range(column[1], column[1] + n)
    raise ValueError(f"a column spec of unknown kind {kind!r}")

