"""Assess a year of air data from the store: city days and period statistics.

The one step between the store and the pure statistics: read the cities' daily values
(:meth:`~ecocomp.air.store.AirStore.city_values`), build each :class:`CityDay` under the
HJ 633 version of the standard in force, and compute :func:`period_statistics` per city and
period. Formulas read the result (:class:`AirAssessments`), never the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from ecocomp.air.standards import PAIRED, resolve_standard
from ecocomp.air.statistics import (
    AirAssessments,
    AirPeriod,
    AirStatistics,
    CityDay,
    Rounding,
    city_day,
    period_statistics,
)
from ecocomp.air.store import AirStore
from ecocomp.errors import AssessmentError
from ecocomp.money import in_money_context
from ecocomp.periods import Period, Quarter

__all__ = ["assess_air", "periods_of"]

PeriodKind = Literal["year", "quarter", "month"]


def periods_of(year: int, kind: str) -> tuple[AirPeriod, ...]:
    """The periods of ``kind`` in ``year``.

    >>> [str(p) for p in periods_of(2026, "quarter")]
    ['2026-Q1', '2026-Q2', '2026-Q3', '2026-Q4']
    """
    if kind == "year":
        return (Period(year),)
    if kind == "quarter":
        return tuple(Quarter(year, q) for q in range(1, 5))
    if kind == "month":
        return tuple(Period(year, m) for m in range(1, 13))
    raise AssessmentError(f"periods {kind!r} is not year, quarter or month")


@in_money_context
def assess_air(
    db_or_store: Any,
    *,
    year: int,
    periods: str = "year",
    standard: str = "by_date",
    cities: Iterable[str] | None = None,
    years_back: int = 1,
    round_concentrations: Rounding = "none",
) -> AirAssessments:
    """Every city's statistics for ``year`` and the ``years_back`` years before it.

    ``periods`` is ``year``, ``quarter`` or ``month``; ``standard`` a GB 3095 version or
    ``by_date`` (per period, the version in force on its last day); ``cities`` limits the
    cities (party codes). ``daily`` holds each city's days of all those years, their AQI under
    the standard in force at the end of each day's year.
    """
    if years_back < 0:
        raise AssessmentError("years_back must be 0 or more")
    store, owned = AirStore.of(db_or_store)
    try:
        first = year - years_back
        values = store.city_values(start=date(first, 1, 1), end=date(year, 12, 31),
                                   cities=cities)
    finally:
        if owned:
            store.close()
    days: dict[str, list[CityDay]] = {}
    for (city, day), concentrations in sorted(values.items()):
        version = PAIRED[resolve_standard(standard, date(day.year, 12, 31))]
        days.setdefault(city, []).append(
            city_day(city, day, concentrations, version=version,
                     round_concentrations=round_concentrations))
    statistics: dict[tuple[str, AirPeriod], AirStatistics] = {}
    for city, own in days.items():
        for y in range(first, year + 1):
            for period in periods_of(y, periods):
                statistics[(city, period)] = period_statistics(
                    own, city=city, period=period, standard=standard,
                    round_concentrations=round_concentrations)
    return AirAssessments(statistics, {city: tuple(own) for city, own in days.items()})
