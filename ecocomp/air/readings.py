"""Air readings files: long CSV (or .xlsx) of station hourly/daily values or city days.

```
station,time,parameter,value,unit,flag          city,date,parameter,value
1339A,2026-01-01 08:00,pm25_1h,41,μg/m³,         430800,2026-01-01,pm25,35
1339A,2026-01-01,o3_8h,88,μg/m³,                 430800,2026-01-01,o3_8h,102
```

A file has a ``station`` column (station values, resolved through ``air_stations.toml``) or a
``city`` column (city-day values, a party code), not both. A time with a clock is an hourly
value (labelled by the hour's start or end, the catalog's ``hour_label``); a date alone is a
daily value. Parameters: ``pm25``, ``pm10``, ``so2``, ``no2``, ``co``, ``o3`` with the
averaging as a suffix (``_1h``, ``_24h``, ``o3_8h``; without a suffix a daily value is the
24 h mean and an hourly one the 1 h value; ``o3_1h`` on a date is the day's maximum hour).
Units μg/m³ (CO mg/m³); PM2.5, PM10, SO2 and NO2 are also accepted in mg/m³ and converted
exactly. A unit read wrongly is refused where it shows: CO above 150 mg/m³ (beyond the AQI
scale: μg/m³ read as mg/m³), and PM2.5, PM10, SO2, NO2 or O3 without a unit whose every
value in the file is below 1 (mg/m³ read as μg/m³). Values are read as Decimal from the
text. Every problem of a file is reported with file:row:field, and nothing is returned when
there is one. An
.xlsx workbook is read sheet by sheet with the water readings' workbook reader
(:func:`ecocomp.readings.workbook_sheets`), each sheet like a CSV file, problems located
file:sheet:row:field.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import attrs

from ecocomp.air.stations import StationCatalog
from ecocomp.errors import Problem, ValidationFailed
from ecocomp.money import in_money_context
from ecocomp.readings import workbook_sheets  # water's workbook reader, shared

__all__ = ["BASES", "AirReading", "read_air_readings", "read_air_rows"]

BASES = ("pm25", "pm10", "so2", "no2", "co", "o3")
_HOURLY = {f"{b}_1h" for b in BASES}
_DAILY = {f"{b}_24h" for b in BASES if b != "o3"} | {"o3_8h", "o3_1h"}
_MAX_PROBLEMS = 1000
_THOUSAND = Decimal(1000)
#: CO above this (mg/m³) is beyond HJ 633's scale (the top CO 1 h breakpoint): in practice a
#: CO column in μg/m³ read as mg/m³, so it is refused rather than rated AQI 500.
_CO_MAX_MG = Decimal(150)
#: Pollutants read in μg/m³ whose every unit-less value in a file is below 1 are in mg/m³
#: (no city's PM2.5, PM10, SO2, NO2 or O3 stays below 1 μg/m³ a whole file long).
_MICROGRAMS = ("pm25", "pm10", "so2", "no2", "o3")

_HEADERS = {
    "station": ("station", "站点", "站点编码", "站点代码", "站点名称", "监测点位", "点位",
                "点位编码", "点位名称"),
    "city": ("city", "城市", "城市代码", "城市编码", "市州", "行政区划代码"),
    "time": ("time", "date", "sampled_at", "时间", "日期", "监测时间", "监测日期", "datetime"),
    "parameter": ("parameter", "项目", "监测项目", "指标", "参数", "污染物"),
    "value": ("value", "浓度", "浓度值", "监测值", "数值"),
    "unit": ("unit", "单位"),
    "flag": ("flag", "标记", "标识", "有效性"),
}
_BASE_NAMES = {
    "pm25": "pm25", "pm2.5": "pm25", "细颗粒物": "pm25", "pm10": "pm10", "可吸入颗粒物": "pm10",
    "so2": "so2", "二氧化硫": "so2", "no2": "no2", "二氧化氮": "no2", "co": "co",
    "一氧化碳": "co", "o3": "o3", "臭氧": "o3",
}
_SUFFIXES = {"1h": "1h", "1小时": "1h", "24h": "24h", "24小时": "24h", "日均": "24h",
             "8h": "8h", "8小时": "8h"}
_UG = {"", "μg/m³", "μg/m3", "ug/m3", "ug/m³", "微克/立方米", "μg/m^3", "ug/m^3"}
_MG = {"mg/m³", "mg/m3", "毫克/立方米", "mg/m^3"}
_FLAGS = {"": "", "valid": "", "有效": "", "suspect": "suspect", "可疑": "suspect",
          "invalid": "invalid", "无效": "invalid"}
_WHEN = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


@attrs.frozen(slots=True)
class AirReading:
    """One value: a station's or a city's, for an hour (start time) or a day.

    ``value`` is in μg/m³ (CO mg/m³); ``at`` is the hour's start (naive China Standard
    Time) for ``kind = "hour"``, midnight of the day for ``kind = "day"``.
    """

    scope: str  # "station" | "city"
    site: str
    at: datetime
    kind: str  # "hour" | "day"
    parameter: str
    value: Decimal
    flag: str = ""

    @property
    def day(self) -> date:
        return self.at.date()


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split()).lstrip("\ufeff")


_HEADER_KEYS = {_key(alias): field for field, aliases in _HEADERS.items() for alias in aliases}


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed([Problem("is not UTF-8 or GB18030 text; save it as CSV in UTF-8",
                                    file=name)], what=name)


def _parameter(text: str) -> tuple[str, str | None] | str:
    """(base, averaging or None) or an error message."""
    key = _key(text).replace("_", "-").replace("（", "(").replace("）", ")")
    key = key.replace("(", "-").replace(")", "").strip("-")
    base, _, suffix = key.partition("-")
    if base not in _BASE_NAMES:
        for name in sorted(_BASE_NAMES, key=len, reverse=True):
            if key.startswith(name):
                base, suffix = name, key[len(name):].strip("-")
                break
        else:
            return (f"unknown parameter {text!r}; use pm25, pm10, so2, no2, co or o3 with "
                    "_1h, _24h or o3_8h")
    if suffix and suffix not in _SUFFIXES:
        return f"unknown averaging {suffix!r} in {text!r}; use _1h, _24h or o3_8h"
    return _BASE_NAMES[base], _SUFFIXES.get(suffix)


def _when(text: str, hour_label: str | None) -> tuple[datetime, str] | str:
    match = _WHEN.match(unicodedata.normalize("NFKC", text.strip()))
    if not match:
        return (f"time {text!r} is not a date (2026-01-01) or an hour (2026-01-01 08:00)")
    y, m, d, hh, mm, ss = match.groups()
    try:
        day = date(int(y), int(m), int(d))
    except ValueError:
        return f"{text!r} is not a real date"
    if hh is None:
        return datetime(day.year, day.month, day.day), "day"
    if int(mm) != 0 or int(ss or 0) != 0:
        return f"hour {text!r} is not on the hour; hourly values are labelled HH:00"
    hour = int(hh)
    if hour > 24 or (hour == 24 and hour_label != "end"):
        return f"{text!r} is not a real hour (00:00..23:00; 24:00 only with hour_label = end)"
    moment = datetime(day.year, day.month, day.day) + timedelta(hours=hour)
    if hour_label == "end":
        moment -= timedelta(hours=1)
    return moment, "hour"


def _value(text: str) -> Decimal | str:
    try:
        value = Decimal(text) if text and "_" not in text else None
    except InvalidOperation:
        value = None
    if value is None:  # full-width digits and such: read the NFKC form once more
        cell = unicodedata.normalize("NFKC", text).strip()
        if not cell:
            return "value is empty; write the concentration, or leave the row out"
        try:
            value = Decimal(cell) if "_" not in cell else None
        except InvalidOperation:
            value = None
        if value is None:
            return (f"value {text!r} is not a number; write the concentration or leave the "
                    "row out")
    if not value.is_finite() or value < 0:
        return f"value {text!r} must be a finite number ≥ 0"
    if value > 100_000:
        return f"value {text!r} is too large to be a concentration; check the unit"
    return value


@cache
def _unit_factor(base: str, unit: str) -> Decimal | str:
    u = unicodedata.normalize("NFKC", unit).strip().lower().replace("µ", "μ")
    if base == "co":
        if u in ("", *_MG):
            return Decimal(1)
        return f"CO is given in mg/m³, not {unit!r}"
    if u in _UG:
        return Decimal(1)
    if u in _MG and base != "o3":
        return _THOUSAND
    return f"unit {unit!r} is not accepted for {base}; use μg/m³" + (
        " or mg/m³" if base != "o3" else "")


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, row


def read_air_readings(
    source: str | Path,
    *,
    stations: StationCatalog | None = None,
    cities: Collection[str] | Mapping[str, str] | None = None,
    name: str | None = None,
) -> list[AirReading]:
    """Parse one air readings file (CSV, or an .xlsx workbook: every sheet with data);
    raise ValidationFailed listing every problem.

    ``stations`` resolves station codes or names (and gives ``hour_label``); ``cities``
    (party codes, or code → name) checks city cells. Identical repeated rows collapse; a
    repeat with another value is a problem naming both rows.
    """
    return [reading for _line, reading in read_air_rows(source, stations=stations,
                                                         cities=cities, name=name)]


@in_money_context
def read_air_rows(
    source: str | Path,
    *,
    stations: StationCatalog | None = None,
    cities: Collection[str] | Mapping[str, str] | None = None,
    name: str | None = None,
) -> list[tuple[int, AirReading]]:
    """:func:`read_air_readings` with each value's row in the file (for located problems)."""
    file = name or str(source)
    if str(source).lower().endswith(".xlsx"):
        return _read_workbook(source, file, stations, cities)
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise ValidationFailed([Problem(f"cannot read the file: {exc.strerror}", file=file)],
                               what=file) from None
    return _read_rows(_rows(_decode(data, file)), file, stations, cities)


def _read_workbook(source: str | Path, file: str, stations: StationCatalog | None,
                   cities: Collection[str] | Mapping[str, str] | None,
                   ) -> list[tuple[int, AirReading]]:
    """Every non-empty sheet of an .xlsx workbook, read like a CSV file; problems located
    ``file:sheet:row:field``; a value repeated on another sheet with another value is one."""
    problems: list[Problem] = []
    found: dict[tuple[str, datetime, str], tuple[str, int, AirReading]] = {}
    for item in workbook_sheets(source, file, formats=True):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        title, reader = item
        where = f"{file}:{title}"
        try:
            readings = _read_rows(((reader.line_num, row) for row in reader), where, stations,
                                  cities)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            continue
        for line, reading in readings:
            key = (reading.site, reading.at, reading.parameter)
            earlier = found.get(key)
            if earlier is None:
                found[key] = (title, line, reading)
            elif earlier[2].value != reading.value or earlier[2].flag != reading.flag:
                problems.append(Problem(
                    f"{reading.parameter} at {reading.at:%Y-%m-%d %H:%M} for {reading.site} is "
                    f"{reading.value} here and {earlier[2].value} on sheet {earlier[0]}; keep "
                    "one", file=where, row=line, field="value"))
    if problems:
        raise ValidationFailed(problems[:_MAX_PROBLEMS], what=file)
    return [(line, reading) for _title, line, reading in found.values()]


def _read_rows(rows: Iterator[tuple[int, list[str]]], file: str,
               stations: StationCatalog | None,
               cities: Collection[str] | Mapping[str, str] | None,
               ) -> list[tuple[int, AirReading]]:
    """Parse the rows of one CSV file or sheet (``file`` locates its problems)."""
    problems: list[Problem] = []
    header: list[str] | None = None
    for _line, row in rows:
        if row and any(c.strip() for c in row) and not row[0].lstrip("\ufeff").startswith("#"):
            header = row
            break
    if header is None:
        raise ValidationFailed([Problem("the file is empty (no header row)", file=file)],
                               what=file)
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        field = _HEADER_KEYS.get(_key(cell))
        if field is None:
            if cell.strip():
                problems.append(Problem(f"unknown column {cell!r}; columns are station or city, "
                                        "time, parameter, value, unit, flag", file=file, row=1,
                                        field=cell))
            continue
        if field in columns:
            problems.append(Problem(f"column {field} is named twice", file=file, row=1,
                                    field=cell))
        columns[field] = i
    scope = "station" if "station" in columns else "city"
    if "station" in columns and "city" in columns:
        problems.append(Problem("a file holds station values (a station column) or city "
                                "values (a city column), not both", file=file, row=1))
    for required in (scope, "time", "parameter", "value"):
        if required not in columns:
            problems.append(Problem(f"column {required} is missing", file=file, row=1))
    if problems:
        raise ValidationFailed(problems, what=file)
    if scope == "station" and stations is None:
        raise ValidationFailed([Problem("station values need the stations catalog "
                                        "(air_stations.toml)", file=file, row=1)], what=file)
    sites: dict[str, str] = {}
    named: dict[str, list[str]] = {}  # a name → the codes it names
    if scope == "station" and stations is not None:
        for code, station in stations.stations.items():
            sites[code] = code
            named.setdefault(_key(station.name), []).append(code)
    elif cities is not None:
        for code in cities:
            sites[code] = code
        if isinstance(cities, Mapping):
            for code, title in cities.items():
                if title:
                    named.setdefault(_key(str(title)), []).append(code)
    # a name shared by several stations (every city has its 市监测站) or parties names none
    # of them: the codes are needed, or the values would go to the first one's city
    shared = {name: codes for name, codes in named.items() if len(codes) > 1}
    for name, codes in named.items():
        if len(codes) == 1:
            sites.setdefault(name, codes[0])
    hour_label = stations.hour_label if stations is not None else None
    found: dict[tuple[str, datetime, str], tuple[int, AirReading]] = {}
    hour_label_told = False
    unitless: dict[str, tuple[Decimal, int]] = {}  # particles without a unit: largest, row
    # a station's unsuffixed daily value ("pm25" on a date) on a day whose hours it also gives,
    # without the 00:00 label: the 00:00 hour written (or formatted in Excel) as a date alone,
    # which would be read as the day's mean
    day_rows: dict[tuple[str, date, str], int] = {}
    midnight: dict[tuple[str, date, str], bool] = {}

    def problem(message: str, line: int, field: str) -> None:
        problems.append(Problem(message, file=file, row=line, field=field))

    width = len(header)
    index = {field: columns.get(field, width) for field in _HEADERS}  # width: the empty cell
    site_at, time_at, param_at, value_at = (index[scope], index["time"], index["parameter"],
                                            index["value"])
    unit_at, flag_at = index["unit"], index["flag"]
    # the same few sites, parameters, units, flags and (per file) times repeat on every row
    site_cache: dict[str, str | None] = {}
    param_cache: dict[str, tuple[str, str | None] | str] = {}
    when_cache: dict[str, tuple[datetime, str] | str] = {}
    flag_cache: dict[str, str | None] = {}
    for line, row in rows:
        if len(problems) >= _MAX_PROBLEMS:
            break
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        cells += [""] * (width + 1 - len(cells))
        before = len(problems)
        site_text = cells[site_at]
        site = site_cache.get(site_text, "")
        if site == "":
            site = (sites.get(site_text) or sites.get(_key(site_text))) if sites else site_text
            site_cache[site_text] = site
        if not site:
            what = "station" if scope == "station" else "city (party code)"
            codes = shared.get(_key(site_text), ())
            many = "stations" if scope == "station" else "parties"
            problem(f"{site_text!r} is the name of {len(codes)} {many} ({', '.join(codes)}); "
                    "write the code" if codes else
                    f"unknown {what} {site_text!r}" if site_text else f"{scope} is empty",
                    line, scope)
        param = param_cache.get(cells[param_at])
        if param is None:
            param = param_cache[cells[param_at]] = _parameter(cells[param_at])
        if isinstance(param, str):
            problem(param, line, "parameter")
        when = when_cache.get(cells[time_at])
        if when is None:
            if len(when_cache) > 4096:
                when_cache.clear()
            when = when_cache[cells[time_at]] = _when(cells[time_at], hour_label)
        if isinstance(when, str):
            problem(when, line, "time")
        value = _value(cells[value_at])
        if isinstance(value, str):
            problem(value, line, "value")
        flag_text = cells[flag_at]
        flag = flag_cache.get(flag_text, "?")
        if flag == "?":
            flag = flag_cache[flag_text] = _FLAGS.get(_key(flag_text))
        if flag is None:
            problem(f"flag {flag_text!r} is not empty, valid, suspect or invalid", line, "flag")
        if len(problems) > before:
            continue
        assert not isinstance(param, str) and not isinstance(when, str)
        assert isinstance(value, Decimal) and flag is not None and site
        base, averaging = param
        moment, kind = when
        if kind == "hour" and hour_label is None:
            if not hour_label_told:
                problem("hourly values need hour_label = \"start\" or \"end\" in "
                        "air_stations.toml (the monitoring centre's convention)", line, "time")
                hour_label_told = True
            continue
        if scope == "city" and kind == "hour":
            problem("city files hold daily values; write a date (hourly values come from "
                    "stations)", line, "time")
            continue
        key = f"{base}_{averaging or ('1h' if kind == 'hour' else '24h')}"
        if base == "o3" and averaging is None and kind == "day":
            problem("o3 on a day needs its averaging: o3_8h (daily maximum 8 h mean) or o3_1h "
                    "(daily maximum hour)", line, "parameter")
            continue
        if key not in (_HOURLY if kind == "hour" else _DAILY):
            need = "an hour (2026-01-01 08:00)" if kind == "day" else "a date (2026-01-01)"
            problem(f"{key} is not a {'daily' if kind == 'day' else 'hourly'} parameter; "
                    f"write {need} in the time column, or the other averaging", line,
                    "parameter")
            continue
        factor = _unit_factor(base, cells[unit_at])
        if isinstance(factor, str):
            problem(factor, line, "unit")
            continue
        if base == "co" and value > _CO_MAX_MG:
            problem(f"CO {value} mg/m³ is beyond the AQI scale ({_CO_MAX_MG} mg/m³); check the "
                    "unit: CO is read in mg/m³, so a file in μg/m³ needs its values divided by "
                    "1000", line, "value")
            continue
        if base in _MICROGRAMS and not cells[unit_at]:
            top = unitless.get(base)
            if top is None or value > top[0]:
                unitless[base] = (value, line)
        if scope == "station":
            if kind == "day" and averaging is None:  # "pm25" on a date, as the hours write it
                day_rows.setdefault((site, moment.date(), base), line)
            else:
                label = moment + timedelta(hours=1) if hour_label == "end" else moment
                place = (site, label.date(), base)
                midnight[place] = midnight.get(place, False) or label.hour == 0
        reading = AirReading(scope, site, moment, kind, key, value * factor, flag)
        earlier = found.get((site, moment, key))
        if earlier is not None:
            other_line, other = earlier
            if other.value != reading.value or other.flag != reading.flag:
                problem(f"{key} at {moment:%Y-%m-%d %H:%M} for {site} is {reading.value} here "
                        f"and {other.value} on row {other_line}; keep one", line, "value")
            continue
        found[(site, moment, key)] = (line, reading)
    for (site, day, base), line in day_rows.items():
        if midnight.get((site, day, base)) is False:
            problem(f"{base} of {site} on {day} is a daily value (a date without a clock), but "
                    f"the file gives {site}'s {base} hours of that day without the 00:00 hour: "
                    f"if this is the 00:00 hour, write {day} 00:00 (in Excel, format the cells "
                    f"yyyy-mm-dd hh:mm); if it is the day's mean, write {base}_24h", line,
                    "time")
    for base, (top, line) in unitless.items():
        if top < 1:
            fix = ("write the values in μg/m³ (× 1000): O3 is read in μg/m³ only" if base == "o3"
                   else "write the unit column (mg/m³) or the values in μg/m³")
            problem(f"every {base} value of the file without a unit is below 1 (the largest "
                    f"is {top}): these are mg/m³, not μg/m³; {fix}", line, "value")
    if problems:
        raise ValidationFailed(problems, what=file)
    if not found:
        raise ValidationFailed([Problem("the file has a header but no values", file=file)],
                               what=file)
    return list(found.values())
