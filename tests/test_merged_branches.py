"""Where today's parallel branches meet: re-settle reuse, PostgreSQL ledgers, air evidence."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import EXAMPLE

import ecocomp
import ecocomp.settlement as settlement_module
from ecocomp.evidence import verify_readings
from ecocomp.ledger import ledger as ledger_module
from ecocomp.store import ReadingStore


def _clock() -> datetime:
    return datetime(2022, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.slow
def test_a_postgres_ledger_verifies_in_full_and_never_reuses_a_run(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL every checkpoint verifies the whole ledger (no schema cookie), and a
    run is never reused: nothing is recorded in ``settlement_runs`` of either database."""
    appended: list[int] = []
    computed: list[int] = []
    real_appended, real_compute = ledger_module.verify_appended, settlement_module._compute_year
    monkeypatch.setattr(ledger_module, "verify_appended",
                        lambda conn, seq: appended.append(seq) or real_appended(conn, seq))
    monkeypatch.setattr(settlement_module, "_compute_year",
                        lambda project, store, year, *a, **k: computed.append(year)
                        or real_compute(project, store, year, *a, **k))
    readings = tmp_path / "readings.db"
    for _ in range(2):
        with ecocomp.Ledger.open(pg_url, clock=_clock) as ledger, \
                ReadingStore.open(readings) as store:
            ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger,
                           store=store, today=date(2022, 3, 1))
    assert appended == []
    assert computed == [2021, 2021]
    conn = sqlite3.connect(readings)
    try:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'settlement_runs'"
                            ).fetchone() is None
    finally:
        conn.close()
    with ecocomp.Ledger.open(pg_url) as ledger:
        assert ledger.connection.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'settlement_runs'"
        ).fetchone() is None
        assert ledger.verify().ok


AIR = Path(__file__).resolve().parent.parent / "examples" / "hunan-air-2021"


def test_an_air_project_is_never_reused_so_its_air_values_are_always_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Air inputs are not in the fingerprint: every run assesses them again, so a value edited
    in SQLite after a run is refused by the next one (no recorded run hides it)."""
    import shutil

    from ecocomp.examples.air_synth import generate

    project = tmp_path / "air"
    shutil.copytree(AIR, project)
    generate(project)
    db = tmp_path / "air.db"
    computed: list[int] = []
    real = settlement_module._compute_year
    monkeypatch.setattr(settlement_module, "_compute_year",
                        lambda p, s, year, *a, **k: computed.append(year) or real(p, s, year,
                                                                                  *a, **k))
    for _ in range(2):
        with ecocomp.Ledger.open(db) as ledger:
            ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger)
    assert computed == [2021, 2021]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'settlement_runs'"
                            ).fetchone() is None
        with conn:
            changed = conn.execute(
                "UPDATE air_readings SET value = '1' WHERE scope = 'city' AND site = '430700' "
                "AND at = '2021-07-09' AND parameter = 'o3_8h'").rowcount
        assert changed == 1
    finally:
        conn.close()
    edited = r"430700\) 2021-07-09 \(city day\)"
    with ecocomp.Ledger.open(db) as ledger, pytest.raises(ecocomp.SettlementError, match=edited):
        ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger)


def test_monthly_sums_swapped_between_months_are_named_by_verify_with_readings(
        tmp_path: Path) -> None:
    """The run record is a shortcut, not tamper evidence (whoever can edit the sums can edit
    the record too): an edit keeping every total (two months' sums swapped) passes the
    re-settle, which posts nothing and keeps the amounts of the readings as imported, and
    ``ledger verify --with-readings`` names both months (docs/ledger.md)."""
    db = tmp_path / "water.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger,
                       today=date(2022, 3, 1))
    conn = sqlite3.connect(db)
    try:
        key = "section = ? AND month = ? AND parameter = ? AND source = ?"
        (*a, high_a, low_a), (*b, high_b, low_b) = conn.execute(
            "SELECT section, month, parameter, source, high, low FROM readings_monthly WHERE "
            "month LIKE '2021-%' AND high IS NOT NULL ORDER BY section, parameter, month "
            "LIMIT 2").fetchall()
        assert (high_a, low_a) != (high_b, low_b) and a[0] == b[0]
        with conn:  # every count and total stays what it was
            conn.execute(f"UPDATE readings_monthly SET high = ?, low = ? WHERE {key}",
                         (high_b, low_b, *a))
            conn.execute(f"UPDATE readings_monthly SET high = ?, low = ? WHERE {key}",
                         (high_a, low_a, *b))
    finally:
        conn.close()
    with ecocomp.Ledger.open(db) as ledger:
        again = ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger,
                               today=date(2022, 3, 1))
        assert again.posted == 0 and again.adjusted == 0
    report = verify_readings(db)
    text = "\n".join(str(problem) for problem in report.problems)
    assert not report.ok and a[1] in text and b[1] in text


def test_a_quick_verify_does_not_stand_in_for_the_checkpoints_full_one(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """verify(quick=True) runs only SQLite's quick_check: a checkpoint after it checks the
    whole ledger (integrity_check), not just what its batch appended."""
    from decimal import Decimal

    from ecocomp.ledger import NewTransaction, Transfer

    seen: list[str] = []
    real_appended, real_whole = ledger_module.verify_appended, ledger_module._verify_ledger
    monkeypatch.setattr(ledger_module, "verify_appended",
                        lambda conn, seq: seen.append("appended") or real_appended(conn, seq))
    monkeypatch.setattr(ledger_module, "_verify_ledger",
                        lambda conn, **k: seen.append(f"whole quick={k.get('quick', False)}")
                        or real_whole(conn, **k))
    with ecocomp.Ledger.open(db) as ledger:
        assert ledger.verify(quick=True).ok
        with ledger.batch() as batch:
            batch.post(NewTransaction(
                key="x/2021/quick", kind="accrual", booked_on=date(2021, 12, 31),
                transfers=[Transfer.between("430700", "430800", Decimal("1.00"),
                                            purpose="accrued")]))
            ledger.checkpoint()
    assert seen == ["whole quick=True", "whole quick=False"]
