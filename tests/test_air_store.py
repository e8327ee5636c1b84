"""Air stations, readings files, the air store and assess_air (exact, located, all or nothing)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecocomp.air import (
    AirStore,
    assess_air,
    check_air,
    import_project_air,
    load_stations,
    read_air_readings,
)
from ecocomp.air.readings import _unit_factor
from ecocomp.errors import ValidationFailed
from ecocomp.periods import Period, Quarter

D = Decimal

STATIONS = """hour_label = "start"

[[station]]
code = "1339A"
name = "市监测站"
city = "430800"
level = "national"
evaluation = true

[[station]]
code = "1340A"
name = "永定区"
city = "430800"
evaluation = true

[[station]]
code = "1341A"
name = "对照点"
city = "430800"
evaluation = false
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "air_stations.toml"
    path.write_text(STATIONS, encoding="utf-8")
    return load_stations(path)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- stations

def test_stations_catalog_problems_are_located(tmp_path):
    path = write(tmp_path, "air_stations.toml", 'hour_label = "middle"\n[[station]]\ncode = "A"\n'
                 'name = "x"\ncity = "999999"\nlevel = "city"\ncolour = 1\n')
    with pytest.raises(ValidationFailed) as info:
        load_stations(path, cities={"430800"})
    text = str(info.value)
    assert "hour_label 'middle'" in text
    assert "air_stations.toml:1:colour: unknown key" in text
    assert "air_stations.toml:1:level:" in text
    assert "air_stations.toml:1:city: city '999999' is not a party" in text


# ---------------------------------------------------------------- readings files

def test_city_day_file_in_gb18030_with_chinese_headers(tmp_path):
    path = write(tmp_path, "city.csv", "城市,日期,项目,浓度,单位\n"
                 "张家界市,2026-01-01,PM2.5,35,μg/m³\n"
                 "430800,2026-01-01,O3-8h,0.102,mg/m3\n"  # O3 in mg/m³ is refused
                 "430800,2026-01-01,一氧化碳,0.8,\n", encoding="gb18030")
    with pytest.raises(ValidationFailed) as info:
        read_air_readings(path, cities={"430800": "张家界市"})
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3:unit: unit 'mg/m3' is not accepted for o3; use μg/m³"]
    path.write_bytes("城市,日期,项目,浓度,单位\n张家界市,2026-01-01,PM2.5,0.035,mg/m³\n"
                     "430800,2026-01-01,一氧化碳,0.8,\n".encode("gb18030"))
    readings = read_air_readings(path, cities={"430800": "张家界市"})
    assert [(r.site, r.parameter, r.value) for r in readings] == [
        ("430800", "pm25_24h", D("35.000")), ("430800", "co_24h", D("0.8"))]


@given(value=st.decimals("0", "10", places=4))
def test_mg_conversion_is_exact_and_round_trips(value):
    factor = _unit_factor("pm25", "mg/m³")
    assert value * factor / factor == value
    assert value * factor == value * 1000  # exact: no float anywhere
    assert _unit_factor("co", "mg/m³") == 1


def test_every_problem_of_a_file_is_reported_with_row_and_field(tmp_path, catalog):
    path = write(tmp_path, "bad.csv", "station,time,parameter,value,flag\n"
                 "1339A,2026-01-01 08:30,pm25_1h,41,\n"
                 "9999A,2026-01-01 09:00,pm25_1h,41,\n"
                 "1339A,2026-02-30,pm25,41,\n"
                 "1339A,2026-01-01,o3,41,\n"
                 "1339A,2026-01-01,pm25,-1,\n"
                 "1339A,2026-01-01,pm25_24h,ND,\n"
                 "1339A,2026-01-01,pm10,50,maybe\n"
                 "1339A,2026-01-02,pm10,50,\n"
                 "1339A,2026-01-02,pm10_24h,51,\n")
    with pytest.raises(ValidationFailed) as info:
        read_air_readings(path, stations=catalog)
    got = [(p.row, p.field) for p in info.value.problems]
    assert got == [(2, "time"), (3, "station"), (4, "time"), (5, "parameter"), (6, "value"),
                   (7, "value"), (8, "flag"), (10, "value")]
    assert "is 51 here and 50 on row 9" in info.value.problems[-1].message


def test_hourly_values_need_the_hour_label(tmp_path):
    path = write(tmp_path, "air_stations.toml", STATIONS.replace('hour_label = "start"\n', ""))
    catalog = load_stations(path)
    csv = write(tmp_path, "h.csv", "station,time,parameter,value\n1339A,2026-01-01 08:00,pm25,1\n")
    with pytest.raises(ValidationFailed, match="hour_label"):
        read_air_readings(csv, stations=catalog)


def test_end_labelled_hours_move_to_their_start(tmp_path):
    path = write(tmp_path, "air_stations.toml", STATIONS.replace('"start"', '"end"'))
    catalog = load_stations(path)
    csv = write(tmp_path, "h.csv", "station,time,parameter,value\n"
                "1339A,2026-01-01 24:00,pm25,1\n1339A,2026-01-02 01:00,pm25,2\n")
    assert [r.at for r in read_air_readings(csv, stations=catalog)] == [
        datetime(2026, 1, 1, 23), datetime(2026, 1, 2, 0)]


# ---------------------------------------------------------------- the store

def test_import_is_all_or_nothing_and_idempotent(tmp_path, catalog):
    good = write(tmp_path, "a.csv", "station,date,parameter,value\n1339A,2026-01-01,pm25,40\n"
                 "1340A,2026-01-01,pm25,31\n")
    bad = write(tmp_path, "b.csv", "station,date,parameter,value\n1339A,2026-01-02,pm25,x\n")
    with AirStore.open(tmp_path / "air.db") as store:
        with pytest.raises(ValidationFailed, match=r"b\.csv:2:value"):
            store.import_files([good, bad], stations=catalog)
        assert store.imported_files() == [] and store.stations() == {}
        [result] = store.import_files([good], stations=catalog)
        assert (result.rows, result.inserted, result.skipped) == (2, 2, False)
        assert store.import_file(good, stations=catalog).skipped
        same = write(tmp_path, "c.csv", "station,date,parameter,value\n"
                     "1339A,2026-01-01,pm25,40.0\n")
        assert store.import_file(same, stations=catalog).unchanged == 1
        other = write(tmp_path, "d.csv", "station,date,parameter,value\n"
                      "1339A,2026-01-01,pm25,41\n")
        with pytest.raises(ValidationFailed, match=r"is 41 here but 40 from .*a\.csv"):
            store.import_file(other, stations=catalog)
        values = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 31))
    # the city's value is the mean of its evaluation stations, exactly
    assert values == {("430800", date(2026, 1, 1)): {"pm25_24h": D("35.5")}}


def test_city_days_prefer_pre_aggregated_values_and_ignore_control_stations(tmp_path, catalog):
    stations = write(tmp_path, "s.csv", "station,date,parameter,value\n"
                     "1339A,2026-01-01,pm10,60\n1341A,2026-01-01,pm10,900\n"
                     "1339A,2026-01-01,pm25,10\n")
    city = write(tmp_path, "c.csv", "city,date,parameter,value\n430800,2026-01-01,pm25,33\n")
    with AirStore.open(":memory:") as store:
        store.import_files([stations, city], stations=catalog)
        values = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 1))
    assert values[("430800", date(2026, 1, 1))] == {"pm25_24h": D(33), "pm10_24h": D(60)}


def test_hourly_values_become_daily_values_under_the_hj663_counts(tmp_path, catalog):
    rows = ["station,time,parameter,value"]
    for h in range(24):
        rows.append(f"1339A,2026-01-01 {h:02d}:00,pm25,{h}")
        rows.append(f"1339A,2026-01-01 {h:02d}:00,o3,{100 + h}")
    for h in range(19):  # 19 hours on the 2nd: not a valid day
        rows.append(f"1339A,2026-01-02 {h:02d}:00,pm25,50")
    path = write(tmp_path, "h.csv", "\n".join(rows) + "\n")
    with AirStore.open(":memory:") as store:
        store.import_file(path, stations=catalog)
        values = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 2))
    day = values[("430800", date(2026, 1, 1))]
    assert day["pm25_24h"] == D("11.5")  # (0 + … + 23)/24
    assert day["o3_1h"] == 123
    assert day["o3_8h"] == D("119.5")  # the last window, hours 16..23
    assert ("430800", date(2026, 1, 2)) not in values


# ---------------------------------------------------------------- assess_air and the project

def _project(tmp_path):
    root = tmp_path / "proj"
    (root / "air-readings").mkdir(parents=True)
    (root / "air_stations.toml").write_text(STATIONS, encoding="utf-8")
    rows = ["city,date,parameter,value"]
    day = date(2025, 1, 1)
    while day.year < 2027:
        pm25 = 32 if day.year == 2026 else 40
        rows += [f"430800,{day},so2,8", f"430800,{day},no2,25", f"430800,{day},pm10,55",
                 f"430800,{day},pm25,{pm25}", f"430800,{day},co,1.2", f"430800,{day},o3_8h,150"]
        day += timedelta(days=1)
    (root / "air-readings" / "city-days.csv").write_text("\n".join(rows) + "\n",
                                                         encoding="utf-8")
    return root


def test_assess_air_gives_statistics_per_city_and_period(tmp_path):
    root = _project(tmp_path)
    assert check_air(root, cities={"430800"}) == []
    db = tmp_path / "settle.db"
    [result] = import_project_air(root, db, cities={"430800"})
    assert result.inserted == 730 * 6
    air = assess_air(db, year=2026, periods="year", standard="by_date")
    this, last = air.get("430800", "2026"), air.get("430800", "2025")
    assert this.standard == "GB3095-2026" and last.standard == "GB3095-2012"
    assert this.values["pm25"] == 32 and last.values["pm25"] == 40
    assert this.values["good_days"] == 365 and this.valid["pm25"]
    assert [d.day for d in air.daily["430800"]][:1] == [date(2025, 1, 1)]
    quarters = assess_air(db, year=2026, periods="quarter", years_back=0)
    assert set(quarters.statistics) == {("430800", Quarter(2026, q)) for q in range(1, 5)}
    months = assess_air(db, year=2026, periods="month", years_back=0, cities=["430100"])
    assert months.statistics == {}
    assert air.cities() == ["430800"] and air.get("430800", Period(2026)) is this


def test_stray_files_in_air_readings_are_problems(tmp_path):
    root = _project(tmp_path)
    (root / "air-readings" / "notes.txt").write_text("x", encoding="utf-8")
    (root / "air-readings" / ".DS_Store").write_text("x", encoding="utf-8")
    problems = check_air(root)
    assert len(problems) == 1 and "notes.txt" in str(problems[0])


def test_cli_air_import_and_aqi(tmp_path):
    from click.testing import CliRunner

    from ecocomp.cli import main

    root = _project(tmp_path)
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    first = runner.invoke(main, ["air", "import", str(root), "--db", db])
    assert first.exit_code == 0, first.output
    assert "4,380 new" in first.output
    again = runner.invoke(main, ["air", "import", str(root), "--db", db, "--json"])
    assert '"skipped": true' in again.output
    table = runner.invoke(main, ["air", "aqi", "--db", db, "--year", "2026"])
    assert table.exit_code == 0 and "430800  2026" in table.output
    assert "GB3095-2026" in table.output
    data = runner.invoke(main, ["air", "aqi", "--db", db, "--year", "2026", "--json",
                                "--periods", "month", "--standard", "GB3095-2012"])
    import json
    months = json.loads(data.output)
    assert len(months) == 12 and months[0]["values"]["pm25"] == "32"
    missing = runner.invoke(main, ["air", "aqi", "--db", db, "--year", "2024"])
    assert missing.exit_code == 1 and "no air values for 2024" in missing.output
    (root / "air-readings" / "bad.csv").write_text("city,date,parameter,value\n"
                                                   "430800,2026-13-01,pm25,1\n",
                                                   encoding="utf-8")
    bad = runner.invoke(main, ["air", "import", str(root), "--db", db])
    assert bad.exit_code == 1 and "bad.csv:2:time" in bad.output


def test_the_air_import_joins_the_readings_stores_transaction(tmp_path, catalog):
    from ecocomp.store import ReadingStore

    path = write(tmp_path, "a.csv", "station,date,parameter,value\n1339A,2026-01-01,pm25,40\n")
    db = tmp_path / "run.db"
    with ReadingStore.open(db) as readings:
        with readings.transaction(keep=False):  # a trial: rolled back at the end
            store, _ = AirStore.of(readings)
            assert store.import_file(path, stations=catalog).inserted == 1
            store.close()  # leaves the readings store's connection open
        with readings.transaction():
            store, _ = AirStore.of(readings)
            assert store.import_file(path, stations=catalog).inserted == 1
    with AirStore.open(db) as store:
        assert len(store.imported_files()) == 1


def test_hours_with_different_station_counts_average_exactly(tmp_path, catalog):
    rows = ["station,time,parameter,value"]
    for h in range(24):
        rows.append(f"1339A,2026-01-01 {h:02d}:00,pm25,10")
        if h < 20:
            rows.append(f"1340A,2026-01-01 {h:02d}:00,pm25,20")
    path = write(tmp_path, "h.csv", "\n".join(rows) + "\n")
    with AirStore.open(":memory:") as store:
        store.import_file(path, stations=catalog)
        values = store.city_values(start=date(2026, 1, 1), end=date(2026, 1, 1))
    # hours 0..19: (10 + 20)/2 = 15; hours 20..23: 10 → (20·15 + 4·10)/24 = 340/24
    expected = (D(340) / 24).quantize(D(10) ** -20)
    assert values[("430800", date(2026, 1, 1))]["pm25_24h"] == expected


def test_the_air_benchmark_runs_at_a_tiny_size():
    from benchmarks import bench_air

    lines = []
    figures = bench_air.run(stations=2, days=2, repeat=1, say=lines.append)
    assert figures["values"] == 2 * 2 * 24 * 6
    assert any("read_air_readings" in line and "ratio" in line for line in lines)
