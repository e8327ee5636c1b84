"""Air values are in the readings evidence: the inputs digest, settle's guard, verify."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecocomp.cli import main
from ecocomp.errors import SettlementError
from ecocomp.evidence import recorded_inputs, verify_readings
from ecocomp.ledger import Ledger
from ecocomp.packagedata import example_module
from ecocomp.project import load_project
from ecocomp.settlement import settle

generate = example_module("air_synth").generate  # installed, or examples/ of this checkout

ROOT = Path(__file__).resolve().parent.parent
AIR = ROOT / "examples" / "hunan-air-2021"
PARK = ROOT / "examples" / "nanshan-2026"


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("air-evidence")
    project = folder / "air"
    shutil.copytree(AIR, project)
    generate(project)
    db = folder / "air.db"
    with Ledger.open(db) as ledger:
        settle(load_project(project), year=2021, ledger=ledger)
    return project, db


def _copy(settled: tuple[Path, Path], tmp_path: Path) -> Path:
    db = tmp_path / "copy.db"
    shutil.copy(settled[1], db)
    return db


def _edit(db: Path, city: str, day: str, parameter: str, value: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        changed = conn.execute(
            "UPDATE air_readings SET value = ? WHERE scope = 'city' AND site = ? AND at = ? "
            "AND parameter = ?", (value, city, day, parameter)).rowcount
    conn.close()
    assert changed == 1


def test_the_air_digest_covers_the_city_days_it_read(settled: tuple[Path, Path]) -> None:
    _, db = settled
    conn = sqlite3.connect(db)
    runs = recorded_inputs(conn)
    conn.close()
    keys = runs[-1].section_months
    # 14 cities, two years of months, keyed by city and the air state read
    assert len(keys) == 14 * 24 and all(k.startswith("air:") for k in keys)
    assert "air:430100@2-" in next(iter(sorted(keys)))
    assert runs[-1].digest != hashlib.sha256(b"").hexdigest()
    with Ledger.open(db) as ledger:
        digests = {tx.inputs_digest for tx in ledger.transactions() if tx.kind != "payment"}
    assert digests == {runs[-1].digest}
    assert verify_readings(db).ok


def test_verify_reports_an_air_value_edited_in_sqlite(settled: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    db = _copy(settled, tmp_path)
    _edit(db, "431200", "2021-01-05", "pm25_24h", "999")
    found = verify_readings(db)
    assert not found.ok
    text = "\n".join(found.problems)
    assert "431200 2021-01-05 (city day)" in text and "air:431200@" in text
    result = CliRunner().invoke(main, ["ledger", "verify", "--db", str(db), "--with-readings"])
    assert result.exit_code == 1 and "431200 2021-01-05" in result.output


def test_settle_refuses_over_an_air_value_edited_in_sqlite(settled: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    project, _ = settled
    db = _copy(settled, tmp_path)
    _edit(db, "430700", "2020-07-09", "o3_8h", "1")  # the year before counts too
    with Ledger.open(db) as ledger:
        count = len(ledger)
        with pytest.raises(SettlementError, match=r"常德市 \(430700\) 2020-07-09 \(city day\)"):
            settle(load_project(project), year=2021, ledger=ledger)
        with pytest.raises(SettlementError, match="430700"):
            settle(load_project(project), year=2021, ledger=ledger, dry_run=True)
        assert len(ledger) == count


def test_an_unchanged_air_year_resettles_and_a_new_import_is_no_edit(
        settled: tuple[Path, Path], tmp_path: Path) -> None:
    project, _ = settled
    db = _copy(settled, tmp_path)
    with Ledger.open(db) as ledger:
        again = settle(load_project(project), year=2021, ledger=ledger)
    assert again.posted == again.adjusted == 0
    # a new file (a new air state): read afresh, not taken for an edit
    extra = project.parent / "air-more"
    shutil.copytree(project, extra)
    (extra / "air-readings" / "late.csv").write_text(
        "city,date,parameter,value\n430100,2022-01-01,pm25,40\n", encoding="utf-8")
    with Ledger.open(db) as ledger:
        settle(load_project(extra), year=2021, ledger=ledger)
    assert verify_readings(db).ok


def test_park_runs_read_no_measurements(tmp_path: Path) -> None:
    db = tmp_path / "park.db"
    with Ledger.open(db) as ledger:
        settle(load_project(PARK), year=2026, ledger=ledger)
    conn = sqlite3.connect(db)
    runs = recorded_inputs(conn)
    conn.close()
    empty = hashlib.sha256(b"").hexdigest()
    assert [(r.section_months, r.digest) for r in runs] == [({}, empty)]
    with Ledger.open(db) as ledger:
        assert {tx.inputs_digest for tx in ledger.transactions()
                if tx.kind != "payment"} == {empty}
    found = verify_readings(db)
    assert found.ok and found.runs == 1 and found.no_measurements == 1
    result = CliRunner().invoke(main, ["--lang", "en", "ledger", "verify", "--db", str(db),
                                       "--with-readings"])
    assert result.exit_code == 0 and "1 read no measurements" in result.output
