"""fund_split: E8 (赤水河 1:5:4 in, 3:4:3 out), deductions, exact splits and conservation."""

from __future__ import annotations

from decimal import Decimal

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.agreements import freeze, preset, thaw
from ecocomp.assessment import Assessments
from ecocomp.formulas import fund_split, net_obligations
from ecocomp.formulas.fund import fund_shares
from ecocomp.periods import Period
from ecocomp.standards import WaterClass as C
from ecocomp.testing import section_assessment

WAN = Decimal(10000)
YUN, GUI, CHUAN = "530000", "520000", "510000"


def annual(classes: dict[str, C]) -> Assessments:
    return Assessments(sections={(s, Period(2019)): section_assessment(s, Period(2019), c)
                                 for s, c in classes.items()})


def test_e8_contributions_and_allocations_split_the_two_yi_fund() -> None:
    shares = fund_shares(preset("chishui-2018"), Assessments(), 2019)
    assert shares["contributions"] == {YUN: 2000 * WAN, GUI: 10000 * WAN, CHUAN: 8000 * WAN}
    assert shares["allocations"] == {YUN: 6000 * WAN, GUI: 8000 * WAN, CHUAN: 6000 * WAN}
    assert sum(shares["contributions"].values()) == sum(shares["allocations"].values()) \
        == 20000 * WAN


def test_e8_all_sections_at_target_nets_yunnan_4000_wan() -> None:
    data = annual({"qingshuipu": C.II, "lianyuxi": C.I, "maotai-up": C.II})
    obs = fund_split(preset("chishui-2018"), data, Period(2019))
    assert [(o.payer, o.payee, o.amount) for o in obs] == [
        (CHUAN, YUN, 2000 * WAN), (GUI, YUN, 2000 * WAN)]
    assert {o.component for o in obs} == {f"fund:{CHUAN}->{YUN}", f"fund:{GUI}->{YUN}"}
    assert obs[0].basis["deductions"][0]["met"] is True


def test_qingshuipu_missing_target_moves_yunnans_share_half_and_half() -> None:
    data = annual({"qingshuipu": C.III, "lianyuxi": C.II})
    shares = fund_shares(preset("chishui-2018"), data, 2019)
    assert shares["allocations"] == {YUN: 0 * WAN, GUI: 11000 * WAN, CHUAN: 9000 * WAN}
    obs = fund_split(preset("chishui-2018"), data, Period(2019))
    # 云南 now only pays in (net −2000万); 贵州 and 四川 each end 1000万 up
    assert [(n.payer, n.payee, n.amount) for n in net_obligations(obs)] == [
        (YUN, CHUAN, 1000 * WAN), (YUN, GUI, 1000 * WAN)]


def test_both_deductions_cascade_without_losing_a_fen() -> None:
    data = annual({"qingshuipu": C.IV, "lianyuxi": C.III})
    shares = fund_shares(preset("chishui-2018"), data, 2019)
    # 云南's 6000万 → 贵州 3000万 + 四川 3000万; then 贵州's own 8000万 → 四川
    assert shares["allocations"] == {YUN: 0 * WAN, GUI: 3000 * WAN, CHUAN: 17000 * WAN}


def test_missing_annual_class_is_skipped_or_counted_as_failed() -> None:
    a = preset("chishui-2018")
    skip = fund_shares(a, Assessments(), 2019)
    assert skip["deductions"][0]["missing_policy"] == "skip"
    assert skip["allocations"][YUN] == 6000 * WAN
    params = thaw(a.params)
    params["missing_year"] = "fail"
    failed = fund_shares(attrs.evolve(a, params=freeze(params)), Assessments(), 2019)
    assert failed["allocations"][YUN] == 0


@settings(max_examples=40, deadline=None)
@given(fund=st.integers(1, 10**9), ratios=st.lists(st.integers(0, 7), min_size=3, max_size=3)
       .filter(any), fails=st.booleans())
def test_money_in_equals_money_out_to_the_fen(fund: int, ratios: list[int], fails: bool) -> None:
    a = preset("chishui-2018")
    params = thaw(a.params)
    params["fund"] = Decimal(fund) / 100
    params["allocation"] = dict(zip((YUN, GUI, CHUAN), map(Decimal, ratios), strict=True))
    a = attrs.evolve(a, params=freeze(params), unit="yuan")
    shares = fund_shares(a, annual({"qingshuipu": C.V if fails else C.I}), 2019)
    total = Decimal(fund) / 100
    assert sum(shares["contributions"].values()) == total
    assert sum(shares["allocations"].values()) == total
    assert all(v.as_tuple().exponent == -2 for v in shares["allocations"].values())


def test_chishui_2019_nets_and_the_three_assessed_indicators() -> None:
    # 2019 [C N12]: every section met Ⅱ on the three indicators 高锰酸盐指数, 氨氮, 总磷
    # [C N11], so nobody's share moved: 云南 6000 − 2000 = +4000万, 贵州 8000 − 10000 =
    # −2000万, 四川 6000 − 8000 = −2000万. 清水铺's DO is only Ⅲ (5.5 mg/L), and DO is not
    # one of the indicators: under the old "standard" 21 items this moved 云南's share.
    a = preset("chishui-2018")
    assert a.params["factors"] == ("codmn", "nh3n", "tp")
    at_ii = {"codmn": "3.5", "nh3n": "0.40", "tp": "0.08"}
    data = Assessments(sections={
        ("qingshuipu", Period(2019)): section_assessment(
            "qingshuipu", Period(2019), {**at_ii, "do": "5.5"}),
        ("lianyuxi", Period(2019)): section_assessment("lianyuxi", Period(2019), at_ii),
        ("maotai-up", Period(2019)): section_assessment("maotai-up", Period(2019), at_ii),
    })
    obs = fund_split(a, data, Period(2019))
    nets = {YUN: Decimal(0), GUI: Decimal(0), CHUAN: Decimal(0)}
    for o in obs:
        nets[o.payer] -= o.amount
        nets[o.payee] += o.amount
    assert nets == {YUN: 4000 * WAN, GUI: -2000 * WAN, CHUAN: -2000 * WAN}
    assert all(d["met"] for d in obs[0].basis["deductions"])
