"""PostgreSQL beside SQLite, in the same run on the same data (issue 15).

Run ``python -m benchmarks.bench_postgres [--url URL] [--sections 15] [--ledger 20000]
[--settlers 8]``. Without ``--url`` (a role that may create databases) it starts a
throw-away cluster (benchmarks/pgserver.py) with ``fsync=on``, so PostgreSQL commits are
as durable as the SQLite ledger's ``synchronous=FULL``. It prints, SQLite then PostgreSQL:

* **ledger append**: ``post_many`` of ``--ledger`` accruals in one batch (idempotency
  look-up, validation, hashing, insert, commit), transactions per second;
* **ledger verify**: ``Ledger.verify()`` over them (every hash, link, checkpoint), per second;
* **raw import**: the readings files of a generated project of ``--sections`` sections
  stored with no checks: ``executemany`` into the store's own table (SQLite, the same
  baseline as ``python -m benchmarks``) against ``COPY`` into a table partitioned by year
  with the same unique index (PostgreSQL) — the floor of the store's import;
* **store import**: the same files through the real readings store
  (``ReadingStore.import_file``: parsing, checks, monthly sums, one transaction), into an
  SQLite file or a PostgreSQL database (COPY into the year partitions);
* **settle end to end**: that project's 2021 settled (import, assess, compute, post,
  checkpoint), readings, ledger and catalog in one SQLite file or one PostgreSQL database;
* **concurrent settlers**: ``--settlers`` processes settling copies of the project with
  their own agreements (ids suffixed) and readings stores into one shared ledger; the wall
  time against one settler alone.

Every figure is one run (min of ``--repeat`` for the ledger figures); timings on a shared
machine vary, so compare the two columns of the same run, not runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.baselines import raw_import
from benchmarks.bench_ledger import make_transactions
from benchmarks.pgserver import scratch_database, throwaway_cluster
from benchmarks.project import write_project

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2021

_SETTLE = """
import sys, time
from datetime import date
import ecocomp
from ecocomp.store import ReadingStore
project, ledger_db, store_db = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()
with ecocomp.Ledger.open(ledger_db, busy_timeout_ms=600_000) as ledger, \\
        ReadingStore.open(store_db, busy_timeout_ms=600_000) as store:
    result = ecocomp.settle(ecocomp.load_project(project), year=int(sys.argv[4]), ledger=ledger,
                            store=store, today=date(2022, 3, 1), same_project=True)
print(time.perf_counter() - start, result.posted)
"""


def _ledger(db: str, n: int) -> dict[str, float]:
    from ecocomp.ledger import Ledger

    txs = make_transactions(n)
    with Ledger.open(db) as ledger:
        t = time.perf_counter()
        ledger.post_many(txs)
        append = time.perf_counter() - t
        ledger.checkpoint()
        verify = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            report = ledger.verify()
            verify = min(verify, time.perf_counter() - t)
        if not report.ok:
            raise SystemExit(f"verify failed: {report}")
    return {"append": n / append, "verify": n / verify}


_PARTITIONED = """
CREATE TABLE readings_raw (
    section TEXT COLLATE "C" NOT NULL, sampled_at TEXT COLLATE "C" NOT NULL,
    parameter TEXT COLLATE "C" NOT NULL, source TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL, below_dl BIGINT NOT NULL, flag TEXT, eff_units BIGINT NOT NULL,
    eff_exp BIGINT NOT NULL, import_id BIGINT NOT NULL, row BIGINT NOT NULL
) PARTITION BY RANGE (sampled_at)
"""


def _copy_import(url: str, files: list[Path]) -> float:
    """Rows per second of COPY into a year-partitioned table with the unique sample index."""
    import csv

    from ecocomp import postgres

    conn = postgres.connect(url)
    try:
        conn.execute(_PARTITIONED)
        for year in range(2019, 2023):
            conn.execute(f"CREATE TABLE readings_raw_{year} PARTITION OF readings_raw FOR "
                         f"VALUES FROM ('{year}') TO ('{year + 1}')")
        conn.execute("CREATE UNIQUE INDEX readings_raw_sample ON readings_raw "
                     "(section, sampled_at, parameter, source)")
        start = time.perf_counter()
        rows = 0
        conn.execute("BEGIN")
        for file in files:
            with open(file, encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                next(reader)
                rows += conn.copy_rows(
                    "readings_raw",
                    ("section", "sampled_at", "parameter", "source", "value", "below_dl",
                     "flag", "eff_units", "eff_exp", "import_id", "row"),
                    ((s, at, p, src or "manual", v, 0, flag, 0, 0, 1, line)
                     for line, (s, at, p, v, _u, src, flag) in enumerate(reader, start=2)))
        conn.execute("COMMIT")
        return rows / (time.perf_counter() - start)
    finally:
        conn.close()


def _store_import(db: str, files: list[Path]) -> float:
    """Readings per second through ``ReadingStore.import_file``, all files in one run."""
    from ecocomp.store import ReadingStore

    with ReadingStore.open(db) as store:
        start = time.perf_counter()
        with store.transaction():
            rows = sum(store.import_file(f).inserted for f in files)
        return rows / (time.perf_counter() - start)


def _settle(project: Path, ledger_db: str, store_db: Path | str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, "-c", _SETTLE, str(project), ledger_db,
                           str(store_db), str(YEAR)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr)
    return float(done.stdout.split()[0])


def _copies(project: Path, n: int, work: Path) -> list[Path]:
    """``n`` copies of ``project`` whose agreement ids carry ``-w<k>`` (other agreements)."""
    copies = []
    for k in range(n):
        folder = work / f"project-w{k}"
        shutil.copytree(project, folder)
        for toml in (folder / "agreements").glob("*.toml"):
            text = toml.read_text(encoding="utf-8")
            text = re.sub(r'^(id|supersedes) = "([^"]+)"', rf'\1 = "\2-w{k}"', text,
                          flags=re.M)
            toml.write_text(text, encoding="utf-8")
        copies.append(folder)
    return copies


def _concurrent(copies: list[Path], ledger_db: str, work: Path) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    start = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "-c", _SETTLE, str(c), ledger_db,
                                 str(work / f"{c.name}-{uuid.uuid4().hex[:6]}.db"), str(YEAR)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for c in copies]
    for w in workers:
        _, err = w.communicate()
        if w.returncode:
            raise SystemExit(err)
    return time.perf_counter() - start


def run(admin: str, sections: int, n: int, settlers: int, work: Path) -> list[tuple[str, Any,
                                                                                     Any]]:
    rows: list[tuple[str, Any, Any]] = []
    with scratch_database(admin) as url:
        lite, pg = _ledger(str(work / "ledger.db"), n), _ledger(url, n)
    rows.append((f"ledger append ({n:,} tx, one batch), tx/s", lite["append"], pg["append"]))
    rows.append(("ledger verify (with a checkpoint), tx/s", lite["verify"], pg["verify"]))
    project = work / "project"
    counts = write_project(project, sections, (YEAR - 1, YEAR))
    files = sorted((project / "readings").glob("*.csv"))
    raw = raw_import(work / "raw.db", files)
    with scratch_database(admin) as url:
        copy = _copy_import(url, files)
    rows.append((f"raw import ({counts['readings']:,} readings), rows/s",
                 raw["rows"] / raw["seconds"], copy))
    with scratch_database(admin) as url:
        rows.append(("store import (checked, monthly sums), rows/s",
                     _store_import(str(work / "store.db"), files), _store_import(url, files)))
    with scratch_database(admin) as url:
        lite_s = _settle(project, str(work / "settle.db"), work / "settle.db")
        pg_s = _settle(project, url, url)  # readings, ledger and catalog in one database
    rows.append((f"settle {YEAR} end to end ({sections} sections), s", lite_s, pg_s))
    copies = _copies(project, settlers, work)
    shared = work / "shared.db"
    one_lite = _settle(copies[0], str(work / "alone.db"), work / "alone-readings.db")
    many_lite = _concurrent(copies, str(shared), work)
    with scratch_database(admin) as url:
        many_pg = _concurrent(copies, url, work)
    rows.append((f"{settlers} concurrent settlers, one ledger, wall s", many_lite, many_pg))
    rows.append((f"  against {settlers} × one settler alone ({one_lite:.1f} s)",
                 many_lite / (settlers * one_lite), many_pg / (settlers * one_lite)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("ECOCOMP_TEST_POSTGRES"),
                        help="admin URL of a server (default: start a throw-away cluster)")
    parser.add_argument("--sections", type=int, default=15)
    parser.add_argument("--ledger", type=int, default=20_000)
    parser.add_argument("--settlers", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        admin = args.url or stack.enter_context(throwaway_cluster(fsync=True))
        rows = run(admin, args.sections, args.ledger, args.settlers, Path(tmp))
    print(f"{'':56} {'SQLite':>12} {'PostgreSQL':>12} {'PG/SQLite':>10}")
    for name, lite, pg in rows:
        print(f"{name:56} {lite:>12,.2f} {pg:>12,.2f} {pg / lite:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
