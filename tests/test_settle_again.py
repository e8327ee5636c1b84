"""Settling a year again with nothing new reuses the recorded run (issue 12) — and never when
anything that affects money changed: a correction, a late sample, an edited agreement, a
changed formula or code, a renamed party, a transaction of the year posted since, a stale
later year. Each of those re-runs in full and posts what it posted before this shortcut.
"""

from __future__ import annotations

import functools
import json
import shutil
import sqlite3
import zlib
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

import ecocomp
import ecocomp.runs
import ecocomp.settlement
from ecocomp.cli import main
from ecocomp.errors import LedgerIntegrityError, SettlementError
from ecocomp.formulas import get_formula
from ecocomp.ledger import NewTransaction, Transfer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
YEAR = 2021
LISHUI = "lishui-zjj-cd-2020"
YONGZHOU_TARGET = "xiangjiang-2014-yongzhou-target"


def _copy_project(target: Path) -> Path:
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("2021-automatic.csv"))
    return target


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The example (without its big automatic file) with 2020 and 2021 settled."""
    folder = tmp_path_factory.mktemp("again")
    project = _copy_project(folder / "project")
    db = folder / "settle.db"
    settle(project, db, 2020)
    settle(project, db, YEAR)
    return project, db


@pytest.fixture
def workspace(tmp_path: Path, first: tuple[Path, Path]) -> tuple[Path, Path]:
    project = tmp_path / "project"
    shutil.copytree(first[0], project)
    db = tmp_path / "settle.db"
    shutil.copy(first[1], db)
    return project, db


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The years the runs assess and compute in full (a reused run adds none)."""
    years: list[int] = []
    real = ecocomp.settlement._compute_year

    def counting(project: Any, store: Any, year: int, *args: Any) -> Any:
        years.append(year)
        return real(project, store, year, *args)

    monkeypatch.setattr(ecocomp.settlement, "_compute_year", counting)
    return years


def settle(project: Path, db: Path, year: int = YEAR, **options: Any) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=year, ledger=ledger,
                              today=date(2022, 3, 15), **options)


def full(project: Path, db: Path, year: int = YEAR, **options: Any) -> ecocomp.SettlementResult:
    """The same run without the shortcut: what settle did before it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ecocomp.settlement, "_reusable", lambda *_: None)
        return settle(project, db, year, **options)


def count(db: Path) -> int:
    with ecocomp.Ledger.open(db) as ledger:
        return len(ledger)


# --------------------------------------------------------------------------- reused


def test_nothing_new_reuses_the_recorded_run_and_returns_the_same_result(
    workspace: tuple[Path, Path], computed: list[int], tmp_path: Path
):
    project, db = workspace
    shutil.copy(db, tmp_path / "other.db")
    again = settle(project, db)
    assert computed == []  # neither assessed nor computed
    assert (again.posted, again.adjusted) == (0, 0) and again.unchanged > 0
    reference = full(project, tmp_path / "other.db")
    assert computed == [YEAR]
    assert again.obligations == reference.obligations  # equal objects, bases and all
    assert again.nets == reference.nets
    assert again.to_json() == reference.to_json()
    with ecocomp.Ledger.open(db) as ledger, ecocomp.Ledger.open(tmp_path / "other.db") as other:
        assert ledger.head() == other.head() and ledger.verify().ok
        runs = ledger.connection.execute(
            "SELECT year, posted, unchanged, adjusted FROM catalog_runs").fetchall()
        assert runs == other.connection.execute(
            "SELECT year, posted, unchanged, adjusted FROM catalog_runs").fetchall()


def test_a_payment_since_does_not_stop_the_reuse(workspace, computed):
    project, db = workspace
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer="430700", payee="430800",
                    amount=Decimal("1.00"), paid_on=date(2022, 3, 1), reference="GK-A",
                    today=date(2022, 3, 15))
    assert settle(project, db).posted == 0 and computed == []


def test_a_dry_run_always_computes(workspace, computed):
    project, db = workspace
    result = settle(project, db, dry_run=True)
    assert computed == [YEAR] and result.posted == 0 and result.dry_run


def test_the_reused_run_is_all_or_nothing(workspace, monkeypatch):
    project, db = workspace

    def broken(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ecocomp.settlement, "seal", broken)
    with pytest.raises(OSError, match="disk full"):
        settle(project, db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM catalog_runs").fetchone()[0] == 2
    conn.close()


def test_an_unvouched_transaction_is_refused_as_by_a_full_run(workspace, computed):
    project, db = workspace
    with ecocomp.Ledger.open(db) as ledger:
        ledger.post(NewTransaction(
            key="other/2022/x", kind="accrual", booked_on=date(2022, 1, 1),
            transfers=[Transfer.between("430700", "430800", Decimal("1.00"),
                                        purpose="accrued")]))
    with pytest.raises(LedgerIntegrityError, match="nothing vouches"):
        settle(project, db)


# --------------------------------------------------------------------------- not reused


def _correction(project: Path) -> None:
    # 归阳镇 2021-04-12 Cd revalidated: April flips from reward to penalty (70万)
    folder = project / "corrections"
    folder.mkdir(exist_ok=True)
    (folder / "cd.csv").write_text(HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n",
                                   encoding="utf-8")


def _late_sample(project: Path) -> None:
    with (project / "readings" / "2021-manual.csv").open("a", encoding="utf-8") as f:
        f.write("jinyushi,2021-03-25,cd,0.0200,mg/L,manual,\n")


def _edited_agreement(project: Path) -> None:
    path = project / "agreements" / f"{LISHUI}.toml"
    text = path.read_text(encoding="utf-8")
    assert "80" in text
    path.write_text(text.replace("amount = 80", "amount = 90"), encoding="utf-8")


CHANGES: dict[str, Callable[[Path], None]] = {
    "a correction": _correction,
    "a late sample": _late_sample,
    "an edited agreement": _edited_agreement,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_of_the_inputs_settles_in_full_and_posts_the_adjustment(
    workspace, computed, tmp_path, change
):
    project, db = workspace
    reference = tmp_path / "reference.db"
    shutil.copy(db, reference)
    CHANGES[change](project)
    result = settle(project, db)
    assert YEAR in computed and result.adjusted >= 1
    assert result.to_json()["changes"] == full(project, reference).to_json()["changes"]
    again = settle(project, db)  # and then nothing new again
    assert (again.posted, again.adjusted) == (0, 0)
    assert again.to_json()["obligations"] == result.to_json()["obligations"]


def _replaced(monkeypatch: pytest.MonkeyPatch, name: str, func: Callable[..., Any]) -> None:
    """The run finds ``func`` as formula ``name`` (as a user's register_formula would)."""
    spec = get_formula(name)

    def lookup(wanted: str) -> Any:
        return attrs.evolve(spec, func=func) if wanted == name else get_formula(wanted)

    monkeypatch.setattr(ecocomp.settlement, "get_formula", lookup)


def test_a_changed_formula_settles_in_full_and_posts_the_adjustment(
    workspace, computed, monkeypatch
):
    project, db = workspace
    real = get_formula("class_ladder").func

    def doubled(agreement: Any, assessments: Any, period: Any) -> Any:
        return [attrs.evolve(o, amount=o.amount * 2) for o in real(agreement, assessments,
                                                                   period)]

    _replaced(monkeypatch, "class_ladder", doubled)
    result = settle(project, db)
    assert computed == [YEAR] and result.adjusted >= 1
    assert any(c.corrects.startswith(LISHUI) for c in result.changes)


def test_a_new_ecocomp_code_settles_in_full(workspace, computed, monkeypatch):
    project, db = workspace
    monkeypatch.setattr(ecocomp.runs, "code_digest", lambda: "another version")
    result = settle(project, db)
    assert computed == [YEAR] and (result.posted, result.adjusted) == (0, 0)
    settle(project, db)
    assert computed == [YEAR]  # recorded with the new code: reused from then on


def test_the_code_digest_covers_every_code_and_data_file(tmp_path):
    folder = tmp_path / "pkg"
    (folder / "formulas").mkdir(parents=True)
    (folder / "formulas" / "ladder.py").write_text("AMOUNT = 80\n", encoding="utf-8")
    (folder / "data.toml").write_text("limit = 0.2\n", encoding="utf-8")

    def digest() -> str:
        h = __import__("hashlib").sha256()
        ecocomp.runs._files_digest(folder, h, "pkg")
        return h.hexdigest()

    before = digest()
    (folder / "formulas" / "ladder.py").write_text("AMOUNT = 90\n", encoding="utf-8")
    changed = digest()
    (folder / "data.toml").write_text("limit = 0.3\n", encoding="utf-8")
    assert len({before, changed, digest()}) == 3
    assert ecocomp.runs.code_digest() == ecocomp.runs.code_digest()


def test_a_renamed_party_settles_in_full_and_checkpoints_the_new_catalog(workspace, computed):
    project, db = workspace
    parties = project / "parties.toml"
    parties.write_text(parties.read_text(encoding="utf-8").replace("株洲市", "株洲市人民政府"),
                       encoding="utf-8")
    with ecocomp.Ledger.open(db) as ledger:
        before = ledger.head()
    result = settle(project, db)
    assert computed == [YEAR] and result.posted == 0
    assert result.head is not None and before is not None
    assert result.head.number == before.number + 1 and result.head.catalog != before.catalog


def test_a_transaction_of_the_year_posted_since_is_reconciled_in_full(workspace, computed):
    project, db = workspace
    key = f"{YONGZHOU_TARGET}/2021-05/target"
    with ecocomp.Ledger.open(db) as ledger:
        original = ledger.get(key)
        assert original is not None
        ledger.post(NewTransaction(
            key=f"{key}#adj1", kind="adjustment", corrects=key, reason="by hand",
            booked_on=date(2022, 3, 2), agreement=YONGZHOU_TARGET, period="2021-05",
            component="target",
            transfers=[Transfer.between("430000", "431100", Decimal("1.00"),
                                        purpose="accrued")]))
        ledger.checkpoint()
    result = settle(project, db)
    assert computed == [YEAR] and result.adjusted == 1
    assert result.changes[0].corrects == key


def test_edited_monthly_sums_are_refused_not_reused(workspace, computed):
    project, db = workspace
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE readings_monthly SET high = high + 1 WHERE section = "
                     "'lishui-zjj-cd' AND month = '2021-03' AND parameter = 'tp'")
    conn.close()
    with pytest.raises(SettlementError, match="changed outside ecocomp"):
        settle(project, db)


def test_a_later_year_left_stale_is_reported_again_not_reused(workspace, computed):
    project, db = workspace
    (project / "corrections").mkdir()
    (project / "corrections" / "2020.csv").write_text(
        HEADER + "lishui-zjj-cd,2020-03-09,tp,0.150,mg/L,manual,\n", encoding="utf-8")
    first = settle(project, db, 2020)
    assert [r.year for r in first.stale] == [YEAR]
    again = settle(project, db, 2020)
    assert [r.year for r in again.stale] == [YEAR] and again.stale[0].adjusted >= 1
    assert computed.count(2020) == 2
    cascaded = settle(project, db, 2020, cascade=True)
    assert [r.year for r in cascaded.cascaded] == [YEAR]
    del computed[:]
    quiet = settle(project, db, 2020)  # both years recorded by the cascade: reused
    assert computed == [] and quiet.stale == () and quiet.posted == 0
    assert settle(project, db, YEAR).posted == 0 and computed == []


def test_a_formula_from_outside_ecocomp_is_never_reused(workspace, computed, monkeypatch):
    project, db = workspace
    real = get_formula("class_ladder").func

    def same(agreement: Any, assessments: Any, period: Any) -> Any:
        return real(agreement, assessments, period)

    _replaced(monkeypatch, "class_ladder", same)
    for _ in range(2):
        assert settle(project, db).posted == 0
    assert computed == [YEAR, YEAR]



def test_a_users_formula_wrapping_an_ecocomp_one_is_never_reused(workspace, computed,
                                                                  monkeypatch):
    """A user's formula decorated with functools.wraps(an ecocomp formula) carries that
    formula's ``__module__``; its own code is not in ecocomp's files, so a change of it
    (here a factor) must settle in full, not return the amounts recorded before."""
    project, db = workspace
    real = get_formula("class_ladder").func
    factor = [Decimal(1)]

    @functools.wraps(real)
    def scaled(agreement: Any, assessments: Any, period: Any) -> Any:
        return [attrs.evolve(o, amount=o.amount * factor[0])
                for o in real(agreement, assessments, period)]

    assert scaled.__module__.startswith("ecocomp.")
    _replaced(monkeypatch, "class_ladder", scaled)
    assert settle(project, db).posted == 0
    factor[0] = Decimal(2)
    result = settle(project, db)
    assert computed == [YEAR, YEAR] and result.adjusted >= 1

def test_a_recorded_result_edited_in_the_file_is_not_shown_but_recomputed(
    workspace, computed, tmp_path
):
    """The record lives beside the ledger, not in its chain: its amounts are checked
    against the ledger's transfers before they are shown."""
    project, db = workspace
    reference = tmp_path / "reference.db"
    shutil.copy(db, reference)
    conn = sqlite3.connect(db)
    run_id, blob = conn.execute("SELECT id, result FROM settlement_runs WHERE year = ? "
                                "ORDER BY id DESC LIMIT 1", (YEAR,)).fetchone()
    data = json.loads(zlib.decompress(blob))
    paid = next(o for o in data["obligations"] if o["amount"] != "0.00")
    paid["amount"] = "1.00"
    with conn:
        conn.execute("UPDATE settlement_runs SET result = ? WHERE id = ?",
                     (zlib.compress(json.dumps(data).encode()), run_id))
    conn.close()
    result = settle(project, db)
    assert computed == [YEAR] and result.posted == 0
    assert result.to_json() == full(project, reference).to_json()


def test_a_formula_reading_other_inputs_than_water_is_never_reused(workspace, monkeypatch):
    """Formulas that read other kinds of inputs (air, say) read what the fingerprint does
    not cover: no fingerprint, so every run is a full one."""
    project, db = workspace
    def other_kind(name: str) -> Any:
        spec = get_formula(name)
        return SimpleNamespace(func=spec.func, check=spec.check, lookback=spec.lookback,
                               inputs="air" if name == "class_ladder" else "water")

    monkeypatch.setattr(ecocomp.settlement, "get_formula", other_kind)
    with ecocomp.Ledger.open(db) as ledger, ecocomp.ReadingStore.open(db) as store:
        prints = ecocomp.settlement._fingerprints(ecocomp.load_project(project), store,
                                                  ledger, YEAR, None)
    assert prints == {YEAR: None}


def test_a_water_builder_from_outside_ecocomp_is_never_reused(workspace, computed,
                                                               monkeypatch):
    """``register_inputs("water", ...)`` by a user replaces what every water formula reads;
    its code cannot be pinned by the fingerprint, so every run is a full one."""
    import ecocomp.inputs

    project, db = workspace
    own = ecocomp.inputs.provider_of("water")
    assert own is not None

    def users_builder(*args: Any, **kwargs: Any) -> Any:
        return own.builder(*args, **kwargs)

    monkeypatch.setitem(ecocomp.inputs._PROVIDERS, "water",
                        ecocomp.inputs.InputsProvider("water", users_builder, own.evidence))
    for _ in range(2):
        assert settle(project, db).posted == 0
    assert computed == [YEAR, YEAR]


# --------------------------------------------------------------------------- forget


def _fresh(project: Path, db: Path) -> ecocomp.SettlementResult:
    """The project settled into a new database: what its readings give now."""
    settle(project, db, 2020)
    return settle(project, db)


def test_a_file_forgotten_and_imported_again_fixed_settles_in_full(workspace, computed,
                                                                   tmp_path):
    """The last file imported, forgotten and imported again with its values fixed (two
    rows' values were in the wrong months): its new import must not take the forgotten
    one's id, or the run looks like the recorded one (same last import, same totals) and
    keeps the old amounts."""
    project, db = workspace
    wide = project / "readings" / "2021-wide-lishui.csv"
    lines = wide.read_bytes().split(b"\n")
    jan, apr = lines[1].split(b","), lines[4].split(b",")
    assert jan[1] == b"2021/1/7" and apr[1] == b"2021/4/12"
    lines[1], lines[4] = b",".join(jan[:2] + apr[2:]), b",".join(apr[:2] + jan[2:])
    wide.write_bytes(b"\n".join(lines))
    with ecocomp.ReadingStore.open(db) as store:
        assert store.forget(str(wide)) == 264
    result = settle(project, db)
    assert computed == [YEAR] and result.adjusted >= 1
    reference = _fresh(project, tmp_path / "fresh.db")
    assert result.to_json()["obligations"] == reference.to_json()["obligations"]
    assert settle(project, db).adjusted == 0  # and then nothing new again


def test_a_file_forgotten_before_the_last_import_settles_in_full(workspace, computed,
                                                                  tmp_path):
    """Forgetting changes the readings: a run after it is not one "with nothing imported
    since" whose readings were edited behind ecocomp's back (the stored months a run read
    then differ from what the last run with the same last import read)."""
    project, db = workspace
    extra, later = project / "readings" / "2021-extra.csv", project / "readings" / "z.csv"
    extra.write_text(HEADER + "jinyushi,2021-03-25,cd,0.0200,mg/L,manual,\n", encoding="utf-8")
    assert settle(project, db).adjusted >= 1
    later.write_text(HEADER + "jinyushi,2021-05-25,cd,0.0020,mg/L,manual,\n", encoding="utf-8")
    settle(project, db)
    extra.unlink()  # removed on purpose: not the last file imported
    with ecocomp.ReadingStore.open(db) as store:
        assert store.forget(str(extra)) == 1
    del computed[:]
    result = settle(project, db)
    assert computed == [YEAR] and result.adjusted >= 1
    reference = _fresh(project, tmp_path / "fresh.db")
    assert result.to_json()["obligations"] == reference.to_json()["obligations"]


def test_verify_with_readings_after_a_forget_notes_it_and_still_finds_an_edit(workspace):
    """A settlement recorded before ``readings forget`` cannot be re-derived where the
    forgotten readings were: verify --with-readings says so as a note naming the forget and
    the section-months, not as "changed outside ecocomp"; the settlement after the forget
    is re-derived in full, so an edit behind ecocomp's back is still a problem."""
    from ecocomp.evidence import verify_readings

    project, db = workspace
    extra = project / "readings" / "2021-extra.csv"
    extra.write_text(HEADER + "jinyushi,2021-03-25,cd,0.0200,mg/L,manual,\n", encoding="utf-8")
    settle(project, db)
    extra.unlink()
    with ecocomp.ReadingStore.open(db) as store:
        assert store.forget(str(extra)) == 1
    settle(project, db)
    found = verify_readings(db)
    assert found.ok, found.problems
    assert len(found.notes) == 1 and "2021-extra.csv" in found.notes[0]
    assert "jinyushi/2021-03" in found.notes[0]
    result = CliRunner().invoke(main, ["ledger", "verify", "--db", str(db), "--with-readings"])
    assert result.exit_code == 0, result.output
    assert "note: settlement of 2021" in result.output and "only in part" in result.output
    # an edit of a reading the last settlement read is still an error
    conn = sqlite3.connect(db)
    edited = conn.execute(
        "UPDATE readings SET eff_units = eff_units + 1 WHERE rowid = (SELECT min(rowid) FROM "
        "readings WHERE section = 'jinyushi' AND superseded_by IS NULL AND eff_units > 0 "
        "AND sampled_at >= '2021-06')").rowcount
    assert edited == 1
    conn.commit()
    conn.close()
    assert not verify_readings(db).ok


def test_a_row_removed_from_an_imported_file_is_reported_while_it_still_counts(workspace,
                                                                               tmp_path):
    """Imports only add: a row removed from a readings file (here a late sample added by
    mistake, then deleted) stays in the database and still counts. Settling says so, with
    the command that drops it; after that the year equals a fresh settlement."""
    project, db = workspace
    manual = project / "readings" / "2021-manual.csv"
    before = manual.read_bytes()
    _late_sample(project)
    assert settle(project, db).adjusted >= 1
    manual.write_bytes(before)  # the row removed again
    result = settle(project, db)
    reference = _fresh(project, tmp_path / "fresh.db")
    assert result.to_json()["obligations"] != reference.to_json()["obligations"]
    (warned,) = [w for w in result.warnings if "2021-manual.csv" in w]
    assert "1 reading imported from an earlier version of the file" in warned
    assert f"ecocomp readings forget '{manual}' --db {db}" in warned
    with ecocomp.ReadingStore.open(db) as store:
        store.forget(str(manual))
    fixed = settle(project, db)
    assert fixed.warnings == () and fixed.adjusted >= 1
    assert fixed.to_json()["obligations"] == reference.to_json()["obligations"]


def test_a_correction_superseded_by_a_later_file_is_not_applied_again_every_run(
    workspace, computed
):
    """b.csv declares it supersedes a.csv: once both are in, nothing is new. Applying a.csv
    again on every run (its value was superseded) and then b.csv over it gave the same
    amounts but two new imports each time: the readings grew and no run was ever reused."""
    project, db = workspace
    folder = project / "corrections"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n",
                                  encoding="utf-8")
    settle(project, db)
    (folder / "b.csv").write_text("# supersedes: a.csv\n" + HEADER +
                                  "guiyangzhen,2021-04-12,cd,0.0010,mg/L,manual,\n",
                                  encoding="utf-8")
    settle(project, db)
    del computed[:]

    def imports() -> int:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT count(*) FROM readings_imports").fetchone()[0]
        finally:
            conn.close()

    before = imports()
    again = settle(project, db)
    assert imports() == before and computed == [] and again.posted == again.adjusted == 0


def test_a_superseded_correction_restored_to_earlier_content_still_loses_to_the_later_file(
    workspace,
):
    """a.csv edited, then superseded by b.csv, then a.csv restored to its first content:
    a.csv applies again (its own later content had replaced it), and b.csv, which declares
    it supersedes a.csv, still wins."""
    project, db = workspace
    folder = project / "corrections"
    folder.mkdir()
    row = HEADER + "guiyangzhen,2021-04-12,cd,{},mg/L,manual,\n"
    first = row.format("0.0126")
    for name, text in [("a.csv", first), ("a.csv", row.format("0.0050")),
                       ("b.csv", "# supersedes: a.csv\n" + row.format("0.0010")),
                       ("a.csv", first)]:
        (folder / name).write_text(text, encoding="utf-8")
        settle(project, db)
    with ecocomp.ReadingStore.open(db) as store:
        (cd,) = [r for r in store.readings("guiyangzhen", "cd", "2021-04")
                 if r.sampled_at == datetime(2021, 4, 12) and r.source == "manual"]
    assert cd.value == Decimal("0.0010")
    again = settle(project, db)
    assert again.posted == again.adjusted == 0


def test_months_without_readings_are_named_not_settled_in_silence(tmp_path):
    """Half a year's readings (the second half's file not delivered yet): every agreement
    applies its missing-data rule (here: skip, nothing paid) to July–December. The amounts
    follow the agreements, but a run that settles half a year on no data says so."""
    project = _copy_project(tmp_path / "project")
    (project / "readings" / "2021-wide-lishui.csv").unlink()
    manual = project / "readings" / "2021-manual.csv"
    lines = manual.read_text(encoding="utf-8").splitlines()
    manual.write_text("\n".join([lines[0], *(line for line in lines[1:]
                                            if line.split(",")[1] < "2021-07")]) + "\n",
                      encoding="utf-8")
    result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, dry_run=True,
                            today=date(2022, 3, 15))
    skipped = [o for o in result.obligations if str(o.period) >= "2021-07"]
    assert skipped and all(o.amount == 0 for o in skipped)
    (jinyushi,) = [w for w in result.warnings if "jinyushi:" in w]
    assert "no valid readings in 2021-07 to 2021-12 (6 months)" in jinyushi
    assert LISHUI in " ".join(result.warnings)  # its section has no readings at all
    full_year = settle(*_fresh_pair(tmp_path))
    assert full_year.warnings == ()


def _fresh_pair(tmp_path: Path) -> tuple[Path, Path]:
    project = _copy_project(tmp_path / "whole")
    return project, tmp_path / "whole.db"


def _edit_behind_ecocomps_back(db: Path, forged_file: str | None) -> None:
    """Change a reading the recorded 2021 settlement read, with the monthly sums made to
    match, and (when ``forged_file``) a ``forgotten`` row written into readings_imports by
    hand, as ``readings forget`` would leave it."""
    from ecocomp.store import _MONTHLY_GROUP, _MONTHLY_SELECT

    conn = sqlite3.connect(db)
    assert conn.execute(
        "UPDATE readings SET eff_units = eff_units * 2 WHERE rowid = (SELECT min(rowid) FROM "
        "readings WHERE section = 'jinyushi' AND parameter = 'cd' AND superseded_by IS NULL "
        "AND eff_units > 0 AND sampled_at BETWEEN '2021-06' AND '2021-07')").rowcount == 1
    conn.execute("DELETE FROM readings_monthly")
    conn.execute(f"INSERT INTO readings_monthly {_MONTHLY_SELECT}{_MONTHLY_GROUP}")
    if forged_file is not None:
        conn.execute(
            "INSERT INTO readings_imports (id, file, sha256, correction, rows, inserted, "
            "unchanged, corrected, skipped, imported_at) SELECT max(id) + 1, ?, 'forgotten', "
            "0, 0, 0, 0, 0, 0, '2026-12-07T00:00:00Z' FROM readings_imports", (forged_file,))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("forged_file", [None, "2021-nothing.csv", "imported", "unlisted"],
                         ids=["no-forget", "forget-of-no-file", "forget-of-a-kept-file",
                              "forget-of-an-import-row-deleted-readings-kept"])
def test_a_forged_forget_row_does_not_turn_an_edit_into_a_note(workspace, forged_file):
    """A ``forgotten`` row added by hand after the settlement must not excuse readings
    changed behind ecocomp's back: no import the run could have read is gone (a real forget
    removes the file's imports and their readings), or the file it names is still imported
    below it."""
    from ecocomp.evidence import verify_readings

    project, db = workspace
    settle(project, db)
    if forged_file in ("imported", "unlisted"):
        conn = sqlite3.connect(db)
        number, file = conn.execute("SELECT id, file FROM readings_imports ORDER BY id "
                                    "LIMIT 1").fetchone()
        if forged_file == "unlisted":  # the import's row deleted, its readings left
            conn.execute("DELETE FROM readings_imports WHERE id = ?", (number,))
            conn.commit()
        conn.close()
        forged_file = file
    _edit_behind_ecocomps_back(db, forged_file)
    found = verify_readings(db)
    assert not found.ok and not found.notes, found
    assert any("changed outside ecocomp" in p or "not written by" in p
               for p in found.problems), found.problems
