"""The air readings store: the ``air_*`` tables of a project database (SQLite).

Values are kept as the exact decimal text (μg/m³; CO mg/m³) with their station or city, the
hour's start or the day, and the file they came from. Imports are all or nothing: every file
of one call is checked (parse problems, and contradictions with values already stored) and
written in one transaction, or nothing is written. A file whose exact bytes were imported
before is skipped. Corrections of stored air values are not supported yet: a different
value for a stored (site, time, parameter) is a problem naming both files.

The city days an assessment reads (:meth:`AirStore.city_values`) are built in this order,
each filling only what the one before left empty [I]: pre-aggregated city-day values;
the mean of the city's evaluation stations' daily values (refused, AssessmentError, when
other evaluation stations of the city give only hourly values for that day and parameter:
they would be left out); the city's hourly means (the mean
of its evaluation stations each hour), turned into daily values under the HJ 663 counts
(24 h mean from ≥ 20 hours; O3 daily max 8 h from ≥ 14 valid 8 h means, each from ≥ 6 hours;
O3 daily max hour from ≥ 20 hours [I]).
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from ecocomp import database
from ecocomp.air.readings import AirReading, read_air_rows
from ecocomp.air.standards import hj663
from ecocomp.air.stations import Station, StationCatalog
from ecocomp.air.statistics import exact_decimal
from ecocomp.errors import AssessmentError, EcocompError, Problem, ValidationFailed
from ecocomp.money import in_money_context
from ecocomp.store import file_sha256

__all__ = ["SCHEMA_VERSION", "AirImportResult", "AirStore", "AirStoreError"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS air_schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS air_stations (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, level TEXT NOT NULL,
    evaluation INTEGER NOT NULL, start TEXT, "end" TEXT);
CREATE TABLE IF NOT EXISTS air_imports (
    id INTEGER PRIMARY KEY, file TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,
    imported_at TEXT NOT NULL, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS air_readings (
    scope TEXT NOT NULL CHECK (scope = 'station' OR scope = 'city'),
    site TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind = 'hour' OR kind = 'day'),
    parameter TEXT NOT NULL,
    value TEXT NOT NULL,
    flag TEXT NOT NULL CHECK (flag = '' OR flag = 'suspect' OR flag = 'invalid'),
    import_id INTEGER NOT NULL REFERENCES air_imports(id),
    PRIMARY KEY (scope, site, at, parameter)) WITHOUT ROWID;
"""
_BASES_24H = ("pm25", "pm10", "so2", "no2", "co")


class AirStoreError(EcocompError):
    """The air store cannot be opened or used (a newer schema, not a database...)."""


@attrs.frozen
class AirImportResult:
    """One file's import: how many values it had, how many were new, whether it was skipped."""

    file: str
    rows: int
    inserted: int
    unchanged: int
    skipped: bool = False


def _at(reading: AirReading) -> str:
    """The stored time: ``YYYY-MM-DDTHH:00`` for an hour, ``YYYY-MM-DD`` for a day."""
    return (reading.at.isoformat(timespec="minutes") if reading.kind == "hour"
            else reading.at.date().isoformat())


class AirStore:
    """The ``air_*`` tables of one SQLite file (the project database, or ``:memory:``)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._borrowed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout_ms: int = 30_000) -> AirStore:
        """Open (creating) the air tables in ``path``."""
        name = os.fspath(path)
        try:
            conn = (sqlite3.connect(name, isolation_level=None) if name == ":memory:"
                    else database.connect(name, busy_timeout_ms=busy_timeout_ms,
                                          synchronous="NORMAL"))
        except sqlite3.Error as exc:
            raise AirStoreError(database.describe(exc, name)) from None
        try:
            _ensure_schema(conn, name)
        except BaseException:
            conn.close()
            raise
        return cls(conn, name)

    @classmethod
    def on(cls, conn: sqlite3.Connection, path: str = "<connection>") -> AirStore:
        """The air tables over an open connection (the caller's; closing the store leaves it
        open). Inside the caller's transaction, imports are savepoints of it."""
        _ensure_schema(conn, path)
        store = cls(conn, path)
        store._borrowed = True
        return store

    @classmethod
    def of(cls, db_or_store: Any) -> tuple[AirStore, bool]:
        """An AirStore for a database path, an AirStore, a ``sqlite3.Connection`` or the
        readings store of the same run (its connection, so its transaction is shared);
        ``(store, owned)`` — close it when ``owned``."""
        if isinstance(db_or_store, AirStore):
            return db_or_store, False
        if isinstance(db_or_store, str | os.PathLike):
            return cls.open(db_or_store), True
        if isinstance(db_or_store, sqlite3.Connection):
            return cls.on(db_or_store), True
        conn = getattr(getattr(db_or_store, "db", None), "conn", None)
        if isinstance(conn, sqlite3.Connection):  # ReadingStore: share its connection
            return cls.on(conn, str(getattr(db_or_store, "path", "<store>"))), True
        path = getattr(db_or_store, "path", None)
        if isinstance(path, str | os.PathLike):
            return cls.open(path), True
        raise TypeError(f"expected a database path or a store, not {type(db_or_store).__name__}")

    def close(self) -> None:
        if not self._borrowed:
            self._conn.close()

    def __enter__(self) -> AirStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._conn.in_transaction:  # the caller's run: a savepoint of it
            self._conn.execute("SAVEPOINT air_import")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK TO air_import")
                self._conn.execute("RELEASE air_import")
                raise
            self._conn.execute("RELEASE air_import")
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def save_stations(self, catalog: StationCatalog) -> None:
        """Record the catalog (replacing the stations of the same codes)."""
        with self._transaction():
            self._save_stations(catalog)

    def _save_stations(self, catalog: StationCatalog) -> None:
        self._conn.executemany(
            'INSERT OR REPLACE INTO air_stations (code, name, city, level, evaluation, start, '
            '"end") VALUES (?, ?, ?, ?, ?, ?, ?)',
            [(s.code, s.name, s.city, s.level, int(s.evaluation),
              s.start.isoformat() if s.start else None, s.end.isoformat() if s.end else None)
             for s in catalog.stations.values()])

    @in_money_context
    def import_files(
        self,
        files: Sequence[str | Path],
        *,
        stations: StationCatalog | None = None,
        cities: Iterable[str] | Mapping[str, str] | None = None,
    ) -> list[AirImportResult]:
        """Import air readings files together: all of them, or (on any problem) none.

        ``stations`` is recorded with them (station values are resolved through it);
        ``cities`` checks the city cells of city files. Raises ValidationFailed listing
        every problem of every file.
        """
        city_set = cities if isinstance(cities, Mapping) else (
            set(cities) if cities is not None else None)
        problems: list[Problem] = []
        results: list[AirImportResult] = []
        with self._transaction():
            if stations is not None:
                self._save_stations(stations)
                problems.extend(self._stations_left_out(stations))
            for file in files:
                try:
                    results.append(self._import(Path(file), stations, city_set))
                except ValidationFailed as exc:
                    problems.extend(exc.problems)
            if problems:
                raise ValidationFailed(problems, what="the air readings")
        return results

    def _stations_left_out(self, catalog: StationCatalog) -> list[Problem]:
        """Stations with stored values that the catalog no longer lists: their values would
        still count for their city (the store keeps each station's last record)."""
        rows = self._conn.execute(
            "SELECT code, name, city FROM air_stations s WHERE EXISTS (SELECT 1 FROM "
            "air_readings r WHERE r.scope = 'station' AND r.site = s.code) ORDER BY code")
        return [Problem(
            f"station {code} ({name}, city {city}) has values in the database but is not in "
            "air_stations.toml, and they would still count for its city; list it again, with "
            "evaluation = false to leave its values out (or end = its last day)",
            file="air_stations.toml", field=code)
            for code, name, city in rows if code not in catalog.stations]

    def import_file(self, file: str | Path, *, stations: StationCatalog | None = None,
                    cities: Iterable[str] | Mapping[str, str] | None = None,
                    ) -> AirImportResult:
        """Import one file atomically (see :meth:`import_files`)."""
        return self.import_files([file], stations=stations, cities=cities)[0]

    def _import(self, path: Path, stations: StationCatalog | None,
                cities: Any) -> AirImportResult:
        name = str(path)
        digest = file_sha256(path)
        if self._conn.execute("SELECT 1 FROM air_imports WHERE sha256 = ?",
                              (digest,)).fetchone():
            return AirImportResult(name, 0, 0, 0, skipped=True)
        rows = read_air_rows(path, stations=stations, cities=cities, name=name)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        import_id = self._conn.execute(
            "INSERT INTO air_imports (file, sha256, imported_at, rows) VALUES (?, ?, ?, ?)",
            (name, digest, now, len(rows))).lastrowid
        self._conn.execute("DROP TABLE IF EXISTS temp.air_staging")
        self._conn.execute(
            "CREATE TEMP TABLE air_staging (scope TEXT, site TEXT, at TEXT, kind TEXT, "
            "parameter TEXT, value TEXT, flag TEXT, line INTEGER, "
            "PRIMARY KEY (scope, site, at, parameter))")
        self._conn.executemany(
            "INSERT INTO air_staging VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.scope, r.site, _at(r), r.kind, r.parameter, str(r.value), r.flag, line)
             for line, r in rows])
        stored = self._conn.execute(
            "SELECT s.site, s.at, s.parameter, s.value, s.flag, r.value, r.flag, i.file, "
            "s.line FROM air_staging s JOIN air_readings r USING (scope, site, at, parameter) "
            "JOIN air_imports i ON i.id = r.import_id ORDER BY s.line").fetchall()
        problems = [
            Problem(f"{parameter} at {at} for {site} is {value}{' ' + flag if flag else ''} "
                    f"here but {old}{' ' + old_flag if old_flag else ''} from {old_file}, "
                    "imported before. Corrections of stored air values are not supported "
                    "yet: if this file is wrong, restore the value imported before; if the "
                    "new value is right, settle from the corrected files into a new database "
                    "(ecocomp settle PROJECT --year Y --db NEW.db)", file=name, row=line,
                    field="value")
            for site, at, parameter, value, flag, old, old_flag, old_file, line in stored
            if Decimal(value) != Decimal(old) or flag != old_flag]
        if problems:
            self._conn.execute("DROP TABLE temp.air_staging")
            raise ValidationFailed(problems, what=name)
        inserted = self._conn.execute(
            "INSERT OR IGNORE INTO air_readings (scope, site, at, kind, parameter, value, flag, "
            "import_id) SELECT scope, site, at, kind, parameter, value, flag, ? "
            "FROM air_staging", (import_id,)).rowcount
        self._conn.execute("DROP TABLE temp.air_staging")
        return AirImportResult(name, len(rows), inserted, len(rows) - inserted)

    # ------------------------------------------------------------------ reading

    def stations(self) -> dict[str, Station]:
        """The recorded stations by code."""
        rows = self._conn.execute(
            'SELECT code, name, city, level, evaluation, start, "end" FROM air_stations')
        return {code: Station(code, name, city, level, bool(evaluation),
                              date.fromisoformat(start) if start else None,
                              date.fromisoformat(end) if end else None)
                for code, name, city, level, evaluation, start, end in rows}

    def imported_files(self) -> list[tuple[str, str, int]]:
        """(file, SHA-256, rows) of every imported file, in import order."""
        return list(self._conn.execute(
            "SELECT file, sha256, rows FROM air_imports ORDER BY id"))

    def readings(self, *, start: date, end: date) -> Iterator[AirReading]:
        """Every valid or suspect value from ``start`` to ``end`` (inclusive)."""
        rows = self._conn.execute(
            "SELECT scope, site, at, kind, parameter, value, flag FROM air_readings "
            "WHERE at >= ? AND at < ? AND flag <> 'invalid' ORDER BY scope, site, at",
            (start.isoformat(), (end + timedelta(days=1)).isoformat()))
        for scope, site, at, kind, parameter, value, flag in rows:
            yield AirReading(scope, site, datetime.fromisoformat(at), kind, parameter,
                             Decimal(value), flag)

    @in_money_context
    def city_values(self, *, start: date, end: date, cities: Iterable[str] | None = None,
                    ) -> dict[tuple[str, date], dict[str, Decimal]]:
        """Each city's daily concentrations from ``start`` to ``end`` (see the module doc)."""
        wanted = set(cities) if cities is not None else None
        stations = self.stations()
        city_rows: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(dict)
        station_days: dict[tuple[str, date, str], list[Decimal]] = defaultdict(list)
        daily_sites: dict[tuple[str, date, str], set[str]] = defaultdict(set)
        hourly_sites: dict[tuple[str, date, str], set[str]] = defaultdict(set)
        hourly: dict[tuple[str, datetime, str], list[Decimal]] = defaultdict(list)
        rows = self._conn.execute(
            "SELECT scope, site, at, kind, parameter, value FROM air_readings "
            "WHERE at >= ? AND at < ? AND flag <> 'invalid'",
            (start.isoformat(), (end + timedelta(days=1)).isoformat()))
        days: dict[str, date] = {}
        moments: dict[str, datetime] = {}
        for scope, site, at, kind, parameter, text in rows:
            day = days.get(at[:10])
            if day is None:
                day = days[at[:10]] = date.fromisoformat(at[:10])
            if scope == "city":
                if wanted is None or site in wanted:
                    city_rows[(site, day)][parameter] = Decimal(text)
                continue
            station = stations.get(site)
            if station is None or not station.counts_on(day):
                continue
            if wanted is not None and station.city not in wanted:
                continue
            if kind == "day":
                station_days[(station.city, day, parameter)].append(Decimal(text))
                daily_sites[(station.city, day, parameter)].add(site)
            else:
                hourly_sites[(station.city, day, parameter[:-3])].add(site)
                moment = moments.get(at)
                if moment is None:
                    if len(moments) > 100_000:
                        moments.clear()
                    moment = moments[at] = datetime.fromisoformat(at)
                hourly[(station.city, moment, parameter)].append(Decimal(text))
        result: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(dict)
        for key, values in city_rows.items():
            result[key].update(values)
        mixed = []
        for (city, day, parameter), values in station_days.items():
            if parameter in result[(city, day)]:
                continue  # a city value settles the day
            hours_only = hourly_sites.get((city, day, parameter.split("_")[0]), set()) - \
                daily_sites[(city, day, parameter)]
            if hours_only:
                mixed.append(f"{city} {day} {parameter}: daily values from "
                             f"{', '.join(sorted(daily_sites[(city, day, parameter)]))}, only "
                             f"hourly values from {', '.join(sorted(hours_only))}")
            result[(city, day)][parameter] = _mean(values)
        if mixed:
            raise AssessmentError(
                "a city day would leave stations out: " + "; ".join(mixed[:5])
                + (f" (and {len(mixed) - 5} more)" if len(mixed) > 5 else "")
                + ". Give every evaluation station of the city the same kind of value for the "
                "day (daily, or hourly), or import the city's day value (a city file)")
        for (city, day), values in _daily_from_hours(hourly).items():
            for parameter, value in values.items():
                result[(city, day)].setdefault(parameter, value)
        return dict(result)


def _ensure_schema(conn: sqlite3.Connection, name: str) -> None:
    """Create the air tables if they are missing; refuse a newer schema."""
    outer = conn.in_transaction
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'air_schema_version'").fetchone()
        if found:
            version = conn.execute("SELECT max(version) FROM air_schema_version").fetchone()[0]
            if version is not None and version > SCHEMA_VERSION:
                raise AirStoreError(
                    f"{name}: the air tables are schema version {version}, newer than this "
                    f"ecocomp reads ({SCHEMA_VERSION}); upgrade ecocomp")
            return
        if not outer:
            conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO air_schema_version VALUES (?)", (SCHEMA_VERSION,))
        if not outer:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction and not outer:
            conn.execute("ROLLBACK")
        raise AirStoreError(database.describe(exc, name)) from None


def _mean(values: Sequence[Decimal]) -> Decimal:
    return exact_decimal(Fraction(sum(values, Decimal(0))) / len(values))


def _daily_from_hours(hourly: Mapping[tuple[str, datetime, str], list[Decimal]],
                      ) -> dict[tuple[str, date], dict[str, Decimal]]:
    """City daily values from the city's hourly means, under the HJ 663 counts.

    An hour's city value is the mean of its stations' values. While every hour of a day has
    the same number of stations n (the usual case) the sums are added as Decimal (exact)
    and divided once; otherwise each hour is an exact fraction.
    """
    rules = hj663()
    per_day = rules.threshold("hourly_values_per_day")
    per_8h = rules.threshold("hourly_values_per_8h")
    windows_needed = rules.threshold("o3_8h_values_per_day")
    series: dict[tuple[str, date, str], dict[int, list[Decimal]]] = defaultdict(dict)
    for (city, moment, parameter), values in hourly.items():
        series[(city, moment.date(), parameter)][moment.hour] = values
    out: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(dict)
    for (city, day, parameter), hours in series.items():
        base = parameter[:-3]
        counts = {len(v) for v in hours.values()}
        if len(counts) == 1:
            n = counts.pop()
            sums: dict[int, Decimal | Fraction] = {h: sum(v, Decimal(0))
                                                   for h, v in hours.items()}
        else:
            n = 1
            sums = {h: Fraction(sum(v, Decimal(0))) / len(v) for h, v in hours.items()}
        if base in _BASES_24H and len(sums) >= per_day:
            out[(city, day)][f"{base}_24h"] = exact_decimal(
                Fraction(sum(sums.values())) / (n * len(sums)))
        if base == "o3":
            if len(sums) >= per_day:
                out[(city, day)]["o3_1h"] = exact_decimal(Fraction(max(sums.values())) / n)
            best: Fraction | None = None
            valid = 0
            for first in range(0, 17):  # 8 h means ending 08:00 .. 24:00
                inside = [sums[h] for h in range(first, first + 8) if h in sums]
                if len(inside) >= per_8h:
                    valid += 1
                    mean = Fraction(sum(inside)) / (n * len(inside))
                    best = mean if best is None or mean > best else best
            if valid >= windows_needed and best is not None:
                out[(city, day)]["o3_8h"] = exact_decimal(best)
    return out
