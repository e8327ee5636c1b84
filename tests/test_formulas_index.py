"""pollution_index: E7 (新安江 P values), exact comparison with the threshold, missing data."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from ecocomp.agreements import freeze, preset, thaw
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError
from ecocomp.formulas import pollution_index
from ecocomp.periods import Period
from ecocomp.testing import section_assessment

E7 = {"codmn": "1.8", "nh3n": "0.10", "tn": "1.2", "tp": "0.025"}


def annual(year: int, values: dict[str, str]) -> Assessments:
    return Assessments(sections={("jiekou", Period(year)): section_assessment(
        "jiekou", Period(year), values, samples=24)})


def test_e7_round_one_p_is_0_777235_and_zhejiang_pays_anhui_one_yi() -> None:
    (o,) = pollution_index(preset("xinanjiang-round1"), annual(2013, E7), Period(2013))
    assert o.basis["p_6dp"] == "0.777235"
    assert o.basis["weighted_sum"] == "0.914393939394"
    assert o.basis["items"]["nh3n"]["ratio"] == "0.833333333333"
    assert o.basis["items"]["tn"]["ratio"] == "1.090909090909"
    assert (o.payer, o.payee, o.amount) == ("330000", "340000", Decimal("100000000.00"))
    assert o.basis["outcome"] == "at_or_below" and o.component == "index"


def test_e7_round_three_p_is_0_822955_and_two_yi() -> None:
    (o,) = pollution_index(preset("xinanjiang-round3"), annual(2019, E7), Period(2019))
    assert o.basis["p_6dp"] == "0.822955" and o.amount == Decimal("200000000.00")
    assert preset("xinanjiang-round2").params["k0"] == Decimal("0.89")


def test_p_above_threshold_makes_upstream_pay() -> None:
    worse = {"codmn": "3.0", "nh3n": "0.2", "tn": "1.5", "tp": "0.05"}
    (o,) = pollution_index(preset("xinanjiang-round1"), annual(2013, worse), Period(2013))
    assert o.basis["outcome"] == "above" and (o.payer, o.payee) == ("340000", "330000")


def test_p_exactly_at_the_threshold_counts_as_at_or_below() -> None:
    a = preset("xinanjiang-round1")
    params = thaw(a.params)
    params["k0"] = Decimal(1)
    at_baseline = {"codmn": "2.0", "nh3n": "0.12", "tn": "1.1", "tp": "0.03"}
    (o,) = pollution_index(attrs.evolve(a, params=freeze(params)), annual(2013, at_baseline),
                           Period(2013))
    assert o.basis["p_exact"] == "1" and o.basis["outcome"] == "at_or_below"


def test_missing_annual_item_is_skipped_and_recorded_or_raises() -> None:
    a = preset("xinanjiang-round1")
    partial = {k: v for k, v in E7.items() if k != "tn"}
    (o,) = pollution_index(a, annual(2013, partial), Period(2013))
    assert o.amount == 0 and o.basis["missing_items"] == ("tn",)
    params = thaw(a.params)
    params["missing_year"] = "error"
    with pytest.raises(FormulaError, match=r"jiekou .* tn in 2013"):
        pollution_index(attrs.evolve(a, params=freeze(params)), annual(2013, partial),
                        Period(2013))


def test_months_and_years_out_of_force_give_no_obligation() -> None:
    a = preset("xinanjiang-round1")
    assert pollution_index(a, annual(2013, E7), Period(2013, 5)) == []
    assert pollution_index(a, annual(2015, E7), Period(2015)) == []
