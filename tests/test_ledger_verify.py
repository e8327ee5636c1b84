"""verify_file and `ecocomp ledger verify`: read-only, never writing, optionally parallel."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from ledger_forgery import opened_without_triggers

from ecocomp.cli import main
from ecocomp.ledger import Ledger, NewTransaction, Transfer
from ecocomp.ledger.verify import verify_file

A, B = "430700", "430800"


def clock() -> datetime:
    return datetime(2024, 2, 1, tzinfo=UTC)


def accrual(key: str, **more: object) -> NewTransaction:
    return NewTransaction(key=key, kind="accrual", booked_on=date(2023, 1, 31),
                          transfers=[Transfer.between(A, B, "100.00", purpose="accrued")],
                          **more)  # type: ignore[arg-type]


def forty(path: Path) -> Path:
    """40 transactions; #30 corrects #3 (across any split), checkpoints at 10 and 40."""
    with Ledger.open(path, clock=clock) as ledger:
        ledger.post_many([accrual(f"k{i}") for i in range(1, 11)])
        ledger.checkpoint()
        ledger.post_many([accrual(f"k{i}") for i in range(11, 30)])
        ledger.post(NewTransaction(key="k30", kind="adjustment", corrects="k3", reason="r",
                                   booked_on=date(2023, 2, 1),
                                   transfers=[Transfer.between(B, A, "1.00", purpose="x")]))
        ledger.post_many([accrual(f"k{i}") for i in range(31, 41)])
        ledger.checkpoint()
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_verify_of_a_copy_in_a_read_only_folder_writes_nothing(tmp_path: Path):
    """The copy is a WAL database with no -wal file: opened immutable, nothing is created.

    Tests run as root, who may write anyway; so the check is that no file appears or
    changes, not that a write fails.
    """
    original = forty(tmp_path / "ledger.db")
    folder = tmp_path / "media"
    folder.mkdir()
    copy = folder / "ledger.db"
    shutil.copy2(original, copy)
    copy.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        before = snapshot(folder)
        result = CliRunner().invoke(main, ["ledger", "verify", "--db", str(copy)])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("OK: 40 transactions")
        assert snapshot(folder) == before  # no -wal, no -shm, same bytes, same mtime
    finally:
        folder.chmod(stat.S_IRWXU)


def test_verify_reads_changes_still_in_the_wal_file(tmp_path: Path):
    """With another connection open, the latest posts are only in -wal: read through it."""
    path = forty(tmp_path / "ledger.db")
    with Ledger.open(path, clock=clock) as writer:
        writer.post(accrual("k41"))
        assert Path(f"{path}-wal").exists()
        report = verify_file(path)
    assert report.ok and report.count == 41


def test_verify_does_not_migrate_an_old_ledger(tmp_path: Path):
    from ledger_forgery import write_tx1_ledger

    path = tmp_path / "old.db"
    write_tx1_ledger(path, [accrual("a"), accrual("b")])
    before = path.read_bytes()
    report = verify_file(path)
    assert report.ok and report.schema_version == 1 and report.tx2_from_seq is None
    assert path.read_bytes() == before


@pytest.mark.parametrize("jobs", [2, 3])
def test_jobs_give_the_same_report(tmp_path: Path, jobs: int):
    path = forty(tmp_path / "ledger.db")
    assert verify_file(path, jobs=jobs) == verify_file(path)
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transfers SET amount_fen = 1 WHERE seq = 33")
    one, many = verify_file(path), verify_file(path, jobs=jobs)
    assert (one.ok, one.first_bad_seq) == (many.ok, many.first_bad_seq) == (False, 33)
    assert one.reason == many.reason


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_find_a_correction_of_a_later_key_across_ranges(tmp_path: Path, jobs: int):
    path = forty(tmp_path / "ledger.db")
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET corrects = 'k38' WHERE seq = 30")
    report = verify_file(path, jobs=jobs)
    assert (report.ok, report.first_bad_seq) == (False, 30)
    assert report.reason is not None and report.reason.startswith("corrects 'k38', which is")


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_find_a_key_used_twice_across_ranges(tmp_path: Path, jobs: int):
    path = forty(tmp_path / "ledger.db")
    with opened_without_triggers(path) as conn:  # UNIQUE taken off the key behind SQLite
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'key TEXT NOT NULL UNIQUE', "
                     "'key TEXT NOT NULL') WHERE name = 'ledger_transactions'")
        conn.execute("DELETE FROM sqlite_master "
                     "WHERE name = 'sqlite_autoindex_ledger_transactions_1'")
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transactions SET key = 'k2' WHERE seq = 35")
    report = verify_file(path, jobs=jobs, quick=True)
    assert report.ok is False and report.quick is True
    assert "transaction #35: key already used by an earlier transaction" in report.problems


def test_quick_and_json_flags(tmp_path: Path):
    path = forty(tmp_path / "ledger.db")
    result = CliRunner().invoke(main, ["ledger", "verify", "--db", str(path), "--quick",
                                       "--jobs", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert '"quick": true' in result.stdout and '"tx2_from_seq": 1' in result.stdout
    from ecocomp.ledger import compiled
    assert f'"scan": "{compiled.describe()}"' in result.stdout  # a sound tx/2 ledger


def test_a_damaged_file_is_reported_not_crashed_on(tmp_path: Path):
    path = forty(tmp_path / "ledger.db")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                        "'ledger_transactions'").fetchone()[0]
    conn.close()
    with open(path, "r+b") as f:  # scribble over the transactions' root page
        f.seek((root - 1) * page + 8)
        f.write(os.urandom(64))
    result = CliRunner().invoke(main, ["ledger", "verify", "--db", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_the_file_check_runs_beside_the_scan_only_when_nothing_is_uncommitted(
        tmp_path: Path, monkeypatch):
    from ecocomp.ledger import verify

    ran: list[str] = []
    check = verify._integrity_of_file

    def spy(name: str, mode: str, existing: set[str], quick: bool) -> list:
        ran.append(name)
        return check(name, mode, existing, quick)

    monkeypatch.setattr(verify, "BESIDE_FROM", 40)
    monkeypatch.setattr(verify, "_integrity_of_file", spy)
    path = forty(tmp_path / "ledger.db")
    with Ledger.open(path, clock=clock) as ledger:
        assert ledger.verify().ok
        assert ran == [str(path)]  # a second connection, in a thread
        with ledger.batch() as batch:
            batch.post(accrual("k41"))
            report = ledger.verify()  # the pending transaction is only on this connection
        assert report.ok and report.count == 41
        assert ran == [str(path)]
    with Ledger.open(tmp_path / "small.db", clock=clock) as ledger:
        ledger.post(accrual("k1"))
        assert ledger.verify().ok
    assert ran == [str(path)]  # fewer than BESIDE_FROM transactions: checked inline
    with Ledger.open(":memory:", clock=clock) as ledger:
        ledger.post_many([accrual(f"k{i}") for i in range(1, 41)])
        assert ledger.verify().ok
    assert ran == [str(path)]  # no file for a second connection


@pytest.mark.parametrize("jobs", [2, 3])
def test_jobs_find_a_problem_in_the_range_this_process_scans(tmp_path: Path, jobs: int):
    path = forty(tmp_path / "ledger.db")
    with opened_without_triggers(path) as conn:
        conn.execute("UPDATE ledger_transfers SET amount_fen = 1 WHERE seq = 5")
    one, many = verify_file(path), verify_file(path, jobs=jobs)
    assert (one.ok, one.first_bad_seq) == (many.ok, many.first_bad_seq) == (False, 5)
    assert one.reason == many.reason


def test_jobs_scan_the_first_range_here_and_the_others_in_jobs_minus_one_workers(
        tmp_path: Path, monkeypatch):
    """The parent scans too instead of waiting; SQLite's check is a thread, not a process."""
    from concurrent.futures import ThreadPoolExecutor

    from ecocomp.ledger import verify

    pools: list[int] = []
    ranges: list[int] = []
    scan_range = verify._scan_range

    class Workers(ThreadPoolExecutor):  # a stand-in for the process pool, to watch it
        def __init__(self, max_workers: int, mp_context: object) -> None:
            pools.append(max_workers)
            super().__init__(max_workers=max_workers)

    def spy(name: str, mode: str, first: int, *rest: object) -> tuple:
        ranges.append(first)
        return scan_range(name, mode, first, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(verify, "ProcessPoolExecutor", Workers)
    monkeypatch.setattr(verify, "_scan_range", spy)
    path = forty(tmp_path / "ledger.db")
    assert verify_file(path, jobs=3) == verify_file(path)
    assert pools == [2] and sorted(ranges) == [14, 27]


def test_the_file_check_falls_back_to_the_ledgers_connection(tmp_path: Path, monkeypatch):
    """If the second connection cannot be opened, the check runs on the ledger's own."""
    from ecocomp.ledger import verify

    inline: list[bool] = []
    check = verify._check_integrity

    def cannot_open(*_args: object) -> list:
        raise sqlite3.OperationalError("unable to open database file")

    def spy(conn: sqlite3.Connection, existing: set[str], quick: bool) -> list:
        inline.append(quick)
        return check(conn, existing, quick)

    path = forty(tmp_path / "ledger.db")
    monkeypatch.setattr(verify, "BESIDE_FROM", 1)
    monkeypatch.setattr(verify, "_integrity_of_file", cannot_open)
    monkeypatch.setattr(verify, "_check_integrity", spy)
    with Ledger.open(path, clock=clock) as ledger:
        report = ledger.verify(quick=True)
    assert report.ok and report.quick and inline == [True]
