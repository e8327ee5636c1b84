"""SYNTHETIC city-day air data for the bundled air example (examples/hunan-air-2021).

Not monitoring data: a small deterministic generator whose output looks like a year of Hunan
city-day concentrations — PM2.5 and PM10 high in winter and low in summer, O₃-8h peaking in
late summer and autumn, NO₂ and CO a little higher in winter, a few winter pollution
episodes that build up over days — at levels of the order of the 14 市州' published annual
means. A seeded ``random.Random`` per city and year: the same seed gives the same file (the
values are rounded to whole μg/m³, CO to 0.1 mg/m³, so no float reaches the output).

    python -m ecocomp.examples.air_synth examples/hunan-air-2021   # writes air-readings/

``ecocomp demo --air`` runs it into its copy of the project, so the generated files (about
1.6 MB for two years) are not shipped.
"""

from __future__ import annotations

import math
import random
import sys
from datetime import date, timedelta
from pathlib import Path

__all__ = ["CITIES", "generate", "rows"]

#: The 14 市州 of Hunan (GB/T 2260) with a synthetic annual PM2.5 level (μg/m³), an O₃ level
#: and a 2021-vs-2020 change in per cent (negative: cleaner in 2021).
CITIES: dict[str, tuple[str, int, int, int]] = {
    "430100": ("长沙市", 41, 150, -6),
    "430200": ("株洲市", 40, 146, -5),
    "430300": ("湘潭市", 42, 148, -4),
    "430400": ("衡阳市", 38, 140, -8),
    "430500": ("邵阳市", 35, 128, -3),
    "430600": ("岳阳市", 40, 152, 4),
    "430700": ("常德市", 39, 140, -7),
    "430800": ("张家界市", 29, 118, -9),
    "430900": ("益阳市", 38, 138, 2),
    "431000": ("郴州市", 32, 132, -10),
    "431100": ("永州市", 34, 130, -6),
    "431200": ("怀化市", 33, 120, -10),
    "431300": ("娄底市", 39, 136, -2),
    "433100": ("湘西土家族苗族自治州", 27, 112, -8),
}
HEADER = "city,date,parameter,value\n"


def _season(day: date, peak_day: int) -> float:
    """A yearly cosine, 1 at ``peak_day`` (day of the year) and −1 half a year later."""
    return math.cos(2 * math.pi * (day.timetuple().tm_yday - peak_day) / 365.25)


def rows(year: int, *, seed: int = 2021) -> list[tuple[str, str, str, str]]:
    """Every (city, date, parameter, value) of ``year``, in city and date order."""
    out: list[tuple[str, str, str, str]] = []
    for code, (_name, pm25_level, o3_level, change) in CITIES.items():
        rng = random.Random(f"{seed}:{code}:{year}")
        scale = 1 + change / 100 if year >= 2021 else 1.0
        episode = 0.0
        day = date(year, 1, 1)
        while day.year == year:
            winter = _season(day, 15)          # PM peaks mid-January
            summer = _season(day, 230)         # O3 peaks mid-August
            # pollution episodes: a few multi-day build-ups in the cold months
            if winter > 0.3 and rng.random() < 0.05:
                episode = rng.uniform(0.6, 2.6)
            episode *= 0.72
            noise = rng.lognormvariate(0, 0.28)
            pm25 = pm25_level * scale * (1 + 0.48 * winter + episode) * noise
            pm10 = pm25 * rng.uniform(1.35, 1.75)
            o3 = o3_level * (0.78 + 0.38 * summer) * rng.lognormvariate(0, 0.2) * (
                1 - 0.5 * max(0.0, episode - 1))
            no2 = (18 + 0.25 * pm25_level) * (1 + 0.25 * winter) * rng.lognormvariate(0, 0.2)
            so2 = (6 + 0.08 * pm25_level) * (1 + 0.3 * winter) * rng.lognormvariate(0, 0.25)
            co = (0.7 + 0.006 * pm25) * (1 + 0.2 * winter) * rng.lognormvariate(0, 0.12)
            iso = day.isoformat()
            out += [
                (code, iso, "pm25", str(max(3, round(pm25)))),
                (code, iso, "pm10", str(max(6, round(pm10)))),
                (code, iso, "so2", str(max(2, round(so2)))),
                (code, iso, "no2", str(max(4, round(no2)))),
                (code, iso, "co", f"{max(2, round(co * 10)) / 10:.1f}"),
                (code, iso, "o3_8h", str(max(10, round(o3)))),
            ]  # fmt: skip
            day += timedelta(days=1)
    return out


def generate(project: str | Path, years: tuple[int, ...] = (2020, 2021), *,
             seed: int = 2021) -> list[Path]:
    """Write ``air-readings/synthetic-city-days-<year>.csv`` into ``project``; the paths."""
    folder = Path(project) / "air-readings"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for year in years:
        path = folder / f"synthetic-city-days-{year}.csv"
        text = HEADER + "".join(",".join(r) + "\n" for r in rows(year, seed=seed))
        path.write_text(text, encoding="utf-8", newline="")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a command-line convenience
    for written in generate(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(written)
