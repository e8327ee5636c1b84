"""What the suite compares ecocomp with: raw sqlite3 storage and an analyst's pandas pipeline.

- :func:`raw_import` — ``csv.reader`` over the same files and ``executemany`` of the same
  rows into the same ``readings`` table (same columns, STRICT checks and indexes, same
  pragmas), in one transaction, without any validation, unit conversion, exact value columns
  or duplicate checks: the practical limit of storing these rows in SQLite from Python.
- :func:`sqlite_cli_import` — the ``sqlite3`` command-line shell's ``.import`` of the same
  CSV files into a bare table of text columns (no checks, no index, no conversion): the
  floor of getting these rows into SQLite at all. Needs the ``sqlite3`` program on PATH
  (``apt-get install sqlite3``); returns None without it.
- :func:`pyarrow_parse` — ``pyarrow.csv.read_csv`` of the same files, every column as text,
  nothing checked or stored: the floor of reading these files at all with the columnar
  library ecocomp's import uses (multi-threaded C++).
- :func:`columnar_alone` — ecocomp's own columnar reader (``ecocomp.columnar``: every check
  and conversion, the rows materialised for ``executemany``) without SQLite: what the import
  costs before the database, so the suite can say where the time goes.
- :func:`duckdb_pipeline` — DuckDB storing every reading exactly (``DECIMAL(38,10)``, a
  primary key on the sample, so a repeated sample is refused) in a database file, then the
  exact monthly sums and counts per section, month, parameter and source that assessment
  starts from. What a capable user would write instead of ecocomp's import — no messages,
  no units, no classes or obligations, so it is a floor for ``settle``, not an equal. Needs
  duckdb (the ``bench`` extra); returns None without it.
- :func:`pandas_assessment` — ``read_csv``, half the detection limit for ``<DL``, drop
  ``invalid``, monthly and annual ``groupby().mean()`` per section, parameter and source,
  automatic data over manual, each item classed against the GB 3838-2002 limits with
  ``searchsorted``, section class = worst item. What an analyst would otherwise write —
  in floats, so not exact. Needs pandas (the ``bench`` extra); returns None without it.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ecocomp.standards import ASSESSED_ITEMS, gb3838
from ecocomp.store import ReadingStore

__all__ = [
    "columnar_alone", "duckdb_pipeline", "pandas_assessment", "pyarrow_parse", "raw_import",
    "sqlite_cli_import",
]

_CHUNK = 50_000
_INSERT = (
    "INSERT INTO readings (section, sampled_at, parameter, source, value, below_dl, flag, "
    "eff_units, eff_exp, import_id, row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


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
    store = ReadingStore.open(db)  # the same schema, indexes and pragmas as the store
    conn = store._conn
    in_sqlite = 0.0
    rows = 0
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO readings_imports VALUES (1, 'raw', '', 0, 0, 0, 0, 0, 0, '')")
    for file in files:
        with open(file, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            batch: list[tuple[Any, ...]] = []
            for line, (section, at, parameter, value, _unit, source, flag) in enumerate(
                reader, start=2
            ):
                batch.append((section, at, parameter, source or "manual", value, 0, flag, 0, 0,
                              1, line))
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
    store.close()
    return {"rows": rows, "seconds": time.perf_counter() - start, "sqlite_seconds": in_sqlite}


def sqlite_cli_import(db: str | Path, files: Sequence[str | Path]) -> dict[str, Any] | None:
    """``sqlite3 DB`` with ``.import --csv --skip 1`` of every file into one bare table.

    The same pragmas as the store (WAL, synchronous NORMAL), one process, the CSV parsed in C.
    None when the ``sqlite3`` program is not installed.
    """
    program = shutil.which("sqlite3")
    if program is None:
        return None
    script = [
        "PRAGMA journal_mode = WAL;", "PRAGMA synchronous = NORMAL;",
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
    """ecocomp's columnar reader over the files, rows built as for the insert, no SQLite."""
    from ecocomp import columnar
    from ecocomp.store import SCALE, _exact_parts

    start = time.perf_counter()
    rows = 0
    for file in files:
        for batch in columnar.batches(file, None, str(file), SCALE, _exact_parts):
            for _row in zip(*batch.columns):  # noqa: B905 (columns of equal length)
                rows += 1
    return {"rows": rows, "seconds": time.perf_counter() - start}


def duckdb_pipeline(db: str | Path, files: Sequence[str | Path]) -> dict[str, Any] | None:
    """Store the files exactly in DuckDB with a primary key, then the monthly sums.

    Seconds in total and per step (``store_seconds``, ``monthly_seconds``). None when duckdb
    is not installed.
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
    conn.execute(
        "CREATE TABLE monthly AS SELECT section, date_trunc('month', sampled_at) AS month, "
        "parameter, source, count(*) FILTER (WHERE flag <> 'invalid') AS count, "
        "sum(CASE WHEN below_dl THEN value / 2 ELSE value END) FILTER (WHERE flag <> 'invalid') "
        "AS total, count(*) FILTER (WHERE flag = 'invalid') AS invalid "
        "FROM readings GROUP BY ALL")
    groups = conn.execute("SELECT count(*) FROM monthly").fetchone()[0]  # type: ignore[index]
    conn.close()
    end = time.perf_counter()
    return {"rows": rows, "groups": groups, "seconds": end - start,
            "store_seconds": stored - start, "monthly_seconds": end - stored}


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
