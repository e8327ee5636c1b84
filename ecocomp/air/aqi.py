"""IAQI and AQI per HJ 633, exactly: fractions throughout, rounded up once at the end.

In Decimal, (50/35)·35 is 50.000…02 and rounds up to 51 at PM2.5 = 35; with
:class:`fractions.Fraction` the interpolation is exact and PM2.5 = 35 gives exactly 50.

>>> iaqi("pm25", Decimal("35"), version="HJ633-2012"), iaqi("pm25", Decimal("70"), version="2026")
(50, 110)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import attrs

from ecocomp.air.standards import AqiStandard, hj633, hj663
from ecocomp.errors import StandardError
from ecocomp.money import in_money_context

__all__ = [
    "DAILY_KEYS",
    "Category",
    "DailyAqi",
    "category",
    "daily_aqi",
    "iaqi",
    "iaqi_fraction",
    "keyed_values",
    "parameter_key",
]

#: The concentrations a daily AQI is computed from (HJ 633 §5.1): 24 h means, O3 daily
#: maximum 1 h and maximum 8 h mean.
DAILY_KEYS = ("so2_24h", "no2_24h", "pm10_24h", "pm25_24h", "co_24h", "o3_8h", "o3_1h")
_DEFAULT_AVERAGING = {"so2": "24h", "no2": "24h", "pm10": "24h", "pm25": "24h", "co": "24h"}


def parameter_key(pollutant: str) -> str:
    """``pm25`` → ``pm25_24h``; keys with an averaging suffix (``o3_8h``) stay as they are.

    >>> parameter_key("PM2.5"), parameter_key("o3_8h")
    ('pm25_24h', 'o3_8h')
    """
    text = str(pollutant).strip().lower().replace(".", "").replace("₂", "2").replace("₃", "3")
    text = text.replace("-", "_")
    if text in _DEFAULT_AVERAGING:
        return f"{text}_{_DEFAULT_AVERAGING[text]}"
    if text == "o3":
        raise StandardError("o3 needs its averaging: write o3_8h (daily maximum 8 h mean) or "
                            "o3_1h (1 h)")
    return text


def keyed_values(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``values`` by :func:`parameter_key`; two names of one parameter (``pm25`` and
    ``PM2.5``, ``co`` and ``co_24h``) with different values are refused, not one dropped.

    >>> keyed_values({"PM2.5": Decimal(35), "co": Decimal("1.2")})
    {'pm25_24h': Decimal('35'), 'co_24h': Decimal('1.2')}
    """
    found: dict[str, Decimal] = {}
    names: dict[str, str] = {}
    for name, value in values.items():
        key = parameter_key(name)
        number = Decimal(value)
        if key in found and found[key] != number:
            raise StandardError(
                f"{names[key]!r} = {found[key]} and {name!r} = {value} are both {key}; give "
                "each pollutant once")
        found[key] = number
        names.setdefault(key, name)
    return found


def iaqi_fraction(key: str, value: Decimal | Fraction | int, standard: AqiStandard,
                  ) -> Fraction | None:
    """The exact IAQI of ``value`` for breakpoint row ``key``, before rounding up.

    None when the row does not apply above its last breakpoint (SO2 1 h above 800, O3 8 h
    above 800: HJ 633 reports another averaging time's IAQI instead, see ``beyond``).
    Above the last breakpoint of other rows the IAQI is 500 (the scale ends there) [I].
    """
    row = standard.row(key)
    c = Fraction(value)
    if c < 0:
        raise StandardError(f"{key} concentration {value} is negative")
    points = row.values
    if c > points[-1]:
        if row.beyond.startswith("use:"):
            return None
        return Fraction(standard.iaqi[len(points) - 1])
    for i in range(1, len(points)):
        hi = Fraction(points[i])
        if c <= hi:
            lo = Fraction(points[i - 1])
            i_lo, i_hi = standard.iaqi[i - 1], standard.iaqi[i]
            return (i_hi - i_lo) * (c - lo) / (hi - lo) + i_lo
    raise AssertionError("unreachable: c <= points[-1]")


@in_money_context
def iaqi(pollutant: str, value: Decimal, *, version: str) -> int:
    """空气质量分指数 of one concentration under an HJ 633 version, rounded up to a whole number.

    ``pollutant`` is a key such as ``pm25`` (24 h), ``pm25_24h``, ``so2_1h``, ``o3_8h``;
    ``version`` is ``HJ633-2012``, ``HJ633-2026``, ``2012``, ``2026`` or a GB 3095 version
    (its paired HJ 633). Raises when the averaging does not apply to the value (O3 8 h above
    800 μg/m³: use ``o3_1h``).
    """
    standard = hj633(version)
    key = parameter_key(pollutant)
    exact = iaqi_fraction(key, Decimal(value), standard)
    if exact is None:
        row = standard.row(key)
        raise StandardError(
            f"{standard.id}: {key} above {row.values[-1]} has no IAQI of its own; compute "
            f"the IAQI of {row.beyond[4:]} instead")
    return math.ceil(exact)


@attrs.frozen
class Category:
    """An AQI category (HJ 633 Table 2): level 1..6, code, Chinese name."""

    level: int
    code: str
    name: str

    @property
    def good(self) -> bool:
        """优良: AQI ≤ 100."""
        return self.level <= 2


def category(aqi: int) -> Category:
    """The category of an AQI value.

    >>> category(50).name, category(51).name, category(201).code
    ('优', '良', 'heavy')
    """
    rules = hj663()
    level = 1 + sum(1 for upper in rules.category_upper if aqi > upper)
    return Category(level, rules.category_codes[level - 1], rules.category_names[level - 1])


@attrs.frozen
class DailyAqi:
    """A day's AQI: each pollutant's IAQI, the AQI (their maximum), category, primary."""

    iaqi: Mapping[str, int]
    aqi: int
    category: Category
    primary: tuple[str, ...]
    version: str

    @property
    def good(self) -> bool:
        return self.aqi <= int(hj663().categories["good_at_most"].value)

    @property
    def heavy(self) -> bool:
        return self.aqi > int(hj663().categories["heavy_above"].value)


@in_money_context
def daily_aqi(values: Mapping[str, Decimal], *, version: str) -> DailyAqi:
    """The daily AQI from a day's concentrations (keys of :data:`DAILY_KEYS`, or ``pm25``...).

    AQI is the largest IAQI; the primary pollutants are those whose IAQI equals it when the
    AQI is above 50. O3 8 h above 800 μg/m³ is reported through the O3 1 h IAQI.

    >>> day = daily_aqi({"pm25": Decimal(80), "pm10": Decimal(130)}, version="2012")
    >>> day.aqi, day.primary, day.category.name
    (107, ('pm25_24h',), '轻度污染')
    """
    standard = hj633(version)
    found: dict[str, int] = {}
    keyed = keyed_values(values)
    for key, value in keyed.items():
        exact = iaqi_fraction(key, value, standard)
        if exact is None:
            other = standard.row(key).beyond[4:]
            if other not in keyed:
                raise StandardError(
                    f"{standard.id}: {key} = {value} is above {standard.row(key).values[-1]}; "
                    f"its IAQI is that of {other}, which is missing for the day")
            continue
        found[key] = math.ceil(exact)
    if not found:
        raise StandardError("a daily AQI needs at least one concentration")
    aqi = max(found.values())
    above = int(hj663().categories["primary_above"].value)
    primary = tuple(sorted(k for k, v in found.items() if v == aqi)) if aqi > above else ()
    return DailyAqi(found, aqi, category(aqi), primary, standard.id)
