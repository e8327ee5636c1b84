"""Regressions found by the "silent wrong money" campaign over the settlement workflow:
settle, edit the project or the data, settle again, pay, and read statements and reports.
Each test is a user's sequence of commands that gave a wrong figure without a word.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import edit

import ecocomp
from ecocomp.reports import build_report
from ecocomp.statements import party_statement

LISHUI = "agreements/lishui-zjj-cd-2020.toml"


def settle(project: Path, db: Path, year: int = 2021) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=year, ledger=ledger,
                              today=date(2022, 3, 1))


def test_a_changed_clearing_due_reaches_statements_and_reports(project, tmp_path):
    """澧水's clearing_due moved from 04-30 to 06-30 after 2021 was settled: the run said
    "due 2022-06-30", but with no amount changed it posted nothing, so the statement still
    showed 常德's 800,000.00 as due 2022-04-30 and OVERDUE on 2022-05-15 (overdue 0.00)."""
    db = tmp_path / "settle.db"
    settle(project, db)
    edit(project / LISHUI, 'clearing_due = "04-30"', 'clearing_due = "06-30"')
    result = settle(project, db)
    assert {n.due for n in result.nets if n.agreement == "lishui-zjj-cd-2020"} == {
        date(2022, 6, 30)}
    st = party_statement(db, "430700", 2021, as_of=date(2022, 5, 15))
    [lishui] = [a for a in st.agreements if a.agreement == "lishui-zjj-cd-2020"]
    assert lishui.open == -800000 and lishui.due == date(2022, 6, 30)
    assert not lishui.overdue and st.overdue == 0
    report = build_report(db, 2021, as_of=date(2022, 5, 15))
    [net] = [n for n in report.nets if n.agreement == "lishui-zjj-cd-2020"]
    assert net.basis["due"] == "2022-06-30"
    assert settle(project, db).posted == settle(project, db).adjusted == 0  # converges
    # and back to 04-30: the report shows the latest due date, not the latest of them
    edit(project / LISHUI, 'clearing_due = "06-30"', 'clearing_due = "04-30"')
    settle(project, db)
    st = party_statement(db, "430700", 2021, as_of=date(2022, 5, 15))
    assert st.overdue == 800000
    [net] = [n for n in build_report(db, 2021, as_of=date(2022, 5, 15)).nets
             if n.agreement == "lishui-zjj-cd-2020"]
    assert net.basis["due"] == "2022-04-30"
