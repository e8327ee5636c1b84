"""Readings files: formats, encodings, units, non-detects, and every rejection located."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp import readings as readings_module
from ecocomp.errors import InputError, ValidationFailed
from ecocomp.readings import (
    HEADER_ALIASES,
    Reading,
    check_readings,
    load_readings,
    read_readings,
)

DATA = Path(__file__).parent / "data" / "readings"
SCHEMA_FILE = Path(__file__).parent.parent / "schemas" / "readings.schema.json"
NAMES = {"zhuting": "朱亭镇", "zhangshugang": "樟树港", "pingtang": "坪塘"}
LONG_HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"


def parse(text: str, *, sections=None, encoding: str = "utf-8") -> list[Reading]:
    return load_readings(io.BytesIO(text.encode(encoding)), sections, name="t.csv")


def problems(text: str, *, sections=None) -> list[tuple[int | None, str | None, str]]:
    found = check_readings(io.BytesIO(text.encode("utf-8")), sections, name="t.csv")
    return [(p.row, p.field, p.message) for p in found]


# --------------------------------------------------------------------------- formats


def test_long_file_reads_units_non_detects_times_sources_and_flags():
    got = load_readings(DATA / "long.csv")
    assert len(got) == 8
    nh3n, tp_dl, tp_ug, do, ph, codmn, hg, flow = got
    assert nh3n == Reading("zhuting", datetime(2023, 1, 9, 8), "nh3n", Decimal("0.15"),
                           source="automatic")
    assert (tp_dl.value, tp_dl.below_dl, tp_dl.sampled_at) == (
        Decimal("0.01"), True, datetime(2023, 1, 9))
    assert (tp_ug.value, tp_ug.flag) == (Decimal("0.043"), "suspect")  # 43 µg/L
    assert str(tp_ug.value) == "0.043"
    assert do.sampled_at == datetime(2023, 1, 9, 9)  # +08:00 is already CST
    assert ph.value == Decimal("7.1")
    assert (codmn.sampled_at, codmn.source) == (datetime(2023, 1, 15, 8), "manual")
    assert (hg.flag, hg.below_dl, hg.value) == ("invalid", True, Decimal("0.00001"))
    assert flow.sampled_at == datetime(2023, 2, 1, 8)  # 00:00Z is 08:00 CST


def test_wide_file_with_chinese_headers_names_and_units():
    got = load_readings(DATA / "wide_utf8_bom.csv", NAMES)
    assert len(got) == 17  # 3 rows, empty cells are "not measured"
    first = {r.parameter: r for r in got if r.sampled_at == datetime(2023, 1, 9, 8)
             and r.section == "zhuting"}
    assert set(first) == {"temp", "ph", "do", "codmn", "nh3n", "tp", "cu"}
    assert first["cu"].value == Decimal("0.005")  # 铜(µg/L) = 5
    assert first["temp"].value == Decimal("12.5")  # 水温(℃)
    assert first["nh3n"].value == Decimal("0.15")  # 氨氮(NH3-N) is a name, not a unit
    dl = [r for r in got if r.below_dl]
    assert [(r.section, r.parameter, r.value) for r in dl] == [
        ("zhangshugang", "nh3n", Decimal("0.025"))]
    feb = [r for r in got if r.sampled_at.month == 2]
    assert {r.source for r in feb} == {"automatic"} and len(feb) == 4  # 自动


@pytest.mark.parametrize(
    ("one", "other"),
    [("long.csv", "long_bom.csv"), ("wide_gb18030.csv", "wide_utf8_bom.csv")],
)
def test_utf8_bom_and_gb18030_files_give_identical_readings(one, other):
    assert load_readings(DATA / one, NAMES) == load_readings(DATA / other, NAMES)


def test_gb18030_text_after_a_long_ascii_start_is_not_misread(tmp_path):
    start = datetime(2023, 1, 1)
    filler = "".join(
        f"zhuting,{start + timedelta(minutes=i):%Y-%m-%dT%H:%M},nh3n,0.{i % 9 + 1}0,,,\n"
        for i in range(3000)
    )
    text = "section,sampled_at,parameter,value,unit,source,flag\n" + filler + \
        "樟树港,2023-03-01,tp,0.132,,,\n"
    path = tmp_path / "late.csv"
    path.write_bytes(text.encode("gb18030"))
    assert len(filler.encode()) > 64 * 1024
    got = load_readings(path, NAMES)
    assert got[-1].section == "zhangshugang"


@pytest.mark.parametrize(
    "content",
    [
        (LONG_HEADER + "zhuting,2023-01-09,tp,0.1,,,\n").encode("utf-16"),
        (LONG_HEADER + "zhuting,2023-01-09,tp,0.1,,,\n").encode("utf-16-le"),  # no BOM
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    ],
)
def test_files_that_are_not_utf8_or_gb18030_text_are_refused(content):
    found = check_readings(io.BytesIO(content), name="x.csv")
    assert len(found) == 1
    assert "file x.csv is not UTF-8 or GB18030 text" in found[0].message


def test_a_file_mixing_encodings_is_refused_at_the_row_where_it_breaks():
    start = datetime(2023, 1, 1)
    head = LONG_HEADER + "朱亭镇,2023-01-01,tp,0.1,,,\n" + "".join(
        f"zhuting,{start + timedelta(minutes=i + 1):%Y-%m-%dT%H:%M},tp,0.1,,,\n"
        for i in range(2500))  # beyond the 64 KiB the encoding is judged from
    tail = "樟树港,2023-01-09,tp,0.2,,,\n".encode("gb18030")
    found = check_readings(io.BytesIO(head.encode("utf-8") + tail), NAMES, name="m.csv")
    assert len(found) == 1
    assert (found[0].row, found[0].field) == (2503, None)
    assert found[0].message == ("the file stops being valid UTF-8 text at row 2503; save the "
                                "whole file in one encoding (UTF-8 or GB18030)")


def test_utf16_sample_file_is_refused_naming_the_file():
    [problem] = check_readings(DATA / "long_utf16.csv")
    assert problem.file == str(DATA / "long_utf16.csv")
    assert "is not UTF-8 or GB18030 text" in problem.message


def test_header_aliases_map_to_the_long_fields():
    text = "断面编码,采样时间,监测项目,监测值,单位,数据来源,标识\n" \
        "zhuting,2023-01-09,总磷,50,μg/L,自动,可疑\n"
    [r] = parse(text)
    assert (r.section, r.parameter, r.value, r.source, r.flag) == (
        "zhuting", "tp", Decimal("0.050"), "automatic", "suspect")
    assert {"断面", "断面名称", "监测时间", "时间", "日期", "来源", "标记"} <= set(HEADER_ALIASES)


def test_wide_headers_may_be_codes_names_aliases_or_carry_units():
    text = "断面,日期,TP(µg/L),nh3n,CODMn,粪大肠菌群,透明度(cm),叶绿素a(mg/L)\n" \
        "zhuting,2023-01-09,43,0.15,2.0,1200,85,0.005\n"
    got = {r.parameter: r.value for r in parse(text)}
    assert got == {"tp": Decimal("0.043"), "nh3n": Decimal("0.15"), "codmn": Decimal("2.0"),
                   "fecal_coliform": Decimal("1200"), "sd": Decimal("0.85"),
                   "chla": Decimal("5.000")}


def test_a_unit_may_follow_the_parameter_in_a_long_files_parameter_cell():
    [r] = parse("section,sampled_at,parameter,value\nzhuting,2023-01-09,总磷(µg/L),43\n")
    assert (r.parameter, r.value) == ("tp", Decimal("0.043"))


def test_empty_trailing_columns_left_by_excel_are_ignored_unless_they_hold_data():
    text = "断面,监测时间,氨氮,,\nzhuting,2023-01-09,0.15,,\n"
    assert [r.value for r in parse(text)] == [Decimal("0.15")]
    found = problems("断面,监测时间,氨氮,,\nzhuting,2023-01-09,0.15,,7\n")
    assert found == [(2, None, "cell 5 has '7' under a column with no name; name the column or "
                      "clear the cell")]


def test_section_names_are_accepted_only_when_the_project_names_sections():
    text = LONG_HEADER + "朱亭镇,2023-01-09,tp,0.1,,,\n"
    assert parse(text, sections=NAMES)[0].section == "zhuting"
    [(row, field, message)] = problems(text)
    assert (row, field) == (2, "section") and "is not a section code" in message


def test_times_with_offsets_are_converted_to_china_standard_time():
    text = LONG_HEADER + "".join(
        f"zhuting,{t},tp,0.1,,,\n" for t in (
            "2023-01-09T00:30Z", "2023-01-09T08:30+08:00", "2023-01-08T20:30-04:00",
            "2023-01-09 08:30", "2023/1/9 8:30", "2023-01-09T08:30:00.000000",
        )
    )
    got = load_readings(io.BytesIO(text.encode()), name="t.csv")
    assert len(got) == 1  # identical repeats of one sample collapse
    assert got[0].sampled_at == datetime(2023, 1, 9, 8, 30)
    assert got[0].sampled_at.tzinfo is None


def test_full_width_digits_and_exponents_are_read_exactly():
    text = LONG_HEADER + "zhuting,２０２３－０１－０９,tp,０.１５,,,\n" \
        "zhuting,2023-01-09,flow,1.5E+3,,,\nzhuting,2023-01-09,hg,5E-7,,,\n"
    tp, flow, hg = parse(text)
    assert (tp.value, tp.sampled_at) == (Decimal("0.15"), datetime(2023, 1, 9))
    assert str(flow.value) == "1500"  # exponent removed, so stored text round-trips
    assert hg.value == Decimal("0.0000005")



@pytest.mark.parametrize("cell", ["0.15①", "0.15¹", "0.1⁵", "0.0₁", "⑩", "1½"])
def test_a_footnote_mark_in_a_value_is_refused_not_read_as_a_digit(cell):
    """NFKC (which reads full-width digits) also turns ① into 1 and ¹ into 1: 0.15① (a value
    with a footnote mark, as Chinese tables write them) would be stored as 0.151."""
    (found,) = problems(LONG_HEADER + f"zhuting,2023-01-09,tp,{cell},,,\n")
    assert found[:2] == (2, "value") and "footnote" in found[2]


@pytest.mark.parametrize("cell", ["2023/1①/9", "2023-01-0⑨", "2023/1/1¹"])
def test_a_footnote_mark_in_a_time_is_refused_not_read_as_a_digit(cell):
    # 2023/1①/9 would be 2023-11-09: another month
    (found,) = problems(LONG_HEADER + f"zhuting,{cell},tp,0.15,,,\n")
    assert found[:2] == (2, "sampled_at") and "footnote" in found[2]

def test_non_detect_keeps_the_limit_and_counts_half_of_it():
    [r] = parse(LONG_HEADER + "zhuting,2023-01-09,nh3n,< 0.025,,,\n")
    assert (r.value, r.below_dl, r.effective_value) == (Decimal("0.025"), True, Decimal("0.0125"))


def test_identical_repeats_collapse_and_blank_lines_are_ignored():
    text = LONG_HEADER + "zhuting,2023-01-09,tp,0.10,,,\n\n,,,,,,\nzhuting,2023-01-09,tp,0.1,,,\n"
    assert [r.value for r in parse(text)] == [Decimal("0.10")]


def test_file_objects_are_read_and_left_open_and_pipes_work():
    data = (LONG_HEADER + "zhuting,2023-01-09,tp,0.1,,,\n").encode()
    f = io.BytesIO(data)
    assert len(list(read_readings(f))) == 1
    assert not f.closed

    assert len(list(read_readings(io.BufferedReader(_Pipe(data))))) == 1


def test_text_mode_files_are_refused_with_a_hint():
    with pytest.raises(TypeError, match="binary mode"):
        list(read_readings(io.StringIO(LONG_HEADER)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- rejections


def test_every_problem_of_the_sample_bad_file_is_located():
    found = check_readings(DATA / "bad.csv")
    got = {(p.row, p.field) for p in found}
    assert got == {
        (2, "value"), (3, "value"), (4, "value"), (5, "value"), (6, "value"),
        (7, "parameter"), (9, "sampled_at"), (10, "sampled_at"), (11, "unit"),
        (12, "source"), (13, "flag"), (15, "value"),
    }
    assert all(p.file == str(DATA / "bad.csv") for p in found)
    assert [p.row for p in found] == sorted(p.row for p in found)  # in file order


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ("zhuting,2023-01-09,tp,-0.1,,,", "value", "negative value '-0.1' for tp"),
        ("zhuting,2023-01-09,tp,<0,,,", "value", "detection limit must be greater than zero"),
        ("zhuting,2023-01-09,ph,15,,,", "value", "pH '15' is outside 0–14"),
        ("zhuting,2023-01-09,ph,-1,,,", "value", "pH '-1' is outside 0–14"),
        ("zhuting,2023-01-09,nh3n,ND,,,", "value", "write <DL with the limit"),
        ("zhuting,2023-01-09,nh3n,未检出,,,", "value", "write <DL with the limit"),
        ("zhuting,2023-01-09,nh3n,0.025L,,,", "value", "write <0.025"),
        ("zhuting,2023-01-09,codmn,NaN,,,", "value", "is not a finite number"),
        ("zhuting,2023-01-09,codmn,inf,,,", "value", "is not a finite number"),
        ("zhuting,2023-01-09,codmn,-Infinity,,,", "value", "is not a finite number"),
        ("zhuting,2023-01-09,cod,,,,", "value", "value is empty"),
        ("zhuting,2023-01-09,cod,1.2.3,,,", "value", "is not a number"),
        ("zhuting,2023-01-09,tpp,0.1,,,", "parameter", "did you mean 'tp'"),
        ("zhuting,2023-01-09,,0.1,,,", "parameter", "parameter is empty"),
        ("zhuting,2023-01-09,tn,0.5,ppm,,", "unit", "unit 'ppm' is not accepted for tn"),
        ("zhuting,2023-02-30,tp,0.1,,,", "sampled_at", "is not a real date"),
        ("zhuting,09/01/2023,tp,0.1,,,", "sampled_at", "expected a date or date-time"),
        ("zhuting,2023-1-9,tp,0.1,,,", "sampled_at", "is not valid"),
        ("zhuting,2023-01-09T25:00,tp,0.1,,,", "sampled_at", "is not a real date"),
        ("zhuting,1850-01-09,tp,0.1,,,", "sampled_at", "out of range"),
        ("zhuting,,tp,0.1,,,", "sampled_at", "sampled_at is empty"),
        ("Zhu Ting,2023-01-09,tp,0.1,,,", "section", "is not a section code"),
        (",2023-01-09,tp,0.1,,,", "section", "section is empty"),
        ("zhuting,2023-01-09,cu,0.001,,robot,", "source", "source 'robot' is not valid"),
        ("zhuting,2023-01-09,zn,0.01,,,maybe", "flag", "flag 'maybe' is not valid"),
        ("zhuting,2023-01-09,zn,0.01,,,,extra", None, "the row has 8 cells"),
    ],
)
def test_each_bad_cell_is_reported_at_its_row_and_field(row, field, fragment):
    found = problems(LONG_HEADER + row + "\n")
    assert len(found) == 1, found
    got_row, got_field, message = found[0]
    assert (got_row, got_field) == (2, field)
    assert fragment in message


def test_unknown_section_is_reported_with_close_names_when_sections_are_known():
    [(row, field, message)] = problems(LONG_HEADER + "zhutin,2023-01-09,tp,0.1,,,\n",
                                       sections=NAMES)
    assert (row, field) == (2, "section")
    assert "unknown section 'zhutin'" in message and "'zhuting'" in message
    assert "sections.toml" in message


def test_several_problems_in_one_row_are_all_reported():
    found = problems(LONG_HEADER + "nowhere!,2023-13-01,xx,abc,,robot,maybe\n")
    assert {f for _r, f, _m in found} == {"section", "sampled_at", "parameter", "value",
                                          "source", "flag"}


def test_wide_empty_cell_is_not_measured_but_a_dash_is_a_problem():
    ok = "断面,监测时间,氨氮,总磷\nzhuting,2023-01-09,0.15,\n"
    assert [r.parameter for r in parse(ok)] == ["nh3n"]
    found = problems("断面,监测时间,氨氮,总磷\nzhuting,2023-01-09,0.15,-\n")
    assert found == [(2, "总磷", "'-' is not a value; leave the cell empty when nothing was "
                      "measured")]


def test_wide_header_problems_name_the_column():
    found = problems("断面,监测时间,氨氮,备注,总磷(ppm),氨氮\nzhuting,2023-01-09,0.1,x,0.1,0.1\n")
    assert {(r, f) for r, f, _m in found} == {(1, "备注"), (1, "总磷(ppm)"), (1, "氨氮")}
    assert any("unit 'ppm' is not accepted for tp" in m for _r, _f, m in found)


def test_long_header_problems():
    missing = problems("section,parameter,value\nzhuting,tp,0.1\n")
    assert missing[0][:2] == (1, None) and "lacks sampled_at" in missing[0][2]
    extra = problems("section,sampled_at,parameter,value,备注\nzhuting,2023-01-09,tp,0.1,x\n")
    assert extra[0][:2] == (1, "备注") and "not part of the long format" in extra[0][2]
    twice = problems("section,断面,sampled_at,parameter,value\nzhuting,zhuting,2023-01-09,tp,1\n")
    assert twice[0][:2] == (1, "断面") and "repeats the section column" in twice[0][2]
    tabs = problems("section\tsampled_at\tparameter\tvalue\nzhuting\t2023-01-09\ttp\t1\n")
    assert "tabs or semicolons" in tabs[0][2]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "the file is empty"), (b"\xef\xbb\xbf\n\n", "the file is empty"),
     (LONG_HEADER.encode(), "header but no data rows"),
     ((LONG_HEADER + ",,,,,,\n\n").encode(), "header but no data rows")],
)
def test_empty_and_header_only_files_are_problems(content, fragment):
    [problem] = check_readings(io.BytesIO(content), name="e.csv")
    assert fragment in problem.message and problem.file == "e.csv"


def test_repeated_sample_with_a_different_value_names_both_rows():
    text = LONG_HEADER + "zhuting,2023-01-10,tp,0.05,,,\nzhuting,2023-01-10,tp,0.05,,,suspect\n" \
        "zhuting,2023-01-10T00:00,tp,<0.05,,,\nzhuting,2023-01-10,tp,0.05,,automatic,\n"
    found = problems(text)
    assert [(r, f) for r, f, _m in found] == [(3, "value"), (4, "value")]
    assert "as row 2 but a different value (0.05 (suspect) here, 0.05 there)" in found[0][2]
    assert "(<0.05 here, 0.05 there)" in found[1][2]
    # the advice fits readings and corrections files alike: one row per sample
    assert found[0][2].endswith("keep the right row and delete the other")


def test_read_readings_raises_at_the_first_problem_with_its_location():
    with pytest.raises(InputError) as caught:
        list(read_readings(DATA / "bad.csv"))
    problem = caught.value.problem
    assert (problem.row, problem.field) == (2, "value")
    assert str(caught.value).startswith(f"{DATA / 'bad.csv'}:2:value: negative value")


def test_load_readings_raises_once_listing_every_problem():
    with pytest.raises(ValidationFailed) as caught:
        load_readings(DATA / "bad.csv")
    assert len(caught.value.problems) == 12
    assert "12 problem(s) in" in str(caught.value)


def test_a_missing_file_is_one_problem(tmp_path):
    [problem] = check_readings(tmp_path / "missing.csv")
    assert "cannot open the file" in problem.message


def test_problems_are_capped_and_the_rest_counted(monkeypatch):
    monkeypatch.setattr(readings_module, "MAX_PROBLEMS", 5)
    text = LONG_HEADER + "".join(f"zhuting,2023-01-{d:02d},tp,-1,,,\n" for d in range(1, 21))
    found = check_readings(io.BytesIO(text.encode()), name="c.csv")
    assert len(found) == 6
    assert found[-1].message.startswith("15 more problem(s) not listed")


# --------------------------------------------------------------------------- magnitudes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1E-4400", "'1E-4400' is too small to be a measured value (below 1E-20); check the "
         "exponent and the unit"),
        ("0.1e-5000", "'0.1e-5000' is too small to be a measured value"),
        ("1E-999999", "'1E-999999' is too small to be a measured value"),
        ("1E-99999999999999999999999", "is too small to be a measured value"),
        ("<1E-30", "'<1E-30' is too small to be a measured value"),
        ("1E-21", "'1E-21' is too small to be a measured value"),
        ("0.000000000000000000001", "'0.000000000000000000001' is too small"),
        ("0." + "0" * 5000 + "1", "'0.0000000000000000000000000000'… (5003 characters) is too "
         "small to be a measured value"),
        ("0.1" + "0" * 5000, "… (5003 characters) has more than 28 significant digits"),
        ("1E+99999999999999999999999", "is too large to be a measured value; check the exponent"),
    ],
)
def test_values_too_small_or_too_large_to_be_measured_are_refused(value, message):
    [(row, field, got)] = problems(LONG_HEADER + f"zhuting,2023-01-09,tp,{value},,,\n")
    assert (row, field) == (2, "value")
    assert message in got and len(got) < 200  # a 5 000-digit cell is not echoed whole


def test_the_smallest_values_and_zeros_written_with_many_decimals_are_kept_short():
    text = LONG_HEADER + "".join(
        f"zhuting,2023-01-{day:02d},tp,{value},,,\n" for day, value in enumerate(
            ["1E-20", "0.00000000000000000001", "1.23E-20", "0E-5000", "0." + "0" * 5000,
             "<1E-20", "0"], start=1)
    )
    got = [r.value for r in parse(text)]
    assert got == [Decimal("1E-20")] * 2 + [Decimal("1.23E-20")] + [Decimal(0)] * 2 + \
        [Decimal("1E-20"), Decimal(0)]
    assert max(len(format(v, "f")) for v in got) <= 24  # the store keeps this text


def test_a_tiny_value_is_refused_by_a_store_import_as_by_check(tmp_path):
    from ecocomp.store import ReadingStore

    path = tmp_path / "zz.csv"
    path.write_text(LONG_HEADER + "zhuting,2023-01-09,tp,1E-4400,,,\n", "utf-8")
    [problem] = check_readings(path)
    with ReadingStore.open(":memory:") as store, pytest.raises(ValidationFailed) as caught:
        store.import_file(path)
    assert [str(p) for p in caught.value.problems] == [str(problem)]


# --------------------------------------------------------------------------- quotes


def _stray(rows: list[str], header: str = LONG_HEADER, end: str = "\n") -> str:
    return header + end.join(rows) + end


_LONG_ROWS = ["zhuting,2022-01-09,tp,0.05,,,", 'zhuting,2022-01-10,tp,"0.05,,,',
              "zhuting,2022-01-11,tp,0.05,,,", "zhuting,2022-01-12,tp,0.05,,,"]
_WIDE = "断面,监测时间,氨氮,总磷\n"
_WIDE_ROWS = ["朱亭镇,2023-01-09,0.15,0.1", '朱亭镇,2023-01-10,0.15,"0.1',
              "朱亭镇,2023-01-11,0.15,0.1", "朱亭镇,2023-01-12,0.15,0.1"]


@pytest.mark.parametrize(
    ("text", "encoding", "field"),
    [
        (_stray(_LONG_ROWS), "utf-8", "value"),
        (_stray(_LONG_ROWS, end="\r\n"), "utf-8", "value"),
        (_stray(_LONG_ROWS), "gb18030", "value"),
        (_stray(_WIDE_ROWS, _WIDE), "gb18030", "总磷"),
        (_stray(_WIDE_ROWS, _WIDE), "utf-8-sig", "总磷"),
        (_stray(["朱亭镇,2023-01-09,0.15,0.1", '"朱亭镇,2023-01-10,0.15,0.1',
                 "朱亭镇,2023-01-11,0.15,0.1", "朱亭镇,2023-01-12,0.15,0.1"], _WIDE), "utf-8",
         "断面"),
    ],
)
def test_a_stray_quote_is_reported_at_the_line_where_it_opens(text, encoding, field):
    found = check_readings(io.BytesIO(text.encode(encoding)), NAMES, name="zz.csv")
    assert [str(p) for p in found] == [
        f'zz.csv:3:{field}: a quote (") opens here and is never closed, so the cell runs to '
        "line 5, the end of the file; remove the quote or close it"]


def test_a_quote_closed_lines_later_is_reported_where_it_opens_and_later_rows_are_read():
    rows = [*_LONG_ROWS[:3], 'zhuting,2022-01-12,tp,0.05",,,', "zhuting,2022-01-13,tp,-1,,,"]
    assert problems(_stray(rows)) == [
        (3, "value", 'a quote (") opens here and is not closed on this line, so the cell runs '
         "on to line 5; remove the quote or close it on this line"),
        (6, "value", "negative value '-1' for tp; a concentration or amount cannot be below "
         "zero — check the sign"),
    ]


def test_a_stray_quote_in_a_header_is_reported_at_the_header():
    [(row, field, message)] = problems('断面,监测时间,"氨氮,总磷\nzhuting,2023-01-09,0.1,0.1\n')
    assert (row, field) == (1, None) and message.startswith('a quote (") opens here')


def test_a_stray_quote_in_a_large_file_is_reported_where_it_opens(tmp_path):
    rows = [*_LONG_ROWS[:2], *(f"zhuting,2022-02-{1 + i % 28:02d}T{i // 28 % 24:02d}:{i % 60:02d}"
                               ",tp,0.05,,," for i in range(4000))]
    path = tmp_path / "big.csv"
    path.write_text(_stray(rows), "utf-8")  # the quoted cell outgrows the csv module's limit
    [problem] = check_readings(path, name="big.csv")
    assert (problem.row, problem.field) == (3, "value")
    assert problem.message.startswith('a quote (") opens here and is not closed on this line, '
                                      "so the cell takes in the lines below until it is too "
                                      "long to read (more than 131,072 characters, at line ")
    with pytest.raises(InputError) as caught:  # streaming, from a pipe: no line to go back to
        list(read_readings(io.BufferedReader(_Pipe(_stray(rows).encode())), name="big.csv"))
    assert "a quote (\") above is probably never closed" in caught.value.problem.message


def test_a_cell_too_long_on_one_line_is_named_without_python_text():
    [(row, _field, message)] = problems(LONG_HEADER + "zhuting,2023-01-09,tp," + "1" * 140_000
                                        + ",,,\n")
    assert row == 2 and message.startswith("a cell of this line is longer than 131,072")


class _Pipe(io.RawIOBase):  # not seekable, like stdin
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        chunk = self._data.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


# --------------------------------------------------------------------------- unnamed columns


def test_data_under_unnamed_trailing_columns_names_the_cell():
    text = "断面,监测时间,总磷,,\n朱亭镇,2021-01-09,0.05,,\n朱亭镇,2021-01-10,0.05,,x\n" \
        "朱亭镇,2021-01-11,0.05,a,x\n朱亭镇,2021-01-12,0.05,,,9\n"
    found = check_readings(io.BytesIO(text.encode("gb18030")), NAMES, name="zz.csv")
    assert [str(p) for p in found] == [
        "zz.csv:3: cell 5 has 'x' under a column with no name; name the column or clear the "
        "cell",
        "zz.csv:4: cells 4 and 5 have 'a' and 'x' under columns with no name; name the columns "
        "or clear the cells",
        "zz.csv:5: the row has 6 cells but the header has 5; remove the extra cells or quote "
        "cells that contain commas",
    ]
    long = problems(LONG_HEADER.replace("\n", ",\n") + "zhuting,2023-01-09,tp,0.1,,,,x\n")
    assert long == [(2, None, "cell 8 has 'x' under a column with no name; name the column or "
                     "clear the cell")]


def test_a_wide_row_of_empty_values_is_skipped_but_a_file_of_only_such_rows_is_a_problem():
    mixed = _WIDE + "朱亭镇,2023-01-09,,\n朱亭镇,2023-01-10,0.15,\n"
    assert [(r.sampled_at.day, r.parameter) for r in parse(mixed, sections=NAMES)] == [
        (10, "nh3n")]
    found = problems(_WIDE + "朱亭镇,2023-01-09,,\n朱亭镇,2023-01-10, ,\n", sections=NAMES)
    assert found == [(2, None, "every parameter cell of the file's rows is empty, so the file "
                      "holds no measured value; fill in the values or leave the file out")]


# --------------------------------------------------------------------------- dates in words


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2021-01-09T08:00+25:00", "'2021-01-09T08:00+25:00' has UTC offset +25:00, which is "
         "out of range (-23:59..+23:59); write the sampling place's offset, e.g. +08:00 for "
         "China Standard Time, or leave it out"),
        ("2021-01-09T08:00-24:00", "has UTC offset -24:00, which is out of range"),
        ("2021-01-09T08:00+08:75", "has UTC offset +08:75, which is out of range"),
        ("2021-02-29", "'2021-02-29' is not a real date: 2021-02 has 28 days; check the day and "
         "month"),
        ("2021-13-01", "is not a real date: there is no month 13; check the day and month"),
        ("2021/1/0", "is not a real date: there is no day 0"),
        ("2021-01-09T24:00", "is not a real date or time: hour 24 is out of range (0–23); "
         "check the time"),
        ("2021/1/9 8:60", "minute 60 is out of range (0–59)"),
        ("2021-01-09 08:00:60", "second 60 is out of range (0–59)"),
        ("0000-01-01", "'0000-01-01' is out of range (years 1900–2999); check the year"),
    ],
)
def test_impossible_dates_times_and_offsets_are_explained_in_plain_words(when, message):
    [(row, field, got)] = problems(LONG_HEADER + f"zhuting,{when},tp,0.1,,,\n")
    assert (row, field) == (2, "sampled_at")
    assert message in got
    assert not re.search(r"timedelta|must be in|out of range for month|\(\w+ is", got)


# --------------------------------------------------------------------------- the schema


def test_the_loader_reads_its_cell_rules_from_the_schema_file():
    schema = json.loads(SCHEMA_FILE.read_text("utf-8"))
    props = schema["properties"]
    assert readings_module._VALUE_RE.pattern == props["value"]["pattern"]
    assert readings_module._WHEN_RE.pattern == props["sampled_at"]["pattern"]
    assert readings_module._SECTION_RE.pattern == props["section"]["pattern"]
    assert readings_module.FLAGS == tuple(props["flag"]["enum"])
    assert set(readings_module.SOURCES) == set(props["source"]["enum"]) - {""}


_VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text("utf-8")))


def _row(value: str = "0.1", when: str = "2023-01-09") -> dict[str, str]:
    return {"section": "zhuting", "sampled_at": when, "parameter": "tp", "value": value}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.<-+eE ", max_size=10))
def test_value_cells_are_accepted_exactly_when_the_schema_accepts_them(text):
    text = text.strip()
    schema_ok = _VALIDATOR.is_valid(_row(value=text))
    parsed = readings_module._parse_value(text, False)
    parser_ok = not isinstance(parsed, readings_module._Err)
    if parser_ok:
        assert schema_ok
    elif schema_ok:  # only magnitude limits go beyond the pattern
        assert re.search("too large|too small|significant digits", parsed.message)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-/:TZ+ .", max_size=22))
def test_sampled_at_cells_are_accepted_only_when_the_schema_accepts_them(text):
    text = text.strip()
    schema_ok = _VALIDATOR.is_valid(_row(when=text))
    parsed = readings_module._parse_when(text)
    if not isinstance(parsed, readings_module._Err):
        assert schema_ok
    elif schema_ok:  # the pattern cannot know calendars: 2023-02-30, 25:00, year 1850
        assert re.search("real date|out of range", parsed.message)


# --------------------------------------------------------------------------- streaming


def _long_file(path: Path, rows: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.write(LONG_HEADER)
        for i in range(rows):
            f.write(f"s{i % 7},2023-{1 + i // 200000 % 12:02d}-{1 + i // 7000 % 28:02d}T"
                    f"{i // 250 % 24:02d}:{i // 25 % 10:02d},"
                    f"{('tp', 'nh3n', 'codmn', 'do', 'ph')[i % 5]},0.{i % 997:03d},,,\n")
    return path


def test_streaming_memory_does_not_grow_with_file_size(tmp_path):
    peaks = []
    for rows in (5_000, 50_000):
        path = _long_file(tmp_path / f"{rows}.csv", rows)
        tracemalloc.start()
        count = sum(1 for _ in read_readings(path))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == rows
    # ten times the rows, about the same peak (a list of 50 000 readings alone is ~10 MB)
    assert peaks[1] < peaks[0] * 1.5 + 128 * 1024, peaks
    assert peaks[1] < 1024 * 1024, peaks
