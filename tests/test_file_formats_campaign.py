"""Files that were read wrongly without an error, or differently by the columnar reader
and the row parser (a file-format campaign): each test fails on the code before its fix."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_columnar import imported
from test_import_paths import state

from ecocomp.readings import check_readings, load_readings

HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
WAYS = ("columns", "rows", "general")


def every_way(path: Path, monkeypatch: Any) -> tuple[Any, Any]:
    """The outcome and stored state of one import, the same by every way (or fail)."""
    outcomes = []
    for way in WAYS:
        from ecocomp.store import ReadingStore

        with ReadingStore.open(":memory:") as s:
            outcomes.append((imported(s, path, way, monkeypatch), state(s)))
    assert all(each == outcomes[0] for each in outcomes), outcomes
    return outcomes[0]


def workbook(rows: list[list[Any]], cell: bytes = b"", xml: bytes = b"") -> bytes:
    """An .xlsx of ``rows``, with the XML of one cell's contents replaced (as Excel writes)."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)
    source, out = zipfile.ZipFile(io.BytesIO(raw.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if cell and item.filename == "xl/worksheets/sheet1.xml":
                assert cell in data
                data = data.replace(cell, xml)
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize(("saved", "shown"), [
    (b"<f>0.1*3</f><v>0.30000000000000004</v>", "0.3"),   # a formula's cached result
    (b"<v>0.19999999999999998</v>", "0.2"),                 # =0.3-0.1, pasted as a value
    (b"<v>0.125</v>", "0.125"),
])
def test_a_workbook_number_is_read_at_the_15_digits_excel_shows(tmp_path, saved, shown):
    path = tmp_path / "r.xlsx"
    path.write_bytes(workbook([["section", "sampled_at", "parameter", "value"],
                               ["zhuting", "2023-01-09", "tp", 0.125]],
                              b"<v>0.125</v>", saved))
    [reading] = load_readings(path)
    assert str(reading.value) == shown


def test_a_workbook_formula_without_a_saved_result_is_a_problem_not_an_empty_cell(tmp_path):
    # a workbook written by a program: the formula is there, its result never calculated
    book = openpyxl.Workbook()
    book.active.append(["断面名称", "监测时间", "总磷", "氨氮"])
    book.active.append(["朱亭镇", "2023-01-09 08:00", "=0.1*3", 0.5])
    path = tmp_path / "r.xlsx"
    book.save(path)
    messages = [str(p) for p in check_readings(path, sections={"zhuting": "朱亭镇"})]
    assert messages == [
        f"{path}:Sheet:2:总磷: '=0.1*3' is a formula whose result the workbook does not hold "
        "(it was written by a program and never calculated); open it in Excel and save it, "
        "or write the value"]


def test_a_formula_with_a_saved_result_is_read_as_the_result(tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(workbook([["断面名称", "监测时间", "总磷"],
                               ["朱亭镇", "2023-01-09 08:00", 0.125]],
                              b"<v>0.125</v>", b"<f>0.1+0.025</f><v>0.125</v>"))
    [reading] = load_readings(path, sections={"zhuting": "朱亭镇"})
    assert str(reading.value) == "0.125"


def test_a_formula_that_gives_empty_text_is_an_empty_cell(tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(workbook([["断面名称", "监测时间", "总磷", "氨氮"],
                               ["朱亭镇", "2023-01-09 08:00", 0.125, 0.5]],
                              b'<c r="C2" t="n"><v>0.125</v></c>',
                              b'<c r="C2" t="str"><f>IF(1,"","")</f><v></v></c>'))
    [reading] = load_readings(path, sections={"zhuting": "朱亭镇"})
    assert (reading.parameter, str(reading.value)) == ("nh3n", "0.5")


@pytest.mark.parametrize("cell", ["<0.01L", "< 0.01 L", "0.01L"])
def test_the_hint_for_a_limit_with_an_l_is_a_value_the_file_can_hold(tmp_path, monkeypatch,
                                                                     cell):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + f"zhuting,2023-01-09,tp,{cell},,,\n", encoding="utf-8")
    messages, _state = every_way(path, monkeypatch)
    assert messages == [f"{path}:2:value: {cell!r} looks like the 检出限+L notation; write "
                        "<0.01 for a value below the detection limit"]


@pytest.mark.parametrize("cell", ["<7", "< 6.5", "<14"])
def test_a_ph_below_a_detection_limit_is_refused(tmp_path, monkeypatch, cell):
    """pH '<7' was stored as a non-detect whose mean counted half the limit: pH 3.5."""
    long = tmp_path / "long.csv"
    long.write_text(HEADER + f"zhuting,2023-01-09,ph,{cell},,,\n", encoding="utf-8")
    messages, _state = every_way(long, monkeypatch)
    why = (f"pH {cell!r} has no detection limit; write the measured pH (a pH below a limit "
           "cannot be averaged as half the limit)")
    assert messages == [f"{long}:2:value: {why}"]
    wide = tmp_path / "wide.csv"
    wide.write_text(f"断面名称,监测时间,pH,总磷\n朱亭镇,2023-01-09 08:00,{cell},<0.01\n",
                    encoding="utf-8")
    messages, _state = every_way(wide, monkeypatch)
    assert messages == [f"{wide}:2:pH: {why}"]


# ------------------------------------------------------------ merged cells, hidden sheets

WIDE = ["断面名称", "监测时间", "总磷", "氨氮"]


def sheet_book(path: Path, rows: list[list[Any]], merged: tuple[str, ...] = (),
               others: dict[str, tuple[str, list[list[Any]]]] | None = None) -> Path:
    """A workbook of ``rows`` with ``merged`` ranges, and more sheets: title → (state, rows)."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for ref in merged:
        book.active.merge_cells(ref)
    for title, (shown, more) in (others or {}).items():
        sheet = book.create_sheet(title)
        for row in more:
            sheet.append(row)
        sheet.sheet_state = shown
    book.save(path)
    return path


@pytest.mark.parametrize(("merged", "why"), [
    # the section over three rows: rows 3 and 4 had no section
    ("A2:A4", "cells A2:A4 are merged: the workbook holds the value in A2 only, and rows 3–4 "
              "would read as empty; unmerge the cells and fill the value into each row"),
    # one 氨氮 value over two rows: row 3's 氨氮 read as "not measured", without a word
    ("D2:D3", "cells D2:D3 are merged: the workbook holds the value in D2 only, and row 3 "
              "would read as empty; unmerge the cells and fill the value into each row"),
    # a value over two columns: 氨氮 of row 2 read as "not measured"
    ("C2:D2", "cells C2:D2 are merged: the workbook holds the value in C2 only, and D2 would "
              "read as empty; unmerge the cells and fill the value into each cell"),
])
def test_merged_cells_in_a_workbooks_data_are_refused_with_their_range(
        tmp_path, monkeypatch, merged, why):
    """openpyxl (read-only) gives a merged range's value in its first cell only: a value
    merged over rows was stored for the first row and "not measured" for the others."""
    path = sheet_book(tmp_path / "r.xlsx", [
        WIDE, ["朱亭镇", "2023-01-09 08:00", 0.1, 0.5], ["朱亭镇", "2023-01-10 08:00", 0.2, None],
        ["朱亭镇", "2023-01-11 08:00", 0.3, 0.4]], (merged,))
    row = merged[1]
    messages, stored = every_way(path, monkeypatch)
    assert messages == [f"{path}:Sheet:{row}: {why}"]
    assert stored["readings"] == []


def test_a_merged_header_cell_is_refused_and_says_what_a_title_line_needs(tmp_path):
    path = sheet_book(tmp_path / "r.xlsx", [
        ["朱亭镇 2023年1月 水质监测"], WIDE, ["朱亭镇", "2023-01-09 08:00", 0.1, 0.5]],
        ("A1:D1",))
    messages = [str(p) for p in check_readings(path, sections={"zhuting": "朱亭镇"})]
    assert messages == [
        f"{path}:Sheet:1: cells A1:D1 of the header row are merged, so B1:D1 read as empty: "
        "columns without a name; unmerge them and name each column (a title line above the "
        "header must start with # or be deleted)"]


def test_merged_title_lines_above_the_header_are_read_as_before(tmp_path):
    """Merges wholly in the comment and blank lines above the header are not data."""
    path = sheet_book(tmp_path / "r.xlsx", [
        ["# 朱亭镇 2023年1月 水质监测"], [], WIDE, ["朱亭镇", "2023-01-09 08:00", 0.1, 0.5],
        ["朱亭镇", "2023-01-10 08:00", 0.2, 0.4]], ("A1:D1", "A2:D2"))
    got = load_readings(path, sections={"zhuting": "朱亭镇"})
    assert [(r.sampled_at.day, r.parameter, str(r.value)) for r in got] == [
        (9, "tp", "0.1"), (9, "nh3n", "0.5"), (10, "tp", "0.2"), (10, "nh3n", "0.4")]


@pytest.mark.parametrize(("state", "how"), [
    ("hidden", "right-click a sheet tab, Unhide"),
    ("veryHidden", 'it is "very hidden", which Excel\'s Unhide does not list: in the VBA '
                   "editor (Alt+F11) set the sheet's Visible property to xlSheetVisible"),
])
def test_a_hidden_sheet_with_data_is_refused_by_name(tmp_path, monkeypatch, state, how):
    """A hidden sheet's rows were imported although the user never sees them."""
    path = sheet_book(tmp_path / "r.xlsx", [WIDE, ["朱亭镇", "2023-01-09 08:00", 0.1, 0.5]],
                      others={"旧数据": (state, [WIDE, ["朱亭镇", "2023-01-10 08:00", 9, 9]]),
                              "空": (state, [])})  # a hidden sheet without data: nothing read
    messages, stored = every_way(path, monkeypatch)
    assert messages == [
        f"{path}:旧数据: the sheet is hidden, so its rows would be imported without being "
        f"seen; if its readings are meant, unhide it ({how}), otherwise delete the sheet"]
    assert stored["readings"] == []


def test_merged_ranges_are_found_across_chunks_and_with_a_namespace_prefix(monkeypatch):
    import ecocomp.readings as readings

    monkeypatch.setattr(readings, "_MERGE_CHUNK", 7)  # every element cut somewhere
    xml = (b'<x:worksheet><x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
           b'</x:sheetData><x:mergeCells count="3"><x:mergeCell ref="B9:B5"/>'
           b"<x:mergeCell ref='AA1:AB1'/><x:mergeCell ref=\"C3\"/></x:mergeCells>"
           b"</x:worksheet>")
    assert list(readings._merged_ranges(io.BytesIO(xml))) == [(5, 2, 9, 2), (1, 27, 1, 28)]


def test_a_sheet_merged_all_over_names_twenty_ranges_and_counts_the_rest(tmp_path):
    rows = [WIDE] + [["朱亭镇", f"2023-01-{1 + i // 2:02d} {8 + i % 2 * 12}:00", 0.1, 0.5]
                     for i in range(50)]
    path = sheet_book(tmp_path / "r.xlsx", rows,
                      tuple(f"A{2 + 2 * i}:A{3 + 2 * i}" for i in range(25)))
    messages = [str(p) for p in check_readings(path, sections={"zhuting": "朱亭镇"})]
    assert len(messages) == 21
    assert messages[0].startswith(f"{path}:Sheet:2: cells A2:A3 are merged")
    assert messages[19].startswith(f"{path}:Sheet:40: cells A40:A41 are merged")
    assert messages[20] == (f"{path}:Sheet:42: 5 more merged ranges from this row down; "
                            "unmerge every one")
