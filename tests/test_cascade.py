"""Year dependencies: a correction of 2020 makes a settled 2021 stale (澧水's improvement rule
compares each month with the same month of 2020); settle reports it, ``--cascade`` fixes it
in the same all-or-nothing run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from settlement_views import fresh_nets, ledger_nets

import ecocomp
from ecocomp.agreements import preset
from ecocomp.cli import main
from ecocomp.dependencies import depends_on_previous_year, reads_previous_year
from ecocomp.errors import SettlementError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
# 澧水 2020-03 becomes Ⅲ (TP 0.150), so 2021-03 (Ⅱ) counts as improved: 常德 pays 80万 more.
CORRECTION = HEADER + "lishui-zjj-cd,2020-03-09,tp,0.150,mg/L,manual,\n"
CLEARING_2021 = "lishui-zjj-cd-2020/2021/clearing"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def settle(project: Path, db: Path, year: int, **options: object) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=year, ledger=ledger,
                              today=date(2022, 3, 15), **options)  # type: ignore[arg-type]


def fresh(project: Path, year: int) -> ecocomp.SettlementResult:
    return ecocomp.settle(ecocomp.load_project(project), year=year, dry_run=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def both_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with 2020 and then 2021 settled into one database."""
    db = tmp_path_factory.mktemp("cascade") / "settle.db"
    settle(EXAMPLE, db, 2020)
    settle(EXAMPLE, db, 2021)
    return db


@pytest.fixture
def corrected(tmp_path: Path, both_years: Path) -> tuple[Path, Path]:
    """A copy of the project with the 2020 correction, and a copy of the database."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "corrections").mkdir()
    (project / "corrections" / "2020.csv").write_text(CORRECTION, encoding="utf-8")
    db = tmp_path / "settle.db"
    shutil.copy(both_years, db)
    return project, db


def test_settling_2020_without_cascade_reports_2021_as_stale_and_leaves_it(corrected):
    project, db = corrected
    with ecocomp.Ledger.open(db) as ledger:
        before = ledger_nets(ledger, 2021)
    result = settle(project, db, 2020)
    assert [r.year for r in result.stale] == [2021]
    assert result.stale[0].adjusted >= 1
    assert any(c.corrects == CLEARING_2021 for c in result.stale[0].changes)
    assert result.to_json()["stale_years"] == [2021]
    with ecocomp.Ledger.open(db) as ledger:
        assert ledger_nets(ledger, 2021) == before  # reported, not changed


def test_the_cli_warns_with_the_year_and_the_command_that_fixes_it(corrected):
    project, db = corrected
    result = run("settle", project, "--year", "2020", "--db", db, "--quiet")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1, result.stderr
    assert "2021 is stale" in warning[0]
    assert f"ecocomp settle {project} --year 2020 --db {db} --cascade" in warning[0]


def test_cascade_settles_2021_too_and_the_ledger_equals_a_fresh_computation(corrected):
    project, db = corrected
    result = settle(project, db, 2020, cascade=True)
    assert result.stale == ()
    assert [r.year for r in result.cascaded] == [2021]
    [later] = result.cascaded
    assert not later.dry_run and later.adjusted >= 1
    with ecocomp.Ledger.open(db) as ledger:
        assert ledger.verify().ok
        for year in (2020, 2021):
            assert ledger_nets(ledger, year) == fresh_nets(fresh(project, year)), year
        clearing = sum((tx.effect("430800", "payable") for tx in ledger.transactions()
                        if (tx.corrects or tx.key).startswith(CLEARING_2021)), Decimal(0))
    assert clearing == Decimal("1600000.00")  # 常德 pays 张家界 160万 for 2021 now
    again = settle(project, db, 2020)
    assert again.stale == () and again.adjusted == 0


def test_the_cli_cascade_prints_both_years_and_no_warning(corrected):
    project, db = corrected
    result = run("settle", project, "--year", "2020", "--db", db, "--quiet", "--cascade")
    assert result.exit_code == 0, result.output
    assert "Settlement 2020" in result.stdout and "Settlement 2021" in result.stdout
    assert "adjusted lishui-zjj-cd-2020/2021/clearing" in result.stdout
    assert "warning" not in result.stderr
    as_json = run("settle", project, "--year", "2020", "--db", db, "--json", "--cascade")
    assert json.loads(as_json.stdout)["cascaded"] == []  # nothing left to do


def test_a_dry_run_previews_the_cascade_and_writes_nothing(corrected):
    project, db = corrected
    before = sha(db)
    result = settle(project, db, 2020, cascade=True, dry_run=True)
    assert [r.year for r in result.cascaded] == [2021]
    assert result.cascaded[0].dry_run
    assert sha(db) == before


def test_the_cascade_is_all_or_nothing(corrected, monkeypatch):
    project, db = corrected
    real = ecocomp.settlement.compute

    def failing(project_, assessments, year):  # type: ignore[no-untyped-def]
        if year == 2021:
            raise SettlementError("2021 cannot be computed (test)")
        return real(project_, assessments, year)

    monkeypatch.setattr(ecocomp.settlement, "compute", failing)
    with ecocomp.Ledger.open(db) as ledger:
        count = len(ledger)
    with pytest.raises(SettlementError, match="2021 cannot be computed"):
        settle(project, db, 2020, cascade=True)
    with ecocomp.Ledger.open(db) as ledger:
        assert len(ledger) == count  # 2020's adjustments were not posted either


def test_settling_the_later_year_reports_nothing_about_the_earlier(corrected):
    project, db = corrected
    result = settle(project, db, 2021)
    assert result.stale == () and result.adjusted >= 1


def test_an_unsettled_later_year_is_not_stale(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    db = tmp_path / "only-2020.db"
    settle(project, db, 2020)
    (project / "corrections").mkdir()
    (project / "corrections" / "2020.csv").write_text(CORRECTION, encoding="utf-8")
    assert settle(project, db, 2020).stale == ()


def test_only_improvement_rules_and_unknown_formulas_read_the_year_before():
    assert reads_previous_year(preset("lishui-zjj-cd-2020"))  # improvement rule
    for name in ("lvshui-jx-hn-2019", "xiangjiang-2014-zhuzhou-change",
                 "xiangjiang-2014-zhuzhou-flow", "xiangjiang-2014-zhuzhou-target"):
        assert not reads_previous_year(preset(name)), name
    project = ecocomp.load_project(EXAMPLE)
    assert depends_on_previous_year(project.agreements, 2021)
    assert not depends_on_previous_year(project.agreements, 2030)  # nothing in force
