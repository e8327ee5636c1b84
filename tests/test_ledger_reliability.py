"""Atomic runs under kill -9 and concurrent writers (SPEC §5.6 and §5.7).

Writers are separate Python processes: concurrent writers started with ``sys.executable -c``,
the writers killed with -9 forked one per trial from a process that imported ecocomp once
(:func:`fork_server`). The database is a real file in WAL mode, as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecocomp.ledger import Ledger

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

COMMON = """
import hashlib, json, sys, time
from datetime import date
from ecocomp.ledger import Ledger, NewTransaction, Transfer

def make(key):
    cents = int(hashlib.sha256(key.encode()).hexdigest()[:6], 16) + 1
    return NewTransaction(key=key, kind="accrual", booked_on=date(2023, 1, 31),
                          transfers=[Transfer.between("430700", "430800",
                                                      f"{cents // 100}.{cents % 100:02d}",
                                                      purpose="accrued")],
                          meta={"key": key})
"""

CRASH_WORKER = COMMON + """
path, trial, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with Ledger.open(path) as ledger:
    print("ready", flush=True)
    txs = [make(f"trial{trial}/{i}") for i in range(n)]
    if mode == "many":
        print("begin", flush=True)
        ledger.post_many(txs)
    else:
        with ledger.batch() as batch:
            for i, tx in enumerate(txs):
                batch.post(tx)
                if i == 0:
                    print("begin", flush=True)
                if i % 8 == 0:
                    time.sleep(0.001)
            if mode == "checkpoint":
                ledger.checkpoint()
    print("committed", flush=True)
"""

CONCURRENT_WORKER = COMMON + """
import random
from ecocomp.ledger import IdempotencyConflict
path, wid, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
shared = [f"shared/{i}" for i in range(30)]
own = [f"own{wid}/{i}" for i in range(20)]
order = shared + own
random.Random(wid).shuffle(order)
statuses = {}
with Ledger.open(path) as ledger:
    print("ready", flush=True)
    import os
    while not os.path.exists(go):
        time.sleep(0.001)
    for start in range(0, len(order), 5):
        chunk = order[start:start + 5]
        if (start // 5 + wid) % 3 == 0:
            results = ledger.post_many([make(k) for k in chunk])
        elif (start // 5 + wid) % 3 == 1:
            results = [ledger.post(make(k)) for k in chunk]
        else:
            with ledger.batch() as batch:
                results = [batch.post(make(k)) for k in chunk]
        statuses.update({k: r.status for k, r in zip(chunk, results)})
    race = NewTransaction(key="race", kind="accrual", booked_on=date(2023, 1, 31),
                          transfers=[Transfer.between("430700", "430800", wid + 1,
                                                      purpose="accrued")])
    try:
        statuses["race"] = ledger.post(race).status
    except IdempotencyConflict as exc:
        statuses["race"] = "conflict:" + ",".join(exc.differences)
    ledger.checkpoint()
    again = ledger.post_many([make(k) for k in order])
    assert all(r.status == "unchanged" for r in again)
print(json.dumps(statuses))
"""


FORK_SERVER = COMMON + f"""
import gc, os, traceback
WORKER = {CRASH_WORKER!r}
gc.freeze()  # the imported modules stay shared with the workers (no copy on write)
for line in sys.stdin:  # one JSON list per worker: its output file, then its arguments
    out, *argv = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the worker: a process of its own, which the test kills with -9
        code = 1
        try:
            sys.argv = ["-c", *argv]
            with open(out, "w", encoding="utf-8") as sys.stdout:
                exec(compile(WORKER, "crash_worker", "exec"), {{"__name__": "__main__"}})
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    print(pid, flush=True)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


def _spawn(code: str, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )


@contextlib.contextmanager
def fork_server(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that has imported ecocomp and forks a CRASH_WORKER for each trial of
    :func:`kill_mid_batch`: a fork, not a new interpreter and half a second of imports."""
    server = _spawn(FORK_SERVER, stdin=subprocess.PIPE)
    try:
        yield server
    except BaseException:
        server.kill()
        server.communicate()
        raise
    _, err = server.communicate(timeout=60)  # closes its stdin: it ends
    assert server.returncode == 0 and not err, err  # a worker's traceback, say


def _keys(path: Path, prefix: str) -> list[str]:
    with Ledger.open(path) as ledger:
        return [t.key for t in ledger.transactions() if t.key.startswith(prefix)]


def kill_mid_batch(forks: subprocess.Popen[str], db: str, trial: int, n: int, mode: str,
                   rng: random.Random, folder: Path) -> bool:
    """Fork a CRASH_WORKER on ``db`` from ``forks`` (:func:`fork_server`) and kill -9 it
    once its batch has begun (after a random pause); whether it had committed first."""
    assert forks.stdin is not None and forks.stdout is not None
    pipe = folder / f"worker-{trial}"  # the worker's stdout: a named pipe
    os.mkfifo(pipe)
    forks.stdin.write(json.dumps([str(pipe), db, str(trial), str(n), mode]) + "\n")
    forks.stdin.flush()
    pid = int(forks.stdout.readline())
    with open(pipe, encoding="utf-8") as out:  # waits for the worker to open it
        assert out.readline().strip() == "ready"
        assert out.readline().strip() == "begin"
        time.sleep(rng.uniform(0, 0.02))
        with contextlib.suppress(ProcessLookupError):  # not yet reaped: still there
            os.kill(pid, signal.SIGKILL)
        status = int(forks.stdout.readline())  # reaped: the process is gone
        finished = out.read().strip() == "committed"
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, status
    return finished


def test_a_batch_killed_at_any_point_leaves_all_or_nothing(tmp_path: Path):
    path = tmp_path / "crash.db"
    with Ledger.open(path) as ledger:
        ledger.post_many([])  # create the file
    rng = random.Random(20240131)
    outcomes: Counter[str] = Counter()
    n = 40
    with fork_server(tmp_path) as forks:
        for trial in range(24):
            mode = ("one", "many", "checkpoint")[trial % 3]
            finished = kill_mid_batch(forks, str(path), trial, n, mode, rng, tmp_path)
            posted = len(_keys(path, f"trial{trial}/"))
            assert posted in (0, n), f"trial {trial} ({mode}): {posted} of {n} survived the kill"
            if finished:
                assert posted == n
            outcomes["all" if posted else "none"] += 1
            with Ledger.open(path) as ledger:
                report = ledger.verify()
                assert report.ok, report
    with Ledger.open(path) as ledger:
        assert len(ledger) == n * outcomes["all"]
        assert sum(ledger.balances().values()) == 0
    print(f"kill -9 outcomes over 24 trials: {dict(outcomes)}")


def run_concurrent(db: str, writers: int, go: Path, timeout: int = 300) -> list[dict[str, str]]:
    """Start ``writers`` CONCURRENT_WORKER processes on ``db``, release them together once
    all are ready, and return each one's statuses by key."""
    workers = [_spawn(CONCURRENT_WORKER, db, str(w), str(go)) for w in range(writers)]
    for w in workers:
        assert w.stdout is not None
        assert w.stdout.readline().strip() == "ready", w.stderr.read()  # type: ignore
    go.touch()
    results = []
    for w in workers:
        out, err = w.communicate(timeout=timeout)
        assert w.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_concurrent_writers_never_fork_or_double_post(tmp_path: Path):
    path = tmp_path / "concurrent.db"  # created by whichever worker opens it first
    results = run_concurrent(str(path), 4, tmp_path / "go")
    for i in range(30):
        statuses = sorted(r[f"shared/{i}"] for r in results)
        assert statuses == ["posted", "unchanged", "unchanged", "unchanged"], (i, statuses)
    race = Counter(r["race"] for r in results)
    assert race == {"posted": 1, "conflict:transfers[0].amount": 3}, race
    with Ledger.open(path) as ledger:
        txs = ledger.transactions()
        assert [t.seq for t in txs] == list(range(1, 30 + 4 * 20 + 2))
        keys = [t.key for t in txs]
        assert len(keys) == len(set(keys))
        assert {k for k in keys if k.startswith("own")} == {
            f"own{w}/{i}" for w in range(4) for i in range(20)}
        report = ledger.verify()
        assert report.ok and report.checkpoints >= 1, report
        assert sum(ledger.balances().values()) == 0
