"""The settlement database's record of the project: parties, sections and agreements.

A settlement run writes what it settled against into the database next to the readings and
the ledger, so that ``ecocomp assess``, ``statement`` and ``report`` can work from the
database file alone. These tables describe the project; they are not part of the ledger's
append-only, hash-chained record (the ledger's transactions carry their own basis), but
every checkpoint commits to a digest of the parties, sections and agreements
(:func:`ecocomp.ledger.catalog_digest`), so a name edited in the file fails verification.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import attrs

from ecocomp.errors import EcocompError
from ecocomp.project import Project
from ecocomp.standards import WaterClass

__all__ = [
    "AgreementInfo",
    "Catalog",
    "PartyInfo",
    "SectionInfo",
    "load_catalog",
    "save_catalog",
    "write_catalog",
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


def load_catalog(path: str | Path) -> Catalog:
    """Read the project record a settlement run left in the database."""
    if not Path(path).is_file():
        raise EcocompError(f"{path}: no such database; run `ecocomp settle` first")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
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
