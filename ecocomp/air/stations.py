"""The air monitoring stations of a project: ``air_stations.toml`` at the project root.

```toml
hour_label = "start"      # hourly values are labelled by the hour's start or its end
[[station]]
code = "1339A"            # the station code as the monitoring files write it
name = "市监测站"
city = "430800"           # the party (市州) the station is assessed for
level = "national"        # national | provincial | county
evaluation = true         # 城市评价点 (true) or 对照点 (false): only evaluation stations count
start = 2015-01-01        # optional: counted from / until (inclusive)
end = 2030-12-31
```

``hour_label`` has no default: the monitoring centre's convention is a fact to confirm
(air-and-park.md §6), so a project with hourly readings must say it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import attrs

from ecocomp.errors import Problem, ValidationFailed

__all__ = ["HOUR_LABELS", "LEVELS", "Station", "StationCatalog", "load_stations"]

LEVELS = ("national", "provincial", "county")
HOUR_LABELS = ("start", "end")
_FIELDS = {"code", "name", "city", "level", "evaluation", "start", "end"}


@attrs.frozen
class Station:
    """One monitoring station: its code, city (party code) and whether it is evaluated."""

    code: str
    name: str
    city: str
    level: str = "national"
    evaluation: bool = True
    start: date | None = None
    end: date | None = None

    def counts_on(self, day: date) -> bool:
        """Whether the station is an evaluation station of its city on ``day``."""
        return (self.evaluation and (self.start is None or self.start <= day)
                and (self.end is None or day <= self.end))


@attrs.frozen
class StationCatalog:
    """The stations by code and the hour-label convention of hourly files."""

    stations: Mapping[str, Station]
    hour_label: str | None = None

    def names(self) -> dict[str, str]:
        return {code: s.name for code, s in self.stations.items()}


def _station(raw: Any, n: int, file: str, problems: list[Problem],
             cities: Collection[str] | None) -> Station | None:
    where = f"station {n}"
    if not isinstance(raw, dict):
        problems.append(Problem("is not a table", file=file, row=n, field=where))
        return None
    start = len(problems)
    for extra in sorted(set(raw) - _FIELDS):
        problems.append(Problem(f"unknown key {extra!r}; keys are {', '.join(sorted(_FIELDS))}",
                                file=file, row=n, field=extra))
    for key in ("code", "name", "city"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(Problem(f"{key} is missing or empty ({where})", file=file, row=n,
                                    field=key))
    if raw.get("level", "national") not in LEVELS:
        problems.append(Problem(f"level {raw.get('level')!r} is not one of {', '.join(LEVELS)}",
                                file=file, row=n, field="level"))
    if not isinstance(raw.get("evaluation", True), bool):
        problems.append(Problem("evaluation must be true or false", file=file, row=n,
                                field="evaluation"))
    for key in ("start", "end"):
        if key in raw and not isinstance(raw[key], date):
            problems.append(Problem(f"{key} must be a date such as 2015-01-01", file=file,
                                    row=n, field=key))
    if (isinstance(raw.get("start"), date) and isinstance(raw.get("end"), date)
            and raw["end"] < raw["start"]):
        problems.append(Problem(f"end {raw['end']} is before start {raw['start']}: the station "
                                "would never count; swap or fix them", file=file, row=n,
                                field="end"))
    if (cities is not None and isinstance(raw.get("city"), str) and raw["city"] not in cities):
        problems.append(Problem(f"city {raw['city']!r} is not a party of the project; use a "
                                "party code from parties.toml", file=file, row=n, field="city"))
    if len(problems) > start:
        return None
    return Station(raw["code"].strip(), raw["name"].strip(), raw["city"].strip(),
                   raw.get("level", "national"), raw.get("evaluation", True),
                   raw.get("start"), raw.get("end"))


def load_stations(path: str | Path, *, cities: Collection[str] | None = None,
                  ) -> StationCatalog:
    """Read and check ``air_stations.toml``; every problem at once (ValidationFailed).

    ``row`` in a problem is the station's position (1 = the first ``[[station]]``).
    """
    file = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed([Problem(f"cannot read the file: {exc.strerror}", file=file)],
                               what=file) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed([Problem(f"not valid TOML: {exc}", file=file)],
                               what=file) from None
    problems: list[Problem] = []
    label = raw.get("hour_label")
    if label is not None and label not in HOUR_LABELS:
        problems.append(Problem(f"hour_label {label!r} is not \"start\" or \"end\"", file=file,
                                field="hour_label"))
    for extra in sorted(set(raw) - {"hour_label", "station"}):
        problems.append(Problem(f"unknown key {extra!r}; write hour_label and [[station]] "
                                "tables", file=file, field=extra))
    stations: dict[str, Station] = {}
    for n, entry in enumerate(raw.get("station", []), start=1):
        station = _station(entry, n, file, problems, cities)
        if station is None:
            continue
        if station.code in stations:
            problems.append(Problem(f"station code {station.code!r} is given twice", file=file,
                                    row=n, field="code"))
        stations[station.code] = station
    if not stations and not problems:
        problems.append(Problem("no [[station]] tables", file=file))
    if problems:
        raise ValidationFailed(problems, what=file)
    return StationCatalog(stations, label)
