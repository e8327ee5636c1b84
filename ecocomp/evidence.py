"""Stored readings are evidence: the digest of what a settlement read, and its re-derivation.

A settlement of year Y reads, for every section of the project and every month of Y-1 and
Y, the stored **monthly sums** (``readings_monthly``, one row per section, month, parameter
and source) and the **daily flow means** (from the raw readings). :class:`InputsDigest`
hashes exactly those values as the run reads them (no extra query), and the run records

- the **inputs digest** as the ``inputs_digest`` of every transaction it posts, inside the
  hash-chained ledger, and
- a row in ``settlement_inputs`` (beside the ledger, not part of its chain): the year, the
  last readings import the run saw (``last_import``, the readings' state), the digest, and
  the digest of each section-month (to say *which* section and month differ).

Because the store only ever adds readings (a correction supersedes a row, which stays), the
readings as they were after import ``last_import`` can always be rebuilt from the raw rows,
so :func:`verify_readings` (``ecocomp ledger verify --with-readings``) re-derives every
recorded digest from the raw readings and compares, and checks that the stored monthly sums
equal sums recomputed from the raw readings. docs/ledger.md defines the digest byte for
byte.

:func:`require_unchanged` is settle's cheap guard: when nothing was imported since a
recorded run, the sums and flows read now must give that run's section-month digests; a
difference means the database was edited outside ecocomp, and the run is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

from ecocomp import database, postgres
from ecocomp.air.evidence import is_air_key, rederive_air
from ecocomp.assessment import MonthlyAggregate
from ecocomp.errors import SettlementError
from ecocomp.periods import Period
from ecocomp.store import (
    _ADD_TO_MONTHLY,
    _FORGOTTEN,
    _MIGRATIONS,
    _MONTHLY_GROUP,
    _MONTHLY_SELECT,
    _PACKED,
    _SPLIT,
    _VERSIONS,
    SCALE,
    ReadingStore,
    _all_readings,
    _exact,
    _migrate,
    _MonthlySums,
    _packs_in,
)

__all__ = [
    "SCHEME",
    "InputsDigest",
    "ReadingsReport",
    "RecordedInputs",
    "inputs_recorded_at",
    "last_import",
    "record_inputs",
    "recorded_inputs",
    "require_unchanged",
    "verify_readings",
    "year_digest",
]

#: The name of the digest definition (docs/ledger.md); stored with every record.
SCHEME = "inputs/1"
_TABLE = "settlement_inputs"
_DDL = f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
    id INTEGER PRIMARY KEY, year INTEGER NOT NULL, last_import INTEGER NOT NULL,
    digest TEXT NOT NULL, scheme TEXT NOT NULL, section_months TEXT NOT NULL,
    recorded_at TEXT NOT NULL)"""


def _plain(value: Decimal) -> str:
    return format(value, "f")


class InputsDigest:
    """Hashes the monthly sums and daily flow means a settlement reads, as it reads them.

    Feed it in the order the run reads: per year (Y-1, then Y), each section's
    :meth:`aggregates` (ordered by parameter, month, source, as the store yields them), then
    that year's :meth:`flows`.
    """

    def __init__(self) -> None:
        self._blocks: dict[tuple[str, str], Any] = {}

    def _block(self, section: str, month: str) -> Any:
        block = self._blocks.get((section, month))
        if block is None:
            block = self._blocks[(section, month)] = hashlib.sha256()
        return block

    def aggregates(self, items: Iterable[MonthlyAggregate]) -> Iterator[MonthlyAggregate]:
        """Pass ``items`` through, hashing each into its section-month.

        A section-month's lines are hashed together when ``items`` ends (or the pass
        stops): the same digest as one update a line, in a tenth of the calls.
        """
        pending: dict[tuple[str, Period], list[str]] = {}
        try:
            for a in items:
                lines = pending.get((a.section, a.month))
                if lines is None:
                    lines = pending[(a.section, a.month)] = []
                lines.append(f"{a.parameter}\t{a.source}\t{a.count}\t{_plain(a.total)}\t"
                             f"{a.nondetects}\t{a.suspect}\t{a.invalid}\n")
                yield a
        finally:
            for (section, month), lines in pending.items():
                self._block(section, str(month)).update("".join(lines).encode())

    def flows(self, means: Mapping[str, Mapping[date, Decimal]]) -> None:
        """Hash the daily flow means (per section, by day) into their section-months."""
        for section in sorted(means):
            days = means[section]
            for day in sorted(days):
                iso = day.isoformat()
                self._block(section, iso[:7]).update(
                    f"flow-day\t{iso}\t{_plain(days[day])}\n".encode())

    def add(self, section: str, month: str, line: str) -> None:
        """Hash one ``line`` into the block of ``section`` and ``month`` (other kinds of
        inputs, such as the air city days of :mod:`ecocomp.air.evidence`)."""
        self._block(section, month).update(line.encode())

    def section_months(self) -> dict[str, str]:
        """``{"section/YYYY-MM": hex digest}`` of every section-month read."""
        return {f"{s}/{m}": h.hexdigest() for (s, m), h in sorted(self._blocks.items())}

    def hexdigest(self) -> str:
        """The inputs digest: SHA-256 over ``section/month <TAB> digest <LF>`` lines, sorted."""
        return year_digest(self.section_months())


def year_digest(section_months: Mapping[str, str]) -> str:
    """The inputs digest of a run from its section-month digests (see docs/ledger.md)."""
    text = "".join(f"{key}\t{value}\n" for key, value in sorted(section_months.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def last_import(store: ReadingStore) -> int:
    """The id of the latest readings import: the state of the readings a run read."""
    row = store._conn.execute("SELECT max(id) FROM readings_imports").fetchone()
    return int(row[0] or 0)


@attrs.frozen
class RecordedInputs:
    """One settlement run's record: the readings state it read and their digests."""

    id: int
    year: int
    last_import: int
    digest: str
    scheme: str
    section_months: Mapping[str, str]
    recorded_at: str


def record_inputs(
    conn: sqlite3.Connection, year: int, last: int, evidence: InputsDigest
) -> str:
    """Record a run's inputs (inside the caller's transaction); returns the digest."""
    conn.execute(_DDL)
    digest = evidence.hexdigest()
    if conn.execute(f"SELECT 1 FROM {_TABLE} WHERE year = ? AND last_import = ? AND "
                    "digest = ?", (year, last, digest)).fetchone():
        return digest  # a run over the same readings state: recorded already
    conn.execute(
        f"INSERT INTO {_TABLE} (year, last_import, digest, scheme, section_months, "
        "recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
        (year, last, digest, SCHEME, json.dumps(evidence.section_months(), sort_keys=True),
         datetime.now(UTC).isoformat(timespec="seconds")),
    )
    return digest


def _has_records(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (_TABLE,)).fetchone() is not None


def inputs_recorded_at(conn: sqlite3.Connection, year: int, last: int) -> bool:
    """Whether a run recorded the inputs of ``year`` at readings state ``last`` (under the
    scheme ecocomp writes), without reading every record's section-month digests."""
    return _has_records(conn) and conn.execute(
        f"SELECT 1 FROM {_TABLE} WHERE year = ? AND last_import = ? AND scheme = ? LIMIT 1",
        (year, last, SCHEME)).fetchone() is not None


def recorded_inputs(conn: sqlite3.Connection) -> list[RecordedInputs]:
    """Every well-formed recorded run, oldest first (empty when none was recorded; ``ledger
    verify --with-readings`` names a record ecocomp cannot have written)."""
    return _checked_records(conn)[0]


_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)


def _checked_records(
    conn: sqlite3.Connection, where: str = "", args: tuple[Any, ...] = ()
) -> tuple[list[RecordedInputs], list[str]]:
    """The well-formed recorded runs (``where`` them), and one problem for each record
    ecocomp cannot have written (the table is not ``STRICT``: any type fits)."""
    if not _has_records(conn):
        return [], []
    runs: list[RecordedInputs] = []
    problems: list[str] = []
    for number, year, last, digest, scheme, months, at in conn.execute(
            f"SELECT id, year, last_import, digest, scheme, section_months, recorded_at "
            f"FROM {_TABLE} {where} ORDER BY id", args):
        parsed: Any = None
        if type(months) is str:
            try:
                parsed = json.loads(months)
            except ValueError:
                parsed = None
        wrong = [name for name, ok in (
            ("year", type(year) is int and 1 < year < 9999),
            ("last_import", type(last) is int and last >= 0),
            ("digest", type(digest) is str and _HEX64.fullmatch(digest) is not None),
            ("scheme", type(scheme) is str),
            ("section_months", type(parsed) is dict and all(
                type(k) is str and type(v) is str and _HEX64.fullmatch(v) is not None
                for k, v in parsed.items())),
            ("recorded_at", type(at) is str),
        ) if not ok]
        if wrong:
            problems.append(
                f"settlement_inputs #{number}: {', '.join(wrong)} not as ecocomp writes "
                f"{'them' if len(wrong) > 1 else 'it'} (a year, an import number, a "
                "SHA-256 digest, a JSON object of section-month digests); the record was "
                "changed — restore the database from a backup")
            continue
        runs.append(RecordedInputs(id=number, year=year, last_import=last, digest=digest,
                                   scheme=scheme, section_months=parsed, recorded_at=at))
    return runs, problems


def require_unchanged(
    conn: sqlite3.Connection, last: int, evidence: InputsDigest, *, db: str
) -> None:
    """Refuse a run whose readings differ from a recorded run's although no import happened
    since: the sums or readings were edited outside ecocomp (names section and month)."""
    same_state, _ = _checked_records(conn, "WHERE last_import = ? AND scheme = ?",
                                     (last, SCHEME))
    if not same_state:
        return
    now = evidence.section_months()
    then = same_state[-1]
    differ = sorted(k for k, v in then.section_months.items() if k in now and now[k] != v)
    if differ:
        shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5
                                         else "")
        raise SettlementError(
            f"{db}: the stored readings of {shown} (section/month) differ from what the "
            f"settlement of {then.year} read on {then.recorded_at}, and nothing was imported "
            "since: the monthly sums or readings were changed outside ecocomp, so nothing "
            f"was settled; run `ecocomp ledger verify --db {db} --with-readings` and restore "
            "the file from a backup"
        )


# --------------------------------------------------------------------------- re-derivation


@attrs.frozen
class ReadingsReport:
    """What :func:`verify_readings` found: ``ok`` and one line per problem."""

    problems: tuple[str, ...]
    sums: int
    runs: int
    covered: int
    uncovered: int
    #: Recorded runs that read no measurements (only formulas with ``inputs = "none"``,
    #: such as 南山's ``area_rate``): their digest is the SHA-256 of empty text.
    no_measurements: int = 0
    #: Recorded runs that read readings forgotten since (``ecocomp readings forget``), so
    #: they can no longer be re-derived in full: one line each, naming the forget and the
    #: section-months that differ. Not problems: the forget is an ecocomp operation, and
    #: the settlement after it is re-derived; shown so a reader sees what changed.
    notes: tuple[str, ...] = ()
    #: Checks this backend cannot run (on PostgreSQL: the readings schema against
    #: ecocomp's and SQLite's integrity_check), one line each, so nobody takes them as done.
    unchecked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


_READINGS_TABLES = ("readings", "readings_imports", "readings_monthly", _PACKED, _VERSIONS)
_MENTIONS = re.compile(r"\b(?:" + "|".join(_READINGS_TABLES) + r")\b")


@functools.lru_cache(maxsize=8)
def _expected_readings_schema(version: int) -> dict[str, tuple[str, str, str | None]]:
    """``name: (type, tbl_name, sql)`` of every object a readings store of ``version`` has."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        _migrate(conn, _MIGRATIONS[:version])
        return {name: (kind, table, sql) for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master")}
    finally:
        conn.close()


def _schema_problems(conn: sqlite3.Connection) -> list[str]:
    """The readings tables, indexes and triggers against the ones ecocomp creates for the
    file's readings version: a table rebuilt without its key or ``STRICT`` (so a monthly sum
    can be stored twice and still "match" its readings), a view in place of a table, an
    extra trigger or index. Also the version rows against the published migrations."""
    versions = [tuple(r) for r in conn.execute(
        f"SELECT version, description FROM {_VERSIONS} ORDER BY version")]
    version = max((v for v, _ in versions if type(v) is int), default=0)
    version = min(version, _MIGRATIONS[-1][0])
    expected = _expected_readings_schema(max(version, 1))
    found = {name: (kind, table, sql) for kind, name, table, sql in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master")
        if name in expected or table in _READINGS_TABLES
        or (kind in ("trigger", "view") and _MENTIONS.search(sql or ""))}
    problems = []
    published = [(v, d) for v, d, _ in _MIGRATIONS[:version]]
    if versions != published:
        problems.append(f"{_VERSIONS} holds {versions}, not the published migrations "
                        f"{published}")
    for name, (kind, _table, sql) in sorted(expected.items()):
        if name not in found:
            problems.append(f"{kind} {name} is missing (dropped?)")
        elif found[name] != (kind, _table, sql):
            problems.append(f"{kind} {name} is not as ecocomp creates it (found "
                            f"{found[name][0]} {found[name][2]!r})")
    for name, (kind, table, _sql) in sorted(found.items()):
        if name not in expected:
            problems.append(f"unexpected {kind} {name} on {table}; ecocomp creates no such "
                            "object")
    return [f"schema of the readings: {p}; the file was changed outside ecocomp — restore it "
            "from a backup" for p in problems]


def _file_problems(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA integrity_check`` of every table beside the ledger (whose own ``ledger
    verify`` checks): the readings, their sums and imports, the run records, air data.

    The re-derivation reads through the tables' indexes (the daily flow means through
    ``readings_flow``), and an index rebuilt with fewer rows, with ``sqlite_master`` then
    set back to the original text, looks right: only comparing it with its table shows it.
    """
    problems = []
    for (table,) in conn.execute(
        r"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
        r"'ledger\_%' ESCAPE '\' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name"
    ).fetchall():
        quoted = '"' + table.replace('"', '""') + '"'
        lines = [str(r[0]) for r in conn.execute(f"PRAGMA integrity_check({quoted})")]
        if lines != ["ok"]:
            problems.append(
                f"{table}: SQLite's integrity_check finds {'; '.join(lines[:3])}"
                f"{f' and {len(lines) - 3} more' if len(lines) > 3 else ''}; the file was "
                "changed outside ecocomp (an index that no longer matches its table gives "
                "other readings to whatever reads through it) — restore it from a backup")
    return problems


@attrs.define
class _Packed:
    """What one pass over ``readings_packed`` found (:func:`_scan_packed`): its problems,
    and what the checks of every reading need of the packed ones (the rows' come from SQL)."""

    problems: list[str] = attrs.field(factory=list)
    #: (value, below_dl, eff_units, eff_exp) → [how many, where the first is]
    combos: dict[tuple[Any, ...], list[Any]] = attrs.field(factory=dict)
    #: sampled_at → where its first reading is
    times: dict[str, tuple[Any, ...]] = attrs.field(factory=dict)


_WHERE = "the database was changed outside ecocomp — restore it from a backup"
_PACKED_FLAGS = ("", "suspect", "invalid")


def _group_name(section: str, month: str, parameter: str, source: str, first: str,
                import_id: int) -> str:
    return (f"readings_packed: the group {section} {month} {parameter} ({source}) from "
            f"{first} of import #{import_id}")


def _scan_packed(conn: sqlite3.Connection, sums_into: str) -> _Packed:
    """Read every packed reading once (Python's ``json``: one parse a row, not one
    ``json_extract`` a value) and check what ecocomp writes: a JSON array of its count of
    readings, seven values each of their types, in time order within its group's month and
    first-to-last range. Adds each group's sums, as ``_MONTHLY_SELECT`` adds them, to the
    table ``sums_into`` (its key unique), and collects the value forms and times for
    :func:`_values_problems` and :func:`_times_problems`. Then, in SQL without unpacking:
    no two parts of a group overlap in time, and no group is current both as rows and
    packed (what the rows' unique index keeps for rows). Memory holds one group at a time,
    the distinct times and the distinct value forms."""
    found = _Packed()
    problems = found.problems
    insert = (f"INSERT INTO {sums_into} AS m VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              f"{_ADD_TO_MONTHLY}")
    batch: list[tuple[Any, ...]] = []
    key: tuple[str, str, str, str] | None = None
    g: list[Any] = []
    for section, month, parameter, source, first, last, import_id, count, data in \
            conn.execute(
                "SELECT section, month, parameter, source, first_at, last_at, import_id, "
                f"count, data FROM {_PACKED} ORDER BY section, month, parameter, source, "
                "first_at"):
        name = _group_name(section, month, parameter, source, first, import_id)
        try:
            items = json.loads(data) if type(data) is str else None
        except ValueError:
            items = None
        if type(items) is not list or type(count) is not int or len(items) != count \
                or count < 1:
            problems.append(f"{name} is not a JSON array of its count of readings; {_WHERE}")
            continue
        if (section, month, parameter, source) != key:
            if key is not None:
                batch.append((*key, *g))
                if len(batch) >= 5000:
                    conn.executemany(insert, batch)
                    batch.clear()
            key = (section, month, parameter, source)
            g = [0, None, None, 0, None, 0, 0, 0]
        before = ""
        odd = order = False
        prefix = f"{month}-"
        for item in items:
            if not (type(item) is list and len(item) == 7):
                odd = True
                continue
            at, value, below, flag, units, exponent, row = item
            if not (type(at) is str and type(value) is str and type(below) is int
                    and below in (0, 1) and flag in _PACKED_FLAGS and type(flag) is str
                    and (units is None or type(units) is int) and type(exponent) is int
                    and (row is None or type(row) is int)):
                odd = True
                continue
            full = prefix + at
            if not first <= full <= last:
                odd = True
            if full <= before:
                order = True
            before = full
            where = (import_id, row, section, full, parameter)
            found.times.setdefault(full, where)
            combo = found.combos.get((value, below, units, exponent))
            if combo is None:
                found.combos[(value, below, units, exponent)] = [1, where]
            else:
                combo[0] += 1
            # the sums, as the row parser's direct import adds them (as _MONTHLY_SELECT)
            high, low = divmod(abs(units or 0), _SPLIT)
            if units is not None and units < 0:
                high, low = -high, -low
            _MonthlySums.add(g, below == 1, flag, units, exponent, high, low)
        if odd:
            problems.append(
                f"{name} holds a reading that is not one ecocomp writes (seven values: time, "
                "value, non-detect, flag, units, exponent, row; in its month and time range); "
                f"{_WHERE}")
        if order or not first.startswith(prefix) or (items and type(items[0]) is list and (
                prefix + str(items[0][0]) != first or prefix + str(items[-1][0]) != last)):
            problems.append(f"{name}: its readings are not in time order, or its first and "
                            f"last times are not its range; {_WHERE}")
    if key is not None:
        batch.append((*key, *g))
    conn.executemany(insert, batch)
    problems += [
        f"{_group_name(*r[:6])} overlaps in time its group's part from {r[6]}; {_WHERE}"
        for r in conn.execute(
            "SELECT section, month, parameter, source, first_at, import_id, before FROM "
            "(SELECT *, lag(first_at) OVER w AS before, lag(last_at) OVER w AS ended FROM "
            f"{_PACKED} WINDOW w AS (PARTITION BY section, month, parameter, source "
            "ORDER BY first_at)) WHERE first_at <= ended LIMIT 5")]
    problems += [
        f"{_group_name(*r)} is also stored as rows among the current readings (a group is "
        f"one or the other); {_WHERE}"
        for r in conn.execute(
            "SELECT p.section, p.month, p.parameter, p.source, p.first_at, p.import_id FROM "
            f"{_PACKED} AS p WHERE EXISTS (SELECT 1 FROM readings AS r WHERE r.section = "
            "p.section AND r.sampled_at >= p.month || '-' AND r.sampled_at < p.month || '.' "
            "AND r.parameter = p.parameter AND r.source = p.source "
            "AND r.superseded_by IS NULL) LIMIT 5")]
    return found


#: What ``verify_readings`` checks on an SQLite file only (docs/postgres.md).
_PG_UNCHECKED = (
    "the schema of the readings tables (keys, indexes, triggers) is not checked on "
    "PostgreSQL: ecocomp compares it with its own on SQLite only",
    "the readings tables' storage (SQLite's integrity_check) is not checked on PostgreSQL: "
    "run the server's pg_amcheck for it",
)


def _sums_problems(conn: sqlite3.Connection) -> tuple[int, list[str], _Packed | None]:
    """Stored monthly sums against sums recomputed from the current raw readings: the
    rows' in SQL, the packed ones' by :func:`_scan_packed` (returned: what it found)."""
    conn.execute("DROP TABLE IF EXISTS temp.recomputed")
    conn.execute("CREATE TEMP TABLE recomputed AS SELECT * FROM readings_monthly WHERE 1 = 0")
    conn.execute(f"INSERT INTO temp.recomputed {_MONTHLY_SELECT}{_MONTHLY_GROUP}")
    packed = None
    if _packs_in(conn):
        conn.execute("CREATE UNIQUE INDEX temp.recomputed_key ON recomputed "
                     "(section, month, parameter, source)")
        packed = _scan_packed(conn, "temp.recomputed")
    try:
        cols = ("section, month, parameter, source, count, high, low, inexact, exponent, "
                "nondetects, suspect, invalid")
        stored = conn.execute("SELECT count(*) FROM readings_monthly").fetchone()[0]
        # both differences, each in its own subquery: EXCEPT and UNION ALL have the same
        # precedence, so "M EXCEPT R UNION ALL R EXCEPT M" would be ((M − R) ∪ R) − M = R − M
        # and miss a stored sum that no reading gives (a row added to readings_monthly)
        bad = conn.execute(
            f"SELECT section, month FROM (SELECT * FROM (SELECT {cols} FROM "
            f"readings_monthly EXCEPT SELECT {cols} FROM temp.recomputed) AS extra UNION ALL "
            f"SELECT * FROM (SELECT {cols} FROM temp.recomputed EXCEPT SELECT {cols} FROM "
            "readings_monthly) AS missing) AS bad GROUP BY section, month "
            "ORDER BY section, month"
        ).fetchall()
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.recomputed")
    return int(stored), [
        f"readings_monthly: the stored sums of {s} {m} differ from the sums of its stored "
        "readings; the database was changed outside ecocomp — restore it from a backup"
        for s, m in bad
    ], packed


_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _values_problems(conn: sqlite3.Connection, packed: _Packed | None = None) -> list[str]:
    """Stored readings whose ``value`` text does not give their ``eff_units``/``eff_exp``.

    The sums (and so the digests) add ``eff_units``, while ``readings()``, exports and the
    corrections report show ``value``: a reading edited in one and not the other showed a
    value no sum was made of. One pass over the distinct combinations, which repeat a lot
    (the rows' in SQL; the packed ones' from ``packed``).
    """
    combos: dict[tuple[Any, ...], list[Any]] = {}
    for value, below, units, exponent, first, count in conn.execute(
        "SELECT value, below_dl, eff_units, eff_exp, min(id), count(*) FROM readings "
        "GROUP BY value, below_dl, eff_units, eff_exp ORDER BY min(id)"
    ):
        combos[(value, below, units, exponent)] = [count, first]
    for combo, (count, where) in (packed.combos if packed else {}).items():
        known = combos.get(combo)
        if known is None:
            combos[combo] = [count, where]
        else:
            known[0] += count
    problems = []
    for (value, below, units, exponent), (count, first) in combos.items():
        if (type(value) is str and _PLAIN_DECIMAL.fullmatch(value) and below in (0, 1)
                and _exact(value, bool(below)) == (units, exponent)):
            continue
        if type(first) is tuple:  # a packed reading
            import_id, row, section, at, parameter = first
            which = _packed_name(import_id, row)
        else:
            section, at, parameter = conn.execute(
                "SELECT section, sampled_at, parameter FROM readings WHERE id = ?", (first,)
            ).fetchone()
            which = f"readings #{first}"
        more = f" (and {count - 1} more reading(s) like it)" if count > 1 else ""
        problems.append(
            f"{which} ({section} {str(at)[:10]} {parameter}){more}: value "
            f"{value!r} is stored with the effective value {units!r}×10^-{SCALE} (exponent "
            f"{exponent!r}), which it does not give; the sums add the one, reports show the "
            "other — the database was changed outside ecocomp, restore it from a backup")
    return problems


_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?",
                    re.ASCII)


def _real_time(text: object) -> bool:
    if type(text) is not str or _STAMP.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _times_problems(conn: Any, packed: _Packed | None = None) -> list[str]:
    """Stored readings whose ``sampled_at`` is not a real time as the store writes it
    (``YYYY-MM-DDTHH:MM:SS``, optionally ``.ffffff``): the months and days the sums and
    digests group by are cut from it. One pass over the distinct times (SQLite or
    PostgreSQL alike; the packed readings' from ``packed``)."""
    bad = [at for (at,) in conn.execute("SELECT DISTINCT sampled_at FROM readings")
           if not _real_time(at)]
    rows = []
    for at in sorted(bad, key=str)[:6]:
        rows += conn.execute("SELECT id, section, sampled_at, parameter FROM readings WHERE "
                             "sampled_at = ? ORDER BY id LIMIT 6", (at,)).fetchall()
    rows.sort(key=lambda r: r[0])
    named = [(f"readings #{number}", section, at, parameter)
             for number, section, at, parameter in rows]
    if packed is not None:
        odd = sorted((where for at, where in packed.times.items() if not _real_time(at)),
                     key=lambda w: (w[0], w[1] or 0))
        named += [(_packed_name(import_id, row), section, at, parameter)
                  for import_id, row, section, at, parameter in odd[:6]]
    return [
        f"{which} ({section} {parameter}): sampled_at {str(at)!r} is not a real "
        "time as ecocomp stores it (YYYY-MM-DDTHH:MM:SS); the database was changed outside "
        "ecocomp — restore it from a backup" for which, section, at, parameter in named[:5]
    ] + (["… and more readings like these"] if len(named) > 5 else [])


def _packed_name(import_id: int, row: int | None) -> str:
    return f"the packed reading of import #{import_id} row {row}"


_AS_OF_COLUMNS = ("section, sampled_at, parameter, source, value, below_dl, flag, "
                  "eff_units, eff_exp, revision, import_id, row")


def _as_of(every: str, rows: str, marks: str) -> str:
    """The readings of ``every`` (:func:`ecocomp.store._all_readings`, whose rows are
    ``rows``) as they were right after an import (two ``?``), in two years (four ``?``: the
    times, then the months), of some sections (``marks``). A packed reading supersedes
    none, so the rows are where a reading's successor is."""
    return (f"SELECT {_AS_OF_COLUMNS} FROM {every} AS r WHERE r.import_id <= ? AND NOT "
            f"EXISTS (SELECT 1 FROM {rows} AS n WHERE n.id = r.superseded_by AND "
            "n.import_id <= ?) AND r.sampled_at >= ? AND r.sampled_at < ? "
            f"AND r.month >= ? AND r.month < ? AND r.section IN ({marks})")


def _rebuilt(path: str, folder: Path, last: int, year: int,
             sections: Sequence[str]) -> ReadingStore:
    """A throw-away store holding ``sections``' readings of ``year - 1`` and ``year`` as
    they were right after import ``last``, with freshly computed monthly sums (the
    database ``path`` is an SQLite file or a ``postgresql://`` URL)."""
    store = ReadingStore.open(folder / f"asof-{last}-{year}.db")
    conn = store._conn  # the store's own connection: SQL-only copy, as its imports do
    conn.execute("PRAGMA synchronous = OFF")  # a throw-away file
    marks = ", ".join("?" for _ in sections) or "NULL"
    args = (last, last, f"{year - 1}-01-01", f"{year + 1}-01-01", f"{year - 1}-01",
            f"{year + 1}-01", *sections)
    conn.execute("BEGIN")
    if postgres.is_url(path):
        source = postgres.connect(path)
        try:
            rows = source.execute(_as_of(_all_readings(False, alias=""), "readings", marks),
                                  args)
            conn.executemany(f"INSERT INTO readings ({_AS_OF_COLUMNS}) VALUES "
                             f"({', '.join('?' * 12)})", rows)
        finally:
            source.close()
    else:
        conn.execute("ATTACH DATABASE ? AS src",
                     (f"file:{quote(os.path.abspath(path))}?mode=ro",))
        every = _all_readings(_packs_in(conn, "src"), schema="src.", alias="")
        conn.execute(f"INSERT INTO readings ({_AS_OF_COLUMNS}) "
                     f"{_as_of(every, 'src.readings', marks)}", args)
    conn.execute(f"INSERT INTO readings_monthly {_MONTHLY_SELECT}{_MONTHLY_GROUP}")
    conn.execute("COMMIT")
    if not postgres.is_url(path):
        conn.execute("DETACH DATABASE src")
    return store


def digest_of(store: ReadingStore, year: int, sections: Sequence[str]) -> InputsDigest:
    """What a settlement of ``year`` over ``sections`` reads from ``store``, hashed
    (the same reads, in the same order, as :func:`ecocomp.settlement.assess_project`)."""
    evidence = InputsDigest()
    for y in (year - 1, year):
        for section in sections:
            for _ in evidence.aggregates(store.aggregates(Period(y), sections=[section])):
                pass
        evidence.flows(store.daily_means("flow", Period(y), sections=list(sections)))
    return evidence


def _basis_digest(meta: Mapping[str, Any]) -> str:
    """What ``inputs_digest`` held before digests were recorded: SHA-256 of the canonical
    JSON of the transaction's basis (as ``ecocomp.settlement.digest`` computes it)."""
    text = json.dumps(meta, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _forgets(imports: Sequence[tuple[int, str, str, str]]
             ) -> tuple[list[tuple[int, str, str]], list[str]]:
    """The rows ``readings forget`` left in ``readings_imports`` (id, file, when), and a
    problem for each one it cannot have written: a forget removes every import of its file,
    so an import of that file numbered below it means the row was added by hand."""
    forgets: list[tuple[int, str, str]] = []
    forged: list[str] = []
    first: dict[str, int] = {}  # each file's first import still there
    for number, file, digest, _at in imports:
        if digest != _FORGOTTEN:
            first.setdefault(file, number)
    for number, file, digest, at in imports:
        if digest != _FORGOTTEN:
            continue
        if first.get(file, number) < number:
            forged.append(
                f"readings_imports #{number}: a forget of {file}, whose import #{first[file]} is "
                "still there; `ecocomp readings forget` removes every import of the file, so "
                "the row was not written by it — restore the database from a backup")
        else:
            forgets.append((number, file, at))
    return forgets, forged


def _forgotten_before(last: int, imports: Sequence[tuple[int, str, str, str]],
                      read_ids: Callable[[], frozenset[int]]) -> bool:
    """Whether a forget removed an import numbered up to ``last`` (one a run after import
    ``last`` could have read): such an id is gone from ``readings_imports`` and no reading
    names it any more (a forget deletes the import's readings with it)."""
    kept = {i[0] for i in imports}
    gone = [n for n in range(1, last + 1) if n not in kept]
    return bool(gone) and not set(gone) <= read_ids()


def _import_ids(name: str) -> frozenset[int]:
    conn = database.open_reading(name)
    try:
        packed = f" UNION SELECT import_id FROM {_PACKED}" if _packs_in(conn) else ""
        return frozenset(int(r[0]) for r in conn.execute(
            f"SELECT DISTINCT import_id FROM readings{packed}"))
    finally:
        conn.close()


def verify_readings(path: str | Path) -> ReadingsReport:
    """Re-derive the readings evidence of the database ``path`` (read-only) and compare.

    1. The stored monthly sums equal sums recomputed from the stored raw readings.
    2. Every recorded run's digest is re-derived from the raw readings as they were after
       its ``last_import``; a difference names the section-months.
    3. Every accrual, clearing and adjustment's ``inputs_digest`` is a recorded run's digest
       of its year (transactions posted before digests were recorded are counted as
       ``uncovered``: their ``inputs_digest`` is the digest of their own basis).

    Run it after ``Ledger.verify()``: it trusts the ledger's transactions.
    """
    from ecocomp.ledger import Ledger

    name = str(path)
    problems: list[str] = []
    if ReadingStore.version_in(name) == 0:
        return ReadingsReport(problems=(
            f"{name}: holds no readings, so there is nothing to re-derive; use the database "
            "`ecocomp settle` wrote (its readings and ledger are in one file)",),
            sums=0, runs=0, covered=0, uncovered=0)
    unchecked: tuple[str, ...] = ()
    conn = database.open_reading(name)
    try:
        if not postgres.is_url(name):
            problems += _schema_problems(conn)
            problems += _file_problems(conn)
        else:
            unchecked = _PG_UNCHECKED
        sums, found, packed = _sums_problems(conn)
        if packed is not None:
            problems += packed.problems
        problems += found
        problems += _values_problems(conn, packed)
        times = _times_problems(conn, packed)
        problems += times
        runs, malformed = _checked_records(conn)
        problems += malformed
        current = int(conn.execute("SELECT max(id) FROM readings_imports").fetchone()[0] or 0)
        imports = [(int(r[0]), r[1], r[2], r[3]) for r in conn.execute(
            "SELECT id, file, sha256, imported_at FROM readings_imports ORDER BY id")]
    finally:
        conn.close()
    forgets, forged = _forgets(imports)
    problems += forged
    for run in runs:
        if year_digest(run.section_months) != run.digest:
            problems.append(f"settlement_inputs #{run.id} ({run.year}): its section-month "
                            "digests do not give its digest; the record was changed")
    notes: list[str] = []

    @functools.cache
    def read_ids() -> frozenset[int]:
        """The import ids readings still name (read once, if a forget is to excuse)."""
        return _import_ids(name)

    checked: dict[tuple[int, int, str], list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="ecocomp-verify-") as tmp:
        # a reading at no real time has no month: what it changes cannot be re-derived
        for run in runs if not times else ():
            key = (run.year, run.last_import, run.digest)
            if run.scheme != SCHEME:  # ecocomp writes no other: its digest is unchecked
                problems.append(
                    f"settlement_inputs #{run.id} ({run.year}): scheme {run.scheme!r} is not "
                    f"{SCHEME!r}, the only one ecocomp writes, so its digest cannot be "
                    "re-derived; the record was changed — restore the database from a backup")
                continue
            if key in checked:
                continue
            sections = sorted({k.split("/", 1)[0] for k in run.section_months
                               if not is_air_key(k)})
            now = {}
            if sections:
                if run.last_import == current and not found:
                    # nothing imported since: the stored sums (just checked against the raw
                    # readings) are the state the run read
                    store = (ReadingStore.open(name) if postgres.is_url(name)
                             else ReadingStore(database.open_read_only(name), name))
                else:
                    store = _rebuilt(name, Path(tmp), run.last_import, run.year, sections)
                with store:
                    now = digest_of(store, run.year, sections).section_months()
            air = [k for k in run.section_months if is_air_key(k)]
            if air:  # the air city days it read (ecocomp.air.evidence)
                conn = database.open_read_only(name)
                try:
                    derived, air_problems = rederive_air(conn, run.year, air)
                finally:
                    conn.close()
                now.update(derived)
                problems += air_problems
            differ = sorted(k for k in {*now, *run.section_months}
                            if now.get(k) != run.section_months.get(k))
            checked[key] = differ
            since = [f for f in forgets if f[0] > run.last_import]
            if differ and since and not _forgotten_before(run.last_import, imports, read_ids):
                since = []  # no forget explains it
            if differ and since:
                shown = ", ".join(differ[:5]) + (
                    f" and {len(differ) - 5} more" if len(differ) > 5 else "")
                what = "; ".join(f"{file} on {at[:10]} (#{number})"
                                 for number, file, at in since)
                notes.append(
                    f"settlement of {run.year} recorded {run.recorded_at} (after import "
                    f"#{run.last_import}) read readings forgotten since — {what} — so it "
                    f"can no longer be re-derived at {shown} (section/month); a settlement "
                    "after the forget is checked in full (settle again if none was made)")
            elif differ:
                shown = ", ".join(differ[:5]) + (
                    f" and {len(differ) - 5} more" if len(differ) > 5 else "")
                problems.append(
                    f"settlement of {run.year} recorded {run.recorded_at} (after import "
                    f"#{run.last_import}): the stored readings no longer give what it read, "
                    f"at {shown} (section/month); the readings were changed outside ecocomp "
                    "— restore the database from a backup")
    digests = {(r.year, r.digest) for r in runs}
    covered = uncovered = 0
    with Ledger.open(name, create=False) as ledger:
        for tx in ledger.transactions():
            if tx.kind == "payment" or not tx.period or tx.inputs_digest is None:
                continue
            year = Period.parse(tx.period).year
            if (year, tx.inputs_digest) in digests:
                covered += 1
            elif tx.inputs_digest == _basis_digest(tx.meta):
                uncovered += 1
            else:
                problems.append(
                    f"transaction #{tx.seq} ({tx.key}): no recorded settlement of {year} has "
                    f"its inputs digest {tx.inputs_digest[:12]}…; the settlement_inputs "
                    "records were changed or deleted — restore the database from a backup")
    return ReadingsReport(problems=tuple(problems), sums=sums, runs=len(runs),
                          covered=covered, uncovered=uncovered,
                          no_measurements=sum(1 for r in runs if not r.section_months),
                          notes=tuple(notes), unchecked=unchecked)
