"""Implausible readings (a unit slip that would move money silently) are warned about, by
the row parser and by the columnar reader alike, and imported as written."""

from __future__ import annotations

import io
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ecocomp.store as store_module
from ecocomp.cli import main
from ecocomp.readings import (
    MAX_IMPLAUSIBLE,
    PLAUSIBLE_MULTIPLE,
    check_readings,
    load_readings,
    plausible_tops,
)
from ecocomp.store import ReadingStore

HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
DATA = Path(__file__).parent / "data" / "readings"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
TP_50 = ("r.csv:3:value: tp 50 mg/L is 125 times the class Ⅴ limit (0.4 mg/L); a value in "
         "μg/L written without its unit? Write the unit (50 μg/L) or check the value")


def warnings_of(text: str, name: str = "r.csv") -> list[str]:
    """The warnings check_readings gives for a file's text (which must have no problem)."""
    found: list[Any] = []
    assert check_readings(io.BytesIO(text.encode()), name=name, warnings=found) == []
    return [str(w) for w in found]


def long_rows(*rows: str) -> str:
    return HEADER + "".join(f"zhuting,2023-01-{1 + i % 28:02d}T{8 + i // 28:02d}:00,{row}\n"
                            for i, row in enumerate(rows))


# --------------------------------------------------------------------------- the rule


def test_tp_in_ug_written_without_its_unit_is_warned_in_words():
    assert warnings_of(long_rows("tp,0.05,,manual,", "tp,50,,manual,")) == [TP_50]


def test_tp_with_its_unit_written_is_converted_and_not_warned():
    text = long_rows("tp,50,μg/L,manual,")
    assert warnings_of(text) == []
    assert [r.value for r in load_readings(io.BytesIO(text.encode()))] == [Decimal("0.050")]


def test_the_warned_value_is_still_read_as_written():
    found: list[Any] = []
    readings = load_readings(io.BytesIO(long_rows("tp,50,,manual,").encode()), warnings=found)
    assert [r.value for r in readings] == [Decimal("50")] and len(found) == 1


def test_do_above_20_is_warned():
    assert warnings_of(long_rows("do,80,,manual,", "do,20,,manual,", "do,14.6,,,")) == [
        "r.csv:2:value: do 80 mg/L is above 20 mg/L, more than water holds even "
        "supersaturated; a saturation in % written as mg/L? Check the value"]


def test_water_temperature_above_40_is_warned():
    assert warnings_of(long_rows("temp,45,℃,manual,", "temp,40,,manual,")) == [
        "r.csv:2:value: temp 45 °C is above 40 °C, warmer than rivers and lakes get; check "
        "the value and the unit written (℃)"]


def test_exactly_ten_times_the_class_v_limit_is_plausible_and_just_above_is_not():
    assert PLAUSIBLE_MULTIPLE == 10
    assert warnings_of(long_rows("tp,4.0,,manual,", "tp,4,,manual,")) == []
    assert warnings_of(long_rows("tp,4.0001,,manual,")) == [
        "r.csv:2:value: tp 4.0001 mg/L is about 10.0 times the class Ⅴ limit (0.4 mg/L); a "
        "value in μg/L written without its unit? Write the unit (4.0001 μg/L) or check the "
        "value"]


def test_invalid_flagged_and_non_detect_values_are_not_warned():
    assert warnings_of(long_rows("tp,50,,manual,invalid", "tp,<50,,manual,",
                                 "tp,50,,manual,无效")) == []


def test_suspect_values_count_and_so_are_warned():
    assert len(warnings_of(long_rows("tp,50,,manual,suspect"))) == 1


def test_tp_and_tn_take_their_larger_river_limit_so_lakes_are_not_over_warned():
    tops = plausible_tops()
    assert tops["tp"] == Decimal("4.0")  # 10 × 0.4 (river), not 10 × 0.2 (lake)
    assert tops["tn"] == Decimal("20.0")  # TN has lake limits only: 10 × 2.0
    assert tops["do"] == 20 and tops["temp"] == 40
    assert "ph" not in tops and "flow" not in tops and "chla" not in tops


def test_a_value_written_with_a_unit_is_told_to_check_that_unit():
    assert warnings_of(long_rows("tp,50000,µg/L,manual,", "总磷(mg/L),50,,manual,")) == [
        "r.csv:2:value: tp 50.000 mg/L is 125 times the class Ⅴ limit (0.4 mg/L); check the "
        "value and the unit written (µg/L)",
        "r.csv:3:value: tp 50 mg/L is 125 times the class Ⅴ limit (0.4 mg/L); check the "
        "value and the unit written (mg/L)"]


def test_a_wide_file_names_the_column_and_its_unit():
    text = "断面,监测时间,总磷,溶解氧,水温(℃)\nzhuting,2023-01-09,50,8.1,45\n"
    assert warnings_of(text, "w.csv") == [
        "w.csv:2:总磷: tp 50 mg/L is 125 times the class Ⅴ limit (0.4 mg/L); a value in μg/L "
        "written without its unit? Write the unit (50 μg/L) or check the value",
        "w.csv:2:水温(℃): temp 45 °C is above 40 °C, warmer than rivers and lakes get; check "
        "the value and the unit written (℃)"]


def test_a_file_lists_its_first_20_implausible_values_then_counts_the_rest():
    found = warnings_of(long_rows(*["tp,50,,manual,"] * (MAX_IMPLAUSIBLE + 5)))
    assert len(found) == MAX_IMPLAUSIBLE + 1
    assert found[0] == TP_50.replace(":3:", ":2:")
    assert found[-1] == "… and 5 more implausible values in r.csv"


def test_one_value_past_the_listed_20_is_counted_in_the_singular():
    found = warnings_of(long_rows(*["tp,50,,manual,"] * (MAX_IMPLAUSIBLE + 1)))
    assert found[-1] == "… and 1 more implausible value in r.csv"


def test_check_readings_without_a_warnings_list_is_as_before():
    assert check_readings(io.BytesIO(long_rows("tp,50,,manual,").encode())) == []


# --------------------------------------------------------------------------- both readers


def imported_warnings(path: Path, way: str, monkeypatch: Any) -> list[str]:
    with monkeypatch.context() as m:
        m.setattr(store_module, "_COLUMNAR", way == "columns")
        m.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
        with ReadingStore.open(":memory:") as store:
            written: list[Any] = []
            by_columns = store._write_columns

            def spy(*args: Any) -> Any:
                written.append(by_columns(*args))
                return written[-1]

            m.setattr(store, "_write_columns", spy)
            result = store.import_file(path)
            # the way asked for is the way that wrote the file
            assert [type(w).__name__ for w in written] == (
                ["ImportResult"] if way == "columns" else [])
            return [str(w) for w in result.warnings]


def implausible_file(folder: Path, wide: bool, encoding: str, rows: int) -> Path:
    if wide:
        lines = ["断面名称,监测时间,总磷(mg/L),溶解氧,tn,铜(µg/L),水温"]
        lines += [f"zhuting,2023-01-{1 + i % 28:02d} {i // 28 % 24:02d}:00,"
                  f"{'50' if i % 3 == 0 else '0.05'},{'80' if i % 7 == 0 else '8.5'},"
                  f"{'<50' if i % 2 else '0.9'},{'12000' if i % 11 == 0 else '5'},"
                  f"{'41.5' if i % 13 == 0 else '18'}" for i in range(rows)]
    else:
        cells = ["tp,50,,,", "tp,0.05,,,", "do,80,,,", "tp,50,µg/L,,", "tn,25.00000000001,,,",
                 "tp,80,,,invalid", "tp,<80,,,", "codmn,200,mg/L,,suspect", "temp,45,,,",
                 "总磷(mg/L),50,,,", "fecal_coliform,400001,,,", "nh3n,0.5,,,"]
        lines = [HEADER.strip()]
        lines += [f"zhuting,2023-01-{1 + i % 28:02d}T{i // 28 % 24:02d}:00,{cells[i % 12]}"
                  for i in range(rows)]
    path = folder / ("w.csv" if wide else "r.csv")
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
@pytest.mark.parametrize("rows", [12, 300])  # under the cap, and far over it
def test_the_columnar_reader_and_the_row_parser_give_the_same_warnings(
        tmp_path, monkeypatch, wide, encoding, rows):
    path = implausible_file(tmp_path, wide, encoding, rows)
    by_columns = imported_warnings(path, "columns", monkeypatch)
    by_rows = imported_warnings(path, "rows", monkeypatch)
    checked: list[Any] = []
    assert check_readings(path, warnings=checked) == []
    assert by_columns == by_rows == [str(w) for w in checked]
    assert by_columns  # the file does hold implausible values
    if rows > MAX_IMPLAUSIBLE:
        assert len(by_columns) == MAX_IMPLAUSIBLE + 1
        assert by_columns[-1].startswith("… and ")


def test_the_columns_warn_across_blocks_in_file_order(tmp_path, monkeypatch):
    from ecocomp import columnar

    monkeypatch.setattr(columnar, "BLOCK_BYTES", 512)
    path = implausible_file(tmp_path, False, "utf-8", 200)
    assert imported_warnings(path, "columns", monkeypatch) == \
        imported_warnings(path, "rows", monkeypatch)


@pytest.mark.parametrize("fixture", sorted(p.name for p in DATA.glob("*.csv")))
def test_the_fixture_files_hold_no_implausible_value(fixture):
    found: list[Any] = []
    check_readings(DATA / fixture, warnings=found)
    assert found == []


def test_a_file_imported_before_is_not_read_again_so_gives_no_warnings(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(long_rows("tp,50,,manual,"), encoding="utf-8")
    with ReadingStore.open(":memory:") as store:
        first = store.import_file(path)
        again = store.import_file(path)
    assert [str(w) for w in first.warnings] == [f"{path}:2:value: " + TP_50.split(": ", 1)[1]]
    assert again.warnings == () and again.unchanged == 1


def test_the_synthetic_benchmark_data_is_plausible(tmp_path):
    from benchmarks.project import write_project

    write_project(tmp_path, sections=3, years=[2021])
    found: list[Any] = []
    for path in sorted((tmp_path / "readings").glob("*.csv")):
        assert check_readings(path, warnings=found) == []
    assert found == []


# --------------------------------------------------------------------------- command line


@pytest.fixture
def slipped(tmp_path: Path) -> Path:
    """The example project with one TP value in μg/L written without its unit."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "readings" / "zz-slip.csv").write_text(
        HEADER + "lvbutou,2021-01-20T08:00,tp,50,,manual,\n", encoding="utf-8")
    return project


def slip_warning(project: Path) -> str:
    return (f"warning: {project / 'readings' / 'zz-slip.csv'}:2:value: tp 50 mg/L is 125 "
            "times the class Ⅴ limit (0.4 mg/L); a value in μg/L written without its unit? "
            "Write the unit (50 μg/L) or check the value")


def test_check_prints_the_warning_and_exits_0(slipped):
    result = CliRunner().invoke(main, ["check", str(slipped)])
    assert result.exit_code == 0, result.output
    assert slip_warning(slipped) in result.stderr.splitlines()
    assert "all files valid" in result.stdout


def test_check_of_the_example_project_warns_about_nothing():
    result = CliRunner().invoke(main, ["check", str(EXAMPLE)])
    assert result.exit_code == 0 and "warning:" not in result.stderr


def test_settle_prints_the_warning_imports_the_value_and_exits_0(slipped, tmp_path):
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["settle", str(slipped), "--year", "2021", "--db",
                                       str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert slip_warning(slipped) in result.stderr.splitlines()
    assert slip_warning(slipped).removeprefix("warning: ") in json.loads(
        result.stdout)["warnings"]
    with ReadingStore.open(db) as store:
        assert store._conn.execute(
            "SELECT value FROM readings WHERE section = 'lvbutou' AND parameter = 'tp' AND "
            "sampled_at = '2021-01-20T08:00:00'").fetchone() == ("50",)
