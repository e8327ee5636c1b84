"""Air quality (大气): standards as data, exact AQI, period statistics, readings import.

Pure core: :mod:`~ecocomp.air.standards` (GB 3095 limits, HJ 633 breakpoints, HJ 663 rules as
versioned data), :mod:`~ecocomp.air.aqi` (IAQI/AQI with exact fractions),
:mod:`~ecocomp.air.statistics` (city days, period statistics, attainment). Edges:
:mod:`~ecocomp.air.stations` (``air_stations.toml``), :mod:`~ecocomp.air.readings` (files),
:mod:`~ecocomp.air.store` (the ``air_*`` tables of a project database) and
:mod:`~ecocomp.air.assess` (store → statistics). See docs/air.md.
"""

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
