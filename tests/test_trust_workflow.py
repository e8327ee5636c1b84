"""Regressions found by the "silent wrong money" campaign over the settlement workflow:
settle, edit the project or the data, settle again, pay, and read statements and reports.
Each test is a user's sequence of commands that gave a wrong figure without a word.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import EXAMPLE, edit

import ecocomp
from ecocomp.periods import Period
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


HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"


def test_a_correction_of_an_earlier_settled_year_is_reported_by_a_later_years_run(
        project, tmp_path):
    """2020 and 2021 settled; a correction of a 2020 sample (澧水 2020-03 TP 0.150, class Ⅲ:
    张家界 pays 常德 80万) put in corrections/, then `settle --year 2021`: the run imported
    it, adjusted 2021 and said nothing about 2020, whose ledger kept the month at nothing to
    pay (80万 missing) — only a settle of 2020 itself would have shown it."""
    db = tmp_path / "settle.db"
    settle(project, db, 2020)
    settle(project, db, 2021)
    (project / "corrections").mkdir()
    (project / "corrections" / "2020.csv").write_text(
        HEADER + "lishui-zjj-cd,2020-03-09,tp,0.150,mg/L,manual,\n", encoding="utf-8")
    result = settle(project, db, 2021)
    [warning] = [w for w in result.warnings if "2020 is stale" in w]
    assert "readings of 2020 changed" in warning and "--year 2020" in warning
    assert result.to_json()["warnings"] == list(result.warnings)
    fixed = settle(project, db, 2020)
    assert f"post {fixed.posted} and adjust {fixed.adjusted}" in warning
    assert any(o.period == Period(2020, 3) and o.amount == 800000 and o.payer == "430800"
               for o in fixed.obligations)
    assert not [w for w in settle(project, db, 2021).warnings if "stale" in w]


def test_a_party_whose_code_changed_after_a_payment_still_has_a_statement(project, tmp_path):
    """张家界's code mistyped as 430800 in the project, paid 800,000.00 by 常德 under it,
    then corrected (430900) and settled again: 常德's statement said settled and the new
    code's said 800,000.00 open, while the old code, still holding the 800,000.00 paid to
    it, could not be shown (`statement 430800`: "not in the settled project") nor pay it
    on (`pay --payer 430800`: the same error)."""
    from click.testing import CliRunner

    from ecocomp.cli import main

    db = tmp_path / "settle.db"
    settle(project, db)
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.pay(ledger, agreement="lishui-zjj-cd-2020", year=2021, payer="430700",
                    payee="430800", amount=Decimal("800000.00"), paid_on=date(2022, 4, 20),
                    reference="GK1", today=date(2022, 4, 21))
    for name in (LISHUI, "sections.toml", "parties.toml"):
        path = project / name
        path.write_text(path.read_text(encoding="utf-8").replace("430800", "430900"),
                        encoding="utf-8")
    moved = settle(project, db)
    [warning] = [w for w in moved.warnings if "430800" in w]
    assert "not in parties.toml" in warning and "800,000.00" in warning
    old = party_statement(db, "430800", 2021, as_of=date(2022, 5, 1))
    [lishui] = old.agreements
    assert (lishui.paid, lishui.open) == (Decimal("800000.00"), Decimal("-800000.00"))
    assert lishui.overdue  # it holds money it is not owed: to pass on to 430900
    shown = CliRunner().invoke(main, ["statement", "430800", "--db", str(db), "--year", "2021",
                                      "--as-of", "2022-05-01"])
    assert shown.exit_code == 0, shown.output
    assert "open -800,000.00" in shown.output
    paid_on = CliRunner().invoke(main, [
        "pay", "--db", str(db), "--agreement", "lishui-zjj-cd-2020", "--year", "2021",
        "--payer", "430800", "--payee", "430900", "--amount", "800000.00",
        "--date", "2022-05-02", "--reference", "GK2"])
    assert paid_on.exit_code == 0, paid_on.output
    for code in ("430700", "430800", "430900"):
        st = party_statement(db, code, 2021, as_of=date(2022, 5, 3))
        assert [a.open for a in st.agreements] == [0], code
    assert not [w for w in settle(project, db).warnings if "430800" in w]  # passed on
    with pytest.raises(ecocomp.EcocompError, match="not in the settled project"):
        party_statement(db, "999999", 2021, as_of=date(2022, 5, 1))


NANSHAN = Path(__file__).resolve().parent.parent / "examples" / "nanshan-2026"


def test_an_area_rate_agreement_superseded_mid_year_pays_its_days(tmp_path):
    """南山's agreement ending 2027-06-30, replaced from 2027-07-01 by one that says
    `supersedes`: 2027 paid 白云村 287,342.47 (the new agreement's 184 days) instead of the
    full 570,000.00, and 石门村 161,315.07 instead of 320,000.00 — the old agreement's
    prorated January–June (282,657.53 and 158,684.93) was dropped as superseded."""
    import shutil

    project = tmp_path / "park"
    shutil.copytree(NANSHAN, project)
    old = project / "agreements" / "nanshan-area-rate.toml"
    text = old.read_text(encoding="utf-8")
    edit(old, "end = 2030-12-31", "end = 2027-06-30")
    new = (text.replace('id = "nanshan-area-rate"',
                        'id = "nanshan-area-rate-2"\nsupersedes = "nanshan-area-rate"')
           .replace("start = 2026-01-01", "start = 2027-07-01"))
    (project / "agreements" / "second.toml").write_text(new, encoding="utf-8")
    result = ecocomp.settle(ecocomp.load_project(project), year=2027, dry_run=True)
    paid: dict[str, Decimal] = {}
    for o in result.obligations:
        paid[o.payee] = paid.get(o.payee, Decimal(0)) + o.amount
    assert paid["430529-baiyun-cun"] == Decimal("570000.00")
    assert paid["430529-shimen-cun"] == Decimal("320000.00")
    by = {(o.agreement, o.payee): o.amount for o in result.obligations if o.amount}
    assert by[("nanshan-area-rate", "430529-baiyun-cun")] == Decimal("282657.53")
    assert by[("nanshan-area-rate-2", "430529-baiyun-cun")] == Decimal("287342.47")
    assert {n.agreement for n in result.nets} == {"nanshan-area-rate", "nanshan-area-rate-2"}
    # the old agreement's last ten days of 2027 are cleared too (its only month superseded)
    edit(old, "end = 2027-06-30", "end = 2027-01-10")
    edit(project / "agreements" / "second.toml", "start = 2027-07-01", "start = 2027-01-11")
    db = tmp_path / "park.db"
    with ecocomp.Ledger.open(db) as ledger:
        result = ecocomp.settle(ecocomp.load_project(project), year=2027, ledger=ledger,
                                today=date(2027, 3, 1))
        assert ledger.get("nanshan-area-rate/2027/clearing") is not None
    assert sum(o.amount for o in result.obligations
               if o.payee == "430529-baiyun-cun") == Decimal("570000.00")
    # a newer agreement from 1 January settles the whole year, as before
    edit(project / "agreements" / "second.toml", "start = 2027-01-11", "start = 2027-01-01")
    result = ecocomp.settle(ecocomp.load_project(project), year=2027, dry_run=True)
    assert {o.agreement for o in result.obligations} == {"nanshan-area-rate-2"}


def test_a_min_flow_agreement_superseded_mid_month_counts_every_day(tmp_path):
    """株洲's flow agreement ending 2021-12-12, replaced from 2021-12-13 by one that says
    `supersedes`: of December's five days below 300 m³/s (11th–15th) only the new
    agreement's three were penalised (30,000.00 instead of 50,000.00): the old agreement's
    whole December was dropped because the new one was in force on a day of it."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)  # with the automatic file: the daily flows
    flow = project / "agreements" / "xiangjiang-2014-zhuzhou-flow.toml"
    text = flow.read_text(encoding="utf-8")
    edit(flow, "end = 2021-12-31", "end = 2021-12-12")
    (project / "agreements" / "flow-2.toml").write_text(
        text.replace('id = "xiangjiang-2014-zhuzhou-flow"',
                     'id = "zhuzhou-flow-2"\nsupersedes = "xiangjiang-2014-zhuzhou-flow"')
        .replace("start = 2014-01-01", "start = 2021-12-13"), encoding="utf-8")
    result = ecocomp.settle(ecocomp.load_project(project), year=2021, dry_run=True)
    december = {o.agreement: o.amount for o in result.obligations
                if o.period == Period(2021, 12) and o.component == "flow:majiahe"}
    assert december == {"xiangjiang-2014-zhuzhou-flow": Decimal("20000.00"),
                        "zhuzhou-flow-2": Decimal("30000.00")}


def test_an_agreement_edited_after_two_years_were_settled_is_reported_for_the_other(
        project, tmp_path):
    """2020 and 2021 settled; 澧水's Ⅱ rule corrected in the agreement file from 互不补偿 to
    张家界 pays 10万, then `settle --year 2021`: 2021 was adjusted, and 2020 (twelve Ⅱ
    months, 120万 now) kept nothing to pay with no word, its ledger no longer what the
    agreement says."""
    db = tmp_path / "settle.db"
    settle(project, db, 2020)
    settle(project, db, 2021)
    edit(project / LISHUI, 'name = "澧水流域', 'name = "澧水流域 ')  # a name: no money
    assert not [w for w in settle(project, db, 2021).warnings if "2020" in w]
    edit(project / LISHUI, 'II           = { payer = "none" }',
         'II           = { payer = "upstream", amount = 10 }')
    result = settle(project, db, 2021)
    [warning] = [w for w in result.warnings if "2020" in w]
    assert "lishui-zjj-cd-2020" in warning and "--year 2020" in warning
    assert "would post 13 and adjust 0" in warning  # twelve months and the clearing
    assert [w for w in settle(project, db, 2021).warnings if "2020" in w] == [warning]
    assert settle(project, db, 2020).posted == 13
    assert not [w for w in settle(project, db, 2021).warnings if "2020" in w]


def test_report_format_that_contradicts_the_out_file_is_refused(db, tmp_path):
    """`ecocomp report --out report.html --format xlsx` wrote an HTML report and said
    "report written to report.html": --format only applies to --out -, and was ignored."""
    from click.testing import CliRunner

    from ecocomp.cli import main

    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--year", "2021", "--out",
                                       str(out), "--format", "xlsx"])
    assert result.exit_code != 0 and not out.exists()
    assert "--format" in result.output and "report.xlsx" in result.output
    same = CliRunner().invoke(main, ["report", "--db", str(db), "--year", "2021", "--out",
                                     str(out), "--format", "html"])
    assert same.exit_code == 0 and out.exists()


def test_months_without_readings_at_the_start_of_the_year_are_named(project):
    """The first quarter's file not delivered: 澧水's January–March settled on no data
    (nothing paid under `skip`; 常德 would have paid 张家界 80万 for each of January and
    February, class Ⅰ) with no warning, while the same three months missing at the end of
    the year were named."""
    wide = project / "readings" / "2021-wide-lishui.csv"
    lines = wide.read_bytes().splitlines(keepends=True)
    wide.write_bytes(b"".join([lines[0], *(line for line in lines[1:]
                                           if not line.split(b",")[1].startswith(
                                               (b"2021/1/", b"2021/2/", b"2021/3/")))]))
    result = ecocomp.settle(ecocomp.load_project(project), year=2021, dry_run=True)
    [lishui] = [w for w in result.warnings if w.startswith("lishui-zjj-cd:")]
    assert "no valid readings in 2021-01 to 2021-03 (3 months)" in lishui


def test_readings_forget_names_the_years_to_settle_again(project, tmp_path):
    """`readings forget` said "settle the affected years again" without naming them, so a
    user who forgot a file holding samples of an earlier settled year and settled only the
    current one left the earlier year's amounts on the forgotten readings."""
    from click.testing import CliRunner

    from ecocomp.cli import main

    db = tmp_path / "settle.db"
    settle(project, db, 2021)
    (project / "readings" / "2021-wide-lishui.csv").unlink()
    result = CliRunner().invoke(main, ["readings", "forget", "2021-wide-lishui.csv",
                                       "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "settle 2021 again" in result.output


def test_a_sections_waterbody_changed_after_two_years_were_settled_is_reported(
        project, tmp_path):
    """A section's waterbody decides its class limits (TP: river 0.2, lake 0.05 for Ⅲ):
    changed after 2020 and 2021 were settled, it changes 2020's amounts too."""
    db = tmp_path / "settle.db"
    settle(project, db, 2020)
    settle(project, db, 2021)
    sections = project / "sections.toml"
    text = sections.read_text(encoding="utf-8")
    at = text.index('code = "lishui-zjj-cd"')
    sections.write_text(text[:at] + text[at:].replace('waterbody = "river"',
                                                      'waterbody = "lake"', 1),
                        encoding="utf-8")
    result = settle(project, db, 2021)
    assert [w for w in result.warnings if w.startswith("2020 was settled under other terms")]
