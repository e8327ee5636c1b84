"""The readings store: readings in SQLite (or PostgreSQL), exact, with every correction kept.

Each value is stored twice, in two exact forms (docs/readings.md explains why):

- ``value`` — the decimal text as read (in the parameter's canonical unit), so a reading
  comes back as the very ``Decimal`` that went in and exports round-trip;
- ``eff_units`` — the *effective* value (half the detection limit for a non-detect) as an
  INTEGER scaled by 10^:data:`SCALE`, so SQL can ``SUM`` it exactly; NULL when the value has
  more than :data:`SCALE` decimals or does not fit 64 bits, in which case the few such rows are
  summed in Python instead. ``eff_exp`` keeps the value's decimal exponent, so a SQL total has
  the same digits as ``sum()`` over the same Readings in Python.

Imports are atomic per file: the file is parsed into a temporary staging table (on disk,
so memory stays flat), checked completely — every problem of the file, repeats within it
and contradictions with stored readings — and only then written in one transaction; nothing
is written when anything is wrong. A file whose readings are all good and all new — most
imports — takes a direct path instead: read by whole columns (:mod:`ecocomp.columnar`, a
CSV file of 1 MiB or more, long or wide, UTF-8 or GB18030) or by the row parser, written
straight into ``readings`` with its monthly sums, and rolled back to the general path at the first
problem or repeat. A file whose exact bytes were imported before is skipped. A corrected
value supersedes the stored one only when imported with ``correction=True``; the old row
stays, pointing at its successor (``superseded_by``), and queries read the current revision
only.

The tables live beside the ledger's in the same database file and are named ``readings*``.
``ReadingStore.open("postgresql://…")`` opens them in a PostgreSQL database instead
(:mod:`ecocomp.store_postgres`: the same store, written with COPY, partitioned by year).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from pathlib import Path
from sys import intern
from typing import IO, Any

import attrs

from ecocomp import bulk_insert, database, postgres
from ecocomp.assessment import MonthlyAggregate
from ecocomp.errors import EcocompError, Problem, ValidationFailed
from ecocomp.money import CONTEXT, working_context
from ecocomp.periods import Period
from ecocomp.readings import (
    CST,
    FLAGS,
    MAX_PROBLEMS,
    SOURCES,
    Reading,
    _Implausible,
    _rows,
    _value_text,
    duplicate_message,
    shown,
)
from ecocomp.standards import gb3838

__all__ = [
    "SCALE",
    "SCHEMA_VERSION",
    "Correction",
    "ImportResult",
    "ImportedFile",
    "ReadingStore",
    "StoreError",
]

#: Decimal places of ``eff_units``: effective values are stored as integers × 10^SCALE.
SCALE = 10
_SPLIT = 10**SCALE  # SUM(units / split) and SUM(units % split): no 64-bit overflow in SUM
_INT_MAX = 2**63 - 1
_POW = [10**k for k in range(SCALE + 1)]
_BATCH = 5_000
#: Whether import_file tries the columnar reader (ecocomp.columnar) first; tests turn it off
#: to compare it with the row parser.
_COLUMNAR = True
#: Files smaller than this (one block of the columnar reader, ≈ 20 000 readings) take the row
#: parser: it is as fast for them, and a run of small files does not pay pyarrow's import.
_COLUMNAR_MIN_BYTES = 1 << 20
#: Daily means: the exact quotient, rounded only if it does not terminate (50 digits).
_DAILY_MEAN = working_context(prec=50)

#: The readings schema version this code writes and reads.
SCHEMA_VERSION = 5

# Exact monthly partial sums of the current readings per (section, month, parameter, source),
# the unit assessment reads. Kept up to date inside every import's own transaction, so
# assessing a year reads tens of thousands of sums instead of millions of readings.
_VALID = "flag <> 'invalid'"
# Counts are COUNT(*) FILTER (…), not SUM of a comparison: the same numbers in SQLite and
# the SQL PostgreSQL accepts too (ecocomp.store_postgres), so both keep the sums one way.
_MONTHLY_SELECT = (
    "SELECT section, substr(sampled_at, 1, 7), parameter, source, "
    f"COUNT(*) FILTER (WHERE {_VALID}), SUM(CASE WHEN {_VALID} THEN eff_units / {_SPLIT} END), "
    f"SUM(CASE WHEN {_VALID} THEN eff_units % {_SPLIT} END), "
    f"COUNT(*) FILTER (WHERE {_VALID} AND eff_units IS NULL), "
    f"MIN(CASE WHEN {_VALID} THEN eff_exp END), "
    f"COUNT(*) FILTER (WHERE {_VALID} AND below_dl = 1), "
    "COUNT(*) FILTER (WHERE flag = 'suspect'), COUNT(*) FILTER (WHERE flag = 'invalid') "
    "FROM readings WHERE superseded_by IS NULL"
)
_MONTHLY_GROUP = " GROUP BY section, substr(sampled_at, 1, 7), parameter, source"

_VERSIONS = "readings_schema_version"
_FLOW_INDEX = "readings_flow"

# Readings packed by group (issue 12, docs/architecture.md "segments"): the columnar import
# writes the readings of each (section, month, parameter, source) a file brings new as
# rows of ``readings_packed``, each a JSON array of up to 64 readings
# [sampled_at without its "YYYY-MM-", value, below_dl, flag, eff_units, eff_exp, row] in
# time order (a group in several rows when it is larger, or when a file's blocks cut it:
# first_at tells them apart; the parts of blocks whose times interleave overlap in time,
# never in samples: ReadingStore._require_parts_apart).
# A packed reading is always current (revision 1): it is never superseded and supersedes
# nothing. A group is packed or rows, never both: before any import that is not a new group
# of the columnar path touches a (section, month), its packed groups become rows
# (ReadingStore._explode), so corrections, repeats and their checks see rows only.
# Readers read ``readings_all``: the rows and the packed readings, with the same columns
# (a packed reading's id and superseded_by are NULL), plus ``month``.
_PACKED = "readings_packed"
_ALL = "readings_all"
# A row-id table with an index of the groups, not WITHOUT ROWID: a group's JSON (9 KB for
# a month of 4-hourly samples) then stays on its page instead of spilling onto overflow
# pages half empty (measured: a 267 MB file against 141 MB of JSON).
_PACKED_TABLE = f"""CREATE TABLE {_PACKED} (
    id INTEGER PRIMARY KEY,
    section TEXT NOT NULL, month TEXT NOT NULL, parameter TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source = 'manual' OR source = 'automatic'),
    first_at TEXT NOT NULL, last_at TEXT NOT NULL,
    import_id INTEGER NOT NULL REFERENCES readings_imports (id),
    count INTEGER NOT NULL, data TEXT NOT NULL
) STRICT"""
_PACKED_INDEX = (f"CREATE UNIQUE INDEX {_PACKED}_group ON {_PACKED} "
                 "(section, month, parameter, source, first_at)")
# forget, the files' counts and the years an import changed look packed groups up by import
_PACKED_IMPORT_INDEX = f"CREATE INDEX {_PACKED}_import ON {_PACKED} (import_id)"
#: The packed readings as rows of ``readings``' columns (and month), in time order.
_UNPACKED = (
    "SELECT NULL AS id, p.section AS section, "
    "p.month || '-' || json_extract(j.value, '$[0]') AS sampled_at, "
    "p.parameter AS parameter, p.source AS source, json_extract(j.value, '$[1]') AS value, "
    "json_extract(j.value, '$[2]') AS below_dl, json_extract(j.value, '$[3]') AS flag, "
    "json_extract(j.value, '$[4]') AS eff_units, json_extract(j.value, '$[5]') AS eff_exp, "
    "1 AS revision, NULL AS superseded_by, p.import_id AS import_id, "
    f"json_extract(j.value, '$[6]') AS row, p.month AS month FROM {_PACKED} AS p, "
    "json_each(p.data) AS j"
)
#: Every stored reading, rows and packed: the view ``readings_all``.
_ALL_SELECT = (
    "SELECT id, section, sampled_at, parameter, source, value, below_dl, flag, eff_units, "
    "eff_exp, revision, superseded_by, import_id, row, substr(sampled_at, 1, 7) AS month "
    f"FROM readings UNION ALL {_UNPACKED}"
)
_MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "readings, imports, current-revision indexes",
        (
            """CREATE TABLE readings_imports (
                id INTEGER PRIMARY KEY,
                file TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                correction INTEGER NOT NULL CHECK (correction IN (0, 1)),
                rows INTEGER NOT NULL,
                inserted INTEGER NOT NULL,
                unchanged INTEGER NOT NULL,
                corrected INTEGER NOT NULL,
                skipped INTEGER NOT NULL,
                imported_at TEXT NOT NULL
            ) STRICT""",
            "CREATE INDEX readings_imports_sha256 ON readings_imports (sha256)",
            """CREATE TABLE readings (
                id INTEGER PRIMARY KEY,
                section TEXT NOT NULL,
                sampled_at TEXT NOT NULL,
                parameter TEXT NOT NULL,
                source TEXT NOT NULL CHECK (source IN ('manual', 'automatic')),
                value TEXT NOT NULL,
                below_dl INTEGER NOT NULL CHECK (below_dl IN (0, 1)),
                flag TEXT NOT NULL CHECK (flag IN ('', 'suspect', 'invalid')),
                eff_units INTEGER,
                eff_exp INTEGER NOT NULL,
                revision INTEGER NOT NULL DEFAULT 1,
                superseded_by INTEGER,
                import_id INTEGER NOT NULL REFERENCES readings_imports (id),
                row INTEGER
            ) STRICT""",
            # One current revision per sample. Section then time, so every period query of
            # a section (aggregates, daily means, readings) is one range scan of this index.
            "CREATE UNIQUE INDEX readings_current ON readings "
            "(section, sampled_at, parameter, source) WHERE superseded_by IS NULL",
            "CREATE INDEX readings_history ON readings "
            "(section, sampled_at, parameter, source) WHERE superseded_by IS NOT NULL",
        ),
    ),
    (
        2,
        "exact monthly sums of the current readings, kept with every import",
        (
            """CREATE TABLE readings_monthly (
                section TEXT NOT NULL, month TEXT NOT NULL, parameter TEXT NOT NULL,
                source TEXT NOT NULL, count INTEGER NOT NULL, high INTEGER, low INTEGER,
                inexact INTEGER NOT NULL, exponent INTEGER, nondetects INTEGER NOT NULL,
                suspect INTEGER NOT NULL, invalid INTEGER NOT NULL,
                PRIMARY KEY (section, month, parameter, source)
            ) STRICT, WITHOUT ROWID""",
            f"INSERT INTO readings_monthly {_MONTHLY_SELECT}{_MONTHLY_GROUP}",
        ),
    ),
    (
        3,
        "readings checks written as = and OR (cheaper per inserted row than IN)",
        (
            # Measured: a bulk insert spends about a third of its time in the IN checks.
            # The same rules, the same columns and indexes; the rows are copied unchanged.
            """CREATE TABLE readings_v3 (
                id INTEGER PRIMARY KEY,
                section TEXT NOT NULL,
                sampled_at TEXT NOT NULL,
                parameter TEXT NOT NULL,
                source TEXT NOT NULL CHECK (source = 'manual' OR source = 'automatic'),
                value TEXT NOT NULL,
                below_dl INTEGER NOT NULL CHECK (below_dl = 0 OR below_dl = 1),
                flag TEXT NOT NULL CHECK (flag = '' OR flag = 'suspect' OR flag = 'invalid'),
                eff_units INTEGER,
                eff_exp INTEGER NOT NULL,
                revision INTEGER NOT NULL DEFAULT 1,
                superseded_by INTEGER,
                import_id INTEGER NOT NULL REFERENCES readings_imports (id),
                row INTEGER
            ) STRICT""",
            "INSERT INTO readings_v3 SELECT * FROM readings",
            "DROP TABLE readings",
            "ALTER TABLE readings_v3 RENAME TO readings",
            "CREATE UNIQUE INDEX readings_current ON readings "
            "(section, sampled_at, parameter, source) WHERE superseded_by IS NULL",
            "CREATE INDEX readings_history ON readings "
            "(section, sampled_at, parameter, source) WHERE superseded_by IS NOT NULL",
        ),
    ),
    (
        4,
        "an index of the current flow readings (daily flow means read only them)",
        (
            # Without it the daily means walked every current reading of the year in
            # readings_current to find the one flow sample a day among ~60 readings.
            f"CREATE INDEX {_FLOW_INDEX} ON readings (section, sampled_at) "
            "WHERE superseded_by IS NULL AND parameter = 'flow'",
        ),
    ),
    (
        5,
        "readings packed by (section, month, parameter, source); readings_all reads both",
        (
            _PACKED_TABLE,
            _PACKED_INDEX,
            _PACKED_IMPORT_INDEX,
            f"CREATE VIEW {_ALL} AS {_ALL_SELECT}",
        ),
    ),
)

_STAGING = """CREATE TEMP TABLE staging (
    row INTEGER NOT NULL, field TEXT NOT NULL, section TEXT NOT NULL, sampled_at TEXT NOT NULL,
    parameter TEXT NOT NULL, source TEXT NOT NULL, value TEXT NOT NULL,
    below_dl INTEGER NOT NULL, flag TEXT NOT NULL, eff_units INTEGER, eff_exp INTEGER NOT NULL
)"""
_COLUMNS = "section, sampled_at, parameter, source, value, below_dl, flag, eff_units, eff_exp"
#: The columns of the rows each import path writes (in :meth:`ReadingStore._put`).
_STAGED = ("row", "field", "section", "sampled_at", "parameter", "source", "value", "below_dl",
           "flag", "eff_units", "eff_exp")
_DIRECT = (*_COLUMNS.split(", "), "import_id", "row")
_COLUMNAR_ROWS = (*_COLUMNS.split(", "), "row")
#: The (section, month) pairs of the staged file, and its groups.
_STAGED_MONTHS = "(SELECT DISTINCT section, substr(sampled_at, 1, 7) FROM temp.staging)"
_STAGED_GROUPS = ("(SELECT DISTINCT section, substr(sampled_at, 1, 7), parameter, source "
                  "FROM temp.staging)")
_SAME_KEY = (
    "r.section = s.section AND r.parameter = s.parameter AND r.sampled_at = s.sampled_at "
    "AND r.source = s.source"
)


class StoreError(EcocompError):
    """The readings database cannot be used (written by a newer ecocomp, not a database)."""


class _NotNew(Exception):
    """A packed import met a group already stored, or a sample twice: the general path
    decides (nothing of the import is kept)."""


@attrs.frozen
class Correction:
    """A stored value superseded by a correction import: what changed, where from and why."""

    old: Reading
    new: Reading
    file: str
    row: int | None
    previous_file: str
    previous_row: int | None
    revision: int
    imported_at: str

    @property
    def key(self) -> tuple[str, datetime, str, str]:
        """(section, sampled_at, parameter, source): the sample that was corrected."""
        return (self.new.section, self.new.sampled_at, self.new.parameter, self.new.source)

    @property
    def reason(self) -> str:
        """One line for reports: the change and the files it came from."""
        return (
            f"{self.new.section} {self.new.parameter} at {self.new.sampled_at:%Y-%m-%d %H:%M} "
            f"({self.new.source}): {shown(self.old.value, self.old.below_dl, self.old.flag)} "
            f"→ {shown(self.new.value, self.new.below_dl, self.new.flag)}, corrected by "
            f"{self.file}:{self.row} (was {self.previous_file}:{self.previous_row})"
        )


@attrs.frozen
class ImportResult:
    """What one import did. ``rows`` counts readings (a wide row holds several).

    ``unchanged``: already stored with the same value. ``skipped``: not written because they
    repeat an earlier identical row of the same file, or restate a value that a correction
    has since superseded. ``corrected``: stored values superseded by this (correction) import.
    ``warnings``: the file's implausible values (a valid value far above anything measured
    in surface water: a unit slip?), located, at most
    :data:`~ecocomp.readings.MAX_IMPLAUSIBLE` and then a count; they are imported as
    written. Empty when the file was not read (its bytes were imported before).
    """

    file: str
    rows: int
    inserted: int
    unchanged: int
    corrected: tuple[Correction, ...] = ()
    skipped: int = 0
    warnings: tuple[Problem, ...] = ()


@attrs.frozen
class ImportedFile:
    """One imported file content: its name as imported, digest, and readings that count now."""

    file: str
    sha256: str
    correction: bool
    imported_at: str
    current: int


#: Prefix of the digest of an import to be read again in full (after ``forget``).
_REREAD = "reread:"
#: The digest of the row a ``forget`` leaves in ``readings_imports`` (it holds no readings):
#: the forget is a new state of the readings, and no later import takes a forgotten id.
_FORGOTTEN = "forgotten"


def _exact(text: str, below: bool) -> tuple[int | None, int]:
    """(effective value × 10^SCALE or None, its decimal exponent) of a plain decimal text."""
    whole, _, frac = text.partition(".")
    coefficient = int(whole + frac)
    exponent = -len(frac)
    if below:
        # value / 2 keeps the exponent when exact, else needs one more decimal (as Decimal does)
        if coefficient % 2:
            coefficient *= 5
            exponent -= 1
        else:
            coefficient //= 2
    if exponent < -SCALE:
        return None, exponent
    units = coefficient * _POW[SCALE + exponent]
    return (units if -_INT_MAX <= units <= _INT_MAX else None), exponent


def _exact_parts(text: str, below: bool) -> tuple[int | None, int, int, int]:
    """:func:`_exact` and the units split as SQL's ``units / 10^SCALE`` and ``units %
    10^SCALE`` split them (both truncate toward zero): what the monthly sums add up."""
    units, exponent = _exact(text, below)
    if units is None:
        return None, exponent, 0, 0
    high, low = divmod(abs(units), _SPLIT)
    return (units, exponent, high, low) if units >= 0 else (units, exponent, -high, -low)


def _decimal_from_units(units: int, exponent: int) -> Decimal:
    """units × 10^-SCALE at ``exponent`` (≥ -SCALE), exactly."""
    whole, rest = divmod(units, _POW[SCALE + exponent])
    if not rest:  # always, for sums of values written at ``exponent`` or coarser
        return Decimal(f"{whole}E{exponent}")
    with localcontext(CONTEXT) as ctx:
        ctx.prec = len(str(abs(units))) + SCALE + 2
        return (Decimal(units).scaleb(-SCALE)).quantize(Decimal(1).scaleb(exponent))


def _reading(row: Iterable[Any]) -> Reading:
    section, at, parameter, source, value, below, flag = row
    return Reading(section, datetime.fromisoformat(at), parameter, Decimal(value), bool(below),
                   source, flag)


def _period_bounds(period: Period | str | None) -> tuple[str, str] | None:
    if period is None:
        return None
    p = Period.parse(period)
    end = p.end.toordinal() + 1
    return p.start.isoformat(), date.fromordinal(end).isoformat()


def _by_month(period: Period | str | None, *, sections: Collection[str] | None = None,
              parameter: str | None = None) -> tuple[list[str], list[Any]]:
    """The conditions (and their arguments) that pick the rows of a table keyed by month
    (``readings_monthly``, ``readings_packed``) of ``period``, ``sections`` and
    ``parameter`` (a code): periods are whole months, so the months are exact."""
    clauses: list[str] = []
    args: list[Any] = []
    bounds = _period_bounds(period)
    if bounds is not None:
        clauses.append("month >= ? AND month < ?")
        args.extend(b[:7] for b in bounds)
    if sections is not None:
        codes = list(sections)
        clauses.append(f"section IN ({', '.join('?' * len(codes)) or 'NULL'})")
        args.extend(codes)
    if parameter is not None:
        clauses.append("parameter = ?")
        args.append(parameter)
    return clauses, args


def _exact_total(units: int, exponent: int, rest: Iterable[tuple[str, int]]) -> Decimal:
    """Units summed in SQL plus the (value, below_dl) rows SQL could not sum exactly."""
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 200
        total = Decimal(units).scaleb(-SCALE)
        for value, below in rest:
            v = Decimal(value)
            total += v / 2 if below else v
        return total.quantize(Decimal(1).scaleb(exponent))


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks: how imports recognise a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ReadingStore:
    """Readings in a SQLite file (or ``":memory:"``): exact, atomic imports, kept corrections.

    >>> store = ReadingStore.open(":memory:")
    >>> store.add([Reading("zhuting", datetime(2023, 1, 9), "tp", Decimal("0.043"))]).inserted
    1
    >>> [(a.month, a.count, a.total) for a in store.aggregates(Period(2023))]
    [(Period(year=2023, month=1), 1, Decimal('0.043'))]
    """

    #: What the database raises when the unique index of current revisions refuses a row
    #: (the direct paths then hand the file to the general path).
    _refused: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._units: dict[str, str] = {}
        self._outer = False  # inside transaction(): each import step is a savepoint
        self._step = False  # an import step's transaction or savepoint is open
        #: the connection's SQLite handle for the compiled insert (ecocomp.bulk_insert), or
        #: None: rows go through _put
        self._native: int | None = None
        #: copies the WAL into a database file beside the work (None: in memory, PostgreSQL)
        self._checkpointer: database.Checkpointer | None = None
        #: whether the database has ``readings_packed`` (an SQLite file of schema version 5
        #: or later; PostgreSQL stores rows only): where the compiled part packs, imports do
        self._packs = _packs_in(conn)

    # ----------------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout_ms: int = 30_000) -> ReadingStore:
        """Open (creating if needed) the readings tables in the SQLite file ``path``.

        WAL mode and a busy timeout let a settlement run and other readers share the file.
        A ``postgresql://`` URL opens the readings in that PostgreSQL database instead
        (:mod:`ecocomp.store_postgres`, docs/postgres.md), behind the same methods.
        """
        name = os.fspath(path)
        if postgres.is_url(name):
            from ecocomp.store_postgres import PostgresReadingStore

            return PostgresReadingStore.open_url(name)
        conn: sqlite3.Connection | None = None
        try:
            with bulk_insert.watching():
                conn = database.connect(name, busy_timeout_ms=busy_timeout_ms,
                                        synchronous="NORMAL")
            conn.execute("PRAGMA temp_store = FILE")  # staging spills to disk, not to memory
            # 8 MiB. Measured: 32 MiB made imports no faster (5M rows: 47 s vs 46-52 s) but made
            # peak memory grow with the file until the cache was full (city 82 MB, province 110).
            conn.execute("PRAGMA cache_size = -8192")
            _migrate(conn)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"cannot open the readings: {database.describe(exc, name)}") from None
        store = cls(conn, name)
        store._native = bulk_insert.handle(conn)
        if name not in (":memory:", ""):
            store._checkpointer = database.Checkpointer(name)
        return store

    def close(self) -> None:
        """Close the connection, once what it committed is in the database file."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._conn.close()

    def _commit(self) -> None:
        """Commit; the pages are copied into the database file beside what the caller does
        next (:class:`database.Checkpointer`), not in the commit."""
        if self._checkpointer is not None:
            self._checkpointer.commit(self._conn)
        else:
            self._conn.execute("COMMIT")

    def __enter__(self) -> ReadingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return _version(self._conn)

    @property
    def db(self) -> Any:
        """A ``sqlite_utils.Database`` over the same connection, for ad-hoc *reading* only.

        Never write readings through it: sqlite-utils stores Decimal as REAL via float.
        """
        import sqlite_utils

        return sqlite_utils.Database(self._conn)

    # ----------------------------------------------------------------------- imports

    def import_file(
        self,
        path: str | os.PathLike[str],
        *,
        sections: Collection[str] | Mapping[str, str] | None = None,
        correction: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Import one readings file atomically: all its readings, or nothing and every problem.

        Re-importing a file (same bytes, or the same values) changes nothing. A value that
        contradicts a stored one is an error unless ``correction=True``, which supersedes
        the stored value (kept for audit; see :meth:`corrections`). ``progress`` is called
        with the number of readings parsed so far. Implausible values are imported as
        written and listed in the result's ``warnings``.

        >>> store = ReadingStore.open(":memory:")            # doctest: +SKIP
        >>> store.import_file("readings/2023.csv").inserted  # doctest: +SKIP
        52560
        """
        file = Path(path)
        name = os.fspath(path)
        digest = file_sha256(file) if file.is_file() else ""
        done = self._already_imported(digest, name, correction)
        if done is not None:
            if progress is not None:
                progress(done.rows)
            return done
        # each way of reading collects the implausible values afresh: only the way that
        # wrote the file has read all of it
        columns = "other"
        if _COLUMNAR and digest and file.stat().st_size >= _COLUMNAR_MIN_BYTES:
            from ecocomp.columnar import release_memory

            odd = _Implausible()
            pack = self._packs and self._native is not None and bulk_insert.can_pack()
            with self._read_ahead(file, sections, name, odd, pack=pack) as blocks:
                columns = self._write_columns(blocks, name, digest, correction, progress)
            release_memory()
            if isinstance(columns, ImportResult):
                return _warned(columns, odd, name)
        if columns == "other":  # a file the columns do not read: the row parser, directly
            odd = _Implausible()
            direct = self._write_direct(_rows(file, sections, name, odd), name, digest,
                                        correction, progress)
            if direct is not None:
                return _warned(direct, odd, name)
        # a problem, a repeat or a stored sample: the general path, with every message
        odd = _Implausible()
        return _warned(self._ingest(_rows(file, sections, name, odd), name, digest, correction,
                                    progress), odd, name)

    def add(
        self,
        readings: Iterable[Reading],
        *,
        name: str = "<api>",
        correction: bool = False,
    ) -> ImportResult:
        """Import Reading objects (built in Python) under the same rules as :meth:`import_file`.

        Parameters must be canonical codes; ``name`` stands for the file in messages.
        """
        return self._ingest(_checked_readings(readings, name), name, "", correction, None)

    @classmethod
    def version_in(cls, path: str | os.PathLike[str]) -> int:
        """The readings schema version of the file ``path`` (0: no readings tables, or no
        database there), read without writing."""
        if postgres.is_url(os.fspath(path)):
            from ecocomp.store_postgres import PostgresReadingStore

            return PostgresReadingStore.version_at(os.fspath(path))
        try:
            conn = database.open_read_only(path)
        except sqlite3.Error:
            return 0
        try:
            return _version(conn)
        except sqlite3.DatabaseError:  # not an SQLite file: nothing of ours in it
            return 0
        finally:
            conn.close()

    @contextmanager
    def transaction(self, *, keep: bool = True) -> Iterator[ReadingStore]:
        """Group imports: everything imported inside is committed together, or none of it.

        Holds the database's write lock until the block ends, and queries inside it see the
        imports made so far. A settlement run imports all of a project's files this way, so
        one bad file leaves the database as it was. ``keep=False`` is a trial: the imports
        are visible inside the block and rolled back at its end (a dry run).

        >>> with store.transaction():                      # doctest: +SKIP
        ...     store.import_file("2023-manual.csv")
        ...     store.import_file("2023-automatic.csv")
        """
        if self._outer:
            raise StoreError("store.transaction() blocks cannot be nested")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        self._outer = True
        try:
            yield self
            if keep:
                self._commit()
            else:
                conn.execute("ROLLBACK")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (I/O error, interrupt)
                conn.execute("ROLLBACK")
            raise
        finally:
            self._outer = False

    def _begin(self, *, immediate: bool) -> None:
        """Open one import step: a transaction, or a savepoint inside :meth:`transaction`."""
        if self._outer:
            self._conn.execute("SAVEPOINT import_step")
        else:
            self._conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        self._step = True

    def _end(self, *, commit: bool) -> None:
        """Close the open import step (if any), keeping or undoing its writes."""
        if not self._step:
            return
        self._step = False
        conn = self._conn
        if self._outer:
            if not conn.in_transaction:
                # SQLite rolled back the whole transaction (an interrupted or failed INSERT:
                # the compiled insert's one statement a block), savepoint and all: the
                # error that did it is the one to raise, and transaction() has nothing to undo
                return
            if not commit:
                conn.execute("ROLLBACK TO import_step")
            conn.execute("RELEASE import_step")
        elif commit:
            self._commit()
        elif conn.in_transaction:
            conn.execute("ROLLBACK")

    # ------------------------------------------------------------ the storage boundary
    # What differs between the backends, and nothing else: how a batch of rows is written
    # (_put), what must exist before staged rows are written (_prepare_staged) and which
    # error means the unique index refused a row (_refused, above). PostgresReadingStore
    # (ecocomp.store_postgres) overrides these three; the SQL itself is read alike by both.

    def _put(self, insert: str, table: str, columns: tuple[str, ...],
             rows: Iterable[tuple[Any, ...]], *, also: int | None = None) -> None:
        """Write a batch of ``rows`` (values of ``columns``) into ``table`` with ``insert``
        (which names the import id ``also`` itself, when given)."""
        self._conn.executemany(insert, rows)

    def _put_block(self, block: Any, import_id: int) -> None:
        """Write a block of readings from :mod:`ecocomp.columnar` into ``readings``:
        through the compiled insert where this connection has it, else with :meth:`_put`."""
        into, fixed = f"readings ({_COLUMNS}, row, import_id)", str(int(import_id))
        if self._native is None:
            self._put(bulk_insert.values_statement(into, len(_COLUMNAR_ROWS), fixed),
                      "readings", _COLUMNAR_ROWS, block.rows(), also=import_id)
        else:
            bulk_insert.insert(self._conn, self._native, into, block.count, block.columns,
                               fixed=fixed)

    def _all(self) -> str:
        """The FROM text of every stored reading, rows and packed (``readings_all``, with
        ``month``)."""
        return _all_readings(self._packs)

    def _with_packed(self, rows: str, packed: str,
                     args: Sequence[Any] = ()) -> tuple[str, list[Any]]:
        """``rows`` (SQL over ``readings``) and, where this database packs, ``packed`` (the
        same columns over ``readings_packed``) as one UNION ALL, and the arguments: ``args``
        once for each."""
        if not self._packs:
            return rows, list(args)
        return f"{rows} UNION ALL {packed}", [*args, *args]

    def _new_id(self, sql: str, args: tuple[Any, ...]) -> int:
        """Run one INSERT of one row and return the row's ``id``."""
        found = self._conn.execute(f"{sql} RETURNING id", args).fetchall()
        return int(found[0][0])

    def _record_forget(self, name: str, ids: list[int]) -> None:
        """The row without readings a forget leaves, numbered above every import so far
        (the forgotten ``ids`` included: SQLite would number it the largest left + 1)."""
        last = self._conn.execute("SELECT max(id) FROM readings_imports").fetchone()[0] or 0
        self._conn.execute(
            "INSERT INTO readings_imports (id, file, sha256, correction, rows, inserted, "
            "unchanged, corrected, skipped, imported_at) VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0, ?)",
            (max(last, *ids) + 1, name, _FORGOTTEN, _now()))

    def _prepare_staged(self) -> None:
        """Before the staged rows go into ``readings`` (in the import step's transaction)."""

    def _already_imported(
        self, digest: str, name: str, correction: bool = False
    ) -> ImportResult | None:
        """The earlier import of the same bytes, when importing them again would change nothing.

        A correction file is applied again when a value it set was superseded by a file
        that applies before it (corrections apply in name order: another content of the
        same file, or a file whose name sorts first): restoring a corrections file to
        earlier content must restore its values. A value superseded by a file that applies
        after it (one that declares it supersedes this one) stays superseded: applying this
        file again on every run, and that one over it, changed nothing but added revisions
        and imports each time.
        """
        if not digest:
            return None
        row = self._conn.execute(
            "SELECT rows, skipped, id FROM readings_imports WHERE sha256 = ? "
            "ORDER BY id DESC LIMIT 1",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        rows, skipped, import_id = row
        if correction and any(
            os.path.basename(file) <= os.path.basename(name)
            for (file,) in self._conn.execute(
                "SELECT DISTINCT i.file FROM readings AS r JOIN readings AS n ON n.id = "
                "r.superseded_by JOIN readings_imports AS i ON i.id = n.import_id "
                "WHERE r.import_id = ?", (import_id,))):
            return None
        return ImportResult(file=name, rows=rows, inserted=0, unchanged=rows - skipped,
                            skipped=skipped)

    def _ingest(
        self,
        items: Iterable[Any],
        name: str,
        digest: str,
        correction: bool,
        progress: Callable[[int], None] | None,
    ) -> ImportResult:
        conn = self._conn
        conn.execute("DROP TABLE IF EXISTS temp.staging")
        conn.execute(_STAGING)
        try:
            problems, more, rows = self._stage(items, name, progress)
            if not problems and not more:
                fresh = self._write_fresh(name, digest, correction, rows)
                if fresh is not None:
                    return fresh
            repeats, different = self._repeats(name)  # how many dropped, problems
            problems = sorted([*problems, *different], key=lambda p: p.row or 0)
            more += max(0, len(problems) - MAX_PROBLEMS)
            problems = problems[:MAX_PROBLEMS]
            if more:
                problems.append(Problem(f"{more} more problem(s) not listed; fix the ones "
                                        "above and import the file again", file=name))
            if problems:
                raise ValidationFailed(problems, what=name)
            return self._write(name, digest, correction, rows, repeats)
        finally:
            conn.execute("DROP TABLE IF EXISTS temp.staging")

    def _stage(
        self, items: Iterable[Any], name: str, progress: Callable[[int], None] | None
    ) -> tuple[list[Problem], int, int]:
        """Parse into the staging table: (parse problems, how many more, readings staged)."""
        insert = "INSERT INTO temp.staging VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        problems: list[Problem] = []
        more = 0
        batch: list[tuple[Any, ...]] = []
        count = 0
        if progress is not None:
            progress(0)
        self._begin(immediate=False)  # staging is in the temp database: main stays unlocked
        try:
            last_when = None
            last_iso = ""
            exact: dict[str, tuple[int | None, int]] = {}  # values repeat: 0.15, 7.1, …
            for item in items:
                if type(item) is tuple:
                    line, field, section, when, code, value, below, source, flag = item
                    if when is not last_when:
                        last_when, last_iso = when, when.isoformat()
                    text = _value_text(value)
                    if below:
                        units, exponent = _exact(text, True)
                    else:
                        found = exact.get(text)
                        if found is None:
                            if len(exact) > 65536:
                                exact.clear()
                            found = exact[text] = _exact(text, False)
                        units, exponent = found
                    batch.append((line, field, section, last_iso, code, source, text,
                                  int(below), flag, units, exponent))
                    if len(batch) >= _BATCH:
                        self._put(insert, "temp.staging", _STAGED, batch)
                        count += len(batch)
                        batch.clear()
                        if progress is not None:
                            progress(count)
                elif len(problems) < MAX_PROBLEMS:
                    problems.append(item)
                else:
                    more += 1
            if batch:
                self._put(insert, "temp.staging", _STAGED, batch)
                count += len(batch)
            self._end(commit=True)
        except BaseException:
            self._end(commit=False)
            raise
        if progress is not None:
            progress(count)
        return problems, more, count

    def _repeats(self, name: str) -> tuple[int, list[Problem]]:
        """Samples repeated within the file: drop identical repeats, report different ones.

        Returns how many repeats were dropped and the problems. Identical repeats are
        deleted in SQL, so a file that lists everything twice costs no memory.
        """
        conn = self._conn
        conn.execute(
            "CREATE INDEX temp.staging_key ON staging (section, sampled_at, parameter, source)"
        )
        pairs = (
            "FROM (SELECT section, parameter, sampled_at, source, MIN(rowid) AS first "
            "      FROM temp.staging GROUP BY section, sampled_at, parameter, source "
            "      HAVING COUNT(*) > 1) AS g "
            "JOIN temp.staging AS f ON f.rowid = g.first "
            "JOIN temp.staging AS s ON s.section = g.section AND s.parameter = g.parameter "
            "  AND s.sampled_at = g.sampled_at AND s.source = g.source AND s.rowid > g.first "
        )
        dropped = conn.execute(
            f"DELETE FROM temp.staging WHERE rowid IN (SELECT s.rowid {pairs} "
            "WHERE s.below_dl = f.below_dl AND s.flag = f.flag "
            "AND (s.value = f.value OR coalesce(s.eff_units = f.eff_units, 1 = 0)))"
        ).rowcount
        # what is still repeated differs, or is one number written differently beyond SCALE
        rest = conn.execute(
            "SELECT s.rowid, s.row, s.field, s.value, s.below_dl, s.flag, "
            f"f.row, f.value, f.below_dl, f.flag {pairs} ORDER BY s.rowid"
        )
        same: list[tuple[int]] = []
        problems: list[Problem] = []
        for rowid, row, field, value, below, flag, first_row, first_value, first_below, \
                first_flag in rest:
            if below == first_below and flag == first_flag and \
                    Decimal(value) == Decimal(first_value):
                same.append((rowid,))
            elif len(problems) < MAX_PROBLEMS:
                here = shown(Decimal(value), bool(below), flag)
                there = shown(Decimal(first_value), bool(first_below), first_flag)
                problems.append(Problem(duplicate_message(first_row, here, there), file=name,
                                        row=row, field=field))
        conn.executemany("DELETE FROM temp.staging WHERE rowid = ?", same)
        return dropped + len(same), problems

    def _write_fresh(
        self, name: str, digest: str, correction: bool, rows: int
    ) -> ImportResult | None:
        """The fast path: write a file whose samples are all new, or return None.

        Most imports bring only new samples (a new month, a new year). Then one
        ``INSERT … SELECT`` of the whole staging table succeeds, and the unique index of
        current revisions proves what the general path would check row by row: no sample
        repeated within the file and none already stored. When it fails (a repeat, a
        re-import, a correction) the transaction is rolled back — nothing was written — and
        the general path (:meth:`_repeats`, :meth:`_write`) decides, with its messages.
        """
        conn = self._conn
        self._begin(immediate=True)
        try:
            done = self._already_imported(digest, name, correction)  # another process won?
            if done is not None:
                self._end(commit=False)
                return done
            self._prepare_staged()
            self._explode(_STAGED_GROUPS, by_group=True)
            import_id = self._new_id(
                "INSERT INTO readings_imports (file, sha256, correction, rows, inserted, "
                "unchanged, corrected, skipped, imported_at) VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?)",
                (name, digest, int(correction), rows, rows, _now()),
            )
            try:
                inserted = conn.execute(
                    f"INSERT INTO readings ({_COLUMNS}, import_id, row) "
                    f"SELECT {_COLUMNS}, ?, row FROM temp.staging",
                    (import_id,),
                ).rowcount
            except self._refused:
                self._end(commit=False)
                return None
            self._add_monthly()
            self._end(commit=True)
        except BaseException:
            self._end(commit=False)
            raise
        return ImportResult(file=name, rows=rows, inserted=inserted, unchanged=0)

    def _write_direct(
        self,
        items: Iterable[Any],
        name: str,
        digest: str,
        correction: bool,
        progress: Callable[[int], None] | None,
    ) -> ImportResult | None:
        """The fast path: write a file whose readings are all good and all new, or return None.

        Most imports bring only new samples (a new month, a new year). Their readings go
        straight into ``readings`` in batches as they are parsed, and their monthly sums are
        added up from the same batches (:class:`_MonthlySums`), with no staging table. The
        unique index of current revisions proves what the general path checks row by row:
        no sample repeated within the file and none already stored. At the first problem of
        the file, or when the index refuses a row, the import step is rolled back — nothing
        was written — and None tells the caller to run the general path (:meth:`_ingest`),
        which reads the file again and gives every message and the corrections accounting.
        """
        conn = self._conn
        insert = (
            f"INSERT INTO readings ({_COLUMNS}, import_id, row) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        if progress is not None:
            progress(0)
        started = self._start_direct(name, digest, correction)
        if isinstance(started, ImportResult):
            return started
        import_id = started
        try:
            sums = _MonthlySums(conn)
            groups = sums.groups
            touched: set[tuple[str, ...]] = set()  # the groups written
            batch: list[tuple[Any, ...]] = []
            count = 0
            last_when = None
            last_iso = last_month = ""
            # values repeat (0.15, 7.1, …): their exact forms are computed once per text
            exact: dict[str, tuple[int | None, int, int, int]] = {}
            for item in items:
                if type(item) is not tuple:  # a problem: the general path reports them all
                    self._end(commit=False)
                    return None
                line, _field, section, when, code, value, below, source, flag = item
                if when is not last_when:
                    last_when, last_iso = when, when.isoformat()
                    last_month = last_iso[:7]
                text = _value_text(value)
                if below:
                    units, exponent, high, low = _exact_parts(text, True)
                else:
                    found = exact.get(text)
                    if found is None:
                        if len(exact) > 65536:
                            exact.clear()
                        found = exact[text] = _exact_parts(text, False)
                    units, exponent, high, low = found
                key = (section, last_month, code, source)
                g = groups.get(key)
                if g is None:
                    g = sums.group(key)
                    touched.add(key)
                if flag or units is None:
                    sums.add(g, below, flag, units, exponent, high, low)
                else:  # the common case inline: a valid sample with exact units
                    g[0] += 1
                    if g[1] is None:
                        g[1], g[2] = high, low
                    else:
                        g[1] += high
                        g[2] += low
                    if g[4] is None or exponent < g[4]:
                        g[4] = exponent
                    if below:
                        g[5] += 1
                batch.append((section, last_iso, code, source, text, int(below), flag, units,
                              exponent, import_id, line))
                if len(batch) >= _BATCH:
                    self._put(insert, "readings", _DIRECT, batch)
                    count += len(batch)
                    batch.clear()
                    if progress is not None:
                        progress(count)
            if batch:
                self._put(insert, "readings", _DIRECT, batch)
                count += len(batch)
            if self._any_packed(touched):  # rows beside packed readings: the general path
                self._end(commit=False)
                return None
            self._finish_direct(sums, import_id, count)
        except self._refused:  # a sample repeated in the file, or already stored
            self._end(commit=False)
            return None
        except BaseException:
            self._end(commit=False)
            raise
        if progress is not None:
            progress(count)
        return ImportResult(file=name, rows=count, inserted=count, unchanged=0)

    def _start_direct(self, name: str, digest: str, correction: bool) -> ImportResult | int:
        """Open the import step of a direct write and record the import: its id, or the
        earlier import of the same bytes when another process won the race (step closed)."""
        self._begin(immediate=True)
        try:
            done = self._already_imported(digest, name, correction)
            if done is not None:
                self._end(commit=False)
                return done
            return self._new_id(
                "INSERT INTO readings_imports (file, sha256, correction, rows, inserted, "
                "unchanged, corrected, skipped, imported_at) VALUES (?, ?, ?, 0, 0, 0, 0, 0, ?)",
                (name, digest, int(correction), _now()),
            )
        except BaseException:
            self._end(commit=False)
            raise

    def _finish_direct(self, sums: _MonthlySums, import_id: int, count: int) -> None:
        """Add the file's monthly sums, record its count, and commit the import step."""
        sums.flush()
        self._conn.execute("UPDATE readings_imports SET rows = ?, inserted = ? WHERE id = ?",
                           (count, count, import_id))
        self._end(commit=True)

    @staticmethod
    def _read_ahead(
        file: Path, sections: Collection[str] | Mapping[str, str] | None, name: str,
        odd: _Implausible | None = None, *, pack: bool = False,
    ) -> Any:
        """The file's blocks read by columns (:func:`columnar.batches`, with their monthly
        sums, and packed by group when ``pack``) in a thread of their own, starting now
        (:class:`columnar.ReadAhead`); ``odd`` collects the implausible values (read once
        the blocks are all taken)."""
        from ecocomp import columnar

        return columnar.ReadAhead(_summed(
            columnar.batches(file, sections, name, SCALE, _exact_parts, odd, sums=not pack),
            pack))

    def _write_columns(
        self,
        blocks: Any,
        name: str,
        digest: str,
        correction: bool,
        progress: Callable[[int], None] | None,
    ) -> ImportResult | str:
        """The fastest path: a CSV file (long or wide, UTF-8 or GB18030) read by whole
        columns (pyarrow), all good and all new, written straight into ``readings``; or why
        not.

        :mod:`ecocomp.columnar` checks and converts each block of rows by columns, with
        the row parser's own resolvers, and adds up the block's monthly sums, in a thread
        of its own ahead of the insert (:class:`columnar.ReadAhead`); each block
        goes in with one insert (:meth:`_put_block`: compiled, without the GIL, where it can),
        so progress moves block by block. The first block is read before the write lock is
        taken. Returns "other" when the file is not one the columns read (the row parser's
        direct path may take it), "general" when a cell failed a check or the unique index
        refused a row (repeated or stored samples: the general path decides, with every
        message). Nothing is written in either case. ``blocks`` come from
        :meth:`_read_ahead`; the caller closes them.
        """
        from ecocomp import columnar

        conn = self._conn
        if progress is not None:
            progress(0)
        try:
            first = next(blocks)
        except columnar.Declined as exc:
            return "general" if exc.bad else "other"
        except OSError:
            return "other"  # the row parser says why the file cannot be read
        started = self._start_direct(name, digest, correction)
        if isinstance(started, ImportResult):
            return started
        import_id = started
        try:
            count = 0
            batch = first
            overlaps = False  # a group cut by blocks whose times interleave
            as_rows: set[tuple[str, ...]] = set()  # the groups written as rows
            if self._packs:
                conn.execute("DROP TABLE IF EXISTS temp.pack_overlaps")
            while batch is not None:
                if batch.count:
                    if batch.parts is not None:
                        overlaps = self._put_parts(batch.parts, import_id) or overlaps
                    else:
                        self._put_block(batch, import_id)
                    count += batch.count
                    if progress is not None:
                        progress(count)
                if batch.monthly:
                    conn.executemany(_UPSERT_MONTHLY, batch.monthly)
                    as_rows.update(m[:4] for m in batch.monthly)
                batch = next(blocks, None)
            if overlaps:
                self._require_parts_apart(import_id)
            # rows beside packed readings (this process does not pack, an earlier one did):
            # the unique index does not see those, the general path decides
            if self._any_packed(as_rows):
                raise _NotNew(as_rows)
            self._finish_direct(_MonthlySums(conn), import_id, count)
        except columnar.Declined as exc:
            self._end(commit=False)
            return "general" if exc.bad else "other"
        except (*self._refused, _NotNew):  # a sample repeated in the file, or already stored
            self._end(commit=False)
            return "general"
        except BaseException:
            self._end(commit=False)
            raise
        return ImportResult(file=name, rows=count, inserted=count, unchanged=0)

    def _put_parts(self, parts: list[tuple[Any, ...]], import_id: int) -> bool:
        """Write a block's packed groups (:func:`bulk_insert.pack`) into ``readings_packed``;
        True if one of them shares its group with an earlier block of this import at times
        that interleave (:meth:`_require_parts_apart` then looks for repeated samples).

        Raises :class:`_NotNew` when a group is stored already (by another import, as rows
        or packed): the general path decides, with its messages. Which groups are stored is
        read from the monthly sums (every group with a current reading has its row), the
        current rows and the packed groups, of the block's sections and months only.
        """
        conn = self._conn
        sections = sorted({p[0] for p in parts})
        months = sorted({p[3] for p in parts})
        within = (f"section IN ({', '.join('?' * len(sections))}) "
                  f"AND month IN ({', '.join('?' * len(months))})")
        held: dict[tuple[str, str, str, str], list[tuple[int, str, str]]] = {}
        for section, month, parameter, source, other, first, last in conn.execute(
                "SELECT section, month, parameter, source, import_id, first_at, last_at "
                f"FROM {_PACKED} WHERE {within}", (*sections, *months)):
            held.setdefault((section, month, parameter, source), []).append(
                (other, first, last))
        stored = set(conn.execute(
            f"SELECT section, month, parameter, source FROM readings_monthly WHERE {within}",
            (*sections, *months)).fetchall())
        # and the current rows themselves (through their unique index), so that a monthly
        # sum missing (a database edited outside ecocomp) cannot let a sample be stored
        # twice: the general path then finds the edit and says so
        stored.update(conn.execute(
            "SELECT DISTINCT section, substr(sampled_at, 1, 7), parameter, source FROM "
            f"readings WHERE section IN ({', '.join('?' * len(sections))}) "
            "AND sampled_at >= ? AND sampled_at < ? AND superseded_by IS NULL",
            (*sections, months[0], f"{months[-1]}.")).fetchall())
        overlapping = []
        for section, parameter, source, month, first, last, *_rest in parts:
            key = (section, month, parameter, source)
            found = held.get(key)
            if found is None:
                if key in stored:
                    raise _NotNew(key)
            elif any(other != import_id for other, _, _ in found):
                raise _NotNew(key)
            elif any(first <= end and start <= last for _, start, end in found):
                overlapping.append(key)
        # one statement a block each, compiled (packing needs the compiled part): SQLite
        # writes the block's groups and adds their sums while the reader's thread reads on
        columns = bulk_insert.value_columns(list(zip(*parts, strict=True)))
        bulk_insert.insert(
            conn, self._native, f"{_PACKED} (section, parameter, source, month, first_at, "
            "last_at, count, data, import_id)", len(parts), columns[:8],
            fixed=str(int(import_id)))
        bulk_insert.insert(
            conn, self._native, "readings_monthly AS m (section, parameter, source, month, "
            "count, high, low, inexact, exponent, nondetects, suspect, invalid)", len(parts),
            (*columns[:4], *columns[8:]), upsert=_ADD_TO_MONTHLY)
        if overlapping:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS pack_overlaps (section TEXT, "
                         "month TEXT, parameter TEXT, source TEXT)")
            conn.executemany("INSERT INTO temp.pack_overlaps VALUES (?, ?, ?, ?)", overlapping)
        return bool(overlapping)

    def _require_parts_apart(self, import_id: int) -> None:
        """Raise :class:`_NotNew` if a group this import packed in several parts whose
        times interleave holds one sample twice."""
        repeated = self._conn.execute(
            f"SELECT 1 FROM ({_UNPACKED} WHERE p.import_id = ? AND (p.section, p.month, "
            "p.parameter, p.source) IN (SELECT section, month, parameter, source "
            "FROM temp.pack_overlaps)) GROUP BY section, month, parameter, source, sampled_at "
            "HAVING count(*) > 1 LIMIT 1", (import_id,)).fetchone()
        if repeated:
            raise _NotNew(repeated)

    def _any_packed(self, groups: Collection[tuple[str, ...]]) -> bool:
        """Whether any of the ``groups`` (section, month, parameter, source) has packed
        readings: rows written for it beside them would be a sample stored twice, which
        the rows' unique index does not see. (Other groups of the same months may be
        packed: a manual file beside a packed automatic one stays rows, they stay packed.)"""
        if not self._packs:
            return False
        keys = list(groups)
        for start in range(0, len(keys), 200):
            chunk = keys[start:start + 200]
            if self._conn.execute(
                    f"SELECT 1 FROM {_PACKED} WHERE (section, month, parameter, source) IN "
                    f"(VALUES {', '.join('(?, ?, ?, ?)' for _ in chunk)}) LIMIT 1",
                    [v for key in chunk for v in key]).fetchone():
                return True
        return False

    def _explode(self, months: str, *, by_group: bool = False) -> None:
        """Turn the packed groups of the (section, month) pairs that the SQL ``months``
        selects (``by_group``: of the (section, month, parameter, source) groups) into rows
        of ``readings`` (the same readings, their import and file row), inside the caller's
        import step: what corrections, repeats and their checks read. The general path
        turns whole months (its sums are recomputed by month, from rows); a write of new
        samples only the groups it writes."""
        if not self._packs:
            return
        conn = self._conn
        which = ("(p.section, p.month, p.parameter, p.source)" if by_group
                 else "(p.section, p.month)")
        conn.execute(
            f"INSERT INTO readings ({_COLUMNS}, import_id, row) SELECT {_COLUMNS}, import_id, "
            f"row FROM ({_UNPACKED} WHERE {which} IN {months} "
            "ORDER BY p.section, p.month, p.parameter, p.source, p.first_at, j.key)")
        conn.execute(f"DELETE FROM {_PACKED} AS p WHERE {which} IN {months}")

    def _write(
        self, name: str, digest: str, correction: bool, rows: int, repeats: int
    ) -> ImportResult:
        conn = self._conn
        self._begin(immediate=True)
        try:
            done = self._already_imported(digest, name, correction)  # another process won?
            if done is not None:
                self._end(commit=False)
                return done
            skipped = repeats
            self._prepare_staged()
            self._explode(_STAGED_MONTHS)
            self._require_consistent_sums()
            imported_at = _now()
            import_id = self._new_id(
                "INSERT INTO readings_imports (file, sha256, correction, rows, inserted, "
                "unchanged, corrected, skipped, imported_at) VALUES (?, ?, ?, ?, 0, 0, 0, 0, ?)",
                (name, digest, int(correction), rows, imported_at),
            )
            existing = conn.execute(
                f"SELECT COUNT(*) FROM temp.staging s JOIN readings r ON {_SAME_KEY} "
                "AND r.superseded_by IS NULL"
            ).fetchone()[0]
            differing = conn.execute(
                "SELECT s.rowid, s.row, s.field, s.section, s.sampled_at, s.parameter, s.source, "
                "s.value, s.below_dl, s.flag, r.id, r.value, r.below_dl, r.flag, r.revision, "
                "r.row, i.file "
                f"FROM temp.staging s JOIN readings r ON {_SAME_KEY} AND r.superseded_by IS NULL "
                "JOIN readings_imports i ON i.id = r.import_id "
                "WHERE NOT (r.below_dl = s.below_dl AND r.flag = s.flag "
                "AND (r.value = s.value OR coalesce(r.eff_units = s.eff_units, 1 = 0)))"
            )  # iterated, not fetched: only corrections and (capped) problems are kept
            problems: list[Problem] = []
            to_correct: list[tuple[Any, ...]] = []
            restated = 0
            same = existing
            for item in differing:
                (_rowid, row, field, section, at, parameter, source, value, below, flag,
                 _old_id, old_value, old_below, old_flag, _revision, old_row, old_file) = item
                new = (Decimal(value), bool(below), flag)
                old = (Decimal(old_value), bool(old_below), old_flag)
                if new == old:
                    continue  # the same number written differently (0.10 and 0.1)
                same -= 1
                if correction:
                    to_correct.append(item)
                elif self._superseded_value(section, at, parameter, source, new):
                    restated += 1  # an old file restating a value since corrected
                elif len(problems) < MAX_PROBLEMS:
                    problems.append(Problem(
                        f"{section} {parameter} at {at} ({source}) is already stored as "
                        f"{shown(*old)} (from {old_file} row {old_row}), here {shown(*new)}; "
                        "import this file as a correction to supersede the stored value, or "
                        "fix the value", file=name, row=row, field=field,
                    ))
            if problems:
                self._end(commit=False)
                raise ValidationFailed(problems, what=name)
            skipped += restated
            inserted = conn.execute(
                f"INSERT INTO readings ({_COLUMNS}, import_id, row) "
                f"SELECT {_COLUMNS}, ?, row FROM temp.staging s WHERE NOT EXISTS "
                f"(SELECT 1 FROM readings r WHERE {_SAME_KEY} AND r.superseded_by IS NULL)",
                (import_id,),
            ).rowcount
            corrected = [self._supersede(item, import_id) for item in to_correct]
            result = ImportResult(
                file=name, rows=rows, inserted=inserted, unchanged=same,
                corrected=tuple(
                    _correction(item, name, imported_at) for item in to_correct
                ),
                skipped=skipped,
            )
            conn.execute(
                "UPDATE readings_imports SET inserted = ?, unchanged = ?, corrected = ?, "
                "skipped = ? WHERE id = ?",
                (inserted, same, len(corrected), skipped, import_id),
            )
            self._refresh_monthly()
            self._end(commit=True)
        except BaseException:
            self._end(commit=False)
            raise
        return result

    def _superseded_value(
        self, section: str, at: str, parameter: str, source: str,
        new: tuple[Decimal, bool, str],
    ) -> bool:
        rows = self._conn.execute(
            "SELECT value, below_dl, flag FROM readings WHERE section = ? AND parameter = ? "
            "AND sampled_at = ? AND source = ? AND superseded_by IS NOT NULL",
            (section, parameter, at, source),
        )
        return any((Decimal(v), bool(b), f) == new for v, b, f in rows)

    def _supersede(self, item: tuple[Any, ...], import_id: int) -> int:
        rowid, old_id, revision = item[0], item[10], item[14]
        conn = self._conn
        # move the old row out of the one-current-revision index before its successor arrives
        conn.execute("UPDATE readings SET superseded_by = -1 WHERE id = ?", (old_id,))
        new_id = self._new_id(
            f"INSERT INTO readings ({_COLUMNS}, revision, import_id, row) "
            f"SELECT {_COLUMNS}, ?, ?, row FROM temp.staging WHERE rowid = ?",
            (revision + 1, import_id, rowid),
        )
        conn.execute("UPDATE readings SET superseded_by = ? WHERE id = ?", (new_id, old_id))
        return new_id

    # ----------------------------------------------------------------------- queries

    def _add_monthly(self) -> None:
        """Add the staged samples to the monthly sums (all of them are new current readings).

        Cheaper than :meth:`_refresh_monthly`: it reads only the staged file, not the store.
        """
        staged = _MONTHLY_SELECT.replace("FROM readings WHERE superseded_by IS NULL",
                                         "FROM temp.staging WHERE 1 = 1")
        self._conn.execute(
            f"INSERT INTO readings_monthly AS m {staged}{_MONTHLY_GROUP} {_ADD_TO_MONTHLY}"
        )

    def _require_consistent_sums(self) -> None:
        """Refuse to import when the stored sums of a (section, month) the staged file
        touches differ from the sums of its stored readings: the database was changed
        outside ecocomp, and recomputing them would hide it in the new sums."""
        staged = _STAGED_MONTHS
        cols = ("section, month, parameter, source, count, high, low, inexact, exponent, "
                "nondetects, suspect, invalid")
        stored = f"SELECT {cols} FROM readings_monthly WHERE (section, month) IN {staged}"
        fresh = (f"SELECT * FROM ({_MONTHLY_SELECT} AND (section, substr(sampled_at, 1, 7)) "
                 f"IN {staged}{_MONTHLY_GROUP}) AS fresh")
        bad = self._conn.execute(
            f"SELECT DISTINCT section, month FROM ({stored} EXCEPT {fresh} UNION ALL "
            f"SELECT * FROM ({fresh} EXCEPT {stored}) AS gone) AS bad ORDER BY section, month"
        ).fetchall()
        if bad:
            shown = ", ".join(f"{s} {m}" for s, m in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise StoreError(
                f"{self.path}: the stored monthly sums of {shown}{more} differ from the "
                "sums of the stored readings, so the database was changed outside ecocomp; "
                f"nothing was imported. Run `ecocomp ledger verify --db {self.path} "
                "--with-readings` and restore the file from a backup")

    def _refresh_monthly(self) -> None:
        """Recompute the monthly sums of every (section, month) the staged file touches.

        Runs inside the import's transaction, so the sums and the readings never disagree.
        """
        staged = _STAGED_MONTHS
        self._conn.execute(f"DELETE FROM readings_monthly WHERE (section, month) IN {staged}")
        self._conn.execute(
            f"INSERT INTO readings_monthly {_MONTHLY_SELECT} "
            f"AND (section, substr(sampled_at, 1, 7)) IN {staged}{_MONTHLY_GROUP}"
        )

    def _where(
        self,
        period: Period | str | None,
        sections: Collection[str] | None = None,
        section: str | None = None,
        parameter: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses = ["superseded_by IS NULL"]
        args: list[Any] = []
        bounds = _period_bounds(period)
        if bounds is not None:
            # the months too: packed readings are found by month, their times unpacked
            clauses.append("sampled_at >= ? AND sampled_at < ? AND month >= ? AND month < ?")
            args.extend((*bounds, *(b[:7] for b in bounds)))
        if section is not None:
            clauses.append("section = ?")
            args.append(section)
        if sections is not None:
            placeholders = ", ".join("?" for _ in sections) or "NULL"
            clauses.append(f"section IN ({placeholders})")
            args.extend(sections)
        if parameter is not None:
            clauses.append("parameter = ?")
            args.append(gb3838().resolve(parameter) or parameter)
        return " AND ".join(clauses), args

    def readings(
        self,
        section: str | None = None,
        parameter: str | None = None,
        period: Period | str | None = None,
    ) -> Iterator[Reading]:
        """Current readings in order of section, time, parameter and source (corrections applied).

        >>> list(ReadingStore.open(":memory:").readings(section="zhuting"))
        []
        """
        for row in self._current(period, section=section, parameter=parameter):
            yield _reading(row)

    def _current(self, period: Period | str | None, *, section: str | None = None,
                 parameter: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Current readings as (section, sampled_at, parameter, source, value, below_dl,
        flag), in order of section, time, parameter and source.

        The rows come from SQL in that order; the packed groups of the same filter are
        decoded here (``json``: several times faster than unpacking them in SQL), one
        (section, month) at a time, sorted, and put in their place among the rows: a
        (section, month) is only rows, only packed, or both (different parameters or
        sources), whose readings are then sorted together.
        """
        where, args = self._where(period, section=section, parameter=parameter)
        rows = self._conn.execute(
            "SELECT section, sampled_at, parameter, source, value, below_dl, flag "
            f"FROM {_all_readings(False)} WHERE {where} "
            "ORDER BY section, sampled_at, parameter, source", args)
        if not self._packs:
            yield from rows
            return
        clauses, pargs = _by_month(period, sections=None if section is None else [section],
                                   parameter=None if parameter is None
                                   else gb3838().resolve(parameter) or parameter)
        parts = self._conn.cursor().execute(
            f"SELECT section, month, parameter, source, data FROM {_PACKED} "
            f"WHERE {' AND '.join(clauses) or '1 = 1'} ORDER BY section, month", pargs)
        part = next(parts, None)
        row = next(rows, None)
        while part is not None or row is not None:
            if part is None or (row is not None and (row[0], row[1][:7]) < part[:2]):
                yield row
                row = next(rows, None)
                continue
            chunk = part[:2]  # a (section, month) with packed groups: all of it, sorted
            found = []
            while part is not None and part[:2] == chunk:
                found_section, month, found_parameter, source, data = part
                prefix = f"{month}-"
                found += [(found_section, prefix + at, found_parameter, source, value, below,
                           flag) for at, value, below, flag, *_ in json.loads(data)]
                part = next(parts, None)
            while row is not None and (row[0], row[1][:7]) == chunk:
                found.append(row)
                row = next(rows, None)
            found.sort(key=lambda r: (r[1], r[2], r[3]))
            yield from found

    def aggregates(
        self, period: Period | str, sections: Collection[str] | None = None
    ) -> Iterator[MonthlyAggregate]:
        """Exact monthly sums per (section, parameter, month, source), computed in SQL.

        The same numbers as :func:`ecocomp.assessment.aggregate` over :meth:`readings`:
        ``total`` sums effective values of valid samples (flag '' or 'suspect'), non-detects
        at half the detection limit; invalid samples are only counted.

        >>> list(ReadingStore.open(":memory:").aggregates(Period(2023)))
        []
        """
        where, args = self._where(period, sections=None if sections is None else list(sections))
        clauses, margs = _by_month(period, sections=sections)
        cursor = self._conn.execute(
            "SELECT section, parameter, month, source, count, high, low, inexact, exponent, "
            "nondetects, suspect, invalid FROM readings_monthly "
            f"WHERE {' AND '.join(clauses) or '1 = 1'} "
            "ORDER BY section, parameter, month, source",
            margs,
        )
        months: dict[str, Period] = {}
        for (section, parameter, month, source, count, high, low, inexact, exponent,
             nondetects, suspect, invalid) in cursor.fetchall():  # no statement left open
            if count:
                total = self._total(high, low, exponent, inexact, where, args,
                                    (section, parameter, month, source))
            else:
                total = Decimal(0)
            period = months.get(month)
            if period is None:
                period = months[month] = Period.parse(month)
            # names interned: results keep one copy of each. Positional, in field order
            # (section, parameter, month, source, count, total, nondetects, suspect,
            # invalid): keywords cost more per call, and a province-year reads ~190,000
            yield MonthlyAggregate(intern(section), intern(parameter), period, intern(source),
                                   count, total, nondetects, suspect, invalid)

    def _total(
        self, high: int | None, low: int | None, exponent: int, inexact: int,
        where: str, args: list[Any], group: tuple[str, str, str, str],
    ) -> Decimal:
        units = (high or 0) * _SPLIT + (low or 0)
        exponent = min(0, exponent)  # what sum() gives: it starts from 0
        if not inexact:
            return _decimal_from_units(units, exponent)
        rest = self._conn.execute(
            f"SELECT value, below_dl FROM {self._all()} WHERE {where} AND section = ? AND "
            "parameter = ? AND month = ? AND source = ? "
            "AND flag <> 'invalid' AND eff_units IS NULL",
            [*args, *group],
        )
        return _exact_total(units, exponent, rest)

    def daily_means(
        self,
        parameter: str = "flow",
        period: Period | str | None = None,
        sections: Collection[str] | None = None,
    ) -> dict[str, dict[date, Decimal]]:
        """Mean of each day's valid samples of ``parameter`` per section (all sources).

        The daily sums are exact; the mean is the exact quotient, rounded only if it does not
        terminate (at 50 significant digits, as assessment means).

        >>> ReadingStore.open(":memory:").daily_means("flow", Period(2023))
        {}
        """
        code = gb3838().resolve(parameter) or parameter
        where, args = self._where(period, sections=None if sections is None else list(sections))
        table = _all_readings(False)  # the rows; packed groups are decoded below
        # the index's own condition, so that SQLite must use it; a file of schema version 3
        # or older opened read-only (verify --with-readings) has no index: the walk
        if code == "flow" and self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                (_FLOW_INDEX,)).fetchone():
            table = _all_readings(False, f"readings INDEXED BY {_FLOW_INDEX}")
            where += " AND parameter = 'flow'"
        else:
            where += " AND parameter = ?"
            args.append(code)
        # (section, day) → [count, exact units, smallest exponent, inexact count, the
        # packed inexact (value, below_dl)]
        sums: dict[tuple[str, str], list[Any]] = {}
        for section, day, count, high, low, inexact, exponent in self._conn.execute(
            "SELECT section, substr(sampled_at, 1, 10) AS day, COUNT(*), "
            f"SUM(eff_units / {_SPLIT}), SUM(eff_units % {_SPLIT}), "
            "COUNT(*) FILTER (WHERE eff_units IS NULL), MIN(eff_exp) "
            f"FROM {table} WHERE {where} AND flag <> 'invalid' "
            "GROUP BY section, day", args,
        ):
            sums[(section, day)] = [count, (high or 0) * _SPLIT + (low or 0), exponent, inexact,
                                    []]
        if self._packs:
            self._packed_days(code, period, sections, sums)
        means: dict[str, dict[date, Decimal]] = {}
        days: dict[str, date] = {}  # one date object per day, shared by the sections
        day_where = f"{where} AND flag <> 'invalid' AND substr(sampled_at, 1, 10) = ?"
        for (section, day), (count, units, exponent, inexact, packed) in sorted(sums.items()):
            exponent = min(0, exponent)
            if not inexact and not packed:
                total = _decimal_from_units(units, exponent)
            else:
                rest = self._conn.execute(
                    f"SELECT value, below_dl FROM {table} WHERE {day_where} AND section = ? "
                    "AND eff_units IS NULL", [*args, day, section]).fetchall() if inexact \
                    else []
                total = _exact_total(units, exponent, [*rest, *packed])
            when = days.get(day)
            if when is None:
                when = days[day] = date.fromisoformat(day)
            means.setdefault(section, {})[when] = _DAILY_MEAN.divide(total, Decimal(count))
        return means

    def _packed_days(self, code: str, period: Period | str | None,
                     sections: Collection[str] | None,
                     sums: dict[tuple[str, str], list[Any]]) -> None:
        """Add the valid packed readings of ``code`` (in ``period``, of ``sections``) to the
        daily ``sums`` of :meth:`daily_means`, decoded with ``json`` (as :meth:`_current`)."""
        clauses, args = _by_month(period, sections=sections, parameter=code)
        for section, month, data in self._conn.execute(
                f"SELECT section, month, data FROM {_PACKED} WHERE {' AND '.join(clauses)}",
                args):
            for at, value, below, flag, units, exponent, _row in json.loads(data):
                if flag == "invalid":
                    continue
                day = f"{month}-{at[:2]}"
                g = sums.get((section, day))
                if g is None:
                    g = sums[(section, day)] = [0, 0, exponent, 0, []]
                g[0] += 1
                if exponent < g[2]:
                    g[2] = exponent
                if units is None:
                    g[4].append((value, below))
                else:
                    g[1] += units

    def export_csv(
        self, file: str | os.PathLike[str] | IO[str], period: Period | str | None = None
    ) -> int:
        """Write the current readings in the canonical long format (UTF-8); returns the count.

        Importing the export into an empty store gives the same readings back.
        """
        if isinstance(file, str | os.PathLike):
            with open(file, "w", encoding="utf-8", newline="") as f:
                return self.export_csv(f, period)
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(("section", "sampled_at", "parameter", "value", "unit", "source", "flag"))
        units = {code: p.unit for code, p in gb3838().parameters.items()}
        count = 0
        for section, at, parameter, source, value, below, flag in self._current(period):
            writer.writerow((section, at, parameter, "<" + value if below else value,
                             units.get(parameter, ""), source, flag))
            count += 1
        return count

    def corrections(self, period: Period | str | None = None) -> list[Correction]:
        """Every superseded value (oldest revision first), for reports: what changed and why."""
        clauses = ["o.superseded_by IS NOT NULL"]
        args: list[Any] = []
        bounds = _period_bounds(period)
        if bounds is not None:
            clauses.append("o.sampled_at >= ? AND o.sampled_at < ?")
            args.extend(bounds)
        rows = self._conn.execute(
            "SELECT o.section, o.sampled_at, o.parameter, o.source, o.value, o.below_dl, "
            "o.flag, oi.file, o.row, n.value, n.below_dl, n.flag, ni.file, n.row, n.revision, "
            "ni.imported_at "
            "FROM readings o JOIN readings n ON n.id = o.superseded_by "
            "JOIN readings_imports oi ON oi.id = o.import_id "
            "JOIN readings_imports ni ON ni.id = n.import_id "
            f"WHERE {' AND '.join(clauses)} "
            "ORDER BY o.section, o.sampled_at, o.parameter, o.source, n.revision",
            args,
        ).fetchall()
        found = []
        for (section, at, parameter, source, old_value, old_below, old_flag, old_file,
             old_row, value, below, flag, file, row, revision, imported_at) in rows:
            found.append(Correction(
                old=_reading((section, at, parameter, source, old_value, old_below, old_flag)),
                new=_reading((section, at, parameter, source, value, below, flag)),
                file=file, row=row, previous_file=old_file, previous_row=old_row,
                revision=revision, imported_at=imported_at,
            ))
        return found

    def imported_files(self, *, besides: Collection[str] = ()) -> list[ImportedFile]:
        """Each imported file (by name and content) with how many of its readings count now.

        A file imported several times with different content is listed once per content.
        ``besides``: file names (without folders) to leave out — counting a file's readings
        reads the whole table, so a caller looking for files no longer in a project passes
        the names that still are.
        """
        skip = set(besides)
        imports = [row for row in self._conn.execute(
            "SELECT id, file, sha256, correction, imported_at FROM readings_imports "
            "WHERE sha256 <> ? ORDER BY id", (_FORGOTTEN,))
            if os.path.basename(row[1]) not in skip]
        rows = []
        for import_id, *rest in imports:
            current = sum(n for (n,) in self._conn.execute(*self._with_packed(
                "SELECT COUNT(*) FROM readings WHERE import_id = ? AND superseded_by IS NULL",
                f"SELECT coalesce(SUM(count), 0) FROM {_PACKED} WHERE import_id = ?",
                (import_id,))))
            rows.append((*rest, current))
        found: dict[tuple[str, str, bool], ImportedFile] = {}
        for file, digest, correction, imported_at, current in rows:
            key = (file, digest.removeprefix(_REREAD), bool(correction))
            earlier = found.get(key)
            found[key] = ImportedFile(
                file=file, sha256=key[1], correction=key[2], imported_at=imported_at,
                current=current + (earlier.current if earlier else 0))
        return list(found.values())

    def outdated_readings(
        self, files: Sequence[tuple[Path, bool]]
    ) -> list[tuple[Path, int, str]]:
        """Readings an earlier content of each file held that its content now does not.

        ``files``: (path, whether a corrections file). Imports only add: a row removed from
        a file (or whose section, time or parameter changed) stays stored and counts. For
        each file whose name was imported with more than one content, and whose current
        content is imported: (path, how many, the name to ``forget``) when the readings that
        count from the name's imports outnumber the distinct readings of the current content
        (its import's ``rows - skipped``). Readings the current content restates from
        another file count for that file, so this may say too few, never too many.
        """
        imports: dict[tuple[str, bool], list[tuple[int, str, str, int]]] = {}
        for import_id, file, digest, correction, held in self._conn.execute(
                "SELECT id, file, sha256, correction, rows - skipped FROM readings_imports "
                "WHERE sha256 <> ? ORDER BY id", (_FORGOTTEN,)):
            imports.setdefault((os.path.basename(file), bool(correction)), []).append(
                (import_id, file, digest.removeprefix(_REREAD), held))
        edited = {}
        for path, correction in files:
            found = imports.get((Path(path).name, correction), [])
            if len({digest for _, _, digest, _ in found}) > 1:
                edited[Path(path)] = found
        if not edited:
            return []
        ids = [item[0] for found in edited.values() for item in found]
        marks = ", ".join("?" * len(ids))
        counts: dict[int, int] = {}
        for import_id, count in self._conn.execute(*self._with_packed(
                "SELECT import_id, count(*) FROM readings WHERE superseded_by IS NULL AND "
                f"import_id IN ({marks}) GROUP BY import_id",
                f"SELECT import_id, SUM(count) FROM {_PACKED} WHERE import_id IN ({marks}) "
                "GROUP BY import_id", ids)):
            counts[import_id] = counts.get(import_id, 0) + count
        result = []
        for path, found in edited.items():
            now = file_sha256(path)
            held = [item[3] for item in found if item[2] == now]
            if not held:
                continue  # its content now is not imported yet, or was under another name
            extra = sum(counts.get(item[0], 0) for item in found) - held[-1]
            if extra > 0:
                result.append((path, extra, found[-1][1]))
        return result

    def forget(self, file: str) -> int:
        """Remove every reading imported from ``file`` (its name as imported); return how many.

        For a readings file deleted from the project on purpose: its readings stop counting.
        A value it corrected is restored; a value that corrected it stays. Files imported
        after it that restated some of its samples are read again in full on their next
        import, so those samples come back from them. The forget leaves a row without
        readings in ``readings_imports`` (digest ``forgotten``): a new state of the readings,
        so the next settlement recomputes, and no later import takes a forgotten id. Raises
        StoreError when no import has that name (the message lists the names that have one).
        """
        conn = self._conn
        names = [r[0] for r in conn.execute(
            "SELECT DISTINCT file FROM readings_imports WHERE sha256 <> ?", (_FORGOTTEN,))]
        name = file if file in names else None
        if name is None:
            same = [n for n in names if os.path.basename(n) == os.path.basename(file)]
            if len(same) == 1:
                name = same[0]
            else:
                known = ", ".join(sorted(names)) or "none"
                which = " (several files have that name; give the path as listed)" if same \
                    else ""
                raise StoreError(f"no readings were imported from {file!r} into {self.path}"
                                 f"{which}; imported files: {known}")
        with self.transaction():
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM readings_imports WHERE file = ? AND sha256 <> ? ORDER BY id",
                (name, _FORGOTTEN))]
            conn.execute("DROP TABLE IF EXISTS temp.forget_months")
            marks = ", ".join("?" * len(ids))
            months, args = self._with_packed(
                "SELECT DISTINCT section, substr(sampled_at, 1, 7) AS month FROM readings "
                f"WHERE import_id IN ({marks})",
                f"SELECT DISTINCT section, month FROM {_PACKED} WHERE import_id IN ({marks})", ids)
            conn.execute(f"CREATE TEMP TABLE forget_months AS {months}", args)
            removed = 0
            if self._packs:
                # its packed readings go; the others of those months become rows, so the
                # sums below are recomputed from rows
                removed += conn.execute(
                    f"SELECT coalesce(SUM(count), 0) FROM {_PACKED} WHERE import_id IN "
                    f"({marks})", ids).fetchone()[0]
                conn.execute(f"DELETE FROM {_PACKED} WHERE import_id IN ({marks})", ids)
                self._explode("(SELECT section, month FROM temp.forget_months)")
            for import_id in ids:
                # the values its readings superseded point past them (or become current)
                conn.execute(
                    "UPDATE readings SET superseded_by = coalesce((SELECT n.superseded_by "
                    "FROM readings n WHERE n.id = readings.superseded_by), -1) "
                    "WHERE superseded_by IN (SELECT id FROM readings WHERE import_id = ?)",
                    (import_id,))
                removed += conn.execute(
                    "DELETE FROM readings WHERE import_id = ? AND superseded_by IS NULL",
                    (import_id,)).rowcount
                conn.execute("DELETE FROM readings WHERE import_id = ?", (import_id,))
                conn.execute("UPDATE readings SET superseded_by = NULL WHERE superseded_by = -1")
            # later files that found some of its samples already stored are read again
            conn.execute(
                f"UPDATE readings_imports SET sha256 = '{_REREAD}' || sha256 WHERE id > ? "
                f"AND unchanged > 0 AND sha256 != '' AND sha256 NOT LIKE '{_REREAD}%'",
                (ids[0],))
            conn.execute(f"DELETE FROM readings_imports WHERE id IN ({', '.join('?' * len(ids))})",
                         ids)
            # the forget itself is the readings' latest state (ecocomp.evidence.last_import):
            # without this row the next import would take the forgotten id, and a run after
            # it would look like the one recorded before the forget (same last import)
            # (its id above the forgotten ones too: SQLite would give the largest left + 1)
            self._record_forget(name, ids)
            conn.execute("DELETE FROM readings_monthly WHERE (section, month) IN "
                         "(SELECT section, month FROM temp.forget_months)")
            conn.execute(
                f"INSERT INTO readings_monthly {_MONTHLY_SELECT} AND (section, "
                "substr(sampled_at, 1, 7)) IN (SELECT section, month FROM temp.forget_months)"
                f"{_MONTHLY_GROUP}")
            conn.execute("DROP TABLE temp.forget_months")
        return removed

    def sections(self) -> list[str]:
        """Codes of the sections that have readings."""
        return sorted({r[0] for r in self._conn.execute(*self._with_packed(
            "SELECT DISTINCT section FROM readings WHERE superseded_by IS NULL",
            f"SELECT DISTINCT section FROM {_PACKED}"))})

    def periods(self) -> list[Period]:
        """The months that have readings, in order."""
        months = self._conn.execute(*self._with_packed(
            "SELECT DISTINCT substr(sampled_at, 1, 7) FROM readings WHERE superseded_by IS NULL",
            f"SELECT DISTINCT month FROM {_PACKED}")).fetchall()
        return [Period.parse(m) for m in sorted({m for (m,) in months})]


#: Adds new sums to a month's stored ones (the table's key is the month's group).
#: (Columns named with their table, and the smaller exponent by CASE: SQL that SQLite and
#: PostgreSQL read alike.)
_ADD_TO_MONTHLY = (
    "ON CONFLICT (section, month, parameter, source) DO UPDATE SET "
    "count = m.count + excluded.count, "
    "high = CASE WHEN m.high IS NULL THEN excluded.high "
    "ELSE m.high + coalesce(excluded.high, 0) END, "
    "low = CASE WHEN m.low IS NULL THEN excluded.low "
    "ELSE m.low + coalesce(excluded.low, 0) END, "
    "inexact = m.inexact + excluded.inexact, "
    "exponent = CASE WHEN m.exponent IS NULL THEN excluded.exponent "
    "WHEN excluded.exponent IS NULL OR m.exponent <= excluded.exponent THEN m.exponent "
    "ELSE excluded.exponent END, "
    "nondetects = m.nondetects + excluded.nondetects, "
    "suspect = m.suspect + excluded.suspect, invalid = m.invalid + excluded.invalid"
)
_UPSERT_MONTHLY = (
    "INSERT INTO readings_monthly AS m VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    + _ADD_TO_MONTHLY
)
#: Monthly sums held in memory before they are added to the table (bounded memory).
_MONTHLY_HELD = 20_000


class _MonthlySums:
    """The monthly sums of readings as they are written, exactly as ``_MONTHLY_SELECT``
    computes them in SQL (integer division truncating toward zero, NULL sums of nothing),
    added to ``readings_monthly`` with the same upsert as :meth:`ReadingStore._add_monthly`.

    A group is a list: count, high, low, inexact, exponent, nondetects, suspect, invalid
    (the columns of ``readings_monthly``). At most :data:`_MONTHLY_HELD` groups are held;
    then they are added to the table and memory freed, so memory does not grow with the
    number of sections.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.groups: dict[tuple[str, str, str, str], list[Any]] = {}

    def group(self, key: tuple[str, str, str, str]) -> list[Any]:
        """A new group for ``key`` (section, month, parameter, source)."""
        if len(self.groups) >= _MONTHLY_HELD:
            self.flush()
        g = self.groups[key] = [0, None, None, 0, None, 0, 0, 0]
        return g

    @staticmethod
    def add(g: list[Any], below: bool, flag: str, units: int | None, exponent: int,
            high: int, low: int) -> None:
        """Add one sample to its group (the general case; the import inlines the common)."""
        if flag == "invalid":
            g[7] += 1
            return
        if flag:
            g[6] += 1
        g[0] += 1
        if units is None:
            g[3] += 1
        elif g[1] is None:
            g[1], g[2] = high, low
        else:
            g[1] += high
            g[2] += low
        if g[4] is None or exponent < g[4]:
            g[4] = exponent
        if below:
            g[5] += 1

    def merge(self, row: tuple[Any, ...]) -> None:
        """Add a group's partial sums (key, then the columns of ``readings_monthly``)."""
        key = row[:4]
        g = self.groups.get(key)  # type: ignore[call-overload]
        if g is None:
            g = self.group(key)  # type: ignore[arg-type]
        count, high, low, inexact, exponent, nondetects, suspect, invalid = row[4:]
        g[0] += count
        if high is not None:
            if g[1] is None:
                g[1], g[2] = high, low
            else:
                g[1] += high
                g[2] += low
        g[3] += inexact
        if exponent is not None and (g[4] is None or exponent < g[4]):
            g[4] = exponent
        g[5] += nondetects
        g[6] += suspect
        g[7] += invalid

    def flush(self) -> None:
        """Add the held sums to the table."""
        if self.groups:
            self._conn.executemany(_UPSERT_MONTHLY, self.take())

    def take(self) -> list[tuple[Any, ...]]:
        """The held sums as rows of ``_UPSERT_MONTHLY``; holds none after."""
        rows = [(*key, *g) for key, g in self.groups.items()]
        self.groups.clear()
        return rows


class _HeldSums(_MonthlySums):
    """Monthly sums added up away from the database (in the read-ahead thread): what
    :meth:`flush` would write is kept in ``ready`` for the store's thread to write."""

    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.ready: list[tuple[Any, ...]] = []

    def flush(self) -> None:
        self.ready.extend(self.take())


def _warned(result: ImportResult, odd: _Implausible, name: str) -> ImportResult:
    """``result`` with the implausible values of the file it read, if any."""
    warnings = odd.warnings(name)
    return attrs.evolve(result, warnings=warnings) if warnings else result


def _summed(blocks: Iterator[Any], pack: bool = False) -> Iterator[Any]:
    """The blocks of :func:`columnar.batches` with their monthly sums added up across
    blocks: each block's ``monthly`` is replaced by the rows to write now (most often none),
    and a last block without readings brings the rest. With ``pack``, each block's
    ``parts`` are its readings packed by group (:func:`bulk_insert.pack`), each with its
    own sums, which SQLite adds up as it writes them (the blocks then bring no ``monthly``);
    a block holding a sample twice is declined (the general path reports it)."""
    from ecocomp.columnar import Batch, Declined

    sums = _HeldSums()
    for block in blocks:
        if pack and block.count:  # each part brings its sums (ReadingStore._put_parts)
            block.parts = bulk_insert.pack(block.columns, block.count, split=_SPLIT)
            if block.parts is None:
                raise Declined("a sample repeated within a block", bad=True)
        for group in block.monthly:
            sums.merge(group)
        block.monthly, sums.ready = sums.ready, []
        yield block
    sums.flush()
    yield Batch((), 0, sums.ready)


def _packs_in(conn: Any, schema: str = "main") -> bool:
    """Whether the readings database on ``conn`` (``schema``: an attached one) keeps
    packed readings (``readings_packed``: SQLite, schema version 5 or later)."""
    master = "sqlite_master" if schema == "main" else f"{schema}.sqlite_master"
    return conn.execute(f"SELECT 1 FROM {master} WHERE type = 'table' AND name = ?",
                        (_PACKED,)).fetchone() is not None


def _all_readings(packed: bool, rows: str = "readings", schema: str = "",
                  alias: str = _ALL) -> str:
    """The FROM text of every stored reading with ``readings``' columns and ``month``: the
    view ``readings_all`` where the database keeps packed readings (``packed``), else the
    rows, which ``rows`` may name another way (``INDEXED BY``); ``schema`` is an attached
    database's name and dot; ``alias`` names the rows' subquery (none: the caller does)."""
    if packed:
        return f"{schema}{_ALL}"
    named = f" AS {alias}" if alias else ""
    return f"(SELECT *, substr(sampled_at, 1, 7) AS month FROM {schema}{rows}){named}"


def _correction(item: tuple[Any, ...], file: str, imported_at: str) -> Correction:
    (_rowid, row, _field, section, at, parameter, source, value, below, flag,
     _old_id, old_value, old_below, old_flag, revision, old_row, old_file) = item
    return Correction(
        old=_reading((section, at, parameter, source, old_value, old_below, old_flag)),
        new=_reading((section, at, parameter, source, value, below, flag)),
        file=file, row=row, previous_file=old_file, previous_row=old_row,
        revision=revision + 1, imported_at=imported_at,
    )


def _checked_readings(readings: Iterable[Reading], name: str) -> Iterator[Any]:
    """Reading objects as parser rows, with the checks the parser would have made."""
    from ecocomp.readings import _SECTION_RE, _checked, _kind

    params = gb3838().parameters
    for index, r in enumerate(readings, start=1):
        problems = []
        if not isinstance(r.section, str) or not _SECTION_RE.fullmatch(r.section):
            problems.append(f"section {r.section!r} is not a section code")
        if r.parameter not in params:
            problems.append(f"parameter {r.parameter!r} is not a parameter code")
        if not isinstance(r.value, Decimal) or not r.value.is_finite():
            problems.append(f"value {r.value!r} is not a finite Decimal")
        elif (why := _checked(r.value, bool(r.below_dl), _kind(r.parameter), r.parameter,
                              str(r.value))) is not None:  # the rules of a file's values
            problems.append(why)
        elif len(r.value.as_tuple().digits) > 28:
            problems.append(f"value {r.value} has more than 28 significant digits; round it "
                            "to what was measured")
        if r.source not in SOURCES:
            problems.append(f"source {r.source!r} is not one of {', '.join(SOURCES)}")
        if r.flag not in FLAGS:
            problems.append(f"flag {r.flag!r} is not '', 'suspect' or 'invalid'")
        if not isinstance(r.sampled_at, datetime):
            problems.append(f"sampled_at {r.sampled_at!r} is not a datetime")
        if problems:
            for message in problems:
                yield Problem(f"{message}; fix reading #{index}", file=name, row=index)
            continue
        when = r.sampled_at
        if when.tzinfo is not None:
            when = when.astimezone(CST).replace(tzinfo=None)
        value = r.value
        if value.as_tuple().exponent > 0:  # type: ignore[operator]
            value = value.quantize(Decimal(1), context=CONTEXT)  # not the caller's context
        yield (index, "value", r.section, when, r.parameter, value, bool(r.below_dl),
               r.source, r.flag)


def _version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_VERSIONS,)
    ).fetchone()
    if not exists:
        return 0
    return int(conn.execute(f"SELECT max(version) FROM {_VERSIONS}").fetchone()[0] or 0)


def _migrate(
    conn: sqlite3.Connection,
    migrations: tuple[tuple[int, str, tuple[str, ...]], ...] = _MIGRATIONS,
) -> int:
    """Create or upgrade the readings tables; safe when two processes open the file at once."""
    target = migrations[-1][0]
    if _version(conn) == target:
        return target
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_VERSIONS} (version INTEGER PRIMARY KEY, "
            "description TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT"
        )
        current = _version(conn)
        if current > target:
            raise StoreError(
                f"readings schema version {current} is newer than this ecocomp supports "
                f"({target}); upgrade ecocomp to open this database"
            )
        for version, description, statements in migrations:
            if version <= current:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"INSERT INTO {_VERSIONS} VALUES (?, ?, ?)",
                         (version, description, _now()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target

