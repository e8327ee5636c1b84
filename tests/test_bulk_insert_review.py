"""A review of the compiled insert (``ecocomp/_bulkc.c``) and its Python side: each test
here failed on the code as first merged (a crash, a silent difference from ``executemany``,
or a fast path silently lost) and holds the fix."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_import_paths import HEADER, NAMES, state

import ecocomp.store as store_module
from ecocomp import bulk_insert, columnar
from ecocomp.columnar import _indexed, _strings
from ecocomp.errors import EcocompError
from ecocomp.store import ReadingStore

compiled = pytest.mark.skipif(not bulk_insert.available(), reason="ecocomp._bulkc not built")

SCHEMA = "CREATE TABLE t (a TEXT, b INTEGER)"
INTO = "t (a, b)"
COLUMNS = ((0, ["x"]), (3, 1))


def connect(**options: Any) -> tuple[sqlite3.Connection, int | None]:
    with bulk_insert.watching():
        conn = sqlite3.connect(":memory:", **options)
    conn.execute(SCHEMA)
    return conn, bulk_insert.handle(conn)


def stored(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT a, b FROM t ORDER BY rowid").fetchall()


@compiled
@pytest.mark.parametrize("column", [
    (0, ["a"], b"\0\0\0\0", 2**61),  # (offset + n) * 4 wrapped to a negative length
    (0, ["a"], b"\0\0\0\0", 2**63 - 1),
    (1, b"\0" * 8, b"ab", 2**61),
    (2, b"\0" * 8, None, 2**60),
    (2, b"\0" * 8, b"\xff", 2**63 - 2),
])
def test_an_offset_whose_byte_count_overflows_is_refused_not_read(column):
    """It crashed the process (a read 2^63 bytes away): the bounds were multiplied out in
    a signed Py_ssize_t that wrapped."""
    conn, native = connect(isolation_level=None)
    with pytest.raises((ValueError, OverflowError)):
        bulk_insert.insert(conn, native, INTO, 1, (column, (3, 0)))
    assert stored(conn) == []


# ------------------------------------------- the handle belongs to the connection, now


@compiled
def test_a_closed_connection_is_refused_as_executemany_refuses_it():
    """The handle outlived the connection: SQLite was called with freed memory."""
    conn, native = connect()
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        bulk_insert.insert(conn, native, INTO, 1, COLUMNS)


@compiled
def test_another_thread_is_refused_as_executemany_refuses_it():
    """check_same_thread was bypassed: the rows went in from a thread sqlite3 forbids."""
    conn, native = connect()
    raised: list[BaseException] = []

    def run() -> None:
        try:
            bulk_insert.insert(conn, native, INTO, 1, COLUMNS)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert [type(e) for e in raised] == [sqlite3.ProgrammingError]
    assert stored(conn) == []


@compiled
def test_the_handle_of_another_connection_is_refused():
    """Rows went silently into whichever database the handle was."""
    one, native = connect()
    other, _ = connect()
    with pytest.raises(ValueError, match="not the handle of this connection"):
        bulk_insert.insert(other, native, INTO, 1, COLUMNS)
    assert stored(one) == stored(other) == []


# ----------------------------------------------------- sqlite3's implicit transaction


@compiled
@pytest.mark.parametrize("level", ["", "DEFERRED", "IMMEDIATE", "EXCLUSIVE", None])
def test_the_rows_are_in_the_transaction_executemany_would_open(level):
    """sqlite3 (isolation_level not None) opens a transaction before an INSERT; the compiled
    insert wrote each row in autocommit, so a rollback undid nothing."""
    for native_or_none in ("native", None):
        conn, native = connect(isolation_level=level)
        bulk_insert.insert(conn, native if native_or_none else None, INTO, 2, COLUMNS)
        assert conn.in_transaction is (level is not None)
        conn.rollback()
        assert stored(conn) == ([] if level is not None else [("x", 1), ("x", 2)])


# ------------------------------------------------- watching(): process-wide, counted


@compiled
def test_a_watch_ending_inside_another_leaves_the_outer_one_on():
    """The auto extension is process-wide: the first watch to end switched it off for all,
    and stores opened meanwhile (nested, or in another thread) silently lost the fast path."""
    with bulk_insert.watching():
        with bulk_insert.watching():
            pass
        conn = sqlite3.connect(":memory:")
    assert bulk_insert.handle(conn) is not None


@compiled
def test_watches_in_threads_overlapping_each_keep_it_on():
    inside = threading.Barrier(2)
    ended = threading.Event()
    handles: list[int | None] = []

    def short() -> None:
        with bulk_insert.watching():
            inside.wait()
        ended.set()

    thread = threading.Thread(target=short)
    thread.start()
    with bulk_insert.watching():
        inside.wait()
        ended.wait()
        handles.append(bulk_insert.handle(sqlite3.connect(":memory:")))
    thread.join()
    assert handles[0] is not None
    with bulk_insert.watching():
        pass
    assert bulk_insert.handle(sqlite3.connect(":memory:")) is None  # off when all ended


# ------------------------------------------------ SQLite's refusals: executemany's classes


def _raised(conn: sqlite3.Connection, native: int | None, into: str,
            columns: tuple[Any, ...], fixed: str) -> BaseException:
    with pytest.raises(sqlite3.Error) as caught:
        bulk_insert.insert(conn, native, into, 1, columns, fixed=fixed)
    return caught.value


@compiled
@pytest.mark.parametrize("into, columns, fixed, limit", [
    # a text for an INTEGER PRIMARY KEY: SQLITE_MISMATCH, an IntegrityError
    ("p (id, v)", ((0, ["zz"]), (0, ["v"])), "", None),
    # a text over SQLITE_LIMIT_LENGTH, from the block or computed: SQLITE_TOOBIG, a DataError
    ("p (id, v)", ((0, [1]), (0, ["v" * 500])), "", 300),
    ("p (id, v)", ((0, [1]), _strings(pa.array(["v" * 500]))), "", 300),
    ("p (id, v)", ((0, [1]),), "'v' || hex(zeroblob(200))", 300),
    ("p (id, v)", ((0, [1]), (0, ["v"])), "", "query_only"),
])
def test_sqlite_refusals_raise_the_class_executemany_raises(into, columns, fixed, limit):
    """Everything but a constraint was an OperationalError: a datatype mismatch escaped the
    store's `except IntegrityError`, a string too big was not a DataError."""
    errors = []
    for side in ("compiled", "executemany"):
        conn, native = connect(isolation_level=None)
        conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
        if limit == "query_only":
            conn.execute("PRAGMA query_only = 1")
        elif limit is not None:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
        errors.append(_raised(conn, native if side == "compiled" else None, into, columns,
                              fixed))
    fast, slow = errors
    assert type(fast) is type(slow)
    assert getattr(fast, "sqlite_errorcode", None) == getattr(slow, "sqlite_errorcode", None)


@compiled
@pytest.mark.parametrize("fixed", ["1 FROM ecocomp_block; DELETE FROM t; SELECT 1",
                                   "1 FROM ecocomp_block; ;"])
def test_a_second_statement_is_refused_not_dropped(fixed):
    """prepare_v2 compiles the first statement only: the rest was silently not run."""
    conn, native = connect(isolation_level=None)
    conn.execute("INSERT INTO t VALUES ('kept', 0)")
    with pytest.raises(sqlite3.ProgrammingError, match="one statement at a time"):
        bulk_insert.insert(conn, native, INTO, 1, ((0, ["x"]),), fixed=fixed)
    assert stored(conn) == [("kept", 0)]


@compiled
@pytest.mark.parametrize("fixed", ["1 FROM ecocomp_block --", "1 FROM ecocomp_block; /*",
                                   "1 FROM ecocomp_block ; --"])
def test_what_follows_the_statement_may_be_blanks_and_comments(fixed):
    conn, native = connect(isolation_level=None)
    bulk_insert.insert(conn, native, INTO, 1, ((0, ["x"]),), fixed=fixed)
    assert stored(conn) == [("x", 1)]


# ------------------------------------------------------------ columnar's column builders


@pytest.mark.parametrize("indices", [
    pa.array([0, None, 1], pa.int32()),  # a null index bound whatever its slot held
    pa.array([1, 0, 0, 0, 0, 0, 0, 0], pa.int8()),  # read as int32: other values
    pa.array([1, 0], pa.int64()),
])
def test_indices_that_are_not_int32_without_nulls_are_refused(indices):
    """_strings and _int64 check their arrays; _indexed took any buffer as int32 indices."""
    with pytest.raises(ValueError, match="int32"):
        _indexed(["a", "b"], indices)


# --------------------------------------------------------------- int64 at its extremes


@compiled
@pytest.mark.parametrize("start, n", [(2**63 - 1, 2), (2**63 - 3, 5)])
def test_row_numbers_past_int64_are_refused_not_wrapped(start, n):
    """start + r wrapped to -2^63 in C (signed overflow) where executemany raised."""
    for side in ("compiled", "executemany"):
        conn, native = connect(isolation_level=None)
        with pytest.raises(OverflowError):
            bulk_insert.insert(conn, native if side == "compiled" else None, INTO, n,
                               ((0, ["x"]), (3, start)))
        assert all(b > 0 for _a, b in stored(conn))


@compiled
def test_row_numbers_up_to_the_last_int64_go_in():
    conn, native = connect(isolation_level=None)
    bulk_insert.insert(conn, native, INTO, 2, ((0, ["x"]), (3, 2**63 - 2)))
    bulk_insert.insert(conn, native, INTO, 1, ((0, ["y"]), (3, -(2**63))))
    assert stored(conn) == [("x", 2**63 - 2), ("x", 2**63 - 1), ("y", -(2**63))]


# ------------------------------------------------- the store: all or nothing, per import


def _long_file(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "long.csv"
    lines = [f"zhuting,2023-{1 + i // 672 % 12:02d}-{1 + i // 24 % 28:02d}T{i % 24:02d}:00,"
             f"nh3n,0.{i % 90 + 10},mg/L,automatic," for i in range(rows)]
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@compiled
def test_a_trigger_the_database_brings_cannot_reach_the_handle_and_nothing_is_written(
        tmp_path, monkeypatch):
    """DIRECTONLY holds for triggers too: a database file whose trigger on readings calls
    the handle function makes the import fail whole, by either insert."""
    for native_or_none in ("compiled", "executemany"):
        db = tmp_path / f"{native_or_none}.db"
        with ReadingStore.open(db) as s:
            s._conn.execute("CREATE TABLE leak (h INTEGER)")
            for table in ("readings", "readings_packed"):  # rows, and packed groups
                s._conn.execute(f"CREATE TRIGGER t_{table} AFTER INSERT ON {table} BEGIN "
                                "INSERT INTO leak VALUES (ecocomp_bulk_handle()); END")
        with ReadingStore.open(db) as s:
            if native_or_none == "executemany":
                monkeypatch.setattr(s, "_native", None)
            monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
            with pytest.raises((sqlite3.OperationalError, EcocompError)):
                s.import_file(_long_file(tmp_path, 50), sections=NAMES)
            assert state(s)["readings"] == []
            assert s._conn.execute("SELECT count(*) FROM leak").fetchone() == (0,)


@compiled
@pytest.mark.parametrize("native_or_none", ["compiled", "executemany"])
def test_an_interrupt_between_blocks_leaves_nothing(tmp_path, monkeypatch, native_or_none):
    """A KeyboardInterrupt (here from the progress callback) after some blocks went in:
    the import step is rolled back and the read-ahead thread stopped."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1 << 10)
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
    path = _long_file(tmp_path, 400)
    seen: list[int] = []

    def progress(count: int) -> None:
        seen.append(count)
        if len(seen) == 3:
            raise KeyboardInterrupt

    before = {t.name for t in threading.enumerate()}
    with ReadingStore.open(tmp_path / "r.db") as s:
        if native_or_none == "executemany":
            monkeypatch.setattr(s, "_native", None)
        with pytest.raises(KeyboardInterrupt):
            s.import_file(path, sections=NAMES, progress=progress)
        assert seen[-1] > 0  # some blocks were written before
        assert state(s)["readings"] == []
        assert s._conn.execute("SELECT count(*) FROM readings_imports").fetchone() == (0,)
        assert not s._conn.in_transaction
        result = s.import_file(path, sections=NAMES)  # and the store goes on
        assert result.inserted == 400
    assert "ecocomp-read-ahead" not in {t.name for t in threading.enumerate()} - before


# ------------------------------------------------------------------------ read-ahead


def test_closing_read_ahead_wakes_a_reader_waiting_in_another_thread():
    """close() stopped the thread without a last word: a reader blocked in next() in
    another thread waited for ever."""
    release = threading.Event()

    def items():
        yield 1
        release.wait()
        yield 2  # offered after close(): dropped

    ahead = columnar.ReadAhead(items(), depth=1)
    got: list[Any] = []
    first = threading.Event()

    def reader() -> None:
        got.append(next(ahead))
        first.set()
        got.append(next(ahead, "stopped"))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    first.wait()
    closer = threading.Thread(target=ahead.close)
    closer.start()
    ahead._stop.wait()
    release.set()
    closer.join()
    thread.join(timeout=30)  # not a timing: without the fix it never ends
    assert not thread.is_alive()
    assert got == [1, "stopped"]


@compiled
@pytest.mark.parametrize("width, fixed, rows", [
    (2, "", [("x", 1), ("x", 2)]),
    (1, "7", [("x", 7), ("x", 7)]),
    (1, "length('abc') * 2", [("x", 6), ("x", 6)]),
    (0, "'k', 1", [("k", 1), ("k", 1)]),
])
def test_fixed_values_follow_the_columns_on_every_row(width, fixed, rows):
    """Columns past those of the block take the same SQL value on every row (the store's
    import id), by either insert; with no column at all, one row per row of the block."""
    assert list(bulk_insert.rows((), 2)) == [(), ()]
    for side in ("compiled", "executemany"):
        conn, native = connect(isolation_level=None)
        bulk_insert.insert(conn, native if side == "compiled" else None, INTO, 2,
                           COLUMNS[:width], fixed=fixed)
        assert stored(conn) == rows


@compiled
@settings(max_examples=120, deadline=None)
@given(n=st.integers(0, 25), skip=st.integers(0, 4), data=st.data())
def test_refusals_raise_what_executemany_raises_at_the_same_row(n, skip, data):
    """Repeated keys, NULLs into NOT NULL, texts into a STRICT INTEGER column: the same
    class of error, the compiled insert naming the row executemany stopped at (the rows
    before it are what executemany left); the compiled insert leaves none of the block."""
    total = n + skip
    keys = pa.array(data.draw(st.lists(st.sampled_from(["a", "b", "c", "湘", "\0", ""]),
                                       min_size=total, max_size=total)), pa.string())
    words = data.draw(st.lists(st.none() | st.sampled_from(["1", "x"]) | st.integers(-2, 2),
                               min_size=1, max_size=4))
    picks = pa.array(data.draw(st.lists(st.integers(0, len(words) - 1), min_size=total,
                                        max_size=total)), pa.int32())
    columns = (_strings(keys.slice(skip)), _indexed(words, picks.slice(skip)), (3, 0))
    outcomes = []
    for side in ("compiled", "executemany"):
        conn, native = connect(isolation_level=None)
        conn.execute("CREATE TABLE s (k TEXT UNIQUE, v INTEGER NOT NULL, r INTEGER) STRICT")
        conn.execute("BEGIN")
        try:
            bulk_insert.insert(conn, native if side == "compiled" else None, "s (k, v, r)", n,
                               columns)
            error = None
        except sqlite3.Error as exc:
            error = exc
        outcomes.append((error, conn.execute("SELECT k, v, r FROM s ORDER BY rowid").fetchall()))
    (fast, fast_rows), (slow, slow_rows) = outcomes
    if slow is None:
        assert fast is None
        assert fast_rows == slow_rows
        assert len(fast_rows) == n
    else:
        assert type(fast) is type(slow)
        assert str(fast).split(" (row")[0] == str(slow)
        assert str(fast).endswith(f" (row {len(slow_rows) + 1} of the block)")
        assert fast_rows == []


@compiled
def test_an_interrupted_connection_raises_executemany_s_error():
    """A progress handler that stops every statement: OperationalError by either insert
    (the handle check took it for "no such function" and said the handle was wrong)."""
    for side in ("compiled", "executemany"):
        conn, native = connect(isolation_level=None)
        conn.set_progress_handler(lambda: 1, 1)
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            bulk_insert.insert(conn, native if side == "compiled" else None, INTO, 3,
                               COLUMNS)
        conn.set_progress_handler(None, 1)
        assert stored(conn) == []
