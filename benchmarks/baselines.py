"""What the suite compares ecocomp with: raw sqlite3 storage, DuckDB, polars and pandas.

- :func:`raw_import` — ``csv.reader`` over the same files and ``executemany`` of the same
  rows into the table a capable user would make for them (not ecocomp's: one ``STRICT``
  ``WITHOUT ROWID`` table keyed on the sample, so a repeated sample is refused; the same
  pragmas), in one transaction, without validation, unit conversion or exact value
  columns: the practical limit of storing these rows in SQLite from Python.
- :func:`sqlite_cli_import` — the ``sqlite3`` command-line shell's ``.import`` of the same
  CSV files into a bare table of text columns (no checks, no index, no conversion): the
  floor of getting these rows into SQLite at all. Needs the ``sqlite3`` program on PATH
  (``apt-get install sqlite3``); returns None without it.
- :func:`pyarrow_parse` — ``pyarrow.csv.read_csv`` of the same files, every column as text,
  nothing checked or stored: the floor of reading these files at all with the columnar
  library ecocomp's import uses (multi-threaded C++).
- :func:`columnar_alone` — ecocomp's own columnar reader (``ecocomp.columnar``: every check
  and conversion, each block's columns as the compiled insert takes them), no SQLite:
  what the import costs before the database, so the suite can say where the time goes.
- :func:`duckdb_pipeline` — DuckDB storing every reading exactly (``DECIMAL(38,10)``, a
  primary key on the sample, so a repeated sample is refused) in a database file, then the
  exact monthly sums and counts per section, month, parameter and source that assessment
  starts from. What a capable user would write instead of ecocomp's import — no messages,
  no units, no classes or obligations, so it is a floor for ``settle``, not an equal. Needs
  duckdb (the ``bench`` extra); returns None without it.
- :func:`polars_pipeline` — the same monthly sums with polars, in memory (``Decimal(38,
  10)``, exact), nothing stored. Needs polars (the ``bench`` extra); None without it.
- :func:`stored_monthly` and :func:`compare_monthly` — ecocomp's own monthly sums as the
  pipelines give theirs, and the check that they are the same numbers: the suite compares
  DuckDB's and polars' outputs with what ecocomp's import stored, group by group.
- :func:`pandas_assessment` — ``read_csv``, half the detection limit for ``<DL``, drop
  ``invalid``, monthly and annual ``groupby().mean()`` per section, parameter and source,
  automatic data over manual, each item classed against the GB 3838-2002 limits with
  ``searchsorted``, section class = worst item. What an analyst would otherwise write —
  in floats, so not exact. Needs pandas (the ``bench`` extra); returns None without it.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecocomp.database import PAGE_SIZE
from ecocomp.standards import ASSESSED_ITEMS, gb3838

__all__ = [
    "Monthly", "columnar_alone", "compare_monthly", "duckdb_pipeline", "pandas_assessment",
    "polars_pipeline", "pyarrow_parse", "raw_import", "sqlite_cli_import", "stored_monthly",
]

_CHUNK = 50_000
_RAW_TABLE = (
    "CREATE TABLE readings (section TEXT NOT NULL, sampled_at TEXT NOT NULL, "
    "parameter TEXT NOT NULL, source TEXT NOT NULL, value TEXT NOT NULL, "
    "flag TEXT NOT NULL, row INTEGER NOT NULL, "
    "PRIMARY KEY (section, sampled_at, parameter, source)) STRICT, WITHOUT ROWID"
)
_INSERT = "INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)"

#: Monthly sums by (section, month, parameter, source): valid readings, the exact sum of
#: their effective values (half the detection limit for ``<DL``; None when there are
#: none), non-detects among them, suspect and invalid readings.
Monthly = dict[tuple[str, str, str, str], tuple[int, Decimal | None, int, int, int]]


def raw_import(db: str | Path, files: Sequence[str | Path]) -> dict[str, Any]:
    """Store the files' rows with bare ``executemany``; seconds in total and in executemany.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> data = os.path.join(folder, "r.csv")
    >>> _ = open(data, "w").write("section,sampled_at,parameter,value,unit,source,flag\\n"
    ...                           "s1,2021-01-01,tp,0.1,mg/L,manual,\\n")
    >>> raw_import(os.path.join(folder, "raw.db"), [data])["rows"]
    1
    """
    start = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # the store's pragmas
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(_RAW_TABLE)
    in_sqlite = 0.0
    rows = 0
    conn.execute("BEGIN IMMEDIATE")
    for file in files:
        with open(file, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            batch: list[tuple[Any, ...]] = []
            for line, (section, at, parameter, value, _unit, source, flag) in enumerate(
                reader, start=2
            ):
                batch.append((section, at, parameter, source or "manual", value, flag, line))
                if len(batch) >= _CHUNK:
                    t = time.perf_counter()
                    conn.executemany(_INSERT, batch)
                    in_sqlite += time.perf_counter() - t
                    rows += len(batch)
                    batch.clear()
            t = time.perf_counter()
            conn.executemany(_INSERT, batch)
            in_sqlite += time.perf_counter() - t
            rows += len(batch)
    t = time.perf_counter()
    conn.execute("COMMIT")
    in_sqlite += time.perf_counter() - t
    conn.close()
    return {"rows": rows, "seconds": time.perf_counter() - start, "sqlite_seconds": in_sqlite}


def sqlite_cli_import(db: str | Path, files: Sequence[str | Path]) -> dict[str, Any] | None:
    """``sqlite3 DB`` with ``.import --csv --skip 1`` of every file into one bare table.

    The same pragmas as the store (its page size, WAL, synchronous NORMAL), one process, the
    CSV parsed in C.
    None when the ``sqlite3`` program is not installed.
    """
    program = shutil.which("sqlite3")
    if program is None:
        return None
    script = [
        f"PRAGMA page_size = {PAGE_SIZE};", "PRAGMA journal_mode = WAL;",
        "PRAGMA synchronous = NORMAL;",
        "CREATE TABLE readings (section TEXT, sampled_at TEXT, parameter TEXT, value TEXT, "
        "unit TEXT, source TEXT, flag TEXT);",
        "BEGIN;",
        *(f'.import --csv --skip 1 "{Path(f)}" readings' for f in files),
        "COMMIT;",
    ]
    start = time.perf_counter()
    subprocess.run([program, str(db)], input="\n".join(script) + "\n", text=True,
                   check=True, capture_output=True)
    seconds = time.perf_counter() - start
    done = subprocess.run([program, str(db), "SELECT count(*) FROM readings"], text=True,
                          check=True, capture_output=True)
    return {"rows": int(done.stdout.strip()), "seconds": seconds}


def pyarrow_parse(files: Sequence[str | Path]) -> dict[str, Any]:
    """Read the files with ``pyarrow.csv.read_csv``, every column as text; rows and seconds."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    start = time.perf_counter()
    rows = 0
    for file in files:
        with open(file, encoding="utf-8") as f:
            names = f.readline().strip().split(",")
        table = pcsv.read_csv(file, convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=False))
        rows += table.num_rows
        del table
    return {"rows": rows, "seconds": time.perf_counter() - start}


def columnar_alone(files: Sequence[str | Path]) -> dict[str, Any]:
    """ecocomp's columnar reader over the files, its blocks' columns built as the compiled
    insert takes them (no Python object per reading), no SQLite."""
    from ecocomp import columnar
    from ecocomp.store import SCALE, _exact_parts

    start = time.perf_counter()
    rows = 0
    for file in files:
        for batch in columnar.batches(file, None, str(file), SCALE, _exact_parts):
            rows += batch.count
    return {"rows": rows, "seconds": time.perf_counter() - start}


def duckdb_pipeline(
    db: str | Path, files: Sequence[str | Path], *, groups: bool = False
) -> dict[str, Any] | None:
    """Store the files exactly in DuckDB with a primary key, then the monthly sums.

    Seconds in total and per step (``store_seconds``, ``monthly_seconds``); with ``groups``
    also the sums themselves (``monthly``, a :data:`Monthly`, read after the clock stops).
    None when duckdb is not installed.
    """
    try:
        import duckdb
    except ImportError:
        return None
    start = time.perf_counter()
    conn = duckdb.connect(str(db))
    conn.execute("SET enable_progress_bar = false")
    conn.execute(
        "CREATE TABLE readings (section VARCHAR NOT NULL, sampled_at TIMESTAMP NOT NULL, "
        "parameter VARCHAR NOT NULL, source VARCHAR NOT NULL, value DECIMAL(38, 10) NOT NULL, "
        "below_dl BOOLEAN NOT NULL, flag VARCHAR NOT NULL, "
        "PRIMARY KEY (section, sampled_at, parameter, source))")
    conn.execute(
        "INSERT INTO readings SELECT section, CAST(sampled_at AS TIMESTAMP), parameter, "
        "coalesce(nullif(source, ''), 'manual'), CAST(ltrim(value, '<') AS DECIMAL(38, 10)), "
        "starts_with(value, '<'), coalesce(flag, '') "
        "FROM read_csv(?, header = true, all_varchar = true)", [[str(f) for f in files]])
    stored = time.perf_counter()
    rows = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    # value * 0.5, not value / 2: DuckDB divides decimals in floating point
    conn.execute(
        "CREATE TABLE monthly AS SELECT section, strftime(sampled_at, '%Y-%m') AS month, "
        "parameter, source, count(*) FILTER (WHERE flag <> 'invalid') AS count, "
        "sum(CASE WHEN below_dl THEN value * 0.5 ELSE value END) "
        "FILTER (WHERE flag <> 'invalid') AS total, "
        "count(*) FILTER (WHERE flag <> 'invalid' AND below_dl) AS nondetects, "
        "count(*) FILTER (WHERE flag = 'suspect') AS suspect, "
        "count(*) FILTER (WHERE flag = 'invalid') AS invalid "
        "FROM readings GROUP BY ALL")
    n = conn.execute("SELECT count(*) FROM monthly").fetchone()[0]  # type: ignore[index]
    end = time.perf_counter()
    out = {"rows": rows, "groups": n, "seconds": end - start,
           "store_seconds": stored - start, "monthly_seconds": end - stored}
    if groups:
        out["monthly"] = {
            (section, month, parameter, source): (count, total, nondetects, suspect, invalid)
            for section, month, parameter, source, count, total, nondetects, suspect, invalid
            in conn.execute("SELECT * FROM monthly").fetchall()}
    conn.close()
    return out


def polars_pipeline(files: Sequence[str | Path], *, groups: bool = False
                    ) -> dict[str, Any] | None:
    """The monthly sums of the files with polars, exactly (``Decimal(38, 10)``), in memory.

    Every column read as text; ``<`` marks a non-detect, counted at half its value; an empty
    source is manual. Seconds, rows and groups; with ``groups`` also the sums (``monthly``,
    a :data:`Monthly`, converted after the clock stops). None when polars is not installed.
    """
    try:
        import polars as pl
    except ImportError:
        return None
    start = time.perf_counter()
    frame = pl.concat([pl.read_csv(f, infer_schema=False) for f in files])
    flag = pl.col("flag").fill_null("")
    below = pl.col("value").str.starts_with("<")
    value = pl.col("value").str.strip_chars_start("<").cast(pl.Decimal(38, 10))
    frame = frame.select(
        "section", "parameter", month=pl.col("sampled_at").str.slice(0, 7),
        source=pl.col("source").fill_null("").replace("", "manual"),
        eff=pl.when(below).then(value * pl.lit(Decimal("0.5"))).otherwise(value),
        below=below, flag=flag)
    valid = pl.col("flag") != "invalid"
    monthly = frame.group_by("section", "month", "parameter", "source").agg(
        count=valid.sum(), total=pl.col("eff").filter(valid).sum(),
        nondetects=(valid & pl.col("below")).sum(),
        suspect=(pl.col("flag") == "suspect").sum(),
        invalid=(pl.col("flag") == "invalid").sum())
    end = time.perf_counter()
    out: dict[str, Any] = {"rows": frame.height, "groups": monthly.height,
                           "seconds": end - start}
    if groups:
        out["monthly"] = {
            (section, month, parameter, source): (count, total if count else None,
                                                  nondetects, suspect, invalid)
            for section, month, parameter, source, count, total, nondetects, suspect, invalid
            in monthly.iter_rows()}
    return out


def stored_monthly(db: str | Path) -> tuple[Monthly, int]:
    """ecocomp's monthly sums in ``db`` (``readings_monthly``) as :data:`Monthly`, and how
    many groups were left out: those holding a value whose units did not fit 64 bits
    (``inexact``), whose total needs the readings themselves."""
    from ecocomp.store import _SPLIT, SCALE

    conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
    try:
        found: Monthly = {}
        left_out = 0
        for (section, month, parameter, source, count, high, low, inexact, _exponent,
             nondetects, suspect, invalid) in conn.execute("SELECT * FROM readings_monthly"):
            if inexact:
                left_out += 1
                continue
            total = (None if high is None
                     else Decimal(high * _SPLIT + low).scaleb(-SCALE))
            found[(section, month, parameter, source)] = (count, total, nondetects, suspect,
                                                          invalid)
        return found, left_out
    finally:
        conn.close()


def compare_monthly(ours: Monthly, theirs: Monthly, left_out: int = 0) -> str:
    """``"equal: N groups"`` or what differs, with the first differing groups.

    Totals compare as numbers (7.34 equals 7.3400000000); groups ecocomp left out of its
    own (``left_out``, see :func:`stored_monthly`) are not compared.
    """
    missing = [k for k in theirs if k not in ours]
    extra = [k for k in ours if k not in theirs]
    differing = [k for k in ours if k in theirs and ours[k] != theirs[k]]
    if len(missing) == left_out and not extra and not differing:
        note = f", {left_out} not compared (inexact)" if left_out else ""
        return f"equal: {len(ours):,} groups{note}"
    examples = "; ".join(f"{k}: ecocomp {ours.get(k)} vs {theirs.get(k)}"
                         for k in (differing + extra + missing)[:3])
    return (f"differs: {len(differing)} groups differ, {len(extra)} only in ecocomp, "
            f"{len(missing)} only in theirs ({left_out} left out by ecocomp); {examples}")


def pandas_assessment(
    files: Sequence[str | Path], waterbodies: Mapping[str, str]
) -> dict[str, Any] | None:
    """Monthly and annual section classes with pandas (floats); None if pandas is missing.

    Returns seconds in total and without ``read_csv``, and the number of section-months.
    """
    try:
        import numpy as np
        import pandas as pd
    except ImportError:
        return None
    start = time.perf_counter()
    frames = [
        pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8") for f in files
    ]
    loaded = time.perf_counter()
    df = pd.concat(frames, ignore_index=True)
    df = df[(df["flag"] != "invalid") & df["parameter"].isin(ASSESSED_ITEMS)]
    below = df["value"].str.startswith("<")
    number = pd.to_numeric(df["value"].str.lstrip("<"))
    df = df.assign(
        eff=number.where(~below, number / 2),
        month=df["sampled_at"].str[:7],
        year=df["sampled_at"].str[:4],
        source=df["source"].replace("", "manual"),
    )
    standard = gb3838()

    def classes(means: Any, period: str) -> Any:
        means = means.reset_index()
        means = means.sort_values("source")  # automatic before manual: automatic wins
        means = means.drop_duplicates(["section", "parameter", period], keep="first")
        means["waterbody"] = means["section"].map(waterbodies).fillna("river")
        cls = np.zeros(len(means), dtype=np.int8)
        positions = {k: np.asarray(v) for k, v in
                     means.groupby(["parameter", "waterbody"]).indices.items()}
        for (code, waterbody), where in positions.items():
            param = standard.parameter(code)
            values = means["eff"].to_numpy()[where]
            if param.direction == "range":
                low, high = (float(x) for x in (param.range or (6, 9)))
                cls[where] = np.where((values >= low) & (values <= high), 1, 6)
                continue
            limits = param.limits_for(waterbody)
            if limits is None:
                continue
            lim = np.array([float(x) for x in limits])
            if param.direction == "higher":  # DO: a value equal to a limit is the better class
                cls[where] = 1 + np.searchsorted(-lim, -values, side="left")
            else:
                cls[where] = 1 + np.searchsorted(lim, values, side="left")
        means["cls"] = cls
        return means.groupby(["section", period])["cls"].max()

    monthly = classes(df.groupby(["section", "parameter", "month", "source"])["eff"].mean(),
                      "month")
    annual = classes(df.groupby(["section", "parameter", "year", "source"])["eff"].mean(),
                     "year")
    end = time.perf_counter()
    return {"seconds": end - start, "compute_seconds": end - loaded,
            "section_months": len(monthly), "section_years": len(annual)}
