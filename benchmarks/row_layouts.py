"""What one SQLite row per reading can cost at best (issue 12, round seven).

Run ``python -m benchmarks.row_layouts [FILE.csv ...] [--repeat 3]``; without files it
writes the province-year (150 sections, 2.45 M readings, two files) into a temporary
folder first. The files are read once by ecocomp's columnar reader (``ecocomp.columnar``);
then the same blocks are inserted with ecocomp's compiled insert (``ecocomp.bulk_insert``),
one transaction a file, committed and the store closed (the copy of the WAL into the file
included), into a fresh store each time, in four layouts:

``as stored``
    ``readings`` as ecocomp keeps it: a rowid table with the unique index of current
    samples (section, sampled_at, parameter, source) and the flow index.
``no sample index``
    the same table without the indexes of samples: the floor of a rowid table, but not a
    store (nothing finds a section's readings or refuses a repeated sample).
``integer key``
    no indexes of samples either, the row's ``id`` being the sample itself packed in 63
    bits (section number, seconds since 1900, parameter number, source, a revision slot),
    so the table's own key refuses a repeated sample and orders a section's readings by
    time; what every reader and ``id`` would have to change to.
``indexes rebuilt``
    the indexes dropped before each file's insert and created again after it, in the same
    transaction (a sort instead of one B-tree insert a row).

Not ecocomp's code path: it measures the layouts of the decision in docs/architecture.md
(round seven), against ``python -m benchmarks``'s ``sqlite3`` CLI ``.import`` of the same
files. Needs the compiled insert (a built install, not ``ECOCOMP_PURE_PYTHON``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ecocomp import bulk_insert, columnar
from ecocomp.store import _COLUMNAR_ROWS, SCALE, ReadingStore, _exact_parts

#: Columns of a block, in the order the columnar reader gives them (``columnar.Batch``).
_COLUMNS = ", ".join(_COLUMNAR_ROWS)
#: The indexes of samples (the flow index is kept by every layout but "indexes rebuilt").
_SAMPLE_INDEXES = ("readings_current", "readings_history")
#: Bits of the integer key, high to low: section, seconds since 1900, parameter, source,
#: revision slot (14 + 33 + 7 + 1 + 8 = 63).
_BITS = (("section", 14), ("seconds", 33), ("parameter", 7), ("source", 1), ("revision", 8))
_EPOCH = datetime.datetime(1900, 1, 1)
LAYOUTS = ("as stored", "no sample index", "integer key", "indexes rebuilt")


def read_blocks(files: Sequence[Path]) -> list[list[columnar.Batch]]:
    """Each file's blocks as ecocomp's columnar reader gives them."""
    return [list(columnar.batches(f, None, f.name, SCALE, _exact_parts)) for f in files]


class IntegerKeys:
    """Packs (section, sampled_at, parameter, source) into one int64, revision slot 0."""

    def __init__(self) -> None:
        self.sections: dict[str, int] = {}
        self.parameters: dict[str, int] = {}

    def _part(self, column: tuple[Any, ...], count: int, number: Callable[[str], int]) -> Any:
        """The column's values as int64 numbers, one per reading of the block."""
        values = pa.array([number(v) for v in column[1]], pa.int64())
        if len(column) == 2:  # one value for the whole block
            return pa.array([values[0].as_py()] * count, pa.int64())
        indices = pa.Array.from_buffers(pa.int32(), count, [None, column[2]], offset=column[3])
        return pc.take(values, indices)

    def _number(self, names: dict[str, int], bits: int) -> Callable[[str], int]:
        def number(name: str) -> int:
            found = names.setdefault(name, len(names))
            if found >= 1 << bits:
                raise SystemExit(f"more than {1 << bits} distinct values: the key cannot hold them")
            return found
        return number

    @staticmethod
    def _seconds(text: str) -> int:
        seconds = (datetime.datetime.fromisoformat(text) - _EPOCH).total_seconds()
        if not 0 <= seconds < 1 << 33 or seconds != int(seconds):
            raise SystemExit(f"{text}: outside the key's whole seconds since 1900")
        return int(seconds)

    def of(self, block: columnar.Batch) -> pa.Array:
        """The block's keys, in its order."""
        c, n = block.columns, block.count
        parts = {
            "section": self._part(c[0], n, self._number(self.sections, 14)),
            "seconds": self._part(c[1], n, self._seconds),
            "parameter": self._part(c[2], n, self._number(self.parameters, 7)),
            "source": self._part(c[3], n, lambda s: 0 if s == "manual" else 1),
        }
        key = pa.array([0] * n, pa.int64())
        for name, bits in _BITS:
            key = pc.shift_left(key, bits)
            if name in parts:
                key = pc.bit_wise_or(key, parts[name])
        return key


def _fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (db.parent / (db.name + suffix)).unlink(missing_ok=True)


def integer_keys(blocks: list[list[columnar.Batch]]) -> list[list[Any]]:
    """Each block's integer keys (an int64 buffer), computed once, before any timing (in
    such a design the reader's thread would compute them beside the insert)."""
    keys = IntegerKeys()
    return [[keys.of(block).buffers()[1] for block in file_blocks] for file_blocks in blocks]


def insert(db: Path, blocks: list[list[columnar.Batch]], layout: str,
           keys: list[list[Any]] | None = None) -> float:
    """Seconds to insert ``blocks`` into a fresh store at ``db`` in ``layout``, one
    transaction a file, committed and closed; ``keys`` (:func:`integer_keys`) for the
    integer key."""
    _fresh(db)
    store = ReadingStore.open(db)
    conn, native = store._conn, store._native
    if native is None:
        raise SystemExit("the compiled insert is not available (build ecocomp, unset "
                         "ECOCOMP_PURE_PYTHON)")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                           "AND tbl_name = 'readings' AND sql IS NOT NULL").fetchall()
    if layout in ("no sample index", "integer key"):
        for name in _SAMPLE_INDEXES:
            conn.execute(f"DROP INDEX {name}")
    start = time.perf_counter()
    for number, file_blocks in enumerate(blocks):
        conn.execute("BEGIN IMMEDIATE")
        import_id = conn.execute(
            "INSERT INTO readings_imports (file, sha256, correction, rows, inserted, unchanged, "
            "corrected, skipped, imported_at) VALUES (?, '', 0, 0, 0, 0, 0, 0, '') RETURNING id",
            (f"file{number}",)).fetchone()[0]
        if layout == "indexes rebuilt":
            for name, _ in indexes:
                conn.execute(f"DROP INDEX {name}")
        for at, block in enumerate(file_blocks):
            if layout == "integer key":
                if keys is None:
                    raise ValueError("the integer key needs the blocks' keys")
                data = keys[number][at]
                bulk_insert.insert(conn, native, f"readings (id, {_COLUMNS}, import_id)",
                                   block.count, ((2, data, None, 0), *block.columns),
                                   fixed=str(import_id))
            else:
                bulk_insert.insert(conn, native, f"readings ({_COLUMNS}, import_id)",
                                   block.count, block.columns, fixed=str(import_id))
        if layout == "indexes rebuilt":
            for _, create in indexes:
                conn.execute(create)
        conn.execute("COMMIT")
    store.close()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        files = list(args.files)
        if not files:
            from benchmarks.project import write_project

            write_project(folder, 150)
            files = sorted(Path(folder, "readings").glob("*.csv"))
        started = time.perf_counter()
        blocks = read_blocks(files)
        readings = sum(b.count for file_blocks in blocks for b in file_blocks)
        print(f"{readings:,} readings in {len(files)} file(s), read in "
              f"{time.perf_counter() - started:.2f} s (not counted below)")
        keys = integer_keys(blocks)
        db = Path(folder, "layout.db")
        runs: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        sizes: dict[str, float] = {}
        for _ in range(args.repeat):  # the layouts alternated, so load moves them alike
            for layout in LAYOUTS:
                runs[layout].append(insert(db, blocks, layout, keys))
                sizes[layout] = os.stat(db).st_size / 2**20
        _fresh(db)
    stored = statistics.median(runs["as stored"])
    print(f"{'layout':<18}{'min s':>8}{'median s':>10}{'vs stored':>11}{'MB':>7}")
    for layout in LAYOUTS:
        median = statistics.median(runs[layout])
        print(f"{layout:<18}{min(runs[layout]):>8.2f}{median:>10.2f}{median / stored:>11.2f}"
              f"{sizes[layout]:>7.0f}")
    load = os.getloadavg()[0]
    print(f"insert, commit and close of every file; median of {args.repeat}; 1-min load "
          f"average {load:.1f} at the end (compare `python -m benchmarks`: the sqlite3 CLI "
          ".import of the same files)")


if __name__ == "__main__":
    main()
