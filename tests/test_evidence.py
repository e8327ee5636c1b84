"""Stored readings are evidence: the ledger records a digest of the monthly sums and daily
flows each settlement read, ``ledger verify --with-readings`` re-derives it from the raw
readings, and settle refuses a database whose sums were edited behind its back."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections import defaultdict
from datetime import date
from decimal import Context, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import ecocomp
from ecocomp.cli import main
from ecocomp.errors import SettlementError
from ecocomp.evidence import recorded_inputs, verify_readings
from ecocomp.store import ReadingStore, StoreError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
# 澧水 2021-03: TP 0.048 is Ⅱ (no payment); a sum raised by 1 mg/L makes the month 劣Ⅴ, so
# a settlement from it would post an 80万 adjustment "because the files changed".
TAMPER_SUM = ("UPDATE readings_monthly SET high = high + 1 WHERE section = 'lishui-zjj-cd' "
              "AND month = '2021-03' AND parameter = 'tp'")
TAMPER_READING = ("UPDATE readings SET value = '1.048', eff_units = 10480000000 WHERE id = "
                  "(SELECT id FROM readings WHERE section = 'lishui-zjj-cd' AND parameter = 'tp' "
                  "AND sampled_at LIKE '2021-03%' AND superseded_by IS NULL)")


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def settle(project: Path, db: Path, year: int = YEAR) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=year, ledger=ledger,
                              today=date(2022, 3, 15))


def execute(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        assert conn.execute(sql).rowcount == 1
    conn.close()


def ledger_size(db: Path) -> int:
    with ecocomp.Ledger.open(db, create=False) as ledger:
        return len(ledger)


# --------------------------------------------------------------------------- the digest


def independent_digest(db: Path, year: int) -> str:
    """The inputs digest as docs/ledger.md defines it, from the raw readings alone."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT section, sampled_at, parameter, source, value, below_dl, flag FROM "
        "readings_all WHERE superseded_by IS NULL AND sampled_at >= ? AND sampled_at < ?",
        (f"{year - 1}-01-01", f"{year + 1}-01-01")).fetchall()
    conn.close()
    groups: dict[tuple[str, str, str, str], list[tuple[Decimal, int, str]]] = defaultdict(list)
    days: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for section, at, parameter, source, value, below, flag in rows:
        effective = Decimal(value) / 2 if below else Decimal(value)
        groups[(section, at[:7], parameter, source)].append((effective, below, flag))
        if parameter == "flow" and flag != "invalid":
            days[(section, at[:10])].append(Decimal(value))
    blocks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (section, month, parameter, source), items in sorted(groups.items(),
                                                             key=lambda kv: (kv[0][2], kv[0][3])):
        valid = [(v, b) for v, b, f in items if f != "invalid"]
        total = sum((v for v, _ in valid), Decimal(0))
        blocks[(section, month)].append(
            f"{parameter}\t{source}\t{len(valid)}\t{total:f}\t{sum(b for _, b in valid)}\t"
            f"{sum(f == 'suspect' for _, _, f in items)}\t"
            f"{sum(f == 'invalid' for _, _, f in items)}\n")
    for (section, day), values in sorted(days.items()):
        mean = Context(prec=50).divide(sum(values, Decimal(0)), Decimal(len(values)))
        blocks[(section, day[:7])].append(f"flow-day\t{day}\t{mean:f}\n")
    lines = "".join(
        f"{section}/{month}\t{hashlib.sha256(''.join(text).encode()).hexdigest()}\n"
        for (section, month), text in sorted(blocks.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_every_posted_transaction_carries_the_digest_of_the_readings_it_was_computed_from(
        settled):
    want = independent_digest(settled, YEAR)
    with ecocomp.Ledger.open(settled, create=False) as ledger:
        found = {tx.inputs_digest for tx in ledger.transactions()}
        runs = recorded_inputs(ledger.connection)
    assert found == {want}
    assert [(r.year, r.digest) for r in runs] == [(YEAR, want)]


def test_a_fresh_database_verifies_with_its_readings(settled):
    report = verify_readings(settled)
    assert report.ok, report.problems
    assert report.covered == 62 and report.runs == 1 and report.sums > 0


def test_the_cli_verifies_with_readings(settled):
    result = run("ledger", "verify", "--db", settled, "--with-readings")
    assert result.exit_code == 0, result.output
    assert "monthly sums match the stored readings" in result.stdout


# --------------------------------------------------------------------------- tampering


def test_an_edited_monthly_sum_is_refused_by_settle_naming_section_and_month(db):
    execute(db, TAMPER_SUM)
    size = ledger_size(db)
    with pytest.raises(SettlementError, match=r"lishui-zjj-cd/2021-03.*changed outside "
                                              r"ecocomp.*--with-readings"):
        settle(EXAMPLE, db)
    assert ledger_size(db) == size  # no 80万 adjustment


def test_the_cli_settle_refuses_an_edited_sum_without_a_traceback(db):
    execute(db, TAMPER_SUM)
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", db, "--quiet")
    assert result.exit_code == 1
    assert "lishui-zjj-cd/2021-03" in result.output and "Traceback" not in result.output


def test_verify_with_readings_names_an_edited_sum(db):
    execute(db, TAMPER_SUM)
    report = verify_readings(db)
    assert not report.ok
    assert any("lishui-zjj-cd 2021-03" in p for p in report.problems), report.problems
    result = run("ledger", "verify", "--db", db, "--with-readings")
    assert result.exit_code == 1
    assert "lishui-zjj-cd 2021-03" in result.output
    plain = run("ledger", "verify", "--db", db)  # the ledger itself is intact
    assert plain.exit_code == 0, plain.output


def test_verify_with_readings_names_an_edited_raw_reading(db):
    execute(db, TAMPER_READING)
    problems = verify_readings(db).problems
    assert any("stored sums of lishui-zjj-cd 2021-03" in p for p in problems), problems
    assert any("settlement of 2021" in p and "lishui-zjj-cd/2021-03" in p for p in problems)


def test_an_import_that_would_recompute_an_edited_month_is_refused(db, tmp_path):
    execute(db, TAMPER_READING)
    conn = sqlite3.connect(db)
    section, at, source = conn.execute(
        "SELECT section, sampled_at, source FROM readings WHERE section = 'lishui-zjj-cd' "
        "AND parameter = 'do' AND sampled_at LIKE '2021-03%' AND superseded_by IS NULL"
    ).fetchone()
    conn.close()
    fix = tmp_path / "fix.csv"
    fix.write_text(HEADER + f"{section},{at},do,9.9,mg/L,{source},\n", encoding="utf-8")
    with ReadingStore.open(db) as store, pytest.raises(StoreError, match="lishui-zjj-cd 2021-03"):
        store.import_file(fix, correction=True)


def test_an_edited_digest_record_is_caught(db):
    execute(db, "UPDATE settlement_inputs SET digest = 'ab' || substr(digest, 3)")
    problems = verify_readings(db).problems
    assert any("settlement_inputs" in p for p in problems), problems
    assert any("no recorded settlement of 2021" in p for p in problems), problems


# --------------------------------------------------------------------------- legitimate change


def test_a_correction_and_a_resettle_still_verify(db, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "corrections").mkdir()
    (project / "corrections" / "2020.csv").write_text(
        HEADER + "lishui-zjj-cd,2020-03-09,tp,0.150,mg/L,manual,\n", encoding="utf-8")
    result = settle(project, db)
    assert result.adjusted >= 1
    report = verify_readings(db)
    assert report.ok, report.problems
    with ecocomp.Ledger.open(db, create=False) as ledger:
        runs = recorded_inputs(ledger.connection)
    assert len(runs) == 2 and runs[0].last_import < runs[1].last_import
    assert runs[1].digest == independent_digest(db, YEAR)
    again = settle(project, db)  # nothing new: no new record either
    assert again.adjusted == 0
    with ecocomp.Ledger.open(db, create=False) as ledger:
        assert len(recorded_inputs(ledger.connection)) == 2


def test_deleted_digest_records_are_caught(db):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP TABLE settlement_inputs")
    conn.close()
    problems = verify_readings(db).problems
    assert problems and all("no recorded settlement" in p for p in problems)


def test_a_ledger_settled_before_digests_is_verified_as_uncovered(tmp_path, monkeypatch):
    real = ecocomp.settlement._plan
    # what ecocomp did before: inputs_digest is the digest of the basis, nothing recorded
    monkeypatch.setattr(ecocomp.settlement, "_plan",
                        lambda *a, **k: real(*a, **{**k, "inputs": None}))
    monkeypatch.setattr(ecocomp.settlement, "record_inputs", lambda *a, **k: None)
    db = tmp_path / "old.db"
    settle(EXAMPLE, db)
    report = verify_readings(db)
    assert report.ok, report.problems
    assert (report.covered, report.uncovered, report.runs) == (0, 62, 0)


def test_the_json_verify_with_readings_keeps_the_ledger_fields(db):
    import json

    execute(db, TAMPER_SUM)
    result = run("ledger", "verify", "--db", db, "--with-readings", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["count"] == 62 and data["first_bad_seq"] is None
    assert data["readings"]["ok"] is False and data["readings"]["monthly_sums"] > 0
    assert any("lishui-zjj-cd 2021-03" in p for p in data["readings"]["problems"])


def test_a_ledger_without_readings_is_reported_not_a_traceback(tmp_path):
    bare = tmp_path / "ledger-only.db"
    ecocomp.Ledger.open(bare).close()
    result = run("ledger", "verify", "--db", bare, "--with-readings")
    assert result.exit_code == 1
    assert "holds no readings" in result.output and "Traceback" not in result.output


def test_a_monthly_sum_no_reading_gives_is_named_even_after_a_settle_read_it(db, tmp_path):
    """A row added to readings_monthly (an "automatic" tp sum for a section-month that has
    only manual samples), then a settlement that read it (a new file of another section
    was imported, so the run does not compare with the run before): the run's digest holds
    the added sum, so only the check of the stored sums against the readings can tell — it
    compared one difference only and missed rows with no readings behind them."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "readings" / "2021-extra.csv").write_text(
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "jinyushi,2021-05-25,cd,0.0020,mg/L,manual,\n", encoding="utf-8")
    execute(db, "INSERT INTO readings_monthly SELECT section, month, parameter, 'automatic', "
                "count, high, low, inexact, exponent, nondetects, suspect, invalid FROM "
                "readings_monthly WHERE section = 'lishui-zjj-cd' AND month = '2021-03' "
                "AND parameter = 'tp' AND source = 'manual'")
    settle(project, db)  # it reads the stored sums, the added one too
    problems = verify_readings(db).problems
    assert any("stored sums of lishui-zjj-cd 2021-03" in p for p in problems), problems
