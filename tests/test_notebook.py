"""Python and Jupyter: short reprs, small escaped HTML tables, pandas frames with Decimals."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import ecocomp
from ecocomp.errors import EcocompError
from ecocomp.statements import party_statement

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("notebook") / "settle.db"
    project = ecocomp.load_project(EXAMPLE)
    with ecocomp.Ledger.open(path) as ledger:
        result = ecocomp.settle(project, year=2021, ledger=ledger)
    return project, result, path


def test_printing_a_result_or_project_is_one_short_line(settled):
    project, result, _ = settled
    for shown in (repr(result), repr(project)):
        assert "\n" not in shown and len(shown) < 300
    assert repr(result).startswith("<SettlementResult 2021: 108 obligations, 8 nets, posted")
    assert "9 agreements" in repr(project)


def assessed(project, path):
    from ecocomp.store import ReadingStore

    store = ReadingStore.open(path)
    try:
        aggregates = list(store.aggregates(ecocomp.Period(2021)))
    finally:
        store.close()
    return ecocomp.assess(aggregates, list(project.sections.values()), ecocomp.Period(2021))


def test_printing_assessments_and_a_statement_is_one_short_line(settled):
    project, _, path = settled
    assessments = assessed(project, path)
    assert len(assessments.sections) >= 100
    assert repr(assessments).startswith("<Assessments: ")
    assert "\n" not in repr(assessments) and len(repr(assessments)) < 200
    assert "more rows" in assessments._repr_html_()
    statement = party_statement(path, "430700", 2021, as_of=date(2022, 5, 1))
    assert "\n" not in repr(statement) and "net -" in repr(statement)
    assert "<table>" in statement._repr_html_()
    report = ecocomp.build_report(path, 2021, as_of=date(2022, 5, 1))
    assert repr(report) == ("<Report 2021 as of 2022-05-01: 10 sections, 108 obligations, "
                            "8 nets, 7 statements>")


def test_the_notebook_table_lists_the_nets_and_escapes_text(settled):
    _, result, _ = settled
    page = result._repr_html_()
    assert page.count("<tr>") == 1 + len(result.nets)
    assert "8,000,000.00" in page and "&lt;SettlementResult" in page
    from ecocomp.notebook import html_table

    table = html_table("<b>x</b>", ["h"], [["<script>"]] * 30, 30)
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert table.count("<tr>") == 21 and "10 more rows" in table


def test_frames_keep_amounts_as_decimals(settled, tmp_path):
    pytest.importorskip("pandas", reason="pandas is the optional 'pandas' extra; not installed")
    _, result, path = settled
    frame = result.to_frame()
    assert len(frame) == len(result.obligations)
    assert frame["amount"].dtype == object
    assert all(isinstance(v, Decimal) for v in frame["amount"])
    lishui = frame[frame["agreement"] == "lishui-zjj-cd-2020"]
    assert lishui["amount"].sum() == sum(o.amount for o in result.obligations
                                         if o.agreement == "lishui-zjj-cd-2020")
    with ecocomp.Ledger.open(path, create=False) as ledger:
        ledger_frame = ledger.to_frame()
        transfers = sum(len(tx.transfers) for tx in ledger.transactions())
    assert len(ledger_frame) == transfers
    assert all(isinstance(v, Decimal) for v in ledger_frame["amount"])
    assert isinstance(ledger_frame["booked_on"][0], date)


def test_assessments_frame_has_a_row_per_section_month(settled):
    pytest.importorskip("pandas", reason="pandas is the optional 'pandas' extra; not installed")
    project, _, path = settled
    assessments = assessed(project, path)
    frame = assessments.to_frame()
    assert list(frame.columns) == ["section", "period", "waterbody", "class", "missing"]
    assert len(frame) == len(assessments.sections)
    lishui = frame[(frame["section"] == "lishui-zjj-cd") & (frame["period"] == "2021-05")]
    assert list(lishui["class"]) == ["III"]


def test_without_pandas_to_frame_names_the_extra(settled, monkeypatch):
    _, result, _ = settled
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(EcocompError, match=r"pip install 'ecocomp\[pandas\]'"):
        result.to_frame()
