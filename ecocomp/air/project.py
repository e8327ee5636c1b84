"""A project folder's air data: ``air_stations.toml`` and the files in ``air-readings/``.

``air-readings/`` follows the rules of ``readings/`` (docs/project.md): only ``*.csv`` and
``*.xlsx`` files are read (every sheet of a workbook with data, like a CSV file); any other
file or a sub-folder there is a problem (its data would otherwise be left out without a word);
hidden files and Excel lock files are skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ecocomp.air.stations import StationCatalog, load_stations
from ecocomp.errors import Problem, ValidationFailed

if TYPE_CHECKING:  # the readings parser and the store load where files are read or imported
    from ecocomp.air.store import AirImportResult

__all__ = ["AIR_READINGS", "STATIONS_FILE", "AirProject", "check_air", "import_project_air",
           "load_air"]

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
