"""Issue 12's campaign: every way into the readings store agrees, on files nobody wrote by hand.

Each way into the store, into a fresh store of its own:

``columns``              import_file, the columnar reader (pyarrow) and the compiled insert;
``columns-executemany``  the same with ``executemany`` instead of the compiled insert;
``columns-small``        the columnar reader in blocks of a few lines (sums merged across them);
``rows``                 import_file with the columnar reader off: the row parser, directly;
``rows-small``           the same in batches of two readings, the sums flushed at each group;
``staging``              the staging table and its one ``INSERT … SELECT`` (``_write_fresh``);
``general``              the staging table checked in full (``_repeats``, ``_write``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from test_import_paths import NAMES, state

import ecocomp.store as store_module
from ecocomp import columnar
from ecocomp.errors import ValidationFailed
from ecocomp.store import ReadingStore

WAYS = ("columns", "columns-executemany", "columns-small", "rows", "rows-small", "staging",
        "general")


def imported(store: ReadingStore, path: Path, way: str, correction: bool,
             monkeypatch: pytest.MonkeyPatch) -> Any:
    """One import by one way: its result (the time of the import left out) or its messages."""
    with monkeypatch.context() as m:
        if way in ("staging", "general"):
            m.setattr(store_module, "_COLUMNAR", False)
            m.setattr(ReadingStore, "_write_direct", lambda *args, **kwargs: None)
            if way == "general":
                m.setattr(ReadingStore, "_write_fresh", lambda *args, **kwargs: None)
        else:
            m.setattr(store_module, "_COLUMNAR", way.startswith("columns"))
            m.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)  # small files too
            if way == "columns-executemany":
                m.setattr(store, "_native", None)
            if way.endswith("-small"):  # many blocks, batches and flushes of the sums
                m.setattr(columnar, "BLOCK_BYTES", 96)
                m.setattr(store_module, "_BATCH", 2)
                m.setattr(store_module, "_MONTHLY_HELD", 1)
        try:
            result = store.import_file(path, sections=NAMES, correction=correction)
        except ValidationFailed as exc:
            return [str(p) for p in exc.problems]
    return attrs.evolve(result, corrected=tuple(
        attrs.evolve(c, imported_at="") for c in result.corrected))


def stored(store: ReadingStore) -> list[tuple[Any, ...]]:
    return sorted((r.section, r.sampled_at, r.parameter, r.source, r.value.as_tuple(),
                   r.below_dl, r.flag) for r in store.readings())



# --------------------------------------------------------------------------- found by the campaign

def every_way(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The one outcome of importing ``path`` into a fresh store by each way (asserted alike)."""
    outcomes = []
    for way in WAYS:
        with ReadingStore.open(":memory:") as s:
            outcomes.append((imported(s, path, way, False, monkeypatch), state(s)))
    assert all(o == outcomes[0] for o in outcomes[1:]), outcomes
    return outcomes[0][0]


@pytest.mark.parametrize(("text", "where"), [
    ("section,sampled_at,parameter,value,unit\n"
     "zhuting,2023-01-09,tp,0.00000000000000000001,µg/L\n"  # 1E-20 µg/L is 1E-23 mg/L
     "zhuting,2023-01-10,tp,0.0000000000000000001,µg/L\n"  # the parser's plain fast path
     "zhuting,2023-01-11,sd,1E-20,cm\n"
     "zhuting,2023-01-12,tp,<0.00000000000000000001,µg/L\n",
     ["2:value", "3:value", "4:value", "5:value"]),
    ("断面名称,监测时间,TP(µg/L),透明度(cm)\n朱亭镇,2023-01-09,0.00000000000000000001,1E-20\n",
     ["2:TP(µg/L)", "2:透明度(cm)"]),
])
def test_a_value_a_unit_carries_below_1e_20_is_refused_as_one_written_below_it(
        tmp_path, monkeypatch, text, where):
    """Stored, 1E-23 mg/L could not be exported and imported again (refused as too small):
    the bound holds in the parameter's unit too, as the upper bound does."""
    path = tmp_path / "tiny.csv"
    path.write_text(text, encoding="utf-8")
    messages = every_way(path, monkeypatch)
    assert [m.split(": ", 1)[0] for m in messages] == [f"{path}:{w}" for w in where]
    assert all("in the unit of" in m and "too small to be a measured value (below 1E-20)" in m
               for m in messages), messages


def test_a_zero_a_unit_gives_more_than_20_decimals_keeps_20_and_exports_as_stored(
        tmp_path, monkeypatch):
    path = tmp_path / "zero.csv"
    path.write_text("section,sampled_at,parameter,value,unit\n"
                    "zhuting,2023-01-09,tp,0.00000000000000000000,µg/L\n"
                    "zhuting,2023-01-10,sd,0E-20,cm\n", encoding="utf-8")
    result = every_way(path, monkeypatch)
    assert result.inserted == 2
    with ReadingStore.open(":memory:") as s, ReadingStore.open(":memory:") as again:
        s.import_file(path)
        assert [str(r.value) for r in s.readings()] == ["0E-20", "0E-20"]
        s.export_csv(tmp_path / "export.csv")
        again.import_file(tmp_path / "export.csv")
        assert stored(again) == stored(s)
