"""``class_ladder``: per month and section, the section's class selects who pays how much.

Covers 澧水 常德–张家界, 渌水 江西–湖南 (金鱼石), 酉水 重庆–湖南 (里耶镇) and the 重庆 template.
An optional ``improvement`` rule (e.g. 澧水 "较上年提升") overrides the class rule in a month
whose class is better than last year's (same month, or last year's annual class).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ecocomp.agreements import Agreement
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError
from ecocomp.formulas.registry import register_formula
from ecocomp.formulas.shared import evidence, factor_problems, factors_of, pay_by_role
from ecocomp.obligations import Obligation
from ecocomp.periods import Period
from ecocomp.standards import WaterClass

__all__ = ["class_ladder", "evidence", "pay_by_role"]

_ROLES = ("upstream", "downstream")


def _unit_text(agreement: Agreement) -> str:
    return "万元" if agreement.unit == "wan" else "元"


def _improvement(
    agreement: Agreement, assessments: Assessments, section: str, month: Period,
    cls: WaterClass, factors: tuple[str, ...],
) -> dict[str, Any] | None:
    rule = agreement.params.get("improvement")
    if rule is None:
        return None
    basis_period = (month.shift_years(-1) if rule["basis"] == "same_month_last_year"
                    else Period(month.year - 1))
    earlier = assessments.get(section, basis_period)
    earlier_cls = earlier.class_for(factors) if earlier is not None else None
    if earlier_cls is None:
        return {"basis": rule["basis"], "basis_period": basis_period, "basis_class": None,
                "applied": False,
                "reason": f"no class for {section} in {basis_period}; improvement not applied"}
    return {"basis": rule["basis"], "basis_period": basis_period, "basis_class": earlier_cls,
            "applied": cls < earlier_cls}


def _missing_amount(agreement: Agreement) -> Decimal:
    params = agreement.params
    if "missing_amount" in params:
        return params["missing_amount"]
    return max((Decimal(r.get("amount", 0)) for r in params["rules"].values()), default=Decimal(0))


def _check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    found = factor_problems(agreement)
    for cls, rule in params["rules"].items():
        if rule["payer"] == "none" and rule.get("amount", 0) != 0:
            found.append((("rules", cls, "amount"), f"amount {rule['amount']} with payer "
                          "\"none\": nobody would pay it (a month of this class pays 0); "
                          "name the payer (upstream or downstream), or remove the amount"))
    if "missing_amount" in params and params["missing_month"] not in (
            "upstream_pays", "downstream_pays"):
        found.append((("missing_amount",), f"missing_amount is set, but missing_month is "
                      f"{params['missing_month']!r}, so it would never be paid; set "
                      "missing_month to upstream_pays or downstream_pays, or remove "
                      "missing_amount"))
    return found


def _advise(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    """A ladder whose upstream party gets less (or pays more) for a cleaner class than for
    a worse one: possible, but most often two amounts typed the wrong way round."""
    unit = _unit_text(agreement)

    def upstream_gets(rule: Mapping[str, Any]) -> Decimal:
        amount = Decimal(rule.get("amount", 0))
        return {"downstream": amount, "upstream": -amount}.get(rule["payer"], Decimal(0))

    rules = agreement.params["rules"]
    ladder = sorted((WaterClass.parse(cls), cls) for cls in rules)
    found = []
    for (_, better), (_, worse) in pairwise(ladder):
        if upstream_gets(rules[better]) < upstream_gets(rules[worse]):
            found.append((("rules", better), f"class {better} (cleaner) gives the upstream "
                          f"party {upstream_gets(rules[better])} {unit}, less than class "
                          f"{worse} gives it ({upstream_gets(rules[worse])} {unit}): cleaner "
                          "water would be paid less; check the two amounts and payers"))
    return found


def _beneficiary(agreement: Agreement, _section: str) -> str:
    return agreement.party_for("upstream")


def _lookback(agreement: Agreement) -> int:
    return 1 if "improvement" in agreement.params else 0


@register_formula("class_ladder", roles=_ROLES, params_schema="params.class_ladder",
                  check=_check, advise=_advise, beneficiary=_beneficiary, lookback=_lookback)
def class_ladder(
    agreement: Agreement, assessments: Assessments, period: Period
) -> list[Obligation]:
    """One obligation per month in force and section: the class rule (or improvement) applied.

    Component ``class:<section>``. A Ⅱ month under 澧水 rules is a zero obligation (互不补偿).

    >>> from ecocomp.agreements import preset
    >>> (jan,) = class_ladder(preset("lishui-zjj-cd-2020"), Assessments(), Period(2021, 1))
    >>> jan.basis["missing_policy"]
    'skip'
    """
    params: Mapping[str, Any] = agreement.params
    factors = factors_of(agreement)
    policy = params["missing_month"]
    unit = _unit_text(agreement)
    result = []
    for month in agreement.months_in_force(period):
        for section in agreement.sections:
            sa = assessments.get(section, month)
            cls = sa.class_for(factors) if sa is not None else None
            basis: dict[str, Any] = {
                "formula": "class_ladder", "section": section, "month": month,
                "factors": params["factors"], "unit": agreement.unit,
            }  # fmt: skip
            if sa is not None:
                basis.update(evidence(sa, factors))
            if cls is None:
                if policy == "error":
                    raise FormulaError(
                        f"agreement {agreement.id}: section {section} has no assessed factor in "
                        f"{month}; import its readings or set params.missing_month to skip, "
                        "upstream_pays or downstream_pays"
                    )
                basis["class"] = None
                basis["missing_policy"] = policy
                if policy == "skip":
                    payer_role, amount = "none", Decimal(0)
                    basis["rule"] = "no data: skipped (missing_month = skip)"
                else:
                    payer_role, amount = policy.removesuffix("_pays"), _missing_amount(agreement)
                    basis["rule"] = f"no data: {payer_role} pays (missing_month = {policy})"
                basis["rules"] = [basis["rule"]]
            else:
                rule = params["rules"][cls.code]
                payer_role, amount = rule["payer"], Decimal(rule.get("amount", 0))
                basis["class"] = cls
                basis["rule"] = f"class {cls.code}: {payer_role} pays"
                class_rule = (f"class {cls.code}: none pays (互不补偿)" if payer_role == "none"
                              else f"class {cls.code}: {payer_role} pays {amount} {unit}")
                basis["rules"] = [class_rule]
                improvement = _improvement(agreement, assessments, section, month, cls, factors)
                if improvement is not None:
                    basis["improvement"] = improvement
                    if improvement["applied"]:
                        imp = params["improvement"]
                        payer_role, amount = imp["payer"], imp["amount"]
                        basis["class_rule"] = {"payer_role": rule["payer"],
                                               "amount_in_unit": Decimal(rule.get("amount", 0)),
                                               "text": class_rule}
                        basis["rule"] = (f"improved on {improvement['basis_period']} "
                                         f"({improvement['basis_class'].code} → {cls.code}): "
                                         f"{payer_role} pays, overriding {class_rule}")
                        basis["rules"].append(
                            f"improvement on {improvement['basis_period']} "
                            f"({improvement['basis_class'].code} → {cls.code}): {payer_role} "
                            f"pays {amount} {unit} — applied, overrides the class rule")
                    elif improvement["basis_class"] is None:
                        basis["rules"].append(f"improvement: {improvement['reason']}")
                    else:
                        basis["rules"].append(
                            f"improvement: not applied ({cls.code} is not better than "
                            f"{improvement['basis_class'].code} in "
                            f"{improvement['basis_period']})")
            if payer_role == "none":
                amount = Decimal(0)
            payer, payee = pay_by_role(agreement, payer_role, _ROLES)
            yuan = agreement.to_yuan(amount)
            basis.update({"payer_role": payer_role, "amount_in_unit": amount,
                          "amount_yuan": yuan})
            shown = cls.roman if cls is not None else "no data"
            if yuan:
                outcome = f"{payer} pays {payee} {amount} {unit}"
            elif cls is None:
                outcome = f"no payment — {basis['rule']}"
            elif payer_role == "none":
                outcome = f"no payment (互不补偿) — {basis['rule']}"
            else:
                outcome = f"no payment — {basis['rule']} 0 {unit}"
            if "class_rule" in basis:  # the improvement rule overrode the class rule
                outcome += (f" — improvement rule applied instead of the class rule "
                            f"({basis['class_rule']['text']})")
            basis["explanation"] = f"{month} {section} {shown}: {outcome}"
            result.append(Obligation(agreement.id, month, f"class:{section}", payer, payee,
                                     yuan, basis))
    return result
