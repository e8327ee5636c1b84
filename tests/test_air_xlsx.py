"""Air readings as .xlsx workbooks: read like CSV, every sheet, problems at file:sheet:row:field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from ecocomp.air import AirStore, check_air, import_project_air, load_stations, read_air_readings
from ecocomp.errors import ValidationFailed

STATIONS = """hour_label = "start"

[[station]]
code = "1339A"
name = "市监测站"
city = "430800"
"""


def _book(path: Path, sheets: dict[str, list[list[object]]],
          formats: dict[str, str] | None = None) -> Path:
    """A workbook; ``formats`` gives the number format of date-time cells per sheet."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, datetime) and formats and title in formats:
                    cell.number_format = formats[title]
    book.save(path)
    return path


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_city_day_workbook_reads_as_its_csv(tmp_path: Path) -> None:
    head = ["city", "date", "parameter", "value"]
    book = _book(tmp_path / "days.xlsx", {
        "一月": [head, ["430800", datetime(2026, 1, 1), "pm25", 35],
                 ["430800", datetime(2026, 1, 1), "co", 1.2]],
        "empty": [],
        "二月": [["# note"], head, ["430800", "2026-02-01", "o3_8h", 88.15]],
    }, formats={"一月": "yyyy-mm-dd"})
    csv = _csv(tmp_path / "days.csv", [
        "city,date,parameter,value", "430800,2026-01-01,pm25,35", "430800,2026-01-01,co,1.2",
        "430800,2026-02-01,o3_8h,88.15"])
    cities = {"430800": "张家界市"}
    got = read_air_readings(book, cities=cities)
    assert sorted(got, key=repr) == sorted(read_air_readings(csv, cities=cities), key=repr)
    assert {(r.at.date(), r.kind, r.parameter, r.value) for r in got} == {
        (date(2026, 1, 1), "day", "pm25_24h", Decimal(35)),
        (date(2026, 1, 1), "day", "co_24h", Decimal("1.2")),  # the double 1.2 read as typed
        (date(2026, 2, 1), "day", "o3_8h", Decimal("88.15"))}


def test_a_midnight_hour_formatted_with_its_clock_stays_an_hour(tmp_path: Path) -> None:
    stations_file = tmp_path / "air_stations.toml"
    stations_file.write_text(STATIONS, encoding="utf-8")
    stations = load_stations(stations_file)
    book = _book(tmp_path / "hours.xlsx", {"h": [
        ["station", "time", "parameter", "value"],
        ["1339A", datetime(2026, 1, 1, 0, 0), "pm25", 41],
        ["1339A", datetime(2026, 1, 1, 1, 0), "pm25", 43]]}, formats={"h": "yyyy-mm-dd hh:mm"})
    got = read_air_readings(book, stations=stations)
    assert [(r.at, r.kind, r.parameter) for r in got] == [
        (datetime(2026, 1, 1, 0), "hour", "pm25_1h"), (datetime(2026, 1, 1, 1), "hour",
                                                       "pm25_1h")]


def test_problems_are_located_by_file_sheet_row_and_field(tmp_path: Path) -> None:
    head = ["city", "date", "parameter", "value"]
    book = _book(tmp_path / "bad.xlsx", {
        "good": [head, ["430800", "2026-01-01", "pm25", 35]],
        "bad": [head, ["430800", "2026-01-02", "pm25", 30], ["430800", "2026-01-03", "pm25",
                                                             "abc"]],
        "clash": [head, ["430800", "2026-01-01", "pm25", 36]],
    })
    with pytest.raises(ValidationFailed) as caught:
        read_air_readings(book, cities={"430800"})
    text = "\n".join(str(p) for p in caught.value.problems)
    assert f"{book}:bad:3:value" in text and "'abc' is not a number" in text
    assert f"{book}:clash" in text and "on sheet good" in text
    not_a_book = tmp_path / "fake.xlsx"
    not_a_book.write_text("city,date\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="cannot open the file as an Excel workbook"):
        read_air_readings(not_a_book)


def test_a_project_imports_and_checks_workbooks_in_air_readings(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "air-readings").mkdir(parents=True)
    head = ["city", "date", "parameter", "value"]
    _book(root / "air-readings" / "days.xlsx", {"s": [
        head, *[["430800", f"2026-01-{d:02}", p, v] for d in (1, 2)
                for p, v in (("pm25", 35), ("pm10", 50))]]})
    assert check_air(root, cities={"430800"}) == []
    [result] = import_project_air(root, tmp_path / "air.db", cities={"430800"})
    assert (result.inserted, result.skipped) == (4, False)
    with AirStore.open(tmp_path / "air.db") as store:
        values = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 2))
    assert values[("430800", date(2026, 1, 2))] == {"pm25_24h": Decimal(35),
                                                   "pm10_24h": Decimal(50)}
    _book(root / "air-readings" / "more.xlsx", {"s": [head, ["430800", "2026-01-05", "pm25",
                                                             -1]]})
    problems = [str(p) for p in check_air(root, cities={"430800"})]
    assert len(problems) == 1 and "more.xlsx:s:2:value" in problems[0]


def test_merged_cells_and_hidden_sheets_are_refused_as_for_water(tmp_path: Path) -> None:
    """The air readings read workbooks with the water readings' reader: a city merged over
    two days was read for the first day only, and a hidden sheet's days were imported."""
    head = ["city", "date", "parameter", "value"]
    path = tmp_path / "days.xlsx"
    book = Workbook()
    for row in [head, ["430800", "2026-01-01", "pm25", 35], [None, "2026-01-02", "pm25", 30]]:
        book.active.append(row)
    book.active.merge_cells("A2:A3")
    hidden = book.create_sheet("旧")
    for row in [head, ["430800", "2026-01-03", "pm25", 99]]:
        hidden.append(row)
    hidden.sheet_state = "hidden"
    book.save(path)
    with pytest.raises(ValidationFailed) as caught:
        read_air_readings(path, cities={"430800"})
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:Sheet:2: cells A2:A3 are merged: the workbook holds the value in A2 only, and "
        "row 3 would read as empty; unmerge the cells and fill the value into each row",
        f"{path}:旧: the sheet is hidden, so its rows would be imported without being seen; "
        "if its readings are meant, unhide it (right-click a sheet tab, Unhide), otherwise "
        "delete the sheet"]
