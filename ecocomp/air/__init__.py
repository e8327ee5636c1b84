"""Air quality (大气): standards as data, exact AQI, period statistics, readings import.

Pure core: :mod:`~ecocomp.air.standards` (GB 3095 limits, HJ 633 breakpoints, HJ 663 rules as
versioned data), :mod:`~ecocomp.air.aqi` (IAQI/AQI with exact fractions),
:mod:`~ecocomp.air.statistics` (city days, period statistics, attainment). Edges:
:mod:`~ecocomp.air.stations` (``air_stations.toml``), :mod:`~ecocomp.air.readings` (files),
:mod:`~ecocomp.air.store` (the ``air_*`` tables of a project database) and
:mod:`~ecocomp.air.assess` (store → statistics). See docs/air.md.
"""

from typing import TYPE_CHECKING

from ecocomp.exports import lazy

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from ecocomp.air.aqi import Category, DailyAqi, category, daily_aqi, iaqi, iaqi_fraction
    from ecocomp.air.assess import assess_air, periods_of
    from ecocomp.air.project import AirProject, check_air, import_project_air, load_air
    from ecocomp.air.readings import AirReading, read_air_readings
    from ecocomp.air.standards import gb3095, hj633, hj663, resolve_standard
    from ecocomp.air.stations import Station, StationCatalog, load_stations
    from ecocomp.air.statistics import (
        AirAssessments,
        AirStatistics,
        CityDay,
        attains,
        city_day,
        composite_index,
        percentile,
        period_statistics,
        round_concentration,
    )
    from ecocomp.air.store import AirImportResult, AirStore

#: Where each public name lives (loaded on first use: a water settlement never loads the
#: air store).
_EXPORTS: dict[str, str] = {
    "AirAssessments": "ecocomp.air.statistics",
    "AirImportResult": "ecocomp.air.store",
    "AirProject": "ecocomp.air.project",
    "AirReading": "ecocomp.air.readings",
    "AirStatistics": "ecocomp.air.statistics",
    "AirStore": "ecocomp.air.store",
    "Category": "ecocomp.air.aqi",
    "CityDay": "ecocomp.air.statistics",
    "DailyAqi": "ecocomp.air.aqi",
    "Station": "ecocomp.air.stations",
    "StationCatalog": "ecocomp.air.stations",
    "assess_air": "ecocomp.air.assess",
    "attains": "ecocomp.air.statistics",
    "category": "ecocomp.air.aqi",
    "check_air": "ecocomp.air.project",
    "city_day": "ecocomp.air.statistics",
    "composite_index": "ecocomp.air.statistics",
    "daily_aqi": "ecocomp.air.aqi",
    "gb3095": "ecocomp.air.standards",
    "hj633": "ecocomp.air.standards",
    "hj663": "ecocomp.air.standards",
    "iaqi": "ecocomp.air.aqi",
    "iaqi_fraction": "ecocomp.air.aqi",
    "import_project_air": "ecocomp.air.project",
    "load_air": "ecocomp.air.project",
    "load_stations": "ecocomp.air.stations",
    "percentile": "ecocomp.air.statistics",
    "period_statistics": "ecocomp.air.statistics",
    "periods_of": "ecocomp.air.assess",
    "read_air_readings": "ecocomp.air.readings",
    "resolve_standard": "ecocomp.air.standards",
    "round_concentration": "ecocomp.air.statistics",
}

__getattr__, __dir__ = lazy(__name__, globals(), _EXPORTS)

__all__ = [
    "AirAssessments",
    "AirImportResult",
    "AirProject",
    "AirReading",
    "AirStatistics",
    "AirStore",
    "Category",
    "CityDay",
    "DailyAqi",
    "Station",
    "StationCatalog",
    "assess_air",
    "attains",
    "category",
    "check_air",
    "city_day",
    "composite_index",
    "daily_aqi",
    "gb3095",
    "hj633",
    "hj663",
    "iaqi",
    "iaqi_fraction",
    "import_project_air",
    "load_air",
    "load_stations",
    "percentile",
    "period_statistics",
    "periods_of",
    "read_air_readings",
    "resolve_standard",
    "round_concentration",
]
