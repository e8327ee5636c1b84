"""A review of the compiled insert's virtual table, ``ecocomp_block`` (``ecocomp/_bulkc.c``):
each test here failed on the table as first merged — a statement reading the block after
the insert had returned (freed memory read and written), another connection reading it,
a nested insert emptying it, a buffer changed during the insert read out of bounds, an
error naming a row that was not the refused one — and holds the fix."""

from __future__ import annotations

import sqlite3
from typing import Any

import pyarrow as pa
import pytest
from test_bulk_insert_review import _long_file
from test_import_paths import NAMES, state

import ecocomp.store as store_module
from ecocomp import bulk_insert
from ecocomp.columnar import _strings
from ecocomp.store import ReadingStore

compiled = pytest.mark.skipif(not bulk_insert.available(), reason="ecocomp._bulkc not built")


def connect() -> tuple[sqlite3.Connection, int | None]:
    with bulk_insert.watching():
        conn = sqlite3.connect(":memory:", isolation_level=None)
    return conn, bulk_insert.handle(conn)


def words(n: int) -> tuple[Any, ...]:
    return _strings(pa.array([f"w{r}" for r in range(n)], pa.string()))


# ------------------------------------------------ the block is read only inside its insert


@compiled
@pytest.mark.parametrize("where", ["same connection", "another connection"])
def test_a_statement_started_during_the_insert_reads_nothing_after_it(where):
    """A function of the statement ran a query on ecocomp_block and kept it: after the
    insert returned, it read the block's freed buffers through a Feed that was gone (and
    wrote the row number into it), and its current row pointed into them; on another
    connection it read this one's block."""
    conn, native = connect()
    other, _ = connect()
    conn.execute("CREATE TABLE t (a TEXT, b INTEGER, k INTEGER)")
    kept: list[tuple[sqlite3.Cursor, Any]] = []

    def peek() -> int:
        if not kept:
            cursor = (conn if where == "same connection" else other).execute(
                "SELECT c0 FROM ecocomp_block")
            kept.append((cursor, cursor.fetchone()))
        return 0

    conn.create_function("peek", 0, peek)
    bulk_insert.insert(conn, native, "t (a, b, k)", 50, (words(50), (3, 0)), fixed="peek()")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    cursor, first = kept[0]
    if where == "same connection":
        assert first == ("w0",)  # the statement's own connection, during the call: the block
    else:
        assert first is None  # never another connection's block
    # after the call: no more rows but the one sqlite3 had stepped to in the call (its
    # own copy: read from the freed buffers it was garbage)
    assert cursor.fetchall() in ([], [("w1",)])


@compiled
def test_an_insert_inside_an_insert_gives_the_block_back_when_it_ends():
    """A function of the statement that inserts a block of its own (another connection):
    when it ended, the outer insert's block was gone for every later read of it in the
    outer statement (here a correlated subquery: 0 instead of r + 1)."""
    conn, native = connect()
    other, other_native = connect()
    conn.execute("CREATE TABLE t (a TEXT, b INTEGER, k INTEGER, m INTEGER)")
    other.execute("CREATE TABLE u (a TEXT, b INTEGER)")

    def nest(b: int) -> int:
        if b == 1:
            bulk_insert.insert(other, other_native, "u (a, b)", 3, (words(3), (3, 100)))
        return 0

    conn.create_function("nest", 1, nest)
    bulk_insert.insert(
        conn, native, "t (a, b, k, m)", 5, (words(5), (3, 0)),
        fixed="nest(c1), (SELECT count(*) FROM ecocomp_block AS i WHERE i.c1 <= ecocomp_block.c1)")
    assert conn.execute("SELECT a, b, m FROM t ORDER BY rowid").fetchall() == [
        (f"w{r}", r, r + 1) for r in range(5)]
    assert other.execute("SELECT a, b FROM u ORDER BY rowid").fetchall() == [
        ("w0", 100), ("w1", 101), ("w2", 102)]


@compiled
@pytest.mark.parametrize("kind", ["indices", "offsets"])
def test_a_buffer_changed_during_the_insert_is_refused_not_read_out_of_bounds(kind):
    """The indices and offsets were checked once, before SQLite ran: a writable buffer
    (a bytearray) changed meanwhile by Python code (a function of the statement, another
    thread) sent the read past the column's values or data."""
    conn, native = connect()
    conn.execute("CREATE TABLE t (a TEXT, k INTEGER)")
    if kind == "indices":
        buffer = bytearray(pa.array([0, 1, 0, 1], pa.int32()).buffers()[1].to_pybytes())
        column: tuple[Any, ...] = (0, ["x", "y"], buffer, 0)
        bad = 2  # one past the values
    else:
        buffer = bytearray(pa.array([0, 1, 2, 3, 4], pa.int32()).buffers()[1].to_pybytes())
        column = (1, buffer, b"abcd", 0)
        bad = 64  # past the data
    calls: list[int] = []

    def spoil() -> int:
        if not calls:
            buffer[8:12] = bad.to_bytes(4, "little")  # row 2's index / row 1's end
        calls.append(1)
        return 0

    conn.create_function("spoil", 0, spoil)
    with pytest.raises(sqlite3.OperationalError, match="changed during the insert"):
        bulk_insert.insert(conn, native, "t (a, k)", 4, (column,), fixed="spoil()")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


# ------------------------------------------- the row an error names is the refused one


def _errors(schema: str, into: str, n: int, columns: tuple[Any, ...], fixed: str = "",
            pragma: str = "") -> list[sqlite3.Error]:
    errors = []
    for side in ("compiled", "executemany"):
        conn, native = connect()
        if pragma:
            conn.execute(pragma)
        conn.executescript(schema)
        with pytest.raises(sqlite3.Error) as caught:
            bulk_insert.insert(conn, native if side == "compiled" else None, into, n, columns,
                               fixed=fixed)
        errors.append(caught.value)
    return errors


_UNIQUE = "CREATE TABLE t (a TEXT UNIQUE, b INTEGER);"
_REPEATED = (_strings(pa.array(["a", "b", "a", "c"], pa.string())), (3, 0))


@compiled
@pytest.mark.parametrize("schema, pragma", [
    # a trigger on the table: SQLite copies the whole block before inserting a row
    (_UNIQUE + "CREATE TABLE log (x); CREATE TRIGGER g AFTER INSERT ON t BEGIN "
     "INSERT INTO log VALUES (new.a); END;", ""),
    # a foreign key is checked at the statement's end, after the block was read
    ("CREATE TABLE p (id INTEGER PRIMARY KEY); INSERT INTO p VALUES (0), (1), (3);"
     "CREATE TABLE t (a TEXT, b INTEGER REFERENCES p (id));", "PRAGMA foreign_keys = ON"),
])
def test_an_error_names_no_row_it_cannot_tell_never_a_wrong_one(schema, pragma):
    """It said "row 5 of the block" of a block of 4 rows: the row being read when SQLite
    failed was taken for the refused one, but SQLite had read the whole block first."""
    fast, slow = _errors(schema, "t (a, b)", 4, _REPEATED, pragma=pragma)
    assert type(fast) is type(slow) is sqlite3.IntegrityError
    assert str(fast) == str(slow)  # executemany's message, no row claimed


@compiled
def test_a_second_reader_of_the_block_does_not_move_the_row_named():
    """A correlated subquery on ecocomp_block (read again on every row) set the row being
    read to its own: the error named row 5 where row 3 was refused."""
    conn, native = connect()
    conn.execute(_UNIQUE.replace("b INTEGER", "b INTEGER, m INTEGER"))
    with pytest.raises(sqlite3.IntegrityError) as caught:
        bulk_insert.insert(
            conn, native, "t (a, b, m)", 4, _REPEATED,
            fixed="(SELECT count(*) FROM ecocomp_block AS i WHERE i.c1 <= ecocomp_block.c1)")
    assert str(caught.value) in ("UNIQUE constraint failed: t.a",
                                 "UNIQUE constraint failed: t.a (row 3 of the block)")


@compiled
def test_a_statement_that_never_ran_names_no_row():
    """A statement SQLite could not prepare said "(row 1 of the block)"."""
    fast, slow = _errors("", "nowhere (a)", 3, ((0, ["a"]),))
    assert type(fast) is type(slow) is sqlite3.OperationalError
    assert str(fast) == str(slow) == "no such table: nowhere"


@compiled
def test_a_refusal_while_the_block_is_read_still_names_its_row():
    """Where the row is known (SQLite refused it as it was read, here too big, even with
    a trigger on the table), the error still names it."""
    conn, native = connect()
    conn.executescript("CREATE TABLE t (a TEXT, b INTEGER); CREATE TABLE log (x);"
                       "CREATE TRIGGER g AFTER INSERT ON t BEGIN INSERT INTO log VALUES (1); END;")
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 300)
    column = _strings(pa.array(["a", "b", "c" * 500, "d"], pa.string()))
    with pytest.raises(sqlite3.DataError, match=r"\(row 3 of the block\)$"):
        bulk_insert.insert(conn, native, "t (a, b)", 4, (column, (3, 0)))
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


# ------------------------------------- the store: SQLite rolled back the whole transaction


@compiled
@pytest.mark.parametrize("native_or_none", ["compiled", "executemany", "packed"])
def test_an_interrupt_inside_a_store_transaction_raises_itself(tmp_path, monkeypatch,
                                                               native_or_none):
    """An interrupted INSERT makes SQLite roll back the whole transaction; the compiled
    insert is interrupted inside its one statement, so store.transaction()'s savepoint was
    gone and "no such savepoint: import_step" hid the interrupt. The same for the packed
    groups' insert (fewer statements: interrupted sooner)."""
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
    if native_or_none != "packed":  # rows
        monkeypatch.setattr(bulk_insert, "can_pack", lambda: False)
    path = _long_file(tmp_path, 400)
    calls = [0]
    after = 5 if native_or_none == "packed" else 50

    def progress() -> bool:
        calls[0] += 1
        return calls[0] > after

    with ReadingStore.open(tmp_path / "r.db") as s:
        if native_or_none == "executemany":
            monkeypatch.setattr(s, "_native", None)
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            with s.transaction():
                s._conn.set_progress_handler(progress, 10)
                s.import_file(path, sections=NAMES)
        s._conn.set_progress_handler(None, 10)
        assert not s._conn.in_transaction
        assert state(s)["readings"] == []
        assert s.import_file(path, sections=NAMES).inserted == 400  # and the store goes on
