"""The report's heading says what the ledger holds: 流域, 大气, 南山国家公园, or neutral."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ecocomp.cli import main
from ecocomp.ledger import Ledger
from ecocomp.project import load_project
from ecocomp.reports import render_report, report_title
from ecocomp.settlement import settle

PARK = Path(__file__).resolve().parent.parent / "examples" / "nanshan-2026"


def _report(*formulas: str) -> SimpleNamespace:
    agreements = {f"a{i}": SimpleNamespace(formula=f) for i, f in enumerate(formulas)}
    return SimpleNamespace(catalog=SimpleNamespace(agreements=agreements))


@pytest.mark.parametrize(("formulas", "zh", "en"), [
    (("class_ladder", "pollution_index", "fund_split"), "流域生态保护补偿结算报告",
     "Watershed ecological compensation settlement report"),
    (("air_attainment", "air_change"), "大气生态保护补偿结算报告",
     "Air quality ecological compensation settlement report"),
    (("area_rate",), "南山国家公园生态保护补偿结算报告",
     "Nanshan National Park ecological compensation settlement report"),
    (("class_ladder", "air_attainment"), "生态保护补偿结算报告",
     "Ecological compensation settlement report"),
    (("no_such_formula",), "生态保护补偿结算报告", "Ecological compensation settlement report"),
    ((), "生态保护补偿结算报告", "Ecological compensation settlement report"),
])
def test_the_title_names_the_scheme_the_ledger_holds(formulas: tuple[str, ...], zh: str,
                                                     en: str) -> None:
    report = _report(*formulas)
    assert report_title(report, "zh") == zh  # type: ignore[arg-type]
    assert report_title(report, "en") == en  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def park_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("park-title") / "park.db"
    with Ledger.open(db) as ledger:
        settle(load_project(PARK), year=2026, ledger=ledger)
    return db


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_park_report_is_titled_by_the_park_in_either_language(park_db: Path, tmp_path: Path,
                                                                 lang: str) -> None:
    out = tmp_path / "park.html"
    result = CliRunner().invoke(main, ["--lang", lang, "report", "--db", str(park_db),
                                       "--year", "2026", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<title>南山国家公园生态保护补偿结算报告 2026</title>" in page
    assert "Nanshan National Park ecological compensation settlement report" in page
    assert "流域" not in page.split("</h1>")[0]


def test_the_xlsx_report_carries_the_title(park_db: Path) -> None:
    book = load_workbook(io.BytesIO(render_report(park_db, 2026, "xlsx")))
    assert book.properties.title.startswith("南山国家公园生态保护补偿结算报告 2026")
    first = book.worksheets[0]["A1"].value
    assert first.startswith("南山国家公园生态保护补偿结算报告 2026") and "流域" not in first
