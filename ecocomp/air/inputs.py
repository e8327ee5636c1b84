"""The ``air`` inputs of a settlement run: the project's air readings and their statistics.

:func:`import_air` imports a project's ``air-readings/`` (and ``air_stations.toml``) inside
the run's transaction, through the run's own connection, so that the water and the air files
of a run are imported together or not at all (and a dry run's imports are rolled back);
:func:`air_inputs`, registered as the builder of ``air`` inputs (:mod:`ecocomp.inputs`),
assesses every city for the settlement year and the year before at each granularity the air
agreements in force settle by (month, quarter, year), reading what the run sees.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecocomp.air.project import AIR_READINGS, STATIONS_FILE, import_project_air
from ecocomp.inputs import register_inputs
from ecocomp.periods import Period

if TYPE_CHECKING:
    from ecocomp.air.statistics import AirAssessments
    from ecocomp.air.store import AirImportResult

__all__ = ["air_inputs", "has_air_data", "import_air", "periods_needed"]


def has_air_data(root: str | Path) -> bool:
    """Whether a project folder has air data (``air-readings/`` or ``air_stations.toml``)."""
    root = Path(root)
    return (root / AIR_READINGS).is_dir() or (root / STATIONS_FILE).is_file()


def import_air(project: Any, store: Any) -> list[AirImportResult]:
    """Import the project's air data through ``store`` (a path, or the run's readings store,
    whose transaction it joins); nothing when the project has no air data."""
    if not has_air_data(project.root):
        return []
    cities = {code: party.name for code, party in project.parties.items()}
    return import_project_air(project.root, store, cities=cities)


def periods_needed(project: Any, year: int) -> set[str]:
    """The granularities (``year``, ``quarter``, ``month``) the air agreements in force use."""
    from ecocomp.formulas import get_formula

    found = set()
    for agreement in project.agreements:
        if agreement.in_force(Period(year)) and get_formula(agreement.formula).inputs == "air":
            found.add(agreement.params.get("period", "year"))
    return found


def air_inputs(
    project: Any, store: Any, year: int, *,
    progress: Callable[[str, int], None] | None = None, evidence: Any = None,
) -> AirAssessments:
    """Every city's air statistics for ``year`` and the year before.

    ``evidence`` (the run's :class:`~ecocomp.evidence.InputsDigest`) hashes the city days
    read, and the run is refused if they were edited outside ecocomp
    (:mod:`ecocomp.air.evidence`).
    """
    from ecocomp.air.assess import assess_air
    from ecocomp.air.evidence import hash_city_days
    from ecocomp.air.statistics import AirAssessments
    from ecocomp.air.store import AirStore

    air, owned = AirStore.of(store)
    try:
        statistics: dict[Any, Any] = {}
        daily: dict[str, Any] = {}
        for kind in sorted(periods_needed(project, year)) or ["year"]:
            found = assess_air(air, year=year, periods=kind, years_back=1)
            statistics.update(found.statistics)
            daily.update(found.daily)
        if evidence is not None:
            names = {code: party.name for code, party in project.parties.items()}
            hash_city_days(air, daily, evidence, first=year - 1, last=year, names=names)
        return AirAssessments(statistics, daily)
    finally:
        if owned:
            air.close()


register_inputs("air", air_inputs, evidence=True)
