"""Reports: the class table, and the .html/.xlsx/.csv renderings people open."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

import ecocomp
from ecocomp.errors import EcocompError
from ecocomp.reports import build_report, class_table, write_report
from ecocomp.standards import WaterClass

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
C1, C2, C3, C4 = WaterClass.I, WaterClass.II, WaterClass.III, WaterClass.IV


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example settled on 2022-03-01, then re-settled on 2022-03-15 with the Cd sample
    re-flagged valid (its adjustments are booked that day: a report as of 2022-05-01 shows
    them, as they are booked by then)."""
    folder = tmp_path_factory.mktemp("reports")
    project = folder / "project"
    shutil.copytree(EXAMPLE, project)
    path = folder / "settle.db"
    with ecocomp.Ledger.open(path) as ledger:
        ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                       today=date(2022, 3, 1))
        (project / "corrections").mkdir()
        (project / "corrections" / "x.csv").write_text(
            HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
        result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                                today=date(2022, 3, 15))
        assert result.adjusted > 0
    return path


def row(table, section):
    return next(r for r in table.rows if r.section == section)


def test_class_table_shows_the_lishui_months_of_the_readme(db):
    lishui = row(class_table(db, YEAR), "lishui-zjj-cd")
    assert lishui.months == (C1, C1, C2, C2, C3, C2, C3, C2, C2, C2, C2, C1)


def test_class_table_shows_jinyushi_worse_in_february_and_august(db):
    months = row(class_table(db, YEAR), "jinyushi").months
    assert [m + 1 for m, c in enumerate(months) if c != C3] == [2, 8]
    assert months[1] == months[7] == C4


def test_class_table_shows_a_month_without_data_as_none(db):
    table = class_table(db, YEAR)
    liyezhen = row(table, "liyezhen")
    assert liyezhen.months[7] is None
    assert table.to_json()["sections"][[r.section for r in table.rows].index("liyezhen")][
        "months"][7] is None


def test_class_table_json_uses_ascii_class_codes(db):
    data = class_table(db, YEAR).to_json()
    assert data["year"] == YEAR
    codes = {c for s in data["sections"] for c in s["months"] if c}
    assert codes <= {"I", "II", "III", "IV", "V", "worse_than_V"}


def test_the_report_keeps_every_net_and_the_correction(db):
    report = build_report(db, YEAR, as_of=date(2022, 5, 1))
    lishui = [n for n in report.nets if n.agreement == "lishui-zjj-cd-2020"]
    assert [(n.payer, n.payee, str(n.amount)) for n in lishui] == [
        ("430700", "430800", "800000.00")]
    assert report.changes and all(c.reason for c in report.changes)
    assert any("guiyangzhen cd at 2021-04-12" in (c.reason or "") for c in report.changes)


def test_csv_report_is_a_folder_of_tables_with_the_utf8_bom(db, tmp_path):
    out = write_report(db, YEAR, tmp_path / "report", as_of=date(2022, 5, 1))
    assert sorted(p.name for p in out.iterdir()) == [
        "agreements.csv", "classes.csv", "nets.csv", "obligations.csv", "statements.csv"]
    tables = {}
    for path in out.iterdir():
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        tables[path.stem] = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    lishui = next(r for r in tables["classes"] if r[0] == "lishui-zjj-cd")
    assert lishui[3:16] == ["Ⅰ", "Ⅰ", "Ⅱ", "Ⅱ", "Ⅲ", "Ⅱ", "Ⅲ", "Ⅱ", "Ⅱ", "Ⅱ", "Ⅱ", "Ⅰ", "Ⅱ"]
    nets = [r for r in tables["nets"] if r[0] == "lvshui-jx-hn-2019"]
    assert len(nets) == 1 and nets[0][4:7] == ["8000000.00", "800", "2022-04-30"]
    # one table per file: every row has the header's width
    for name, rows in tables.items():
        assert {len(r) for r in rows} == {len(rows[0])}, name


def test_a_single_csv_file_is_refused_with_the_folder_and_zip_alternatives(db, tmp_path):
    with pytest.raises(EcocompError, match=r"one table per file.*report/ \(a folder\) or "
                                           r"--out .*report\.zip"):
        write_report(db, YEAR, tmp_path / "report.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_zip_report_holds_the_same_tables(db, tmp_path):
    import zipfile

    out = write_report(db, YEAR, tmp_path / "report.zip", as_of=date(2022, 5, 1))
    folder = write_report(db, YEAR, tmp_path / "tables", as_of=date(2022, 5, 1))
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names and all(n.startswith(f"ecocomp-{YEAR}/") for n in names)
        for name in names:
            assert archive.read(name) == (folder / name.split("/")[1]).read_bytes()


def test_every_csv_table_reads_in_pandas_without_options(db, tmp_path):
    pd = pytest.importorskip(
        "pandas", reason="pandas is the optional 'pandas' extra and is not installed here")
    out = write_report(db, YEAR, tmp_path / "report", as_of=date(2022, 5, 1))
    for path in sorted(out.iterdir()):
        frame = pd.read_csv(path)
        assert len(frame) > 0 and not frame.columns[0].startswith("\ufeff"), path.name
    nets = pd.read_csv(out / "nets.csv")
    assert nets["净额(元) net_yuan"].dtype.kind in "fi"  # money reads as numbers
    assert nets.columns[0] == "协议 agreement"
    lvshui = nets[nets["协议 agreement"] == "lvshui-jx-hn-2019"]
    assert lvshui["净额(元) net_yuan"].tolist() == [8000000]


def test_xlsx_report_has_the_coloured_class_sheet_with_chinese_headers(db, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    out = write_report(db, YEAR, tmp_path / "report.xlsx", as_of=date(2022, 5, 1))
    wb = openpyxl.load_workbook(out)
    ws = wb["水质类别"]
    headers = [c.value for c in ws[2]]
    assert headers[:4] == ["断面", "名称", "目标", "1月"] and headers[-1] == "年度"
    lishui = next(r for r in ws.iter_rows(min_row=3) if r[0].value == "lishui-zjj-cd")
    january = lishui[3]
    assert january.value == "Ⅰ"
    assert january.fill.fgColor.rgb.upper().endswith(C1.colour.lstrip("#").upper())
    may = lishui[7]
    assert may.value == "Ⅲ"
    assert may.fill.fgColor.rgb.upper().endswith(C3.colour.lstrip("#").upper())
    assert C1.colour != C3.colour
    assert any("nets" in name for name in wb.sheetnames)


def test_html_report_resolves_the_source_tags_its_agreements_cite(db, tmp_path):
    text = write_report(db, YEAR, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "domain.md" not in text and "ecocomp/data/sources.toml" in text
    # 澧水 cites S5, 渌水 S7c (the 3000万 check figure): each listed with its address
    for tag, url in (("S5", "http://www.zzgayq.com/News/1435.html"),
                     ("S7c", "http://arkombiservisi.com/portal.php?aid=101174&amp;mod=view")):
        assert f"<td>{tag}</td>" in text and url in text


def test_html_report_has_svg_charts_and_confidence_labels(db, tmp_path):
    out = write_report(db, YEAR, tmp_path / "report.html", as_of=date(2022, 5, 1))
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") >= 2
    assert "推定 inferred" in page and "占位 placeholder" in page
    assert "guiyangzhen cd at 2021-04-12" in page  # the correction is explained
    assert "<script" not in page and "http://www.w3.org/2000/svg" in page


def test_an_unknown_report_format_is_a_clear_error(db, tmp_path):
    with pytest.raises(EcocompError, match=r"\.pdf"):
        write_report(db, YEAR, tmp_path / "report.pdf")


def test_a_year_with_nothing_settled_is_a_clear_error(db, tmp_path):
    with pytest.raises(EcocompError, match="nothing settled for 2019"):
        write_report(db, 2019, tmp_path / "report.html")


def test_a_database_never_settled_is_a_clear_error(tmp_path):
    with pytest.raises(EcocompError, match="settle"):
        write_report(tmp_path / "missing.db", YEAR, tmp_path / "report.html")


@pytest.mark.parametrize("suffix", [".html", ".zip", ".xlsx"])
def test_a_failed_write_keeps_the_earlier_report_and_leaves_no_debris(
    db, tmp_path, monkeypatch, suffix
):
    out = tmp_path / f"report{suffix}"
    write_report(db, YEAR, out)
    before = out.read_bytes()

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ecocomp.outputs.os.fsync", disk_full)
    with pytest.raises(EcocompError, match=rf"report\{suffix}: cannot write the report "
                                           r"\(No space left on device\)"):
        write_report(db, YEAR, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_report_into_a_missing_folder_is_a_clear_error(db, tmp_path):
    with pytest.raises(EcocompError, match=r"no-such-folder/report\.html: cannot write"):
        write_report(db, YEAR, tmp_path / "no-such-folder" / "report.html")


def test_rewriting_a_report_keeps_its_permissions_and_follows_a_link(db, tmp_path):
    target = tmp_path / "shared" / "report.html"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "report.html"
    link.symlink_to(target)
    write_report(db, YEAR, link)
    assert link.is_symlink() and target.read_text(encoding="utf-8").startswith("<!DOCTYPE")
    assert target.stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------- xlsx for people


def test_xlsx_sheets_have_frozen_headers_filters_widths_and_landscape_print(db, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(write_report(db, YEAR, tmp_path / "r.xlsx"))
    classes = wb["水质类别"]
    assert classes.freeze_panes == "C3" and classes.auto_filter.ref.startswith("A2:")
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.freeze_panes and ws.auto_filter.ref, ws.title
    obligations = wb["月度补偿 obligations"]
    assert obligations.freeze_panes == "C2"
    # the basis column is wide enough to read, the payer column shows "常德市 (430700)"
    assert obligations.column_dimensions["J"].width >= 60
    assert obligations.column_dimensions["F"].width >= len("常德市 (430700)") + 3


def test_xlsx_money_is_numbers_with_separators_dates_are_dates_and_totals_add_up(db, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(write_report(db, YEAR, tmp_path / "r.xlsx",
                                             as_of=date(2022, 5, 1)))
    nets = wb["年度清缴 nets"]
    rows = list(nets.iter_rows(min_row=2, values_only=False))
    body = [r for r in rows if r[0].value != "合计 total"]
    totals = rows[len(body):]
    assert totals and all(r[0].value == "合计 total" for r in totals)
    assert all(r[4].number_format == "#,##0.00" and r[4].data_type == "n" for r in body)
    assert all(r[6].is_date for r in body)
    assert {r[6].value.date() for r in body} >= {date(2022, 4, 30)}
    # one total per pair of parties, what the payer owes the payee net
    for total in totals:
        payer, payee = total[2].value, total[3].value
        net = (sum(r[4].value for r in body if (r[2].value, r[3].value) == (payer, payee))
               - sum(r[4].value for r in body if (r[2].value, r[3].value) == (payee, payer)))
        assert total[4].value == net >= 0
    assert len(totals) == len({frozenset((r[2].value, r[3].value)) for r in body})
    assert nets.auto_filter.ref == f"A1:G{len(body) + 1}"  # the total is not filtered
    legend = [c.value for row in wb["水质类别"].iter_rows() for c in row]
    assert "图例 legend" in legend and "Ⅲ类 良好" in legend


# --------------------------------------------------------------------------- HTML for people


@pytest.fixture(scope="module")
def page(db, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("html") / "report.html"
    return write_report(db, YEAR, out, as_of=date(2022, 5, 1)).read_text(encoding="utf-8")


def test_html_report_has_a_legend_and_marks_the_target_class(page):
    legend = page[page.index('<ul class="legend"'):page.index("</ul>", page.index("legend"))]
    for c in WaterClass:
        assert c.colour in legend and f"{c.roman}类" in legend
    assert "目标 target class" in legend and "劣于目标 worse than target" in legend
    # jinyushi's target is Ⅲ and its February is Ⅳ: outlined and said so
    assert 'class="target"' in page
    assert "2021-02: Ⅳ 劣于目标 worse than target</title>" in page


def test_html_report_has_a_table_of_contents_linking_every_agreement_and_party(page):
    nav = page[page.index('<nav id="toc">'):page.index("</nav>")]
    for anchor in re.findall(r'href="#([^"]+)"', nav):
        assert f'id="{anchor}"' in page, anchor
    assert nav.count('href="#party-') == 7 and nav.count('href="#ag-') == 9
    assert "常德市 (430700)" in nav


def test_html_report_ties_the_months_to_the_annual_net(page):
    start = page.index("(lishui-zjj-cd-2020)</h3>")
    section = page[start:page.index("</section>", start)]
    months = re.findall(r"<td>(2021-\d\d)</td>", section)
    assert sorted(set(months)) == [f"2021-{m:02d}" for m in range(1, 13)]  # every month
    assert "月度合计 sum of the months" in section
    assert "常德市 (430700) → 张家界市 (430800): 800,000.00 元" in section
    assert "800,000.00 元 (80.00 万元), due 2022-04-30" in section
    assert "✓ = the sum of the months" in section


def test_html_report_shows_zero_months_with_their_reason_and_units(page):
    start = page.index('id="party-')
    parties = page[start:]
    assert "零金额月份及原因" in parties
    assert re.search(r"<td>2021-03</td>.*?0\.00 元</td><td>[^<]*no payment", parties, re.S)
    # amounts carry their unit and thousands separators
    assert "8,000,000.00 元" in page and "800.00 万元" in page


def test_html_report_judges_overdue_as_of_the_given_date(db, tmp_path):
    before = write_report(db, YEAR, tmp_path / "a.html", as_of=date(2022, 4, 1))
    after = write_report(db, YEAR, tmp_path / "b.html", as_of=date(2022, 5, 1))
    early, late = (p.read_text(encoding="utf-8") for p in (before, after))
    assert "as of <b>2022-04-01</b>" in early
    assert 'class="overdue">逾期 overdue' in late and 'class="overdue">逾期 overdue' not in early


def test_an_office_letterhead_replaces_the_shipped_one_and_is_escaped(db, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "letterhead.html").write_text(
        "<header class=\"office\">湖南省财政厅 {{ year }} {{ '<b>' }}</header>", encoding="utf-8")
    text = write_report(db, YEAR, tmp_path / "r.html", template_dir=templates).read_text(
        encoding="utf-8")
    assert '<header class="office">湖南省财政厅 2021 &lt;b&gt;</header>' in text
    assert "ecocomp · 流域生态保护补偿结算" not in text


def test_a_broken_template_is_a_located_error_and_writes_nothing(db, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "letterhead.html").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(EcocompError, match=r"letterhead\.html:1: the report template failed"):
        write_report(db, YEAR, tmp_path / "r.html", template_dir=templates)
    with pytest.raises(EcocompError, match=r"--template-dir .*nope: no such folder"):
        write_report(db, YEAR, tmp_path / "r.html", template_dir=tmp_path / "nope")
    with pytest.raises(EcocompError, match=r"templates shape the HTML report only"):
        write_report(db, YEAR, tmp_path / "r.xlsx", template_dir=templates)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["templates"]


def test_the_templates_ship_with_the_package():
    from importlib import resources

    shipped = resources.files("ecocomp").joinpath("templates")
    assert shipped.joinpath("report.html").is_file()
    assert shipped.joinpath("letterhead.html").is_file()
    pyproject = (EXAMPLE.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"templates/*.html"' in pyproject


def test_the_report_extra_adds_nothing_unused_and_pandas_is_its_own_extra():
    import tomllib

    data = tomllib.loads((EXAMPLE.parent.parent / "pyproject.toml").read_text("utf-8"))
    core = {d.split(">")[0] for d in data["project"]["dependencies"]}
    extras = data["project"]["optional-dependencies"]
    assert {d.split(">")[0] for d in extras["report"]} <= core  # matplotlib is gone
    assert {"openpyxl", "jinja2"} <= core
    assert [d.split(">")[0] for d in extras["pandas"]] == ["pandas"]


def test_report_command_takes_as_of_and_a_template_dir(db, tmp_path):
    from click.testing import CliRunner

    from ecocomp.cli import main

    templates = tmp_path / "letterhead"
    templates.mkdir()
    (templates / "letterhead.html").write_text("<p>财政厅</p>", encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--year", str(YEAR), "--out",
                                       str(out), "--as-of", "2022-04-01", "--template-dir",
                                       str(templates)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<p>财政厅</p>" in page and "as of <b>2022-04-01</b>" in page
    refused = CliRunner().invoke(main, ["report", "--db", str(db), "--year", str(YEAR),
                                        "--out", str(tmp_path / "r.csv")])
    assert refused.exit_code == 1 and "one table per file" in refused.output
    assert "Traceback" not in refused.output


def test_the_full_basis_in_the_html_is_the_json_of_the_basis(db, page):
    import html as html_module
    import json

    report = build_report(db, YEAR, as_of=date(2022, 5, 1))
    shown = [json.loads(html_module.unescape(p))
             for p in re.findall(r"<pre>(.*?)</pre>", page, re.S)]
    assert len(shown) == len(report.obligations)
    expected = [json.loads(json.dumps(o.basis, default=str)) for o in report.obligations]
    assert sorted(map(json.dumps, shown)) == sorted(map(json.dumps, expected))


def test_the_report_goes_to_standard_output_with_out_dash(db, tmp_path):
    from click.testing import CliRunner

    from ecocomp.cli import main

    html = CliRunner().invoke(main, ["report", "--db", str(db), "--year", "2021", "--out", "-"])
    assert html.exit_code == 0, html.output
    assert html.stdout_bytes.startswith(b"<!DOCTYPE html>") and b"report written" not in (
        html.stdout_bytes)
    assert not any(tmp_path.iterdir())  # nothing written to a file named "-"
    xlsx = CliRunner().invoke(main, ["report", "--db", str(db), "--year", "2021", "--out", "-",
                                     "--format", "xlsx"])
    assert xlsx.exit_code == 0 and xlsx.stdout_bytes[:2] == b"PK"  # an OOXML zip
    on_disk = tmp_path / "r.html"
    write_report(db, 2021, on_disk)
    assert on_disk.read_bytes() == html.stdout_bytes


@pytest.mark.parametrize("suffix", ["report", "report.xlsx", "report.html"])
def test_a_callers_lowered_decimal_precision_changes_no_figure_of_the_report(
        db, tmp_path, suffix):
    """The report's sums and 万元 figures run under ecocomp's decimal context: a caller
    whose thread context holds 3 digits gets the same files byte for byte."""
    import decimal

    import openpyxl

    def tables(out: Path) -> dict[str, bytes]:
        if out.is_dir():
            return {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        if out.suffix == ".xlsx":
            book = openpyxl.load_workbook(out)
            return {s.title: repr([[c.value for c in r] for r in s.iter_rows()]).encode()
                    for s in book.worksheets}
        return {out.name: out.read_bytes()}

    for folder in ("plain", "low"):
        (tmp_path / folder).mkdir()
    plain = write_report(db, YEAR, tmp_path / "plain" / suffix, as_of=date(2022, 5, 1))
    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_UP)):
        low = write_report(db, YEAR, tmp_path / "low" / suffix, as_of=date(2022, 5, 1))
    assert tables(low) == tables(plain)


def test_a_total_nets_amounts_that_go_opposite_ways_between_two_parties():
    from ecocomp.reports import OBLIGATION_HEADERS, _pair_totals, _Table

    def row(payer, payee, amount):
        amount = Decimal(amount)
        return ("a", "", "2021-03", "class:s", "accrual", payer, payee, amount,
                amount / 10000, "", "")

    table = _Table("obligations", OBLIGATION_HEADERS, (
        row("常德市", "张家界市", "800000.00"),  # a month
        row("张家界市", "常德市", "800000.00"),  # its reversal (an adjustment)
        row("湖南省", "永州市", "50000.00"),
        row("永州市", "湖南省", "20000.00"),
        row("湖南省", "永州市", "1000.00"),
    ), money=(7,), wan=(8,), totals=(5, 6))
    got = {(t[5], t[6]): (t[7], t[8]) for t in _pair_totals(table)}
    # a single column sum would say 1,671,000.00
    assert got == {("常德市", "张家界市"): (Decimal("0.00"), Decimal(0)),
                   ("湖南省", "永州市"): (Decimal("31000.00"), Decimal("3.1"))}
    assert _pair_totals(attrs.evolve(table, totals=None)) == []
