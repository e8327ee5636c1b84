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

import sqlite3
import time

__all__ = ["connect"]

_SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})


def connect(path: str, *, busy_timeout_ms: int, synchronous: str) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with WAL, a busy timeout and ``synchronous`` level.

    Raises :class:`sqlite3.DatabaseError` if the file is not a database, or is still locked
    when ``busy_timeout_ms`` has passed; the caller turns it into its own error.
    """
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {synchronous!r}")
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
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
