"""HJ 633 IAQI/AQI and the versioned standards data: oracle cases (air-and-park.md A6) and
properties (monotone, exact at breakpoints, AQI the maximum)."""

from __future__ import annotations

import doctest
import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ecocomp.air.aqi
import ecocomp.air.standards
from ecocomp.air import category, daily_aqi, gb3095, hj633, iaqi, resolve_standard
from ecocomp.errors import StandardError

D = Decimal


# ---------------------------------------------------------------- A6 oracle (air-and-park.md)

@pytest.mark.parametrize(("key", "value", "old", "new"), [
    ("pm25", "70", 94, 110),     # 93.75 → 94 (良) / 109.09 → 110 (轻度)
    ("pm25", "80", 107, 119),
    ("pm25", "35", 50, 50),      # exactly 50: a Decimal division gives 51
    ("pm10", "130", 90, 104),
    ("o3_8h", "180", 119, 119),
])
def test_a6_iaqi_under_both_hj633_versions(key, value, old, new):
    assert iaqi(key, D(value), version="HJ633-2012") == old
    assert iaqi(key, D(value), version="HJ633-2026") == new


def test_a6_pm25_70_is_good_in_2012_and_not_in_2026():
    assert category(iaqi("pm25", D(70), version="2012")).good
    assert not category(iaqi("pm25", D(70), version="2026")).good
    assert category(110).name == "轻度污染"


def test_the_decimal_pitfall_is_real_and_avoided():
    # what a Decimal interpolation does at PM2.5 = 35 (the reason for fractions)
    decimal_way = (D(50) / D(35)) * D(35)
    assert decimal_way > 50
    assert iaqi("pm25", D(35), version="2012") == 50


def test_version_names_are_accepted_in_several_spellings():
    for name in ("2012", "HJ633-2012", "HJ 633-2012", "GB3095-2012", "hj633-2012"):
        assert hj633(name).id == "HJ633-2012"
    with pytest.raises(StandardError, match="unknown AQI version"):
        hj633("2019")


def test_above_800_o3_8h_reports_the_1h_iaqi():
    with pytest.raises(StandardError, match="o3_1h"):
        iaqi("o3_8h", D(801), version="2012")
    day = daily_aqi({"o3_8h": D(900), "o3_1h": D(1000), "pm25": D(20)}, version="2012")
    assert day.aqi == 400 and day.primary == ("o3_1h",)
    with pytest.raises(StandardError, match="missing for the day"):
        daily_aqi({"o3_8h": D(900)}, version="2012")


def test_so2_24h_uses_its_own_breakpoints_not_the_1h_ones():
    # aqi-hub copies the 1 h row into 24 h (air-and-park.md §5); HJ 633 Table 1 does not
    assert iaqi("so2_24h", D(150), version="2012") == 100
    assert iaqi("so2_1h", D(150), version="2012") == 50


def test_daily_aqi_primary_and_category():
    day = daily_aqi({"pm25": D(80), "pm10": D(130), "o3_8h": D(100)}, version="2012")
    assert (day.aqi, day.primary, day.category.code) == (107, ("pm25_24h",), "light")
    quiet = daily_aqi({"pm25": D(20), "pm10": D(30)}, version="2012")
    assert quiet.primary == ()  # no primary pollutant at AQI ≤ 50
    tie = daily_aqi({"pm25": D(75), "pm10": D(150)}, version="2012")
    assert tie.primary == ("pm10_24h", "pm25_24h")


def test_o3_needs_its_averaging():
    with pytest.raises(StandardError, match="o3_8h"):
        iaqi("o3", D(100), version="2012")


# ---------------------------------------------------------------- standards data

def test_gb3095_2012_table_1():
    s = gb3095("GB3095-2012")
    on = date(2020, 1, 1)
    assert s.limit("pm25", "annual", "II", on=on).value == 35
    assert s.limit("pm25", "24h", "II", on=on).value == 75
    assert s.limit("pm10", "annual", "II", on=on).value == 70
    assert s.limit("so2", "annual", "I", on=on).value == 20
    assert s.limit("co", "24h", "II", on=on).value == 4
    assert s.limit("o3", "8h", "II", on=on).value == 160


def test_gb3095_2026_phases_and_marks():
    s = gb3095("2026")
    phase1 = s.limit("pm25", "annual", "II", on=date(2026, 12, 31))
    assert (phase1.value, phase1.mark) == (30, "C")
    assert s.limit("pm25", "24h", "II", on=date(2030, 12, 31)).value == 60
    phase2 = s.limit("pm25", "annual", "II", on=date(2031, 1, 1))
    assert phase2.value == 25
    unknown = s.limit("pm10", "annual", "II", on=date(2031, 1, 1))
    assert unknown.mark == "U" and unknown.assumed_from == "2012"


def test_every_number_that_is_not_confirmed_says_so():
    """Nothing unknown passes as a fact: every [U] number is kept from 2012 and says so."""
    for version in ("GB3095-2012", "GB3095-2026"):
        for phase in gb3095(version).phases:
            for limit in phase.limits.values():
                assert limit.mark in "CPIU" and limit.source
                if limit.mark == "U":
                    assert limit.assumed_from == "2012"
    for version in ("HJ633-2012", "HJ633-2026"):
        for row in hj633(version).rows.values():
            assert len(row.marks) == len(row.values) and row.source


def test_hj633_2026_changes_only_pm25_and_pm10():
    old, new = hj633("2012"), hj633("2026")
    changed = {k for k in old.rows if old.rows[k].values != new.rows[k].values}
    assert changed == {"pm25_24h", "pm10_24h"}
    assert new.row("pm25_24h").values[:4] == (0, 35, 60, 115)
    assert new.row("pm10_24h").values[:4] == (0, 50, 120, 250)


def test_by_date_switches_on_2026_03_01():
    assert resolve_standard("by_date", date(2026, 2, 28)) == "GB3095-2012"
    assert resolve_standard("by_date", date(2026, 3, 1)) == "GB3095-2026"
    assert resolve_standard("GB 3095-2012", date(2030, 1, 1)) == "GB3095-2012"
    with pytest.raises(StandardError, match="by_date"):
        resolve_standard("GB3095-2019", date(2030, 1, 1))


# ---------------------------------------------------------------- properties

KEYS = sorted(hj633("2012").rows)
concentrations = st.decimals(min_value=0, max_value=3000, places=2)


@given(key=st.sampled_from(KEYS), a=concentrations, b=concentrations,
       version=st.sampled_from(["2012", "2026"]))
def test_iaqi_is_monotone_in_the_concentration(key, a, b, version):
    low, high = sorted((a, b))
    standard = hj633(version)
    top = standard.row(key).values[-1]
    if standard.row(key).beyond != "cap" and high > top:
        high = top
        low = min(low, high)
    assert iaqi(key, low, version=version) <= iaqi(key, high, version=version)


@given(key=st.sampled_from(KEYS), version=st.sampled_from(["2012", "2026"]),
       data=st.data())
def test_a_value_exactly_at_a_breakpoint_gives_that_breakpoints_iaqi(key, version, data):
    standard = hj633(version)
    row = standard.row(key)
    i = data.draw(st.integers(0, len(row.values) - 1))
    assert iaqi(key, row.values[i], version=version) == standard.iaqi[i]
    # and just above it, the next IAQI band (category boundaries are exact)
    if 0 < i < len(row.values) - 1:
        assert iaqi(key, row.values[i] + D("0.001"), version=version) == standard.iaqi[i] + 1


@given(values=st.dictionaries(st.sampled_from(
    ["so2_24h", "no2_24h", "pm10_24h", "pm25_24h", "co_24h", "o3_1h"]),
    st.decimals(min_value=0, max_value=600, places=1), min_size=1),
    version=st.sampled_from(["2012", "2026"]))
def test_aqi_is_the_maximum_of_the_iaqis(values, version):
    day = daily_aqi(values, version=version)
    each = {k: iaqi(k, v, version=version) for k, v in values.items()}
    assert day.aqi == max(each.values())
    assert day.iaqi == each
    assert all(each[p] == day.aqi for p in day.primary)


@given(value=st.decimals(min_value=0, max_value=500, places=3))
def test_iaqi_is_the_ceiling_of_the_exact_interpolation(value):
    exact = ecocomp.air.aqi.iaqi_fraction("pm25_24h", value, hj633("2012"))
    assert isinstance(exact, Fraction)
    assert iaqi("pm25", value, version="2012") == math.ceil(exact)
    assert exact - 1 < iaqi("pm25", value, version="2012") < exact + 1


@pytest.mark.parametrize("module", [ecocomp.air.aqi, ecocomp.air.standards])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0
