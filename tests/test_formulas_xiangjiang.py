"""湘江 components: E1 (归阳镇 600万), E5 penalty steps, exact class change, min flow."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.agreements import freeze, preset, thaw
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError
from ecocomp.formulas import class_change, min_flow, net_obligations, target_reward_penalty
from ecocomp.formulas.xiangjiang import penalty_steps
from ecocomp.periods import Period
from ecocomp.standards import WaterClass as C
from ecocomp.testing import monthly, section_assessment

WAN = Decimal(10000)


def with_params(agreement, **changes):  # type: ignore[no-untyped-def]
    params = thaw(agreement.params)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key].update(value)
        else:
            params[key] = value
    return attrs.evolve(agreement, params=freeze(params))


def test_e1_guiyangzhen_at_class_ii_all_year_earns_600_wan() -> None:
    a = preset("xiangjiang-2014-yongzhou-target")
    obs = target_reward_penalty(a, monthly("guiyangzhen", 2014, [C.II] * 12), Period(2014))
    assert sum(o.amount for o in obs) == 600 * WAN
    assert {(o.payer, o.payee) for o in obs} == {("430000", "431100")}
    (net,) = net_obligations(obs)
    assert net.amount == 600 * WAN and net.payee == "431100"


def test_e1_one_class_iii_month_is_neutral_and_leaves_550_wan() -> None:
    a = preset("xiangjiang-2014-yongzhou-target")
    data = monthly("guiyangzhen", 2014, [C.II] * 5 + [C.III] + [C.II] * 6)
    obs = target_reward_penalty(a, data, Period(2014))
    assert sum(o.amount for o in obs) == 550 * WAN
    assert obs[5].amount == 0 and "neither reward nor penalty" in obs[5].basis["rule"]


def test_all_exit_sections_at_class_i_earn_reward_i() -> None:
    a = attrs.evolve(preset("xiangjiang-2014-yongzhou-target"),
                     sections=("guiyangzhen", "lvbutou"))
    data = Assessments(sections={**monthly("guiyangzhen", 2014, [C.I]).sections,
                                 **monthly("lvbutou", 2014, [C.I]).sections})
    (o,) = target_reward_penalty(a, data, Period(2014, 1))
    assert o.amount == 100 * WAN and o.basis["rule"].startswith("all exit sections at Ⅰ")
    worse = Assessments(sections={**data.sections,
                                  **monthly("lvbutou", 2014, [C.II]).sections})
    (o,) = target_reward_penalty(a, worse, Period(2014, 1))
    assert o.amount == 50 * WAN  # the worst exit section decides


@pytest.mark.parametrize(("multiple", "steps"), [("0.8", 4), ("1.5", 8), ("0", 0),
                                                 ("0.2", 1), ("0.2000001", 2)])
def test_e5_penalty_steps_are_ceil_of_multiple_over_step_size(multiple: str, steps: int) -> None:
    assert penalty_steps(Decimal(multiple), Decimal("0.2")) == steps


def test_e5_penalty_is_base_plus_step_times_steps_of_the_largest_multiple() -> None:
    a = preset("xiangjiang-2014-yongzhou-target")  # base 50, step 10 (placeholders)
    data = Assessments(sections={("guiyangzhen", Period(2014, 1)): section_assessment(
        "guiyangzhen", Period(2014, 1), {"nh3n": "1.8", "tp": "0.5", "do": "8"})})
    (o,) = target_reward_penalty(a, data, Period(2014, 1))
    assert o.basis["max_multiple"] == "1.5" and o.basis["max_item"] == "tp"
    assert o.basis["steps"] == 8
    assert o.amount == (50 + 10 * 8) * WAN and (o.payer, o.payee) == ("431100", "430000")
    capped = with_params(a, penalty={"cap": Decimal(100)})
    (o,) = target_reward_penalty(capped, data, Period(2014, 1))
    assert o.amount == 100 * WAN and o.basis["capped"] is True and o.basis["uncapped"] == "130"


def test_target_missing_month_is_skipped_or_raises() -> None:
    a = preset("xiangjiang-2014-yongzhou-target")
    (o,) = target_reward_penalty(a, Assessments(), Period(2014, 2))
    assert o.amount == 0 and o.basis["missing_sections"] == ("guiyangzhen",)
    with pytest.raises(FormulaError, match=r"guiyangzhen .* 2014-02"):
        target_reward_penalty(with_params(a, missing_month="error"), Assessments(),
                              Period(2014, 2))


def change_agreement(**params):  # type: ignore[no-untyped-def]
    a = attrs.evolve(preset("xiangjiang-2014-zhuzhou-change"),
                     sections=("zhutingzhen", "e2", "majiahe"))
    # the class-number mean unless a test says otherwise (the presets class the mean values)
    return with_params(a, entry_sections=["zhutingzhen", "e2"], exit_sections=["majiahe"],
                       reward_per_class=Decimal(30), penalty_per_class=Decimal(40),
                       **{"combine": "mean", **params})


def two_entries(entry: tuple[C, C], exit_: C) -> Assessments:
    return Assessments(sections={**monthly("zhutingzhen", 2014, [entry[0]]).sections,
                                 **monthly("e2", 2014, [entry[1]]).sections,
                                 **monthly("majiahe", 2014, [exit_]).sections})


def test_class_change_compares_mean_classes_exactly_and_rounds_at_the_end() -> None:
    a = change_agreement()
    # entry mean (2 + 3)/2 = 2.5, exit 2 → 0.5 class better → 0.5 × 30万 = 15万 reward
    (o,) = class_change(a, two_entries((C.II, C.III), C.II), Period(2014, 1))
    assert (o.payer, o.payee, o.amount) == ("430000", "430200", 15 * WAN)
    assert o.basis["entry_combined"] == "2.5" and o.basis["classes_better"] == "0.5"
    # exit worse: 4 vs 2.5 → 1.5 classes worse → 60万 penalty from 株洲
    (o,) = class_change(a, two_entries((C.II, C.III), C.IV), Period(2014, 1))
    assert (o.payer, o.payee, o.amount) == ("430200", "430000", 60 * WAN)


def test_class_change_non_terminating_means_are_fractions_until_money() -> None:
    a = attrs.evolve(change_agreement(), unit="yuan")
    a = with_params(a, entry_sections=["zhutingzhen", "e2", "e3"],
                    reward_per_class=Decimal(100))
    a = attrs.evolve(a, sections=("zhutingzhen", "e2", "e3", "majiahe"))
    data = Assessments(sections={**two_entries((C.II, C.II), C.I).sections,
                                 **monthly("e3", 2014, [C.III]).sections})
    (o,) = class_change(a, data, Period(2014, 1))
    # entry mean 7/3, exit 1 → 4/3 classes better × 100 yuan = 133.333… → 133.33
    assert o.basis["entry_combined"] == "7/3" and o.basis["amount_exact"] == "400/3"
    assert o.amount == Decimal("133.33")


@pytest.mark.parametrize(("combine", "rounding", "amount"),
                         [("worst", False, 30), ("best", False, 0), ("mean", True, 30)])
def test_class_change_combine_and_round_options(combine: str, rounding: bool,
                                                amount: int) -> None:
    a = change_agreement(combine=combine, round_classes=rounding)
    (o,) = class_change(a, two_entries((C.II, C.III), C.II), Period(2014, 1))
    assert o.amount == amount * WAN


def test_class_change_missing_section_policies() -> None:
    data = Assessments(sections={**monthly("zhutingzhen", 2014, [C.III]).sections,
                                 **monthly("majiahe", 2014, [C.II]).sections})
    (o,) = class_change(change_agreement(), data, Period(2014, 1))
    assert o.amount == 0 and o.basis["missing_sections"] == ("e2",)
    (o,) = class_change(change_agreement(missing_month="available"), data, Period(2014, 1))
    assert o.amount == 30 * WAN and o.basis["missing_policy"] == "available"
    with pytest.raises(FormulaError, match="e2"):
        class_change(change_agreement(missing_month="error"), data, Period(2014, 1))


def flows(days: dict[int, str], year: int = 2014, month: int = 1) -> Assessments:
    first = date(year, month, 1)
    return Assessments(daily_flows={"guiyangzhen": {
        first + timedelta(days=d - 1): Decimal(q) for d, q in days.items()}})


def test_min_flow_counts_days_below_target_and_caps_the_month() -> None:
    a = with_params(preset("xiangjiang-2014-yongzhou-flow"), missing_day="skip")
    data = flows({d: ("99.9" if d <= 4 else "100") for d in range(1, 32)})
    (o,) = min_flow(a, data, Period(2014, 1))
    assert o.basis["days_counted"] == 4 and o.amount == 4 * WAN  # 100 m³/s is not below
    assert (o.payer, o.payee) == ("431100", "430000")
    many = flows({d: "10" for d in range(1, 32)})
    (o,) = min_flow(a, many, Period(2014, 1))
    assert o.amount == 30 * WAN and o.basis["uncapped"] == "31" and o.basis["capped"] is True


def test_min_flow_missing_days_follow_the_policy() -> None:
    data = flows({1: "50", 2: "150"})  # 29 days without data
    a = preset("xiangjiang-2014-yongzhou-flow")
    (o,) = min_flow(a, data, Period(2014, 1))
    assert (o.basis["days_counted"], o.basis["missing_days"]) == (1, 29)
    (o,) = min_flow(with_params(a, missing_day="penalise"), data, Period(2014, 1))
    assert o.basis["days_counted"] == 30 and o.amount == 30 * WAN
    with pytest.raises(FormulaError, match="29 day"):
        min_flow(with_params(a, missing_day="error"), data, Period(2014, 1))


# --------------------------------------------------------------------------- class of means


def sections_with(values: dict[str, dict[str, str]], waterbody: str = "river") -> Assessments:
    p = Period(2014, 1)
    return Assessments(sections={(s, p): section_assessment(s, p, v, waterbody)  # type: ignore[arg-type]
                                 for s, v in values.items()})


def test_the_xiangjiang_presets_class_the_averaged_concentrations() -> None:
    for name in ("xiangjiang-2014-zhuzhou-change", "xiangjiang-2014-yongzhou-change"):
        assert preset(name).params["combine"] == "mean_concentration"


def test_mean_concentration_classes_each_sides_averaged_values() -> None:
    # Entry: NH3-N 0.40 (Ⅱ) and 0.70 (Ⅲ) average to 0.55 → Ⅲ (0.5 < 0.55 ≤ 1.0). Exit: 0.30 → Ⅱ.
    # 3 − 2 = 1 whole class better → 1 × 30万 = 30万 reward to 株洲. (Averaging the class
    # numbers instead gives 2.5 − 2 = 0.5 class → 15万.)
    data = sections_with({"zhutingzhen": {"nh3n": "0.40"}, "e2": {"nh3n": "0.70"},
                          "majiahe": {"nh3n": "0.30"}})
    (o,) = class_change(change_agreement(combine="mean_concentration"), data, Period(2014, 1))
    assert (o.payer, o.payee, o.amount) == ("430000", "430200", 30 * WAN)
    assert o.basis["entry_combined"] == "3" and o.basis["classes_better"] == "1"
    assert o.basis["entry_means"]["nh3n"] == {"mean": "0.55", "class": "III", "sections": "2"}
    (o,) = class_change(change_agreement(combine="mean"), data, Period(2014, 1))
    assert o.amount == 15 * WAN


def test_mean_concentration_takes_the_worst_factor_and_limits_are_exact() -> None:
    # Entry NH3-N 0.15 and 0.85 average to exactly 0.5, the Ⅱ limit → Ⅱ (a value equal to a
    # limit is in the better class). Exit: NH3-N 0.30 (Ⅱ) but TP 0.25 (Ⅳ) → Ⅳ.
    # 2 − 4 = −2 → 2 × 40万 = 80万 penalty from 株洲.
    data = sections_with({"zhutingzhen": {"nh3n": "0.15"}, "e2": {"nh3n": "0.85"},
                          "majiahe": {"nh3n": "0.30", "tp": "0.25"}})
    (o,) = class_change(change_agreement(combine="mean_concentration"), data, Period(2014, 1))
    assert (o.payer, o.payee, o.amount) == ("430200", "430000", 80 * WAN)
    assert o.basis["entry_means"]["nh3n"]["mean"] == "0.5"
    assert o.basis["exit_means"]["tp"]["class"] == "IV"
    # a third entry section at 0.51: mean 1.51/3 = 0.50333… → Ⅲ, not Ⅱ (no rounding)
    a = attrs.evolve(change_agreement(combine="mean_concentration"),
                     sections=("zhutingzhen", "e2", "e3", "majiahe"))
    a = with_params(a, entry_sections=["zhutingzhen", "e2", "e3"])
    data = sections_with({"zhutingzhen": {"nh3n": "0.5"}, "e2": {"nh3n": "0.5"},
                          "e3": {"nh3n": "0.51"}, "majiahe": {"nh3n": "0.30"}})
    (o,) = class_change(a, data, Period(2014, 1))
    assert o.basis["entry_means"]["nh3n"]["mean"] == "151/300"
    assert o.basis["entry_combined"] == "3" and o.amount == 30 * WAN


def test_mean_concentration_does_not_average_ph() -> None:
    # pH 5.5 (劣Ⅴ) and 8.0 (Ⅰ) would average to 6.75, inside 6–9; a side's pH class is the
    # worst section's instead: entry 劣Ⅴ (6), exit Ⅱ (NH3-N 0.30) → 4 classes better → 120万.
    data = sections_with({"zhutingzhen": {"ph": "5.5", "nh3n": "0.30"},
                          "e2": {"ph": "8.0", "nh3n": "0.30"}, "majiahe": {"nh3n": "0.30"}})
    (o,) = class_change(change_agreement(combine="mean_concentration"), data, Period(2014, 1))
    assert o.basis["entry_combined"] == "6" and o.amount == 120 * WAN
    assert o.basis["entry_means"]["ph"]["class"] == "worse_than_V"


def test_mean_concentration_refuses_to_average_a_river_with_a_lake() -> None:
    p = Period(2014, 1)
    data = Assessments(sections={
        **sections_with({"zhutingzhen": {"nh3n": "0.4"}, "majiahe": {"nh3n": "0.3"}}).sections,
        ("e2", p): section_assessment("e2", p, {"nh3n": "0.4"}, "lake")})
    with pytest.raises(FormulaError, match=r"entry sections mix rivers and lakes.*e2 \(lake\)"):
        class_change(change_agreement(combine="mean_concentration"), data, p)


_NH3N_LIMITS = (Fraction("0.15"), Fraction("0.5"), Fraction("1.0"), Fraction("1.5"),
                Fraction("2.0"))


def _exact_class(values: list[Decimal]) -> int:
    mean = sum((Fraction(v) for v in values), Fraction(0)) / len(values)
    return next((i for i, limit in enumerate(_NH3N_LIMITS, start=1) if mean <= limit), 6)


_nh3n = st.decimals("0.01", "2.60", places=2)


@settings(max_examples=80, deadline=None)
@given(entry=st.lists(_nh3n, min_size=1, max_size=4), exit_=st.lists(_nh3n, min_size=1,
       max_size=3), better=st.integers(0, 2), cut=st.decimals("0.01", "1.00", places=2))
def test_mean_concentration_is_exact_and_monotonic_in_water_quality(
    entry: list[Decimal], exit_: list[Decimal], better: int, cut: Decimal,
) -> None:
    entry_codes = [f"in{i}" for i in range(len(entry))]
    exit_codes = [f"out{i}" for i in range(len(exit_))]
    a = attrs.evolve(preset("xiangjiang-2014-zhuzhou-change"),
                     sections=(*entry_codes, *exit_codes))
    a = with_params(a, entry_sections=entry_codes, exit_sections=exit_codes,
                    reward_per_class=Decimal(30), penalty_per_class=Decimal(40))

    def run(exit_values: list[Decimal]) -> Decimal:
        values = {**{c: {"nh3n": str(v)} for c, v in zip(entry_codes, entry, strict=True)},
                  **{c: {"nh3n": str(v)} for c, v in zip(exit_codes, exit_values, strict=True)}}
        (o,) = class_change(a, sections_with(values), Period(2014, 1))
        diff = _exact_class(entry) - _exact_class(exit_values)
        assert o.basis["classes_better"] == str(diff)
        assert o.amount == abs(diff) * (30 if diff > 0 else 40) * WAN  # whole class steps
        return o.amount if diff > 0 else -o.amount  # 株洲's net

    before = run(exit_)
    cleaner = list(exit_)
    cleaner[better % len(exit_)] = max(Decimal("0.01"), cleaner[better % len(exit_)] - cut)
    assert run(cleaner) >= before  # cleaner water leaving 株洲 never lowers 株洲's net
