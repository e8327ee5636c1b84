"""Reports: the class table, and the .html/.xlsx/.csv renderings people open."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date
from pathlib import Path

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
    """The example settled, then re-settled with the Cd sample re-flagged valid."""
    folder = tmp_path_factory.mktemp("reports")
    project = folder / "project"
    shutil.copytree(EXAMPLE, project)
    path = folder / "settle.db"
    with ecocomp.Ledger.open(path) as ledger:
        ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger)
        (project / "corrections").mkdir()
        (project / "corrections" / "x.csv").write_text(
            HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
        result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger)
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


def test_csv_report_starts_with_the_utf8_bom_and_has_the_tables(db, tmp_path):
    out = write_report(db, YEAR, tmp_path / "report.csv", as_of=date(2022, 5, 1))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    lishui = next(r for r in rows if r and r[0] == "lishui-zjj-cd")
    assert lishui[3:16] == ["Ⅰ", "Ⅰ", "Ⅱ", "Ⅱ", "Ⅲ", "Ⅱ", "Ⅲ", "Ⅱ", "Ⅱ", "Ⅱ", "Ⅱ", "Ⅰ", "Ⅱ"]
    nets = [r for r in rows if r and r[0] == "lvshui-jx-hn-2019" and "2022-04-30" in r]
    assert len(nets) == 1 and "8000000.00" in nets[0]


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


@pytest.mark.parametrize("suffix", [".html", ".csv", ".xlsx"])
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
