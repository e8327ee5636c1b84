"""Smoke runs of the benchmark suite at tiny sizes, so it cannot rot (no timing assertions)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks import suite
from benchmarks.__main__ import main
from benchmarks.baselines import compare_monthly, polars_pipeline, raw_import, stored_monthly
from benchmarks.project import write_project
from ecocomp import bulk_insert
from ecocomp.project import check_project
from ecocomp.store import ReadingStore


def test_generated_project_passes_check_and_has_every_preset(tmp_path: Path) -> None:
    counts = write_project(tmp_path, sections=24, years=[2021])
    assert check_project(tmp_path) == []
    formulas = {
        line.split('"')[1]
        for file in (tmp_path / "agreements").glob("*.toml")
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.startswith("formula = ")
    }
    assert formulas == {"class_ladder", "target_reward_penalty", "class_change", "min_flow",
                        "pollution_index", "fund_split"}
    assert counts["sections"] == 24 and counts["readings"] > 0


def test_generated_project_is_deterministic(tmp_path: Path) -> None:
    write_project(tmp_path / "a", sections=3, years=[2021])
    write_project(tmp_path / "b", sections=3, years=[2021])
    for file in (tmp_path / "a").rglob("*.*"):
        twin = tmp_path / "b" / file.relative_to(tmp_path / "a")
        assert twin.read_bytes() == file.read_bytes(), file.name


def test_raw_baseline_stores_the_same_rows_as_the_store(tmp_path: Path) -> None:
    write_project(tmp_path / "p", sections=2, years=[2021])
    files = sorted((tmp_path / "p" / "readings").glob("*.csv"))
    raw = raw_import(tmp_path / "raw.db", files)
    with ReadingStore.open(tmp_path / "store.db") as store:
        inserted = sum(store.import_file(f).inserted for f in files)
    assert raw["rows"] == inserted > 0


def test_suite_measures_every_figure_in_child_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a user whose commands speak Chinese: the re-settle command's check must not read English
    monkeypatch.setenv("ECOCOMP_LANG", "zh")
    tiny = suite.Size("tiny", 2, (2020, 2021))
    result = suite.run_size(tiny, tmp_path, say=lambda _: None, repeat=2)
    for part in ("raw_import", "import", "assess", "pandas", "settle"):
        assert result[part]["peak_rss_mb"] > 0, part
    assert result["import"]["runs"] == 2
    assert result["import"]["seconds_min"] <= result["import"]["seconds_median"]
    assert result["settle"]["resettle_seconds"] > 0
    cli = result["sqlite_cli"]
    assert "skipped" in cli or cli["rows"] == result["readings"]
    duck = result["duckdb"]
    assert "skipped" in duck or duck["rows"] == result["readings"]
    pol = result["polars"]
    assert "skipped" in pol or pol["rows"] == result["readings"]
    # the pipelines' monthly sums are ecocomp's stored ones, group by group
    for name in ("duckdb", "polars"):
        said = result["agree"][name]
        assert said.startswith(("equal", "skipped")), said
    assert result["import"]["rows"] == result["raw_import"]["rows"] == result["readings"]
    assert result["pyarrow_parse"]["rows"] == result["columnar"]["rows"] == result["readings"]
    assert result["import"]["load"] >= 0
    assert result["settle"]["obligations"] == result["assess"]["obligations"] > 0
    table = suite.format_table({"sizes": [result]})
    assert "import rows/s" in table and "targets:" in table
    assert result["settle"]["resettle_command_cpu_seconds"] > 0
    # figures without the whole command's (an older run) keep the re-settle vs DuckDB row
    older = {**result, "duckdb": {"seconds": 1.0, "peak_rss_mb": 1.0, "rows": 1},
             "settle": {k: v for k, v in result["settle"].items()
                        if not k.startswith("resettle_command")}}
    assert "vs DuckDB store + monthly sums" in suite.format_table({"sizes": [older]})


@pytest.mark.parametrize("option", [["--sizes", "agreement"]])
def test_command_line_writes_json_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    out = tmp_path / "results.json"
    # one run of each measurement: repeats and their min/median are the test above's
    assert main([*option, "--ledger", "200", "--repeat", "1", "--out", str(out),
                 "--work", str(tmp_path)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["sizes"][0]["size"] == "agreement"
    assert figures["sizes"][0]["import"]["runs"] == 1
    assert figures["ledger"]["transactions"] == 200
    assert "posting tx/s" in capsys.readouterr().out


def _figures(size: str, rows: int, import_mb: float, assess_mb: float) -> dict[str, object]:
    return {
        "size": size, "readings": rows,
        "raw_import": {"rows": rows, "seconds": 1.0, "peak_rss_mb": 50.0},
        "import": {"rows": rows, "seconds": 1.5, "peak_rss_mb": import_mb},
        "assess": {"seconds": 1.0, "peak_rss_mb": assess_mb, "section_periods": 3900},
        "pandas": {"seconds": 2.0, "compute_seconds": 1.5},
        "settle": {"seconds": 8.0, "verify_seconds": 1.0, "resettle_seconds": 1.5},
        "sqlite_cli": {"rows": rows, "seconds": 0.5},
    }


def test_targets_compare_same_sections_for_assessment_memory() -> None:
    results = {"sizes": [
        _figures("city", 100, 50.0, 40.0),
        _figures("province-manual", 60, 45.0, 80.0),
        _figures("province", 1000, 60.0, 100.0),
    ]}
    found = {t["target"]: t for t in suite.targets(results)}
    same = found["assessment peak RSS province / province-manual (17x rows)"]
    assert same["value"] == pytest.approx(1.25) and same["met"] is True
    grows = found["assessment peak RSS province / city (10x sections)"]
    assert grows["value"] == pytest.approx(2.5) and grows["met"] is None
    memory = found["import peak RSS province / city (10x rows)"]
    assert memory["value"] == pytest.approx(1.2) and memory["met"] is True
    assert found["import rate / raw sqlite3 (city)"]["value"] == pytest.approx(2 / 3)
    assert found["province settle end to end (s)"]["met"] is True
    assert found["province re-settle, nothing new (s)"]["met"] is False
    assert found["import rate / sqlite3 CLI .import (city)"]["value"] == pytest.approx(1 / 3)
    assert found["assessment time / pandas time (province)"]["value"] == pytest.approx(0.5)


def test_figures_measured_under_load_say_so() -> None:
    city = _figures("city", 100, 50.0, 40.0)
    city["import"]["load"] = 3.5  # type: ignore[index]
    found = {t["target"]: t for t in suite.targets({"cpus": 2, "sizes": [city]})}
    assert "measured under load 3.5" in found["import rate / sqlite3 CLI .import (city)"]["note"]
    city["import"]["load"] = 0.4  # type: ignore[index]
    found = {t["target"]: t for t in suite.targets({"cpus": 2, "sizes": [city]})}
    assert "under load" not in found["import rate / sqlite3 CLI .import (city)"]["note"]


def test_the_monthly_check_tells_equal_sums_from_different_ones(tmp_path: Path) -> None:
    write_project(tmp_path / "p", sections=2, years=[2021])
    files = sorted((tmp_path / "p" / "readings").glob("*.csv"))
    with ReadingStore.open(tmp_path / "store.db") as store:
        for f in files:
            store.import_file(f)
    ours, left_out = stored_monthly(tmp_path / "store.db")
    assert ours and left_out == 0
    assert compare_monthly(ours, dict(ours)) == f"equal: {len(ours):,} groups"
    key = next(k for k, v in ours.items() if v[1] is not None)
    count, total, nondetects, suspect, invalid = ours[key]
    off = {**ours, key: (count, total + Decimal("0.0000000001"), nondetects, suspect, invalid)}
    assert compare_monthly(ours, off).startswith("differs: 1 groups differ")
    fewer = {k: v for k, v in ours.items() if k != key}
    assert "1 only in ecocomp" in compare_monthly(ours, fewer)
    pol = polars_pipeline(files, groups=True)
    if pol is not None:  # the bench extra
        assert compare_monthly(ours, pol["monthly"]).startswith("equal")


def test_the_segment_floor_stores_every_group_with_its_readings_bytes(tmp_path: Path) -> None:
    from benchmarks import segments_floor

    rows = segments_floor.segment_rows(50, 1_003)
    assert len({row[:4] for row in rows}) == 50
    assert sum(len(row[4]) for row in rows) == 1_003 * segments_floor.BYTES_PER_READING
    db = str(tmp_path / "seg.db")
    assert segments_floor.store_segments(db, rows) > 0
    conn = sqlite3.connect(db)
    count, size = conn.execute("SELECT count(*), sum(length(packed)) FROM segments").fetchone()
    conn.close()
    assert (count, size) == (50, 1_003 * segments_floor.BYTES_PER_READING)


@pytest.mark.skipif(not bulk_insert.available(),
                    reason="the row layouts are measured with the compiled insert")
def test_every_row_layout_stores_the_same_readings_and_the_key_orders_them(
        tmp_path: Path) -> None:
    from benchmarks import row_layouts

    write_project(tmp_path / "p", sections=2, years=[2020, 2021])
    files = sorted((tmp_path / "p" / "readings").glob("*.csv"))
    blocks = row_layouts.read_blocks(files)
    keys = row_layouts.integer_keys(blocks)
    stored = None
    for layout in row_layouts.LAYOUTS:
        db = tmp_path / "layout.db"
        assert row_layouts.insert(db, blocks, layout, keys) > 0
        conn = sqlite3.connect(db)
        rows = conn.execute(
            "SELECT section, sampled_at, parameter, source, value, below_dl, flag, eff_units, "
            "eff_exp, row, import_id FROM readings ORDER BY import_id, row, parameter").fetchall()
        indexes = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'readings'")}
        if layout == "integer key":  # the key orders by section, time, parameter, source
            by_key = conn.execute("SELECT section, sampled_at, parameter, source FROM readings "
                                  "ORDER BY id").fetchall()
        conn.close()
        if stored is None:
            stored = rows
        assert rows == stored and len(rows) > 1000, layout
        if layout in ("as stored", "indexes rebuilt"):
            assert {"readings_current", "readings_history", "readings_flow"} <= indexes
        else:
            assert "readings_current" not in indexes
    numbers = {s: n for n, s in enumerate(sorted({r[0] for r in stored}))}
    assert by_key == sorted(by_key, key=lambda r: (numbers[r[0]], r[1]))  # sections as met
    with pytest.raises(ValueError, match="needs the blocks' keys"):
        row_layouts.insert(tmp_path / "layout.db", blocks, "integer key")
