"""City days and period statistics with HJ 663 validity; attainment of a GB 3095 grade.

Pure functions over frozen values: a :class:`CityDay` is one city's daily concentrations
with their AQI; :func:`period_statistics` turns a period's city days into an
:class:`AirStatistics` (mean of daily means, CO p95, O3-8h p90, good/valid/heavy days, the
good-day ratio, 综合指数), each statistic flagged valid or not under the HJ 663 counts, with
the evidence a statement shows. :func:`attains` compares a period's statistics with a grade.

>>> percentile([Decimal(v) for v in range(100, 200, 10)], Decimal("0.90"))
Decimal('181.00')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Literal

import attrs

from ecocomp.air.aqi import Category, daily_aqi, keyed_values
from ecocomp.air.standards import PAIRED, gb3095, hj663, resolve_standard
from ecocomp.errors import AssessmentError
from ecocomp.money import CONTEXT, in_money_context
from ecocomp.periods import Period, Quarter

__all__ = [
    "MEAN_STATISTICS",
    "REQUIRED_DAILY",
    "ROUNDINGS",
    "ROUNDING_WORDS",
    "STATISTICS",
    "AirAssessments",
    "AirStatistics",
    "CityDay",
    "attains",
    "city_day",
    "composite_index",
    "exact_decimal",
    "percentile",
    "period_statistics",
    "round_concentration",
]

#: How concentrations are rounded (修约) before the AQI and the statistics: ``none`` keeps
#: them exact; ``half_even`` (四舍六入五成双, GB/T 8170, HJ 663 [P]) and ``half_up`` (四舍五入,
#: some provinces' agreements) round at the HJ 663 places (μg/m³ to whole numbers, CO mg/m³
#: to 0.1). ``hj663`` is the earlier name of ``half_even``.
Rounding = Literal["none", "half_even", "half_up", "hj663"]
#: The roundings an agreement can name (``hj663`` is accepted only as the library's alias).
ROUNDINGS: tuple[str, ...] = ("none", "half_even", "half_up")
#: Each rounding in words, for evidence and explanations.
_HALF_EVEN_WORDS = "half to even (四舍六入五成双)"
ROUNDING_WORDS = {"half_even": _HALF_EVEN_WORDS, "hj663": _HALF_EVEN_WORDS,
                  "half_up": "half up (四舍五入)", "none": "not at all (exact)"}
_DECIMAL_ROUNDING = {"half_even": ROUND_HALF_EVEN, "hj663": ROUND_HALF_EVEN,
                     "half_up": ROUND_HALF_UP}
AirPeriod = Period | Quarter

#: The six daily concentrations a day needs to count as a valid (有效) AQI day [I N50].
REQUIRED_DAILY = ("so2_24h", "no2_24h", "pm10_24h", "pm25_24h", "co_24h", "o3_8h")
#: Statistic → the daily key it is the mean of.
MEAN_STATISTICS = {"pm25": "pm25_24h", "pm10": "pm10_24h", "so2": "so2_24h", "no2": "no2_24h"}
#: Percentile statistics → (daily key, hj663.toml percentile name).
PERCENTILE_STATISTICS = {"co_p95": ("co_24h", "co"), "o3_8h_p90": ("o3_8h", "o3")}
#: Statistic → (pollutant, averaging of the GB 3095 limit it is compared with).
LIMIT_OF = {"pm25": ("pm25", "annual"), "pm10": ("pm10", "annual"), "so2": ("so2", "annual"),
            "no2": ("no2", "annual"), "co_p95": ("co", "24h"), "o3_8h_p90": ("o3", "8h")}
STATISTICS = (*MEAN_STATISTICS, *PERCENTILE_STATISTICS, "good_days", "valid_days",
              "heavy_days", "good_ratio", "composite_index")
_PLACES = Decimal(10) ** -20  # a mean that is not a finite decimal keeps 20 decimals


def exact_decimal(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact when it is a finite decimal, else 20 decimals half-even."""
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 60
        den = value.denominator
        twos = fives = 0
        while den % 2 == 0:
            den //= 2
            twos += 1
        while den % 5 == 0:
            den //= 5
            fives += 1
        result = Decimal(value.numerator) / Decimal(value.denominator)
        if den == 1:
            return result.quantize(Decimal(10) ** -max(twos, fives)) if value.denominator > 1 \
                else result
        return result.quantize(_PLACES, rounding=ROUND_HALF_EVEN)


@in_money_context
def round_concentration(key: str, value: Decimal, rule: str = "half_even") -> Decimal:
    """修约 at the HJ 663 places [P]: μg/m³ to a whole number, CO (mg/m³) to 0.1.

    ``rule`` is ``half_even`` (四舍六入五成双, GB/T 8170 and HJ 663) or ``half_up`` (四舍五入).

    >>> [round_concentration(k, Decimal(v)) for k, v in (("pm25_24h", "34.5"), ("co_24h", "1.25"))]
    [Decimal('34'), Decimal('1.2')]
    >>> [round_concentration(k, Decimal(v), "half_up")
    ...  for k, v in (("pm25_24h", "34.5"), ("co_24h", "1.25"))]
    [Decimal('35'), Decimal('1.3')]
    """
    rounding = _rounding_of(rule)
    if rounding is None:
        return value
    rules = hj663().rounding
    places = rules["co_places" if key.startswith("co") else "ug_places"].value
    return value.quantize(Decimal(10) ** -int(places), rounding=rounding)


def _rounding_of(rule: str) -> str | None:
    """The decimal rounding mode of ``rule`` (None: ``none``, keep exact)."""
    if rule == "none":
        return None
    try:
        return _DECIMAL_ROUNDING[rule]
    except (KeyError, TypeError):
        raise AssessmentError(
            f"rounding {rule!r} is not one of {', '.join(map(repr, ROUNDINGS))}: write "
            "\"half_even\" (四舍六入五成双, HJ 663), \"half_up\" (四舍五入) or \"none\" (exact)"
        ) from None


def percentile(values: Sequence[Decimal], p: Decimal) -> Decimal:
    """The p-th percentile per HJ 663: k = 1 + (n − 1)·p, interpolated between ranks, exact.

    ``X_p = X_(s) + (X_(s+1) − X_(s))·(k − s)`` with s the whole part of k and X ascending.
    """
    if not values:
        raise AssessmentError("a percentile needs at least one value")
    ordered = sorted(values)
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 60
        k = 1 + (len(ordered) - 1) * Decimal(p)
        s = int(k)
        low = ordered[s - 1]
        if s >= len(ordered):
            return low
        return low + (ordered[s] - low) * (k - s)


@attrs.frozen
class CityDay:
    """One city's day: its daily concentrations and, when it has any, their AQI."""

    city: str
    day: date
    values: Mapping[str, Decimal]
    version: str
    iaqi: Mapping[str, int] = attrs.field(factory=dict)
    aqi: int | None = None
    category: Category | None = None
    primary: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the six daily concentrations are all there (a valid AQI day)."""
        return all(k in self.values for k in REQUIRED_DAILY)

    @property
    def good(self) -> bool:
        return self.aqi is not None and self.aqi <= int(
            hj663().categories["good_at_most"].value)

    @property
    def heavy(self) -> bool:
        return self.aqi is not None and self.aqi > int(hj663().categories["heavy_above"].value)


@in_money_context
def city_day(city: str, day: date, values: Mapping[str, Decimal], *, version: str,
             round_concentrations: Rounding = "none") -> CityDay:
    """A :class:`CityDay` with its AQI under the HJ 633 ``version`` (or a GB 3095 one).

    ``round_concentrations`` (``none``, ``half_even``, ``half_up``; ``hj663`` = ``half_even``)
    rounds the concentrations at the HJ 663 places before the AQI is computed from them.
    """
    clean = keyed_values(values)
    if _rounding_of(round_concentrations) is not None:
        clean = {k: round_concentration(k, v, round_concentrations) for k, v in clean.items()}
    if not clean:
        return CityDay(city, day, clean, version)
    found = daily_aqi(clean, version=version)
    return CityDay(city, day, clean, found.version, found.iaqi, found.aqi, found.category,
                   found.primary)


def _month_minimum(month: int) -> int:
    return hj663().threshold("daily_values_per_february" if month == 2
                             else "daily_values_per_month")


def _valid_count(days: Iterable[date], period: AirPeriod) -> tuple[bool, str]:
    """Whether the days with a value satisfy the HJ 663 counts for ``period``, and why not."""
    per_month: dict[int, int] = {}
    total = 0
    for d in days:
        per_month[d.month] = per_month.get(d.month, 0) + 1
        total += 1
    months = [m.month for m in period.months()]
    short = [f"{period.year}-{m:02d} has {per_month.get(m, 0)} < {_month_minimum(m)}"
             for m in months if per_month.get(m, 0) < _month_minimum(m)]
    if isinstance(period, Period) and not period.is_month:
        need = hj663().threshold("daily_values_per_year")
        if total < need:
            short.insert(0, f"{total} daily values < {need} a year")
    return (not short, "; ".join(short))


@attrs.frozen
class AirStatistics:
    """A city's air statistics over a period, each flagged valid under HJ 663.

    ``values``: ``pm25``, ``pm10``, ``so2``, ``no2`` (mean of daily means, μg/m³), ``co_p95``
    (mg/m³), ``o3_8h_p90`` (μg/m³), ``good_days``, ``valid_days``, ``heavy_days`` (whole
    numbers), ``good_ratio`` (percent, 4 decimals half-even; the exact fraction is in
    ``evidence``), ``composite_index`` (4 decimals half-even). A statistic without any data is
    absent; one with too few days is present with ``valid[name] = False``.
    """

    city: str
    period: AirPeriod
    standard: str
    values: Mapping[str, Decimal]
    valid: Mapping[str, bool]
    evidence: Mapping[str, str] = attrs.field(factory=dict)

    def __getitem__(self, name: str) -> Decimal:
        return self.values[name]


@attrs.frozen
class AirAssessments:
    """Every city's statistics per period, and its days (for the AQI calendar)."""

    statistics: Mapping[tuple[str, AirPeriod], AirStatistics]
    daily: Mapping[str, tuple[CityDay, ...]]

    def get(self, city: str, period: AirPeriod | str) -> AirStatistics | None:
        if isinstance(period, str):
            period = Quarter.parse(period) if "Q" in period.upper() else Period.parse(period)
        return self.statistics.get((city, period))

    def cities(self) -> list[str]:
        return sorted({city for city, _ in self.statistics})


@in_money_context
def composite_index(values: Mapping[str, Decimal], *, standard: str, on: date,
                    ) -> tuple[Fraction, str]:
    """综合指数 Σ C_i/S_i over the six statistics, S_i the grade II limits; exact, with evidence.

    >>> index, _ = composite_index({"so2": Decimal(8), "no2": Decimal(25), "pm10": Decimal(55),
    ...     "pm25": Decimal(33), "co_p95": Decimal("1.2"), "o3_8h_p90": Decimal(150)},
    ...     standard="GB3095-2012", on=date(2025, 12, 31))
    >>> round(float(index), 4)
    3.7244
    """
    limits = gb3095(resolve_standard(standard, on))
    total = Fraction(0)
    terms = []
    for statistic, averaging in hj663().composite:
        pollutant = LIMIT_OF[statistic][0]
        limit = limits.limit(pollutant, averaging, "II", on=on).value
        total += Fraction(values[statistic]) / Fraction(limit)
        terms.append(f"{values[statistic]}/{limit}")
    return total, " + ".join(terms)


def _quantized(value: Fraction, places: int) -> Decimal:
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(10) ** -places, rounding=ROUND_HALF_EVEN)


@in_money_context
def period_statistics(days: Iterable[CityDay], *, city: str, period: AirPeriod,
                      standard: str = "by_date", round_concentrations: Rounding = "none",
                      ) -> AirStatistics:
    """The statistics of ``city``'s days within ``period`` under ``standard``.

    ``standard`` is a GB 3095 version or ``by_date`` (the version in force on the period's
    last day); the days' AQI are recomputed under the paired HJ 633 version.
    ``round_concentrations`` other than ``none`` rounds each daily concentration (and its
    AQI follows) and then each concentration statistic, at the HJ 663 places; the evidence
    says so.
    """
    version = resolve_standard(standard, period.end)
    aqi_version = PAIRED[version]
    rules = hj663()
    rounds = _rounding_of(round_concentrations) is not None
    own = [d if d.version == aqi_version and not rounds else
           city_day(d.city, d.day, d.values, version=aqi_version,
                    round_concentrations=round_concentrations)
           for d in days if d.city == city and period.contains(d.day)]
    seen: set[date] = set()
    repeated = sorted({d.day for d in own if d.day in seen or seen.add(d.day)})
    if repeated:
        raise AssessmentError(
            f"city {city}: {len(repeated)} day(s) given twice in {period} ("
            + ", ".join(map(str, repeated[:5])) + (", …" if len(repeated) > 5 else "")
            + "); give each city day once (a repeated day would count twice towards the HJ "
            "663 day counts and the means)")
    values: dict[str, Decimal] = {}
    valid: dict[str, bool] = {}
    evidence: dict[str, str] = {}

    def finish(name: str, value: Decimal) -> tuple[Decimal, str]:
        """The statistic rounded as ``round_concentrations`` says, and the evidence's note."""
        if not rounds:
            return value, ""
        key = MEAN_STATISTICS.get(name) or PERCENTILE_STATISTICS[name][0]
        rounded = round_concentration(key, value, round_concentrations)
        return rounded, (f" = {value}, rounded {ROUNDING_WORDS[round_concentrations]} to "
                         f"{rounded} (the daily values too)")

    for name, key in MEAN_STATISTICS.items():
        with_value = [d for d in own if key in d.values]
        if not with_value:
            continue
        total = sum((d.values[key] for d in with_value), Decimal(0))
        mean = Fraction(total) / len(with_value)
        values[name], note = finish(name, exact_decimal(mean))
        valid[name], why = _valid_count((d.day for d in with_value), period)
        evidence[name] = (f"mean of {len(with_value)} daily values: {total}/{len(with_value)}"
                          + note + (f"; not valid: {why}" if why else ""))
    for name, (key, rule) in PERCENTILE_STATISTICS.items():
        with_value = [d for d in own if key in d.values]
        if not with_value:
            continue
        p = Decimal(str(rules.percentiles[rule].value))
        values[name], note = finish(name, percentile([d.values[key] for d in with_value], p))
        valid[name], why = _valid_count((d.day for d in with_value), period)
        k = 1 + (len(with_value) - 1) * p
        evidence[name] = (f"p{int(p * 100)} of {len(with_value)} daily values (HJ 663: "
                          f"k = 1 + ({len(with_value)} − 1)·{p} = {k})"
                          + note + (f"; not valid: {why}" if why else ""))
    complete = [d for d in own if d.complete]
    good = sum(1 for d in complete if d.good)
    heavy = sum(1 for d in complete if d.heavy)
    values["valid_days"] = Decimal(len(complete))
    values["good_days"] = Decimal(good)
    values["heavy_days"] = Decimal(heavy)
    days_ok, why = _valid_count((d.day for d in complete), period)
    for name in ("valid_days", "good_days", "heavy_days"):
        valid[name] = days_ok
    evidence["good_days"] = (f"{good} of {len(complete)} days with all six pollutants have "
                             f"AQI ≤ {rules.categories['good_at_most'].value} ({aqi_version})")
    evidence["heavy_days"] = (f"{heavy} days with AQI > "
                              f"{rules.categories['heavy_above'].value} ({aqi_version})")
    if complete:
        ratio = Fraction(good * 100, len(complete))
        values["good_ratio"] = _quantized(ratio, 4)
        valid["good_ratio"] = days_ok
        evidence["good_ratio"] = (f"{good}/{len(complete)} = {ratio.numerator}/"
                                  f"{ratio.denominator} %" + (f"; not valid: {why}" if why else ""))
    if all(name in values for name in LIMIT_OF):
        index, terms = composite_index(values, standard=version, on=period.end)
        places = int(rules.rounding["composite_places"].value)
        values["composite_index"] = _quantized(index, places)
        valid["composite_index"] = all(valid[name] for name in LIMIT_OF)
        evidence["composite_index"] = f"{terms} = {index.numerator}/{index.denominator}"
    return AirStatistics(city, period, version, values, valid, evidence)


@in_money_context
def attains(stats: AirStatistics, *, standard: str, grade: str = "II",
            ) -> tuple[bool, tuple[str, ...]]:
    """Whether all six statistics are valid and within ``grade``'s limits; the reasons if not.

    ``standard`` is a GB 3095 version or ``by_date`` (in force on the period's last day).
    Annual limits for PM2.5, PM10, SO2, NO2; the 24 h limit for CO p95; the 8 h limit for
    O3-8h p90 (GB 3095, HJ 663).
    """
    on = stats.period.end
    version = resolve_standard(standard, on)
    limits = gb3095(version)
    phase = limits.phase_on(on).name
    reasons = []
    for name, (pollutant, averaging) in LIMIT_OF.items():
        limit = limits.limit(pollutant, averaging, grade, on=on).value
        if name not in stats.values:
            reasons.append(f"{name}: no data")
            continue
        value = stats.values[name]
        if not stats.valid.get(name, False):
            reasons.append(f"{name}: not a valid statistic ({stats.evidence.get(name, '')})")
        elif value > limit:
            reasons.append(f"{name} {value} > {limit} ({version} {phase}, grade {grade}, "
                           f"{averaging})")
    return (not reasons, tuple(reasons))
