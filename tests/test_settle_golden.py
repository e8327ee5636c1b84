"""The whole ledger a sequence of runs on the bundled example writes, byte for byte.

Speed work on the run (issue 12) must not change one stored amount, basis, digest or hash:
this test settles the example, corrects a sample, settles again and again with nothing new,
pays, and compares everything the database then holds for the settlement (every
transaction's hash, which covers all its fields, with its key, transfers and reason; every
checkpoint; the recorded inputs digests, the zero amounts and the run counts) and what each
run returned with ``tests/data/golden/hunan-2021.json``, written by the code before that
work. Timestamps come from a fixed clock, so hashes are stable.

To regenerate after a deliberate change of the ledger's contents (say so in CHANGELOG.md):
``ECOCOMP_WRITE_GOLDEN=1 python -m pytest tests/test_settle_golden.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ecocomp

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
GOLDEN = Path(__file__).resolve().parent / "data" / "golden" / "hunan-2021.json"
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
YEAR = 2021


def _clock() -> datetime:
    return datetime(2022, 3, 1, 8, 0, 0, tzinfo=UTC)


def _run(project: Path, db: Path, **kwargs: Any) -> dict[str, Any]:
    with ecocomp.Ledger.open(db, clock=_clock) as ledger:
        result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                                today=date(2022, 3, 15), **kwargs)
    data = result.to_json()
    data["obligations"] = [len(data["obligations"]), _sha(data["obligations"])]
    return data


def _sha(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored(db: Path) -> dict[str, Any]:
    out = io.StringIO()
    with ecocomp.Ledger.open(db, clock=_clock) as ledger:
        ledger.export_json(out)
        conn = ledger.connection
        inputs = conn.execute("SELECT year, last_import, digest, scheme, section_months "
                              "FROM settlement_inputs ORDER BY id").fetchall()
        zeros = conn.execute("SELECT * FROM catalog_zero_amounts ORDER BY year, agreement, "
                             "period, component").fetchall()
        runs = conn.execute("SELECT year, posted, unchanged, adjusted FROM catalog_runs "
                            "ORDER BY id").fetchall()
    ledger_json = json.loads(out.getvalue())
    for tx in ledger_json["transactions"]:  # the hash covers every field; kept readable:
        for field in ("meta", "posted_at", "prev_hash", "booked_on", "due", "encoding"):
            tx.pop(field, None)
    return {"ledger": ledger_json,
            "inputs": [[*r[:4], _sha(json.loads(r[4]))] for r in inputs],
            "zero_amounts": [list(r) for r in zeros], "runs": [list(r) for r in runs]}


def _everything() -> dict[str, Any]:
    """The runs, in the current directory (relative paths: the reasons name the files)."""
    project = Path("project")
    shutil.copytree(EXAMPLE, project)
    db = Path("settle.db")
    runs = [_run(project, db)]
    runs.append(_run(project, db))  # nothing new
    (project / "corrections").mkdir()
    (project / "corrections" / "fix.csv").write_text(
        HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
    runs.append(_run(project, db))  # a correction: adjustments
    runs.append(_run(project, db))  # nothing new again
    with ecocomp.Ledger.open(db, clock=_clock) as ledger:
        ecocomp.pay(ledger, agreement="lishui-zjj-cd-2020", year=YEAR, payer="430700",
                    payee="430800", amount=Decimal("300000.00"), paid_on=date(2022, 3, 10),
                    reference="GK-1", today=date(2022, 3, 15))
    runs.append(_run(project, db))  # after a payment: nothing to post
    return {"runs": runs, "stored": _stored(db)}


def test_a_sequence_of_runs_stores_exactly_what_it_stored_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    found = json.loads(json.dumps(_everything(), ensure_ascii=False, sort_keys=True))
    if os.environ.get("ECOCOMP_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(found, ensure_ascii=False, sort_keys=True, indent=1)
                          + "\n", encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert found["stored"]["ledger"]["transactions"] == want["stored"]["ledger"]["transactions"]
    assert found["stored"] == want["stored"]
    for got, expected in zip(found["runs"], want["runs"], strict=True):
        assert got == expected
