"""Formula inputs by kind: ``water`` (the default), ``none``, and a builder per kind."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from ecocomp.agreement_files import agreement_from_dict
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError, SettlementError
from ecocomp.formulas import Obligation, get_spec, register_formula
from ecocomp.formulas.registry import _REGISTRY
from ecocomp.inputs import build_inputs, input_kinds, register_inputs
from ecocomp.project import load_project
from ecocomp.settlement import compute, input_kinds_needed

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"


@pytest.fixture
def kinds_formulas():
    seen: list[object] = []

    def fee(agreement, inputs, period):
        seen.append(inputs)
        return [Obligation(agreement.id, period, "fee", agreement.party_for("downstream"),
                           agreement.party_for("upstream"), Decimal("10.00"))]

    register_formula("test_fee_none", fee, roles=("upstream", "downstream"), inputs="none")
    register_formula("test_fee_air", fee, roles=("upstream", "downstream"), inputs="air")
    yield seen
    for name in ("test_fee_none", "test_fee_air"):
        _REGISTRY.pop(name, None)


def _agreement(formula: str, id_: str):
    return agreement_from_dict({
        "id": id_, "name": "fee", "formula": formula,
        "sections": [] if formula.endswith("none") else ["s"],
        "upstream": "430100", "downstream": "430200", "start": "2021-01-01",
        "end": "2021-12-31", "unit": "yuan", "clearing_due": "04-30", "source": "test",
        "confidence": "placeholder",
    })


def test_shipped_water_formulas_read_water():
    for name in ("class_ladder", "target_reward_penalty", "class_change", "min_flow",
                 "pollution_index", "fund_split"):
        assert get_spec(name).inputs == "water"


def test_a_formula_of_kind_none_is_given_none(kinds_formulas):
    project = load_project(EXAMPLE)
    fee = _agreement("test_fee_none", "fee-none")
    project = attrs.evolve(project, agreements=(fee,))
    assert input_kinds_needed(project, 2021) == {"none"}
    assert input_kinds_needed(project, 2022) == set()
    obligations, nets = compute(project, build_inputs(project, None, 2021, {"none"}), 2021)
    assert kinds_formulas == [None]
    assert [o.amount for o in obligations] == [Decimal("10.00")]
    assert [(n.payer, n.payee) for n in nets] == [("430200", "430100")]
    # an Assessments alone is the water inputs, as before; a "none" formula still gets None
    compute(project, Assessments(sections={}, daily_flows={}), 2021)
    assert kinds_formulas == [None, None]


def test_inputs_that_were_not_built_are_refused(kinds_formulas):
    project = attrs.evolve(load_project(EXAMPLE),
                           agreements=(_agreement("test_fee_air", "fee-air"),))
    with pytest.raises(SettlementError, match="reads 'air' inputs, which were not built"):
        compute(project, {"water": Assessments(sections={}, daily_flows={})}, 2021)
    assert kinds_formulas == []


def test_a_kind_without_builder_is_refused_with_advice():
    with pytest.raises(SettlementError, match="no builder of 'smell' inputs is registered"):
        build_inputs(None, None, 2021, {"none", "smell"})


def test_builders_run_once_per_kind_and_get_evidence_only_when_asked():
    calls: list[tuple[str, dict]] = []

    def plain(project, store, year, *, progress=None):
        calls.append(("plain", {"year": year}))
        return "p"

    def hashed(project, store, year, *, progress=None, evidence=None):
        calls.append(("hashed", {"evidence": evidence}))
        return "h"

    register_inputs("test_plain", plain)
    register_inputs("test_hashed", hashed, evidence=True)
    try:
        assert {"test_plain", "test_hashed", "none", "water"} <= set(input_kinds())
        built = build_inputs(None, None, 2021, ["test_plain", "test_hashed", "test_plain"],
                             evidence="digest")
        assert built == {"test_hashed": "h", "test_plain": "p"}
        assert calls == [("hashed", {"evidence": "digest"}), ("plain", {"year": 2021})]
    finally:
        from ecocomp.inputs import _PROVIDERS

        _PROVIDERS.pop("test_plain")
        _PROVIDERS.pop("test_hashed")


def test_register_formula_refuses_a_kind_that_is_not_a_name():
    with pytest.raises(FormulaError, match="is not a kind of inputs"):
        register_formula("test_bad_kind", lambda a, i, p: [], roles=("upstream", "downstream"),
                         inputs="Air quality")
    assert "test_bad_kind" not in _REGISTRY
