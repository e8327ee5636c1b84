"""Adversarial cases on the air and 南山 features: odd data is refused with a located error
or handled by the documented rule, never a silent wrong amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecocomp.errors import FormulaError
from ecocomp.periods import Period
from tests.test_formulas_air import CLEAN, HUNAN, PROVINCE, agreement, data, run


def _invalid(assessments: Any, city: str, span: Any, *names: str) -> Any:
    """The same statistics with ``names`` flagged invalid (too few days, HJ 663)."""
    stats = assessments.statistics[(city, span)]
    valid = {k: k not in names for k in stats.values}
    evidence = {k: "mean of 200 daily values; not valid: 200 daily values < 324 a year"
                for k in names}
    stats = attrs.evolve(stats, valid=valid, evidence=evidence)
    return attrs.evolve(assessments, statistics={(city, span): stats})


@pytest.mark.parametrize("policy", ["skip", "error"])
def test_attainment_on_a_year_with_too_few_valid_days_honours_missing_year(policy: str
                                                                           ) -> None:
    """An annual statistic invalid under HJ 663 is missing (docs/air-formulas.md), not a
    miss "above the limit": missing_year = error refuses, skip pays nothing and says why."""
    a = agreement("air_attainment", {**HUNAN, "missing_year": policy}, party="430100")
    d = _invalid(data(("430100", Period(2021), CLEAN)), "430100", Period(2021), "pm25")
    if policy == "error":
        with pytest.raises(FormulaError, match=r"no valid .*pm25.*missing_year"):
            run("air_attainment", a, d, Period(2021))
        return
    (ob,) = run("air_attainment", a, d, Period(2021))
    assert ob.amount == Decimal("0.00")
    assert "missing_year = skip" in ob.basis["rule"]
    assert "above the limit" not in ob.basis["rule"]
    assert list(ob.basis["missing"]) == ["pm25"]


def test_attainment_a_valid_statistic_above_the_limit_is_a_miss_whatever_else_is_invalid(
) -> None:
    """A valid PM2.5 above the limit decides the year (no attainment) even when another
    statistic is invalid; the zero-heavy reward still applies."""
    a = agreement("air_attainment", {**HUNAN, "missing_year": "error"}, party="430100")
    d = _invalid(data(("430100", Period(2021), CLEAN | {"pm25": 40})), "430100",
                 Period(2021), "so2")
    (ob,) = run("air_attainment", a, d, Period(2021))
    assert ob.amount == Decimal("2000000.00") and ob.payer == PROVINCE
