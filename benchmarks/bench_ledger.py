"""Ledger throughput: batched append against raw executemany, and verify() speed.

Run ``python -m benchmarks.bench_ledger [--n 100000]``. It measures, in the same run and on
the same machine:

* raw ``sqlite3.executemany`` of the same rows (transactions + transfers) into the same
  schema with the same settings (WAL, synchronous=FULL, triggers), without hashing or checks;
* the ledger's batched append (``post_many``: idempotency look-up, validation, hashing,
  executemany, commit) and its ratio to raw (target ≥ 0.25);
* ``verify()`` in transactions per second on one core, with a checkpoint covering everything
  so Merkle roots are recomputed too (target ≥ 150,000/s with every check of issue 10:
  schema, ``PRAGMA integrity_check``, every field against the model's rules): in a fresh
  process pinned to one CPU (``sched_setaffinity``, so SQLite's file check shares the core
  with the scan), as ``ecocomp ledger verify`` runs, slowest / median / fastest of 5; the
  target is held to the median. Unpinned, the
  figures of two cores follow: wall time, and the CPU of the scanning thread and of all;
* ``verify_file`` as ``ecocomp ledger verify`` runs it (read-only; SQLite's file check in a
  thread beside the scan), with ``--quick`` and with ``--jobs 2``.
* the floor any Python verify of this ledger stands on, in the same run: fetching the rows
  verify reads (the same joined query, texts as bytes) and doing nothing with them, then
  fetching them and parsing each ``meta`` with the C JSON parser (no other check, no hash).
  It is why the scan has a compiled fast path (``ecocomp/ledger/_scanc.c``): in Python,
  parsing ``meta`` alone costs as much as the target allows for everything.

The verify figures are the scan the install has (the line "the scan it ran" says which);
``ECOCOMP_PURE_PYTHON=1 python -m benchmarks.bench_ledger`` measures the Python one.

Transaction objects are built before the append is timed (building them is reported
separately): the comparison is between two ways of storing the same data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecocomp.ledger import Ledger, NewTransaction, Transfer, _store, compiled
from ecocomp.ledger.verify import _SCAN, verify_file

APPEND_TARGET = Decimal("0.25")
VERIFY_TARGET = 150_000
_PARTIES = ("430100", "430200", "430300", "430400", "430500", "430600", "430700", "430800")


def make_transactions(n: int, transfers: int = 1) -> list[NewTransaction]:
    """``n`` realistic accruals: agreement, period, component, basis in meta, digest."""
    out = []
    for i in range(n):
        month = i % 12 + 1
        payer = _PARTIES[i % len(_PARTIES)]
        payee = _PARTIES[(i + 1) % len(_PARTIES)]
        amount = Decimal(100_000 + (i % 977) * 100) / 100
        meta = {"class": "IV", "amount": str(amount), "month": month,
                "factors": ["codmn", "nh3n", "tp"], "section": f"s{i % 40}"}
        out.append(
            NewTransaction(
                key=f"agreement-{i % 50}/2023-{month:02d}/class-{i}",
                kind="accrual",
                transfers=[
                    Transfer.between(payer, payee, amount, purpose="accrued")
                    for _ in range(transfers)
                ],
                agreement=f"agreement-{i % 50}",
                period=f"2023-{month:02d}",
                component="class",
                booked_on=date(2023, month, 28),
                inputs_digest=hashlib.sha256(str(i).encode()).hexdigest(),
                meta=meta,
            )
        )
    return out


def _rows(txs: list[NewTransaction]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The same rows the ledger writes, with placeholder hashes (no hashing)."""
    placeholder = "0" * 64
    tx_rows, transfer_rows = [], []
    for seq, tx in enumerate(txs, start=1):
        tx_rows.append((placeholder, seq, tx.key, tx.kind, tx.booked_on.isoformat(), None,
                        tx.agreement, tx.period, tx.component, None, None, None,
                        tx.inputs_digest, tx.meta_json, "2024-01-31T00:00:00.000000Z",
                        placeholder))
        transfer_rows.extend(
            (seq, i, t.debit_party, t.debit_purpose, t.credit_party, t.credit_purpose, t.fen)
            for i, t in enumerate(tx.transfers)
        )
    return tx_rows, transfer_rows


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_raw(path: Path, txs: list[NewTransaction]) -> float:
    """Seconds for raw executemany of the rows into a fresh database."""
    tx_rows, transfer_rows = _rows(txs)
    conn = _store.connect(str(path), busy_timeout_ms=30_000)
    _store.migrate(conn)

    def insert() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_store.TX_INSERT, tx_rows)
        conn.executemany(_store.TRANSFER_INSERT, transfer_rows)
        conn.execute("COMMIT")

    seconds = _timed(insert)
    conn.close()
    return seconds


def bench_append(path: Path, txs: list[NewTransaction]) -> float:
    """Seconds for ``post_many`` of every transaction into a fresh ledger."""
    with Ledger.open(path) as ledger:
        return _timed(lambda: ledger.post_many(txs))


def bench_batch(path: Path, txs: list[NewTransaction]) -> float:
    """Seconds for posting one by one inside ``with ledger.batch()``."""
    with Ledger.open(path) as ledger:

        def run() -> None:
            with ledger.batch() as batch:
                for tx in txs:
                    batch.post(tx)

        return _timed(run)


def bench_verify(path: Path, repeat: int = 3) -> dict[str, float]:
    """Best seconds of each way to verify: ``verify()`` without and with a checkpoint
    covering everything, then ``verify_file`` full, ``--quick`` and ``--jobs 2``."""
    with Ledger.open(path) as ledger:
        seconds = {"plain": _best(ledger.verify, repeat)}
        ledger.checkpoint()
        cpu: list[float] = []
        seconds["merkle"] = _best(ledger.verify, repeat, cpu)
        seconds["merkle_cpu"], seconds["merkle_all_cpu"] = cpu
        for name, value in zip(("one_core_slowest", "one_core_median", "one_core_fastest"),
                               _on_one_core(path, 5), strict=True):
            seconds[name] = value
    seconds["file"] = _best(lambda: verify_file(path), repeat)
    seconds["quick"] = _best(lambda: verify_file(path, quick=True), repeat)
    seconds["jobs2"] = _best(lambda: verify_file(path, jobs=2), repeat)
    seconds.update(bench_floor(path, repeat))
    return seconds


def bench_floor(path: Path, repeat: int = 3) -> dict[str, float]:
    """Best CPU seconds of the work under any Python verify: ``fetch`` reads every row of
    verify's own query (texts as bytes) and drops it; ``fetch_meta`` also parses each
    transaction's ``meta`` with the C JSON parser."""
    conn = sqlite3.connect(path)
    conn.text_factory = bytes
    loads = json.loads
    at_meta = 14  # the position of meta in verify._SCAN's columns

    def fetch() -> None:
        for _row in conn.execute(_SCAN, (1, 2**62)):
            pass

    def fetch_meta() -> None:
        for row in conn.execute(_SCAN, (1, 2**62)):
            loads(row[at_meta])

    try:
        return {"fetch": _best_cpu(fetch, repeat), "fetch_meta": _best_cpu(fetch_meta, repeat)}
    finally:
        conn.close()


def _on_one_core(path: Path, repeat: int) -> tuple[float, float, float]:
    """Slowest, median and fastest wall seconds of ``verify()`` of the ledger in ``path``,
    ``repeat`` times in a fresh process pinned to one CPU (:func:`_pinned_verifies`), as
    `ecocomp ledger verify` runs: this process holds 100,000 transaction objects and every
    ledger it built, which a verify never has."""
    code = ("import json, sys\n"
            "from benchmarks.bench_ledger import _pinned_verifies\n"
            "print(json.dumps(_pinned_verifies(sys.argv[1], int(sys.argv[2]))))")
    root = str(Path(__file__).resolve().parent.parent)  # where `benchmarks` imports from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", code, str(path), str(repeat)],
                          capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"the pinned verify failed: {done.stderr[-2000:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return max(times), statistics.median(times), min(times)


def _pinned_verifies(path: str, repeat: int) -> list[float]:
    """In the child: pin this process to one CPU (so the file check's thread shares it with
    the scan; where the platform cannot pin, unpinned), then time ``verify()`` ``repeat``
    times; wall = CPU there."""
    pin = getattr(os, "sched_setaffinity", None)
    if pin is not None:
        cpus = os.sched_getaffinity(0)
        if cpus:
            pin(0, {min(cpus)})
    times = []
    with Ledger.open(path) as ledger:
        for _ in range(repeat):
            start = time.perf_counter()
            report = ledger.verify()
            times.append(time.perf_counter() - start)
            if not report.ok:
                raise SystemExit(f"verify failed: {report}")
    return times


def _best_cpu(action: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        action()
        best = min(best, time.thread_time() - start)
    return best


def _best(verify: Callable[[], Any], repeat: int, cpu: list[float] | None = None) -> float:
    """Best wall seconds; with ``cpu``, also the best CPU seconds of the calling thread
    (the scan's core; SQLite's file check may run in another thread beside it) and of the
    whole process (every thread: the scan and the file check together, as on one core)."""
    best = best_cpu = best_all = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        start_all = time.process_time()
        report = verify()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.thread_time() - start_cpu)
        best_all = min(best_all, time.process_time() - start_all)
        if not report.ok:
            raise SystemExit(f"verify failed: {report}")
    if cpu is not None:
        cpu += [best_cpu, best_all]
    return best


def _rate(n: int, seconds: float) -> int:
    return int(n / seconds) if seconds > 0 else 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print rates and ratios; exit 1 with ``--check`` if missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ledger")
    parser.add_argument("--n", type=int, default=100_000, help="transactions (default 100000)")
    parser.add_argument("--transfers", type=int, default=1, help="transfers per transaction")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    n = args.n

    start = time.perf_counter()
    txs = make_transactions(n, args.transfers)
    build = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw = bench_raw(folder / "raw.db", txs)
        append = bench_append(folder / "ledger.db", txs)
        batch_n = max(1, n // 10)
        batch = bench_batch(folder / "batch.db", txs[:batch_n])
        verify = bench_verify(folder / "ledger.db")

    raw_rate = _rate(n, raw)
    append_rate = _rate(n, append)
    ratio = Decimal(append_rate) / Decimal(raw_rate) if raw_rate else Decimal(0)
    verify_rate = _rate(n, verify["one_core_median"])
    verify_ratio = Decimal(verify_rate) / VERIFY_TARGET
    print(f"ledger benchmark: {n} transactions x {args.transfers} transfer(s), "
          f"Python {sys.version.split()[0]}")
    print(f"  build NewTransaction objects : {_rate(n, build):>10,} tx/s  (not in append)")
    print(f"  raw executemany (no hashing) : {raw_rate:>10,} tx/s")
    print(f"  ledger post_many (batched)   : {append_rate:>10,} tx/s  "
          f"ratio {ratio:.2f} (target >= {APPEND_TARGET})")
    print(f"  ledger batch.post one by one : {_rate(batch_n, batch):>10,} tx/s  "
          f"({batch_n} transactions)")
    print(f"  verify, no checkpoints       : {_rate(n, verify['plain']):>10,} tx/s")
    print(f"  verify, checkpoint over all, : {verify_rate:>10,} tx/s  "
          f"{verify_ratio:.2f} x target ({VERIFY_TARGET:,}/s, 1 core; the median of 5)")
    print(f"    pinned to one CPU          : slowest {_rate(n, verify['one_core_slowest']):,}, "
          f"fastest {_rate(n, verify['one_core_fastest']):,} tx/s")
    print(f"  the same on two cores        : {_rate(n, verify['merkle']):>10,} tx/s  "
          "(wall; the file check in a thread beside the scan)")
    print(f"    its scanning thread's CPU  : {_rate(n, verify['merkle_cpu']):>10,} tx/s  "
          "(file check beside it, in a thread)")
    print(f"    CPU of all its threads     : {_rate(n, verify['merkle_all_cpu']):>10,} tx/s  "
          "(scan + SQLite's integrity_check: the rate on one core)")
    print(f"  the scan it ran              : {compiled.describe():>10}  "
          "(ECOCOMP_PURE_PYTHON=1 for the Python one)")
    print(f"  ledger verify (file)         : {_rate(n, verify['file']):>10,} tx/s  "
          "(file check in a thread)")
    print(f"  ledger verify --quick        : {_rate(n, verify['quick']):>10,} tx/s")
    print(f"  ledger verify --jobs 2       : {_rate(n, verify['jobs2']):>10,} tx/s")
    print(f"  floor: fetch the rows only   : {_rate(n, verify['fetch']):>10,} tx/s  "
          "(CPU; verify's query, nothing checked)")
    print(f"  floor: fetch + parse meta    : {_rate(n, verify['fetch_meta']):>10,} tx/s  "
          f"(CPU; verify's scanning thread runs at "
          f"{Decimal(verify['fetch_meta']) / Decimal(verify['merkle_cpu']):.2f} x this)")
    missed = ratio < APPEND_TARGET or verify_rate < VERIFY_TARGET
    if missed:
        print("  TARGET MISSED")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
