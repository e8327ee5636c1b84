"""The benchmark suite: import, assessment, settlement, ledger — each beside a baseline.

Every measurement runs in a fresh Python subprocess (``python -m benchmarks.suite --child``)
that reports its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``), so sizes and
measurements cannot contaminate each other's memory figures. See benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from benchmarks.bench_ledger import VERIFY_TARGET

__all__ = ["SIZES", "Size", "format_table", "measure", "run_suite", "targets"]


@attrs.frozen
class Size:
    """One benchmark size: sections × years of readings, and what is measured on it."""

    name: str
    sections: int
    years: tuple[int, ...]
    settle: bool = True  # False: import (and its baseline) only
    automatic_share: float = 0.6


YEAR = 2021
_BOTH = (YEAR - 1, YEAR)  # improvement rules compare with the year before
#: The sizes by name; a province-year is ~150 sections over the year and the year before.
SIZES: dict[str, Size] = {
    "agreement": Size("agreement", 1, _BOTH),
    "city": Size("city", 15, _BOTH),
    "province": Size("province", 150, _BOTH),
    # The same 150 sections with manual samples only: province has ~19x its readings and the
    # same 3,900 section-periods, so their peak memories compare input size alone.
    "province-manual": Size("province-manual", 150, _BOTH, automatic_share=0.0),
    "national-5M": Size("national-5M", 620, (YEAR,), settle=False),
    "national-20M": Size("national-20M", 2470, (YEAR,), settle=False),
}
QUICK = ("agreement", "city")
DEFAULT = ("agreement", "city", "province-manual", "province", "national-5M")
FULL = ("agreement", "city", "province-manual", "province", "national-20M")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _readings(folder: Path) -> list[Path]:
    return sorted((folder / "readings").glob("*.csv"))


# --------------------------------------------------------------------------- child side


def _m_import(folder: Path, db: Path) -> dict[str, Any]:
    from ecocomp.store import ReadingStore

    start = time.perf_counter()
    rows = 0
    with ReadingStore.open(db) as store:
        for file in _readings(folder):
            rows += store.import_file(file).inserted
    return {"rows": rows, "seconds": time.perf_counter() - start}


def _m_raw_import(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import raw_import

    return raw_import(db, _readings(folder))


def _m_sqlite_cli(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import sqlite_cli_import

    result = sqlite_cli_import(db, _readings(folder))
    return result if result is not None else {"skipped": "the sqlite3 program is not installed"}


def _m_pyarrow_parse(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import pyarrow_parse

    return pyarrow_parse(_readings(folder))


def _m_columnar(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import columnar_alone

    return columnar_alone(_readings(folder))


def _m_duckdb(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import duckdb_pipeline

    result = duckdb_pipeline(db, _readings(folder))
    return result if result is not None else {"skipped": "duckdb is not installed"}


def _m_polars(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import polars_pipeline

    result = polars_pipeline(_readings(folder))
    return result if result is not None else {"skipped": "polars is not installed"}


def _m_agree(folder: Path, db: Path) -> dict[str, Any]:
    """Not timed: ecocomp's import, then whether DuckDB's and polars' monthly sums of the
    same files are the numbers ecocomp stored, group by group."""
    from benchmarks.baselines import (
        compare_monthly,
        duckdb_pipeline,
        polars_pipeline,
        stored_monthly,
    )
    from ecocomp.store import ReadingStore

    files = _readings(folder)
    with ReadingStore.open(db) as store:
        for file in files:
            store.import_file(file)
    ours, left_out = stored_monthly(db)
    out: dict[str, Any] = {"groups": len(ours), "left_out": left_out}
    duck_db = _fresh(db.with_name(db.name + ".duckdb"))
    for name, theirs in (("duckdb", duckdb_pipeline(duck_db, files, groups=True)),
                         ("polars", polars_pipeline(files, groups=True))):
        out[name] = ("skipped: not installed" if theirs is None
                     else compare_monthly(ours, theirs["monthly"], left_out))
    _fresh(duck_db)
    return out


def _m_assess(folder: Path, db: Path) -> dict[str, Any]:
    from ecocomp.project import load_project
    from ecocomp.settlement import assess_project, compute
    from ecocomp.store import ReadingStore

    project = load_project(folder)
    with ReadingStore.open(db) as store:
        start = time.perf_counter()
        assessments = assess_project(project, store, YEAR)
        assessed = time.perf_counter()
    obligations, nets = compute(project, assessments, YEAR)
    computed = time.perf_counter()
    return {"seconds": assessed - start, "section_periods": len(assessments.sections),
            "compute_seconds": computed - assessed, "obligations": len(obligations),
            "nets": len(nets)}


def _m_pandas(folder: Path, db: Path) -> dict[str, Any]:
    from benchmarks.baselines import pandas_assessment
    from ecocomp.project import load_project

    project = load_project(folder)
    waterbodies = {code: s.waterbody for code, s in project.sections.items()}
    result = pandas_assessment(_readings(folder), waterbodies)
    return result if result is not None else {"skipped": "pandas is not installed"}


def _m_settle(folder: Path, db: Path) -> dict[str, Any]:
    import ecocomp.settlement as settlement
    from ecocomp.ledger import Ledger
    from ecocomp.project import load_project
    from ecocomp.store import ReadingStore

    phases: dict[str, float] = {"import": 0.0, "assess": 0.0, "compute": 0.0}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] += time.perf_counter() - t
        return run

    # Time the phases inside the real run, without changing it.
    settlement.assess_project = timed("assess", settlement.assess_project)  # type: ignore[assignment]
    settlement.compute = timed("compute", settlement.compute)  # type: ignore[assignment]
    ReadingStore.import_file = timed("import", ReadingStore.import_file)  # type: ignore[method-assign]
    start = time.perf_counter()
    project = load_project(folder)
    with Ledger.open(db) as ledger:
        result = settlement.settle(project, year=YEAR, ledger=ledger)
        total = time.perf_counter() - start
        transactions = ledger.transactions()
        count = len(transactions)
        transfers = sum(len(tx.transfers) for tx in transactions)
        t = time.perf_counter()
        report = ledger.verify()
        verify = time.perf_counter() - t
        if not report.ok:
            raise SystemExit(f"verify failed: {report}")
        # the same year again, nothing new: every file's digest is already recorded. As
        # the command runs it (the project loaded again), RESETTLES times; and settle()
        # alone on the loaded project.
        first = dict(phases)  # the phases of the first run only
        peak = round(_peak_mb(), 1)  # the first run's peak: the re-settle is not counted
        obligations, posted = len(result.obligations), result.posted
        want = result.to_json()
        del result, transactions
        again_runs, settle_only = [], []
        for _ in range(RESETTLES):
            t = time.perf_counter()
            loaded = load_project(folder)
            loaded_at = time.perf_counter()
            again = settlement.settle(loaded, year=YEAR, ledger=ledger)
            done = time.perf_counter()
            again_runs.append(done - t)
            settle_only.append(done - loaded_at)
            if again.posted or again.adjusted:
                raise SystemExit("settling an unchanged year posted something")
            if again.to_json()["obligations"] != want["obligations"]:
                raise SystemExit("settling an unchanged year gave other obligations")
    post = total - sum(first.values())
    again_runs.sort()
    command = _resettle_command(folder, db)
    return {"seconds": total, **{f"{k}_seconds": v for k, v in first.items()},
            **command,
            "post_and_rest_seconds": post, "obligations": obligations,
            "posted": posted, "transactions": count,
            "transfers": transfers, "verify_seconds": verify,
            "resettle_seconds": again_runs[len(again_runs) // 2],
            "resettle_seconds_min": again_runs[0], "resettle_settle_only_seconds_min":
            min(settle_only), "own_peak_rss_mb": peak}


def _resettle_command(folder: Path, db: Path) -> dict[str, Any]:
    """The whole `ecocomp settle` command again on the unchanged year, RESETTLES times in
    fresh processes (Python's start, ecocomp's imports, the project loaded, the recorded
    run reused, the ledger verified): the median wall and the median CPU of the child."""
    argv = [sys.executable, "-m", "ecocomp.cli", "settle", str(folder), "--year", str(YEAR),
            "--db", str(db), "--quiet", "--lang", "en"]  # the check below reads English
    # As installed: pip compiles ecocomp's bytecode at install, so the command loads .pyc
    # files. Where the environment says not to write them (PYTHONDONTWRITEBYTECODE), every
    # run would compile ecocomp's sources again (≈ 0.2 s of CPU); the children here write
    # and read them under a folder of their own, filled by one run before the timed ones.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(db.parent / "pycache")
    subprocess.run([*argv[:3], "--help"], capture_output=True, env=env, check=True)
    subprocess.run(argv, capture_output=True, env=env, check=False)
    walls, cpus = [], []
    for _ in range(RESETTLES):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0 or not re.search(r"^ledger: 0 posted,", done.stdout, re.M):
            raise SystemExit(f"the re-settle command failed or posted: {done.stdout[-500:]}"
                             f"{done.stderr[-500:]}")
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    walls.sort()
    cpus.sort()
    return {"resettle_command_seconds": walls[len(walls) // 2],
            "resettle_command_cpu_seconds": cpus[len(cpus) // 2],
            "resettle_command_cpu_seconds_min": cpus[0]}


def _m_ledger(n: int, folder: Path) -> dict[str, Any]:
    from benchmarks import bench_ledger

    txs = bench_ledger.make_transactions(n)
    raw = bench_ledger.bench_raw(folder / "ledger-raw.db", txs)
    append = bench_ledger.bench_append(folder / "ledger.db", txs)
    verify = bench_ledger.bench_verify(folder / "ledger.db", repeat=1)
    return {"transactions": n, "raw_seconds": raw, "append_seconds": append,
            "verify_seconds": verify["plain"], "verify_merkle_seconds": verify["merkle"],
            "count": n}


#: Re-settles of the unchanged year in each settle measurement (min and median reported).
RESETTLES = 3


def measure(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this process (the child side); adds ``peak_rss_mb`` and the
    1-minute load average before and after (``load``)."""
    load = os.getloadavg()[0]
    folder = Path(params["folder"])
    db = Path(params.get("db", folder / "bench.db"))
    if kind == "ledger":
        out = _m_ledger(int(params["n"]), folder)
    else:
        runs = {"import": _m_import, "raw_import": _m_raw_import,
                "sqlite_cli": _m_sqlite_cli, "duckdb": _m_duckdb, "polars": _m_polars,
                "agree": _m_agree, "assess": _m_assess,
                "pyarrow_parse": _m_pyarrow_parse, "columnar": _m_columnar,
                "pandas": _m_pandas, "settle": _m_settle}
        out = runs[kind](folder, db)
    out["peak_rss_mb"] = out.pop("own_peak_rss_mb", round(_peak_mb(), 1))
    out["load"] = round(max(load, os.getloadavg()[0]), 2)
    return out


# --------------------------------------------------------------------------- parent side


def _load() -> float:
    """The 1-minute load average (0 where the system does not say)."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return 0.0


def _child(kind: str, **params: Any) -> dict[str, Any]:
    before = _load()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.suite", "--child", kind, json.dumps(params,
                                                                               default=str)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {kind} failed:\n{done.stderr[-3000:]}")
    out = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    out["load"] = round(max(before, _load()), 2)
    return out


def _repeated(kind: str, n: int, db: Path, **params: Any) -> dict[str, Any]:
    """``n`` fresh runs of one measurement: the median run's figures, with the min and
    median of its seconds (``seconds_min``, ``seconds_median``, ``runs``)."""
    runs = []
    for _ in range(max(1, n)):
        runs.append(_child(kind, db=_fresh(db), **params))
        _fresh(db)
    if "skipped" in runs[0]:
        return runs[0]
    runs.sort(key=lambda r: r["seconds"])
    median = dict(runs[len(runs) // 2])
    median["seconds_min"] = runs[0]["seconds"]
    median["seconds_median"] = median["seconds"]
    median["runs"] = len(runs)
    for key in ("resettle_seconds", "resettle_settle_only_seconds"):
        if f"{key}_min" in median:
            median[f"{key}_min"] = min(r[f"{key}_min"] for r in runs)
    median["load"] = max(r.get("load", 0.0) for r in runs)
    return median


def _fresh(db: Path) -> Path:
    for suffix in ("", "-wal", "-shm", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def run_size(size: Size, work: Path, say: Callable[[str], None] = print,
             repeat: int = 3) -> dict[str, Any]:
    """Generate one size's project, then measure it; every measurement in its own child."""
    from benchmarks.project import write_project

    folder = work / size.name
    start = time.perf_counter()
    counts = write_project(folder, size.sections, size.years,
                           automatic_share=size.automatic_share)
    out: dict[str, Any] = {"size": size.name, **counts,
                           "generate_seconds": time.perf_counter() - start}
    say(f"  {size.name}: {counts['readings']:,} readings, {counts['sections']} sections, "
        f"{counts['agreements']} agreements")
    out["raw_import"] = _repeated("raw_import", repeat, work / "raw.db", folder=folder)
    out["sqlite_cli"] = _repeated("sqlite_cli", repeat, work / "cli.db", folder=folder)
    out["pyarrow_parse"] = _repeated("pyarrow_parse", repeat, work / "none.db", folder=folder)
    out["columnar"] = _repeated("columnar", repeat, work / "none.db", folder=folder)
    db = work / "store.db"
    out["import"] = _repeated("import", repeat, db, folder=folder)
    if size.settle:
        out["import_once"] = _child("import", folder=folder, db=_fresh(db))  # for assess
        out["assess"] = _child("assess", folder=folder, db=db)
        out["pandas"] = _child("pandas", folder=folder)
        out["settle"] = _repeated("settle", repeat, work / "settle.db", folder=folder)
        out["duckdb"] = _repeated("duckdb", repeat, work / "duck.db", folder=folder)
        out["polars"] = _repeated("polars", repeat, work / "none.db", folder=folder)
        out["agree"] = _child("agree", folder=folder, db=_fresh(work / "agree.db"))
        _fresh(work / "agree.db")
    _fresh(db)
    return out


def _rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else 0.0


def _under_load(load: float, cpus: int | None) -> bool:
    """Whether a figure was measured while other work kept the machine's CPUs busy."""
    return load > 0.5 * (cpus or 1)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as ratios (≥ 1 means met), from the figures of one run."""
    sizes = {r["size"]: r for r in results["sizes"]}
    found: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: str, met: bool | None, note: str = "",
            *measured: dict[str, Any]) -> None:
        load = max((m.get("load", 0.0) for m in measured), default=0.0)
        if _under_load(load, results.get("cpus")):
            note = f"{note}; " if note else ""
            note += f"measured under load {load:.1f}"
        found.append({"target": name, "value": value, "goal": goal, "met": met, "note": note})

    for r in results["sizes"]:
        ratio = _rate(r["import"]["rows"], r["import"]["seconds"]) / _rate(
            r["raw_import"]["rows"], r["raw_import"]["seconds"])
        add(f"import rate / raw sqlite3 ({r['size']})", ratio, ">= 0.50", ratio >= 0.5)
        cli = r.get("sqlite_cli", {})
        if "skipped" in cli or not cli:
            add(f"import rate / sqlite3 CLI .import ({r['size']})", None, ">= 1.0", None,
                cli.get("skipped", "not measured"))
        else:
            ratio = _rate(r["import"]["rows"], r["import"]["seconds"]) / _rate(
                cli["rows"], cli["seconds"])
            add(f"import rate / sqlite3 CLI .import ({r['size']})", ratio, ">= 1.0",
                ratio >= 1.0, "issue 12", r["import"], cli)
        parse = r.get("pyarrow_parse", {})
        if parse:
            ratio = _rate(r["import"]["rows"], r["import"]["seconds"]) / _rate(
                parse["rows"], parse["seconds"])
            add(f"import rate / pyarrow.csv parse only ({r['size']})", ratio, "-", None,
                "the floor of reading the files with pyarrow", r["import"], parse)
    province = sizes.get("province")
    if province is not None:
        pandas = province["pandas"]
        if "skipped" in pandas:
            add("assessment vs pandas (province)", None, "<= 1.0", None, pandas["skipped"])
        else:
            ratio = province["assess"]["seconds"] / pandas["seconds"]
            add("assessment time / pandas time (province)", ratio, "<= 1.0", ratio <= 1.0,
                f"pandas without read_csv: {pandas['compute_seconds']:.2f} s")
        settle = province["settle"]
        loaded = _load_note(settle, results)
        total = settle["seconds"] + settle["verify_seconds"]
        add("province settle end to end (s)", total, "<= 10", total <= 10,
            f"issue 12: about 2x the DuckDB pipeline on 2 cores; median of "
            f"{settle.get('runs', 1)}{loaded}")
        duck = province.get("duckdb", {})
        if duck and "skipped" not in duck:
            ratio = total / duck["seconds"]
            add("province settle / DuckDB store + monthly sums", ratio, "<= 2.0", ratio <= 2.0,
                "issue 12; the DuckDB pipeline computes no classes or obligations")
        pol = province.get("polars", {})
        if pol and "skipped" not in pol:
            add("province settle / polars monthly sums", total / pol["seconds"], "-", None,
                "info: polars stores nothing and computes no classes or obligations")
        again = settle.get("resettle_seconds")
        if again is not None:
            add("province re-settle, nothing new (s)", again, "<= 1", again <= 1,
                f"issue 12; min {settle.get('resettle_seconds_min', again):.2f} s, of which "
                f"settle() {settle.get('resettle_settle_only_seconds_min', again):.2f} s (the "
                f"rest loads the project){loaded}")
            if duck and "skipped" not in duck:
                add("province re-settle / DuckDB store + monthly sums", again / duck["seconds"],
                    "-", None, "info: the DuckDB pipeline recomputes everything every time")
        command_cpu = settle.get("resettle_command_cpu_seconds")
        if command_cpu is not None:
            add("province re-settle, the whole `ecocomp settle` command, CPU (s)", command_cpu,
                "<= 1", command_cpu <= 1,
                f"issue 12; a fresh process each time, median of {RESETTLES} (min "
                f"{settle['resettle_command_cpu_seconds_min']:.2f} s); wall "
                f"{settle['resettle_command_seconds']:.2f} s{loaded}")
    for r in results["sizes"]:
        agree = r.get("agree")
        for name in ("duckdb", "polars") if agree else ():
            said = agree[name]
            add(f"{name} monthly sums = ecocomp's stored sums ({r['size']})", None, "equal",
                None if said.startswith("skipped") else said.startswith("equal"), said)
    small = sizes.get("city")
    big = [s for s in ("national-20M", "national-5M", "province") if s in sizes]
    if small is not None and big:
        large = sizes[big[0]]
        rows = large["import"]["rows"] / small["import"]["rows"]
        ratio = large["import"]["peak_rss_mb"] / small["import"]["peak_rss_mb"]
        add(f"import peak RSS {big[0]} / city ({rows:.0f}x rows)", ratio, "< 1.3", ratio < 1.3)
        peak = large["import"]["peak_rss_mb"]
        add(f"import peak RSS {big[0]} (MB)", peak, "< 300", peak < 300, "issue 12")
        if province is not None and big[0] != "province":
            per = large["import"]["seconds"] / large["import"]["rows"]
            base = province["import"]["seconds"] / province["import"]["rows"]
            rows = large["import"]["rows"] / province["import"]["rows"]
            add(f"import s/reading {big[0]} / province ({rows:.1f}x rows)", per / base,
                "<= 1.15", per / base <= 1.15, "issue 12 asks this at 20x")
    sparse = sizes.get("province-manual")
    if province is not None and sparse is not None:
        rows = province["import"]["rows"] / sparse["import"]["rows"]
        ratio = province["assess"]["peak_rss_mb"] / sparse["assess"]["peak_rss_mb"]
        add(f"assessment peak RSS province / province-manual ({rows:.0f}x rows)", ratio,
            "< 1.3", ratio < 1.3, "same sections and section-periods")
    if province is not None and small is not None:
        ratio = province["assess"]["peak_rss_mb"] / small["assess"]["peak_rss_mb"]
        add("assessment peak RSS province / city (10x sections)", ratio, "-", None,
            "the result itself is 10x larger: "
            f"{province['assess']['section_periods']:,} section-periods")
    return found


def _load_note(figures: dict[str, Any], results: dict[str, Any]) -> str:
    """'; UNDER LOAD …' when the 1-minute load average was high while measuring."""
    high = figures.get("load", 0.0)
    if not _under_load(high, results.get("cpus")):
        return ""
    return f"; UNDER LOAD (load average up to {high:.1f} on {results.get('cpus') or 1} cores)"


def format_table(results: dict[str, Any]) -> str:
    """The figures as a plain-text table, each beside its baseline, then the targets."""
    lines = [f"{'size':<13}{'readings':>11}  {'measure':<34}{'ecocomp':>16}  "
             f"{'baseline':>12}  {'ratio':>6}  {'peak MB':>8}"]

    def row(size: str, n: str, what: str, ours: str, base: str, ratio: str, mb: str) -> None:
        lines.append(f"{size:<13}{n:>11}  {what:<34}{ours:>16}  {base:>12}  {ratio:>6}  {mb:>8}")

    for r in results["sizes"]:
        n = f"{r['readings']:,}"
        imp, raw = r["import"], r["raw_import"]
        ours, base = _rate(imp["rows"], imp["seconds"]), _rate(raw["rows"], raw["seconds"])
        row(r["size"], n, "import rows/s (raw sqlite3)", f"{ours:,.0f}", f"{base:,.0f}",
            f"{ours / base:.2f}" if base else "-", f"{imp['peak_rss_mb']:.0f}")
        if "seconds_min" in imp:
            row("", "", "  import s, min / median", f"{imp['seconds_min']:.2f} / "
                f"{imp['seconds_median']:.2f}", "", "", "")
        cli = r.get("sqlite_cli", {})
        if cli and "skipped" not in cli:
            floor = _rate(cli["rows"], cli["seconds"])
            row("", "", "  sqlite3 CLI .import rows/s", "", f"{floor:,.0f}",
                f"{ours / floor:.2f}" if floor else "-", f"{cli['peak_rss_mb']:.0f}")
        parse = r.get("pyarrow_parse", {})
        if parse:
            floor = _rate(parse["rows"], parse["seconds"])
            row("", "", "  pyarrow.csv parse only rows/s", "", f"{floor:,.0f}",
                f"{ours / floor:.2f}" if floor else "-", f"{parse['peak_rss_mb']:.0f}")
        alone = r.get("columnar", {})
        if alone:
            rate = _rate(alone["rows"], alone["seconds"])
            row("", "", "  its columnar checks, no SQLite", f"{rate:,.0f}", "", "",
                f"{alone['peak_rss_mb']:.0f}")
        sql = _rate(raw["rows"], raw["sqlite_seconds"])
        row("", "", "  raw: executemany only rows/s", "", f"{sql:,.0f}",
            f"{ours / sql:.2f}" if sql else "-", f"{raw['peak_rss_mb']:.0f}")
        loads = [m["load"] for m in r.values() if isinstance(m, dict) and "load" in m]
        if loads:
            under = " UNDER LOAD" if _under_load(max(loads), results.get("cpus")) else ""
            row("", "", "  1-min load average while measured", f"{min(loads):.1f}-"
                f"{max(loads):.1f}{under}", f"{results.get('cpus') or '?'} CPUs", "", "")
        if "assess" not in r:
            continue
        a, p = r["assess"], r["pandas"]
        if "skipped" in p:
            row("", "", "assessment s (pandas)", f"{a['seconds']:.2f}", "skipped", "-",
                f"{a['peak_rss_mb']:.0f}")
        else:
            row("", "", "assessment s (pandas)", f"{a['seconds']:.2f}", f"{p['seconds']:.2f}",
                f"{a['seconds'] / p['seconds']:.2f}", f"{a['peak_rss_mb']:.0f}")
            row("", "", "  pandas without read_csv s", "", f"{p['compute_seconds']:.2f}",
                f"{a['seconds'] / p['compute_seconds']:.2f}", f"{p['peak_rss_mb']:.0f}")
        rate = _rate(a["obligations"], a["compute_seconds"])
        row("", "", "settlement obligations/s", f"{rate:,.0f}", "", "", "")
        s = r["settle"]
        row("", "", "settle end to end s (+verify)",
            f"{s['seconds']:.2f}+{s['verify_seconds']:.2f}", "", "", f"{s['peak_rss_mb']:.0f}")
        if "seconds_min" in s:
            row("", "", "  settle s, min / median", f"{s['seconds_min']:.2f} / "
                f"{s['seconds_median']:.2f}", "", "", "")
        duck = r.get("duckdb", {})
        if duck and "skipped" not in duck:
            whole = s["seconds"] + s["verify_seconds"]
            row("", "", "  DuckDB store + monthly sums s", "", f"{duck['seconds']:.2f}",
                f"{whole / duck['seconds']:.2f}", f"{duck['peak_rss_mb']:.0f}")
        pol = r.get("polars", {})
        if pol and "skipped" not in pol:
            whole = s["seconds"] + s["verify_seconds"]
            row("", "", "  polars monthly sums s", "", f"{pol['seconds']:.2f}",
                f"{whole / pol['seconds']:.2f}", f"{pol['peak_rss_mb']:.0f}")
        if "resettle_seconds" in s:
            row("", "", "re-settle, nothing new s", f"{s['resettle_seconds']:.2f}", "", "",
                "")
            row("", "", "  re-settle s, min / median", f"{s['resettle_seconds_min']:.2f} / "
                f"{s['resettle_seconds']:.2f}", "", "", "")
            row("", "", "  of which settle() alone, min",
                f"{s['resettle_settle_only_seconds_min']:.2f}", "", "", "")
            if duck and "skipped" not in duck:
                row("", "", "  vs DuckDB store + monthly sums", "", f"{duck['seconds']:.2f}",
                    f"{s['resettle_seconds'] / duck['seconds']:.2f}", "")
        if "resettle_command_seconds" in s:
            row("", "", "  the whole command, wall / CPU s",
                f"{s['resettle_command_seconds']:.2f} / "
                f"{s['resettle_command_cpu_seconds']:.2f}", "", "", "")
        if _load_note(s, results):
            row("", "", f"  {_load_note(s, results)[2:]}", "", "", "", "")
        row("", "", "  import+assess+compute+post s",
            f"{s['import_seconds']:.1f}+{s['assess_seconds']:.1f}+{s['compute_seconds']:.1f}+"
            f"{s['post_and_rest_seconds']:.1f}", "", "", "")
        row("", "", "verify transfers/s", f"{_rate(s['transfers'], s['verify_seconds']):,.0f}",
            "", "", "")
    led = results.get("ledger")
    if led:
        n = led["transactions"]
        ours, base = _rate(n, led["append_seconds"]), _rate(n, led["raw_seconds"])
        row("ledger", f"{n:,}", "posting tx/s, 1 transfer (raw)", f"{ours:,.0f}",
            f"{base:,.0f}", f"{ours / base:.2f}", f"{led['peak_rss_mb']:.0f}")
        plain = _rate(led["count"], led["verify_seconds"])
        merkle = _rate(led["count"], led["verify_merkle_seconds"])
        row("", "", "verify tx/s, chain only (target)", f"{plain:,.0f}", f"{VERIFY_TARGET:,}",
            f"{plain / VERIFY_TARGET:.2f}", "")
        row("", "", "  with a Merkle checkpoint over all", f"{merkle:,.0f}", f"{VERIFY_TARGET:,}",
            f"{merkle / VERIFY_TARGET:.2f}", "")
    lines.append("")
    lines.append("targets:")
    for t in targets(results):
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        met = {True: "met", False: "MISSED", None: "n/a" if t["goal"] != "-" else "info"}[t["met"]]
        note = f"  ({t['note']})" if t["note"] else ""
        lines.append(f"  {t['target']:<52}{value:>8}  goal {t['goal']:<8} {met}{note}")
    return "\n".join(lines)


def run_suite(
    sizes: Sequence[str], work: Path, *, ledger_n: int = 100_000,
    say: Callable[[str], None] = print, repeat: int = 3,
) -> dict[str, Any]:
    """Run the named sizes and the ledger benchmark in ``work``; return every figure."""
    import platform

    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "python": sys.version.split()[0], "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(), "sizes": [],
    }
    for name in sizes:
        results["sizes"].append(run_size(SIZES[name], work, say, repeat))
    if ledger_n:
        say(f"  ledger: {ledger_n:,} transactions (benchmarks/bench_ledger.py)")
        results["ledger"] = _child("ledger", n=ledger_n, folder=work)
    results["targets"] = targets(results)
    results["seconds"] = time.perf_counter() - start
    return results


if __name__ == "__main__":  # the child side: python -m benchmarks.suite --child KIND JSON
    if len(sys.argv) != 4 or sys.argv[1] != "--child":
        raise SystemExit("usage: python -m benchmarks (this module runs measurements only)")
    print(json.dumps(measure(sys.argv[2], json.loads(sys.argv[3]))))
