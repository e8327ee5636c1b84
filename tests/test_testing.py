"""ecocomp.testing: strategies give valid inputs; check_formula passes presets, catches bugs."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from ecocomp.agreements import freeze, preset, presets, thaw
from ecocomp.assessment import Assessments
from ecocomp.formulas import Obligation, get_spec, register_formula
from ecocomp.formulas.base import _REGISTRY
from ecocomp.periods import Period
from ecocomp.standards import WaterClass, classify_item
from ecocomp.testing import (
    agreements,
    assessments,
    check_formula,
    decimals_for,
    improve,
    readings,
    section_assessment,
    section_assessments,
)

PRESET_FORMULAS = ["class_ladder", "target_reward_penalty", "class_change", "min_flow",
                   "pollution_index", "fund_split", "air_attainment", "air_change", "air_ladder"]


@pytest.mark.parametrize("formula", PRESET_FORMULAS)
def test_every_preset_formula_keeps_every_invariant_on_random_agreements(formula: str) -> None:
    check_formula(formula, max_examples=25)


#: Templates, with what they need supplied (the air attainment's history).
TEMPLATE_PARAMS = {"hunan-air-2019-attainment": {"attained_years": [2019]}}


@pytest.mark.parametrize("name", [*presets(), *TEMPLATE_PARAMS])
def test_every_shipped_agreement_keeps_every_invariant(name: str) -> None:
    agreement = preset(name, params=TEMPLATE_PARAMS.get(name))
    year = agreement.start.year + 1 if agreement.start.month > 1 else agreement.start.year
    air = get_spec(agreement.formula).inputs == "air"
    check_formula(agreement.formula, agreements=st.just(agreement), year=year,
                  assessments=None if air else (
                      lambda a: assessments(sections=a.sections, year=year)),
                  max_examples=4)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), code=st.sampled_from(["nh3n", "tp", "do", "cod", "ph", "hg"]),
       cls=st.sampled_from(list(WaterClass)))
def test_decimals_for_a_class_never_fall_in_a_worse_class(data: st.DataObject, code: str,
                                                          cls: WaterClass) -> None:
    value = data.draw(decimals_for(code, "river", cls))
    assert classify_item(code, value) <= cls


@settings(max_examples=30, deadline=None)
@given(sa=st.sampled_from(list(WaterClass)).flatmap(lambda c: section_assessments(cls=c)))
def test_improve_makes_a_section_exactly_better_and_never_raises_multiples(sa) -> None:  # type: ignore[no-untyped-def]
    better = improve(sa)
    if sa.class_for() is WaterClass.I:
        assert better is None
        return
    assert better.class_for() < sa.class_for()
    assert better.max_multiple()[0] <= sa.max_multiple()[0]


@settings(max_examples=30, deadline=None)
@given(reading=readings(section="s-up"))
def test_readings_are_valid_and_exact(reading) -> None:  # type: ignore[no-untyped-def]
    assert reading.section == "s-up" and isinstance(reading.value, Decimal)
    assert reading.value > 0 and reading.flag in ("", "suspect", "invalid")


@settings(max_examples=20, deadline=None)
@given(formula=st.sampled_from(PRESET_FORMULAS).flatmap(agreements))
def test_random_agreements_are_valid_and_in_force_in_the_year(formula) -> None:  # type: ignore[no-untyped-def]
    assert formula.in_force(Period(2023))
    assert get_spec(formula.formula).semantic_problems(formula) == []


@settings(max_examples=5)
@given(data=assessments(sections=("a", "b"), year=2023, gaps=False))
def test_assessments_cover_months_and_years_with_gaps(data) -> None:  # type: ignore[no-untyped-def]
    assert {(s, p) for s, p in data.sections} >= {("a", Period(2023)), ("b", Period(2022, 7))}
    assert len(data.flows("a", Period(2023, 2))) <= 28


# ------------------------------------------------------------------ the checker catches bugs


def dirty_water_pays_upstream() -> st.SearchStrategy:
    a = preset("lishui-zjj-cd-2020")
    params = thaw(a.params)
    params.pop("improvement")
    # the cleaner the water, the more the upstream party pays: a bug for any improvement
    params["rules"] = {c.code: {"payer": "upstream", "amount": Decimal(7 - c)}
                       for c in WaterClass}
    return st.just(attrs.evolve(a, params=freeze(params)))


def test_check_formula_catches_a_ladder_that_punishes_clean_water() -> None:
    with pytest.raises(AssertionError, match=r"improving .* lowered 430800's net"):
        check_formula("class_ladder", agreements=dirty_water_pays_upstream(), year=2021,
                      max_examples=60, shrink=False)


@pytest.fixture
def registered():  # type: ignore[no-untyped-def]
    names: list[str] = []

    def add(name: str, func, **kwargs):  # type: ignore[no-untyped-def]
        register_formula(name, func, roles=("upstream", "downstream"), replace=True, **kwargs)
        names.append(name)

    yield add
    for name in names:
        _REGISTRY.pop(name, None)


def first_section_count(agreement, data: Assessments, period: Period) -> list[Obligation]:  # type: ignore[no-untyped-def]
    # a bug: the amount depends on the order of the assessments mapping
    first = next(iter(data.sections), ("", period))
    amount = Decimal(len(first[0])) + Decimal(first[1].month or 0)
    return [Obligation(agreement.id, period, "x", agreement.party_for("upstream"),
                       agreement.party_for("downstream"), amount.quantize(Decimal("0.01")))]


def next_year_peek(agreement, data: Assessments, period: Period) -> list[Obligation]:  # type: ignore[no-untyped-def]
    # a bug: reads the following year
    seen = sum(1 for s, p in data.sections if p.year == period.year + 1)
    return [Obligation(agreement.id, period, "x", agreement.party_for("upstream"),
                       agreement.party_for("downstream"), Decimal(seen).quantize(Decimal("0.01")))]


def over_cap(agreement, data: Assessments, period: Period) -> list[Obligation]:  # type: ignore[no-untyped-def]
    return [Obligation(agreement.id, period, "x", agreement.party_for("upstream"),
                       agreement.party_for("downstream"), Decimal("100.01"))]


@pytest.mark.parametrize(("func", "needle", "kwargs"), [
    (first_section_count, "order of the assessments|outside", {}),
    (next_year_peek, "outside", {}),
    (over_cap, "exceeds the cap 100.00", {"cap": lambda a, o: Decimal("100.00")}),
])
def test_check_formula_names_the_broken_invariant(registered, func, needle, kwargs) -> None:  # type: ignore[no-untyped-def]
    registered("test_broken", func, **kwargs)
    with pytest.raises(AssertionError, match=needle):
        check_formula("test_broken", agreements=agreements("test_broken", params=st.just({})),
                      max_examples=40, shrink=False)


def flat_fee(agreement, data: Assessments, period: Period) -> list[Obligation]:  # type: ignore[no-untyped-def]
    fee = agreement.to_yuan(agreement.params["fee"])
    return [Obligation(agreement.id, month, "fee", agreement.party_for("downstream"),
                       agreement.party_for("upstream"), fee, {"fee": fee})
            for month in agreement.months_in_force(period)]


def test_a_users_formula_registers_and_passes_in_a_few_lines(registered) -> None:  # type: ignore[no-untyped-def]
    registered("test_flat_fee", flat_fee, params_schema={
        "type": "object", "required": ["fee"], "additionalProperties": False,
        "properties": {"fee": {"type": ["number", "string"], "x-decimal": True}}})
    fees = st.decimals("0", "1000", places=2).map(lambda d: {"fee": str(d)})
    check_formula("test_flat_fee", agreements=agreements("test_flat_fee", params=fees),
                  max_examples=10)
    one = find(agreements("test_flat_fee", params=st.just({"fee": "12.5"})), lambda a: True)
    assert one.params["fee"] == Decimal("12.5")
    section_assessment("s", Period(2023, 1), WaterClass.II)


def test_the_documented_example_runs() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "agreements.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, re.S)[-1]
    _REGISTRY.pop("flat_fee", None)
    try:
        exec(compile(code, "docs/agreements.md", "exec"), {})
    finally:
        _REGISTRY.pop("flat_fee", None)
