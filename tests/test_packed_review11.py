"""Review of readings packed by group (issue 12, segments): what a store that packs must
still answer as a store of rows does, when the stores, processes or files differ."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_packed_readings import _both, _counts, _file, _hourly, _outcome, _read, _same

import ecocomp.store as store_module
from ecocomp import bulk_insert, columnar
from ecocomp.store import ReadingStore

pytestmark = pytest.mark.skipif(not bulk_insert.available() or not bulk_insert.can_pack(),
                                reason="ecocomp._bulkc not built: nothing is packed")


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file through the columnar reader (small files too)."""
    monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)


def test_a_process_that_does_not_pack_checks_its_columns_against_packed_readings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: None) -> None:
    """A file packed by one process, then the same samples and one more read by columns
    in a process that does not pack (ECOCOMP_PURE_PYTHON, another install): the stored
    samples are unchanged, not stored a second time as rows beside the packed ones."""
    year = _file(tmp_path, "2023.csv", _hourly(28))
    more = _file(tmp_path, "more.csv",
                 [*_hourly(28), "zhuting,2023-01-05T01:00,nh3n,0.5,mg/L,automatic,"])
    packed, rows = _both(tmp_path)
    with packed, rows:
        assert _outcome(packed, year) == _outcome(rows, year)
        assert _counts(packed) == (0, 168)
        monkeypatch.setattr(bulk_insert, "can_pack", lambda: False)
        assert _outcome(packed, more) == _outcome(rows, more) == (169, 1, 168, 0, [])
        assert _counts(packed) == (169, 0)
        _same(packed, rows)
    with ReadingStore.open(tmp_path / "packed.db") as again:
        assert again._conn.execute(
            "SELECT count FROM readings_monthly").fetchall() == [(169,)]


_SECTIONS = ("zhuting", "pingtang", "樟树港")
_PARAMETERS = (("nh3n", "mg/L"), ("flow", "m3/s"), ("tp", "mg/L"))
_VALUES = ("0.5", "0.50", "0.6", "1.25", "<0.05", "0.7", "0.1234567890123", "12")


def _random_file(rng: random.Random, pool: list[tuple[str, ...]], path: Path) -> Path:
    """Samples of ``pool`` (each once, or some twice), with random values and flags."""
    n = rng.choice([3, 30, 150])
    keys = ([rng.choice(pool) for _ in range(n)] if rng.random() < 0.3
            else rng.sample(pool, min(n, len(pool))))
    lines = [f"{s},{t},{p},{rng.choice(_VALUES)},{u},{src},"
             f"{rng.choice(['', '', '', 'suspect', 'invalid'])}" for s, t, p, u, src in keys]
    if rng.random() < 0.3:
        lines.sort()
    return _file(path.parent, path.name, lines)


@pytest.mark.parametrize("seed", [200, 205, 311, 1004])
def test_random_imports_forgets_and_transactions_read_the_same_packed_or_as_rows(
        seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of odd orders, repeats and corrections, read by columns (packing or not, the
    blocks small) or by rows, forgets and trial transactions: everything a user reads is
    what the same calls give on a store of rows."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1 << 10)
    packs = bulk_insert.can_pack
    rng = random.Random(seed)
    pool = [(rng.choice(_SECTIONS), f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 4):02d}"
             f"T{rng.choice([0, 6, 12]):02d}:00", *rng.choice(_PARAMETERS),
             rng.choice(["automatic", "automatic", "manual"]))
            for _ in range(rng.choice([30, 120, 400]))]
    packed, rows = _both(tmp_path)
    imported: list[str] = []
    with packed, rows:
        for _step in range(12):
            mode = rng.choice(["columns", "columns", "rows", "no packing"])
            monkeypatch.setattr(store_module, "_COLUMNAR_MIN_BYTES",
                                1 << 40 if mode == "rows" else 0)
            monkeypatch.setattr(bulk_insert, "can_pack",
                                (lambda: False) if mode == "no packing" else packs)
            what = rng.random()
            if what < 0.55 or not imported:
                name = rng.choice(["a.csv", "b.csv", "c.csv", "fix.csv"])
                path = _random_file(rng, pool, tmp_path / name)
                fix = {"correction": name == "fix.csv" or rng.random() < 0.2}
                got = _outcome(packed, path, **fix)
                assert got == _outcome(rows, path, **fix)
                if isinstance(got, tuple):
                    imported.append(str(path))
            elif what < 0.7:
                name = rng.choice(imported)
                assert packed.forget(name) == rows.forget(name)
                imported = [n for n in imported if n != name]
            else:
                keep = rng.random() < 0.5
                paths = [_random_file(rng, pool, tmp_path / n)
                         for n in rng.sample(["a.csv", "e.csv", "f.csv"], 2)]
                seen = []
                for store in (packed, rows):
                    with store.transaction(keep=keep):
                        seen.append(([_outcome(store, p) for p in paths], _read(store)))
                assert seen[0] == seen[1]
                if keep:
                    imported += [str(p) for p, got in zip(paths, seen[0][0], strict=True)
                                 if isinstance(got, tuple)]
            _same(packed, rows)
