"""Air values are evidence too: their part of a run's inputs digest, its guard, its re-derivation.

A settlement that reads ``air`` inputs hashes every city day it read — the day, the HJ 633
version its AQI is rated under, and its daily concentrations as exact decimal text — into the
run's :class:`~ecocomp.evidence.InputsDigest`, one block per city and month, under the key

    ``air:<city>@<state>/<YYYY-MM>``

where ``<state>`` names the air data the run saw: the last air import (``air_imports.id``)
and the first 12 hex digits of the SHA-256 of the station catalog (``air_stations``) it read,
as ``<import>-<catalog>``. So the air values are inside the ``inputs_digest`` of every
transaction the run posts, like the water sums (docs/ledger.md).

Beside the ledger (not part of its chain) two tables keep what is needed to check them later:

- ``air_evidence_states``: each state's last import and the station catalog as it was
  (canonical JSON), so the city days can be re-derived even after the catalog changed;
- ``air_evidence_days``: per state, city and day, the first 16 hex digits of the SHA-256 of
  the day's line, so that a difference is named by city and day.

:func:`hash_city_days` feeds the digest and guards: when the air data is in a state read
before (nothing imported since, same catalog) and a day no longer gives what was read then,
an air value was edited in the database outside ecocomp and the run is refused, naming the
city and the day. :func:`rederive_air` (``ecocomp ledger verify --with-readings``) rebuilds
each recorded state from the ``air_*`` tables (the air store only adds rows, each with its
import) and hashes it again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ecocomp.errors import SettlementError

if TYPE_CHECKING:  # the air store loads only when air data is checked
    from ecocomp.air.statistics import CityDay
    from ecocomp.air.store import AirStore

__all__ = ["AIR_PREFIX", "air_state", "hash_city_days", "is_air_key", "rederive_air"]

#: The prefix of the air blocks' keys in a run's section-month digests.
AIR_PREFIX = "air:"
_DDL = (
    "CREATE TABLE IF NOT EXISTS air_evidence_states (state TEXT PRIMARY KEY, "
    "last_import INTEGER NOT NULL, stations TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS air_evidence_days (state TEXT NOT NULL, city TEXT NOT NULL, "
    "day TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (state, city, day)) WITHOUT ROWID",
)


class _Digest(Protocol):  # ecocomp.evidence.InputsDigest, without importing it
    def add(self, section: str, month: str, line: str) -> None: ...


def is_air_key(key: str) -> bool:
    """Whether a section-month key (``section/YYYY-MM``) is an air block."""
    return key.startswith(AIR_PREFIX)


def _catalog(conn: sqlite3.Connection) -> str:
    """The station catalog as canonical JSON (sorted by code)."""
    rows = conn.execute('SELECT code, name, city, level, evaluation, start, "end" '
                        "FROM air_stations ORDER BY code").fetchall()
    return json.dumps([list(r) for r in rows], ensure_ascii=False, separators=(",", ":"))


def air_state(conn: sqlite3.Connection) -> tuple[str, int, str]:
    """``(state, last import, catalog JSON)`` of the air tables as they are now."""
    last = int(conn.execute("SELECT max(id) FROM air_imports").fetchone()[0] or 0)
    catalog = _catalog(conn)
    return f"{last}-{hashlib.sha256(catalog.encode()).hexdigest()[:12]}", last, catalog


def _line(day: CityDay) -> str:
    values = "\t".join(f"{k}={format(v, 'f')}" for k, v in sorted(day.values.items()))
    return f"air-day\t{day.day.isoformat()}\t{day.version}\t{values}\n"


def _feed(evidence: _Digest, state: str,
          daily: Mapping[str, Sequence[CityDay]]) -> dict[tuple[str, str], str]:
    """Hash every city day into ``evidence``; the day digests by (city, day)."""
    days: dict[tuple[str, str], str] = {}
    for city in sorted(daily):
        for day in sorted(daily[city], key=lambda d: d.day):
            line = _line(day)
            iso = day.day.isoformat()
            evidence.add(f"{AIR_PREFIX}{city}@{state}", iso[:7], line)
            days[(city, iso)] = hashlib.sha256(line.encode()).hexdigest()[:16]
    return days


def hash_city_days(
    store: AirStore, daily: Mapping[str, Sequence[CityDay]], evidence: _Digest, *,
    first: int, last: int, names: Mapping[str, str] | None = None,
) -> None:
    """Hash the city days a run read (years ``first``..``last``) into ``evidence``, record
    their day digests, and refuse the run if the air data is in a state read before but a
    day differs from what was read then (inside the caller's transaction)."""
    conn = store._conn  # the run's connection: the records join its transaction
    state, imported, catalog = air_state(conn)
    days = _feed(evidence, state, daily)
    for statement in _DDL:
        conn.execute(statement)
    before = {(c, d): h for c, d, h in conn.execute(
        "SELECT city, day, digest FROM air_evidence_days WHERE state = ? AND day >= ? "
        "AND day < ?", (state, f"{first}-01-01", f"{last + 1}-01-01"))}
    differ = sorted(k for k in before.keys() if days.get(k) != before[k])
    if differ:
        names = names or {}
        shown = ", ".join(f"{names.get(c, c)} ({c}) {d}" if c in names else f"{c} {d}"
                          for c, d in differ[:5])
        more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
        raise SettlementError(
            f"{store.path}: the stored air values of {shown}{more} (city day) differ from "
            f"what an earlier settlement read, and no air file was imported since (air "
            f"import #{imported}): the air readings were changed outside ecocomp, so nothing "
            f"was settled; run `ecocomp ledger verify --db {store.path} --with-readings` and "
            "restore the file from a backup")
    conn.execute("INSERT OR IGNORE INTO air_evidence_states (state, last_import, stations) "
                 "VALUES (?, ?, ?)", (state, imported, catalog))
    conn.executemany("INSERT OR IGNORE INTO air_evidence_days (state, city, day, digest) "
                     "VALUES (?, ?, ?, ?)", [(state, c, d, h) for (c, d), h in days.items()])


class _Blocks:
    """A bare collector of blocks (the same hashing as InputsDigest's blocks)."""

    def __init__(self) -> None:
        self.blocks: dict[str, Any] = {}

    def add(self, section: str, month: str, line: str) -> None:
        key = f"{section}/{month}"
        block = self.blocks.get(key)
        if block is None:
            block = self.blocks[key] = hashlib.sha256()
        block.update(line.encode())


def _state_of(key: str) -> str:
    return key.split("/", 1)[0].rsplit("@", 1)[1]


def rederive_air(conn: sqlite3.Connection, year: int, keys: Iterable[str],
                 ) -> tuple[dict[str, str], list[str]]:
    """Re-derive the air blocks of a run of ``year`` whose air keys are ``keys``.

    ``conn`` reads the database (read-only is enough). Returns the block digests derived
    from the ``air_*`` tables as they were in each recorded state, and the problems that
    prevent a re-derivation (a state record missing or changed).
    """
    derived: dict[str, str] = {}
    problems: list[str] = []
    for state in sorted({_state_of(k) for k in keys}):
        row = None
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'air_evidence_states'"
                        ).fetchone():
            row = conn.execute("SELECT last_import, stations FROM air_evidence_states "
                               "WHERE state = ?", (state,)).fetchone()
        if row is None:
            problems.append(f"air_evidence_states: the air state {state} a settlement of "
                            f"{year} read is not recorded; the record was deleted — restore "
                            "the database from a backup")
            continue
        imported, catalog = int(row[0]), str(row[1])
        if state != f"{imported}-{hashlib.sha256(catalog.encode()).hexdigest()[:12]}":
            problems.append(f"air_evidence_states: the record of air state {state} was "
                            "changed — restore the database from a backup")
            continue
        from ecocomp.air.assess import assess_air
        from ecocomp.air.store import AirStore

        with AirStore.open(":memory:") as rebuilt:
            target = rebuilt._conn
            target.executemany(
                'INSERT INTO air_stations (code, name, city, level, evaluation, start, "end") '
                "VALUES (?, ?, ?, ?, ?, ?, ?)", json.loads(catalog))
            target.executemany(
                "INSERT INTO air_readings (scope, site, at, kind, parameter, value, flag, "
                "import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                conn.execute("SELECT scope, site, at, kind, parameter, value, flag, import_id "
                             "FROM air_readings WHERE import_id <= ? AND at >= ? AND at < ?",
                             (imported, f"{year - 1}-01-01", f"{year + 1}-01-01")))
            daily = assess_air(rebuilt, year=year, periods="year", years_back=1).daily
        blocks = _Blocks()
        days = _feed(blocks, state, daily)
        recorded = conn.execute(
            "SELECT city, day, digest FROM air_evidence_days WHERE state = ? AND day >= ? "
            "AND day < ?", (state, f"{year - 1}-01-01", f"{year + 1}-01-01")).fetchall()
        differ = sorted((c, d) for c, d, h in recorded if days.get((c, d)) != h)
        if differ:
            shown = ", ".join(f"{c} {d}" for c, d in differ[:5]) + (
                f" and {len(differ) - 5} more" if len(differ) > 5 else "")
            problems.append(f"air_readings: the air values of {shown} (city day) no longer "
                            f"give what the settlement of {year} read (air import "
                            f"#{imported}); they were changed outside ecocomp — restore the "
                            "database from a backup")
        derived.update({k: h.hexdigest() for k, h in blocks.blocks.items()})
    return derived, problems
