"""Readings packed by group (issue 12, segments): the columnar import writes each
(section, month, parameter, source) a file brings new as one row of ``readings_packed``.

What a reading is does not depend on how it is stored: every test here compares a store
whose imports packed with one that stored rows only (the same files, the same calls), through
everything a user reads, and checks that packed groups turn into rows before anything that
is not a new group touches their month (corrections, repeats, small files, ``forget``).
"""

from __future__ import annotations

import io
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_import_paths import NAMES, state, sums_agree_with_sql

import ecocomp.store as store_module
from ecocomp import bulk_insert, columnar
from ecocomp.errors import ValidationFailed
from ecocomp.evidence import verify_readings
from ecocomp.ledger import Ledger
from ecocomp.periods import Period
from ecocomp.store import ReadingStore

pytestmark = pytest.mark.skipif(not bulk_insert.available() or not bulk_insert.can_pack(),
                                reason="ecocomp._bulkc not built: nothing is packed")

HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
DATA = Path(__file__).parent / "data" / "readings"


def _file(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _hourly(days: int, value: str = "0.{}", parameter: str = "nh3n",
            unit: str = "mg/L") -> list[str]:
    """zhuting's automatic samples, every 4 hours from 2023-01-01, over ``days`` days."""
    return [f"zhuting,2023-{1 + d // 28:02d}-{1 + d % 28:02d}T{h:02d}:00,{parameter},"
            f"{value.format(10 + (d * 6 + h) % 80)},{unit},automatic,"
            for d in range(days) for h in range(0, 24, 4)]


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file through the columnar reader (small files too)."""
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)


def _both(folder: Path) -> tuple[ReadingStore, ReadingStore]:
    """A store that packs and one that stores rows only (as a store without the compiled
    part, or on PostgreSQL, does)."""
    packed = ReadingStore.open(folder / "packed.db")
    rows = ReadingStore.open(folder / "rows.db")
    rows._packs = False
    return packed, rows


def _outcome(store: ReadingStore, path: Path, **kwargs: Any) -> Any:
    try:
        result = store.import_file(path, sections=NAMES, **kwargs)
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]
    return (result.rows, result.inserted, result.unchanged, result.skipped,
            [(c.key, c.reason) for c in result.corrected])


def _export(store: ReadingStore) -> str:
    out = io.StringIO()
    store.export_csv(out)
    return out.getvalue()


def _read(store: ReadingStore) -> tuple[Any, ...]:
    """Everything a user reads of the readings."""
    return (list(store.readings()), list(store.aggregates(Period(2023))),
            store.daily_means("flow", Period(2023)), store.daily_means("nh3n", Period(2023)),
            _export(store), store.sections(), store.periods(),
            [(f.file, f.current) for f in store.imported_files()],
            [(c.key, c.reason, c.revision) for c in store.corrections()])


def _counts(store: ReadingStore) -> tuple[int, int]:
    """(rows in ``readings``, readings held packed)."""
    conn = store._conn
    return (conn.execute("SELECT count(*) FROM readings").fetchone()[0],
            conn.execute("SELECT coalesce(sum(count), 0) FROM readings_packed").fetchone()[0])


def _same(packed: ReadingStore, rows: ReadingStore) -> None:
    assert state(packed) == state(rows)
    assert _read(packed) == _read(rows)
    assert sums_agree_with_sql(packed)


@pytest.mark.parametrize("fixture", ["long.csv", "long_bom.csv", "wide_utf8_bom.csv",
                                     "wide_gb18030.csv"])
def test_a_new_file_is_stored_packed_and_reads_the_same_as_rows(
        fixture, tmp_path, monkeypatch, columns):
    packed, rows = _both(tmp_path)
    with packed, rows:
        assert _outcome(packed, DATA / fixture) == _outcome(rows, DATA / fixture)
        assert _counts(packed)[0] == 0 and _counts(packed)[1] == _counts(rows)[0] > 0
        _same(packed, rows)
        # the same bytes again, and as a correction: nothing changes
        for kwargs in ({}, {"correction": True}):
            assert _outcome(packed, DATA / fixture, **kwargs) == _outcome(
                rows, DATA / fixture, **kwargs)
        _same(packed, rows)


def test_a_correction_turns_the_months_it_touches_into_rows(tmp_path, monkeypatch, columns):
    year = _file(tmp_path, "2023.csv", _hourly(56) + _hourly(56, "1{}.5", "flow", "m3/s"))
    fix = _file(tmp_path, "fix.csv", ["zhuting,2023-02-03T08:00,nh3n,0.99,mg/L,automatic,"])
    packed, rows = _both(tmp_path)
    with packed, rows:
        assert _outcome(packed, year) == _outcome(rows, year)
        assert _counts(packed) == (0, 672)
        assert _outcome(packed, fix) == _outcome(rows, fix)  # refused: not a correction
        assert _outcome(packed, fix, correction=True) == _outcome(rows, fix, correction=True)
        # February (both parameters) is rows now, January is still packed
        assert packed._conn.execute(
            "SELECT DISTINCT month FROM readings_packed").fetchall() == [("2023-01",)]
        assert _counts(packed) == (336 + 1, 336)
        _same(packed, rows)
        assert [c.new.value for c in packed.corrections()] == [Decimal("0.99")]


def test_a_small_file_restating_packed_samples_is_checked_against_them(
        tmp_path, monkeypatch, columns):
    year = _file(tmp_path, "2023.csv", _hourly(28))
    same = _file(tmp_path, "same.csv", [_hourly(28)[5]])
    assert _hourly(28)[5] == "zhuting,2023-01-01T20:00,nh3n,0.30,mg/L,automatic,"
    other = _file(tmp_path, "other.csv", ["zhuting,2023-01-01T20:00,nh3n,0.77,mg/L,automatic,"])
    packed, rows = _both(tmp_path)
    with packed, rows:
        for path in (year, same, other):
            assert _outcome(packed, path) == _outcome(rows, path)
        assert _outcome(packed, other)[0].startswith(f"{other}:2:value: zhuting nh3n at ")
        _same(packed, rows)
    # the row parser's direct path (the columns off) finds them too
    monkeypatch.setattr(store_module, "_COLUMNAR", False)
    with ReadingStore.open(tmp_path / "packed.db") as again:
        assert again.import_file(other, sections=NAMES, correction=True).corrected


def test_forget_removes_the_packed_groups_and_turns_their_months_neighbours_into_rows(
        tmp_path, monkeypatch, columns):
    automatic = _file(tmp_path, "auto.csv", _hourly(28))
    manual = _file(tmp_path, "manual.csv", [
        "zhuting,2023-01-09,tp,0.05,mg/L,manual,", "zhuting,2023-01-09,nh3n,0.2,mg/L,manual,"])
    packed, rows = _both(tmp_path)
    with packed, rows:
        for path in (automatic, manual):
            assert _outcome(packed, path) == _outcome(rows, path)
        assert _counts(packed) == (0, 170)
        assert packed.forget(str(manual)) == rows.forget(str(manual)) == 2
        _same(packed, rows)
        assert _counts(packed) == (168, 0)  # January's automatic samples are rows now
        assert packed.forget(str(automatic)) == rows.forget(str(automatic)) == 168
        _same(packed, rows)
        assert _counts(packed) == (0, 0)


@pytest.mark.parametrize("order", ["sorted", "interleaved"])
def test_a_group_cut_by_blocks_is_packed_in_parts_and_a_repeat_across_them_is_found(
        order, tmp_path, monkeypatch, columns):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1 << 10)  # ~20 lines a block
    lines = _hourly(28)
    if order == "interleaved":  # the blocks' times interleave: the parts are checked
        lines = lines[::2] + lines[1::2]
    good = _file(tmp_path, "good.csv", lines)
    again = _file(tmp_path, "again.csv", [*lines, lines[3]])  # the same sample twice: fine
    twice = _file(tmp_path, "twice.csv", [*lines, lines[3].replace(",mg/L,", "1,mg/L,")])
    for path in (good, again, twice):
        folder = tmp_path / path.stem
        folder.mkdir()
        packed, rows = _both(folder)
        with packed, rows:
            assert _outcome(packed, path) == _outcome(rows, path)
            _same(packed, rows)
            parts = packed._conn.execute("SELECT count(*) FROM readings_packed").fetchone()[0]
            if path is good:
                assert parts > 1 and _counts(packed) == (0, 168)  # one group, in parts
            elif path is again:
                assert _counts(packed) == (168, 0)  # the general path dropped the repeat
            else:
                assert _counts(packed) == (0, 0)  # refused, with the rows' message


def test_verify_with_readings_checks_the_packed_readings(tmp_path, monkeypatch, columns):
    db = tmp_path / "r.db"
    with ReadingStore.open(db) as store:
        store.import_file(_file(tmp_path, "2023.csv", _hourly(28)), sections=NAMES)
        assert _counts(store) == (0, 168)
    Ledger.open(str(db)).close()
    assert verify_readings(db).problems == ()

    def tampered(sql: str, *args: Any) -> tuple[str, ...]:
        copy = tmp_path / "t.db"
        copy.write_bytes(db.read_bytes())
        conn = sqlite3.connect(copy)
        conn.execute(sql, args)
        conn.commit()
        conn.close()
        return verify_readings(copy).problems

    # a value edited in the JSON: its exact units no longer give it
    found = tampered("UPDATE readings_packed SET data = replace(data, '\"0.30\"', '\"0.95\"')")
    assert any("the packed reading of import #1 row" in p and "'0.95'" in p for p in found)
    # the exact units edited too: the sums no longer match
    found = tampered("UPDATE readings_packed SET data = replace(data, '\"0.30\",0,\"\","
                     "3000000000', '\"0.31\",0,\"\",3100000000')")
    assert any("readings_monthly: the stored sums of zhuting 2023-01" in p for p in found)
    # not JSON, or a count its data does not give
    found = tampered("UPDATE readings_packed SET count = count + 1")
    assert any("is not a JSON array of its count of readings" in p for p in found)
    # a reading moved out of its group's time range
    found = tampered("UPDATE readings_packed SET data = replace(data, '\"02T04:00:00\"', "
                     "'\"29T04:00:00\"')")
    assert any("holds a reading that is not one ecocomp writes" in p for p in found)
    # one sample stored twice, as a row and packed
    found = tampered(
        "INSERT INTO readings (section, sampled_at, parameter, source, value, below_dl, flag, "
        "eff_units, eff_exp, import_id, row) SELECT section, sampled_at, parameter, source, "
        "value, below_dl, flag, eff_units, eff_exp, import_id, row FROM readings_all LIMIT 1")
    assert any("is also stored as rows among the current readings" in p for p in found)
    # two parts of one group made to overlap in time
    found = tampered("UPDATE readings_packed SET last_at = '2023-01-28T20:00:00', data = "
                     "json_set(data, '$[#-1][0]', '28T20:00:00') WHERE id = 1")
    assert any("overlaps in time its group's part from" in p for p in found)
    # a time that is no time
    found = tampered("UPDATE readings_packed SET data = replace(data, '\"02T04:00:00\"', "
                     "'\"02T04:00\"')")
    assert any("sampled_at '2023-01-02T04:00' is not a real time" in p for p in found)


def test_a_month_of_rows_and_packed_groups_reads_in_one_order(tmp_path, monkeypatch, columns):
    """readings() and exports put rows and decoded packed groups of one (section, month)
    in the order of section, time, parameter and source, as SQL ordered the rows alone."""
    automatic = _file(tmp_path, "auto.csv", _hourly(40))  # January packed, February too
    manual = _file(tmp_path, "manual.csv", [  # rows: read by the row parser
        "zhuting,2023-01-01T02:00,nh3n,0.2,mg/L,manual,",
        "zhuting,2023-01-01T04:00,nh3n,0.3,mg/L,manual,",  # the same time as a packed one
        "zhuting,2023-01-09,tp,0.05,mg/L,manual,", "zhangshugang,2023-01-09,tp,0.05,mg/L,manual,",
        "zhuting,2023-03-01,tp,0.06,mg/L,manual,"])
    packed, rows = _both(tmp_path)
    with packed, rows:
        for store in (packed, rows):  # the rows first: the packed groups then are new
            with monkeypatch.context() as m:
                m.setattr(store_module, "_COLUMNAR", False)
                assert store.import_file(manual, sections=NAMES).inserted == 5
            assert store.import_file(automatic, sections=NAMES).inserted == 240
        assert _counts(packed) == (5, 240)  # both kinds in zhuting's January
        _same(packed, rows)
        listed = [(r.section, r.sampled_at.isoformat(), r.parameter, r.source)
                  for r in packed.readings()]
        assert listed == sorted(listed) and len(listed) == 245
        assert list(packed.readings(section="zhuting", parameter="tp")) == list(
            rows.readings(section="zhuting", parameter="tp"))
        assert list(packed.readings(period="2023-02")) == list(rows.readings(period="2023-02"))


def test_a_small_file_of_other_groups_in_packed_months_stays_rows_beside_them(
        tmp_path, monkeypatch, columns):
    """A manual file (rows, by the row parser) in months an automatic file packed: its
    groups are other groups, so the packed ones stay packed (found in review: they became
    rows, and a settle of the bundled example kept nothing packed)."""
    automatic = _file(tmp_path, "auto.csv", _hourly(40))
    manual = _file(tmp_path, "manual.csv", [
        "zhuting,2023-01-01T04:00,nh3n,0.3,mg/L,manual,",
        "zhuting,2023-01-09,tp,0.05,mg/L,manual,", "zhuting,2023-02-03,tp,0.06,mg/L,manual,"])
    packed, rows = _both(tmp_path)
    with packed, rows:
        for store in (packed, rows):
            assert store.import_file(automatic, sections=NAMES).inserted == 240
            with monkeypatch.context() as m:
                m.setattr(store_module, "_COLUMNAR", False)
                assert store.import_file(manual, sections=NAMES).inserted == 3
        assert _counts(packed) == (3, 240)
        _same(packed, rows)
        # a small file restating a packed sample turns that group into rows, and only it
        again = _file(tmp_path, "again.csv", [_hourly(40)[7]])
        with monkeypatch.context() as m:
            m.setattr(store_module, "_COLUMNAR", False)
            assert _outcome(packed, again) == _outcome(rows, again)
        assert _counts(packed) == (3 + 168, 72)  # January's nh3n (automatic) only
        _same(packed, rows)


def test_a_missing_monthly_sum_does_not_let_a_packed_import_store_a_sample_twice(
        tmp_path, monkeypatch, columns):
    """Which groups are stored is read from the monthly sums and from the rows themselves:
    with a group's sum deleted behind ecocomp's back, a file restating its samples is not
    packed beside them; the general path finds the edit and refuses, naming the month."""
    year = _file(tmp_path, "2023.csv", _hourly(28))
    with ReadingStore.open(tmp_path / "r.db") as store:
        with monkeypatch.context() as m:
            m.setattr(store_module, "_COLUMNAR", False)  # rows
            assert store.import_file(year, sections=NAMES).inserted == 168
        store._conn.execute("DELETE FROM readings_monthly")
        again = _file(tmp_path, "again.csv", _hourly(29))  # and one new day
        with pytest.raises(store_module.StoreError, match=r"zhuting 2023-01 differ from the "
                                                          r"sums of the stored readings"):
            store.import_file(again, sections=NAMES)
        assert _counts(store) == (168, 0)
