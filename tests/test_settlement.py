"""The settlement run on the bundled example: exact nets, idempotency, corrections, payments.

The oracle numbers come from examples/hunan-2021/README.md (the data were generated with
those features) and were re-derived by hand from the agreements:

- 澧水: Ⅰ in Jan, Feb, Dec (常德 → 张家界 3 × 80万), Ⅲ in May, Jul (张家界 → 常德 2 × 80万):
  net 常德 pays 张家界 80万 = 800000.00 yuan, due 2022-04-30.
- 渌水: Ⅲ in 10 months (湖南 → 江西 10 × 100万), Ⅳ in Feb and Aug (江西 → 湖南 2 × 100万):
  net 湖南 pays 江西 800万 = 8000000.00 yuan, due 2022-04-30.
- 湘江 永州 target: Ⅱ in 11 months → 湖南省 pays 永州 11 × 50万 = 5500000.00 yuan.
- 酉水: 里耶镇 Ⅱ in 11 months (湖南 → 重庆 11 × 100万), no data in August (skipped).
- 归阳镇 2021-04-12 Cd 0.0126 is flagged invalid: excluded, April is Ⅱ (reward 50万); included,
  Cd mean 0.0064 is Ⅴ, multiple 0.28 vs Ⅲ → penalty 50万 + 10万 × ceil(0.28/0.2) = 70万.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from settlement_views import fresh_nets, ledger_nets

import ecocomp
from ecocomp.errors import EcocompError, SettlementError, ValidationFailed
from ecocomp.settlement import RUN_LOCK_WAIT_MS, SettlementResult
from ecocomp.statements import party_statement

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
CD_VALID = "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n"
CD_INVALID = "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,invalid\n"

LISHUI = "lishui-zjj-cd-2020"
LVSHUI = "lvshui-jx-hn-2019"
YONGZHOU_TARGET = "xiangjiang-2014-yongzhou-target"
YOUSHUI = "youshui-cq-hn-2019"


# --------------------------------------------------------------------------- helpers


def fresh(project_dir: Path, year: int = YEAR) -> SettlementResult:
    """A fresh computation on the project's latest files (throw-away store, no ledger)."""
    return ecocomp.settle(ecocomp.load_project(project_dir), year=year, dry_run=True)


def assert_converged(ledger: ecocomp.Ledger, project_dir: Path, year: int = YEAR) -> None:
    report = ledger.verify()
    assert report.ok, report
    assert sum(ledger.balances().values(), Decimal(0)) == 0
    have = ledger_nets(ledger, year)
    want = fresh_nets(fresh(project_dir, year))
    diff = {k: (have.get(k), want.get(k)) for k in {*have, *want} if have.get(k) != want.get(k)}
    assert not diff, f"ledger differs from a fresh computation: {diff}"


def net_of(result: SettlementResult, agreement: str) -> ecocomp.settlement.NetDue:
    found = [n for n in result.nets if n.agreement == agreement]
    assert len(found) == 1, found
    return found[0]


def amounts(result: SettlementResult, agreement: str) -> dict[str, Decimal]:
    return {str(o.period): o.amount for o in result.obligations if o.agreement == agreement}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SettlementResult]]:
    """The example settled once into a database (tests that change it work on copies)."""
    db = tmp_path_factory.mktemp("settled") / "settle.db"
    project = ecocomp.load_project(EXAMPLE)
    with ecocomp.Ledger.open(db) as ledger:
        result = ecocomp.settle(project, year=YEAR, ledger=ledger, today=date(2022, 3, 1))
    yield db, result


@pytest.fixture
def workspace(tmp_path: Path, settled: tuple[Path, SettlementResult]) -> tuple[Path, Path]:
    """A copy of the example project and of the settled database, free to change."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    db = tmp_path / "settle.db"
    shutil.copy(settled[0], db)
    return project, db


def resettle(project: Path, db: Path, **options: object) -> SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                              today=date(2022, 3, 15), **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- end to end


def test_a_run_returns_with_what_it_wrote_in_the_database_file_itself(tmp_path):
    """The readings' commit is copied from the WAL into the file beside the posting; the
    run waits for the copy before it returns (the ledger still open, its WAL kept)."""
    db = tmp_path / "s.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(EXAMPLE), year=YEAR, ledger=ledger,
                       today=date(2022, 3, 1))
        assert not [t for t in threading.enumerate() if t.name == "ecocomp-checkpoint"]
        alone = sqlite3.connect(f"file:{db}?immutable=1", uri=True)  # the WAL ignored
        try:
            for table in ("readings", "ledger_transactions"):
                count = f"SELECT count(*) FROM {table}"
                assert alone.execute(count).fetchone() == ledger.connection.execute(
                    count).fetchone() != (0,)
        finally:
            alone.close()



def test_lishui_net_is_changde_pays_zhangjiajie_80_wan(settled):
    net = net_of(settled[1], LISHUI).to_json()
    assert (net["payer"], net["payee"], net["amount"], net["due"]) == (
        "430700", "430800", "800000.00", "2022-04-30")


def test_lvshui_net_is_hunan_pays_jiangxi_800_wan_due_end_of_april(settled):
    net = net_of(settled[1], LVSHUI).to_json()
    assert (net["payer"], net["payee"], net["amount"], net["due"]) == (
        "430000", "360000", "8000000.00", "2022-04-30")


def test_yongzhou_class_ii_reward_is_11_months_of_50_wan(settled):
    result = settled[1]
    paid = {p: a for p, a in amounts(result, YONGZHOU_TARGET).items() if a}
    assert len(paid) == 11 and set(paid.values()) == {Decimal("500000.00")}
    assert "2021-07" not in paid  # 归阳镇 is Ⅲ in July: neutral
    net = net_of(result, YONGZHOU_TARGET)
    assert (net.payer, net.payee, net.amount) == ("430000", "431100", Decimal("5500000.00"))


def test_xiangjiang_nets_are_due_at_the_next_year_end_and_amounts_are_unchanged(settled):
    # clearing_due = "12-31" [P S1]: the 2021 net falls due on 2022-12-31. The amounts are
    # those of the 04-30 placeholder: only the date moved. 株洲's dynamic component uses the
    # class of averaged concentrations, which for one entry (朱亭镇) and one exit section
    # (马家河) is each section's own class: January Ⅱ vs Ⅳ is 2 classes worse → 2 × 50万
    # penalty, every other month Ⅱ vs Ⅱ → 0, so 株洲 pays 100万 net, as before.
    net = net_of(settled[1], YONGZHOU_TARGET)
    assert (net.amount, net.due.isoformat()) == (Decimal("5500000.00"), "2022-12-31")
    change = net_of(settled[1], "xiangjiang-2014-zhuzhou-change")
    assert (change.payer, change.payee, change.amount, change.due.isoformat()) == (
        "430200", "430000", Decimal("1000000.00"), "2022-12-31")


def test_invalid_cd_sample_is_excluded_so_april_earns_the_reward(settled):
    april = [o for o in settled[1].obligations
             if o.agreement == YONGZHOU_TARGET and str(o.period) == "2021-04"]
    assert [o.amount for o in april] == [Decimal("500000.00")]
    assert april[0].payee == "431100"


def test_youshui_missing_august_is_skipped_and_11_months_are_paid(settled):
    result = settled[1]
    by_month = amounts(result, YOUSHUI)
    assert by_month.get("2021-08", Decimal(0)) == 0
    assert sum(1 for a in by_month.values() if a) == 11
    net = net_of(result, YOUSHUI)
    assert (net.payer, net.payee, net.amount) == ("430000", "500000", Decimal("11000000.00"))


def test_first_run_posts_and_leaves_a_verified_zero_sum_ledger(settled):
    db, result = settled
    assert result.posted > 0 and result.unchanged == 0 and result.adjusted == 0
    with ecocomp.Ledger.open(db) as ledger:
        assert ledger.verify().ok
        assert len(ledger) == result.posted
        assert sum(ledger.balances().values(), Decimal(0)) == Decimal(0)


def test_ledger_net_per_key_equals_the_computation(settled):
    db, result = settled
    with ecocomp.Ledger.open(db) as ledger:
        assert ledger_nets(ledger, YEAR) == fresh_nets(result)


def test_balances_are_the_sum_of_the_nets(settled):
    db, result = settled
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for n in result.nets:
        expected[n.payer] -= n.amount
        expected[n.payee] += n.amount
    with ecocomp.Ledger.open(db) as ledger:
        balances = {p: v for p, v in ledger.balances().items() if v}
    assert balances == {p: v for p, v in expected.items() if v}


def test_to_json_has_the_spec_shape_with_amounts_as_yuan_strings(settled):
    data = settled[1].to_json()
    assert {"year", "obligations", "nets", "posted", "unchanged", "adjusted"} <= set(data)
    assert data["year"] == YEAR
    for o in data["obligations"]:
        assert {"agreement", "period", "component", "payer", "payee", "amount", "basis"} <= set(o)
        assert isinstance(o["amount"], str) and Decimal(o["amount"]).as_tuple().exponent == -2
    for n in data["nets"]:
        assert {"agreement", "payer", "payee", "amount", "due"} <= set(n)
        assert isinstance(n["amount"], str)
    # the whole document is plain JSON: no Decimal, date or object needs a default=
    json.dumps(data, ensure_ascii=False)


def test_every_obligation_basis_is_json_and_has_an_explanation(settled):
    for o in settled[1].obligations:
        basis = o.to_json()["basis"]
        json.dumps(basis, ensure_ascii=False)
        assert isinstance(basis.get("explanation"), str) and basis["explanation"], o


def test_obligation_amounts_are_exact_fen_decimals(settled):
    for o in settled[1].obligations:
        assert isinstance(o.amount, Decimal)
        assert o.amount == o.amount.quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- idempotency


def test_rerun_posts_nothing_and_counts_every_key_unchanged(workspace, settled):
    project, db = workspace
    with ecocomp.Ledger.open(db) as ledger:
        before = len(ledger)
    again = resettle(project, db)
    assert (again.posted, again.adjusted) == (0, 0)
    assert again.unchanged == settled[1].posted
    with ecocomp.Ledger.open(db) as ledger:
        assert len(ledger) == before
        assert ledger.verify().ok
    assert again.to_json()["nets"] == settled[1].to_json()["nets"]


# --------------------------------------------------------------------------- corrections


def test_revalidating_the_cd_sample_posts_adjustments_that_reference_the_originals(workspace):
    project, db = workspace
    write(project / "corrections" / "x.csv", HEADER + CD_VALID)
    result = resettle(project, db)
    assert result.adjusted > 0 and result.adjusted == len(result.changes)
    april = f"{YONGZHOU_TARGET}/2021-04/target"
    change = next(c for c in result.changes if c.corrects == april)
    assert change.key == f"{april}#adj1"
    # April flips from the Ⅱ reward (+50万 to 永州) to the Ⅴ penalty (70万 from 永州)
    assert change.before == {"430000": Decimal("-500000.00"), "431100": Decimal("500000.00")}
    assert change.after == {"430000": Decimal("700000.00"), "431100": Decimal("-700000.00")}
    with ecocomp.Ledger.open(db) as ledger:
        tx = ledger.get(change.key)
        assert tx is not None and tx.kind == "adjustment" and tx.corrects == april
        for c in result.changes:
            assert "guiyangzhen cd at 2021-04-12" in c.reason, c.reason
            assert ledger.get(c.corrects) is not None  # the original it corrects exists
        assert_converged(ledger, project)
    assert net_of(result, YONGZHOU_TARGET).amount == Decimal("4300000.00")  # 10 × 50 − 70


def test_reflagging_the_sample_invalid_again_converges_back(workspace, settled):
    project, db = workspace
    write(project / "corrections" / "x.csv", HEADER + CD_VALID)
    resettle(project, db)
    write(project / "corrections" / "x.csv", HEADER + CD_INVALID)
    result = resettle(project, db)
    assert result.adjusted > 0
    assert [n.to_json() for n in result.nets] == [n.to_json() for n in settled[1].nets]
    with ecocomp.Ledger.open(db) as ledger:
        assert_converged(ledger, project)
        assert ledger_nets(ledger, YEAR) == fresh_nets(settled[1])
    again = resettle(project, db)
    assert (again.posted, again.adjusted) == (0, 0)


def test_restoring_a_correction_file_to_earlier_content_converges(workspace):
    project, db = workspace
    write(project / "corrections" / "x.csv", HEADER + CD_VALID)
    resettle(project, db)
    write(project / "corrections" / "x.csv", HEADER + CD_INVALID)
    resettle(project, db)
    write(project / "corrections" / "x.csv", HEADER + CD_VALID)  # same bytes as the first
    resettle(project, db)
    with ecocomp.Ledger.open(db) as ledger:
        assert_converged(ledger, project)


def test_a_late_sample_in_a_readings_file_resettles(workspace):
    project, db = workspace
    # 金鱼石 March: a late manual Cd sample far above Ⅲ (Cd has no automatic data there),
    # so March turns worse than Ⅲ and 江西 pays instead: net 9 × 100万 − 3 × 100万 = 600万.
    manual = project / "readings" / "2021-manual.csv"
    with manual.open("a", encoding="utf-8", newline="") as f:
        f.write("jinyushi,2021-03-25,cd,0.0200,mg/L,manual,\n")
    result = resettle(project, db)
    assert result.adjusted >= 1
    march = next(o for o in result.obligations
                 if o.agreement == LVSHUI and str(o.period) == "2021-03")
    assert (march.payer, march.payee) == ("360000", "430000")
    assert net_of(result, LVSHUI).amount == Decimal("6000000.00")
    with ecocomp.Ledger.open(db) as ledger:
        assert_converged(ledger, project)


def test_a_correction_of_last_years_data_resettles_the_improvement_rule(workspace):
    project, db = workspace
    # 澧水 2020-03 becomes Ⅲ (TP 0.150), so 2021-03 (Ⅱ) counts as improved: 常德 pays 80万.
    write(project / "corrections" / "2020.csv",
          HEADER + "lishui-zjj-cd,2020-03-09,tp,0.150,mg/L,manual,\n")
    result = resettle(project, db)
    march = amounts(result, LISHUI)["2021-03"]
    assert march == Decimal("800000.00")
    assert net_of(result, LISHUI).amount == Decimal("1600000.00")
    with ecocomp.Ledger.open(db) as ledger:
        assert_converged(ledger, project)


def test_a_correction_of_last_years_data_is_named_in_the_reason(workspace):
    project, db = workspace
    write(project / "corrections" / "2020.csv",
          HEADER + "lishui-zjj-cd,2020-03-09,tp,0.150,mg/L,manual,\n")
    result = resettle(project, db)
    clearing = next(c for c in result.changes if c.corrects == f"{LISHUI}/2021/clearing")
    assert "lishui-zjj-cd tp at 2020-03-09" in clearing.reason, clearing.reason


def test_a_conflicting_duplicate_in_readings_is_an_error_and_posts_nothing(workspace):
    project, db = workspace
    write(project / "readings" / "zz-late.csv",
          HEADER + "guiyangzhen,2021-04-19,cd,0.0300,mg/L,manual,\n")
    with ecocomp.Ledger.open(db) as ledger:
        before = len(ledger)
    with pytest.raises(ValidationFailed) as caught:
        resettle(project, db)
    problem = caught.value.problems[0]
    assert problem.file is not None and problem.file.endswith("zz-late.csv")
    assert problem.row == 2
    assert "correction" in problem.message and "0.0002" in problem.message
    with ecocomp.Ledger.open(db) as ledger:
        assert len(ledger) == before and ledger.verify().ok


# --------------------------------------------------------------------------- dry run, errors


def test_dry_run_with_a_ledger_posts_nothing(workspace, settled):
    project, db = workspace
    write(project / "corrections" / "x.csv", HEADER + CD_VALID)
    with ecocomp.Ledger.open(db) as ledger:
        before = [tx.key for tx in ledger.transactions()]
    readings = _readings_count(db)
    result = resettle(project, db, dry_run=True)
    assert result.dry_run
    with ecocomp.Ledger.open(db) as ledger:
        assert [tx.key for tx in ledger.transactions()] == before
    assert _readings_count(db) == readings  # the correction was imported on trial only
    # yet it computes on the latest data, and previews exactly what a real run then does
    assert net_of(result, YONGZHOU_TARGET).amount == Decimal("4300000.00")
    real = resettle(project, db)
    assert (result.posted, result.unchanged, result.adjusted) == (
        real.posted, real.unchanged, real.adjusted) and real.adjusted > 0
    assert [c.to_json() for c in result.changes] == [c.to_json() for c in real.changes]


def test_dry_run_on_a_new_database_creates_no_ledger_rows(tmp_path, settled):
    db = tmp_path / "new.db"
    with ecocomp.Ledger.open(db) as ledger:
        result = ecocomp.settle(ecocomp.load_project(EXAMPLE), year=YEAR, ledger=ledger,
                                dry_run=True)
        assert len(ledger) == 0
    assert [n.to_json() for n in result.nets] == [n.to_json() for n in settled[1].nets]


def test_dry_run_previews_reversing_a_year_whose_agreements_all_left_force(workspace):
    project, db = workspace
    for path in (project / "agreements").iterdir():
        text = path.read_text(encoding="utf-8")
        path.write_text("\n".join("end = 2020-12-31" if line.startswith("end = ") else line
                                  for line in text.splitlines()), encoding="utf-8")
    dry = resettle(project, db, dry_run=True)
    real = resettle(project, db)
    assert real.adjusted > 0
    assert (dry.posted, dry.unchanged, dry.adjusted) == (real.posted, real.unchanged,
                                                         real.adjusted)


def test_dry_run_does_not_upgrade_an_older_readings_schema(workspace, monkeypatch):
    project, db = workspace
    monkeypatch.setattr(ecocomp.ReadingStore, "version_in", classmethod(lambda cls, path: 1))
    with pytest.raises(SettlementError, match="a dry run must not upgrade them"):
        resettle(project, db, dry_run=True)


def test_a_year_without_an_agreement_in_force_is_a_clear_settlement_error():
    project = ecocomp.load_project(EXAMPLE)
    with pytest.raises(SettlementError, match=r"in force in 2030") as caught:
        ecocomp.settle(project, year=2030, dry_run=True)
    assert "start and end" in str(caught.value)


def test_settle_without_a_ledger_needs_dry_run():
    with pytest.raises(SettlementError, match="ledger"):
        ecocomp.settle(ecocomp.load_project(EXAMPLE), year=YEAR)


def test_an_invalid_readings_file_names_file_row_field_and_posts_nothing(workspace):
    project, db = workspace
    write(project / "readings" / "bad.csv",
          HEADER + "guiyangzhen,2021-05-03,nh3n,-0.2,mg/L,manual,\n")
    with ecocomp.Ledger.open(db) as ledger:
        before = len(ledger)
    with pytest.raises(ValidationFailed) as caught:
        resettle(project, db)
    text = str(caught.value)
    assert "bad.csv:2:value" in text and "negative" in text
    with ecocomp.Ledger.open(db) as ledger:
        assert len(ledger) == before


def test_an_invalid_readings_file_in_a_new_database_posts_nothing(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    write(project / "readings" / "bad.csv",
          HEADER + "guiyangzhen,2021-05-03,nh3n,-0.2,mg/L,manual,\n")
    db = tmp_path / "new.db"
    with ecocomp.Ledger.open(db) as ledger:
        with pytest.raises(ValidationFailed):
            ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger)
        assert len(ledger) == 0


def _readings_count(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "readings" not in tables:
            return 0
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def test_a_bad_file_after_good_ones_leaves_a_new_database_without_readings(tmp_path):
    # the good files sort first: before, they stayed imported while "nothing was written"
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    write(project / "readings" / "zz-extra.csv",
          HEADER + "lvbutou,2021-01-12,do,10.9,mg/L,manual,\n")  # 2021-manual.csv says 10.2
    db = tmp_path / "new.db"
    with ecocomp.Ledger.open(db) as ledger:
        with pytest.raises(ValidationFailed, match=r"zz-extra\.csv:2:value"):
            ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger)
        assert len(ledger) == 0
    assert _readings_count(db) == 0
    (project / "readings" / "zz-extra.csv").unlink()  # fixed: the run now goes through
    with ecocomp.Ledger.open(db) as ledger:
        assert ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger).posted


def test_a_formula_result_beyond_the_largest_amount_is_a_settlement_error(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    agreement = project / "agreements" / "xiangjiang-2014-zhuzhou-target.toml"
    text = agreement.read_text(encoding="utf-8")
    assert "step_size = " in text
    agreement.write_text(
        "\n".join('step_size = "0.0000000000000000000000000001"'
                  if line.startswith("step_size = ") else line for line in text.splitlines()),
        encoding="utf-8",
    )
    db = tmp_path / "new.db"
    with ecocomp.Ledger.open(db) as ledger:
        with pytest.raises(SettlementError, match=r"agreement xiangjiang-2014-zhuzhou.*1万亿"):
            ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger)
        assert len(ledger) == 0
    assert _readings_count(db) == 0


# --------------------------------------------------------------------------- payments


def pay(db: Path, amount: str, reference: str, *, payer: str = "430700",
        payee: str = "430800", on: date = date(2022, 4, 20)) -> ecocomp.Transaction:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=payer, payee=payee,
                           amount=Decimal(amount), paid_on=on, reference=reference)


def lishui_balance(db: Path, party: str, as_of: date) -> Mapping[str, object]:
    statement = party_statement(db, party, YEAR, as_of=as_of).to_json()
    return next(a for a in statement["agreements"] if a["agreement"] == LISHUI)


def test_unpaid_net_is_overdue_after_the_due_date(workspace):
    _, db = workspace
    before_due = lishui_balance(db, "430700", date(2022, 4, 30))
    assert (before_due["open"], before_due["overdue"]) == ("-800000.00", False)
    after_due = lishui_balance(db, "430700", date(2022, 5, 1))
    assert (after_due["open"], after_due["paid"], after_due["overdue"]) == (
        "-800000.00", "0.00", True)
    statement = party_statement(db, "430700", YEAR, as_of=date(2022, 5, 1))
    assert statement.overdue == Decimal("800000.00")
    assert "OVERDUE" in statement.render()


def test_a_payment_reduces_the_open_amount(workspace):
    _, db = workspace
    pay(db, "300000.00", "GK2022-0001")
    payer = lishui_balance(db, "430700", date(2022, 5, 1))
    assert payer["open"] == "-500000.00"
    assert abs(Decimal(str(payer["paid"]))) == Decimal("300000.00")
    assert payer["overdue"] is True
    payee = lishui_balance(db, "430800", date(2022, 5, 1))
    assert payee["open"] == "500000.00" and payee["overdue"] is False
    pay(db, "500000.00", "GK2022-0002")
    settled_up = lishui_balance(db, "430700", date(2022, 5, 1))
    assert (settled_up["open"], settled_up["overdue"]) == ("0.00", False)
    with ecocomp.Ledger.open(db) as ledger:
        assert ledger.verify().ok
        # paying moves money between purposes; what each party received or paid is unchanged
        assert ledger.balances()["430700"] == Decimal("-800000.00")


def test_overpaying_is_refused_and_posts_nothing(workspace):
    _, db = workspace
    pay(db, "300000.00", "GK-1")
    with ecocomp.Ledger.open(db) as ledger:
        before = len(ledger)
    with pytest.raises(SettlementError, match=r"owes 500000\.00"):
        pay(db, "500000.01", "GK-2")
    with ecocomp.Ledger.open(db) as ledger:
        assert len(ledger) == before


def test_overpaying_is_refused_under_a_callers_lowered_decimal_precision(workspace):
    """pay sums what is owed under ecocomp's decimal context, not the caller's: with 3
    digits rounded up, 499,999.99 owed read as 500,000 and an over-payment of 0.01 passed."""
    import decimal

    _, db = workspace
    pay(db, "300000.01", "GK-1")
    with ecocomp.Ledger.open(db) as ledger:
        before = len(ledger)
    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_UP)):
        with pytest.raises(SettlementError, match=r"owes 499999\.99"):
            pay(db, "500000.00", "GK-2")
    with ecocomp.Ledger.open(db) as ledger:
        assert len(ledger) == before


def test_a_statement_under_a_callers_lowered_decimal_precision_is_to_the_fen(workspace):
    """The statement's sums run under ecocomp's decimal context, not the caller's."""
    import decimal

    _, db = workspace
    pay(db, "300000.01", "GK-1")
    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_UP)):
        payer = lishui_balance(db, "430700", date(2022, 5, 1))
        statement = party_statement(db, "430700", YEAR, as_of=date(2022, 5, 1))
    assert payer["open"] == "-499999.99", payer
    assert statement.overdue == Decimal("499999.99")


def test_paying_as_the_party_that_is_owed_is_refused(workspace):
    _, db = workspace
    with pytest.raises(SettlementError, match="owes nothing"):
        pay(db, "1.00", "GK-X", payer="430800", payee="430700")


def test_paying_a_party_that_is_not_owed_is_refused(workspace):
    _, db = workspace
    with pytest.raises(EcocompError):
        pay(db, "1.00", "GK-WRONG", payee="360000")


def test_the_same_payment_reference_twice_is_a_no_op(workspace):
    _, db = workspace
    first = pay(db, "300000.00", "GK2022-0042")
    second = pay(db, "300000.00", "GK2022-0042")
    assert second.seq == first.seq
    with ecocomp.Ledger.open(db) as ledger:
        payments = [tx for tx in ledger.transactions() if tx.kind == "payment"]
    assert len(payments) == 1
    assert lishui_balance(db, "430700", date(2022, 5, 1))["open"] == "-500000.00"


def test_a_payment_is_listed_on_the_payers_statement_with_its_reference(workspace):
    _, db = workspace
    pay(db, "800000.00", "GK2022-0100")
    lines = party_statement(db, "430700", YEAR, as_of=date(2022, 5, 1)).to_json()["lines"]
    payment = [line for line in lines if line["kind"] == "payment"]
    assert len(payment) == 1
    assert payment[0]["reference"] == "GK2022-0100" and payment[0]["counterparty"] == "430800"


def test_a_payment_line_is_positive_for_the_payee_and_negative_for_the_payer(workspace):
    _, db = workspace
    pay(db, "300000.00", "GK2022-0200")

    def payment_amount(party: str) -> str:
        lines = party_statement(db, party, YEAR, as_of=date(2022, 5, 1)).to_json()["lines"]
        return next(line["amount"] for line in lines if line["kind"] == "payment")

    assert payment_amount("430700") == "-300000.00"
    assert payment_amount("430800") == "300000.00"


# --------------------------------------------------------------------------- review findings


def test_an_agreement_that_leaves_force_has_its_postings_adjusted_to_zero(workspace):
    project, db = workspace
    agreement = project / "agreements" / f"{LISHUI}.toml"
    agreement.write_text(
        agreement.read_text("utf-8").replace("end = 2022-12-31", "end = 2020-12-31"), "utf-8"
    )
    result = resettle(project, db)
    assert result.adjusted == 6  # 5 monthly accruals and the clearing
    with ecocomp.Ledger.open(db) as ledger:
        assert_converged(ledger, project)
        assert not ledger_nets(ledger, YEAR).get(f"{LISHUI}/2021/clearing")
        reasons = {tx.reason for tx in ledger.transactions(agreement=LISHUI) if tx.corrects}
    assert reasons and all("not in force in" in r for r in reasons)


def test_an_agreement_removed_from_the_project_is_adjusted_to_zero(workspace):
    project, db = workspace
    (project / "agreements" / f"{YOUSHUI}.toml").unlink()
    resettle(project, db)
    with ecocomp.Ledger.open(db) as ledger:
        assert_converged(ledger, project)
        assert sum(ledger.net(agreement=YOUSHUI).values(), Decimal(0)) == 0
        assert all(v == 0 for v in ledger.net(agreement=YOUSHUI).values())


def test_a_statement_as_of_a_date_ignores_what_was_booked_later(workspace):
    _, db = workspace
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer="430700", payee="430800",
                    amount=Decimal("800000.00"), paid_on=date(2022, 5, 10), reference="LATE1")
    before = ecocomp.party_statement(db, "430700", YEAR, as_of=date(2022, 5, 1))
    after = ecocomp.party_statement(db, "430700", YEAR, as_of=date(2022, 5, 11))
    lishui_before = next(a for a in before.agreements if a.agreement == LISHUI)
    lishui_after = next(a for a in after.agreements if a.agreement == LISHUI)
    assert (lishui_before.open, lishui_before.overdue) == (Decimal("-800000.00"), True)
    assert (lishui_after.open, lishui_after.overdue) == (Decimal("0.00"), False)


def test_a_statement_for_an_unknown_party_is_an_error(settled):
    with pytest.raises(ecocomp.EcocompError, match="not in the settled project"):
        ecocomp.party_statement(settled[0], "999999", YEAR, as_of=date(2022, 5, 1))


def test_report_nets_are_one_per_agreement_after_a_correction(workspace):
    project, db = workspace
    # a late January sample at the 澧水 section: January Ⅰ → Ⅲ, the lishui net goes to zero
    write(project / "corrections" / "lishui.csv", HEADER
          + "lishui-zjj-cd,2021-01-28,tp,0.300,mg/L,manual,\n")
    result = resettle(project, db)
    assert result.adjusted > 0
    report = ecocomp.build_report(db, YEAR, as_of=date(2022, 3, 15))
    computed = fresh(project).nets  # computed once: each fresh() imports the whole year
    for agreement in {n.agreement for n in (*report.nets, *computed)}:
        shown = sorted((n.payer, n.payee, n.amount) for n in report.nets
                       if n.agreement == agreement)
        want = sorted((n.payer, n.payee, n.amount) for n in computed
                      if n.agreement == agreement)
        assert shown == want, agreement
    pairs = [tuple(sorted(p)) for p in report.flows()]
    assert len(pairs) == len(set(pairs))


def test_a_run_waits_for_another_runs_import_rather_than_failing_after_30_s(
    workspace, monkeypatch
):
    # a run's import and computation hold the write lock: a second run must wait it out
    project, db = workspace
    opened: list[int] = []
    real_open = ecocomp.ReadingStore.open.__func__

    def spy(cls, path, *, busy_timeout_ms=30_000):
        opened.append(busy_timeout_ms)
        return real_open(cls, path, busy_timeout_ms=busy_timeout_ms)

    monkeypatch.setattr(ecocomp.ReadingStore, "open", classmethod(spy))
    resettle(project, db)
    assert opened == [RUN_LOCK_WAIT_MS] and RUN_LOCK_WAIT_MS >= 300_000


def test_a_year_without_any_readings_is_refused_not_settled_to_zero(tmp_path):
    db = tmp_path / "new.db"
    with ecocomp.Ledger.open(db) as ledger:
        with pytest.raises(SettlementError, match="no readings for 2022 at any section"):
            ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2022, ledger=ledger)
        assert len(ledger) == 0
    assert _readings_count(db) == 0


def test_a_callers_lowered_decimal_precision_changes_no_amount(workspace, settled):
    """Formulas and netting run under ecocomp's own decimal context: a caller whose thread
    context holds 5 digits (8,000,000.00 has 9) gets the same obligations and nets, not
    amounts rounded in silence or an arithmetic error."""
    import decimal

    project, db = workspace
    with decimal.localcontext(decimal.Context(prec=5, rounding=decimal.ROUND_DOWN)):
        again = resettle(project, db, dry_run=True)
    assert [o.to_json() for o in again.obligations] == [
        o.to_json() for o in settled[1].obligations]
    assert [n.to_json() for n in again.nets] == [n.to_json() for n in settled[1].nets]
