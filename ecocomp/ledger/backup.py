"""Backups of a settlement database with SQLite's online backup API, verified after writing.

A ledger file runs in WAL mode: a committed transaction can sit in ``<db>-wal`` until SQLite
copies it into the main file. Copying only the ``.db`` file (``cp``, a file-level backup)
can therefore lose committed payments. :func:`backup_database` asks SQLite for a consistent
snapshot of everything committed (``sqlite3.Connection.backup``), writes it to a file
beside the target, checks the copy (it opens as a ledger, :meth:`Ledger.verify` passes and
it holds every transaction and checkpoint the source held), and only then renames it into
place, so a failed backup never replaces an earlier good one.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import attrs

from ecocomp import database
from ecocomp.errors import LedgerError
from ecocomp.ledger.checkpoints import LedgerHead
from ecocomp.ledger.ledger import Ledger

__all__ = ["BackupResult", "backup_database"]


@attrs.frozen
class BackupResult:
    """What :func:`backup_database` wrote: transaction count and the copy's head."""

    path: str
    count: int
    checkpoints: int
    head: LedgerHead | None


def backup_database(
    source: str | os.PathLike[str], target: str | os.PathLike[str], *,
    busy_timeout_ms: int = 30_000,
) -> BackupResult:
    """Copy the whole database ``source`` (ledger, readings, catalog) to ``target``.

    Safe while other processes write: the copy is one consistent committed state. Raises
    :class:`LedgerError` if the source fails verification (a backup of a tampered file would
    look like a good one) or the copy does not verify; ``target`` is then left as it was.
    """
    src_path, out = os.fspath(source), Path(target)
    if out.exists() and out.resolve() == Path(src_path).resolve():
        raise LedgerError(f"{out}: is the database itself; write the backup to another file")
    if not out.absolute().parent.is_dir():
        raise LedgerError(f"{out}: the folder {out.absolute().parent} does not exist; create "
                          "it or choose another path")
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with Ledger.open(src_path, create=False, busy_timeout_ms=busy_timeout_ms) as ledger:
            report = ledger.verify()
            if not report.ok:
                raise LedgerError(
                    f"{src_path}: fails verification at #{report.first_bad_seq} "
                    f"({report.reason}); a backup would copy the damage — restore from an "
                    "earlier backup instead"
                )
            temporary.unlink(missing_ok=True)
            copy = sqlite3.connect(temporary)
            try:
                conn = ledger.connection
                conn.execute("BEGIN")  # one snapshot for the copy and the counts
                try:
                    count, checkpoints = len(ledger), len(ledger.checkpoints())
                    conn.backup(copy)
                finally:
                    conn.execute("COMMIT")
            finally:
                copy.close()
        result = _check_copy(temporary, out, count, checkpoints)
        os.replace(temporary, out)
    except sqlite3.Error as exc:
        temporary.unlink(missing_ok=True)
        raise LedgerError(f"backup of {src_path} failed: {database.describe(exc, str(out))}"
                          ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return result


def _check_copy(copy: Path, target: Path, count: int, checkpoints: int) -> BackupResult:
    with Ledger.open(copy, create=False) as backup:
        report = backup.verify()
        if not report.ok:
            raise LedgerError(f"{target}: the backup does not verify ({report.reason}); the "
                              "disk may be failing: keep the earlier backup and try again")
        if len(backup) != count or len(backup.checkpoints()) != checkpoints:
            raise LedgerError(f"{target}: the backup holds {len(backup)} transactions, the "
                              f"database {count}; try again")
        head = backup.head()
        conn = backup.connection
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file
        conn.execute("PRAGMA journal_mode = DELETE")
    return BackupResult(path=os.fspath(target), count=count, checkpoints=checkpoints,
                        head=head)
