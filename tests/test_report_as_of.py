"""A report "as of" a day is the ledger as booked on or before that day, in every section.

The report collected its obligations, nets and corrections from every line of the year but
built each party's statement from the lines booked on or before ``as_of`` only, so one
report could contradict itself: a payment reversed after the day showed under 调整
Corrections while the payer's statement still said the payment stood (open 0.00), and a
correction made after the day changed the nets table but not the statements.
"""

from __future__ import annotations

import io
import re
import shutil
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLE

import ecocomp
from ecocomp.cli import main
from ecocomp.reports import Report, build_report, render_report
from ecocomp.settlement import PAYABLE

YEAR = 2021
LISHUI = "lishui-zjj-cd-2020"
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
PAID_ON = date(2022, 4, 20)  # 常德 pays 张家界 the 澧水 net
CORRECTED_ON = date(2022, 5, 20)  # a sample corrected and the year settled again
REVERSED_ON = date(2022, 5, 25)  # the payment bounced
BETWEEN = date(2022, 5, 15)  # after the payment, before the correction and the reversal


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2021 settled on 2022-03-01, paid, corrected on 2022-05-20, the payment reversed."""
    folder = tmp_path_factory.mktemp("report-as-of")
    project = folder / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("2021-automatic.csv"))
    path = folder / "settle.db"
    with ecocomp.Ledger.open(path) as ledger:
        ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                       today=date(2022, 3, 1))
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer="430700", payee="430800",
                    amount=Decimal("800000.00"), paid_on=PAID_ON, reference="GK1",
                    today=PAID_ON)
        (project / "corrections").mkdir()
        (project / "corrections" / "x.csv").write_text(
            HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
        corrected = ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                                   today=CORRECTED_ON)
        assert corrected.adjusted > 0
        ecocomp.reverse_payment(ledger, reference="GK1", reason="bounced", agreement=LISHUI,
                                year=YEAR, booked_on=REVERSED_ON, today=REVERSED_ON)
    return path


def booked_days(db: Path) -> list[date]:
    with ecocomp.Ledger.open(db, create=False) as ledger:
        return sorted({tx.booked_on for tx in ledger.transactions()})


def signed(rows, party: str) -> dict[str, Decimal]:
    """Per agreement, what ``party`` receives (+) or pays (−) over the report's rows."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r.payee == party:
            out[r.agreement] += r.amount
        if r.payer == party:
            out[r.agreement] -= r.amount
    return {k: v for k, v in out.items() if v}


def assert_one_story(report: Report) -> None:
    """Every section of the report tells the same story as its statements."""
    seqs = {line.seq for st in report.statements for line in st.lines}
    for st in report.statements:
        accrued = {a.agreement: a.accrued for a in st.agreements if a.accrued}
        cleared = {a.agreement: a.cleared for a in st.agreements if a.cleared}
        assert signed(report.obligations, st.party) == accrued, (report.generated, st.party)
        assert signed(report.nets, st.party) == cleared, (report.generated, st.party)
        assert sum(signed(report.obligations, st.party).values(), Decimal(0)) == st.net
    for change in report.changes:
        assert change.seq in seqs, (report.generated, change)
    later = [line for st in report.statements for line in st.lines
             if line.booked_on > report.generated]
    assert later == []


def test_a_report_as_of_a_day_shows_nothing_booked_after_it_in_any_section(db):
    report = build_report(db, YEAR, as_of=BETWEEN)
    # the payment reversal of 2022-05-25 and the correction of 2022-05-20 come later
    assert not any(c.reason == "bounced" for c in report.changes)
    assert report.changes == ()
    payer = next(st for st in report.statements if st.party == "430700")
    [lishui] = payer.agreements
    assert (lishui.paid, lishui.open) == (Decimal("-800000.00"), Decimal("0.00"))
    assert_one_story(report)
    # what the day leaves out is counted and dated, for the header
    assert report.booked_later > 0 and report.booked_until == REVERSED_ON
    # and a day later everything is in, again one story
    after = build_report(db, YEAR, as_of=REVERSED_ON)
    assert any(c.reason == "bounced" for c in after.changes)
    assert after.booked_later == 0 and after.booked_until is None
    assert_one_story(after)


def test_for_any_day_the_reports_nets_and_obligations_are_its_statements(db):
    """Property over every day the ledger changes (the day before and the day itself)."""
    days = sorted({d - timedelta(days=k) for d in booked_days(db) for k in (0, 1)})
    assert len(days) > 20
    for day in days:
        report = build_report(db, YEAR, as_of=day)
        assert_one_story(report)
        # with every line in, the annual nets are each party's net for the year
        if day >= REVERSED_ON:
            for st in report.statements:
                assert sum(signed(report.nets, st.party).values(), Decimal(0)) == st.net
        # the statements and `ledger balances --as-of` agree on what is open
        with ecocomp.Ledger.open(db, create=False) as ledger:
            payable = ledger.balances(as_of=day, by="account")
        for st in report.statements:
            open_amount = sum((a.open for a in st.agreements), Decimal(0))
            assert payable.get(f"{st.party}:{PAYABLE}", Decimal(0)) == open_amount, day


def test_the_booking_date_decides_not_the_day_a_line_was_recorded(db):
    """The correction of 2022-05-20 made April a 永州 change month that had paid nothing: the
    new month is an accrual booked on its own last day (2021-04-30), its clearing an
    adjustment booked on the day of the run. A report as of the year's end made now shows
    the month, in the obligations and in the statements alike, and not its clearing."""
    report = build_report(db, YEAR, as_of=date(YEAR, 12, 31))
    [april] = [o for o in report.obligations if o.period == "2021-04"
               and o.agreement == "xiangjiang-2014-yongzhou-change" and o.kind == "accrual"]
    assert april.amount == Decimal("1500000.00")
    yongzhou = next(st for st in report.statements if st.party == "431100")
    [change] = [a for a in yongzhou.agreements
                if a.agreement == "xiangjiang-2014-yongzhou-change"]
    assert (change.accrued, change.cleared) == (Decimal("-2000000.00"), Decimal("-500000.00"))
    assert_one_story(report)


def test_a_report_as_of_a_day_before_anything_was_booked_says_so(db):
    report = build_report(db, YEAR, as_of=date(YEAR, 1, 15))
    assert report.obligations == () and report.nets == () and report.changes == ()
    assert all(st.net == 0 and st.lines == () for st in report.statements)
    assert report.booked == 0 and report.booked_later > 0
    page = render_report(db, YEAR, "html", as_of=date(YEAR, 1, 15)).decode("utf-8")
    assert "Nothing of 2021 is booked on or before 2021-01-15" in page
    assert "No money changes hands this year" not in page


def test_the_html_report_as_of_a_day_tells_one_story_and_names_what_it_leaves_out(db):
    page = render_report(db, YEAR, "html", as_of=BETWEEN).decode("utf-8")
    assert "as of <b>2022-05-15</b>" in page
    assert "bounced" not in page  # the reversal is after the day
    assert re.search(r"\d+ line\(s\) of 2021 are booked after 2022-05-15", page)
    assert "--as-of 2022-05-25" in page
    # everything booked by the day: the header says no more than the date
    full = render_report(db, YEAR, "html", as_of=REVERSED_ON).decode("utf-8")
    assert "bounced" in full and "are booked after" not in full


def test_the_xlsx_report_names_its_day_and_its_tables_agree(db):
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(render_report(db, YEAR, "xlsx", as_of=BETWEEN)))
    first = book.worksheets[0]["A1"].value
    assert "as of 2022-05-15" in first and "booked after 2022-05-15" in first
    nets = book["年度清缴 nets"]
    statements = book["主体对账单 statements"]
    cleared: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in statements.iter_rows(min_row=2, values_only=True):
        cleared[(row[0], row[2])] += Decimal(str(row[5]))
    for row in nets.iter_rows(min_row=2, values_only=True):
        if row[0] == "合计 total":
            continue
        payer = re.search(r"\((\w+)\)$", row[2]).group(1)
        payee = re.search(r"\((\w+)\)$", row[3]).group(1)
        amount = Decimal(str(row[4]))
        assert cleared[(payer, row[0])] == -amount and cleared[(payee, row[0])] == amount


def test_report_command_as_of_says_what_it_leaves_out(db, tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--year", str(YEAR),
                                       "--out", str(out), "--as-of", "2022-05-15"])
    assert result.exit_code == 0, result.output
    assert "line(s) of 2021 are booked after 2022-05-15" in result.stderr
    assert "--as-of 2022-05-25" in result.stderr
    assert "bounced" not in out.read_text(encoding="utf-8")
    empty = CliRunner().invoke(main, ["report", "--db", str(db), "--year", str(YEAR),
                                      "--out", str(tmp_path / "e.html"),
                                      "--as-of", "2021年1月15日"])  # as people write it
    assert empty.exit_code == 0, empty.output
    assert "Nothing of 2021 is booked on or before 2021-01-15" in empty.stderr
    whole = CliRunner().invoke(main, ["report", "--db", str(db), "--year", str(YEAR),
                                      "--out", str(tmp_path / "w.html"),
                                      "--as-of", "2022-05-25"])
    assert whole.exit_code == 0 and whole.stderr == "", whole.output
    assert "bounced" in (tmp_path / "w.html").read_text(encoding="utf-8")


def test_a_month_corrected_to_nothing_after_the_day_shows_its_amount_not_also_nothing(
        tmp_path: Path) -> None:
    """永州's April 2021 paid 1,500,000.00 (a cadmium sample above the limit); a correction
    settled on 2022-05-20 brings it back under, so the latest run lists April as "nothing
    to pay". As of 2022-05-15 the ledger still held the amount: the report and the statement
    listed April twice, with the amount and as nothing to pay. Now only the amount, and the
    zero line again once the reversal is booked."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("2021-automatic.csv"))
    (project / "corrections").mkdir()
    (project / "corrections" / "a.csv").write_text(
        HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
    path = tmp_path / "settle.db"
    with ecocomp.Ledger.open(path) as ledger:
        ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                       today=date(2022, 3, 1))
        (project / "corrections" / "b.csv").write_text(
            "# supersedes: a.csv\n" + HEADER + "guiyangzhen,2021-04-12,cd,0.0001,mg/L,manual,\n",
            encoding="utf-8")
        assert ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                              today=CORRECTED_ON).adjusted > 0

    def april(day: date) -> tuple[list[str], list[str]]:
        report = build_report(path, YEAR, as_of=day)
        rows = sorted(f"{o.kind} {o.amount}" for o in report.obligations
                      if o.period == "2021-04" and o.agreement == "xiangjiang-2014-yongzhou-change")
        yongzhou = next(st for st in report.statements if st.party == "431100")
        lines = sorted([f"{ln.kind} {ln.amount}" for ln in yongzhou.lines
                        if ln.period == "2021-04" and ln.agreement ==
                        "xiangjiang-2014-yongzhou-change"]
                       + [f"zero {z.period}" for z in yongzhou.zero
                          if z.period == "2021-04"
                          and z.agreement == "xiangjiang-2014-yongzhou-change"])
        return rows, lines

    assert april(BETWEEN) == (["accrual 1500000.00"], ["accrual -1500000.00"])
    rows, lines = april(date(2022, 12, 31))
    assert "zero 0.00" in rows and "zero 2021-04" in lines
