"""The compiled insert (``ecocomp/_bulkc.c``) against ``executemany`` over the same rows.

Whatever columns it is given — dictionary-indexed values, pyarrow strings and int64s with
nulls, slices at any offset, row numbers — it must store exactly the rows
:func:`bulk_insert.rows` gives, as ``executemany`` stores them; refuse what is unsound before
touching the database; and report SQLite's refusals as ``executemany`` does. Its table,
``ecocomp_block``, has rows only inside the insert that reads it, and no database file can
reach it. Also the read-ahead thread of the columnar import (:class:`columnar.ReadAhead`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp import bulk_insert, columnar
from ecocomp.columnar import _indexed, _int64, _strings
from ecocomp.store import ReadingStore

if os.environ.get("ECOCOMP_REQUIRE_COMPILED") and not bulk_insert.available():  # CI
    raise RuntimeError("ECOCOMP_REQUIRE_COMPILED is set but the compiled insert is not "
                       "available: the install did not build ecocomp/_bulkc.c, or Python's "
                       "_sqlite3 links no shared SQLite")

compiled = pytest.mark.skipif(not bulk_insert.available(), reason="ecocomp._bulkc not built")

SCHEMA = ("CREATE TABLE t (a TEXT, b TEXT NOT NULL, c INTEGER, d TEXT, e INTEGER, "
          "UNIQUE (a, b)) STRICT")
INTO = "t (a, b, c, d, e)"


def connect() -> tuple[sqlite3.Connection, int | None]:
    with bulk_insert.watching():
        conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute(SCHEMA)
    return conn, bulk_insert.handle(conn)


def stored(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT a, b, c, d, e FROM t ORDER BY rowid").fetchall()


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
_INT = st.none() | st.integers(-(2**63), 2**63 - 1)


def sliced(columns: tuple[Any, ...], start: int) -> tuple[Any, ...]:
    """The columns from their row ``start`` on (offsets moved, as the store never does)."""
    out = []
    for column in columns:
        if column[0] == 3:
            out.append((3, column[1] + start))
        elif column[0] == 0 and len(column) == 2:
            out.append(column)
        else:
            out.append((*column[:3], column[3] + start))
    return tuple(out)


@st.composite
def blocks(draw: Any) -> tuple[tuple[Any, ...], int, list[Any]]:
    """(columns, n, arrays kept alive): one column of each kind, sliced at a drawn offset."""
    n = draw(st.integers(0, 30))
    skip = draw(st.integers(0, 5))
    total = n + skip
    words = draw(st.lists(st.none() | _TEXT | st.integers(-5, 5), min_size=1, max_size=5))
    picks = draw(st.lists(st.integers(0, len(words) - 1), min_size=total, max_size=total))
    indices = pa.array(picks, pa.int32())
    texts = pa.array(draw(st.lists(_TEXT, min_size=total, max_size=total)), pa.string())
    ints = pa.array(draw(st.lists(_INT, min_size=total, max_size=total)), pa.int64())
    one = draw(_TEXT)
    start = draw(st.integers(-10, 10**12))
    columns = (
        _indexed(words, indices.slice(skip)),
        _strings(texts.slice(skip)),
        _int64(ints.slice(skip)),
        _indexed([one], None),
        (3, start),
    )
    return columns, n, [indices, texts, ints]


@compiled
@settings(max_examples=150, deadline=None)
@given(block=blocks(), cut=st.integers(0, 30))
def test_the_compiled_insert_stores_what_executemany_stores(block, cut):
    columns, n, _keep = block
    cut = min(cut, n)
    fast, native = connect()
    slow, _ = connect()
    slow.execute("DROP TABLE t")
    slow.execute(SCHEMA.replace("UNIQUE (a, b)", "x INTEGER"))  # no refusals on this side
    fast.execute("DROP TABLE t")
    fast.execute(SCHEMA.replace("UNIQUE (a, b)", "x INTEGER"))
    # in two calls, the second on the columns sliced: offsets add up
    bulk_insert.insert(fast, native, INTO, cut, columns)
    bulk_insert.insert(fast, native, INTO, n - cut, sliced(columns, cut))
    slow.executemany(f"INSERT INTO {INTO} VALUES (?, ?, ?, ?, ?)", bulk_insert.rows(columns, n))
    assert stored(fast) == stored(slow)
    assert len(stored(fast)) == n


def test_the_rows_are_the_columns_values():
    words = ["x", None, 7]
    columns = (
        _indexed(words, pa.array([2, 0, 1, 0], pa.int32()).slice(1)),
        _strings(pa.array(["ab", "湘江", "", "c"], pa.string()).slice(1)),
        _int64(pa.array([1, None, -(2**63), 5], pa.int64()).slice(1)),
        _indexed(["m"], None),
        (3, 10),
    )
    assert list(bulk_insert.rows(columns, 3)) == [
        ("x", "湘江", None, "m", 10), (None, "", -(2**63), "m", 11), ("x", "c", 5, "m", 12)]


@compiled
def test_a_refused_row_raises_integrity_error_naming_it_and_nothing_of_the_block_stays():
    columns = (_indexed(["s"], None), _strings(pa.array(["a", "b", "a", "c"], pa.string())),
               (0, [None]), (0, [None]), (3, 1))
    fast, native = connect()
    fast.execute("INSERT INTO t VALUES ('s', 'z', NULL, NULL, 0)")  # before: it stays
    fast.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed.*row 3 "):
        bulk_insert.insert(fast, native, INTO, 4, columns)
    assert fast.in_transaction  # the caller rolls back (the store's import step does)
    assert stored(fast) == [("s", "z", None, None, 0)]  # one statement: undone whole
    slow, _ = connect()
    slow.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        bulk_insert.insert(slow, None, INTO, 4, columns)
    # executemany: the two rows before the refused one (row 3) stay until the rollback
    assert stored(slow) == [("s", "a", None, None, 1), ("s", "b", None, None, 2)]


@compiled
def test_a_not_null_refusal_is_an_integrity_error_too():
    conn, native = connect()
    columns = ((0, ["a"]), (0, [None]), (0, [1]), (0, [None]), (3, 0))
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        bulk_insert.insert(conn, native, INTO, 1, columns)


@compiled
@pytest.mark.parametrize("into, width, error", [
    ("nowhere (a, b, c, d, e)", 5, "no such table"),
    (INTO, 4, "4 values for 5 columns"),
    (INTO, 6, "6 values for 5 columns"),
])
def test_a_statement_sqlite_cannot_prepare_is_an_operational_error(into, width, error):
    for native_or_none in ("compiled", "executemany"):
        conn, native = connect()
        with pytest.raises(sqlite3.OperationalError, match=error):
            bulk_insert.insert(conn, native if native_or_none == "compiled" else None, into,
                               1, ((0, ["a"]),) * (width - 1) + ((3, 0),))


@compiled
@pytest.mark.parametrize("columns, n, error", [
    (((0, ["a"]),) * 33, 1, "too many columns"),
    (((0, []),) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "no values"),
    (((0, [1.5]),) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "type float"),
    (((0, [2**64]),) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "beyond 64 bits"),
    (((0, ["a", "b"], pa.array([0, 2], pa.int32()).buffers()[1], 0),)
     + ((0, ["a"]),) * 3 + ((3, 0),), 2, "outside the column's values"),
    (((0, ["a"], pa.array([0], pa.int32()).buffers()[1], 0),)
     + ((0, ["a"]),) * 3 + ((3, 0),), 2, "shorter than its rows"),
    (((2, pa.array([1], pa.int64()).buffers()[1], None, 1),)
     + ((0, ["a"]),) * 3 + ((3, 0),), 1, "shorter than its rows"),
    (((1, pa.array([0, 5], pa.int32()).buffers()[1], b"abc", 0),)
     + ((0, ["a"]),) * 3 + ((3, 0),), 1, "offsets are not sound"),
    (((1, pa.array([3, 1], pa.int32()).buffers()[1], b"abc", 0),)
     + ((0, ["a"]),) * 3 + ((3, 0),), 1, "offsets are not sound"),
    (((9, 1),) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "unknown form"),
    (((3, 0, 1),) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "unknown form"),
    (((0, ["a"], b"\0\0\0\0", -1),) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "unknown form"),
    ((["a"],) + ((0, ["a"]),) * 3 + ((3, 0),), 1, "tuple"),
])
def test_unsound_columns_are_refused_before_anything_is_written(columns, n, error):
    conn, native = connect()
    with pytest.raises((ValueError, TypeError, OverflowError), match=error):
        bulk_insert.insert(conn, native, INTO, n, columns)
    assert stored(conn) == []


def test_without_the_compiled_insert_rows_go_through_executemany(monkeypatch):
    conn, _native = connect()
    bulk_insert.insert(conn, None, INTO, 2, (
        _strings(pa.array(["a", "b"], pa.string())), (0, ["k"]), (0, [None]), (0, ["z"]),
        (3, 5)))
    assert stored(conn) == [("a", "k", None, "z", 5), ("b", "k", None, "z", 6)]


def test_a_connection_opened_outside_watching_has_no_handle():
    conn = sqlite3.connect(":memory:")
    assert bulk_insert.handle(conn) is None


@compiled
def test_the_store_uses_the_compiled_insert_where_it_can(tmp_path):
    with ReadingStore.open(tmp_path / "r.db") as store:
        assert store._native is not None
        (handle,) = store._conn.execute("SELECT ecocomp_bulk_handle()").fetchone()
        assert handle == store._native


def test_a_database_file_cannot_call_the_handle_function_from_a_view(tmp_path):
    """DIRECTONLY: a view or trigger a database file brings cannot reach the handle."""
    path = tmp_path / "v.db"
    with ReadingStore.open(path) as store:
        store._conn.execute("CREATE VIEW leak AS SELECT ecocomp_bulk_handle() AS h")
        if bulk_insert.available():
            with pytest.raises(sqlite3.OperationalError, match="unsafe use"):
                store._conn.execute("SELECT h FROM leak").fetchall()


@compiled
def test_the_block_table_has_no_rows_outside_the_insert():
    conn, native = connect()
    assert conn.execute("SELECT count(*) FROM ecocomp_block").fetchone() == (0,)
    bulk_insert.insert(conn, native, INTO, 2, ((0, ["a"]), (3, 0), (0, [1]), (0, ["d"]),
                                               (0, [2])))
    assert conn.execute("SELECT count(*) FROM ecocomp_block").fetchone() == (0,)
    assert len(stored(conn)) == 2


@compiled
@pytest.mark.parametrize("ddl, query", [
    ("CREATE VIEW leak AS SELECT c0 FROM ecocomp_block", "SELECT * FROM leak"),
    ("CREATE TABLE leak (v); CREATE TRIGGER leaks AFTER INSERT ON readings_imports BEGIN "
     "INSERT INTO leak SELECT c0 FROM ecocomp_block; END",
     "INSERT INTO readings_imports VALUES (1, 'f', 'x', 0, 0, 0, 0, 0, 0, 'now')"),
])
def test_a_database_file_cannot_read_the_block_table_from_a_view_or_trigger(tmp_path, ddl,
                                                                            query):
    """DIRECTONLY: a view or trigger a database file brings cannot read the block."""
    path = tmp_path / "v.db"
    with ReadingStore.open(path) as store:
        store._conn.executescript(ddl)
    with ReadingStore.open(path) as store:
        with pytest.raises(sqlite3.OperationalError, match="unsafe use"):
            store._conn.execute(query).fetchall()


@compiled
def test_inserts_in_threads_at_once_each_write_their_own_block():
    """The block is the calling thread's: two threads inserting into two connections at
    once, without the GIL, never read each other's rows."""
    def work(word: str, out: list[list[tuple[Any, ...]]]) -> None:
        conn, native = connect()
        for k in range(40):
            columns = (_indexed([word], None), _strings(pa.array(
                [f"{word}{k}-{r}" for r in range(500)], pa.string())), (0, [k]),
                (0, [word]), (3, 0))
            bulk_insert.insert(conn, native, INTO, 500, columns)
        out.append(stored(conn))

    results: dict[str, list[list[tuple[Any, ...]]]] = {"x": [], "y": []}
    threads = [threading.Thread(target=work, args=(w, results[w])) for w in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for word, (rows,) in results.items():
        assert len(rows) == 40 * 500
        assert {(a, d) for a, _b, _c, d, _e in rows} == {(word, word)}
        assert [b for _a, b, _c, _d, _e in rows] == [
            f"{word}{k}-{r}" for k in range(40) for r in range(500)]


# ----------------------------------------------------------------------- read-ahead


def test_read_ahead_gives_the_items_in_order_then_stops():
    with columnar.ReadAhead(iter(range(100))) as ahead:
        assert list(ahead) == list(range(100))
        assert next(ahead, None) is None


def test_read_ahead_raises_what_the_items_raise_in_its_turn():
    def items():
        yield 1
        yield 2
        raise columnar.Declined("a bad value", bad=True)

    with columnar.ReadAhead(items()) as ahead:
        assert next(ahead) == 1
        assert next(ahead) == 2
        with pytest.raises(columnar.Declined, match="a bad value"):
            next(ahead)


def test_closing_read_ahead_early_stops_its_thread_and_closes_the_items():
    closed = threading.Event()

    def items():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    ahead = columnar.ReadAhead(items(), depth=1)
    assert next(ahead) == 0
    ahead.close()
    assert closed.is_set()
    assert not ahead._thread.is_alive()
    assert next(ahead, None) is None
