"""The 湘江 2014 奖罚 scheme's three components (《湖南省湘江流域生态补偿(水质水量奖罚)暂行办法》).

- ``target_reward_penalty`` (水质目标奖罚): a party's exit sections per month — all Ⅰ → reward.I,
  all ≤ Ⅱ → reward.II (50万 [C]), worst Ⅲ neutral, worse → penalty
  ``base + step × ceil(m / step_size)`` with m the largest 超标倍数 (step_size 0.2 [P]).
- ``class_change`` (水质动态奖罚): exit sections vs entry sections, per class better or worse;
  each side's class is the class of its averaged concentrations (``combine =
  "mean_concentration"``, the 湘江 presets) or a combination of its sections' classes.
- ``min_flow`` (最小流量限制): days below the ecological flow target.

Rewards are paid by the counterparty (the provincial fund, 430000) to the party; penalties
by the party to the counterparty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from ecocomp.agreements import Agreement
from ecocomp.assessment import Assessments, SectionAssessment
from ecocomp.errors import FormulaError
from ecocomp.formulas.registry import register_formula
from ecocomp.formulas.shared import (
    class_problems,
    evidence,
    factor_problems,
    factors_of,
    fraction_text,
    fraction_to_decimal,
)
from ecocomp.money import CONTEXT
from ecocomp.obligations import Obligation
from ecocomp.periods import Period
from ecocomp.standards import WaterClass, classify_item, gb3838

__all__ = ["class_change", "fraction_text", "min_flow", "penalty_steps", "target_reward_penalty"]

_ROLES = ("party", "counterparty")


def penalty_steps(multiple: Decimal, step_size: Decimal) -> int:
    """``ceil(multiple / step_size)``, exactly (E5: 0.8 → 4 steps, 1.5 → 8 steps at 0.2).

    >>> penalty_steps(Decimal("0.8"), Decimal("0.2")), penalty_steps(Decimal("1.5"), Decimal("0.2"))
    (4, 8)
    """
    return math.ceil(Fraction(multiple) / Fraction(step_size))


def _obligation(
    agreement: Agreement, month: Period, component: str, reward: bool, amount: Decimal,
    basis: dict[str, Any],
) -> Obligation:
    party, counterparty = agreement.party_for("party"), agreement.party_for("counterparty")
    payer, payee = (counterparty, party) if reward else (party, counterparty)
    yuan = agreement.to_yuan(amount)
    basis.update({"direction": "reward" if reward else "penalty", "amount_in_unit": amount,
                  "unit": agreement.unit, "amount_yuan": yuan})
    return Obligation(agreement.id, month, component, payer, payee, yuan, basis)


def _party_beneficiary(agreement: Agreement, _section: str) -> str:
    return agreement.party_for("party")


# --------------------------------------------------------------------------- target


def _target_check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    found = factor_problems(agreement) + class_problems(agreement,
                                                        ("penalty", "reference_class"))
    penalty = agreement.params["penalty"]
    cap = penalty.get("cap")
    if cap is not None and cap < penalty["base"]:
        found.append((("penalty", "cap"), f"cap {cap} is below base {penalty['base']}, the "
                      "least penalty of a month worse than Ⅲ, so every such month would pay "
                      "the cap and base + step × steps never; check the two amounts (both in "
                      "the agreement's unit), or remove cap"))
    return found


def _target_cap(agreement: Agreement, ob: Obligation) -> Decimal | None:
    cap = agreement.params["penalty"].get("cap")
    if cap is None or ob.basis.get("direction") != "penalty":
        return None
    return agreement.to_yuan(cap)


@register_formula("target_reward_penalty", roles=_ROLES,
                  params_schema="params.target_reward_penalty", check=_target_check,
                  beneficiary=_party_beneficiary, cap=_target_cap)
def target_reward_penalty(
    agreement: Agreement, assessments: Assessments, period: Period
) -> list[Obligation]:
    """水质目标奖罚 per month (component ``target``) over the party's exit sections.

    >>> from ecocomp.agreements import preset
    >>> a = preset("xiangjiang-2014-yongzhou-target")
    >>> target_reward_penalty(a, Assessments(), Period(2014, 3))[0].basis["rule"]
    'no data for guiyangzhen: skipped (missing_month = skip)'
    """
    params: Mapping[str, Any] = agreement.params
    factors = factors_of(agreement)
    penalty = params["penalty"]
    reference = WaterClass.parse(penalty["reference_class"])
    result = []
    for month in agreement.months_in_force(period):
        sections: dict[str, Any] = {}
        classes: dict[str, WaterClass] = {}
        missing = []
        for section in agreement.sections:
            sa = assessments.get(section, month)
            cls = sa.class_for(factors) if sa is not None else None
            if sa is not None:
                sections[section] = {**evidence(sa, factors), "class": cls}
            if cls is None:
                missing.append(section)
            else:
                classes[section] = cls
        basis: dict[str, Any] = {"formula": "target_reward_penalty", "month": month,
                                 "factors": params["factors"], "sections": sections}
        if missing:
            if params["missing_month"] == "error":
                raise FormulaError(
                    f"agreement {agreement.id}: exit section(s) {', '.join(missing)} have no "
                    f"assessed factor in {month}; import readings or set "
                    "params.missing_month = \"skip\""
                )
            basis.update({"missing_sections": missing, "missing_policy": "skip",
                          "rule": f"no data for {', '.join(missing)}: skipped "
                                  "(missing_month = skip)"})
            result.append(_obligation(agreement, month, "target", True, Decimal(0), basis))
            continue
        worst = max(classes.values())
        basis["worst_class"] = worst
        if worst <= WaterClass.II:
            key = worst.code
            amount = params["reward"][key]
            basis["rule"] = f"all exit sections at {worst.roman} or better: reward.{key}"
            basis["explanation"] = f"{month}: all exit sections ≤ {worst.roman}, reward {amount}"
            result.append(_obligation(agreement, month, "target", True, amount, basis))
        elif worst == WaterClass.III:
            basis["rule"] = "worst exit section at Ⅲ: neither reward nor penalty"
            basis["explanation"] = f"{month}: worst exit section Ⅲ, no reward, no penalty"
            result.append(_obligation(agreement, month, "target", False, Decimal(0), basis))
        else:
            multiple, item, where = Decimal(0), None, None
            for section in agreement.sections:
                sa = assessments.get(section, month)
                assert sa is not None
                m, code = sa.max_multiple(factors, reference)
                if code is not None and m > multiple:
                    multiple, item, where = m, code, section
            steps = penalty_steps(multiple, penalty["step_size"])
            uncapped = penalty["base"] + penalty["step"] * steps
            cap = penalty.get("cap")
            amount = min(uncapped, cap) if cap is not None else uncapped
            basis.update({
                "rule": "worse than Ⅲ: penalty = base + step × ceil(multiple / step_size)",
                "reference_class": reference, "max_multiple": multiple, "max_item": item,
                "max_section": where, "step_size": penalty["step_size"], "steps": steps,
                "base": penalty["base"], "step": penalty["step"], "uncapped": uncapped,
                "cap": cap, "capped": cap is not None and uncapped > cap,
                "explanation": f"{month}: worst exit section {worst.roman}, multiple {multiple} "
                               f"({item} at {where}) → {steps} steps, penalty {amount}"
                               + (f" (capped: penalty.cap {cap}; uncapped {uncapped})"
                                  if cap is not None and uncapped > cap else ""),
            })  # fmt: skip
            result.append(_obligation(agreement, month, "target", False, amount, basis))
    return result


# --------------------------------------------------------------------------- class change


def _combine(classes: list[WaterClass], how: str) -> Fraction:
    if how == "worst":
        return Fraction(max(classes))
    if how == "best":
        return Fraction(min(classes))
    return Fraction(sum(int(c) for c in classes), len(classes))


def _mean_concentration_class(
    agreement: Agreement, side: str, assessed: list[SectionAssessment], factors: tuple[str, ...],
) -> tuple[WaterClass, dict[str, dict[str, str]]]:
    """The class of a side's averaged concentrations, and each factor's mean and class.

    Each factor's value is averaged over the side's sections that have it (exactly, as a
    fraction), then classed; the side's class is the worst factor class (single-factor
    method, as for a river of fewer than 5 sections, docs/assessment.md). pH is not a
    concentration and its class is a range test, so a side's pH class is the worst of its
    sections' pH classes [I] (an averaged pH could fall into the range when every section is
    out of it, and would not be monotonic in water quality).
    """
    waterbodies = {sa.waterbody for sa in assessed}
    if len(waterbodies) > 1:
        listed = ", ".join(f"{sa.section} ({sa.waterbody})" for sa in assessed)
        raise FormulaError(
            f"agreement {agreement.id}: the {side} sections mix rivers and lakes ({listed}); "
            "concentrations are averaged within one kind of water only; set "
            "params.combine = \"mean\" or list sections of one kind"
        )
    waterbody = waterbodies.pop()
    worst: WaterClass | None = None
    means: dict[str, dict[str, str]] = {}
    for code in factors:
        items = [sa.items[code] for sa in assessed if code in sa.items]
        classed = [item for item in items if item.cls is not None]
        if not classed:
            continue
        if gb3838().parameter(code).direction == "range":
            cls = max(item.cls for item in classed if item.cls is not None)
            means[code] = {"class": cls.code, "rule": "worst section (pH is not averaged)"}
        else:
            # the sections' exact means: 1/3 and 5/3 average to 1.0 (a limit), their
            # 50-digit roundings to a hair above it
            mean = sum((item.exact_value for item in classed), Fraction(0)) / len(classed)
            # A terminating mean of a few sections' means is exact at 80 digits; one that
            # does not terminate equals no limit (limits have at most 5 decimals).
            with localcontext(CONTEXT) as ctx:
                ctx.prec = 80
                value = Decimal(mean.numerator) / Decimal(mean.denominator)
            cls = classify_item(code, value, waterbody)
            assert cls is not None
            # one section's mean is shown as its assessment shows it (50 digits when it does
            # not terminate); a mean over sections exactly (e.g. 151/300)
            shown = Fraction(classed[0].value) if len(classed) == 1 else mean
            means[code] = {"mean": fraction_text(shown), "class": cls.code,
                           "sections": str(len(classed))}
        worst = cls if worst is None else max(worst, cls)
    assert worst is not None  # every assessed section has a classed factor
    return worst, means


def _round_half_up(value: Fraction) -> Fraction:
    return Fraction(math.floor(value + Fraction(1, 2)))


def _change_check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    found = factor_problems(agreement)
    params = agreement.params
    for key in ("entry_sections", "exit_sections"):
        for i, code in enumerate(params[key]):
            if code not in agreement.sections:
                found.append(((key, i), f"section {code!r} is not in the agreement's sections; "
                              "add it to sections"))
    both = set(params["entry_sections"]) & set(params["exit_sections"])
    if both:
        found.append((("exit_sections",), f"{', '.join(sorted(both))} listed as both entry and "
                      "exit section; list each once"))
    return found


def _change_beneficiary(agreement: Agreement, section: str) -> str | None:
    if section in agreement.params["exit_sections"]:
        return agreement.party_for("party")
    if section in agreement.params["entry_sections"]:
        return agreement.party_for("counterparty")
    return None


@register_formula("class_change", roles=_ROLES, params_schema="params.class_change",
                  check=_change_check, beneficiary=_change_beneficiary)
def class_change(
    agreement: Agreement, assessments: Assessments, period: Period
) -> list[Obligation]:
    """水质动态奖罚 per month (component ``change``): combined exit class vs combined entry class.

    ``diff = entry − exit`` in class numbers (positive: the water left better than it came);
    the amount is ``|diff| × reward_per_class`` (or ``penalty_per_class``), computed exactly and
    rounded to the fen only at the end. With ``combine = "mean_concentration"`` each side's
    class is the class of its factors' concentrations averaged over its sections, so the
    difference is a whole number of classes. With ``combine = "mean"`` the class numbers are
    averaged instead, as exact fractions (e.g. 7/3); ``round_classes = true`` rounds each such
    mean half-up to a whole class.

    >>> from ecocomp.agreements import preset
    >>> len(class_change(preset("xiangjiang-2014-zhuzhou-change"), Assessments(), Period(2014)))
    12
    """
    params: Mapping[str, Any] = agreement.params
    factors = factors_of(agreement)
    policy = params["missing_month"]
    result = []
    for month in agreement.months_in_force(period):
        side_classes: dict[str, dict[str, WaterClass]] = {"entry": {}, "exit": {}}
        side_assessed: dict[str, list[SectionAssessment]] = {"entry": [], "exit": []}
        missing: list[str] = []
        for side in ("entry", "exit"):
            for section in params[f"{side}_sections"]:
                sa = assessments.get(section, month)
                cls = sa.class_for(factors) if sa is not None else None
                if cls is None:
                    missing.append(section)
                else:
                    side_classes[side][section] = cls
                    assert sa is not None
                    side_assessed[side].append(sa)
        basis: dict[str, Any] = {
            "formula": "class_change", "month": month, "factors": params["factors"],
            "combine": params["combine"], "round_classes": params["round_classes"],
            "entry_classes": side_classes["entry"], "exit_classes": side_classes["exit"],
        }  # fmt: skip
        if missing:
            basis.update({"missing_sections": missing, "missing_policy": policy})
            if policy == "error":
                raise FormulaError(
                    f"agreement {agreement.id}: section(s) {', '.join(missing)} have no "
                    f"assessed factor in {month}; import readings or set "
                    "params.missing_month to skip or available"
                )
            if policy == "skip" or not side_classes["entry"] or not side_classes["exit"]:
                basis["rule"] = f"no data for {', '.join(missing)}: skipped"
                result.append(_obligation(agreement, month, "change", True, Decimal(0), basis))
                continue
        if params["combine"] == "mean_concentration":
            entry_cls, entry_means = _mean_concentration_class(
                agreement, "entry", side_assessed["entry"], factors)
            exit_cls, exit_means = _mean_concentration_class(
                agreement, "exit", side_assessed["exit"], factors)
            entry, exit_ = Fraction(entry_cls), Fraction(exit_cls)
            basis.update({"entry_means": entry_means, "exit_means": exit_means})
        else:
            entry = _combine(list(side_classes["entry"].values()), params["combine"])
            exit_ = _combine(list(side_classes["exit"].values()), params["combine"])
        if params["round_classes"]:
            entry, exit_ = _round_half_up(entry), _round_half_up(exit_)
        diff = entry - exit_
        reward = diff > 0
        per_class = params["reward_per_class"] if reward else params["penalty_per_class"]
        exact = abs(diff) * Fraction(per_class)
        amount = fraction_to_decimal(exact)
        basis.update({
            "entry_combined": fraction_text(entry), "exit_combined": fraction_text(exit_),
            "classes_better": fraction_text(diff), "per_class": per_class,
            "amount_exact": fraction_text(exact),
            "rule": ("exit better than entry: reward" if reward else
                     "exit worse than entry: penalty" if diff < 0 else "no change"),
            "explanation": f"{month}: entry {fraction_text(entry)} vs exit "
                           f"{fraction_text(exit_)} → {fraction_text(diff)} class(es) better",
        })  # fmt: skip
        result.append(_obligation(agreement, month, "change", reward, amount, basis))
    return result


# --------------------------------------------------------------------------- minimum flow


def _flow_check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    found: list[tuple[tuple[str | int, ...], str]] = [
        (("targets", code), f"section {code!r} is not in the agreement's sections; add it "
         "to sections") for code in params["targets"] if code not in agreement.sections]
    cap, per_day = params.get("cap_per_month"), params["penalty_per_day"]
    if cap is not None and cap < per_day:
        found.append((("cap_per_month",), f"cap_per_month {cap} is below penalty_per_day "
                      f"{per_day}, so a month with one day below target would pay the cap, "
                      "and the days would never count; check the two amounts (both in the "
                      "agreement's unit), or remove cap_per_month"))
    return found


def _flow_cap(agreement: Agreement, _ob: Obligation) -> Decimal | None:
    cap = agreement.params.get("cap_per_month")
    return None if cap is None else agreement.to_yuan(cap)


def _days(agreement: Agreement, month: Period) -> list[date]:
    first, last = max(month.start, agreement.start), min(month.end, agreement.end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@register_formula("min_flow", roles=_ROLES, params_schema="params.min_flow", check=_flow_check,
                  beneficiary=_party_beneficiary, cap=_flow_cap, prorated=True)
def min_flow(agreement: Agreement, assessments: Assessments, period: Period) -> list[Obligation]:
    """最小流量限制 per month and target section (component ``flow:<section>``).

    Each day in force whose daily mean flow is below the section's target costs
    ``penalty_per_day``; ``cap_per_month`` bounds each section-month. Days without a flow
    follow ``missing_day``: ``skip`` (not counted), ``penalise`` (counted) or ``error``.

    >>> from ecocomp.agreements import preset
    >>> (feb,) = min_flow(preset("xiangjiang-2014-yongzhou-flow"), Assessments(), Period(2014, 2))
    >>> feb.basis["missing_days"]
    28
    """
    params: Mapping[str, Any] = agreement.params
    policy = params["missing_day"]
    cap = params.get("cap_per_month")
    result = []
    for month in agreement.months_in_force(period):
        for section in agreement.sections:
            if section not in params["targets"]:
                continue
            target = params["targets"][section]
            flows = assessments.flows(section, month)
            days = _days(agreement, month)
            below = [{"date": d, "flow": flows[d]}
                     for d in days if d in flows and flows[d] < target]
            absent = [d for d in days if d not in flows]
            if absent and policy == "error":
                raise FormulaError(
                    f"agreement {agreement.id}: section {section} has no daily flow on "
                    f"{len(absent)} day(s) of {month} (first {absent[0]}); import flows or set "
                    "params.missing_day to skip or penalise"
                )
            counted = len(below) + (len(absent) if policy == "penalise" else 0)
            uncapped = params["penalty_per_day"] * counted
            amount = min(uncapped, cap) if cap is not None else uncapped
            basis = {
                "formula": "min_flow", "month": month, "section": section, "target": target,
                "days_in_force": len(days), "days_with_flow": len(days) - len(absent),
                "days_below": below, "missing_days": len(absent),
                "missing_dates": absent, "missing_policy": policy, "days_counted": counted,
                "penalty_per_day": params["penalty_per_day"], "uncapped": uncapped,
                "cap": cap, "capped": cap is not None and uncapped > cap,
                "rule": "days below target × penalty_per_day (capped per month)",
                "explanation": f"{month} {section}: {counted} day(s) counted below {target} m³/s"
                               + (f", penalty {amount} (capped: cap_per_month {cap}; uncapped "
                                  f"{uncapped})" if cap is not None and uncapped > cap else ""),
            }  # fmt: skip
            result.append(_obligation(agreement, month, f"flow:{section}", False, amount, basis))
    return result

