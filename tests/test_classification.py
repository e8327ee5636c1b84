"""classify(): the single-factor class of a set of values with its evidence; trophic_index():
TLI(Σ) of a lake point. Oracles E4, E5 (docs/assessment.md) and hand calculations."""

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.classification import (
    Classification,
    classify,
    resolve_factors,
    trophic_grade,
    trophic_index,
)
from ecocomp.errors import StandardError
from ecocomp.standards import ASSESSED_ITEMS, WaterClass, classify_item, gb3838

E4 = {"ph": "7.2", "do": "5.5", "codmn": "4.5", "nh3n": "0.45", "tp": "0.12"}


def test_oracle_e4_river_is_class_iii_good():
    c = classify(E4, "river")
    assert c.cls is WaterClass.III
    assert str(c) == "Ⅲ类 (良好)"
    assert c.descriptor == "良好"
    assert {code: it.cls for code, it in c.items.items()} == {
        "ph": WaterClass.I, "do": WaterClass.III, "codmn": WaterClass.III,
        "nh3n": WaterClass.II, "tp": WaterClass.III,
    }  # fmt: skip
    assert c.main_pollutants == ()


def test_oracle_e4_lake_is_class_v_moderately_polluted():
    c = classify(E4, "lake")
    assert c.cls is WaterClass.V
    assert str(c) == "Ⅴ类 (中度污染)"
    assert c.items["tp"].cls is WaterClass.V
    assert c.main_pollutants == ("tp",)


def test_oracle_e5_classes_and_multiples():
    c = classify({"nh3n": "1.8", "tp": "0.5", "do": "2.5"})
    nh3n, tp, do = c.items["nh3n"], c.items["tp"], c.items["do"]
    assert (nh3n.cls, nh3n.multiple, nh3n.limit) == (WaterClass.V, Decimal("0.8"), Decimal("1.0"))
    assert (tp.cls, tp.multiple, tp.limit) == (
        WaterClass.WORSE_THAN_V, Decimal("1.5"), Decimal("0.2")
    )  # fmt: skip
    assert (do.cls, do.multiple, do.limit) == (WaterClass.V, None, Decimal("5"))
    assert c.cls is WaterClass.WORSE_THAN_V
    assert c.descriptor == "重度污染"


def test_ph_has_neither_multiple_nor_limit():
    item = classify({"ph": "9.5"}).items["ph"]
    assert (item.cls, item.multiple, item.limit) == (WaterClass.WORSE_THAN_V, None, None)


def test_values_are_found_by_chinese_name_and_alias():
    by_name = classify({"溶解氧": "5.5", "高锰酸盐指数": "4.5", "NH3-N": "0.45", "TP": "0.12"})
    by_code = classify({"do": "5.5", "codmn": "4.5", "nh3n": "0.45", "tp": "0.12"})
    assert by_name == by_code


def test_values_accept_decimal_str_and_int_but_refuse_float():
    assert classify({"nh3n": Decimal("0.45")}).cls is WaterClass.II
    assert classify({"cod": 15}).cls is WaterClass.I
    with pytest.raises(TypeError, match=r"nh3n.*float.*str or Decimal"):
        classify({"nh3n": 0.45})


def test_one_item_given_under_two_names_is_an_error():
    with pytest.raises(StandardError, match="both name nh3n"):
        classify({"nh3n": "0.4", "氨氮": "0.5"})


def test_unknown_parameter_or_waterbody_is_an_error():
    with pytest.raises(StandardError, match="'ammonia'"):
        classify({"ammonia": "0.4"})
    with pytest.raises(StandardError, match="'reservoir'"):
        classify({"nh3n": "0.4"}, "reservoir")


def test_missing_lists_factors_without_value_in_factor_order_and_none_counts_as_missing():
    c = classify({"nh3n": "0.4", "tp": None})
    assert "tp" in c.missing and "nh3n" not in c.missing
    assert c.missing == tuple(code for code in ASSESSED_ITEMS if code != "nh3n")


def test_values_that_do_not_class_are_reported_as_unclassed():
    c = classify({"nh3n": "0.4", "temp": "21.5", "tn": "1.2", "flow": "300"}, "river")
    assert c.unclassed == {"temp": Decimal("21.5"), "tn": Decimal("1.2"), "flow": Decimal("300")}
    assert c.cls is WaterClass.II


def test_classed_items_outside_the_factors_are_extra_and_do_not_set_the_class():
    c = classify({"nh3n": "0.4", "tn": "1.8", "fecal_coliform": "30000"}, "lake")
    assert set(c.extra) == {"tn", "fecal_coliform"}
    assert c.extra["tn"].cls is WaterClass.V
    assert c.extra["fecal_coliform"].cls is WaterClass.V
    assert c.cls is WaterClass.II  # TN is evaluated separately ([C S13], docs/assessment.md)


def test_agreement_factor_list_restricts_the_class():
    values = {"nh3n": "0.4", "tp": "0.12", "cod": "35"}
    c = classify(values, factors=["氨氮", "TP"])
    assert c.factors == ("nh3n", "tp")
    assert c.cls is WaterClass.III
    assert set(c.extra) == {"cod"}
    assert classify(values).cls is WaterClass.V
    assert classify(values, factors="standard").cls is WaterClass.V


def test_factor_lists_resolve_and_refuse_bad_names():
    assert resolve_factors(None) == ASSESSED_ITEMS
    assert resolve_factors(["TP", "tp", "氨氮"]) == ("tp", "nh3n")
    with pytest.raises(StandardError):
        resolve_factors(["nh3n", "ammonia"])
    with pytest.raises(StandardError, match="empty"):
        resolve_factors([])
    with pytest.raises(StandardError, match="list"):
        resolve_factors("nh3n")


def test_reference_class_sets_multiple_and_limit():
    item = classify({"nh3n": "0.75"}, reference="II").items["nh3n"]
    assert (item.multiple, item.limit) == (Decimal("0.5"), Decimal("0.5"))
    with pytest.raises(StandardError, match="reference"):
        classify({"nh3n": "0.75"}, reference=WaterClass.WORSE_THAN_V)


def test_no_value_for_any_factor_gives_no_class():
    c = classify({"temp": "20"})
    assert c.cls is None and c.descriptor is None
    assert str(c).startswith("no class")


# --------------------------------------------------------------------------- main pollutants


def test_main_pollutants_are_worst_class_first_then_larger_multiple():
    c = classify({"codmn": "12", "nh3n": "1.8", "tp": "0.5", "bod5": "5", "cod": "25"})
    # tp 劣Ⅴ (1.5); codmn Ⅴ (1.0) before nh3n Ⅴ (0.8); bod5 Ⅳ, cod Ⅳ left out
    assert c.main_pollutants == ("tp", "codmn", "nh3n")


def test_cyanide_and_heavy_metals_that_exceed_lead_the_main_pollutants():
    c = classify({"codmn": "12", "nh3n": "1.8", "tp": "0.5", "cd": "0.006", "cyanide": "0.3"})
    assert c.main_pollutants == ("cyanide", "cd", "tp")


def test_heavy_metals_within_class_iii_are_not_main_pollutants():
    c = classify({"nh3n": "1.8", "pb": "0.04"})
    assert c.main_pollutants == ("nh3n",)


def test_items_without_multiple_follow_those_with_one_in_the_same_class():
    c = classify({"do": "2.5", "nh3n": "1.8"})
    assert c.main_pollutants == ("nh3n", "do")


def test_no_main_pollutants_at_class_iii_or_better():
    assert classify({"nh3n": "1.0", "tp": "0.2"}).main_pollutants == ()


def test_to_json_uses_codes_and_decimal_strings():
    data = classify({"nh3n": "1.8", "temp": "20"}).to_json()
    assert data["class"] == "V"
    assert data["items"]["nh3n"] == {"value": "1.8", "class": "V", "multiple": "0.8",
                                     "limit": "1.0"}  # fmt: skip
    assert data["unclassed"] == {"temp": "20"}
    assert data["main_pollutants"] == ["nh3n"]


# --------------------------------------------------------------------------- properties

CLASSED = [
    (code, wb)
    for code, p in gb3838().parameters.items()
    for wb in ("river", "lake")
    if p.direction in ("lower", "higher") and p.limits_for(wb) is not None
]
values = st.decimals(min_value=0, max_value=50000, places=5, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CLASSED), values, values)
def test_class_is_monotone_in_each_value(item, a, b):
    code, waterbody = item
    low, high = sorted((a, b))
    c_low = classify({code: low}, waterbody, factors=[code]).cls
    c_high = classify({code: high}, waterbody, factors=[code]).cls
    if gb3838().parameters[code].direction == "higher":
        assert c_low >= c_high  # more oxygen is never worse
    else:
        assert c_low <= c_high


@settings(max_examples=100, deadline=None)
@given(values)
def test_lake_never_classes_tp_better_than_river(value):
    assert classify({"tp": value}, "lake").cls >= classify({"tp": value}, "river").cls


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(ASSESSED_ITEMS), values, min_size=1, max_size=8),
       st.sampled_from(["river", "lake"]))
def test_section_class_is_the_worst_item_class(sample, waterbody):
    c = classify(sample, waterbody)
    assert c.cls == max(classify_item(code, v, waterbody) for code, v in sample.items())
    assert all(c.items[code].cls <= c.cls for code in c.main_pollutants)
    assert len(c.main_pollutants) <= 3
    assert bool(c.main_pollutants) == (c.cls > WaterClass.III)


def test_classification_is_a_frozen_value():
    c = classify(E4)
    assert isinstance(c, Classification)
    with pytest.raises(AttributeError):
        c.cls = WaterClass.I  # type: ignore[misc]


# --------------------------------------------------------------------------- trophic index

LAKE = {"chla": "10", "tp": "0.05", "tn": "1", "sd": "1", "codmn": "4"}


def test_trophic_index_of_a_hand_worked_lake_point():
    t = trophic_index(LAKE)
    # 10(2.5+1.086 ln10)=50.0066, 10(9.436+1.624 ln0.05)=45.7087, 54.53, 51.18,
    # 10(0.109+2.661 ln4)=37.9793; Σ W·TLI = 48.0181 → 中营养
    assert t.rounded() == {
        "chla": Decimal("50.01"), "tp": Decimal("45.71"), "tn": Decimal("54.53"),
        "sd": Decimal("51.18"), "codmn": Decimal("37.98"), "total": Decimal("48.02"),
    }  # fmt: skip
    assert t.grade == "中营养"
    assert str(t) == "TLI(Σ) = 48.02 (中营养)"
    assert t.index["tn"] == Decimal("54.53")  # ln 1 = 0 exactly
    assert t.index["sd"] == Decimal("51.18")


def test_trophic_index_keeps_full_precision_and_agrees_with_an_independent_float_check():
    t = trophic_index(LAKE)
    assert len(t.total.as_tuple().digits) >= 40
    w = {"chla": 0.2663, "tp": 0.1879, "tn": 0.1790, "sd": 0.1834, "codmn": 0.1834}
    f = {
        "chla": 10 * (2.5 + 1.086 * math.log(10)),
        "tp": 10 * (9.436 + 1.624 * math.log(0.05)),
        "tn": 10 * (5.453 + 1.694 * math.log(1)),
        "sd": 10 * (5.118 - 1.94 * math.log(1)),
        "codmn": 10 * (0.109 + 2.661 * math.log(4)),
    }
    assert abs(float(t.total) - sum(w[k] * f[k] for k in w)) < 1e-9


def test_trophic_index_names_missing_items_and_gives_no_total():
    t = trophic_index({"叶绿素a": "10", "TP": "0.05", "nh3n": "0.3"})
    assert set(t.index) == {"chla", "tp"}
    assert t.missing == ("tn", "sd", "codmn")
    assert t.total is None and t.grade is None
    assert t.rounded()["total"] is None
    assert "sd" in str(t)


def test_trophic_index_refuses_non_positive_values():
    with pytest.raises(StandardError, match=r"sd.*positive"):
        trophic_index({**LAKE, "sd": "0"})


@pytest.mark.parametrize(
    ("tli", "grade"),
    [("0", "贫营养"), ("29.99", "贫营养"), ("30", "中营养"), ("50", "中营养"),
     ("50.01", "轻度富营养"), ("60", "轻度富营养"), ("60.0001", "中度富营养"),
     ("70", "中度富营养"), ("70.01", "重度富营养"), ("95", "重度富营养")],
)  # fmt: skip
def test_trophic_grades_take_the_lower_grade_at_each_bound(tli, grade):
    assert trophic_grade(Decimal(tli)) == grade


def test_a_eutrophic_lake_point_is_graded_moderately_eutrophic():
    t = trophic_index({"chla": "40", "tp": "0.2", "tn": "2.5", "sd": "0.3", "codmn": "8"})
    # by hand: 65.06, 68.22, 70.05, 74.54, 56.42 → Σ W·TLI = 66.70
    assert t.rounded()["total"] == Decimal("66.70")
    assert t.grade == "中度富营养"
