"""The readings store on PostgreSQL (ecocomp.store_postgres): the same store as on SQLite.

The oracle tests of tests/test_store.py run again here with the store on PostgreSQL (the
``store`` fixture below replaces theirs), and every sample file of tests/data imports into
both backends to the same stored rows and monthly sums, or fails with the same problems and
writes nothing. Readings are partitioned by year; a client killed with SIGKILL in the
middle of its COPY leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

# the oracle tests of the SQLite store, collected again here with the PostgreSQL ``store``
from test_store import (  # noqa: F401
    DATA,
    HEADER,
    NAMES,
    test_a_changed_flag_or_non_detect_mark_is_a_conflict_too,
    test_a_conflicting_value_is_an_error_and_nothing_of_the_file_is_written,
    test_a_correction_supersedes_keeps_the_old_value_and_is_listed,
    test_add_checks_readings_built_in_python,
    test_aggregates_and_queries_filter_by_period_and_sections,
    test_aggregates_count_invalid_and_suspect_samples_apart,
    test_aggregates_match_the_assessment_modules_aggregate_when_present,
    test_aggregates_reproduce_the_domain_oracle_annual_mean_with_a_non_detect,
    test_an_invalid_file_imports_nothing_and_lists_every_problem,
    test_daily_means_are_exact_and_exclude_invalid_samples,
    test_export_then_import_round_trips_the_sample_files,
    test_import_stores_exactly_what_the_file_says,
    test_progress_is_reported_while_importing,
    test_reimporting_the_same_file_or_the_same_values_is_a_no_op,
    test_repeats_within_a_file_collapse_and_different_values_are_errors,
    test_rerunning_readings_and_corrections_after_a_correction_changes_nothing,
    test_successive_corrections_form_a_chain_of_revisions,
    test_values_beyond_the_sql_scale_are_compared_exactly,
)

import ecocomp.store as store_module
from ecocomp.errors import ValidationFailed
from ecocomp.store import ReadingStore
from ecocomp.store_postgres import PostgresReadingStore

_TABLES = "readings_monthly, readings, readings_imports"


@pytest.fixture(scope="module")
def store_db(pg_server: str) -> Iterator[str]:
    """One database for this module's tests (emptied before each): cheaper than one each."""
    from postgres_server import database

    with database(pg_server) as url:
        yield url


@pytest.fixture
def store(store_db: str) -> Iterator[ReadingStore]:
    s = ReadingStore.open(store_db)
    s._conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY")
    yield s
    s.close()


def _stored(store: ReadingStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every stored reading (current and superseded) and every monthly sum, comparable."""
    rows = store._conn.execute(
        "SELECT section, sampled_at, parameter, source, value, below_dl, flag, eff_units, "
        "eff_exp, revision, row, CASE WHEN superseded_by IS NULL THEN 1 ELSE 0 END, i.file "
        f"FROM (SELECT * FROM {store._all()}) AS r JOIN readings_imports i "
        "ON i.id = r.import_id "
        "ORDER BY section, sampled_at, parameter, source, revision").fetchall()
    sums = store._conn.execute(
        "SELECT * FROM readings_monthly ORDER BY section, month, parameter, source").fetchall()
    return [tuple(r) for r in rows], [tuple(r) for r in sums]


def _outcome(store: ReadingStore, path: Path, **kwargs: object) -> object:
    try:
        result = store.import_file(path, **kwargs)  # type: ignore[arg-type]
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]
    return (result.rows, result.inserted, result.unchanged, result.skipped)


@pytest.mark.parametrize("columns", [False, True], ids=["rows", "columns"])
@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir()))
def test_every_sample_file_stores_the_same_rows_and_sums_as_sqlite(
    store: ReadingStore, name: str, columns: bool, monkeypatch: pytest.MonkeyPatch,
):
    if columns:  # the columnar reader for small files too (it declines what it cannot read)
        monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)
    with ReadingStore.open(":memory:") as lite:
        on_sqlite = _outcome(lite, DATA / name, sections=NAMES)
        on_postgres = _outcome(store, DATA / name, sections=NAMES)
        assert on_postgres == on_sqlite
        assert _stored(store) == _stored(lite)
        if isinstance(on_sqlite, list):  # bad.csv: every problem, and nothing written
            assert on_sqlite and _stored(store) == ([], [])
            assert store._conn.execute("SELECT count(*) FROM readings_imports").fetchone() == (0,)
        else:
            assert _stored(store)[0], name
            # again, and again as a correction: nothing changes on either side
            for kwargs in ({}, {"correction": True}):
                assert _outcome(store, DATA / name, sections=NAMES, **kwargs) == _outcome(
                    lite, DATA / name, sections=NAMES, **kwargs)
            assert _stored(store) == _stored(lite)


def _files(folder: Path) -> dict[str, Path]:
    row = "jinyushi,2021-03-09,nh3n,{},mg/L,manual,\n"
    texts = {
        "a.csv": row.format("0.2"),
        "b.csv": row.format("0.2") + row.replace("03-09", "03-10").format("0.3")
        + row.replace("2021-03-09", "2020-12-31").format("0.025"),
        "fix.csv": row.format("0.5") + row.replace("03-09", "03-11").format("<0.05"),
        "clash.csv": row.replace("03-09", "03-10").format("0.4"),
    }
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(HEADER + text, encoding="utf-8")
    return {name: folder / name for name in texts}


def test_corrections_forget_and_imported_files_match_sqlite(store: ReadingStore, tmp_path):
    files = _files(tmp_path / "files")
    with ReadingStore.open(":memory:") as lite:
        for s in (lite, store):
            s.import_file(files["a.csv"])
            s.import_file(files["b.csv"])  # a's sample stored already: the general path
            s.import_file(files["fix.csv"], correction=True)
            with pytest.raises(ValidationFailed, match=r"already stored as 0\.3"):
                s.import_file(files["clash.csv"])
        assert _stored(store) == _stored(lite)
        assert _changes(store) == _changes(lite) != []
        assert [(f.file, f.sha256, f.current) for f in store.imported_files()] == [
            (f.file, f.sha256, f.current) for f in lite.imported_files()]
        for s in (lite, store):
            assert s.forget(str(files["fix.csv"])) == 2
            assert s.forget("a.csv") == 1
            s.import_file(files["b.csv"])  # b held a's sample too: it comes back
        assert _stored(store) == _stored(lite)
        assert [(f.file, f.current) for f in store.imported_files()] == [
            (f.file, f.current) for f in lite.imported_files()]
        assert list(store.readings()) == list(lite.readings())
        assert store.daily_means("nh3n") == lite.daily_means("nh3n")


def test_repeats_written_differently_beyond_the_sql_scale_collapse_as_on_sqlite(
    store: ReadingStore, tmp_path: Path
):
    path = tmp_path / "a.csv"  # the same value twice, beyond eff_units: compared in Python
    path.write_text(HEADER + "zhuting,2023-01-09,hg,0.000000000012,,,\n"
                    "zhuting,2023-01-09,hg,0.0000000000120,,,\n", encoding="utf-8")
    with ReadingStore.open(":memory:") as lite:
        assert _outcome(store, path) == _outcome(lite, path) == (2, 1, 0, 1)
        assert _stored(store) == _stored(lite)


def _changes(store: ReadingStore) -> list[object]:
    return [attrs.evolve(c, imported_at="") for c in store.corrections()]


def test_readings_are_partitioned_by_year(store: ReadingStore, tmp_path):
    files = _files(tmp_path / "files")
    store.import_file(files["b.csv"])
    conn = store._conn
    assert conn.execute("SELECT c.relkind FROM pg_class c WHERE c.relname = 'readings'"
                        ).fetchone() == ("p",)
    held = dict(conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM readings GROUP BY 1").fetchall())
    assert held == {"readings_y2020": 1, "readings_y2021": 2}


def test_a_store_refuses_a_url_it_cannot_reach():
    from ecocomp.store import StoreError

    with pytest.raises(StoreError, match="cannot reach the PostgreSQL server"):
        ReadingStore.open("postgresql://nobody@127.0.0.1:1/none")


_KILLED = textwrap.dedent("""
    import sys, time
    from ecocomp.store import ReadingStore

    url, path, mark = sys.argv[1:]

    def progress(count):
        if count >= 10_000:  # two batches are in the server, inside the open transaction
            open(mark, "w").close()
            time.sleep(600)

    with ReadingStore.open(url) as store:
        store.import_file(path, progress=progress)
""")


def test_a_client_killed_mid_copy_leaves_nothing(store: ReadingStore, tmp_path):
    rows = "".join(f"zhuting,2023-01-01T{h:02d}:{m:02d},tp,0.{h}{m:02d},,,\n"
                   for h in range(24) for m in range(60))
    rows += "".join(f"pingtang,2023-01-{d:02d}T{h:02d}:00,tp,0.{d}{h:02d},,,\n"
                    for d in range(1, 32) for h in range(24))
    big = tmp_path / "big.csv"  # 17 472 readings of eight years: more than two batches
    big.write_text(HEADER + "".join(rows.replace("2023-", f"{y}-") for y in range(2016, 2024)),
                   encoding="utf-8")
    mark = tmp_path / "copying"
    child = subprocess.Popen([sys.executable, "-c", _KILLED, _url(store), str(big), str(mark)])
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert child.poll() is None, "the importing client ended before it was killed"
            assert time.monotonic() < deadline, "the import never reached its second batch"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    for _ in range(200):  # the server ends the dead client's backend, rolling it back
        waiting = store._conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()").fetchone()[0]
        if not waiting:
            break
        time.sleep(0.05)
    assert _stored(store) == ([], [])
    assert store._conn.execute("SELECT count(*) FROM readings_imports").fetchone() == (0,)
    # and the same file imports whole afterwards
    assert store.import_file(big).inserted == 8 * (24 * 60 + 31 * 24)


def _url(store: ReadingStore) -> str:
    return str(store._conn.url)  # type: ignore[attr-defined]


def test_the_store_is_a_postgres_store_with_the_same_api(store: ReadingStore):
    assert isinstance(store, PostgresReadingStore)
    assert store.schema_version == store_module.SCHEMA_VERSION
    assert ReadingStore.version_in(_url(store)) == store_module.SCHEMA_VERSION
    assert store.add([]).inserted == 0
    assert store.aggregates("2023") is not None and list(store.aggregates("2023")) == []
    assert Decimal(0) == sum((a.total for a in store.aggregates("2023")), Decimal(0))


def test_an_import_after_a_forget_takes_a_new_number(store: ReadingStore, tmp_path):
    """The forget leaves a row numbered above every import; the next import on
    PostgreSQL must not collide with it (nor take a forgotten number)."""
    files = _files(tmp_path / "files")
    with ReadingStore.open(":memory:") as lite:
        for s in (lite, store):
            s.import_file(files["a.csv"])
            s.import_file(files["clash.csv"])
            assert s.forget("clash.csv") == 1
            s.import_file(files["fix.csv"], correction=True)
        numbers = [r[0] for r in store._conn.execute(
            "SELECT id FROM readings_imports ORDER BY id")]
        assert len(numbers) == 3 and numbers == sorted(set(numbers)), numbers
        assert _stored(store) == _stored(lite)
