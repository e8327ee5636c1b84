"""class_ladder: oracle cases E2 (澧水) and E3 (渌水), improvement and missing-month policies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest

from ecocomp.agreements import freeze, preset, thaw
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError
from ecocomp.formulas import class_ladder, get_formula, net_obligations
from ecocomp.periods import Period
from ecocomp.standards import WaterClass as C
from ecocomp.testing import monthly

WAN = Decimal(10000)


def with_params(agreement, **changes):  # type: ignore[no-untyped-def]
    params = thaw(agreement.params)
    params.update(changes)
    return attrs.evolve(agreement, params=freeze(params))


def test_e2_lishui_year_nets_80_wan_from_changde_to_zhangjiajie() -> None:
    a = preset("lishui-zjj-cd-2020")
    data = monthly("lishui-zjj-cd", 2021, [C.I] * 3 + [C.II] * 7 + [C.III] * 2)
    obs = class_ladder(a, data, Period(2021))
    assert len(obs) == 12 and all(o.component == "class:lishui-zjj-cd" for o in obs)
    paid = {(o.payer, o.payee): Decimal(0) for o in obs}
    for o in obs:
        paid[(o.payer, o.payee)] += o.amount
    assert paid[("430700", "430800")] == 240 * WAN  # 常德 → 张家界 (3 × Ⅰ)
    assert paid[("430800", "430700")] == 160 * WAN  # 张家界 → 常德 (2 × Ⅲ)
    assert [o.amount for o in obs[3:10]] == [Decimal("0.00")] * 7  # Ⅱ: 互不补偿, kept
    assert obs[3].basis["rule"] == "class II: none pays"
    (net,) = net_obligations(obs)
    assert (net.payer, net.payee, net.amount, net.year) == ("430700", "430800",
                                                            Decimal("800000.00"), 2021)
    assert obs[0].basis["improvement"]["applied"] is False  # no 2020 data: not applied, said so
    assert "not applied" in obs[0].basis["improvement"]["reason"]


def test_e3_lvshui_ten_compliant_months_net_800_wan_due_end_of_april() -> None:
    a = attrs.evolve(preset("lvshui-jx-hn-2019"), end=date(2023, 12, 31))
    data = monthly("jinyushi", 2023, [C.II] * 5 + [C.IV] * 2 + [C.III] * 5)
    obs = class_ladder(a, data, Period(2023))
    hunan = sum(o.amount for o in obs if o.payer == "430000")
    jiangxi = sum(o.amount for o in obs if o.payer == "360000")
    assert (hunan, jiangxi) == (1000 * WAN, 200 * WAN)
    (net,) = net_obligations(obs)
    assert (net.payer, net.payee, net.amount) == ("430000", "360000", 800 * WAN)
    assert a.due_date(2023) == date(2024, 4, 30)


def test_e3_first_round_thirty_compliant_months_make_3000_wan() -> None:
    # Round 1 runs 2019-07 .. 2021-12 [P]: 6 + 12 + 12 = 30 months. With 金鱼石 compliant in
    # every month of 2019–2022, 湖南 pays 30 × 100万 = 3000万, the figure 萍乡 received [C S7c];
    # 2022 belongs to round 2 (lvshui-jx-hn-2022) and gives nothing here.
    a = preset("lvshui-jx-hn-2019")
    assert (a.start, a.end) == (date(2019, 7, 1), date(2021, 12, 31))
    total = Decimal(0)
    for year in (2019, 2020, 2021, 2022):
        obs = class_ladder(a, monthly("jinyushi", year, [C.II] * 12), Period(year))
        assert len(obs) == {2019: 6, 2022: 0}.get(year, 12)
        total += sum(o.amount for o in obs if o.payer == "430000")
    assert total == 3000 * WAN


def test_lvshui_round_two_is_a_template_whose_class_amounts_must_be_supplied() -> None:
    from ecocomp.agreements import presets
    from ecocomp.errors import ValidationFailed

    assert "lvshui-jx-hn-2022" in presets(templates=True)
    assert "lvshui-jx-hn-2022" not in presets()
    with pytest.raises(ValidationFailed) as info:
        preset("lvshui-jx-hn-2022")
    # one problem per class: the preset invents no amount
    assert [p.message for p in info.value.problems] == ["'amount' is required but missing"] * 6
    assert "a template" in str(info.value)
    amounts = {"I": 150, "II": 120, "III": 100, "IV": 100, "V": 150, "worse_than_V": 200}
    a = preset("lvshui-jx-hn-2022",
               params={"rules": {k: {"amount": v} for k, v in amounts.items()}})
    assert a.confidence == "placeholder"
    assert a.params["rules"]["II"] == {"payer": "downstream", "amount": Decimal(120)}
    # 2022: 4 × Ⅱ (湖南 pays 120万 each), 6 × Ⅲ (100万), 2 × Ⅳ (江西 pays 100万)
    data = monthly("jinyushi", 2022, [C.II] * 4 + [C.III] * 6 + [C.IV] * 2)
    (net,) = net_obligations(class_ladder(a, data, Period(2022)))
    assert (net.payer, net.payee, net.amount) == ("430000", "360000", 880 * WAN)  # 480+600−200


def test_improvement_on_same_month_last_year_overrides_the_class_rule() -> None:
    a = preset("lishui-zjj-cd-2020")
    data = Assessments(sections={
        **monthly("lishui-zjj-cd", 2020, [C.IV] * 12).sections,
        **monthly("lishui-zjj-cd", 2021, [C.III] * 12).sections,
    })
    obs = class_ladder(a, data, Period(2021, 3))
    (o,) = obs
    assert (o.payer, o.payee, o.amount) == ("430700", "430800", Decimal("800000.00"))
    assert o.basis["improvement"]["applied"] is True
    assert o.basis["improvement"]["basis_class"] == "IV"
    assert o.basis["rule"].startswith("improved on 2020-03 (IV → III)")


def test_improvement_on_last_year_annual_reads_the_annual_class() -> None:
    a = with_params(preset("lishui-zjj-cd-2020"),
                    improvement={"basis": "last_year_annual", "payer": "downstream",
                                 "amount": Decimal(80)})
    from ecocomp.testing import section_assessment
    data = Assessments(sections={
        ("lishui-zjj-cd", Period(2020)): section_assessment("lishui-zjj-cd", Period(2020), C.II),
        **monthly("lishui-zjj-cd", 2021, [C.III] + [C.I] * 11).sections,
    })
    jan, feb = class_ladder(a, data, Period(2021))[:2]
    assert jan.payer == "430800" and jan.basis["improvement"]["applied"] is False
    assert feb.payer == "430700" and feb.basis["improvement"]["basis_period"] == "2020"


@pytest.mark.parametrize(("policy", "payer", "amount"),
                         [("skip", "430700", "0.00"), ("upstream_pays", "430800", "800000.00"),
                          ("downstream_pays", "430700", "800000.00")])
def test_missing_month_follows_the_policy_and_says_so(policy: str, payer: str,
                                                       amount: str) -> None:
    a = with_params(preset("lishui-zjj-cd-2020"), missing_month=policy)
    (o,) = class_ladder(a, Assessments(), Period(2021, 6))
    assert (o.payer, o.amount) == (payer, Decimal(amount))
    assert o.basis["missing_policy"] == policy and o.basis["class"] is None


def test_missing_month_error_names_agreement_section_and_month() -> None:
    a = with_params(preset("lishui-zjj-cd-2020"), missing_month="error")
    with pytest.raises(FormulaError, match=r"lishui-zjj-cd-2020: section lishui-zjj-cd .* 2021-06"):
        class_ladder(a, monthly("lishui-zjj-cd", 2021, [C.II] * 5), Period(2021))


def test_months_outside_the_agreement_give_no_obligation() -> None:
    a = preset("lishui-zjj-cd-2020")
    assert class_ladder(a, Assessments(), Period(2023)) == []
    assert len(get_formula("class_ladder")(a, Assessments(), Period(2022, 12))) == 1


def test_basis_explains_the_class_with_item_evidence() -> None:
    a = preset("lishui-zjj-cd-2020")
    (o,) = class_ladder(a, monthly("lishui-zjj-cd", 2021, [C.III]), Period(2021, 1))
    basis = o.to_json()["basis"]
    assert basis["class"] == "III" and basis["items"]["nh3n"] == {"value": "0.80", "samples": 1,
                                                                  "class": "III"}
    assert basis["amount_in_unit"] == "80" and basis["amount_yuan"] == "800000.00"
    assert "Ⅲ" in basis["explanation"] and o.to_json()["amount"] == "800000.00"
