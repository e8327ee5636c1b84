"""Air readings: parse, import and assess speed against a raw CSV read of the same file.

Run ``python -m benchmarks.bench_air [--stations 5] [--days 365]``. It writes a synthetic
file of hourly station values (six pollutants, deterministic), then measures in the same run:

* the baseline: ``csv.reader`` over the file with ``Decimal`` of each value (no checks);
* ``read_air_readings`` (every check, located problems) and its ratio to the baseline;
* ``AirStore.import_file`` (parse, staging, contradiction check, insert, commit);
* ``assess_air`` for the year (hourly → city days under the HJ 663 counts → statistics).

Each figure is the minimum of ``--repeat`` runs; the ratio is what to compare between
machines and runs, the absolute figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from ecocomp.air import AirStore, assess_air, load_stations, read_air_readings

_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")


def write_files(folder: Path, *, stations: int, days: int, year: int = 2026) -> tuple[Path, Path]:
    """``air_stations.toml`` and one hourly CSV; returns their paths."""
    catalog = folder / "air_stations.toml"
    catalog.write_text('hour_label = "start"\n' + "".join(
        f'[[station]]\ncode = "S{i}"\nname = "station {i}"\ncity = "4308{i % 2:02d}"\n'
        for i in range(stations)), encoding="utf-8")
    rnd = random.Random(14)
    lines = ["station,time,parameter,value"]
    start = datetime(year, 1, 1)
    for h in range(24 * days):
        moment = f"{start + timedelta(hours=h):%Y-%m-%d %H:%M}"
        for s in range(stations):
            for p in _POLLUTANTS:
                value = f"{rnd.randint(1, 30) / 10}" if p == "co" else str(rnd.randint(1, 300))
                lines.append(f"S{s},{moment},{p},{value}")
    data = folder / "hourly.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return catalog, data


def _best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def baseline(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        return sum(1 for row in rows if Decimal(row[3]) >= 0)


def run(*, stations: int = 5, days: int = 365, repeat: int = 3,
        say: Callable[[str], None] = print) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog_path, data = write_files(folder, stations=stations, days=days)
        catalog = load_stations(catalog_path)
        n = baseline(data)
        raw = _best(repeat, lambda: baseline(data))
        parse = _best(repeat, lambda: read_air_readings(data, stations=catalog))

        def import_once() -> None:
            db = folder / "air.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            with AirStore.open(db) as store:
                store.import_file(data, stations=catalog)

        imported = _best(repeat, import_once)
        assess = _best(repeat, lambda: assess_air(folder / "air.db", year=2026, years_back=0))
    figures = {"values": n, "raw_per_s": n / raw, "parse_per_s": n / parse,
               "import_per_s": n / imported, "assess_s": assess}
    say(f"air: {n:,} hourly values ({stations} stations × {days} days × 6 pollutants)")
    say(f"  baseline csv + Decimal  {figures['raw_per_s']:>10,.0f} values/s")
    say(f"  read_air_readings       {figures['parse_per_s']:>10,.0f} values/s  "
        f"ratio {figures['parse_per_s'] / figures['raw_per_s']:.2f}")
    say(f"  AirStore.import_file    {figures['import_per_s']:>10,.0f} values/s  "
        f"ratio {figures['import_per_s'] / figures['raw_per_s']:.2f}")
    say(f"  assess_air (year)       {assess:>10.2f} s")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_air")
    parser.add_argument("--stations", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    run(stations=args.stations, days=args.days, repeat=args.repeat)


if __name__ == "__main__":
    main()
