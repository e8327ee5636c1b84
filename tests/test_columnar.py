"""The columnar reader (pyarrow) against the row parser: the same stored data, the same errors.

Four ways into the store: ``columns`` (import_file as users call it: the columnar reader
first, its blocks written by the compiled insert where it is built; ``columns-executemany``
the same with ``executemany``), ``rows`` (import_file with the columnar reader turned off:
the row parser writing directly) and ``general`` (the staging path alone). Every fixture
and every generated file must leave the same rows, monthly sums and import records, and the
same messages.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_import_paths import NAMES, state, sums_agree_with_sql

import ecocomp.store as store_module
from ecocomp import columnar
from ecocomp.errors import ValidationFailed
from ecocomp.readings import _Err, _Implausible, _rows, _value_cell
from ecocomp.store import SCALE, ReadingStore, _exact_parts, file_sha256

DATA = Path(__file__).parent / "data" / "readings"
FIXTURES = sorted(p.name for p in DATA.iterdir() if p.suffix in (".csv", ".xlsx"))
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"


def imported(store: ReadingStore, path: Path, way: str, monkeypatch: Any,
             correction: bool = False, warnings: list[str] | None = None) -> Any:
    """What one import returns (its counts, or its messages), by one of the three ways;
    its warnings (implausible values) are added to ``warnings``."""
    name = str(path)
    try:
        if way == "general":
            odd = _Implausible()
            result = store._ingest(_rows(path, NAMES, name, odd), name, file_sha256(path),
                                   correction, None)
            result = store_module._warned(result, odd, name)
        else:
            with monkeypatch.context() as m:
                m.setattr(store_module, "_COLUMNAR", way.startswith("columns"))
                if way == "columns-executemany":  # without the compiled insert
                    m.setattr(store, "_native", None)
                m.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)  # small files too
                result = store.import_file(path, sections=NAMES, correction=correction)
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]
    if warnings is not None:
        warnings.extend(str(w) for w in result.warnings)
    return (result.rows, result.inserted, result.unchanged, result.skipped,
            len(result.corrected))


def taken(store: ReadingStore, path: Path, warnings: list[str] | None = None) -> bool:
    """Whether the columnar reader wrote the file (and did: the store now holds it); the
    warnings it found are added to ``warnings``."""
    odd = _Implausible()
    with store._read_ahead(path, NAMES, str(path), odd) as blocks:
        result = store._write_columns(blocks, str(path), file_sha256(path), False, None)
    if warnings is not None:
        warnings.extend(str(w) for w in odd.warnings(str(path)))
    return isinstance(result, store_module.ImportResult)


def assert_every_way_agrees(path: Path, monkeypatch: Any, ways: tuple[str, ...],
                            correction: bool = False) -> None:
    """Each way, into a store of its own, leaves the same rows, sums, imports and messages,
    and gives the same warnings."""
    outcomes, states, warned = [], [], []
    for way in ways:
        with ReadingStore.open(":memory:") as s:
            warnings: list[str] = []
            outcomes.append(imported(s, path, way, monkeypatch, correction, warnings))
            warned.append(warnings)
            states.append(state(s))
            assert sums_agree_with_sql(s)
    assert all(outcome == outcomes[0] for outcome in outcomes), (ways, outcomes)
    assert all(each == states[0] for each in states), ways
    assert all(each == warned[0] for each in warned), (ways, warned)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_fixture_stores_and_reports_the_same_by_every_way(fixture, monkeypatch):
    assert_every_way_agrees(DATA / fixture, monkeypatch,
                            ("columns", "columns-executemany", "rows", "general"))


@pytest.mark.parametrize("fixture", ["long.csv", "long_bom.csv", "wide_gb18030.csv",
                                     "wide_utf8_bom.csv"])
def test_good_long_and_wide_files_take_the_columnar_reader(fixture):
    with ReadingStore.open(":memory:") as s:
        assert taken(s, DATA / fixture)
        assert state(s)["readings"]  # written


@pytest.mark.parametrize("fixture", ["bad.csv", "long_utf16.csv"])
def test_other_files_are_declined_and_nothing_is_written(fixture):
    with ReadingStore.open(":memory:") as s:
        assert not taken(s, DATA / fixture)
        assert state(s) == {"readings": [], "monthly": [], "imports": []}


@pytest.mark.parametrize("text", [
    HEADER + '"zhuting",2023-01-09,tp,0.1,,,\n',  # a quote
    HEADER + "zhuting,2023-01-09,tp,0.1,,,\n\nzhuting,2023-01-10,tp,0.1,,,\n",  # blank line
    HEADER + "zhuting,2023-01-09,tp,0.1,,,\rzhuting,2023-01-10,tp,0.1,,,\r",  # old Mac lines
    HEADER + "zhuting,2023-01-09,tp,0.1,,\n",  # a short row (the row parser pads it)
    HEADER.strip() + ",\nzhuting,2023-01-09,tp,0.1,,,,\n",  # an empty header cell
    HEADER,  # no data rows
])
def test_what_only_the_row_parser_reads_right_is_left_to_it(tmp_path, monkeypatch, text):
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode())
    with ReadingStore.open(":memory:") as s:
        assert not taken(s, path)
    outcomes = []
    for way in ("columns", "rows"):
        with ReadingStore.open(":memory:") as s:
            outcomes.append((imported(s, path, way, monkeypatch), state(s)))
    assert outcomes[0] == outcomes[1]


def test_row_numbers_count_comment_lines_before_the_header(tmp_path, monkeypatch):
    path = tmp_path / "c.csv"
    path.write_text("# supersedes: a.csv\n# checked by 李工\n" + HEADER +
                    "zhuting,2023-01-09,tp,0.1,,,\nzhuting,2023-01-10,tp,<0.02,,,\n",
                    encoding="utf-8")
    with ReadingStore.open(":memory:") as s:
        assert taken(s, path)
        assert [r[-1] for r in state(s)["readings"]] == [4, 5]


def test_a_bad_cell_after_the_first_block_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 4096)
    lines = [f"zhuting,2023-01-{1 + i % 28:02d}T{i // 28 % 24:02d}:00,tp,0.{i % 97:02d},,,\n"
             for i in range(600)]
    lines[550] = "zhuting,2023-03-01,tp,1e400000000000000000000,,,\n"
    path = tmp_path / "late.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    with ReadingStore.open(":memory:") as s:
        assert not taken(s, path)
        assert state(s) == {"readings": [], "monthly": [], "imports": []}
        messages = imported(s, path, "columns", monkeypatch)
    assert messages == [f"{path}:552:value: '1e400000000000000000000' is too large to be a "
                        "measured value; check the exponent"]


# --------------------------------------------------------------------------- generated files

_SECTIONS = st.sampled_from(["zhuting", "朱亭镇", " zhuting", "pingtang", "坪塘", "nowhere"])
_TIMES = st.sampled_from(["2023-01-09", "2023-01-09T08:00", "2023/1/9 8:00",
                          "2023-01-09 09:00:00+08:00", "2023-02-30", "2023-01-10 00:00",
                          " 2023-03-01"])
_PARAMS = st.sampled_from([("tp", ""), ("tp", "mg/L"), ("tp", "µg/L"), ("总磷", ""),
                           ("nh3n", "mg/L"), ("ph", ""), ("temp", "℃"), ("do", "g/L"),
                           ("cu", "µg/L"), ("flow", "m³/s"), ("氨氮(mg/L)", "")])
_PLAIN_VALUES = st.builds(
    lambda digits, places: format(Decimal(digits).scaleb(-places), "f"),
    st.integers(0, 10**12), st.integers(0, 12))
_VALUES = st.one_of(
    _PLAIN_VALUES, _PLAIN_VALUES.map(lambda v: "<" + v), _PLAIN_VALUES.map(lambda v: "-" + v),
    st.sampled_from(["15", "14.0000000001", "1.5E+3", "2e-5", "NaN", "ND", "<0", "0.10 ",
                     "00.5", ".5", "5.", "1,5", "", "1e-30", "-0", "0.000000000001"]),
)
_SOURCES = st.sampled_from(["", "manual", "automatic", "自动", "Manual", "robot"])
_FLAGS = st.sampled_from(["", "", "", "suspect", "invalid", "有效", "bad"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_SECTIONS, _TIMES, _PARAMS, _VALUES, _SOURCES, _FLAGS),
                     min_size=1, max_size=25),
       correction=st.booleans())
def test_generated_files_store_and_report_the_same_both_ways(tmp_path_factory, monkeypatch,
                                                             rows, correction):
    folder = tmp_path_factory.mktemp("gen")
    path = folder / "g.csv"
    path.write_text(HEADER + "".join(f"{s},{t},{p},{v},{u},{o},{f}\n"
                                     for s, t, (p, u), v, o, f in rows), encoding="utf-8")
    assert_every_way_agrees(path, monkeypatch, ("columns", "rows", "columns-executemany"),
                            correction)


_WIDE_COLUMNS = ["总磷(mg/L)", "tp", "氨氮", "pH", "水温(℃)", "铜(µg/L)", "flow", "溶解氧",
                 "do(g/L)"]
_WIDE_VALUES = st.one_of(_VALUES, st.sampled_from(["", "", "", "  ", " 0.5", "0.25"]))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(columns=st.lists(st.sampled_from(_WIDE_COLUMNS), min_size=1, max_size=4, unique=True),
       rows=st.lists(st.tuples(_SECTIONS, _TIMES, st.lists(_WIDE_VALUES, min_size=4,
                                                            max_size=4), _SOURCES),
                     min_size=1, max_size=12),
       with_source=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       correction=st.booleans())
def test_generated_wide_files_store_and_report_the_same_every_way(
        tmp_path_factory, monkeypatch, columns, rows, with_source, encoding, correction):
    """Wide files (one column per parameter, empty cells not measured), UTF-8 or GB18030."""
    header = ["断面名称", "监测时间", *columns] + (["数据来源"] if with_source else [])
    lines = [",".join(header)]
    for section, when, values, source in rows:
        cells = [section, when, *values[:len(columns)]] + ([source] if with_source else [])
        lines.append(",".join(cells))
    path = tmp_path_factory.mktemp("wide") / "w.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    assert_every_way_agrees(path, monkeypatch, ("columns", "rows", "columns-executemany"),
                            correction)


_GOOD_WIDE = st.one_of(_PLAIN_VALUES,
                      _PLAIN_VALUES.filter(lambda v: Decimal(v) > 0).map(lambda v: "<" + v),
                      st.sampled_from(["", "", "  ", " 0.5 ", "1.5E+3", "０.５"]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(columns=st.lists(st.sampled_from(["总磷(mg/L)", "氨氮", "铜(µg/L)", "flow", "tn"]),
                        min_size=1, max_size=5, unique=True),
       rows=st.lists(st.tuples(st.sampled_from(["朱亭镇", "zhuting", "坪塘"]),
                               st.lists(_GOOD_WIDE, min_size=5, max_size=5)),
                     min_size=1, max_size=30),
       encoding=st.sampled_from(["utf-8", "gb18030"]))
def test_good_wide_files_are_written_by_the_columns_exactly_as_by_the_rows(
        tmp_path_factory, monkeypatch, columns, rows, encoding):
    lines = [",".join(["断面名称", "监测时间", *columns])]
    for i, (section, values) in enumerate(rows):
        lines.append(",".join([section, f"2023-{1 + i % 12:02d}-{1 + i // 12:02d} 08:00",
                               *values[:len(columns)]]))
    assume(any(v.strip() for _s, values in rows for v in values[:len(columns)]))
    path = tmp_path_factory.mktemp("goodwide") / "w.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    with ReadingStore.open(":memory:") as a, ReadingStore.open(":memory:") as b:
        by_columns: list[str] = []
        by_rows: list[str] = []
        fast = taken(a, path, by_columns)
        imported(b, path, "rows", monkeypatch, warnings=by_rows)
        assert state(a) == state(b)
        assert sums_agree_with_sql(a)
        assert by_columns == by_rows or not fast
    # declined only where a block has no value at all (the row parser decides then)
    assert fast or not all(any(v.strip() for v in values[:len(columns)]) for _s, values in rows)


@pytest.mark.parametrize("block_bytes", [512, 4096, columnar.BLOCK_BYTES])
def test_a_good_wide_gb18030_file_is_written_by_the_columns_as_by_the_rows(tmp_path,
                                                                          monkeypatch,
                                                                          block_bytes):
    """Over many blocks too: row numbers are lines, not readings."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block_bytes)
    lines = ["断面名称,监测时间,总磷(mg/L),氨氮,pH,铜(µg/L),数据来源"]
    for i in range(300):
        when = f"2023-{1 + i % 12:02d}-{1 + i // 12:02d} 08:00"
        cells = [f"0.{i % 90 + 10}", "" if i % 7 == 0 else f"<0.0{i % 5 + 1}",
                 f"7.{i % 10}", "  " if i % 5 == 0 else str(i % 40), "自动" if i % 2 else "手工"]
        lines.append(",".join(["朱亭镇" if i % 3 else "樟树港", when, *cells]))
    path = tmp_path / "w.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    with ReadingStore.open(":memory:") as a, ReadingStore.open(":memory:") as b:
        assert taken(a, path)
        expected = imported(b, path, "rows", monkeypatch)
        assert expected[0] == expected[1] > 3 * 300  # empty and blank cells left out
        assert state(a) == state(b)
        assert sums_agree_with_sql(a)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=st.lists(st.tuples(_PLAIN_VALUES, st.booleans(),
                                 st.sampled_from(["", "suspect", "invalid"])),
                       min_size=1, max_size=40))
def test_good_new_files_are_written_by_the_columns_exactly_as_by_the_rows(
        tmp_path_factory, monkeypatch, values):
    path = tmp_path_factory.mktemp("good") / "g.csv"
    # non-detects of tp only: a water temperature has no detection limit, so '<4' on a
    # temperature (a typing slip, or another quantity) is refused, not a good file
    path.write_text(HEADER + "".join(
        f"zhuting,2023-{1 + i % 3:02d}-{1 + i // 3 % 28:02d}T{i // 84:02d}:00,"
        f"{'temp' if i % 2 else 'tp'},"
        f"{'<' if below and not i % 2 and v.strip('0.') else ''}{v},,,{flag}\n"
        for i, (v, below, flag) in enumerate(values)), encoding="utf-8")
    with ReadingStore.open(":memory:") as a, ReadingStore.open(":memory:") as b:
        by_columns: list[str] = []
        by_rows: list[str] = []
        assert taken(a, path, by_columns)
        assert imported(b, path, "rows", monkeypatch, warnings=by_rows) == (
            len(values), len(values), 0, 0, 0)
        assert by_columns == by_rows  # the same implausible values, words and order
        assert state(a)["readings"] == state(b)["readings"]
        assert state(a)["monthly"] == state(b)["monthly"]
        assert sums_agree_with_sql(a)


# --------------------------------------------------------------------------- exact units


def units_of(texts: list[str]) -> list[tuple[bool, int | None, int | None]]:
    taken_, units, exponent = columnar.plain_units(pa.array(texts, pa.string()), SCALE)
    return list(zip(taken_.to_pylist(), units.to_pylist(), exponent.to_pylist(), strict=True))


@given(digits=st.integers(0, 10**18 - 1), places=st.integers(0, SCALE))
def test_plain_decimal_text_becomes_its_exact_integer_units(digits, places):
    value = Decimal(digits).scaleb(-places)
    text = format(value, "f")
    assume(len(text.partition(".")[0]) <= 18 - SCALE)
    [(ok, units, exponent)] = units_of([text])
    assert ok
    assert Decimal(units).scaleb(-SCALE) == Decimal(text)  # round trip, no float anywhere
    assert exponent == Decimal(text).as_tuple().exponent
    assert (units, exponent) == _exact_parts(text, False)[:2]  # the store's own definition
    assert text == format(Decimal(text), "f")  # the cell is stored as it is


@pytest.mark.parametrize("text", [
    "1e5", "1E-3", "1.5E+3", "NaN", "nan", "inf", "-1", "+1", "1,000", "1 000", "01", "00.5",
    "1.", ".5", " 1", "1 ", "<0.1", "１", "0.12345678901", "123456789", "0x10", "", "-0",
    "1_000", "٣",
])
def test_what_is_not_a_plain_decimal_is_left_to_the_row_parser(text):
    [(ok, units, _exponent)] = units_of([text])
    assert not ok and units is None


@given(text=st.text(alphabet="0123456789.-+eE<, ", max_size=14))
def test_the_columns_take_a_cell_only_as_the_row_parser_reads_it(text):
    [(ok, units, exponent)] = units_of([text])
    parsed = _value_cell(text.strip(), False)
    if isinstance(parsed, _Err):
        assert not ok  # what the row parser rejects, the columns never take
    if ok:
        value, below = parsed  # type: ignore[misc]
        stored = str(value) if "E" not in str(value) else format(value, "f")  # as the store
        assert not below and stored == text
        assert (units, exponent) == _exact_parts(text, False)[:2]


def limits_of(texts: list[str]) -> list[tuple[bool, str, int | None, int | None]]:
    taken_, limit, units, exponent = columnar.detection_limit_units(
        pa.array(texts, pa.string()), SCALE)
    return list(zip(taken_.to_pylist(), limit.to_pylist(), units.to_pylist(),
                    exponent.to_pylist(), strict=True))


@given(digits=st.integers(1, 10**18 - 1), places=st.integers(0, SCALE - 1))
def test_a_non_detect_becomes_half_its_limit_in_exact_units(digits, places):
    text = format(Decimal(digits).scaleb(-places), "f")
    assume(len(text.partition(".")[0]) <= 18 - SCALE)
    [(ok, limit, units, exponent)] = limits_of(["<" + text])
    assert ok and limit == text
    assert Decimal(units).scaleb(-SCALE) * 2 == Decimal(text)  # half, exactly, no float
    assert (units, exponent) == _exact_parts(text, True)[:2]  # the store's own definition


@pytest.mark.parametrize("text", [
    "<0", "<0.0", "<0.000", "< 0.5", "<-1", "<+1", "<1e-3", "<1E3", "<01", "<.5", "<1.",
    "<<1", "<", "0.5", " <0.5", "<0.5 ", "<0.0000000001", "<1,5", "<１", "<NaN", "ND",
])
def test_what_is_not_a_plain_non_detect_is_left_to_the_row_parser(text):
    [(ok, _limit, _units, _exponent)] = limits_of([text])
    assert not ok


@given(text=st.text(alphabet="0123456789.-+eE<, ", max_size=14))
def test_the_columns_take_a_non_detect_only_as_the_row_parser_reads_it(text):
    [(ok, limit, units, exponent)] = limits_of([text])
    if ok:
        value, below = _value_cell(text, False)  # type: ignore[misc]
        assert below and str(value) == limit  # stored as the row parser stores it
        assert (units, exponent) == _exact_parts(limit, True)[:2]


def test_plain_non_detects_are_converted_by_whole_columns(tmp_path, monkeypatch):
    """Manual samples are full of them: none goes through the value-by-value path. (This
    took a water temperature '<3.5' as a non-detect: a temperature has no detection limit, a
    '<' on it is a typing slip or another quantity, and it is now refused; cod instead.)"""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a plain non-detect went value by value")

    path = tmp_path / "nd.csv"
    path.write_text(HEADER + "".join(
        f"zhuting,2023-01-{1 + i:02d},{p},{v},,manual,\n"
        for i, (p, v) in enumerate([("tp", "<0.01"), ("nh3n", "<0.025"), ("cu", "<5"),
                                    ("tp", "0.2"), ("cod", "<3.5"), ("tp", "<0.0000001")])),
        encoding="utf-8")
    with ReadingStore.open(":memory:") as a, ReadingStore.open(":memory:") as b:
        with monkeypatch.context() as m:
            m.setattr(columnar._Reader, "_others", refuse)
            assert taken(a, path)
        imported(b, path, "rows", monkeypatch)
        assert state(a) == state(b)
        assert sums_agree_with_sql(a)
        (below,) = a._conn.execute("SELECT count(*) FROM readings WHERE below_dl = 1").fetchone()
        assert below == 5


def test_inside_a_transaction_a_bad_later_file_undoes_the_columnar_import(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(HEADER + "zhuting,2023-01-09,tp,0.1,,,\n", encoding="utf-8")
    bad.write_text(HEADER + "zhuting,2023-01-10,tp,ND,,,\n", encoding="utf-8")
    with ReadingStore.open(tmp_path / "t.db") as s:
        with pytest.raises(ValidationFailed), s.transaction():
            assert s.import_file(good, sections=NAMES).inserted == 1
            assert len(state(s)["readings"]) == 1  # visible inside the block
            s.import_file(bad, sections=NAMES)
        assert state(s) == {"readings": [], "monthly": [], "imports": []}


def test_the_columnar_import_reports_its_rows_as_they_are_stored(tmp_path, monkeypatch):
    """The terminal's display moves on the path large files take (issue 12)."""
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 16 << 10)
    monkeypatch.setattr(store_module, "_BATCH", 500)
    path = tmp_path / "big.csv"
    path.write_text(HEADER + "".join(
        f"zhuting,2023-01-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d},tp,0.{i:05d},,,\n"
        for i in range(3_000)), encoding="utf-8")
    written = []
    real = ReadingStore._write_columns

    def spy(self: ReadingStore, *args: Any) -> Any:
        written.append(result := real(self, *args))
        return result

    monkeypatch.setattr(ReadingStore, "_write_columns", spy)
    seen: list[int] = []
    with ReadingStore.open(tmp_path / "t.db") as s:
        assert s.import_file(path, sections=NAMES, progress=seen.append).inserted == 3_000
    assert [type(w).__name__ for w in written] == ["ImportResult"]  # the columns wrote it
    assert seen[0] == 0 and seen[-1] == 3_000 and seen == sorted(seen) and len(seen) >= 5


def test_stored_bytes_are_not_read_again_and_no_reader_is_left(tmp_path: Path,
                                                                monkeypatch: Any) -> None:
    """Bytes already stored (the same file again, as a settle run imports every file, or a
    copy under another name) are recognised by their hash and not read; the file read once
    leaves no reading thread behind."""
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "".join(
        f"zhuting,2023-01-{1 + i // 24:02d}T{i % 24:02d}:00,tp,0.{i:04d},,,\n"
        for i in range(200)), encoding="utf-8")
    started: list[str] = []
    real = ReadingStore._read_ahead

    def spy(file: Path, sections: Any, name: str, odd: Any = None, **kwargs: Any) -> Any:
        started.append(Path(name).name)
        return real(file, sections, name, odd, **kwargs)

    monkeypatch.setattr(ReadingStore, "_read_ahead", staticmethod(spy))
    with ReadingStore.open(tmp_path / "t.db") as s:
        assert s.import_file(path, sections=NAMES).inserted == 200
        assert s.import_file(path, sections=NAMES).inserted == 0
        copy = tmp_path / "b.csv"
        copy.write_bytes(path.read_bytes())
        assert s.import_file(copy, sections=NAMES).inserted == 0  # stored under a.csv
    assert started == ["a.csv"]
    assert not [t for t in threading.enumerate() if t.name == "ecocomp-read-ahead"]
