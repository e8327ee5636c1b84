"""Adversarial cases on the air and 南山 features: odd data is refused with a located error
or handled by the documented rule, never a silent wrong amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.errors import FormulaError
from ecocomp.periods import Period
from tests.test_formulas_air import CLEAN, HUNAN, PROVINCE, agreement, data, run


def _invalid(assessments: Any, city: str, span: Any, *names: str) -> Any:
    """The same statistics with ``names`` flagged invalid (too few days, HJ 663)."""
    stats = assessments.statistics[(city, span)]
    valid = {k: k not in names for k in stats.values}
    evidence = {k: "mean of 200 daily values; not valid: 200 daily values < 324 a year"
                for k in names}
    stats = attrs.evolve(stats, valid=valid, evidence=evidence)
    return attrs.evolve(assessments, statistics={(city, span): stats})


@pytest.mark.parametrize("policy", ["skip", "error"])
def test_attainment_on_a_year_with_too_few_valid_days_honours_missing_year(policy: str
                                                                           ) -> None:
    """An annual statistic invalid under HJ 663 is missing (docs/air-formulas.md), not a
    miss "above the limit": missing_year = error refuses; skip pays no attainment reward and
    says why, and still judges the heavy-day reward, which does not depend on attainment."""
    a = agreement("air_attainment", {**HUNAN, "missing_year": policy}, party="430100")
    d = _invalid(data(("430100", Period(2021), CLEAN)), "430100", Period(2021), "pm25")
    if policy == "error":
        with pytest.raises(FormulaError, match=r"no valid .*pm25.*missing_year"):
            run("air_attainment", a, d, Period(2021))
        return
    (ob,) = run("air_attainment", a, d, Period(2021))
    assert ob.amount == Decimal("2000000.00")  # no heavy day: zero_heavy_reward 200万 only
    assert ob.basis["rewards"] == {"zero_heavy_reward": "200"}
    assert "not judged" in ob.basis["rule"] and "no attainment reward" in ob.basis["rule"]
    assert "missing_year = skip" in ob.basis["rule"]
    assert "above the limit" not in ob.basis["rule"]
    assert list(ob.basis["missing"]) == ["pm25"]
    assert "pm25 not valid under HJ 663: 200 daily values < 324 a year" in ob.basis["rule"]
    heavy = _invalid(data(("430100", Period(2021), CLEAN | {"heavy_days": 1})), "430100",
                     Period(2021), "pm25")
    (ob,) = run("air_attainment", a, heavy, Period(2021))
    assert ob.amount == Decimal("0.00") and ob.basis["rewards"] == {}


def test_attainment_cleaner_air_never_costs_the_heavy_day_reward() -> None:
    """Found by the invariant checker: PM2.5 35.5 (above grade II) with an invalid O3 is a
    year that misses attainment and gets the zero-heavy-day reward; one step cleaner (PM2.5
    30.5) the attainment cannot be judged — and before, that cost the city the heavy-day
    reward too (2,000,000.00 → 0.00)."""
    a = agreement("air_attainment", {**HUNAN, "missing_year": "skip"}, party="430800")
    dirty = CLEAN | {"pm25": "35.5", "heavy_days": 0}
    for pm25, expected in (("35.5", "2000000.00"), ("30.5", "2000000.00")):
        d = _invalid(data(("430800", Period(2019), dirty | {"pm25": pm25})), "430800",
                     Period(2019), "o3_8h_p90")
        (ob,) = run("air_attainment", a, d, Period(2019))
        assert ob.amount == Decimal(expected), (pm25, ob.basis["rule"])


def test_attainment_a_valid_statistic_above_the_limit_is_a_miss_whatever_else_is_invalid(
) -> None:
    """A valid PM2.5 above the limit decides the year (no attainment) even when another
    statistic is invalid; the zero-heavy reward still applies."""
    a = agreement("air_attainment", {**HUNAN, "missing_year": "error"}, party="430100")
    d = _invalid(data(("430100", Period(2021), CLEAN | {"pm25": 40})), "430100",
                 Period(2021), "so2")
    (ob,) = run("air_attainment", a, d, Period(2021))
    assert ob.amount == Decimal("2000000.00") and ob.payer == PROVINCE


# --------------------------------------------------------------------------- readings files

STATIONS = """hour_label = "start"

[[station]]
code = "1339A"
name = "市监测站"
city = "430800"
"""


def _catalog(tmp_path: Any) -> Any:
    from ecocomp.air import load_stations

    path = tmp_path / "air_stations.toml"
    path.write_text(STATIONS, encoding="utf-8")
    return load_stations(path)


def _problems(tmp_path: Any, text: str, **kw: Any) -> list[tuple[int | None, str | None, str]]:
    from ecocomp.air import read_air_readings
    from ecocomp.errors import ValidationFailed

    path = tmp_path / "odd.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        read_air_readings(path, **kw)
    for p in info.value.problems:
        assert p.file == str(path)
    return [(p.row, p.field, p.message) for p in info.value.problems]


@pytest.mark.parametrize(("time", "why"), [("2026-01-01 24:00", "24:00 only with hour_label"),
                                            ("2026-01-01 25:00", "not a real hour"),
                                            ("2026-02-29", "not a real date")])
def test_hours_24_and_25_and_a_false_29_february_are_refused(tmp_path: Any, time: str,
                                                              why: str) -> None:
    got = _problems(tmp_path, f"station,time,parameter,value\n1339A,{time},pm25,40\n",
                    stations=_catalog(tmp_path))
    assert [(row, field) for row, field, _ in got] == [(2, "time")] and why in got[0][2]


def test_29_february_of_a_leap_year_is_a_day(tmp_path: Any) -> None:
    from ecocomp.air import read_air_readings

    path = tmp_path / "leap.csv"
    path.write_text("city,date,parameter,value\n430800,2024-02-29,pm25,40\n", encoding="utf-8")
    (reading,) = read_air_readings(path, cities=["430800"])
    assert reading.day.isoformat() == "2024-02-29"


def test_co_in_micrograms_is_refused_at_its_unit(tmp_path: Any) -> None:
    got = _problems(tmp_path, "city,date,parameter,value,unit\n430800,2026-01-01,co,900,μg/m³\n",
                    cities=["430800"])
    assert [(row, field) for row, field, _ in got] == [(2, "unit")]


def test_co_without_a_unit_beyond_the_aqi_scale_is_refused_not_read_as_mg(tmp_path: Any
                                                                         ) -> None:
    """1200 without a unit is CO in μg/m³ (1.2 mg/m³), not a 1200 mg/m³ day of AQI 500."""
    got = _problems(tmp_path, "city,date,parameter,value\n430800,2026-01-01,co,1.1\n"
                    "430800,2026-01-02,co,1200\n", cities=["430800"])
    assert [(row, field) for row, field, _ in got] == [(3, "value")]
    assert "mg/m³" in got[0][2] and "unit" in got[0][2]


def test_particles_in_mg_without_a_unit_are_refused_not_read_as_clean_air(tmp_path: Any
                                                                          ) -> None:
    """A file of PM2.5 at 0.035 (mg/m³, no unit column) would be a year of AQI 1."""
    got = _problems(tmp_path, "city,date,parameter,value\n430800,2026-01-01,pm25,0.035\n"
                    "430800,2026-01-02,pm25,0.041\n", cities=["430800"])
    assert [(row, field) for row, field, _ in got] == [(3, "value")]
    assert "mg/m³" in got[0][2]


def test_a_station_of_a_city_that_is_not_a_party_is_refused(tmp_path: Any) -> None:
    from ecocomp.air import load_stations
    from ecocomp.errors import ValidationFailed

    path = tmp_path / "air_stations.toml"
    path.write_text(STATIONS, encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_stations(path, cities=["430100"])
    (p,) = info.value.problems
    assert (p.row, p.field) == (1, "city") and "430800" in p.message


def test_an_unknown_station_and_a_repeated_hour_with_another_value_are_located(
        tmp_path: Any) -> None:
    got = _problems(tmp_path, "station,time,parameter,value\n1339A,2026-01-01 08:00,pm25,40\n"
                    "9999A,2026-01-01 08:00,pm25,40\n1339A,2026-01-01 08:00,pm25_1h,41\n",
                    stations=_catalog(tmp_path))
    assert [(row, field) for row, field, _ in got] == [(3, "station"), (4, "value")]
    assert "41 here and 40 on row 2" in got[1][2]


# --------------------------------------------------------------------------- the money


def test_air_change_pays_on_the_exact_good_ratio_not_its_four_place_display() -> None:
    """good_ratio is shown to 4 places (300/366 % = 81.9672 %); the amount is computed on the
    exact ratio, so rounding happens once, to the fen (10万 per point: 5 yuan per 0.00005)."""
    params = {"period": "year", "basis": "same_period_last_year",
              "indicators": [{"code": "good_ratio", "weight": 1, "coefficient": 10}]}
    a = agreement("air_change", params, party="430100")
    d = data(("430100", Period(2020), {"good_ratio": "81.9672", "good_days": 300,
                                        "valid_days": 366}),
             ("430100", Period(2021), {"good_ratio": "82.1918", "good_days": 300,
                                        "valid_days": 365}))
    (ob,) = run("air_change", a, d, Period(2021))
    from fractions import Fraction

    exact = (Fraction(300 * 100, 365) - Fraction(300 * 100, 366)) * 10 * 10000
    assert ob.amount == Decimal(int(exact * 100 + Fraction(1, 2))) / 100 == Decimal("22456.77")
    (term,) = ob.basis["indicators"]
    assert term["value"] == "6000/73" and term["basis_value"] == "5000/61"


def test_the_explanation_a_statement_shows_names_each_value_and_basis_value() -> None:
    """The one line a statement prints carries every indicator's X, B, weight, coefficient
    and term, readable (≈ 4 places where the exact value is long), and the amount."""
    from tests.test_formulas_air import anqing

    a, d = anqing(24, target=35)
    (ob,) = run("air_change", a, d, Period(2018, 9))
    text = ob.basis["explanation"]
    assert text.startswith("2018-Q3: pm25 B − X = 30 − 24 = 6, × w 0.75 × c 18 = 81; "
                           "pm10 B − X = 47 − 44 = 3, × w 0.25 × c 18 = 13.5; ")
    assert text.endswith("= 94.5 万元 → 430000 pays 340800 945000.00 yuan (94.5 万元)")
    params = {"period": "year", "basis": "same_period_last_year",
              "indicators": [{"code": "pm25", "weight": 1, "coefficient": 1}]}
    d = data(("430100", Period(2020), {"pm25": "40"}), ("430100", Period(2021), {"pm25": "37"}))
    d = attrs.evolve(d, statistics={**d.statistics, ("430100", Period(2021)): attrs.evolve(
        d.statistics[("430100", Period(2021))], values={"pm25": Decimal(112) / 3})})
    (ob,) = run("air_change", agreement("air_change", params, party="430100"), d, Period(2021))
    assert "pm25 B − X = 40 − ≈37.3333 = ≈2.6667" in ob.basis["explanation"]


@settings(max_examples=60, deadline=None)
@given(now=st.integers(10, 60), last=st.integers(10, 60), target=st.integers(20, 60),
       cap=st.one_of(st.none(), st.decimals("0.01", "200", places=2)))
def test_target_correction_cap_and_split_conserve_money(now: int, last: int, target: int,
                                                        cap: Decimal | None) -> None:
    """安徽-shaped agreement: f scales rewards only, the cap bounds the amount, and the
    40/30/20/10 split sums to the amount to the fen."""
    from fractions import Fraction

    from tests.test_formulas_air import ANHUI, ANQING, Q

    params = {**ANHUI, "target_correction": {**ANHUI["target_correction"], "target": target}}
    if cap is not None:
        params["cap"] = str(cap)
    a = agreement("air_change", params, party=ANQING)
    d = data((ANQING, Q(2017, 3), {"pm25": last, "pm10": 50}),
             (ANQING, Q(2018, 3), {"pm25": now, "pm10": 50}))
    (ob,) = run("air_change", a, d, Period(2018, 9))
    uncorrected = Fraction(last - now) * Fraction("0.75") * 18 * 10000
    f = Fraction(ob.basis["f"])
    if uncorrected <= 0:
        assert f == 1
    elif now <= target:
        assert f == 1
    else:
        assert f in (Fraction(1, 5), Fraction(1, 2), 1)  # improved, not met: 0.2 (no group)
    exact = abs(uncorrected * f)
    if cap is not None:
        exact = min(exact, Fraction(cap) * 10000)
    assert abs(Fraction(ob.amount) - exact) <= Fraction(1, 200)
    assert sum((Decimal(v) for v in ob.basis["split"].values()), Decimal(0)) == ob.amount
    assert (ob.payer == ANQING) == (uncorrected < 0) or ob.amount == 0


# --------------------------------------------------------------------------- 南山


def test_a_statement_before_the_year_is_booked_says_what_it_leaves_out(tmp_path: Any) -> None:
    """The park README's `ecocomp statement … --year 2026` run in December 2026 showed
    "net +0.00" and no line: the year's lines are booked on 31 December. It must say so."""
    import json
    import shutil

    from click.testing import CliRunner

    from ecocomp.cli import main
    from tests.test_formulas_area import PARK, V

    folder = tmp_path / "park"
    shutil.copytree(PARK, folder)
    db = str(tmp_path / "park.db")
    run = CliRunner().invoke
    assert run(main, ["settle", str(folder), "--year", "2026", "--db", db]).exit_code == 0
    early = run(main, ["--lang", "en", "statement", V, "--db", db, "--year", "2026",
                       "--as-of", "2026-12-06"])
    assert early.exit_code == 0, early.output
    assert "booked after 2026-12-06" in early.output and "--as-of 2026-12-31" in early.output
    data = json.loads(run(main, ["statement", V, "--db", db, "--year", "2026", "--as-of",
                                 "2026-12-06", "--json"]).output)
    assert data["net"] == "0.00" and data["booked_later"] >= 2
    late = run(main, ["--lang", "en", "statement", V, "--db", db, "--year", "2026",
                      "--as-of", "2027-01-31"])
    assert "booked after" not in late.output and "+287,342.47" in late.output


def test_area_rate_prorates_a_leap_year_by_366_days_and_its_parts_add_up() -> None:
    """36,600 yuan a year in 2028 (366 days): leaving on 29 February pays 60/366 = 6,000.00,
    joining on 1 March 306/366 = 30,600.00; together exactly the year."""
    from tests.test_formulas_area import V, W
    from tests.test_formulas_area import agreement as park
    from tests.test_formulas_area import paid as park_paid

    params = {"categories": {"forest": {"rate": "36.6", "area_by_party": {V: 1000, W: 1000}}},
              "terms": {V: {"to": "2028-02-29"}, W: {"from": "2028-03-01"}}}
    a = park(params, start="2026-01-01")
    assert park_paid(a, 2028) == {V: Decimal("6000.00"), W: Decimal("30600.00")}
    assert park_paid(a, 2027) == {V: Decimal("36600.00")}  # W not yet in, V the whole year


# --------------------------------------------------------------------------- re-settling


def test_a_changed_air_value_is_refused_at_its_row_saying_how_to_proceed(tmp_path: Any
                                                                         ) -> None:
    from ecocomp.air import AirStore
    from ecocomp.errors import ValidationFailed

    first = tmp_path / "a.csv"
    first.write_text("city,date,parameter,value\n430100,2021-03-04,pm25,60\n"
                     "430100,2021-03-05,pm25,67\n", encoding="utf-8")
    with AirStore.open(tmp_path / "air.db") as store:
        store.import_file(first, cities=["430100"])
        first.write_text("city,date,parameter,value\n430100,2021-03-04,pm25,60\n"
                         "430100,2021-03-05,pm25,107\n", encoding="utf-8")
        with pytest.raises(ValidationFailed) as info:
            store.import_file(first, cities=["430100"])
        (p,) = info.value.problems
        assert (p.file, p.row, p.field) == (str(first), 3, "value")
        assert "107 here but 67" in p.message and "--db" in p.message
        again = store.city_values(start=__import__("datetime").date(2021, 3, 5),
                                  end=__import__("datetime").date(2021, 3, 5))
    assert again[("430100", __import__("datetime").date(2021, 3, 5))]["pm25_24h"] == 67


@pytest.mark.parametrize(("pm25", "aqi", "good", "heavy"), [
    ("75", 100, True, False), ("75.01", 101, False, False), ("150", 200, False, False),
    ("150.01", 201, False, True)])
def test_days_at_exact_breakpoints_are_rated_on_the_right_side(pm25: str, aqi: int, good: bool,
                                                               heavy: bool) -> None:
    from datetime import date

    from ecocomp.air.statistics import city_day

    values = {"so2_24h": 5, "no2_24h": 10, "pm10_24h": 20, "pm25_24h": Decimal(pm25),
              "co_24h": Decimal("0.5"), "o3_8h": 50}
    day = city_day("430100", date(2021, 1, 1), values, version="HJ633-2012")
    assert (day.aqi, day.good, day.heavy) == (aqi, good, heavy)
    assert day.primary == ("pm25_24h",)


def test_first_time_attainment_is_not_paid_when_last_years_data_attain_too() -> None:
    """attained_years = [] but the imported 2020 statistics attain grade II: the 2021
    first-time reward (1000万 instead of 500万) would contradict the data; 2020 counts as
    attained and the basis says so."""
    a = agreement("air_attainment", {**HUNAN, "attained_years": []}, party="431200")
    d = data(("431200", Period(2020), CLEAN), ("431200", Period(2021), CLEAN))
    (ob,) = run("air_attainment", a, d, Period(2021))
    assert ob.amount == Decimal("5000000.00") and ob.basis["first_time"] is False
    assert "not in attained_years" in ob.basis["history_note"]
    assert "by the air data, not in attained_years" in ob.basis["explanation"]
    listed = agreement("air_attainment", {**HUNAN, "attained_years": [2020]}, party="431200")
    (ob,) = run("air_attainment", listed, d, Period(2021))
    assert ob.amount == Decimal("5000000.00")
    missed = data(("431200", Period(2020), CLEAN | {"pm25": 40}), ("431200", Period(2021), CLEAN))
    (ob,) = run("air_attainment", a, missed, Period(2021))
    assert ob.amount == Decimal("10000000.00") and ob.basis["first_time"] is True


TWO_STATIONS = STATIONS + """
[[station]]
code = "1340A"
name = "永定区"
city = "430800"
"""


def test_a_city_day_from_one_stations_daily_and_anothers_hourly_values_is_refused(
        tmp_path: Any) -> None:
    """1339A gives a daily PM2.5, 1340A only hours: the city day was 1339A's value alone,
    silently leaving 1340A out. It is refused, naming both stations."""
    from datetime import date

    from ecocomp.air import AirStore, load_stations
    from ecocomp.errors import AssessmentError

    (tmp_path / "air_stations.toml").write_text(TWO_STATIONS, encoding="utf-8")
    catalog = load_stations(tmp_path / "air_stations.toml")
    rows = ["station,time,parameter,value", "1339A,2026-01-01,pm25,40"]
    rows += [f"1340A,2026-01-01 {h:02d}:00,pm25,80" for h in range(24)]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with AirStore.open(":memory:") as store:
        store.import_file(path, stations=catalog)
        with pytest.raises(AssessmentError, match=r"430800 2026-01-01 pm25_24h.*1339A.*1340A"):
            store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 1))
        city = tmp_path / "city.csv"  # a city value for the day settles it
        city.write_text("city,date,parameter,value\n430800,2026-01-01,pm25,60\n",
                        encoding="utf-8")
        store.import_file(city, cities=["430800"])
        got = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 1))
    assert got[("430800", date(2026, 1, 1))] == {"pm25_24h": 60}
