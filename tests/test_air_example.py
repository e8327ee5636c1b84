"""The bundled air example: its synthetic data, `ecocomp demo --air`, statements, report, verify."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from statistics import mean

import pytest
from click.testing import CliRunner

from ecocomp.cli import main
from ecocomp.errors import ValidationFailed
from ecocomp.ledger import Ledger
from ecocomp.packagedata import example_module
from ecocomp.project import load_project
from ecocomp.settlement import settle

_SYNTH = example_module("air_synth")  # installed, or examples/ of this checkout
CITIES, HEADER, generate, rows = _SYNTH.CITIES, _SYNTH.HEADER, _SYNTH.generate, _SYNTH.rows

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hunan-air-2021"


def test_the_generator_is_deterministic_and_seasonal() -> None:
    first = rows(2021)
    assert first == rows(2021) and first != rows(2021, seed=7)
    assert {r[0] for r in first} == set(CITIES) and len(CITIES) == 14
    assert len(first) == 14 * 365 * 6
    by_month: dict[tuple[str, int], list[Decimal]] = defaultdict(list)
    for _city, day, parameter, value in first:
        by_month[(parameter, date.fromisoformat(day).month)].append(Decimal(value))
    assert mean(by_month[("pm25", 1)]) > Decimal("1.8") * mean(by_month[("pm25", 7)])  # winter PM
    assert mean(by_month[("o3_8h", 8)]) > Decimal("1.4") * mean(by_month[("o3_8h", 1)])  # summer O3


def test_generated_files_are_marked_synthetic(tmp_path: Path) -> None:
    files = generate(tmp_path, years=(2021,))
    assert [f.name for f in files] == ["synthetic-city-days-2021.csv"]
    assert files[0].read_text(encoding="utf-8").startswith(HEADER)
    assert "SYNTHETIC" in (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert not (EXAMPLE / "air-readings").exists()  # generated, not shipped


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("air-demo")
    db, report = folder / "air.db", folder / "air.html"
    result = CliRunner().invoke(main, ["demo", "--air", "--db", str(db), "--report",
                                       str(report), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["verify"]["ok"] is True
    return db


def test_demo_air_settles_the_hunan_attainment_rewards(demo_db: Path) -> None:
    with Ledger.open(demo_db) as ledger:
        accruals = {tx.agreement: tx for tx in ledger.transactions()
                    if tx.kind == "accrual" and (tx.agreement or "").startswith("air-attain")}
    got = {a: tx.meta["amount"] for a, tx in accruals.items()}
    # synthetic data: 怀化 attains for the first time (1000万), 张家界 and 湘西 again (500万,
    # not stacked with their zero-heavy 200万), 郴州 and 益阳 miss grade II with no heavy day
    assert got == {"air-attainment-huaihua": "10000000.00",
                   "air-attainment-zhangjiajie": "5000000.00",
                   "air-attainment-xiangxi": "5000000.00",
                   "air-attainment-chenzhou": "2000000.00",
                   "air-attainment-yiyang": "2000000.00"}
    basis = accruals["air-attainment-huaihua"].meta["basis"]
    assert basis["first_time"] is True and basis["standard"] == "GB3095-2012"
    assert basis["evidence"]["valid"]["pm25"] is True


def test_statement_report_and_verify_of_the_air_year(demo_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    statement = runner.invoke(main, ["statement", "430800", "--db", str(demo_db), "--year",
                                     "2021"])
    assert statement.exit_code == 0, statement.output
    assert "attains grade II" in statement.output and "air-improvement-zhangjiajie" in \
        statement.output
    verify = runner.invoke(main, ["ledger", "verify", "--db", str(demo_db)])
    assert verify.exit_code == 0 and "OK" in verify.output
    out = tmp_path / "r.html"
    report = runner.invoke(main, ["report", "--db", str(demo_db), "--year", "2021", "--out",
                                  str(out)])
    assert report.exit_code == 0, report.output
    page = out.read_text(encoding="utf-8")
    assert '<section id="aqi">' in page and page.count('<table class="aqi">') == 14
    # one cell per city-day, its AQI in its title
    assert len(re.findall(r'title="2021-\d\d-\d\d AQI \d+ ', page)) == 14 * 365
    assert "湘西土家族苗族自治州 (433100)" in page


def test_the_air_year_resettles_unchanged_and_a_changed_value_is_refused_whole(
        demo_db: Path, tmp_path: Path) -> None:
    project = tmp_path / "air"
    shutil.copytree(EXAMPLE, project)
    generate(project)
    (project / "project.toml").write_text('id = "ecocomp-demo"\n', encoding="utf-8")
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    with Ledger.open(db) as ledger:
        again = settle(load_project(project), year=2021, ledger=ledger)
    assert (again.posted, again.adjusted, again.unchanged) == (0, 0, 38)
    # a value changed after import: refused with its place (air corrections are not yet
    # supported), and the run leaves the database as it was
    data = project / "air-readings" / "synthetic-city-days-2021.csv"
    text = data.read_text(encoding="utf-8").replace("431200,2021-01-05,pm25,", "431200,"
                                                    "2021-01-05,pm25,9")
    data.write_text(text, encoding="utf-8")
    with Ledger.open(db) as ledger, pytest.raises(ValidationFailed,
                                                  match="pm25_24h at 2021-01-05 for 431200"):
        settle(load_project(project), year=2021, ledger=ledger)
    with Ledger.open(db) as ledger:
        assert len(ledger) == 38 and ledger.verify().ok


def test_check_reports_a_bad_air_value_with_its_place(tmp_path: Path) -> None:
    project = tmp_path / "air"
    shutil.copytree(EXAMPLE, project)
    data = generate(project, years=(2021,))[0]
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = "430100,2021-01-02,pm25,abc\n"
    data.write_text("".join(lines), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(project)])
    assert result.exit_code == 1
    assert "synthetic-city-days-2021.csv:5:value: value 'abc' is not a number" in result.output


def test_an_air_only_report_leaves_out_the_water_classes(demo_db: Path) -> None:
    from ecocomp.reports import render_report

    page = render_report(demo_db, 2021).decode("utf-8")
    assert 'id="classes"' not in page and 'href="#classes"' not in page
    assert 'href="#aqi"' in page
