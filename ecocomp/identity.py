"""Which project a settlement database belongs to, so that one file never mixes two projects.

A project's **identity** is

- the ``id`` declared in the project's optional ``project.toml`` (``id = "hunan-2021"``),
  when there is one — the reliable way, and the one to use for a real ledger;
- otherwise its **agreement ids** (the file names under ``agreements/`` do not matter, the
  ``id`` inside each agreement does).

The folder's name and place are not part of it (moving or renaming the folder is the same
project), and neither are amounts, dates, parameters, parties or names (editing an
agreement is the same project).

The first settlement run into a database records the identity in the table
``project_identity`` (one row), in the same transaction as its ledger entries. A later run
is the same project when

1. both declare an ``id`` and the ids are equal, or
2. the database recorded no ``id`` and the project shares at least one agreement id with
   the agreements recorded or found in the ledger (a project that grows or loses an
   agreement stays the same project; the declared ``id``, if the project now has one, is
   recorded from then on).

Anything else is refused (:class:`ProjectMismatch`): a different ``id``, a database
recorded with an ``id`` settled from a project without one, or no agreement in common.
``same_project=True`` (``ecocomp settle --same-project``) accepts the project and records
its identity instead — for the rare case of one project whose every agreement id was
renamed, or whose ``id`` changed.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import attrs

from ecocomp import database
from ecocomp.errors import InputError, Problem, ProjectMismatch
from ecocomp.project import Project

__all__ = [
    "PROJECT_FILE",
    "ProjectIdentity",
    "ProjectMismatch",
    "check_identity",
    "declared_id",
    "identity_problems",
    "project_identity",
    "record_identity",
    "recorded_identity",
]

#: The optional file in a project folder that declares its id.
PROJECT_FILE = "project.toml"
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}", re.ASCII)
_KEYS = frozenset({"id", "name"})
_TABLE = "project_identity"
_DDL = f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
    id TEXT, agreements TEXT NOT NULL, folder TEXT NOT NULL, recorded_at TEXT NOT NULL)"""


@attrs.frozen
class ProjectIdentity:
    """What makes a project the same project: its declared ``id`` and its agreement ids.

    ``folder`` is where it was settled from (for messages only; never compared).
    """

    id: str | None
    agreements: frozenset[str]
    folder: str = ""

    def describe(self) -> str:
        if self.id is not None:
            return f"project {self.id!r}"
        shown = ", ".join(sorted(self.agreements)[:4])
        more = f" and {len(self.agreements) - 4} more" if len(self.agreements) > 4 else ""
        return f"the project with agreements {shown}{more}" + (
            f" (settled from {self.folder})" if self.folder else "")


def declared_id(root: str | Path) -> str | None:
    """The ``id`` in ``root/project.toml``, or None when the project has no such file.

    Raises :class:`~ecocomp.errors.InputError` naming the file and field when the file is
    there but unreadable, has unknown keys or an id that is not a lowercase slug.
    """
    file = Path(root) / PROJECT_FILE
    if not file.is_file():
        return None
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"not valid UTF-8 TOML ({exc}); fix the file", file=str(file)) from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)}; {PROJECT_FILE} holds only id "
                         "and name", file=str(file), field=unknown[0])
    value = data.get("id")
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InputError(
            f"id {value!r} is not a project id; write a lowercase slug such as "
            '"hunan-2021" (letters, digits, ".", "_", "-"; at most 80)',
            file=str(file), field="id")
    return value


def project_identity(project: Project) -> ProjectIdentity:
    """The identity of a loaded project (reads its ``project.toml`` if there is one)."""
    return ProjectIdentity(
        id=declared_id(project.root),
        agreements=frozenset(a.id for a in project.agreements),
        folder=str(project.root),
    )


def recorded_identity(path: str | Path) -> ProjectIdentity | None:
    """The identity recorded in the database ``path`` (read-only), or None.

    ``path`` may also be an open connection (the ledger's, on PostgreSQL).

    A database settled before identities were recorded has none in the table; its ledger's
    agreement ids stand for it then (None when it holds no ledger entries either).
    """
    if hasattr(path, "execute"):  # an open connection (a ledger on PostgreSQL)
        return _read(path)
    if str(path) == ":memory:" or not Path(path).is_file():
        return None
    try:
        conn = database.open_read_only(path)
    except sqlite3.Error:
        return None
    try:
        return _read(conn)
    except sqlite3.DatabaseError:  # not a database: the ledger reports that itself
        return None
    finally:
        conn.close()


def _read(conn: sqlite3.Connection) -> ProjectIdentity | None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if _TABLE in tables:
        row = conn.execute(
            f"SELECT id, agreements, folder FROM {_TABLE} ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            return ProjectIdentity(id=row[0], agreements=frozenset(json.loads(row[1])),
                                   folder=row[2])
    found: set[str] = set()
    if "catalog_agreements" in tables:
        found.update(r[0] for r in conn.execute("SELECT id FROM catalog_agreements"))
    if "ledger_transactions" in tables:
        found.update(r[0] for r in conn.execute(
            "SELECT DISTINCT agreement FROM ledger_transactions "
            "WHERE agreement IS NOT NULL"))
    if not found:
        return None
    return ProjectIdentity(id=None, agreements=frozenset(found))


def check_identity(
    path: str | Path, project: Project, *, same_project: bool = False
) -> ProjectIdentity:
    """Refuse to settle ``project`` into the database ``path`` when it belongs to another.

    Returns the project's identity (to record after the run). See the module docstring for
    the rules; ``same_project=True`` skips the comparison.
    """
    mine = project_identity(project)
    if same_project:
        return mine
    theirs = recorded_identity(path)
    if theirs is None:
        return mine
    problem = _difference(theirs, mine)
    if problem:
        raise ProjectMismatch(
            f"{path} belongs to {theirs.describe()}, not to {project.root}: {problem}. "
            "Settle this project into its own database (another --db); if it really is the "
            f"same project, declare its id in {PROJECT_FILE} or pass --same-project "
            "(Python: same_project=True) once to record the new identity"
        )
    return mine


def _difference(theirs: ProjectIdentity, mine: ProjectIdentity) -> str:
    if theirs.id is not None and mine.id is not None:
        if theirs.id != mine.id:
            return f"its {PROJECT_FILE} declares id {mine.id!r}"
        return ""
    if theirs.id is not None:
        return f"it has no {PROJECT_FILE} declaring id {theirs.id!r}"
    if not theirs.agreements & mine.agreements:
        return "it has none of the database's agreements"
    return ""


def record_identity(conn: sqlite3.Connection, identity: ProjectIdentity) -> None:
    """Record ``identity`` in the open connection's database (inside the caller's
    transaction), unless it is already what is recorded."""
    conn.execute(_DDL)
    if _read(conn) == identity:
        return
    conn.execute(f"DELETE FROM {_TABLE}")
    conn.execute(
        f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?)",
        (identity.id, json.dumps(sorted(identity.agreements), ensure_ascii=False),
         identity.folder, datetime.now(UTC).isoformat(timespec="seconds")),
    )



def identity_problems(root: str | Path) -> list[Problem]:
    """The problems of ``root/project.toml`` (for ``ecocomp check``); empty when it is valid
    or absent."""
    try:
        declared_id(root)
    except InputError as exc:
        return list(exc.problems)
    return []
