"""The record of each settlement run: what it read, as a fingerprint, and what it computed.

Settling a year again when nothing is new — the same readings, project and code — posts
nothing, since the ledger already equals that computation. A full run proves it by
assessing and computing the whole year again (seconds for a province). Instead, every
posting run records, in the same transaction as its posts (table ``settlement_runs``,
beside the ledger, not part of its chain):

- the **fingerprint** of everything the run's amounts depend on (:func:`fingerprint`): the
  year; the readings' state (the last import and a checksum of the
  stored monthly sums of the year and the year before, so that sums edited behind
  ecocomp's back are not taken for unchanged); the project as loaded (parties, sections,
  agreements with their parameters, corrections declarations, file names — not the folder
  it is in); the project's identity; and the code that computes the amounts (every file
  of the ecocomp package and its schemas, which hold the standard's limits, the formulas
  and the parameter defaults). A project whose agreements use a formula registered outside ecocomp
  has no fingerprint: its code cannot be pinned, so it is always settled in full;
- the ledger's length after the run's posts, and how many of the year's keys the ledger
  then holds (what a re-run counts as unchanged);
- the obligations and nets it computed, as JSON (compressed).

A later run whose fingerprint is the recorded one, with no accrual, clearing or adjustment
of the year posted since, returns the recorded result instead of assessing
(:func:`ecocomp.settlement.settle`); anything else settles in full, exactly as before.
docs/architecture.md ("Issue 12: settle") says what is and is not covered.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

import ecocomp
from ecocomp.agreements import unfrozen
from ecocomp.packagedata import data_folder
from ecocomp.project import Project
from ecocomp.store import ReadingStore

__all__ = [
    "SCHEME",
    "RecordedRun",
    "code_digest",
    "fingerprint",
    "latest_run",
    "posted_since",
    "record_run",
    "record_terms",
    "recorded_result",
    "recorded_terms",
    "terms_digest",
    "terms_unrecordable",
]

#: The name of the fingerprint definition; a different scheme never matches.
SCHEME = "run/1"
_TABLE = "settlement_runs"
_DDL = f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
    id INTEGER PRIMARY KEY, year INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    seq INTEGER NOT NULL, unchanged INTEGER NOT NULL, result BLOB NOT NULL,
    recorded_at TEXT NOT NULL)"""
# (no column may mention the ledger's table prefix: ledger verify refuses any object that
# does, so that nothing can hide in or about a ledger table)
_CODE_SUFFIXES = (".py", ".toml", ".json", ".csv")


@attrs.frozen
class RecordedRun:
    """One recorded run of a year: its fingerprint, where the ledger ended, and how many
    keys of the year it left (its result: :func:`recorded_result`)."""

    id: int
    year: int
    fingerprint: str
    ledger_seq: int
    unchanged: int


def _files_digest(folder: Any, into: Any, prefix: str) -> None:
    """Hash every code or data file under ``folder`` (path and bytes), in path order."""
    found = []
    stack = [(folder, prefix)]
    while stack:
        node, name = stack.pop()
        for child in node.iterdir():
            path = f"{name}/{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    stack.append((child, path))
            elif child.name.endswith(_CODE_SUFFIXES):
                found.append((path, child))
    for path, child in sorted(found, key=lambda item: item[0]):
        data = child.read_bytes()
        into.update(f"{path}\t{len(data)}\n".encode())
        into.update(data)


@functools.cache
def code_digest() -> str:
    """SHA-256 over the ecocomp package's code and data files and its schemas.

    Anything that computes an amount — the standard's limits, assessment, the formulas,
    the parameter schemas and their defaults — is in these files, so an upgrade or an edit
    of any of them changes the digest. Computed once per process.
    """
    h = hashlib.sha256(f"ecocomp {ecocomp.__version__}\n".encode())
    _files_digest(_package_folder(), h, "ecocomp")
    _files_digest(data_folder("schemas"), h, "schemas")
    return h.hexdigest()


def _monthly_checksum(conn: sqlite3.Connection, year: int) -> list[Any]:
    """Counts and sums over the stored monthly sums of ``year - 1`` and ``year``: any sum
    edited in place changes them (the full check is ``ledger verify --with-readings``)."""
    wrap = 1_000_000_007  # keeps every SUM far from 64-bit overflow
    row = conn.execute(
        "SELECT count(*), sum(count), sum(high % ?), sum(low % ?), sum(inexact), "
        "sum(exponent), sum(nondetects), sum(suspect), sum(invalid), "
        "sum(length(section) + length(parameter) + length(source) + unicode(month)) "
        "FROM readings_monthly WHERE month >= ? AND month < ?",
        (wrap, wrap, f"{year - 1}-01", f"{year + 1}-01"),
    ).fetchone()
    return list(row)


def fingerprint(
    *, year: int, project: Project, store: ReadingStore, identity: object,
    formulas: Iterable[Callable[..., Any]],
) -> str | None:
    """The fingerprint of what settling ``year`` of ``project`` from ``store`` depends on.

    ``formulas`` are the functions of the formulas the project's agreements use; None when
    one of them is not part of ecocomp (its code cannot be pinned). Read inside the run's
    store transaction, after its imports.
    """
    if not all(_in_package(f) for f in formulas):
        return None
    conn = store._conn  # the run's own transaction: it sees the imports just made
    last_import = conn.execute("SELECT max(id) FROM readings_imports").fetchone()[0]
    parts = [
        SCHEME, str(year), code_digest(), repr(identity),
        _values(sorted(project.parties.values(), key=lambda p: p.code)),
        _values(sorted(project.sections.values(), key=lambda s: s.code)),
        _values(project.agreements), repr(sorted(project.supersedes.items())),
        repr([_relative(f, project.root) for f in project.readings_files]),
        repr([_relative(f, project.root) for f in project.correction_files]),
        repr([last_import, *_monthly_checksum(conn, year)]),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _in_package(func: Callable[..., Any]) -> bool:
    """Whether the code of ``func`` is in a file :func:`code_digest` hashes.

    By the file its code was compiled from, not ``__module__``: a user's function decorated
    with ``functools.wraps(an ecocomp formula)`` carries that formula's ``__module__``. A
    callable without code of its own (a ``functools.partial``, an object) cannot be pinned.
    """
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    return _file_in_package(code.co_filename)


@functools.cache
def _file_in_package(filename: str) -> bool:
    """Whether a code file is under the package folder (resolved once per file: a run asks
    once per agreement, and most agreements share a handful of formula files)."""
    return Path(filename).resolve().is_relative_to(_package_folder())


@functools.cache
def _package_folder() -> Path:
    return Path(ecocomp.__file__).resolve().parent


def _values(items: Iterable[Any]) -> str:
    """The compared fields of attrs objects (not where they were read from), as text."""
    return repr([[(f.name, getattr(item, f.name)) for f in attrs.fields(type(item)) if f.eq]
                 for item in items])


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def record_run(
    conn: sqlite3.Connection, *, year: int, fingerprint: str, ledger_seq: int,
    unchanged: int, obligations: Iterable[Mapping[str, Any]],
    nets: Iterable[Mapping[str, Any]],
) -> None:
    """Record a run (inside the caller's transaction, the one that posted).

    The result is the UTF-8 JSON of ``{"obligations": [...], "nets": [...]}``, compressed;
    it is written one item at a time, so the items need not all exist at once. An item
    may hold frozen data (:meth:`Obligation.frozen_json`): it is written as its thawed
    copy would be."""
    conn.execute(_DDL)
    text = b"".join([b'{"obligations":[', *_json_items(obligations), b'],"nets":[',
                     *_json_items(nets), b"]}"])
    conn.execute(
        f"INSERT INTO {_TABLE} (year, fingerprint, seq, unchanged, result, "
        "recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
        (year, fingerprint, ledger_seq, unchanged, zlib.compress(text, 1),
         datetime.now(UTC).isoformat(timespec="seconds")),
    )


def _json_items(items: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """The compact JSON of each item, comma-separated: the inside of their JSON list."""
    for i, item in enumerate(items):
        if i:
            yield b","
        yield json.dumps(item, ensure_ascii=False, separators=(",", ":"),
                         default=unfrozen).encode()


def latest_run(conn: sqlite3.Connection, year: int) -> RecordedRun | None:
    """The latest recorded run of ``year``, or None."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (_TABLE,)).fetchone():
        return None
    row = conn.execute(
        f"SELECT id, year, fingerprint, seq, unchanged FROM {_TABLE} "
        "WHERE year = ? ORDER BY id DESC LIMIT 1", (year,),
    ).fetchone()
    if row is None:
        return None
    return RecordedRun(id=row[0], year=row[1], fingerprint=row[2], ledger_seq=row[3],
                       unchanged=row[4])


def recorded_result(
    conn: sqlite3.Connection, run: RecordedRun
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The obligations and nets ``run`` computed, as their ``to_json()`` data."""
    row = conn.execute(f"SELECT result FROM {_TABLE} WHERE id = ?", (run.id,)).fetchone()
    data = json.loads(zlib.decompress(row[0]))
    return data["obligations"], data["nets"]


def posted_since(conn: sqlite3.Connection, year: int, seq: int) -> bool:
    """Whether a transaction of ``year`` other than a payment was posted after ``seq``
    (an accrual, clearing or adjustment: the ledger's year may no longer be the run's)."""
    row = conn.execute(
        "SELECT 1 FROM ledger_transactions WHERE seq > ? AND (period = ? OR period LIKE ?) "
        "AND (component IS NULL OR component <> 'payment') LIMIT 1",
        (seq, str(year), f"{year}-%"),
    ).fetchone()
    return row is not None


# --------------------------------------------------------------------------- terms
#
# The terms each settled year was last settled under, per agreement: a run that settles
# one year after an agreement file was edited (or added, or removed) can say which other
# settled years still hold amounts under the old terms.

_TERMS = "settlement_terms"
_TERMS_DDL = f"""CREATE TABLE IF NOT EXISTS {_TERMS} (
    year INTEGER NOT NULL, agreement TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (year, agreement))"""
#: Agreement fields that change no amount: not part of its terms.
_NOT_TERMS = frozenset({"name", "source", "confidence", "file", "parties_override"})


def terms_digest(agreement: Any, waterbodies: Sequence[str] = ()) -> str:
    """SHA-256 over what an agreement's amounts depend on: every field but its name, source,
    confidence mark and file, and the waterbody of each of its sections (river or lake,
    which sets the class limits)."""
    parts = [(f.name, getattr(agreement, f.name)) for f in attrs.fields(type(agreement))
             if f.name not in _NOT_TERMS]
    return hashlib.sha256(repr((parts, tuple(waterbodies))).encode()).hexdigest()


def record_terms(conn: sqlite3.Connection, year: int, digests: Mapping[str, str]) -> None:
    """Record the terms ``year`` was settled under (inside the caller's transaction)."""
    conn.execute(_TERMS_DDL)
    conn.execute(f"DELETE FROM {_TERMS} WHERE year = ?", (year,))
    conn.executemany(f"INSERT INTO {_TERMS} (year, agreement, digest) VALUES (?, ?, ?)",
                     [(year, a, d) for a, d in sorted(digests.items())])


def terms_unrecordable(conn: sqlite3.Connection) -> bool:
    """Whether ``settlement_terms`` is missing and this role may not create it (a PostgreSQL
    writer role on a database its owner set up before the table existed)."""
    if getattr(conn, "dialect", "sqlite") != "postgresql":
        return False
    row = conn.execute(
        "SELECT to_regclass(?) IS NULL AND NOT has_schema_privilege(current_schema(), "
        "'CREATE')", (_TERMS,)).fetchone()
    return bool(row and row[0])


def recorded_terms(conn: sqlite3.Connection) -> dict[int, dict[str, str]]:
    """Per settled year, the terms it was last settled under (empty for years settled
    before they were recorded)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (_TERMS,)).fetchone():
        return {}
    found: dict[int, dict[str, str]] = {}
    for year, agreement, digest in conn.execute(
            f"SELECT year, agreement, digest FROM {_TERMS} ORDER BY year, agreement"):
        found.setdefault(year, {})[agreement] = digest
    return found
