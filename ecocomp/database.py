"""Opening an ecocomp SQLite file: the settings the readings store and the ledger share.

Both keep their tables in one file that several processes may open at once (a settlement
run, an import, a report). Each connection is in autocommit mode (transactions are explicit
``BEGIN``/``COMMIT``), waits up to a busy timeout for locks, and uses write-ahead logging.

Switching a new file to WAL needs an exclusive lock, and SQLite answers ``database is
locked`` at once, without calling the busy handler, when another connection is switching
the same file at that moment. :func:`connect` retries the switch until the busy timeout
has passed, so two processes opening a new file together both succeed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ecocomp import postgres
from ecocomp.errors import EcocompError

__all__ = ["Checkpointer", "connect", "describe", "has_table", "open_read_only", "open_reading"]

_SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
#: The page size of the database files ecocomp creates (an existing file keeps its own).
PAGE_SIZE = 16384


def connect(path: str, *, busy_timeout_ms: int, synchronous: str) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with WAL, a busy timeout and ``synchronous`` level;
    a new file gets :data:`PAGE_SIZE` pages.

    Raises :class:`sqlite3.DatabaseError` if the file is not a database, or is still locked
    when ``busy_timeout_ms`` has passed; the caller turns it into its own error.
    """
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {synchronous!r}")
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # A new file only (SQLite ignores it once a file has a table, or is in WAL mode).
        # Measured on the province-year's 2.45 M readings: insert and commit 4.3–4.6 s with
        # 16 KiB pages, 5.3–5.5 s with SQLite's 4 KiB (fewer, fuller pages to index and to
        # copy from the WAL); docs/architecture.md, issue 12 round six.
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        _enable_wal(conn, deadline=time.monotonic() + busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, *, deadline: float) -> None:
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


#: Held by a checkpointer's thread while it is inside SQLite, and by a fork: a process
#: forked then (``ledger verify --jobs``, multiprocessing) would inherit SQLite's locks
#: held by a thread that does not exist in it, and its first SQLite call could wait forever.
_IN_SQLITE = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_IN_SQLITE.acquire, after_in_parent=_IN_SQLITE.release,
                        after_in_child=_IN_SQLITE.release)


class Checkpointer:
    """Copies a connection's committed pages from the WAL into the database file in a
    thread of its own, so that a commit does not wait for it.

    SQLite copies them when a commit leaves 1,000 pages or more in the WAL, in the
    committing call (the "automatic checkpoint"): after an import of the province-year
    that is 0.7 s of the commit. :meth:`commit` commits without it and has the same
    passive checkpoint run on a connection of the thread's own (without the GIL) while the
    caller goes on; :meth:`close` runs a last one and waits for it. A passive checkpoint
    never waits for readers or writers and may stop short (a reader of another connection
    may still need the older pages); what it leaves is copied by the next one, or by SQLite
    when the file's last connection closes. Where there is no thread to do it (none could
    start, or it could not open the file), a commit copies as SQLite always does, so the
    WAL does not grow without end. Other commits on the connection are left as they were
    (SQLite's automatic checkpoint).
    """

    def __init__(self, path: str) -> None:
        # absolute: the thread opens the file when it starts, maybe after a chdir
        self._path = os.path.abspath(path)
        self._kicked = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    def commit(self, conn: sqlite3.Connection) -> None:
        """``COMMIT`` on ``conn`` (a connection to this file), copied beside the caller."""
        if self._thread is not None and not self._thread.is_alive():
            conn.execute("COMMIT")  # the thread is gone: SQLite copies in the commit
            return
        (every,) = conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            conn.execute("COMMIT")
        finally:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(every)}")
        self._kick()

    def _kick(self) -> None:
        if self._thread is None:
            # a daemon: a store never closed must not keep the process alive at its end (the
            # thread waits for a close that never comes); a copy cut short by the exit only
            # leaves pages in the WAL, as a crash does
            thread = threading.Thread(target=self._run, name="ecocomp-checkpoint", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                # no thread to spare: the commit stands all the same, its pages stay in the
                # WAL (copied by a later checkpoint); a later commit tries again
                return
            self._thread = thread
        self._kicked.set()

    def close(self) -> None:
        """Copy what is left (what no reader still needs) and wait until it is done."""
        if self._thread is None:
            return
        self._closing = True
        self._kicked.set()
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        try:
            with _IN_SQLITE:
                conn = sqlite3.connect(self._path, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error:
            return  # nothing copied here: SQLite copies it when the last connection closes
        try:
            while True:
                self._kicked.wait()
                self._kicked.clear()
                # read before the checkpoint starts: when set, every commit came before it
                last = self._closing
                with _IN_SQLITE:
                    self._copy(conn)
                if last:
                    return
        finally:
            with _IN_SQLITE:
                conn.close()

    @staticmethod
    def _copy(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # the commits' pages stay in the WAL, for the next checkpoint


def open_read_only(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection that cannot write to the existing file ``path`` (nor create it)."""
    if not Path(path).is_file():
        raise sqlite3.OperationalError("unable to open database file")
    return sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)


def open_reading(path: str | os.PathLike[str]) -> Any:
    """A connection that only reads ``path``: :func:`open_read_only` of an SQLite file, or
    a ``postgresql://`` URL (the driver's errors said in plain words)."""
    name = os.fspath(path)
    if not postgres.is_url(name):
        return open_read_only(name)
    try:
        return postgres.connect(name)
    except EcocompError:
        raise
    except Exception as exc:  # the driver's own errors
        raise EcocompError(postgres.describe(exc, name)) from None


def has_table(path: str, table: str) -> bool:
    """Whether the existing SQLite file ``path`` holds ``table``; opened read-only, unchanged.

    Raises :class:`sqlite3.DatabaseError` if ``path`` is missing or not a database.
    """
    conn = open_read_only(path)
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    finally:
        conn.close()
    return found is not None


def describe(exc: sqlite3.Error, path: str | os.PathLike[str] | None) -> str:
    """What an SQLite error means for the user of the file ``path``, in plain words.

    >>> describe(sqlite3.OperationalError("attempt to write a readonly database"), "s.db")
    's.db: the file is read-only; this command writes to it, so use a writable copy'
    """
    name = os.fspath(path) if path is not None else "the database"
    text = str(exc)
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return f"{name}: the file is read-only; this command writes to it, so use a writable copy"
    if "unable to open database file" in low:
        folder = Path(name).parent
        if path is not None and not folder.is_dir():
            return f"{name}: the folder {folder} does not exist; create it or choose another path"
        return (f"{name}: cannot open the file; check that it exists and that you may read "
                "and write it and its folder")
    if "file is not a database" in low:
        return f"{name}: not an SQLite database; check the --db path"
    if "malformed" in low or "corrupt" in low:
        return (f"{name}: the database file is damaged ({text}); restore it from a backup, "
                "then run `ecocomp ledger verify`")
    if "locked" in low or "busy" in low:
        return (f"{name}: another program is writing to the database ({text}); try again "
                "when it has finished")
    if "disk" in low or "full" in low or "i/o" in low:
        return f"{name}: the disk refused a write ({text}); check free space and the disk"
    return f"{name}: database error ({text}); check the --db path"
