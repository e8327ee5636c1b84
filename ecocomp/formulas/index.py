"""``pollution_index``: the 新安江-style annual index ``P = K0 × Σ wᵢ·Cᵢ/C0ᵢ`` on annual means.

``P ≤ threshold`` → ``outcome.at_or_below`` (新安江: downstream 浙江 pays upstream 安徽), else
``outcome.above``. P is computed as an exact fraction, compared exactly, and recorded in the
basis both as the exact fraction and rounded half-up to 6 and 12 decimals (E7: K0 0.85 →
P = 0.777235).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from ecocomp.agreements import Agreement
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError
from ecocomp.formulas.registry import register_formula
from ecocomp.formulas.shared import fraction_text, fraction_to_decimal, pay_by_role
from ecocomp.obligations import Obligation
from ecocomp.periods import Period
from ecocomp.standards import gb3838

__all__ = ["index_value", "pollution_index"]

_ROLES = ("upstream", "downstream")


def index_value(
    k0: Decimal, weights: Mapping[str, Decimal], values: Mapping[str, Decimal | Fraction],
    baseline: Mapping[str, Decimal],
) -> Fraction:
    """The exact index ``k0 × Σ wᵢ · valuesᵢ / baselineᵢ`` (E7).

    >>> w = {c: Decimal("0.25") for c in ("codmn", "nh3n", "tn", "tp")}
    >>> c = dict(codmn=Decimal("1.8"), nh3n=Decimal("0.10"), tn=Decimal("1.2"), tp=Decimal("0.025"))
    >>> c0 = dict(codmn=Decimal("2.0"), nh3n=Decimal("0.12"), tn=Decimal("1.1"), tp=Decimal("0.03"))
    >>> round_to(index_value(Decimal("0.85"), w, c, c0), 6)
    Decimal('0.777235')
    """
    total = sum((Fraction(weights[k]) * Fraction(values[k]) / Fraction(baseline[k])
                 for k in weights), Fraction(0))
    return Fraction(k0) * total


def round_to(value: Fraction, places: int) -> Decimal:
    """A rational rounded half-up to ``places`` decimals."""
    return fraction_to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    found: list[tuple[tuple[str | int, ...], str]] = []
    if len(agreement.sections) != 1:
        found.append(((), "pollution_index reads exactly one section (the boundary section); "
                      f"the agreement lists {len(agreement.sections)}"))
    weights, baseline = params["weights"], params["baseline"]
    for code in weights:
        if gb3838().resolve(code) != code:
            found.append((("weights", code), f"unknown parameter {code!r}; use codes such as "
                          "codmn, nh3n, tn, tp"))
    total = sum(weights.values(), Decimal(0))
    if total != 1:
        found.append((("weights",), f"weights sum to {total}, not 1; fix them so they sum to 1"))
    for code in set(weights) ^ set(baseline):
        where = "baseline" if code in weights else "weights"
        found.append(((where,), f"{code!r} needs both a weight and a baseline; add it to {where}"))
    return found


def _advise(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    """``k0`` above the threshold: P is above it with every item at its baseline (P = k0 ×
    Σ wᵢ = k0), so water no worse than the baseline is judged worse than it. The 新安江
    rounds used k0 = 0.85, 0.89 and 0.90 under a threshold of 1; 85 is most often a percent
    written as a whole number."""
    params = agreement.params
    k0, threshold = params["k0"], params.get("threshold", Decimal(1))
    if Decimal(k0) <= Decimal(threshold):
        return []
    return [(("k0",), f"k0 = {k0} is above the threshold {threshold}, so P is above it even "
             "with every item exactly at its baseline (P = k0); the 新安江 rounds used 0.85 to "
             "0.90 under a threshold of 1 (write 0.85 if 85% is meant)")]


def _beneficiary(agreement: Agreement, _section: str) -> str | None:
    # cleaner water lowers P; whoever is paid when P is at or below the threshold benefits
    outcome = agreement.params["outcome"]
    payer = outcome["at_or_below"]["payer"]
    if outcome["above"]["payer"] == payer:
        return None
    return agreement.party_for("downstream" if payer == "upstream" else "upstream")


@register_formula("pollution_index", roles=_ROLES, params_schema="params.pollution_index",
                  check=_check, advise=_advise, beneficiary=_beneficiary, annual=True)
def pollution_index(
    agreement: Agreement, assessments: Assessments, period: Period
) -> list[Obligation]:
    """One obligation per settlement year (component ``index``); a month period gives none.

    >>> from ecocomp.agreements import preset
    >>> pollution_index(preset("xinanjiang-round1"), Assessments(), Period(2012))[0].amount
    Decimal('0.00')
    """
    if period.is_month or not agreement.in_force(period):
        return []
    params: Mapping[str, Any] = agreement.params
    section = agreement.sections[0]
    sa = assessments.get(section, period)
    weights, baseline = params["weights"], params["baseline"]
    missing = [code for code in weights if sa is None or code not in sa.items]
    basis: dict[str, Any] = {"formula": "pollution_index", "year": period.year,
                             "section": section, "k0": params["k0"],
                             "threshold": params["threshold"]}
    if missing:
        if params["missing_year"] == "error":
            raise FormulaError(
                f"agreement {agreement.id}: section {section} has no annual mean of "
                f"{', '.join(missing)} in {period}; import readings or set "
                "params.missing_year = \"skip\""
            )
        basis.update({"missing_items": missing, "missing_policy": "skip",
                      "rule": f"no annual mean of {', '.join(missing)}: skipped"})
        payer, payee = pay_by_role(agreement, params["outcome"]["at_or_below"]["payer"], _ROLES)
        return [Obligation(agreement.id, period, "index", payer, payee, Decimal("0.00"), basis)]
    assert sa is not None
    values = {code: sa.items[code].value for code in weights}
    # the exact annual means: a mean such as 26/9 is rounded in ``value``, and P computed
    # from the rounded mean could fall a hair above a threshold the exact P is on
    exact = {code: sa.items[code].exact_value for code in weights}
    p = index_value(params["k0"], weights, exact, baseline)
    at_or_below = p <= Fraction(params["threshold"])
    outcome = params["outcome"]["at_or_below" if at_or_below else "above"]
    payer, payee = pay_by_role(agreement, outcome["payer"], _ROLES)
    yuan = agreement.to_yuan(outcome["amount"])
    items = {}
    total = Fraction(0)
    for code in weights:
        ratio = exact[code] / Fraction(baseline[code])
        weighted = Fraction(weights[code]) * ratio
        total += weighted
        items[code] = {"value": values[code], "samples": sa.items[code].samples,
                       "baseline": baseline[code], "weight": weights[code],
                       "ratio": round_to(ratio, 12), "weighted": round_to(weighted, 12)}
    basis.update({
        "items": items, "weighted_sum": round_to(total, 12), "p": round_to(p, 12),
        "p_6dp": round_to(p, 6), "p_exact": fraction_text(p),
        "outcome": "at_or_below" if at_or_below else "above", "payer_role": outcome["payer"],
        "amount_in_unit": outcome["amount"], "unit": agreement.unit, "amount_yuan": yuan,
        "rule": f"P {'≤' if at_or_below else '>'} {params['threshold']}: {outcome['payer']} pays",
        "explanation": f"{period.year}: P = {round_to(p, 6)} "
                       f"{'≤' if at_or_below else '>'} {params['threshold']} → "
                       f"{payer} pays {payee} {outcome['amount']}",
    })  # fmt: skip
    return [Obligation(agreement.id, period, "index", payer, payee, yuan, basis)]
