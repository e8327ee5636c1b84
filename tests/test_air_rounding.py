"""修约 as a setting of an air agreement (`round_concentrations = "none" | "half_even" |
"half_up"`).

Oracle cases worked by hand where 四舍六入五成双 (half_even, GB/T 8170, HJ 663) and 四舍五入
(half_up) differ, the half-unit property, the schema's message for a wrong value, and the
basis of an agreement that leaves it out (unchanged: the settlement's statistics are exact).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecocomp.agreements import agreement_from_dict
from ecocomp.air import AirAssessments
from ecocomp.air.statistics import city_day, period_statistics, round_concentration
from ecocomp.errors import AssessmentError, FormulaError, ValidationFailed
from ecocomp.formulas import get_formula
from ecocomp.periods import Period

PROVINCE, CITY = "430000", "430800"
#: Clean air for the other five pollutants (IAQI well below 100 under both HJ 633 versions).
CLEAN = {"so2": D(8), "no2": D(25), "pm10": D(55), "pm25": D(20), "co": D("1.2"),
         "o3_8h": D(100)}


def agreement(formula: str, params: Mapping[str, Any]) -> Any:
    return agreement_from_dict({
        "id": f"test-{formula.replace('_', '-')}", "name": "test", "formula": formula,
        "party": CITY, "counterparty": PROVINCE, "start": "2019-01-01", "end": "2030-12-31",
        "unit": "wan", "clearing_due": "12-31", "source": "test", "confidence": "inferred",
        "params": dict(params),
    })  # fmt: skip


def year_of_days(year: int, values: Any, count: int = 365) -> list[Any]:
    """``count`` days from 1 January; ``values(i)`` (or a mapping) gives day i's values;
    HJ 633-2012 before 2026, HJ 633-2026 from 2026 (as a settlement assesses by_date)."""
    version = "2026" if year >= 2026 else "2012"
    return [city_day(CITY, date(year, 1, 1) + timedelta(days=i),
                     {**CLEAN, **(values(i) if callable(values) else values)}, version=version)
            for i in range(count)]


def assessed(*years: list[Any]) -> AirAssessments:
    """Exact statistics (no rounding, as a settlement builds them) and the days."""
    days = [d for year in years for d in year]
    stats = {(CITY, Period(y[0].day.year)): period_statistics(y, city=CITY,
                                                               period=Period(y[0].day.year))
             for y in years}
    return AirAssessments(stats, {CITY: tuple(days)})


# ---------------------------------------------------------------- the rounding itself


@pytest.mark.parametrize(("key", "value", "half_even", "half_up"), [
    ("pm25_24h", "34.5", "34", "35"),   # 4 is even: 五成双 keeps 34; 四舍五入 gives 35
    ("pm25_24h", "35.5", "36", "36"),   # 6 is even: both 36
    ("pm25_24h", "34.51", "35", "35"),  # above the half: both up
    ("pm10_24h", "70.5", "70", "71"),
    ("co_24h", "0.25", "0.2", "0.3"),   # CO in mg/m³ to 0.1
    ("co_24h", "0.35", "0.4", "0.4"),
    ("co_24h", "4.05", "4.0", "4.1"),
    ("o3_8h", "160.5", "160", "161"),
])
def test_half_even_and_half_up_by_hand(key: str, value: str, half_even: str, half_up: str):
    assert round_concentration(key, D(value)) == D(half_even)
    assert round_concentration(key, D(value), "half_even") == D(half_even)
    assert round_concentration(key, D(value), "half_up") == D(half_up)
    assert round_concentration(key, D(value), "none") == D(value)


@given(st.sampled_from(["pm25_24h", "pm10_24h", "so2_24h", "no2_24h", "o3_8h", "co_24h"]),
       st.integers(0, 10**7), st.integers(0, 4), st.sampled_from(["half_even", "half_up"]))
def test_rounding_never_moves_a_value_by_more_than_half_a_unit(key: str, digits: int,
                                                               places: int, rule: str):
    value = D(digits).scaleb(-places)
    unit = D("0.1") if key.startswith("co") else D(1)
    rounded = round_concentration(key, value, rule)
    assert abs(rounded - value) <= unit / 2
    assert rounded % unit == 0
    other = round_concentration(key, value, "half_up" if rule == "half_even" else "half_even")
    if (value / unit) % 1 == D("0.5"):  # exactly half-way: they may differ, by one unit
        assert abs(rounded - other) in (0, unit)
        assert round_concentration(key, value, "half_up") > value
    else:
        assert rounded == other


def test_an_unknown_rounding_is_refused_with_the_choices():
    with pytest.raises(AssessmentError, match=r"'half-up' is not one of 'none', 'half_even', "
                                              r"'half_up'.*四舍五入"):
        city_day(CITY, date(2026, 1, 1), CLEAN, version="2026",
                 round_concentrations="half-up")  # type: ignore[arg-type]


def test_hj663_is_still_the_name_of_half_even():
    day = city_day(CITY, date(2025, 1, 1), {**CLEAN, "pm25": D("34.5")}, version="2012",
                   round_concentrations="hj663")
    assert day.values["pm25_24h"] == 34


# ---------------------------------------------------------------- a good day (HJ 633-2026)


def test_a_day_at_pm25_60_5_is_good_only_when_rounded_half_to_even():
    """HJ 633-2026: PM2.5 60 → IAQI 100 (良); above it 100 + 50·(C − 60)/55, rounded up.
    60.5 exact → 100.45 → 101 (轻度); half_even → 60 → 100 (优良); half_up → 61 → 100.9 →
    101."""
    def day(rule: str) -> Any:
        return city_day(CITY, date(2026, 6, 1), {**CLEAN, "pm25": D("60.5")}, version="2026",
                        round_concentrations=rule)  # type: ignore[arg-type]

    assert (day("none").aqi, day("none").good) == (101, False)
    assert (day("half_even").aqi, day("half_even").good) == (100, True)
    assert (day("half_up").aqi, day("half_up").good) == (101, False)
    assert day("half_up").values["pm25_24h"] == 61


def test_the_good_days_of_a_year_follow_the_rounding():
    """40 days at PM2.5 60.5 in 2026, the rest clean: good_days 325, 365 or 325 of 365."""
    days = year_of_days(2026, lambda i: {"pm25": D("60.5") if i < 40 else D(20)})
    good = {rule: period_statistics(days, city=CITY, period=Period(2026),
                                    round_concentrations=rule).values["good_days"]
            for rule in ("none", "half_even", "half_up")}
    assert good == {"none": 325, "half_even": 365, "half_up": 325}


# ---------------------------------------------------------------- agreements


def attainment(**extra: Any) -> Any:
    return agreement("air_attainment", {"attain_reward": 500, "attained_years": [2020],
                                        **extra})


def pm25_30_5_in_2026() -> AirAssessments:
    """364 days of 2026 at PM2.5 30 and 31 in turn: an annual mean of exactly 30.5 μg/m³
    (11102/364), GB 3095-2026 phase 1 limit 30."""
    return assessed(year_of_days(2026, lambda i: {"pm25": D(30 + i % 2)}, count=364))


@pytest.mark.parametrize(("rule", "pm25", "amount"), [
    (None, "30.5", "0.00"),              # exact: 30.5 > 30, misses
    ("none", "30.5", "0.00"),
    ("half_even", "30", "5000000.00"),   # 30.5 → 30 (0 is even): attains, 500万
    ("half_up", "31", "0.00"),           # 30.5 → 31 > 30: misses
])
def test_attainment_at_an_annual_mean_of_30_5_by_hand(rule: str | None, pm25: str,
                                                      amount: str):
    a = attainment() if rule is None else attainment(round_concentrations=rule)
    (ob,) = get_formula("air_attainment")(a, pm25_30_5_in_2026(), Period(2026))
    assert ob.amount == D(amount)
    assert ob.basis["evidence"]["values"]["pm25"] == pm25
    if rule is None:  # not set: the basis is as before, without a word on rounding
        assert "round_concentrations" not in ob.basis
        assert "rounded" not in ob.basis["explanation"]
        assert "rounded" not in ob.basis["evidence"]["how"]["pm25"]
    else:
        assert ob.basis["round_concentrations"] == rule
        assert f"round_concentrations = {rule}" in ob.basis["explanation"]
    if rule in ("half_even", "half_up"):
        assert ob.basis["evidence"]["how"]["pm25"] == (
            f"mean of 364 daily values: 11102/364 = 30.5, rounded "
            f"{'half to even (四舍六入五成双)' if rule == 'half_even' else 'half up (四舍五入)'}"
            f" to {pm25} (the daily values too)")


def test_an_agreement_without_rounding_reads_the_statistics_as_given():
    """Left out, the formula reads the settlement's exact statistics themselves: the same
    obligations as before this parameter existed (the goldens pin the settlement)."""
    d = pm25_30_5_in_2026()
    plain = get_formula("air_attainment")(attainment(), d, Period(2026))
    explicit = get_formula("air_attainment")(attainment(round_concentrations="none"), d,
                                             Period(2026))
    assert [o.amount for o in plain] == [o.amount for o in explicit]
    assert plain[0].basis["evidence"] == explicit[0].basis["evidence"]
    assert {k: v for k, v in explicit[0].basis.items()
            if k not in ("round_concentrations", "explanation")} == {
        k: v for k, v in plain[0].basis.items() if k != "explanation"}


def change(code: str, **extra: Any) -> Any:
    return agreement("air_change", {"period": "year", "basis": "same_period_last_year",
                                    "indicators": [{"code": code, "weight": 1,
                                                    "coefficient": 100}], **extra})


@pytest.mark.parametrize(("rule", "amount"), [
    ("none", "50000.00"),       # (0.25 − 0.2) × 100 = 5万 to the city
    ("half_even", "0.00"),      # 0.25 → 0.2: no change
    ("half_up", "100000.00"),   # 0.25 → 0.3: (0.3 − 0.2) × 100 = 10万
])
def test_change_on_co_p95_from_0_25_to_0_2_by_hand(rule: str, amount: str):
    d = assessed(year_of_days(2025, {"co": D("0.25")}), year_of_days(2026, {"co": D("0.2")}))
    (ob,) = get_formula("air_change")(change("co_p95", round_concentrations=rule), d, Period(2026))
    assert ob.amount == D(amount)
    assert ob.basis["round_concentrations"] == rule and ob.basis["direction"] == "reward"


@pytest.mark.parametrize(("rule", "amount"), [
    ("none", "500000.00"),       # PM2.5 34.5 − 34 = 0.5 × 100 = 50万 a year
    ("half_even", "0.00"),       # 34.5 → 34
    ("half_up", "1000000.00"),   # 34.5 → 35: 1 × 100 = 100万
])
def test_ladder_and_change_on_pm25_34_5_by_hand(rule: str, amount: str):
    d = assessed(year_of_days(2025, {"pm25": D("34.5")}), year_of_days(2026, {"pm25": D(34)}))
    (ob,) = get_formula("air_change")(change("pm25", round_concentrations=rule), d, Period(2026))
    assert ob.amount == D(amount)
    ladder = agreement("air_ladder", {
        "period": "year", "round_concentrations": rule,
        "indicators": [{"code": "pm25", "base": 34, "tiers": [{"rate": 100}]}]})
    (ob,) = get_formula("air_ladder")(ladder, d, Period(2025))
    assert ob.amount == D(amount) and ob.basis["round_concentrations"] == rule
    assert (ob.basis["direction"] == "penalty") == (amount != "0.00")


def test_rounding_needs_the_days_not_only_the_statistics():
    d = pm25_30_5_in_2026()
    bare = AirAssessments(d.statistics, {})
    with pytest.raises(FormulaError, match=r"round_concentrations = \"half_up\" rounds the "
                                           r"daily values of 430800.*leave "
                                           r"round_concentrations out"):
        get_formula("air_attainment")(attainment(round_concentrations="half_up"), bare,
                                      Period(2026))


@pytest.mark.parametrize("formula", ["air_attainment", "air_change", "air_ladder"])
def test_a_wrong_round_concentrations_in_an_agreement_file_is_named_with_what_to_write(
        tmp_path: Path, formula: str):
    from ecocomp.agreement_files import load_agreement

    params = {
        "air_attainment": 'attain_reward = 500\nattained_years = []\n',
        "air_change": 'period = "year"\nindicators = [{ code = "pm25", weight = 1, '
                      'coefficient = 10 }]\n',
        "air_ladder": 'indicators = [{ code = "pm25", base = 35, tiers = [{ rate = 10 }] }]\n',
    }[formula]
    path = tmp_path / "a.toml"
    path.write_text(
        f'id = "test-air"\nname = "test"\nformula = "{formula}"\nparty = "{CITY}"\n'
        f'counterparty = "{PROVINCE}"\nstart = 2021-01-01\nend = 2030-12-31\nunit = "wan"\n'
        'clearing_due = "12-31"\nsource = "test"\nconfidence = "inferred"\n\n[params]\n'
        + params
        + 'round_concentrations = "四舍五入"\n', encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_agreement(path)
    (problem,) = info.value.problems
    assert problem.field == "params.round_concentrations" and problem.row is not None
    assert problem.message == (
        "'四舍五入' is not one of the choices; write round_concentrations = \"half_even\" "
        "(四舍六入五成双), "
        "\"half_up\" (四舍五入) or \"none\" (exact)")


def test_air_aqi_shows_the_statistics_an_agreement_with_rounding_reads(tmp_path: Path):
    """`ecocomp air aqi --round-concentrations half_up`: January 2026 at PM2.5 34.5 a day."""
    import json

    from click.testing import CliRunner

    from ecocomp.air import AirStore
    from ecocomp.cli import main

    path = tmp_path / "days.csv"
    rows = ["city,date,parameter,value"] + [
        f"{CITY},{date(2026, 1, 1) + timedelta(days=i)},pm25,34.5" for i in range(31)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = tmp_path / "air.db"
    with AirStore.open(db) as store:
        store.import_file(path, cities=[CITY])
    means = {}
    for rule in ("none", "half_even", "half_up"):
        got = CliRunner().invoke(main, ["air", "aqi", "--db", str(db), "--year", "2026",
                                        "--periods", "month", "--round-concentrations", rule,
                                        "--json"])
        assert got.exit_code == 0, got.output
        means[rule] = json.loads(got.output)[0]["values"]["pm25"]
    assert means == {"none": "34.5", "half_even": "34", "half_up": "35"}
    table = CliRunner().invoke(main, ["air", "aqi", "--db", str(db), "--year", "2026",
                                      "--round-concentrations", "half_up"])
    assert table.exit_code == 0 and "concentrations rounded half_up" in table.output
    wrong = CliRunner().invoke(main, ["air", "aqi", "--db", str(db), "--year", "2026",
                                      "--round-concentrations", "up"])
    assert wrong.exit_code == 2 and "'up' is not one of" in wrong.output
