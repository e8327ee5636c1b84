"""``fund_split``: a 赤水河-style pooled fund, expressed as payer → payee obligations.

Per settlement year: the fund is paid in by contribution ratios and paid out by allocation
ratios, each split exact to the fen by largest remainder. Every deduction rule whose section
misses the target class on its ANNUAL assessment moves ``portion`` of the failing party's
(initial) allocation to the rule's ``to`` parties, split by their shares (exact again).

A pooled fund has no single payer, so the obligations carry each party's net
(allocation − contribution): net payers pay net receivers, matched greedily in party-code
order (exact; at most parties − 1 obligations, component ``fund:<payer>-><payee>``). Every
obligation's basis holds the whole computation: contributions, allocations, deductions and
nets, so Σ contributions = Σ allocations = fund can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ecocomp.agreements import Agreement
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError
from ecocomp.formulas.registry import register_formula
from ecocomp.formulas.shared import class_problems, factor_problems, factors_of
from ecocomp.money import split_largest_remainder, to_yuan
from ecocomp.obligations import Obligation, settle_nets
from ecocomp.periods import Period
from ecocomp.standards import WaterClass

__all__ = ["fund_shares", "fund_split"]


def _split(
    total: Decimal, ratios: Mapping[str, Decimal], order: tuple[str, ...]
) -> dict[str, Decimal]:
    weights = [(p, ratios[p]) for p in order if p in ratios]
    if total == 0 or sum(w for _, w in weights) == 0:
        return {p: Decimal("0.00") for p, _ in weights}
    return split_largest_remainder(total, weights)


def fund_shares(
    agreement: Agreement, assessments: Assessments, year: int
) -> dict[str, Any]:
    """The year's contributions, allocations after deductions, and nets, with the evidence.

    >>> from ecocomp.agreements import preset
    >>> shares = fund_shares(preset("chishui-2018"), Assessments(), 2018)
    >>> shares["contributions"]["520000"], shares["allocations"]["520000"]
    (Decimal('100000000.00'), Decimal('80000000.00'))
    """
    params = agreement.params
    order = agreement.party_codes
    fund = agreement.to_yuan(params["fund"])
    contributions = _split(fund, params["contribution"], order)
    initial = _split(fund, params["allocation"], order)
    allocations = {p: initial.get(p, Decimal("0.00")) for p in order}
    target = WaterClass.parse(params["target"])
    factors = factors_of(agreement)
    period = Period(year)
    deductions = []
    for i, rule in enumerate(params["deductions"]):
        section = rule["section"]
        sa = assessments.get(section, period)
        cls = sa.class_for(factors) if sa is not None else None
        entry: dict[str, Any] = {"rule": i, "section": section, "from": rule["from"],
                                 "class": cls, "target": target}
        if cls is None:
            policy = params["missing_year"]
            if policy == "error":
                raise FormulaError(
                    f"agreement {agreement.id}: section {section} has no annual class in "
                    f"{year}; import readings or set params.missing_year to skip or fail"
                )
            entry["missing_policy"] = policy
            failed = policy == "fail"
        else:
            failed = cls > target
        entry["met"] = not failed
        if failed:
            wanted = to_yuan(initial.get(rule["from"], Decimal(0)) * rule["portion"])
            moved = min(wanted, allocations[rule["from"]])
            allocations[rule["from"]] -= moved
            parts = _split(moved, rule["to"], order)
            for party, part in parts.items():
                allocations[party] += part
            entry.update({"portion": rule["portion"], "moved": moved, "to": parts})
        deductions.append(entry)
    nets = {p: allocations[p] - contributions.get(p, Decimal("0.00")) for p in order}
    return {"fund": fund, "contributions": contributions, "initial_allocations": initial,
            "deductions": deductions, "allocations": allocations, "nets": nets}


def _check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    parties = set(agreement.party_codes)
    found = factor_problems(agreement) + class_problems(agreement, ("target",))
    for key in ("contribution", "allocation"):
        for code in params[key]:
            if code not in parties:
                found.append(((key, code), f"unknown party {code}; it is not in parties"))
        if sum(params[key].values(), Decimal(0)) == 0:
            found.append(((key,), "ratios sum to zero; give at least one party a share"))
    for i, rule in enumerate(params["deductions"]):
        if rule["section"] not in agreement.sections:
            found.append((("deductions", i, "section"), f"section {rule['section']!r} is not in "
                          "the agreement's sections; add it to sections"))
        if rule["from"] not in parties:
            found.append((("deductions", i, "from"), f"unknown party {rule['from']}; it is not "
                          "in parties"))
        for code in rule["to"]:
            if code not in parties or code == rule["from"]:
                found.append((("deductions", i, "to", code), f"party {code} cannot receive this "
                              "deduction (unknown, or the failing party itself)"))
        if rule["portion"] > 1:
            found.append((("deductions", i, "portion"), f"portion {rule['portion']} is above 1; "
                          "use a fraction of the allocation (0 < portion ≤ 1)"))
    return found


def _beneficiary(agreement: Agreement, section: str) -> str | None:
    losers = {r["from"] for r in agreement.params["deductions"] if r["section"] == section}
    return next(iter(losers)) if len(losers) == 1 else None


@register_formula("fund_split", roles=("parties",), params_schema="params.fund_split",
                  check=_check, beneficiary=_beneficiary, annual=True)
def fund_split(agreement: Agreement, assessments: Assessments, period: Period) -> list[Obligation]:
    """The year's net transfers between the fund's parties; a month period gives none.

    >>> from ecocomp.agreements import preset
    >>> obs = fund_split(preset("chishui-2018"), Assessments(), Period(2018))
    >>> [(o.payer, o.payee, o.amount) for o in obs]
    [('510000', '530000', Decimal('20000000.00')), ('520000', '530000', Decimal('20000000.00'))]
    """
    if period.is_month or not agreement.in_force(period):
        return []
    shares = fund_shares(agreement, assessments, period.year)
    basis = {"formula": "fund_split", "year": period.year, "unit": agreement.unit,
             "target": agreement.params["target"], **shares,
             "rule": "net = allocation − contribution; net payers pay net receivers"}
    transfers = settle_nets(shares["nets"])
    if not transfers:
        first, second = agreement.party_codes[:2]
        basis["explanation"] = f"{period.year}: every party's allocation equals its contribution"
        return [Obligation(agreement.id, period, "fund", first, second, Decimal("0.00"), basis)]
    result = []
    for payer, payee, amount in transfers:
        explained = {**basis, "transfer": {"payer": payer, "payee": payee, "amount": amount},
                     "explanation": f"{period.year}: {payer} pays {payee} {amount} of its net "
                                    "(allocation − contribution)"}
        result.append(Obligation(agreement.id, period, f"fund:{payer}->{payee}", payer, payee,
                                 amount, explained))
    return result
