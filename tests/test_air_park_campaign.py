"""Air and 南山: cases where a user got a wrong amount, class or index with no error.

Each test failed before its fix (CHANGELOG, Unreleased → Fixed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ecocomp.agreements import agreement_from_dict
from ecocomp.air import AirAssessments
from ecocomp.air.statistics import city_day, period_statistics
from ecocomp.formulas import get_formula
from ecocomp.periods import Period

PROVINCE, CITY = "430000", "430800"
CLEAN = {"so2": Decimal(8), "no2": Decimal(25), "pm10": Decimal(55), "pm25": Decimal(33),
         "co": Decimal("1.2"), "o3_8h": Decimal(150)}


def air_agreement(formula: str, params: Mapping[str, Any], *, unit: str = "wan") -> Any:
    return agreement_from_dict({
        "id": f"test-{formula.replace('_', '-')}", "name": "test", "formula": formula,
        "party": CITY, "counterparty": PROVINCE, "start": "2019-01-01", "end": "2030-12-31",
        "unit": unit, "clearing_due": "12-31", "source": "test", "confidence": "inferred",
        "params": dict(params),
    })  # fmt: skip


def days_of(year: int, first: int, count: int, values: Mapping[str, Decimal]) -> list[Any]:
    start = date(year, 1, 1) + timedelta(days=first)
    return [city_day(CITY, start + timedelta(days=i), values, version="2012")
            for i in range(count)]


def assessed(days: list[Any], year: int) -> AirAssessments:
    stats = period_statistics(days, city=CITY, period=Period(year), standard="GB3095-2012")
    return AirAssessments({(CITY, Period(year)): stats}, {CITY: tuple(days)})


# ---------------------------------------------------------------- air_attainment, heavy days


@pytest.mark.parametrize("above", [200, 150])
def test_a_zero_heavy_day_reward_needs_a_valid_year_whatever_the_threshold(above: int):
    """40 complete days and a year of PM10 alone: no valid count of heavy days. With the
    default threshold (200) no reward was paid; with heavy_aqi_above = 150 the same year was
    paid the 200万 zero-heavy-day reward on 40 days of data."""
    days = days_of(2021, 0, 40, CLEAN) + days_of(2021, 40, 325, {"pm10": Decimal(20)})
    a = air_agreement("air_attainment", {
        "attain_reward": 500, "first_attain_reward": 1000, "zero_heavy_reward": 200,
        "attained_years": [], "heavy_aqi_above": above})
    (ob,) = get_formula("air_attainment")(a, assessed(days, 2021), Period(2021))
    assert ob.amount == Decimal("0.00")
    assert "no heavy-day reward" in ob.basis["rule"]


def test_a_custom_heavy_threshold_counts_the_days_the_statistic_counts():
    """A valid year whose only days above AQI 150 lack one pollutant (not AQI days under
    HJ 663, as for the heavy_days statistic) is judged like the statistic judges it; and a
    complete day above the threshold still stops the reward."""
    days = days_of(2021, 0, 365, CLEAN)
    partial = dict(CLEAN)
    del partial["co"]
    days[100] = city_day(CITY, days[100].day, {**partial, "pm25": Decimal(120)}, version="2012")
    a = air_agreement("air_attainment", {
        "attain_reward": 500, "zero_heavy_reward": 200, "attained_years": [2019],
        "heavy_aqi_above": 150, "exclusive": "sum"})
    (ob,) = get_formula("air_attainment")(a, assessed(days, 2021), Period(2021))
    assert ob.basis["heavy_days"] == "0"
    days[200] = city_day(CITY, days[200].day, {**CLEAN, "pm25": Decimal(120)}, version="2012")
    (ob,) = get_formula("air_attainment")(a, assessed(days, 2021), Period(2021))
    assert ob.basis["heavy_days"] == "1"


# ---------------------------------------------------------------- period statistics


def test_a_day_given_twice_is_refused_not_counted_twice():
    """15 days of January given twice (and two of them a third time with PM2.5 90) made a
    valid month of 32 days (> 31) with a PM2.5 mean of the copies: 36.5625."""
    from ecocomp.errors import AssessmentError

    days = days_of(2021, 0, 15, CLEAN)
    dirty = days_of(2021, 0, 2, {**CLEAN, "pm25": Decimal(90)})
    with pytest.raises(AssessmentError, match=r"430800.*2021-01-01.*twice"):
        period_statistics(days + days + dirty, city=CITY, period=Period(2021, 1),
                          standard="GB3095-2012")
    # another city's day on the same date is not a repeat
    other = [city_day("430100", d.day, CLEAN, version="2012") for d in days]
    stats = period_statistics(days + other, city=CITY, period=Period(2021, 1),
                              standard="GB3095-2012")
    assert stats.values["valid_days"] == 15


# ---------------------------------------------------------------- 南山 area_rate


def park(params: dict[str, Any], **extra: Any) -> Any:
    V, W = "430529-baiyun-cun", "430529-shimen-cun"
    return agreement_from_dict({
        "id": "park", "name": "南山 test", "formula": "area_rate",
        "payer": "430000-nanshan-glj", "parties": [V, W], "start": "2026-01-01",
        "end": "2030-12-31", "unit": "yuan", "clearing_due": "12-31", "source": "test [U]",
        "confidence": "placeholder", "params": {"categories": {
            "easement_forest": {"rate": 40, "area_by_party": {V: 12000, W: 8000}}},
            **params}, **extra,
    }, "park.toml")


@pytest.mark.parametrize("term", [{"from": "2036-01-01"}, {"to": "2025-12-31"},
                                  {"from": "2031-01-01", "to": "2031-06-30"}])
def test_a_party_whose_term_misses_the_agreement_is_refused(term: dict[str, str]):
    """A typo in a village's joining date (2036 for 2026) left it out of every year of the
    agreement without a word: 石门村's 320,000 元 a year were never paid."""
    from ecocomp.errors import ValidationFailed

    with pytest.raises(ValidationFailed,
                       match=r"(?s)terms.*430529-shimen-cun.*never be in the scheme"):
        park({"terms": {"430529-shimen-cun": term}})
    # a term that only starts before the agreement is clipped to it, as before
    a = park({"terms": {"430529-shimen-cun": {"from": "2025-07-01"}}})
    obs = get_formula("area_rate")(a, None, Period(2026))
    assert {o.payee: o.amount for o in obs}["430529-shimen-cun"] == Decimal("320000.00")


# ---------------------------------------------------------------- air_change across standards


def two_years_same_air() -> AirAssessments:
    """2025 and 2026 with the same air: 60 days of PM2.5 65 (良 under HJ 633-2012, 轻度污染
    under HJ 633-2026, whose 良 band ends at 60), the rest clean. Assessed as a settlement
    does (by_date: 2025 under GB 3095-2012, 2026 under GB 3095-2026)."""
    from ecocomp.air.standards import PAIRED, resolve_standard

    stats, daily = {}, []
    for year in (2025, 2026):
        version = PAIRED[resolve_standard("by_date", date(year, 12, 31))]
        days = [city_day(CITY, date(year, 1, 1) + timedelta(days=i),
                         {**CLEAN, "pm25": Decimal(65 if i < 60 else 20)}, version=version)
                for i in range(365)]
        daily += days
        stats[(CITY, Period(year))] = period_statistics(days, city=CITY, period=Period(year))
    return AirAssessments(stats, {CITY: tuple(daily)})


def change(code: str, **params: Any) -> Any:
    return air_agreement("air_change", {
        "period": "year", "basis": "same_period_last_year",
        "indicators": [{"code": code, "weight": 1, "coefficient": 10}], **params})


@pytest.mark.parametrize("code", ["good_ratio", "good_days", "composite_index"])
def test_a_basis_assessed_under_another_standard_is_not_compared_silently(code: str):
    """The same air in 2025 and 2026: the good-day ratio fell from 100 % to 83.56 % and the
    综合指数 rose only because GB 3095-2026 / HJ 633-2026 replaced the 2012 versions, and
    the city paid 164.38万 (good_ratio) for air that had not changed."""
    from ecocomp.errors import FormulaError

    d = two_years_same_air()
    with pytest.raises(FormulaError, match=r"(?s)GB3095-2012.*GB3095-2026.*basis_standard"):
        get_formula("air_change")(change(code), d, Period(2026))
    (ob,) = get_formula("air_change")(change(code, basis_standard="current"), d, Period(2026))
    assert ob.amount == Decimal("0.00")
    assert ob.basis["indicators"][0]["basis_standard"].startswith("2025 restated under")
    (ob,) = get_formula("air_change")(change(code, basis_standard="each"), d, Period(2026))
    assert ob.amount > 0 and ob.basis["direction"] == "penalty"


def test_a_concentration_basis_needs_no_restating():
    (ob,) = get_formula("air_change")(change("pm25"), two_years_same_air(), Period(2026))
    assert ob.amount == Decimal("0.00")


# ---------------------------------------------------------------- readings units


@pytest.mark.parametrize("parameter", ["so2", "no2", "o3_8h"])
def test_gases_in_mg_without_a_unit_are_refused_not_read_as_clean_air(tmp_path: Any,
                                                                       parameter: str):
    """SO2 at 0.008 (mg/m³, no unit column) was read as 0.008 μg/m³: a thousand times
    cleaner air, an annual SO2 that always attains and a 综合指数 short of its SO2 term."""
    from ecocomp.air import read_air_readings
    from ecocomp.errors import ValidationFailed

    path = tmp_path / "gas.csv"
    path.write_text(f"city,date,parameter,value\n430800,2026-01-01,{parameter},0.008\n"
                    f"430800,2026-01-02,{parameter},0.150\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        read_air_readings(path, cities=["430800"])
    (p,) = info.value.problems
    assert (p.row, p.field) == (3, "value") and "mg/m³" in p.message
    # with the unit written, μg/m³ values below 1 are read as they are
    path.write_text(f"city,date,parameter,value,unit\n430800,2026-01-01,{parameter},0.8,μg/m³\n",
                    encoding="utf-8")
    assert [r.value for r in read_air_readings(path, cities=["430800"])] == [Decimal("0.8")]


# ---------------------------------------------------------------- AQI


def test_one_pollutant_under_two_names_is_refused_not_one_dropped():
    """{"pm25": 80, "pm25_24h": 30}: the day's AQI was 43 (优) from the second name; the
    first, AQI 107 (轻度污染), was dropped without a word."""
    from ecocomp.air import daily_aqi
    from ecocomp.errors import StandardError

    for values in ({"pm25": Decimal(80), "pm25_24h": Decimal(30)},
                   {"PM2.5": Decimal(80), "pm25": Decimal(30)}):
        with pytest.raises(StandardError, match="pm25_24h"):
            daily_aqi(values, version="2012")
        with pytest.raises(StandardError, match="pm25_24h"):
            city_day(CITY, date(2026, 1, 1), values, version="2012")
    same = daily_aqi({"pm25": Decimal(80), "PM2.5": Decimal("80.0")}, version="2012")
    assert same.aqi == 107


# ---------------------------------------------------------------- command line


def test_air_aqi_names_a_requested_city_without_values(tmp_path: Any):
    """`ecocomp air aqi --city 430800 --city 430801` printed 430800 alone, exit 0: the
    mistyped code was left out without a word."""
    from click.testing import CliRunner

    from ecocomp.air import AirStore
    from ecocomp.cli import main

    path = tmp_path / "days.csv"
    rows = ["city,date,parameter,value"] + [
        f"430800,{date(2026, 1, 1) + timedelta(days=i)},pm25,30" for i in range(31)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = tmp_path / "air.db"
    with AirStore.open(db) as store:
        store.import_file(path, cities=["430800"])
    got = CliRunner().invoke(main, ["air", "aqi", "--db", str(db), "--year", "2026",
                                    "--city", "430800", "--city", "430801"])
    assert got.exit_code == 1 and "no air values for 430801" in got.output
    ok = CliRunner().invoke(main, ["air", "aqi", "--db", str(db), "--year", "2026",
                                   "--city", "430800"])
    assert ok.exit_code == 0 and "430800  2026" in ok.output


# ---------------------------------------------------------------- the 00:00 hour


def _stations(tmp_path: Any, label: str = "start") -> Any:
    from ecocomp.air import load_stations

    path = tmp_path / "air_stations.toml"
    path.write_text(f'hour_label = "{label}"\n[[station]]\ncode = "1339A"\nname = "市监测站"\n'
                    'city = "430800"\n', encoding="utf-8")
    return load_stations(path)


@pytest.mark.parametrize(("label", "hours", "midnight"), [
    ("start", range(1, 24), "2026-01-01"), ("end", range(1, 24), "2026-01-01")])
def test_the_00_00_hour_written_as_a_date_is_not_the_days_mean(tmp_path: Any, label: str,
                                                                hours: Any, midnight: str):
    """A station's hours with the 00:00 one written as a date alone (Excel formatting the
    time column yyyy-mm-dd shows midnight so): that hour (200) became the station's daily
    PM2.5 and the 23 other hours (20) were ignored: the day's PM2.5 was 200, not 27.5."""
    from ecocomp.air import AirStore
    from ecocomp.errors import ValidationFailed

    path = tmp_path / "hours.csv"
    rows = ["station,time,parameter,value", f"1339A,{midnight},pm25,200"]
    rows += [f"1339A,2026-01-01 {h:02d}:00,pm25,20" for h in hours]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with AirStore.open(":memory:") as store:
        with pytest.raises(ValidationFailed) as info:
            store.import_file(path, stations=_stations(tmp_path, label))
        (p,) = info.value.problems
        assert (p.row, p.field) == (2, "time") and "00:00" in p.message
        # the hour with its clock: a mean of 24 hours
        path.write_text("\n".join([rows[0], "1339A,2026-01-01 00:00,pm25,200", *rows[2:]])
                        + "\n", encoding="utf-8")
        store.import_file(path, stations=_stations(tmp_path, "start"))
        got = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 1))
        assert got[("430800", date(2026, 1, 1))]["pm25_24h"] == Decimal("27.5")


def test_a_daily_mean_beside_the_hours_is_still_read_when_it_says_so(tmp_path: Any):
    from ecocomp.air import read_air_readings

    path = tmp_path / "both.csv"
    rows = ["station,time,parameter,value", "1339A,2026-01-01,pm25_24h,21"]
    rows += [f"1339A,2026-01-01 {h:02d}:00,pm25,20" for h in range(1, 24)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert len(read_air_readings(path, stations=_stations(tmp_path))) == 24


# ---------------------------------------------------------------- stations


def test_a_station_dropped_from_the_catalog_does_not_keep_counting(tmp_path: Any):
    """Station B taken out of air_stations.toml (and its file) after an import: its stored
    PM2.5 80 still made half of the city's day, 50 instead of station A's 20."""
    from ecocomp.air import AirStore, import_project_air
    from ecocomp.errors import ValidationFailed

    (tmp_path / "air-readings").mkdir()
    station = '[[station]]\ncode = "{0}"\nname = "{0}"\ncity = "430800"\n'
    (tmp_path / "air_stations.toml").write_text(
        'hour_label = "start"\n' + station.format("A") + station.format("B"), encoding="utf-8")
    for code, value in (("A", 20), ("B", 80)):
        (tmp_path / "air-readings" / f"{code}.csv").write_text(
            f"station,time,parameter,value\n{code},2026-01-01,pm25,{value}\n", encoding="utf-8")
    db = tmp_path / "air.db"
    import_project_air(tmp_path, db)
    (tmp_path / "air-readings" / "B.csv").unlink()
    (tmp_path / "air_stations.toml").write_text('hour_label = "start"\n' + station.format("A"),
                                               encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"(?s)station B .*evaluation = false"):
        import_project_air(tmp_path, db)
    (tmp_path / "air_stations.toml").write_text(
        'hour_label = "start"\n' + station.format("A") + station.format("B")
        + "evaluation = false\n", encoding="utf-8")
    import_project_air(tmp_path, db)
    with AirStore.open(db) as store:
        day = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 1))
    assert day[("430800", date(2026, 1, 1))]["pm25_24h"] == Decimal("20")


def test_an_air_file_gone_since_its_import_is_reported_like_a_water_file(tmp_path: Any):
    """An air-readings file deleted after its import: its values still counted, and neither
    `settle` nor `check --db` said so (a water readings file is reported)."""
    from ecocomp.air import AirStore
    from ecocomp.air.project import gone_air_files, import_project_air

    (tmp_path / "air-readings").mkdir()
    for name, value in (("jan.csv", 20), ("wrong.csv", 80)):
        (tmp_path / "air-readings" / name).write_text(
            f"city,date,parameter,value\n430800,2026-01-0{1 if value == 20 else 2},pm25,"
            f"{value}\n", encoding="utf-8")
    db = tmp_path / "air.db"
    import_project_air(tmp_path, db, cities=["430800"])
    with AirStore.open(db) as store:
        conn = store._conn
        assert gone_air_files(tmp_path, conn, db) == []
        (tmp_path / "air-readings" / "wrong.csv").rename(tmp_path / "moved.csv")
        (gone,) = gone_air_files(tmp_path, conn, db)
        assert gone.file.endswith("wrong.csv") and "1 air values still count" in gone.message
        (tmp_path / "moved.csv").rename(tmp_path / "air-readings" / "renamed.csv")
        assert gone_air_files(tmp_path, conn, db) == []  # the same content, renamed


def test_a_name_shared_by_two_stations_or_parties_is_refused_not_given_to_the_first(
        tmp_path: Any):
    """Two cities' stations both named 市监测站: a file naming the station put 益阳's PM2.5 80
    on 张家界's station (the first listed), in the wrong city's statistics."""
    from ecocomp.air import load_stations, read_air_readings
    from ecocomp.errors import ValidationFailed

    catalog = tmp_path / "air_stations.toml"
    catalog.write_text('[[station]]\ncode = "1339A"\nname = "市监测站"\ncity = "430800"\n'
                       '[[station]]\ncode = "1500A"\nname = "市监测站"\ncity = "430900"\n'
                       '[[station]]\ncode = "1501A"\nname = "龙洲"\ncity = "430900"\n',
                       encoding="utf-8")
    stations = load_stations(catalog)
    path = tmp_path / "days.csv"
    path.write_text("station,time,parameter,value\n市监测站,2026-01-01,pm25,80\n"
                    "龙洲,2026-01-01,pm25,70\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        read_air_readings(path, stations=stations)
    (p,) = info.value.problems
    assert (p.row, p.field) == (2, "station") and "1339A, 1500A" in p.message
    path.write_text("city,date,parameter,value\n市辖区,2026-01-01,pm25,80\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="430802, 430902"):
        read_air_readings(path, cities={"430802": "市辖区", "430902": "市辖区"})


def test_a_station_ending_before_it_starts_is_refused(tmp_path: Any):
    """start = 2026-01-01, end = 2016-12-31 (for 2036): the station never counted, and its
    values were left out of its city's days without a word."""
    from ecocomp.air import load_stations
    from ecocomp.errors import ValidationFailed

    path = tmp_path / "air_stations.toml"
    path.write_text('[[station]]\ncode = "1339A"\nname = "市监测站"\ncity = "430800"\n'
                    "start = 2026-01-01\nend = 2016-12-31\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_stations(path)
    (p,) = info.value.problems
    assert (p.row, p.field) == (1, "end") and "never count" in p.message


def test_area_rate_does_not_depend_on_the_callers_decimal_context():
    """12,345.67 亩 at 40.25 元 under getcontext().prec = 6, calling ``area_rate`` or
    ``area_amounts`` directly (as their docstrings do; the registry's call was safe):
    496,913.00 元 instead of 496,913.22 (the area × rate product rounded to 6 digits)."""
    from decimal import localcontext

    from ecocomp.formulas import area_rate
    from ecocomp.formulas.area import area_amounts

    a = park({"categories": {"f": {"rate": "40.25", "area_by_party": {
        "430529-baiyun-cun": "12345.67", "430529-shimen-cun": "1"}}}})
    want = {o.payee: o.amount for o in area_rate(a, None, Period(2026))}
    assert want["430529-baiyun-cun"] == Decimal("496913.22")
    with localcontext() as ctx:
        ctx.prec = 6
        got = {o.payee: o.amount for o in area_rate(a, None, Period(2026))}
        amounts = {p: v["amount"] for p, v in area_amounts(a, 2026).items()}
    assert got == want == amounts


# ---------------------------------------------------------------- 南山 agreements that overlap


def park_term(id_: str, parties: list[str], start: str, end: str, **extra: Any) -> Any:
    areas = {"430529-baiyun-cun": 12000, "430529-shimen-cun": 8000, "430529-xinzhai-cun": 500}
    return agreement_from_dict({
        "id": id_, "name": "南山 test", "formula": "area_rate",
        "payer": "430000-nanshan-glj", "parties": parties, "start": start, "end": end,
        "unit": "yuan", "clearing_due": "12-31", "source": "test [U]",
        "confidence": "placeholder", "params": {"categories": {"easement_forest": {
            "rate": 40, "area_by_party": {p: areas[p] for p in parties}}},
            **extra.pop("params", {})}, **extra,
    }, f"{id_}.toml")


def test_a_renewal_listing_the_villages_in_another_order_or_adding_one_is_an_overlap():
    """A renewal from 2028 of an agreement running to 2030: with its villages in another
    order, or with a village added, the overlap went unreported and 2028–2030 were paid
    twice (石门村 and 白云村 each paid by both agreements in 2029)."""
    from ecocomp.agreements import overlap_problems

    V, W, X = "430529-baiyun-cun", "430529-shimen-cun", "430529-xinzhai-cun"
    first = park_term("first", [V, W], "2026-01-01", "2030-12-31")
    for parties in ([W, V], [V, W, X]):
        renewal = park_term("renewal", parties, "2028-01-01", "2032-12-31")
        (p,) = overlap_problems([first, renewal])
        assert p.file == "renewal.toml" and "twice" in p.message and "first" in p.message
        assert not overlap_problems([first, park_term("renewal", parties, "2028-01-01",
                                                      "2032-12-31", supersedes="first")])
    # a village that left the first agreement before the renewal: no overlap
    left = park_term("first", [V, W], "2026-01-01", "2030-12-31",
                     params={"terms": {V: {"to": "2027-12-31"}, W: {"to": "2027-12-31"}}})
    assert not overlap_problems([left, park_term("renewal", [V, W, X], "2028-01-01",
                                                 "2032-12-31")])
    # another payer's agreement for the same village pays something else
    other = park_term("county", [V], "2028-01-01", "2032-12-31", payer="430529")
    assert not overlap_problems([first, other])


def test_a_park_agreement_with_a_problem_is_named_not_hidden_behind_sections_toml(
        tmp_path: Any):
    """A park project (no sections.toml, as documented) whose agreement had a problem:
    `ecocomp check` reported only "sections.toml: file is missing" (and "no readings
    files"), never the agreement's own problem."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from ecocomp.cli import main

    root = tmp_path / "park"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "nanshan-2026", root)
    agreement_file = root / "agreements" / "nanshan-area-rate.toml"
    text = agreement_file.read_text(encoding="utf-8")
    agreement_file.write_text(text.replace("from = 2026-07-01", "from = 2036-07-01"),
                              encoding="utf-8")
    got = CliRunner().invoke(main, ["check", str(root)])
    assert got.exit_code == 1
    assert "never be in the scheme" in got.output and "nanshan-area-rate.toml" in got.output
    assert "sections.toml" not in got.output and "no readings files" not in got.output
