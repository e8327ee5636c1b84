"""Output safety: spreadsheet cells cannot run formulas, terminal output cannot run escapes.

A project whose party and section names are hostile (formula starts, ANSI sequences, carriage
returns) is settled once; its reports, ledger export and command output are read back.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import ecocomp
from ecocomp.cli import main
from ecocomp.outputs import spreadsheet_text, terminal_text
from ecocomp.reports import write_report

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
HOSTILE = ['=HYPERLINK("http://evil.example","x")', "@SUM(1)", "+1", "-1", "\tX"]
# 常德市 (payer of the 澧水 net), 张家界市 (payee), the 澧水 section's name
PAYER, PAYEE, SECTION = HOSTILE[0], "@SUM(1)", "-1"
ANSI_NAME = "张家界\x1b[2J\x1b[31m市\rX"


def _rename(text: str, old: str, new: str) -> str:
    assert f'name = "{old}"' in text
    escaped = new.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    escaped = escaped.replace("\x1b", "\\u001b").replace("\r", "\\r")
    return text.replace(f'name = "{old}"', f'name = "{escaped}"', 1)


def _project(folder: Path, payee: str, section: str) -> Path:
    """The example cut to the 澧水 agreement (12 readings), with hostile names."""
    project = folder / "project"
    shutil.copytree(EXAMPLE, project)
    for f in (project / "readings").iterdir():
        if f.name != "2021-wide-lishui.csv":
            f.unlink()
    for f in (project / "agreements").iterdir():
        if f.name != "lishui-zjj-cd-2020.toml":
            f.unlink()
    parties = (project / "parties.toml").read_text(encoding="utf-8")
    parties = _rename(_rename(parties, "常德市", PAYER), "张家界市", payee)
    (project / "parties.toml").write_text(parties, encoding="utf-8")
    sections = (project / "sections.toml").read_text(encoding="utf-8")
    sections = _rename(sections, "澧水张家界—常德交界断面(名称未公开)", section)
    (project / "sections.toml").write_text(sections, encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "hostile.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(_project(folder, PAYEE, SECTION)), year=YEAR,
                       ledger=ledger)
    return db


@pytest.fixture(scope="module")
def ansi_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ansi")
    db = folder / "ansi.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(_project(folder, ANSI_NAME, "断面\x1b[2J")),
                       year=YEAR, ledger=ledger)
    return db


@pytest.mark.parametrize("text", [*HOSTILE, "\rX"])
def test_spreadsheet_text_quotes_every_formula_start(text: str) -> None:
    assert spreadsheet_text(text) == "'" + text
    assert spreadsheet_text("常德市 (430700)") == "常德市 (430700)"


def _cells(rows: list[list[str]]) -> list[str]:
    return [c for r in rows for c in r]


def test_csv_report_neutralises_hostile_names_and_keeps_amounts_numeric(hostile_db, tmp_path):
    out = write_report(hostile_db, YEAR, tmp_path / "r")
    rows = [r for table in sorted(out.iterdir())
            for r in csv.reader(io.StringIO(table.read_text(encoding="utf-8-sig")))]
    cells = _cells(rows)
    assert f"'{PAYER} (430700)" in cells and f"'{PAYEE} (430800)" in cells
    assert f"'{SECTION}" in cells  # the section's name in the class table
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    # the statements' amounts stay plain numbers, a negative one too
    payer_row = next(r for r in rows if r[:2] == ["430700", f"'{PAYER}"])
    assert payer_row[4] == "-800000.00"
    assert all(not c.startswith("-") or re.fullmatch(r"-[0-9]+\.[0-9]{2}", c) for c in cells)


def test_xlsx_report_cells_are_strings_with_the_quote_and_money_numbers(hostile_db, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    out = write_report(hostile_db, YEAR, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(out)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert {f"'{PAYER} (430700)", f"'{PAYEE} (430800)", f"'{SECTION}", f"'{PAYER}"} <= values
    assert not [v for v in values if isinstance(v, str) and v.startswith(("=", "+", "-", "@"))]
    nets = wb["年度清缴 nets"]
    amount = nets.cell(row=2, column=5)
    assert amount.data_type == "n" and amount.value == 800000
    statements = wb["主体对账单 statements"]
    opens = [r[7].value for r in statements.iter_rows(min_row=2)]
    assert -800000 in opens  # a negative amount stays a number


@pytest.mark.parametrize("name", HOSTILE)
def test_xlsx_and_csv_neutralise_each_hostile_section_name(name: str, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    db = tmp_path / "one.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(_project(tmp_path, "张家界市", name)), year=YEAR,
                       ledger=ledger)
    sheet = openpyxl.load_workbook(write_report(db, YEAR, tmp_path / "r.xlsx"))["水质类别"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "lishui-zjj-cd")
    label = sheet.cell(row=cell.row, column=2)
    assert (label.value, label.data_type) == ("'" + name, "s")
    text = (write_report(db, YEAR, tmp_path / "r") / "classes.csv").read_text(
        encoding="utf-8-sig")
    row = next(r for r in csv.reader(io.StringIO(text)) if r and r[0] == "lishui-zjj-cd")
    assert row[1] == "'" + name


def test_ledger_export_csv_neutralises_text_fields(hostile_db, tmp_path):
    with ecocomp.Ledger.open(hostile_db) as ledger:
        ecocomp.pay(ledger, agreement="lishui-zjj-cd-2020", year=YEAR, payer="430700",
                    payee="430800", amount=Decimal("1.00"), paid_on=date(2022, 4, 1),
                    reference="=1+1")
        out = io.StringIO()
        ledger.export_csv(out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    payment = next(r for r in rows if r["kind"] == "payment")
    assert payment["reference"] == "'=1+1"
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r"))
               for r in rows for k, v in r.items() if k != "amount")
    assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", r["amount"]) for r in rows)


# --------------------------------------------------------------------------- terminal


def test_terminal_text_escapes_controls_and_keeps_names_recognisable() -> None:
    assert terminal_text(ANSI_NAME) == "张家界\\x1b[2J\\x1b[31m市\\rX"
    assert terminal_text("a\u202eb\x07\x9b") == "a\\u202eb\\x07\\x9b"
    assert terminal_text("l1\nl2", keep_newlines=True) == "l1\nl2"
    assert terminal_text("常德市 (430700)") == "常德市 (430700)"


def _no_controls(text: str) -> bool:
    return not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)


def test_cli_prints_hostile_names_escaped(ansi_db: Path) -> None:
    runner = CliRunner()
    statement = runner.invoke(main, ["statement", "430800", "--db", str(ansi_db), "--year",
                                     str(YEAR), "--as-of", "2022-01-01"])
    assert statement.exit_code == 0, statement.output
    assert "张家界\\x1b[2J\\x1b[31m市\\rX" in statement.output
    assessed = runner.invoke(main, ["assess", "--db", str(ansi_db), "--year", str(YEAR)])
    assert assessed.exit_code == 0, assessed.output
    assert "断面\\x1b[2J" in assessed.output
    paid = runner.invoke(main, ["pay", "--db", str(ansi_db), "--agreement",
                                "lishui-zjj-cd-2020", "--year", str(YEAR), "--payer", "430700",
                                "--payee", "430800", "--amount", "1.00", "--date",
                                "2022-04-01", "--reference", "GK\x1b[2J1\r"])
    assert paid.exit_code == 1  # refused; the message shows the reference escaped
    assert "GK\\x1b[2J1" in paid.output
    for result in (statement, assessed, paid):
        assert _no_controls(result.output), result.output


def test_cli_settle_summary_and_errors_escape_names(tmp_path: Path) -> None:
    project = _project(tmp_path, ANSI_NAME, "断面")
    runner = CliRunner()
    done = runner.invoke(main, ["settle", str(project), "--year", str(YEAR), "--db",
                                str(tmp_path / "s.db"), "--quiet"])
    assert done.exit_code == 0, done.output
    assert "pays 张家界\\x1b[2J\\x1b[31m市\\rX" in done.output and _no_controls(done.output)
    missing = runner.invoke(main, ["statement", "9\x1b[2J", "--db", str(tmp_path / "s.db"),
                                   "--year", str(YEAR)])
    assert missing.exit_code == 1
    assert _no_controls(missing.output) and "\\x1b[2J" in missing.output


def test_html_report_escapes_markup_in_every_name(tmp_path: Path) -> None:
    # the template engine escapes names everywhere: table, heat map, flows, table of contents
    payee, section = "<script>alert(1)</script>", '<img src=x onerror="alert(2)">'
    db = tmp_path / "markup.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(_project(tmp_path, payee, section)), year=YEAR,
                       ledger=ledger)
    page = write_report(db, YEAR, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # toc, nets, flows, party
    assert "&lt;img src=x onerror=" in page
