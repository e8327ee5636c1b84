"""Statement bases name every rule that applied; periods that paid nothing say why.

Hand-worked from examples/hunan-2021 (see tests/test_settlement.py's docstring):

- 澧水 (lishui-zjj-cd-2020, 常德 430700 / 张家界 430800): Ⅰ in Jan, Feb, Dec; Ⅲ in May, Jul;
  Ⅱ in Mar, Apr, Jun, Aug, Sep, Oct, Nov — the Ⅱ rule is "payer none" (互不补偿), and 2020
  was Ⅱ in those months, so the improvement rule does not apply: 7 zero months.
- 酉水 (youshui-cq-hn-2019, 湖南 430000 / 重庆 500000): no data in August, skipped.
- 湘江 永州 target (431100): July's worst exit section is Ⅲ, neither reward nor penalty.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
from click.testing import CliRunner

import ecocomp
from ecocomp.agreements import freeze, preset, thaw
from ecocomp.assessment import Assessments
from ecocomp.cli import main
from ecocomp.formulas import class_ladder, min_flow, target_reward_penalty
from ecocomp.periods import Period
from ecocomp.standards import WaterClass as C
from ecocomp.statements import party_statement
from ecocomp.testing import monthly, section_assessment

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
LISHUI = "lishui-zjj-cd-2020"
AS_OF = date(2022, 6, 1)
LISHUI_II = ["2021-03", "2021-04", "2021-06", "2021-08", "2021-09", "2021-10", "2021-11"]


def zero_periods(db: Path, party: str, agreement: str, as_of: date = AS_OF) -> list[str]:
    st = party_statement(db, party, YEAR, as_of=as_of)
    return [z.period for z in st.zero if z.agreement == agreement]


# --------------------------------------------------------------------------- class_ladder basis


def lishui_with(classes_2020: list[C], classes_2021: list[C]) -> Assessments:
    return Assessments(sections={
        **monthly("lishui-zjj-cd", 2020, classes_2020).sections,
        **monthly("lishui-zjj-cd", 2021, classes_2021).sections,
    })


def test_an_improvement_over_a_payer_none_month_shows_both_rules() -> None:
    # 2020-03 Ⅳ, 2021-03 Ⅱ: the class rule alone says none pays (互不补偿); the improvement
    # rule (较上年提升) makes the downstream 常德 pay 张家界 80万 = 800000.00 yuan.
    (o,) = class_ladder(preset(LISHUI), lishui_with([C.IV] * 12, [C.II] * 12), Period(2021, 3))
    assert (o.payer, o.payee, o.amount) == ("430700", "430800", Decimal("800000.00"))
    assert o.basis["rules"] == (
        "class II: none pays (互不补偿)",
        "improvement on 2020-03 (IV → II): downstream pays 80 万元 — applied, overrides the "
        "class rule",
    )
    assert o.basis["class_rule"] == {"payer_role": "none", "amount_in_unit": "0",
                                     "text": "class II: none pays (互不补偿)"}
    assert o.basis["rule"] == ("improved on 2020-03 (IV → II): downstream pays, overriding "
                               "class II: none pays (互不补偿)")
    assert o.basis["explanation"] == (
        "2021-03 lishui-zjj-cd Ⅱ: 430700 pays 430800 80 万元 — improvement rule applied "
        "instead of the class rule (class II: none pays (互不补偿))")


def test_an_improvement_over_a_paying_class_names_the_class_rule_it_replaced() -> None:
    # 2020-03 Ⅳ, 2021-03 Ⅲ: Ⅲ alone makes 张家界 (upstream) pay; improved, 常德 pays instead.
    (o,) = class_ladder(preset(LISHUI), lishui_with([C.IV] * 12, [C.III] * 12), Period(2021, 3))
    assert (o.payer, o.payee) == ("430700", "430800")
    assert o.basis["class_rule"]["text"] == "class III: upstream pays 80 万元"
    assert "class III: upstream pays 80 万元" in o.basis["explanation"]


def test_an_improvement_that_does_not_apply_is_listed_as_not_applied() -> None:
    (o,) = class_ladder(preset(LISHUI), lishui_with([C.II] * 12, [C.II] * 12), Period(2021, 3))
    assert o.amount == Decimal("0.00") and "class_rule" not in o.basis
    assert o.basis["rules"] == ("class II: none pays (互不补偿)",
                                "improvement: not applied (II is not better than II in 2020-03)")
    assert o.basis["explanation"] == ("2021-03 lishui-zjj-cd Ⅱ: no payment (互不补偿) — "
                                      "class II: none pays")


def test_a_skipped_month_says_it_had_no_data() -> None:
    data = monthly("lishui-zjj-cd", 2021, [C.II] * 7 + [None] + [C.II] * 4)
    aug = class_ladder(preset(LISHUI), data, Period(2021, 8))[0]
    assert aug.amount == Decimal("0.00")
    assert aug.basis["explanation"] == ("2021-08 lishui-zjj-cd no data: no payment — no data: "
                                        "skipped (missing_month = skip)")


def test_a_capped_penalty_says_it_was_capped() -> None:
    a = preset("xiangjiang-2014-yongzhou-target")  # base 50, step 10 (placeholders)
    params = thaw(a.params)
    params["penalty"]["cap"] = Decimal(100)
    a = attrs.evolve(a, params=freeze(params))
    data = Assessments(sections={("guiyangzhen", Period(2014, 1)): section_assessment(
        "guiyangzhen", Period(2014, 1), {"nh3n": "1.8", "tp": "0.5", "do": "8"})})
    (o,) = target_reward_penalty(a, data, Period(2014, 1))
    # TP 0.5 is 1.5 times over Ⅲ's 0.2 → 8 steps: 50 + 10 × 8 = 130万, capped at 100万
    assert o.amount == Decimal("1000000.00")
    assert o.basis["explanation"].endswith(
        "→ 8 steps, penalty 100 (capped: penalty.cap 100; uncapped 130)")


def test_a_capped_flow_month_says_it_was_capped() -> None:
    a = preset("xiangjiang-2014-yongzhou-flow")
    params = thaw(a.params)
    params["missing_day"] = "skip"
    a = attrs.evolve(a, params=freeze(params))
    first = date(2014, 1, 1)
    data = Assessments(daily_flows={"guiyangzhen": {
        first + timedelta(days=d): Decimal("10") for d in range(31)}})
    (o,) = min_flow(a, data, Period(2014, 1))
    # 31 days below 100 m³/s × 1万 = 31万, capped at 30万 per month
    assert o.amount == Decimal("300000.00")
    assert o.basis["explanation"] == ("2014-01 guiyangzhen: 31 day(s) counted below 100 m³/s, "
                                      "penalty 30 (capped: cap_per_month 30; uncapped 31)")


# --------------------------------------------------------------------------- statements


def test_the_seven_class_ii_months_appear_with_their_reason(settled):
    st = party_statement(settled, "430700", YEAR, as_of=AS_OF)
    lishui = [z for z in st.zero if z.agreement == LISHUI]
    assert [z.period for z in lishui] == LISHUI_II
    assert all(z.reason.endswith("no payment (互不补偿) — class II: none pays") for z in lishui)
    assert all(z.counterparty == "430800" for z in lishui)
    # the payee side sees the same months
    assert zero_periods(settled, "430800", LISHUI) == LISHUI_II


def test_a_month_without_data_appears_on_both_sides(settled):
    for party in ("430000", "500000"):
        st = party_statement(settled, party, YEAR, as_of=AS_OF)
        (aug,) = [z for z in st.zero if z.agreement == "youshui-cq-hn-2019"]
        assert aug.period == "2021-08"
        assert "no data: skipped (missing_month = skip)" in aug.reason


def test_a_neutral_class_iii_month_appears_with_its_rule(settled):
    st = party_statement(settled, "431100", YEAR, as_of=AS_OF)
    (july,) = [z for z in st.zero if z.agreement == "xiangjiang-2014-yongzhou-target"]
    assert july.period == "2021-07"
    assert "worst exit section Ⅲ, no reward, no penalty" in july.reason


def test_zero_months_follow_the_as_of_date(settled):
    assert zero_periods(settled, "430700", LISHUI, date(2021, 6, 29)) == ["2021-03", "2021-04"]


def test_zero_months_are_not_posted_to_the_ledger(settled):
    with ecocomp.Ledger.open(settled) as ledger:
        keys = {tx.key for tx in ledger.transactions(agreement=LISHUI)}
        assert all(t.amount > 0 for tx in ledger.transactions() for t in tx.transfers)
    assert not any(f"{LISHUI}/{p}/class:lishui-zjj-cd" in keys for p in LISHUI_II)


def test_cli_statement_text_and_json_show_zero_months(settled):
    runner = CliRunner()
    text = runner.invoke(main, ["statement", "430700", "--db", str(settled), "--year",
                                str(YEAR), "--as-of", "2022-06-01"])
    assert text.exit_code == 0, text.output
    assert "nothing to pay (zero amounts), and why:" in text.output
    assert ("  2021-03 lishui-zjj-cd-2020 class:lishui-zjj-cd: 0.00 — 2021-03 lishui-zjj-cd Ⅱ: "
            "no payment (互不补偿) — class II: none pays") in text.output
    data = json.loads(runner.invoke(main, ["statement", "430700", "--db", str(settled),
                                           "--year", str(YEAR), "--as-of", "2022-06-01",
                                           "--json"]).stdout)
    zero = [z for z in data["zero_amounts"] if z["agreement"] == LISHUI]
    assert [z["period"] for z in zero] == LISHUI_II
    assert {z["amount"] for z in zero} == {"0.00"}
    assert zero[0]["basis"]["rules"] == [
        "class II: none pays (互不补偿)",
        "improvement: not applied (II is not better than II in 2020-03)"]


def test_the_report_lists_zero_months_with_their_reason(settled, tmp_path):
    report = ecocomp.build_report(settled, YEAR, as_of=AS_OF)
    zero = [o for o in report.obligations if o.kind == "zero" and o.agreement == LISHUI]
    assert [o.period for o in zero] == LISHUI_II and {o.amount for o in zero} == {Decimal(0)}
    out = ecocomp.write_report(settled, YEAR, tmp_path / "r", as_of=AS_OF)
    text = (out / "obligations.csv").read_text(encoding="utf-8-sig")
    assert "2021-08 liyezhen no data: no payment — no data: skipped (missing_month = skip)" in text
    statement = next(s for s in report.statements if s.party == "430700")
    assert [z.period for z in statement.zero if z.agreement == LISHUI] == LISHUI_II


def test_a_rerun_that_makes_a_zero_month_pay_removes_it_from_the_zero_months(settled, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "corrections").mkdir(exist_ok=True)
    # a late March sample, TP 0.300: March Ⅱ → Ⅲ, so 张家界 pays 常德 80万 for March
    (project / "corrections" / "lishui.csv").write_text(
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "lishui-zjj-cd,2021-03-28,tp,0.300,mg/L,manual,\n", encoding="utf-8")
    db = tmp_path / "settle.db"
    shutil.copy(settled, db)
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                       today=date(2022, 3, 15))
    assert zero_periods(db, "430700", LISHUI) == LISHUI_II[1:]
    st = party_statement(db, "430700", YEAR, as_of=AS_OF)
    march = [line for line in st.lines if line.period == "2021-03" and line.agreement == LISHUI]
    assert [line.amount for line in march] == [Decimal("800000.00")]
