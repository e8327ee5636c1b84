"""Air quality (大气): standards as data, exact AQI, period statistics, readings import.

Pure core: :mod:`~ecocomp.air.standards` (GB 3095 limits, HJ 633 breakpoints, HJ 663 rules as
versioned data), :mod:`~ecocomp.air.aqi` (IAQI/AQI with exact fractions),
:mod:`~ecocomp.air.statistics` (city days, period statistics, attainment). Edges:
:mod:`~ecocomp.air.stations` (``air_stations.toml``), :mod:`~ecocomp.air.readings` (files),
:mod:`~ecocomp.air.store` (the ``air_*`` tables of a project database) and
:mod:`~ecocomp.air.assess` (store → statistics). See docs/air.md.
"""

from ecocomp.air.aqi import Category, DailyAqi, category, daily_aqi, iaqi, iaqi_fraction
from ecocomp.air.standards import gb3095, hj633, hj663, resolve_standard
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

__all__ = [
    "AirAssessments",
    "AirStatistics",
    "Category",
    "CityDay",
    "DailyAqi",
    "attains",
    "category",
    "city_day",
    "composite_index",
    "daily_aqi",
    "gb3095",
    "hj633",
    "hj663",
    "iaqi",
    "iaqi_fraction",
    "percentile",
    "period_statistics",
    "resolve_standard",
    "round_concentration",
]
