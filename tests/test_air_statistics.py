"""Period statistics with HJ 663 validity, 综合指数 and attainment (air-and-park.md A1, A6)."""

from __future__ import annotations

import doctest
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

import ecocomp.air.statistics
from ecocomp.air import (
    AirStatistics,
    attains,
    city_day,
    composite_index,
    percentile,
    period_statistics,
    round_concentration,
)
from ecocomp.periods import Period, Quarter

D = Decimal
CITY = "430800"


def year_of_days(year, values, *, skip=()):
    """A city's days for a whole year, all with ``values`` (a dict or a function of the day)."""
    out = []
    day = date(year, 1, 1)
    while day.year == year:
        if day not in skip:
            v = values(day) if callable(values) else values
            out.append(city_day(CITY, day, v, version="2012"))
        day += timedelta(days=1)
    return out


CLEAN = {"so2_24h": D(8), "no2_24h": D(25), "pm10_24h": D(55), "pm25_24h": D(33),
         "co_24h": D("1.2"), "o3_8h": D(150)}


# ---------------------------------------------------------------- A6 oracle

def test_a6_percentile_of_ten_o3_values_is_181():
    assert percentile([D(v) for v in range(100, 200, 10)], D("0.90")) == 181


def test_a6_composite_index():
    values = {"so2": D(8), "no2": D(25), "pm10": D(55), "pm25": D(33), "co_p95": D("1.2"),
              "o3_8h_p90": D(150)}
    exact, terms = composite_index(values, standard="GB3095-2012", on=date(2025, 12, 31))
    assert exact == Fraction(8, 60) + Fraction(25, 40) + Fraction(55, 70) + Fraction(33, 35) \
        + Fraction(12, 40) + Fraction(150, 160)
    assert D(exact.numerator) / D(exact.denominator) > D("3.7244")
    assert terms.startswith("8/60 + 25/40")


def test_a6_composite_index_from_a_year_of_constant_days():
    stats = period_statistics(year_of_days(2025, CLEAN), city=CITY, period=Period(2025),
                              standard="GB3095-2012")
    assert stats.values["composite_index"] == D("3.7244")
    assert stats.valid["composite_index"]
    assert stats.values["pm25"] == 33 and stats.values["co_p95"] == D("1.2")


# ---------------------------------------------------------------- statistics

def test_means_percentiles_and_day_counts():
    def values(day):
        v = dict(CLEAN)
        v["pm25_24h"] = D(80) if day.month == 1 and day.day <= 10 else D(30)  # IAQI 107
        if day.month == 2 and day.day <= 3:
            v["pm25_24h"] = D(200)  # IAQI 250: 重度
        if day.month == 3 and day.day <= 2:
            v["pm10_24h"] = D(500)  # IAQI 400: 严重
        if day.month == 12:
            v["co_24h"] = D(3)  # 31 days of 3 mg/m³: more than 5 % of the year
        return v
    stats = period_statistics(year_of_days(2025, values), city=CITY, period=Period(2025),
                              standard="GB3095-2012")
    assert stats.values["valid_days"] == 365
    assert stats.values["good_days"] == 365 - 10 - 3 - 2
    assert stats.values["heavy_days"] == 5
    assert stats.values["co_p95"] == 3
    total = 10 * 80 + 3 * 200 + (365 - 13) * 30
    assert stats.values["pm25"] == (D(total) / 365).quantize(D(10) ** -20)
    assert "mean of 365 daily values" in stats.evidence["pm25"]


def test_good_ratio_is_exact_to_four_places_with_the_fraction_in_the_evidence():
    days = year_of_days(2025, lambda d: {**CLEAN, "pm25_24h": D(90) if d.day % 3 == 0
                                                    else D(30)})
    stats = period_statistics(days, city=CITY, period=Period(2025), standard="GB3095-2012")
    good, valid = int(stats.values["good_days"]), int(stats.values["valid_days"])
    assert stats.values["good_ratio"] == (D(good * 100) / D(valid)).quantize(D("0.0001"))
    assert f"{good}/{valid}" in stats.evidence["good_ratio"]


def test_hj663_counts_make_a_year_invalid():
    # 41 missing days (more than 365 - 324)
    missing = {date(2025, 5, 1) + timedelta(days=i) for i in range(42)}
    stats = period_statistics(year_of_days(2025, CLEAN, skip=missing), city=CITY,
                              period=Period(2025), standard="GB3095-2012")
    assert not stats.valid["pm25"]
    assert "323 daily values < 324" in stats.evidence["pm25"]
    ok, reasons = attains(stats, standard="GB3095-2012")
    assert not ok and any("not a valid statistic" in r for r in reasons)


def test_february_needs_25_days_and_other_months_27():
    feb_short = {date(2025, 2, d) for d in range(1, 5)}  # 24 days left in February
    stats = period_statistics(year_of_days(2025, CLEAN, skip=feb_short), city=CITY,
                              period=Period(2025, 2), standard="GB3095-2012")
    assert not stats.valid["pm25"] and "2025-02 has 24 < 25" in stats.evidence["pm25"]
    feb_ok = {date(2025, 2, d) for d in range(1, 4)}  # 25 days
    stats = period_statistics(year_of_days(2025, CLEAN, skip=feb_ok), city=CITY,
                              period=Period(2025, 2), standard="GB3095-2012")
    assert stats.valid["pm25"]
    march = {date(2025, 3, d) for d in range(1, 6)}  # 26 days in March
    stats = period_statistics(year_of_days(2025, CLEAN, skip=march), city=CITY,
                              period=Quarter(2025, 1), standard="GB3095-2012")
    assert not stats.valid["pm25"] and "2025-03 has 26 < 27" in stats.evidence["pm25"]


def test_rounding_hj663_rounds_daily_values_and_statistics():
    days = year_of_days(2025, {**CLEAN, "pm25_24h": D("34.5"), "co_24h": D("1.25")})
    none = period_statistics(days, city=CITY, period=Period(2025), standard="GB3095-2012")
    rounded = period_statistics(days, city=CITY, period=Period(2025), standard="GB3095-2012",
                                round_concentrations="hj663")
    assert none.values["pm25"] == D("34.5") and rounded.values["pm25"] == 34
    assert rounded.values["co_p95"] == D("1.2")
    assert round_concentration("pm10_24h", D("35.5")) == 36


# ---------------------------------------------------------------- attainment (A1)

def test_a1_city_at_32_attains_under_2012_but_not_by_date_in_2026():
    days = year_of_days(2026, {**CLEAN, "pm25_24h": D(32)})
    by_2012 = period_statistics(days, city=CITY, period=Period(2026), standard="GB3095-2012")
    assert attains(by_2012, standard="GB3095-2012") == (True, ())
    by_date = period_statistics(days, city=CITY, period=Period(2026), standard="by_date")
    assert by_date.standard == "GB3095-2026"
    ok, reasons = attains(by_date, standard="by_date")
    assert not ok
    assert reasons == ("pm25 32 > 30 (GB3095-2026 phase1, grade II, annual)",)


def test_attains_needs_every_statistic():
    stats = AirStatistics(CITY, Period(2025), "GB3095-2012", {"pm25": D(20)}, {"pm25": True})
    ok, reasons = attains(stats, standard="GB3095-2012")
    assert not ok and "pm10: no data" in reasons


# ---------------------------------------------------------------- properties

day_values = st.fixed_dictionaries({
    "so2_24h": st.integers(0, 300).map(D), "no2_24h": st.integers(0, 300).map(D),
    "pm10_24h": st.integers(0, 500).map(D), "pm25_24h": st.integers(0, 400).map(D),
    "co_24h": st.decimals("0", "10", places=1), "o3_8h": st.integers(0, 400).map(D)})


@settings(max_examples=30, deadline=None)
@given(values=st.lists(day_values, min_size=1, max_size=60))
def test_good_ratio_is_good_days_over_valid_days(values):
    days = [city_day(CITY, date(2025, 1, 1) + timedelta(days=i), v, version="2012")
            for i, v in enumerate(values)]
    stats = period_statistics(days, city=CITY, period=Period(2025), standard="GB3095-2012")
    good = sum(1 for d in days if d.aqi <= 100)
    assert stats.values["good_days"] == good
    assert stats.values["valid_days"] == len(days)
    exact = Fraction(good * 100, len(days))
    assert abs(Fraction(stats.values["good_ratio"]) - exact) <= Fraction(1, 20000)
    assert f"= {exact.numerator}/{exact.denominator} %" in stats.evidence["good_ratio"]


@given(values=st.lists(st.decimals("0", "1000", places=2), min_size=1, max_size=50),
       p=st.sampled_from([D("0.5"), D("0.9"), D("0.95")]))
def test_percentile_lies_between_the_neighbouring_ranks(values, p):
    result = percentile(values, p)
    assert min(values) <= result <= max(values)
    ordered = sorted(values)
    k = 1 + (len(values) - 1) * p
    assert ordered[int(k) - 1] <= result <= ordered[min(int(k), len(values) - 1)]


def test_docstring_examples():
    assert doctest.testmod(ecocomp.air.statistics).failed == 0


def test_quarters_are_periods_of_three_months():
    q = Quarter.parse("2026-Q1")
    assert (q.start, q.end, q.days, str(q)) == (date(2026, 1, 1), date(2026, 3, 31), 90, "2026-Q1")
    assert [str(m) for m in Quarter(2026, 4).months()] == ["2026-10", "2026-11", "2026-12"]
    assert Quarter.of(date(2026, 8, 15)) == Quarter(2026, 3) and Quarter(2026, 3).contains(
        date(2026, 9, 30))
    assert doctest.testmod(__import__("ecocomp.periods").periods).failed == 0


def test_days_are_rated_under_the_hj633_version_of_the_statistics_standard():
    days = year_of_days(2026, {**CLEAN, "pm25_24h": D(70)})  # built under HJ 633-2012
    old = period_statistics(days, city=CITY, period=Period(2026), standard="GB3095-2012")
    new = period_statistics(days, city=CITY, period=Period(2026), standard="by_date")
    assert old.values["good_days"] == 365  # IAQI 94: 良
    assert new.values["good_days"] == 0  # IAQI 110 under HJ 633-2026: 轻度污染
