"""Opening a shared SQLite file: new files opened by several connections at once all succeed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ecocomp import database
from ecocomp.ledger import Ledger
from ecocomp.store import ReadingStore


def _open_together(opener: Callable[[], object], n: int = 3) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        try:
            barrier.wait()
            opener()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _close_after(open_: Callable[[], object]) -> Callable[[], object]:
    def opener() -> object:
        handle = open_()
        handle.close()  # type: ignore[attr-defined]
        return handle

    return opener


OPENERS: dict[str, Callable[[str], object]] = {
    "connect": lambda p: database.connect(p, busy_timeout_ms=10_000, synchronous="FULL"),
    "store": ReadingStore.open,
    "ledger": Ledger.open,
}


# Before the retry, about 1 open in 10 of a new file by three threads failed with
# "database is locked": switching to WAL does not wait for the busy handler.
@pytest.mark.parametrize("kind", ["connect", "store", "ledger"])
def test_connections_opening_a_new_file_at_once_all_succeed(tmp_path: Path, kind: str) -> None:
    for attempt in range(40):
        path = str(tmp_path / f"{kind}-{attempt}.db")
        assert _open_together(_close_after(lambda p=path: OPENERS[kind](p))) == [], attempt
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.close()


def test_a_file_locked_past_the_timeout_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = str(tmp_path / "held.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            database.connect(path, busy_timeout_ms=200, synchronous="NORMAL")
        assert time.monotonic() - started < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_settings_are_applied(tmp_path: Path) -> None:
    conn = database.connect(str(tmp_path / "s.db"), busy_timeout_ms=1234, synchronous="FULL")
    try:
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (1234,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.isolation_level is None
    finally:
        conn.close()


def test_an_unknown_synchronous_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        database.connect(str(tmp_path / "x.db"), busy_timeout_ms=10, synchronous="SOMETIMES")


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("attempt to write a readonly database", "s.db: the file is read-only"),
        ("file is not a database", "s.db: not an SQLite database"),
        ("database disk image is malformed", "s.db: the database file is damaged"),
        ("database is locked", "s.db: another program is writing"),
        ("disk I/O error", "s.db: the disk refused a write"),
        ("something new", "s.db: database error (something new)"),
    ],
)
def test_sqlite_errors_are_described_in_plain_words(error: str, says: str) -> None:
    assert database.describe(sqlite3.OperationalError(error), "s.db").startswith(says)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    path = tmp_path / "no" / "s.db"
    text = database.describe(sqlite3.OperationalError("unable to open database file"), path)
    assert text.endswith(f"the folder {tmp_path / 'no'} does not exist; create it or choose "
                         "another path")


def test_has_table_reads_without_changing_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    assert database.has_table(str(path), "t") and not database.has_table(str(path), "u")
    assert path.read_bytes() == before
    with pytest.raises(sqlite3.OperationalError):
        database.has_table(str(tmp_path / "missing.db"), "t")


# ------------------------------------------------------------- the copy beside the work


def _in_the_file_itself(path: Path) -> int:
    """Readings in the database file alone, the WAL ignored (``immutable=1``)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    finally:
        conn.close()


def _readings_file(tmp_path: Path, rows: int) -> Path:
    file = tmp_path / "r.csv"
    lines = [f"zhuting,2023-01-{1 + i // 24:02d}T{i % 24:02d}:00,nh3n,0.{10 + i % 80},mg/L,"
             "automatic," for i in range(rows)]
    file.write_text("section,sampled_at,parameter,value,unit,source,flag\n"
                    + "\n".join(lines) + "\n", encoding="utf-8")
    return file


def test_new_files_get_the_page_size_and_existing_files_keep_theirs(tmp_path: Path) -> None:
    with ReadingStore.open(tmp_path / "new.db") as store:
        assert store._conn.execute("PRAGMA page_size").fetchone() == (database.PAGE_SIZE,)
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with ReadingStore.open(old) as store:
        assert store._conn.execute("PRAGMA page_size").fetchone() == (4096,)


def test_a_closed_store_leaves_its_imports_in_the_file_itself(tmp_path: Path) -> None:
    """The commits' pages are copied beside the work, and close() waits for the copy: the
    database file holds every import even while another connection keeps the WAL."""
    db = tmp_path / "r.db"
    keeper = ReadingStore.open(db)  # another connection: the WAL stays after the close
    try:
        store = ReadingStore.open(db)
        store.import_file(_readings_file(tmp_path, 600), sections=["zhuting"])
        # the connection's own setting is back after the commit
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
        store.close()
        assert not [t for t in threading.enumerate() if t.name == "ecocomp-checkpoint"]
        assert (tmp_path / "r.db-wal").exists()
        assert _in_the_file_itself(db) == 600
    finally:
        keeper.close()


def test_a_checkpointer_copies_what_each_commit_left_in_the_wal(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    conn = database.connect(db, busy_timeout_ms=1000, synchronous="NORMAL")
    other = database.connect(db, busy_timeout_ms=1000, synchronous="NORMAL")
    copier = database.Checkpointer(db)
    conn.execute("CREATE TABLE t (x)")
    for _ in range(5):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
        copier.commit(conn)  # SQLite's own copy is off for the commit, then back
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    copier.close()
    copier.close()  # closed twice: nothing to do
    # the database file alone (the WAL ignored; both connections still open, so SQLite
    # has made no copy of its own at a close)
    check = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    assert check.execute("SELECT count(*) FROM t").fetchone() == (10_000,)
    check.close()
    conn.close()
    other.close()


def test_a_checkpointer_never_kicked_starts_no_thread(tmp_path: Path) -> None:
    copier = database.Checkpointer(str(tmp_path / "none.db"))
    copier.close()
    assert not (tmp_path / "none.db").exists()


def test_a_store_left_open_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    """A program that imports and then fails before close() (or never calls it) exits: the
    copy's thread does not hold the interpreter open at its end."""
    file = _readings_file(tmp_path, 10)
    script = textwrap.dedent(f"""
        from ecocomp.store import ReadingStore
        store = ReadingStore.open({str(tmp_path / "open.db")!r})
        store.import_file({str(file)!r}, sections=["zhuting"])
        raise SystemExit(3)  # no close()
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not exit: the checkpoint thread kept it alive")
    assert done.returncode == 3, done.stderr


def test_the_copy_goes_to_the_file_opened_even_after_a_change_of_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store opened by a relative path: its copy goes into that file, not into a new one
    of the same name in whatever directory is current at the first commit."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    file = _readings_file(tmp_path, 600)
    monkeypatch.chdir(tmp_path / "a")
    keeper = ReadingStore.open("r.db")  # another connection: the WAL stays after the close
    try:
        store = ReadingStore.open("r.db")
        monkeypatch.chdir(tmp_path / "b")
        store.import_file(file, sections=["zhuting"])
        store.close()
        assert not (tmp_path / "b" / "r.db").exists()
        assert _in_the_file_itself(tmp_path / "a" / "r.db") == 600
    finally:
        keeper.close()


def test_an_import_committed_is_not_reported_failed_when_no_thread_can_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy's thread starts after the COMMIT: when it cannot start, the import stands
    (its pages stay in the WAL) and is reported as done, not as a failure."""
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    db = tmp_path / "r.db"
    store = ReadingStore.open(db)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    result = store.import_file(_readings_file(tmp_path, 10), sections=["zhuting"])
    assert result.inserted == 10
    store.close()
    monkeypatch.undo()
    with ReadingStore.open(db) as again:
        assert again._conn.execute("SELECT count(*) FROM readings").fetchone() == (10,)


def test_without_its_thread_a_commit_copies_as_sqlite_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread could not open the file: later commits must not leave SQLite's own copy
    off, or the WAL would only grow until the last connection closes."""
    db = str(tmp_path / "gone.db")
    conn = database.connect(db, busy_timeout_ms=1000, synchronous="NORMAL")
    other = database.connect(db, busy_timeout_ms=1000, synchronous="NORMAL")
    conn.execute("CREATE TABLE t (x BLOB)")
    copier = database.Checkpointer(db)

    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(database.sqlite3, "connect", refuse)  # the thread's own connection
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (x'00')")
    copier.commit(conn)
    copier._thread.join(10)  # it ended without a connection
    monkeypatch.undo()
    # a commit of more than 1,000 pages: SQLite's automatic checkpoint copies it
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO t VALUES (zeroblob({1100 * database.PAGE_SIZE}))")
    copier.commit(conn)
    check = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    assert check.execute("SELECT count(*) FROM t").fetchone() == (2,)
    check.close()
    copier.close()
    conn.close()
    other.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_fork_waits_until_the_copy_is_out_of_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child forked while the thread is inside SQLite would inherit locks no thread of
    its own holds (ledger verify --jobs forks its workers): the fork waits for the copy."""
    inside, done = threading.Event(), threading.Event()
    copy = database.Checkpointer._copy

    def slow_copy(conn: sqlite3.Connection) -> None:
        inside.set()
        time.sleep(0.3)
        copy(conn)
        done.set()

    monkeypatch.setattr(database.Checkpointer, "_copy", staticmethod(slow_copy))
    db = str(tmp_path / "f.db")
    conn = database.connect(db, busy_timeout_ms=1000, synchronous="NORMAL")
    conn.execute("CREATE TABLE t (x)")
    copier = database.Checkpointer(db)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    copier.commit(conn)
    assert inside.wait(10)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    copied_before_the_fork = done.is_set()
    os.waitpid(pid, 0)
    copier.close()
    conn.close()
    assert copied_before_the_fork
