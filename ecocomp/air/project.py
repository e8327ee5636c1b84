"""A project folder's air data: ``air_stations.toml`` and the files in ``air-readings/``.

``air-readings/`` follows the rules of ``readings/`` (docs/project.md): only ``*.csv`` and
``*.xlsx`` files are read (every sheet of a workbook with data, like a CSV file); any other
file or a sub-folder there is a problem (its data would otherwise be left out without a word);
hidden files and Excel lock files are skipped with a warning.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ecocomp.air.stations import StationCatalog, load_stations
from ecocomp.errors import Problem, ValidationFailed

if TYPE_CHECKING:  # the readings parser and the store load where files are read or imported
    from ecocomp.air.store import AirImportResult

__all__ = ["AIR_READINGS", "STATIONS_FILE", "AirProject", "check_air", "gone_air_files",
           "import_project_air", "load_air"]

STATIONS_FILE = "air_stations.toml"
AIR_READINGS = "air-readings"


@attrs.frozen
class AirProject:
    """The air part of a project folder (empty when it has none)."""

    root: Path
    stations: StationCatalog | None
    files: tuple[Path, ...]
    warnings: tuple[Problem, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.files) or self.stations is not None


def _scan(root: Path, cities: Collection[str] | None) -> tuple[AirProject, list[Problem]]:
    from ecocomp.project import _readings_files  # the readings/ rules; imported here because
    # ecocomp.project loads agreements and formulas, which may import ecocomp.air

    problems: list[Problem] = []
    warnings: list[Problem] = []
    stations = None
    if (root / STATIONS_FILE).is_file():
        try:
            stations = load_stations(root / STATIONS_FILE, cities=cities)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    files = tuple(_readings_files(root / AIR_READINGS, problems, warnings))  # .csv, .xlsx
    return AirProject(root, stations, files, tuple(warnings)), problems


def load_air(root: str | Path, *, cities: Collection[str] | None = None) -> AirProject:
    """The project's stations catalog and air readings files; ValidationFailed on problems."""
    project, problems = _scan(Path(root), cities)
    if problems:
        raise ValidationFailed(problems, what=f"the air data of {root}")
    return project


def check_air(root: str | Path, *, cities: Collection[str] | Mapping[str, str] | None = None,
              ) -> list[Problem]:
    """Every problem of the project's air data, files included (empty when all is well)."""
    from ecocomp.air.readings import read_air_readings

    project, problems = _scan(Path(root), cities)
    for file in project.files:
        try:
            read_air_readings(file, stations=project.stations, cities=cities)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    return problems


def gone_air_files(root: str | Path, conn: sqlite3.Connection, db: str | Path,
                   ) -> list[Problem]:
    """Air readings files imported into ``conn``'s database that are no longer in the
    project's ``air-readings/`` (by name and content), whose values still count."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'air_imports'").fetchone() is None:
        return []
    from ecocomp.store import file_sha256

    project, _problems = _scan(Path(root), None)
    names = {f.name for f in project.files}
    imports = [row for row in conn.execute(
        "SELECT id, file, sha256, imported_at FROM air_imports ORDER BY id")
        if Path(row[1]).name not in names]
    digests = {file_sha256(f) for f in project.files} if imports else set()
    found = []
    for import_id, file, digest, imported_at in imports:
        if digest in digests:
            continue  # renamed: the same content is still in the project
        count = conn.execute("SELECT count(*) FROM air_readings WHERE import_id = ?",
                             (import_id,)).fetchone()[0]
        if count:
            found.append(Problem(
                f"imported into {db} on {imported_at[:10]} but no longer in {AIR_READINGS}/; "
                f"its {count:,} air values still count. Put the file back; stored air values "
                "cannot be removed yet: if it was removed on purpose, settle from the project's "
                "files into a new database (ecocomp settle PROJECT --year Y --db NEW.db)",
                file=file))
    return found


def import_project_air(root: str | Path, db_or_store: Any, *,
                       cities: Collection[str] | Mapping[str, str] | None = None,
                       ) -> list[AirImportResult]:
    """Import the project's ``air-readings/`` (and record its stations), all or nothing."""
    from ecocomp.air.store import AirStore

    project = load_air(root, cities=cities)
    store, owned = AirStore.of(db_or_store)
    try:
        return store.import_files(project.files, stations=project.stations, cities=cities)
    finally:
        if owned:
            store.close()
