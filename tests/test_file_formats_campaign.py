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
