"""The SQLite floor of a segment layout for readings (issue 12, a design not built).

Run ``python -m benchmarks.segments_floor [--groups 93768] [--readings 2447009]``. Not
ecocomp's code: it measures what storing readings as segments would cost SQLite, to decide
whether that redesign could reach the ``sqlite3`` shell's ``.import`` (docs/architecture.md,
rounds four and six). A segment is one row per (section, parameter, source, month) holding
that month's readings packed: time, exact units, exponent, value text, flags and file row,
about 24 bytes a reading. The defaults are the province-year's: 93,768 such groups holding
2,447,009 readings.

It writes that many rows of that many bytes (random) into a ``WITHOUT ROWID`` table keyed
on the group, with the store's pragmas (16 KiB pages, WAL, synchronous NORMAL), in one
transaction, and times insert, commit and close (the WAL copied into the file included),
three times in fresh files. What it leaves out: reading and checking the CSV (ecocomp's
columnar reader, in its own thread: "its columnar checks, no SQLite" in
``python -m benchmarks``), packing each block's readings by group, and checking repeated
samples against stored segments.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from ecocomp.database import PAGE_SIZE

#: Bytes a packed reading takes: int32 minutes, int64 units, int8 exponent, ~5 bytes of
#: value text with its length, flags and below_dl in one byte, int32 file row, rounded.
BYTES_PER_READING = 24


def segment_rows(groups: int, readings: int) -> list[tuple[str, str, str, str, bytes]]:
    """``groups`` distinct keys, the readings spread evenly, random packed bytes."""
    per, extra = divmod(readings, groups)
    rows = []
    for g in range(groups):
        count = per + (1 if g < extra else 0)
        rows.append((f"s{g // 720:04d}", f"p{(g // 24) % 30:02d}",
                     "automatic" if g % 2 else "manual", f"2021-{1 + (g // 2) % 12:02d}",
                     os.urandom(BYTES_PER_READING * count)))
    if len({row[:4] for row in rows}) != groups:
        raise SystemExit("the generated keys repeat: lower --groups")
    return rows


def store_segments(db: str, rows: list[tuple[str, str, str, str, bytes]]) -> float:
    """Seconds to insert ``rows``, commit and close a new file ``db``."""
    start = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE segments (section TEXT NOT NULL, parameter TEXT NOT NULL, "
                 "source TEXT NOT NULL, month TEXT NOT NULL, packed BLOB NOT NULL, "
                 "PRIMARY KEY (section, parameter, source, month)) STRICT, WITHOUT ROWID")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO segments VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=93_768)
    parser.add_argument("--readings", type=int, default=2_447_009)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not 0 < args.groups <= 720 * 30 * 12 or args.readings < args.groups:
        parser.error("--groups must be 1 to 259,200 and --readings at least --groups")
    rows = segment_rows(args.groups, args.readings)
    seconds, size = [], 0
    with tempfile.TemporaryDirectory() as folder:
        for n in range(args.repeat):
            db = str(Path(folder) / f"segments{n}.db")
            seconds.append(store_segments(db, rows))
            size = os.stat(db).st_size
    seconds.sort()
    print(f"{args.readings:,} readings in {args.groups:,} segments: insert, commit and close "
          f"{seconds[0]:.2f} s min, {seconds[len(seconds) // 2]:.2f} s median; "
          f"{size / 2**20:.0f} MB; {args.readings / seconds[len(seconds) // 2]:,.0f} "
          "readings/s (compare `python -m benchmarks`: the sqlite3 CLI .import rows/s)")


if __name__ == "__main__":
    main()
