"""The settlement database's record of the project: parties, sections and agreements.

A settlement run writes what it settled against into the database next to the readings and
the ledger, so that ``ecocomp assess``, ``statement`` and ``report`` can work from the
database file alone. These tables describe the project; they are not part of the ledger's
append-only, hash-chained record (the ledger's transactions carry their own basis), but
every checkpoint commits to a digest of the parties, sections and agreements and of the zero
amounts (:func:`ecocomp.ledger.catalog_digest`), so a name edited in the file fails
verification.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ecocomp import database, postgres
from ecocomp.agreements import unfrozen
from ecocomp.errors import EcocompError
from ecocomp.project import Project
from ecocomp.standards import WaterClass

if TYPE_CHECKING:
    from ecocomp.formulas.base import Obligation

__all__ = [
    "AgreementInfo",
    "Catalog",
    "PartyInfo",
    "SectionInfo",
    "ZeroAmount",
    "find_party",
    "load_catalog",
    "load_zero_amounts",
    "save_catalog",
    "save_zero_amounts",
    "write_catalog",
    "write_zero_amounts",
]

_DDL = """
CREATE TABLE IF NOT EXISTS catalog_parties (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT, parent TEXT);
CREATE TABLE IF NOT EXISTS catalog_sections (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, river TEXT, basin TEXT, waterbody TEXT NOT NULL,
    upstream TEXT, downstream TEXT, target TEXT, level TEXT);
CREATE TABLE IF NOT EXISTS catalog_agreements (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, formula TEXT NOT NULL, parties TEXT NOT NULL,
    sections TEXT NOT NULL, start TEXT NOT NULL, "end" TEXT NOT NULL, unit TEXT NOT NULL,
    clearing_due TEXT NOT NULL, source TEXT, confidence TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS catalog_runs (
    id INTEGER PRIMARY KEY, year INTEGER NOT NULL, finished_at TEXT NOT NULL,
    posted INTEGER NOT NULL, unchanged INTEGER NOT NULL, adjusted INTEGER NOT NULL);
"""


@attrs.frozen
class PartyInfo:
    code: str
    name: str
    level: str | None = None
    parent: str | None = None


@attrs.frozen
class SectionInfo:
    code: str
    name: str
    river: str | None
    basin: str | None
    waterbody: str
    upstream: str | None
    downstream: str | None
    target: WaterClass | None
    level: str | None = None


@attrs.frozen
class AgreementInfo:
    id: str
    name: str
    formula: str
    parties: Mapping[str, str]
    sections: tuple[str, ...]
    start: date
    end: date
    unit: str
    clearing_due: str
    source: str | None
    confidence: str


@attrs.frozen
class Catalog:
    parties: Mapping[str, PartyInfo]
    sections: Mapping[str, SectionInfo]
    agreements: Mapping[str, AgreementInfo]
    settled_years: frozenset[int] = frozenset()

    def party_name(self, code: str) -> str:
        party = self.parties.get(code)
        return party.name if party else code


def find_party(catalog: Catalog, text: str, *, where: str = "") -> str:
    """The code of the party ``text`` names: a code, a full name, or a unique part of a name.

    ``常德市``, ``常德`` and ``430700`` all give ``430700``. An unknown or ambiguous text is
    an error listing the candidates (name and code), so a typo is never guessed at;
    ``where`` (the database) is named in it.
    """
    import unicodedata

    written = unicodedata.normalize("NFKC", text).strip()
    if written in catalog.parties:
        return written
    exact = [p.code for p in catalog.parties.values() if p.name == written]
    if len(exact) == 1:
        return exact[0]
    partial = exact or [p.code for p in catalog.parties.values() if written and written in p.name]
    listed = ", ".join(f"{catalog.parties[c].name} ({c})" for c in sorted(partial))
    if len(partial) == 1:
        return partial[0]
    if partial:
        raise EcocompError(f"party {text!r} is ambiguous: it could be {listed}; give the code "
                           "or the full name")
    known = ", ".join(f"{p.name} ({p.code})" for p in sorted(catalog.parties.values(),
                                                             key=lambda p: p.code))
    place = f" {where}" if where else ""
    raise EcocompError(f"party {text!r} is not in the settled project{place}; known: {known}")


def save_catalog(
    path: str | Path, project: Project, *, year: int, counts: tuple[int, int, int]
) -> None:
    """Record the project (replacing what was there) and log a settlement run of ``year``.

    ``counts`` are the run's (posted, unchanged, adjusted). A settlement run writes the
    catalog with :func:`write_catalog` instead, inside the ledger's transaction, so that the
    checkpoint it makes commits to exactly these names.
    """
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            write_catalog(conn, project, year=year, counts=counts)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def write_catalog(
    conn: sqlite3.Connection, project: Project, *, year: int, counts: tuple[int, int, int]
) -> None:
    """:func:`save_catalog` on an open connection, inside the caller's transaction."""
    for statement in _DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    # the project as it is now: what was removed from it goes too
    for table in ("catalog_parties", "catalog_sections", "catalog_agreements"):
        conn.execute(f"DELETE FROM {table}")
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_parties VALUES (?,?,?,?)",
        [(p.code, p.name, p.level, p.parent) for p in project.parties.values()],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_sections VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (s.code, s.name, s.river, s.basin, s.waterbody, s.upstream, s.downstream,
             s.target.code if s.target else None, s.level)
            for s in project.sections.values()
        ],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_agreements VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (a.id, a.name, a.formula, json.dumps(dict(a.parties), ensure_ascii=False),
             json.dumps(list(a.sections)), a.start.isoformat(), a.end.isoformat(),
             a.unit, a.clearing_due, a.source, a.confidence)
            for a in project.agreements
        ],
    )
    conn.execute(
        "INSERT INTO catalog_runs (year, finished_at, posted, unchanged, adjusted) "
        "VALUES (?, ?, ?, ?, ?)",
        (year, datetime.now(UTC).isoformat(timespec="seconds"), *counts),
    )


def _reading(path: str | Path) -> Any:
    """:func:`ecocomp.database.open_reading`, saying so when no file is there."""
    if not postgres.is_url(str(path)) and not Path(path).is_file():
        raise EcocompError(f"{path}: no such database; run `ecocomp settle` first")
    return database.open_reading(path)


def load_catalog(path: str | Path) -> Catalog:
    """Read the project record a settlement run left in the database (an SQLite file or a
    ``postgresql://`` URL)."""
    conn = _reading(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "catalog_sections" not in tables:
            raise EcocompError(
                f"{path}: no settled project in this database; run `ecocomp settle` first"
            )
        parties = {
            r[0]: PartyInfo(*r) for r in conn.execute("SELECT * FROM catalog_parties")
        }
        sections = {
            r[0]: SectionInfo(
                *r[:7], target=WaterClass.parse(r[7]) if r[7] else None, level=r[8]
            )
            for r in conn.execute("SELECT * FROM catalog_sections ORDER BY rowid")
        }
        agreements = {
            r[0]: AgreementInfo(
                id=r[0], name=r[1], formula=r[2], parties=json.loads(r[3]),
                sections=tuple(json.loads(r[4])), start=date.fromisoformat(r[5]),
                end=date.fromisoformat(r[6]), unit=r[7], clearing_due=r[8], source=r[9],
                confidence=r[10],
            )
            for r in conn.execute("SELECT * FROM catalog_agreements ORDER BY id")
        }
        years = frozenset(
            r[0] for r in conn.execute("SELECT DISTINCT year FROM catalog_runs")
        ) if "catalog_runs" in tables else frozenset()
    finally:
        conn.close()
    return Catalog(parties=parties, sections=sections, agreements=agreements,
                   settled_years=years)


# --------------------------------------------------------------------------- zero amounts

_ZERO_DDL = """
CREATE TABLE IF NOT EXISTS catalog_zero_amounts (
    year INTEGER NOT NULL, agreement TEXT NOT NULL, period TEXT NOT NULL,
    component TEXT NOT NULL, payer TEXT NOT NULL, payee TEXT NOT NULL, basis TEXT NOT NULL,
    PRIMARY KEY (year, agreement, period, component));
"""


@attrs.frozen
class ZeroAmount:
    """A period an agreement's formula computed nothing to pay for, with its basis.

    The ledger holds only money, so these are kept next to it by the latest settlement run
    of the year (replaced by each run) for statements and reports to say why nothing is owed.
    """

    agreement: str
    period: str
    component: str
    payer: str
    payee: str
    basis: Mapping[str, Any]


def save_zero_amounts(path: str | Path, year: int, obligations: Iterable[Obligation]) -> None:
    """Record the run's zero-amount obligations of ``year``, replacing the earlier run's."""
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        with conn:
            write_zero_amounts(conn, year, obligations)
    finally:
        conn.close()


def write_zero_amounts(
    conn: sqlite3.Connection, year: int, obligations: Iterable[Obligation]
) -> None:
    """:func:`save_zero_amounts` on an open connection, inside the caller's transaction."""
    rows = (  # one at a time: a national year's zero amounts are thousands of bases
        (year, o.agreement, str(o.period), o.component, o.payer, o.payee,
         json.dumps(o.basis, ensure_ascii=False, sort_keys=True, default=unfrozen))
        for o in obligations if o.amount == 0
    )
    conn.execute(_ZERO_DDL)
    conn.execute("DELETE FROM catalog_zero_amounts WHERE year = ?", (year,))
    conn.executemany("INSERT INTO catalog_zero_amounts VALUES (?,?,?,?,?,?,?)", rows)


def load_zero_amounts(path: str | Path, year: int) -> list[ZeroAmount]:
    """The zero-amount periods the latest run of ``year`` recorded (none before such runs)."""
    conn = _reading(path)
    try:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                             "name = 'catalog_zero_amounts'").fetchone()
        rows = conn.execute(
            "SELECT agreement, period, component, payer, payee, basis FROM "
            "catalog_zero_amounts WHERE year = ? ORDER BY agreement, period, component",
            (year,),
        ).fetchall() if found else []
    finally:
        conn.close()
    return [ZeroAmount(agreement=r[0], period=r[1], component=r[2], payer=r[3], payee=r[4],
                       basis=json.loads(r[5])) for r in rows]
