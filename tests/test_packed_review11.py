"""Review of readings packed by group (issue 12, segments): what a store that packs must
still answer as a store of rows does, when the stores, processes or files differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_packed_readings import _both, _counts, _file, _hourly, _outcome, _same

import ecocomp.store as store_module
from ecocomp import bulk_insert
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
