"""Regressions found by the differential campaign over the readings import paths.

Every way into the store (the columnar reader with and without the compiled insert, the row
parser's direct path, the general staging path) must store the same rows and give the same
messages whatever the caller's own :mod:`decimal` context is: the columnar reader converts
values in a thread of its own, which starts from the decimal module's default context, while
the row parser ran in the caller's thread, under the caller's context.
"""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

import pytest
from test_columnar import imported
from test_import_paths import state, sums_agree_with_sql

from ecocomp.store import ReadingStore

HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
WAYS = ("columns", "columns-executemany", "rows", "general")


def outcome(path: Path, way: str, monkeypatch: Any) -> tuple[Any, dict[str, Any]]:
    with ReadingStore.open(":memory:") as s:
        result = imported(s, path, way, monkeypatch)
        assert sums_agree_with_sql(s)
        return result, state(s)


@pytest.mark.parametrize("way", WAYS)
def test_the_callers_decimal_precision_rounds_no_value(tmp_path, monkeypatch, way):
    """A program that keeps money at 6 digits (``getcontext().prec = 6``) imported
    1234567.891 µg/L as 1234.57 mg/L by the row parser, and refused 1.5E+7 as too large,
    while the columnar reader stored 1234.567891 and 15000000."""
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "zhuting,2023-01-09,tp,1234567.891,µg/L,manual,\n"
                    "zhuting,2023-01-09,flow,1.5E+7,,manual,\n"
                    "zhuting,2023-01-10,chla,1.23456789,mg/L,manual,\n"
                    "zhuting,2023-01-11,transparency,123456.78,cm,manual,\n", encoding="utf-8")
    expected = outcome(path, "rows", monkeypatch)  # the default context
    assert [r[4] for r in expected[1]["readings"]] == ["1234.567891", "15000000",
                                                       "1234.56789000", "1234.5678"]
    with decimal.localcontext() as ctx:
        ctx.prec = 6
        assert outcome(path, way, monkeypatch) == expected


@pytest.mark.parametrize("way", WAYS)
def test_the_callers_decimal_traps_change_no_message(tmp_path, monkeypatch, way):
    """With InvalidOperation not trapped, Decimal() of an exponent beyond its range gives
    NaN instead of raising: the row parser then failed with a TypeError, not a message."""
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "zhuting,2023-01-09,tp,1E-99999999999999999999,,manual,\n"
                    "zhuting,2023-01-10,tp,0.1,,manual,\n", encoding="utf-8")
    expected = outcome(path, "rows", monkeypatch)
    assert expected[0] == [f"{path}:2:value: '1E-99999999999999999999' is too small to be a "
                           "measured value (below 1E-20); check the exponent and the unit"]
    with decimal.localcontext() as ctx:
        ctx.traps[decimal.InvalidOperation] = False
        assert outcome(path, way, monkeypatch) == expected


@pytest.mark.parametrize("way", WAYS)
def test_the_callers_decimal_capitals_change_no_stored_text(tmp_path, monkeypatch, way):
    """str(Decimal("0.0000005")) is '5e-7' under a context with capitals=0: the row
    parser's paths then failed with a ValueError (int('5e-7')) where the columns stored it."""
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "zhuting,2023-01-09,tp,0.0000005,,manual,\n"
                    "zhuting,2023-01-10,tp,<0.0000005,,manual,\n"
                    "zhuting,2023-01-11,tp,5E-7,,manual,\n", encoding="utf-8")
    expected = outcome(path, "rows", monkeypatch)
    assert [r[4] for r in expected[1]["readings"]] == ["0.0000005"] * 3
    with decimal.localcontext() as ctx:
        ctx.capitals = 0
        assert outcome(path, way, monkeypatch) == expected


def test_readings_added_from_python_are_not_rounded_by_the_callers_precision():
    """ReadingStore.add() wrote 1.5E+7 out with the caller's context: with 6 digits of
    precision that raised InvalidOperation instead of storing 15000000."""
    from datetime import datetime
    from decimal import Decimal

    from ecocomp.readings import Reading

    reading = Reading("zhuting", datetime(2023, 1, 9), "flow", Decimal("1.5E+7"), False,
                      "manual", "")
    with ReadingStore.open(":memory:") as expected_store:
        expected_store.add([reading])
        expected = [r.value for r in expected_store.readings()]
    assert expected == [Decimal(15000000)]
    with decimal.localcontext() as ctx, ReadingStore.open(":memory:") as s:
        ctx.prec = 6
        s.add([reading])
        assert [r.value for r in s.readings()] == expected


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("cell", ["<0", "<-1", "< 0.0", "<-0.5"])
def test_a_detection_limit_of_zero_or_below_is_refused_for_every_parameter(
        tmp_path, monkeypatch, way, cell):
    """Water temperature may be negative, but not a detection limit: `<0` and `<-1` were
    stored as non-detects (effective values 0 and -0.5) where docs/readings.md refuses a
    limit of zero; so was pH `<0`. Long and wide files, every way."""
    long = tmp_path / "long.csv"
    long.write_text(HEADER + f"zhuting,2023-01-09,temp,{cell},,manual,\n"
                    f"zhuting,2023-01-09,ph,{cell},,manual,\n"
                    "zhuting,2023-01-10,temp,-1.5,,manual,\n", encoding="utf-8")
    messages = outcome(long, way, monkeypatch)[0]
    limit = f"{cell!r}: a detection limit must be greater than zero"
    ph = limit if "-" not in cell else (
        f"pH {cell!r} is outside 0–14; check the value and the column")
    assert messages == [f"{long}:2:value: {limit}", f"{long}:3:value: {ph}"]
    wide = tmp_path / "wide.csv"
    wide.write_text(f"断面名称,监测时间,水温(℃),pH\n朱亭镇,2023-01-09 08:00,{cell},7.1\n",
                    encoding="utf-8")
    messages = outcome(wide, way, monkeypatch)[0]
    assert messages == [f"{wide}:2:水温(℃): {cell!r}: a detection limit must be greater than "
                        "zero"]


@pytest.mark.parametrize("way", WAYS)
def test_a_unit_factor_cannot_carry_a_value_past_the_largest_measured_value(
        tmp_path, monkeypatch, way):
    """Chlorophyll a written in mg/L is multiplied by 1000 (its unit is mg/m³): 1E+27 mg/L
    was stored as 1E+30, above the 1E+28 every value written must stay below."""
    long = tmp_path / "long.csv"
    long.write_text(HEADER + "zhuting,2023-01-09,chla,9999999999999999999999999999,mg/L,manual,\n"
                    "zhuting,2023-01-10,chla,1E+27,mg/L,manual,\n"
                    "zhuting,2023-01-11,chla,9999999999999999999999999,mg/L,manual,\n",
                    encoding="utf-8")
    messages = outcome(long, way, monkeypatch)[0]
    assert messages == [
        f"{long}:2:value: '9999999999999999999999999999' is 9.999999999999999999999999999E+30 "
        "in the unit of chla: too large to be a measured value; check the value and the unit",
        f"{long}:3:value: '1E+27' is 1E+30 in the unit of chla: too large to be a measured "
        "value; check the value and the unit"]
    wide = tmp_path / "wide.csv"
    wide.write_text("断面名称,监测时间,叶绿素a(mg/L)\n朱亭镇,2023-01-09 08:00,1E+27\n"
                    "朱亭镇,2023-01-10 08:00,0.0042\n", encoding="utf-8")
    messages = outcome(wide, way, monkeypatch)[0]
    assert messages == [f"{wide}:2:叶绿素a(mg/L): '1E+27' is 1E+30 in the unit of chla: too "
                        "large to be a measured value; check the value and the unit"]


@pytest.mark.parametrize(("value", "below", "message"), [
    ("0", True, "'0': a detection limit must be greater than zero"),
    ("-1", True, "'-1': a detection limit must be greater than zero"),
    ("1E+28", False, "'1E+28' is 1E+28 in the unit of temp: too large to be a measured value; "
     "check the value and the unit"),
    ("1.2345678901234567890123456789", False, "value 1.2345678901234567890123456789 has more "
     "than 28 significant digits; round it to what was measured"),
])
def test_readings_added_from_python_are_checked_like_a_file(value, below, message):
    """ReadingStore.add() took a non-detect of water temperature at 0 or below, and raised
    InvalidOperation (not a message) for a value of 1E+28 or more; it now checks values with
    the file parser's rules (readings._checked), with their messages."""
    from datetime import datetime
    from decimal import Decimal

    from ecocomp.errors import ValidationFailed
    from ecocomp.readings import Reading

    reading = Reading("zhuting", datetime(2023, 1, 9), "temp", Decimal(value), below,
                      "manual", "")
    with ReadingStore.open(":memory:") as s, pytest.raises(ValidationFailed) as caught:
        s.add([reading], name="api")
    assert [str(p) for p in caught.value.problems] == [f"api:1: {message}; fix reading #1"]


@pytest.mark.parametrize("value", ["14.01", "-0.5", "15"])
def test_a_ph_added_from_python_is_checked_like_a_file(value):
    """A file's pH outside 0–14 is refused; ReadingStore.add() stored it."""
    from datetime import datetime
    from decimal import Decimal

    from ecocomp.errors import ValidationFailed
    from ecocomp.readings import Reading

    reading = Reading("zhuting", datetime(2023, 1, 9), "ph", Decimal(value), False, "manual", "")
    with ReadingStore.open(":memory:") as s, pytest.raises(ValidationFailed) as caught:
        s.add([reading], name="api")
    assert [str(p) for p in caught.value.problems] == [
        f"api:1: pH {value!r} is outside 0–14; check the value and the column; fix reading #1"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("form", ["long", "wide", "xlsx"])
def test_a_water_temperature_below_a_limit_is_refused_on_every_path(
        tmp_path, monkeypatch, way, form):
    """A water temperature '<4' was stored as a non-detect (half of 4 ℃ as its effective
    value) by every path, the columnar one by whole columns: a temperature has no detection
    limit, so a '<' on it is a typing slip or another quantity. Refused like pH '<7'."""
    import openpyxl

    rows = [["section", "sampled_at", "parameter", "value"],
            ["zhuting", "2023-01-09", "tp", "<0.01"],
            ["zhuting", "2023-01-09", "temp", "<4"],
            ["zhuting", "2023-01-10", "temp", "4.5"]]
    field = "value"
    if form == "wide":
        rows = [["断面名称", "监测时间", "总磷", "水温(℃)"],
                ["朱亭镇", "2023-01-09 08:00", "<0.01", "4.5"],
                ["朱亭镇", "2023-01-10 08:00", "0.02", "<4"]]
        field = "水温(℃)"
    if form == "xlsx":
        path = tmp_path / "r.xlsx"
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
        where = f"{path}:Sheet:3:{field}"
    else:
        path = tmp_path / "r.csv"
        path.write_text("".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
        where = f"{path}:3:{field}"
    messages, stored = outcome(path, way, monkeypatch)
    assert messages == [f"{where}: water temperature '<4' has no detection limit; write the "
                        "measured temperature (a temperature below a limit is not a "
                        "non-detect)"]
    assert stored["readings"] == []
