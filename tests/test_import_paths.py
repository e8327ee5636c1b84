"""The import's fast path (straight into ``readings``, monthly sums added up as it writes)
against the general path (staging table, every check in SQL): the same stored data and the
same errors; the schema version 3 migration; the settle progress display."""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ecocomp.cli as cli
import ecocomp.store as store_module
from ecocomp.errors import ValidationFailed
from ecocomp.readings import _rows
from ecocomp.store import (
    _MIGRATIONS,
    _MONTHLY_GROUP,
    _MONTHLY_SELECT,
    SCHEMA_VERSION,
    ReadingStore,
    file_sha256,
)

DATA = Path(__file__).parent / "data" / "readings"
NAMES = {"zhuting": "朱亭镇", "zhangshugang": "樟树港", "pingtang": "坪塘"}
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"


def state(store: ReadingStore) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an import stores, but for the moment it ran."""
    conn = store._conn
    return {
        # every stored reading, rows or packed (how a reading is stored is not what it is:
        # a packed group's readings have no id, and become rows with new ids when a later
        # import touches their month); superseded_by as whether the reading is superseded
        "readings": conn.execute(
            "SELECT section, sampled_at, parameter, source, value, below_dl, flag, eff_units, "
            "eff_exp, revision, superseded_by IS NOT NULL, import_id, row "
            f"FROM {store._all()} ORDER BY import_id, row, section, sampled_at, parameter, "
            "source, revision"
        ).fetchall(),
        "monthly": conn.execute("SELECT * FROM readings_monthly ORDER BY 1, 2, 3, 4").fetchall(),
        "imports": conn.execute(
            "SELECT id, file, sha256, correction, rows, inserted, unchanged, corrected, skipped "
            "FROM readings_imports ORDER BY id").fetchall(),
    }


def fast(store: ReadingStore, path: Path, correction: bool = False) -> Any:
    """import_file: the fast path, and the general path when the fast one declines."""
    try:
        return store.import_file(path, sections=NAMES, correction=correction)
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]


def slow(store: ReadingStore, path: Path, correction: bool = False) -> Any:
    """The general path alone, as every import ran before the fast path."""
    name = str(path)
    try:
        return store._ingest(_rows(path, NAMES, name), name, file_sha256(path), correction, None)
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]


def sums_agree_with_sql(store: ReadingStore) -> bool:
    conn = store._conn
    stored = set(conn.execute("SELECT * FROM readings_monthly").fetchall())
    every = _MONTHLY_SELECT.replace("FROM readings WHERE", f"FROM {store._all()} WHERE")
    return stored == set(conn.execute(f"{every}{_MONTHLY_GROUP}").fetchall())


@pytest.mark.parametrize("fixture", sorted(p.name for p in DATA.glob("*.csv")))
def test_fast_and_general_paths_store_the_same_and_report_the_same(fixture):
    path = DATA / fixture
    with ReadingStore.open(":memory:") as a, ReadingStore.open(":memory:") as b:
        assert fast(a, path) == slow(b, path)
        assert state(a) == state(b)
        assert sums_agree_with_sql(a)


@pytest.mark.parametrize("fixture", ["long.csv", "wide_utf8_bom.csv", "wide_gb18030.csv"])
def test_a_good_new_file_takes_the_fast_path(fixture):
    path = DATA / fixture
    with ReadingStore.open(":memory:") as s:
        result = s._write_direct(_rows(path, NAMES, str(path)), str(path), file_sha256(path),
                                 False, None)
        assert result is not None and result.inserted == result.rows > 0
        assert sums_agree_with_sql(s)


def test_a_bad_file_leaves_nothing_from_the_fast_path():
    path = DATA / "bad.csv"
    with ReadingStore.open(":memory:") as s:
        assert s._write_direct(_rows(path, NAMES, str(path)), str(path), "x", False, None) \
            is None
        assert state(s) == {"readings": [], "monthly": [], "imports": []}


@pytest.mark.parametrize("case", ["repeat-same", "repeat-different", "stored-same",
                                  "stored-different", "correction"])
def test_repeats_and_stored_samples_go_the_general_way_with_the_same_outcome(tmp_path, case):
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "zhuting,2023-01-09,tp,0.10,,manual,\n"
                     "zhuting,2023-02-09,tp,0.20,,manual,\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    rows = {
        "repeat-same": "zhuting,2023-03-09,tp,0.3,,manual,\nzhuting,2023-03-09,tp,0.30,,,\n",
        "repeat-different": "zhuting,2023-03-09,tp,0.3,,,\nzhuting,2023-03-09,tp,0.4,,,\n",
        "stored-same": "zhuting,2023-01-09,tp,0.1,,manual,\nzhuting,2023-03-09,tp,0.3,,,\n",
        "stored-different": "zhuting,2023-01-09,tp,0.5,,manual,\n",
        "correction": "zhuting,2023-01-09,tp,0.5,,manual,\nzhuting,2023-03-09,tp,0.3,,,\n",
    }[case]
    second.write_text(HEADER + rows, encoding="utf-8")
    correction = case == "correction"
    with ReadingStore.open(":memory:") as a, ReadingStore.open(":memory:") as b:
        assert fast(a, first) == slow(b, first)
        one, other = fast(a, second, correction), slow(b, second, correction)
        if isinstance(one, list):
            assert one == other
        else:
            def outcome(r: Any) -> tuple[Any, ...]:
                corrected = [attrs.evolve(c, imported_at="") for c in r.corrected]
                return (r.rows, r.inserted, r.unchanged, r.skipped, corrected)

            assert outcome(one) == outcome(other)
        assert state(a) == state(b)
        assert sums_agree_with_sql(a)


_VALUES = st.builds(
    lambda digits, places, negative: Decimal(digits).scaleb(-places) * (-1 if negative else 1),
    st.integers(0, 10**14), st.integers(0, 13), st.booleans(),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(
    st.integers(1, 3),  # month
    st.sampled_from(["temp", "nh3n"]),
    _VALUES, st.booleans(),  # value, non-detect
    st.sampled_from(["", "suspect", "invalid"]), st.sampled_from(["manual", "automatic"]),
), min_size=1, max_size=30))
def test_monthly_sums_added_up_in_python_are_what_sql_computes(tmp_path, rows):
    lines = []
    for hour, (month, parameter, value, below, flag, source) in enumerate(rows):
        if parameter != "temp":
            value = abs(value)
            if below and not value:
                value = Decimal("0.5")
        text = format(value, "f")
        if below and parameter != "temp":
            text = "<" + text
        lines.append(f"zhuting,2023-{month:02d}-01T00:{hour:02d},{parameter},{text},,"
                     f"{source},{flag}\n")
    path = tmp_path / "sums.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    with ReadingStore.open(":memory:") as s:
        result = s._write_direct(_rows(path, NAMES, str(path)), str(path), "", False, None)
        assert result is not None and result.inserted == len(rows)
        assert sums_agree_with_sql(s)


def test_monthly_sums_are_added_in_bounded_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_MONTHLY_HELD", 2)
    path = tmp_path / "many.csv"
    path.write_text(HEADER + "".join(
        f"zhuting,2023-{m:02d}-0{d},{p},0.{m}{d},,manual,\n"
        for m in range(1, 7) for d in (1, 2) for p in ("tp", "nh3n")), encoding="utf-8")
    with ReadingStore.open(":memory:") as s:
        assert s.import_file(path).inserted == 24
        assert sums_agree_with_sql(s)
        assert len(state(s)["monthly"]) == 12


# --------------------------------------------------------------------------- migration


def _version_2(path: Path) -> None:
    """A readings database as ecocomp wrote it at schema version 2 (IN checks), with data."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE readings_schema_version (version INTEGER PRIMARY KEY, "
                 "description TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT")
    for version, description, statements in _MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO readings_schema_version VALUES (?, ?, 'x')",
                     (version, description))
    conn.execute("INSERT INTO readings_imports VALUES (1, 'old.csv', 'abc', 0, 2, 2, 0, 0, 0, "
                 "'2024-01-01T00:00:00Z')")
    conn.execute("INSERT INTO readings (section, sampled_at, parameter, source, value, "
                 "below_dl, flag, eff_units, eff_exp, import_id, row) VALUES "
                 "('zhuting', '2023-01-09T00:00:00', 'tp', 'manual', '0.10', 0, '', "
                 "1000000000, -2, 1, 2), ('zhuting', '2023-02-09T00:00:00', 'tp', 'manual', "
                 "'0.02', 1, 'suspect', 100000000, -3, 1, 3)")
    conn.execute(f"INSERT INTO readings_monthly {_MONTHLY_SELECT}{_MONTHLY_GROUP}")
    assert "IN ('manual'" in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'readings'").fetchone()[0]
    conn.close()


def test_a_version_2_database_is_upgraded_and_keeps_its_readings(tmp_path):
    db = tmp_path / "v2.db"
    _version_2(db)
    assert ReadingStore.version_in(db) == 2
    with ReadingStore.open(db) as s:
        assert s.schema_version == SCHEMA_VERSION
        sql = s._conn.execute("SELECT sql FROM sqlite_master WHERE name = 'readings'").fetchone()[0]
        assert " IN (" not in sql and "flag = '' OR flag = 'suspect'" in sql
        indexes = {r[0] for r in s._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'readings'")}
        assert {"readings_current", "readings_history", "readings_flow"} <= indexes
        got = [(r.parameter, r.value, r.below_dl, r.flag) for r in s.readings()]
        assert got == [("tp", Decimal("0.10"), False, ""), ("tp", Decimal("0.02"), True,
                                                             "suspect")]
        # the same rules hold
        with pytest.raises(sqlite3.IntegrityError):
            s._conn.execute("INSERT INTO readings (section, sampled_at, parameter, source, "
                            "value, below_dl, flag, eff_exp, import_id) VALUES ('zhuting', "
                            "'2023-03-01T00:00:00', 'tp', 'manual', '1', 0, 'odd', 0, 1)")
        path = tmp_path / "new.csv"
        path.write_text(HEADER + "zhuting,2023-01-09,tp,0.10,,manual,\n"
                        "zhuting,2023-03-09,tp,0.3,,manual,\n", encoding="utf-8")
        result = s.import_file(path)
        assert (result.inserted, result.unchanged) == (1, 1)
        assert sums_agree_with_sql(s)
    assert ReadingStore.version_in(db) == SCHEMA_VERSION


# --------------------------------------------------------------------------- progress


def _settle(tmp_path: Path, *extra: str) -> Any:
    runner = CliRunner()
    return runner.invoke(cli.main, ["settle", str(EXAMPLE), "--year", "2021", "--db",
                                    str(tmp_path / "p.db"), *extra])


def test_progress_is_silent_when_stderr_is_not_a_terminal(tmp_path):
    result = _settle(tmp_path)
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr and "assessing" not in result.stderr
    assert "imported 2021-manual.csv" in result.stderr  # the summary lines stay


def test_progress_on_a_terminal_moves_through_rows_and_stages(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(cli, "_PROGRESS_STEP", 1_000)
    monkeypatch.setattr(store_module, "_BATCH", 500)
    result = _settle(tmp_path)
    assert result.exit_code == 0, result.output
    counts = [int(n.replace(",", "")) for n in
              re.findall(r"importing 2021-automatic\.csv: ([\d,]+) rows", result.stderr)]
    assert len(counts) > 3 and counts == sorted(counts) and counts[0] == 0
    assert counts[-1] > 1_000
    stages = re.findall(r"\r(assessing|computing|posting)…", result.stderr)
    assert stages == ["assessing", "computing", "posting"]


def test_progress_is_silent_with_quiet_even_on_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    result = _settle(tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr and "importing" not in result.stderr


def test_daily_flow_means_of_a_version_3_file_opened_read_only_walk_without_the_index(
        tmp_path):
    """``ledger verify --with-readings`` opens the readings read-only, without upgrading."""
    from ecocomp import database
    from ecocomp.periods import Period
    from ecocomp.readings import Reading

    db = tmp_path / "v3.db"
    day = datetime(2023, 7, 1)
    with ReadingStore.open(db) as s:
        s.add([Reading("zhuting", day + timedelta(hours=h), "flow", Decimal(v))
               for h, v in ((0, "10"), (6, "11"), (30, "12"))])
        want = s.daily_means("flow", Period(2023))
        s._conn.execute("DROP INDEX readings_flow")  # the file as version 3 left it
        s._conn.execute("DROP VIEW readings_all")
        s._conn.execute("DROP TABLE readings_packed")
        s._conn.execute("DELETE FROM readings_schema_version WHERE version >= 4")
    assert want == {"zhuting": {date(2023, 7, 1): Decimal("10.5"),
                                date(2023, 7, 2): Decimal("12")}}
    assert ReadingStore.version_in(db) == 3
    store = ReadingStore(database.open_read_only(str(db)), str(db))
    with store:
        assert store.daily_means("flow", Period(2023)) == want
    assert ReadingStore.version_in(db) == 3  # nothing written
