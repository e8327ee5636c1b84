"""``area_rate``: payments per unit of area and year (南山国家公园 easements, 公益林).

Roles: ``payer`` (the 管理局 or the province) and ``parties`` (village collectives,
households, counties). For each party and year: the sum over the categories of
``area × rate`` (in the agreement's unit per mu or hectare and year), prorated by days when the
party is in the scheme for part of the year (``days in force / days of the year``, an exact
fraction). The amount for days ``a``–``b`` of a year is what the year's amount has accrued
by the end of day ``b`` minus what it had accrued by the end of day ``a − 1``, each rounded
half-up to the fen: a part-year from 1 January or to 31 December is the exact fraction
rounded once, and the parts of a year split between terms or agreements add up to exactly the
full year's amount, never a fen more. An optional ``fund_cap``
bounds what the fund pays over the agreement's term (or per year); a year that would exceed
it pays what is left, split over the parties by largest remainder. Lines given in kind
(``in_kind``: ranger posts, relocation help) are recorded with amount 0 and their
description (生态保护补偿条例 Art. 2). The formula reads no measurements (``inputs="none"``).
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ecocomp.agreements import Agreement
from ecocomp.formulas.registry import register_formula
from ecocomp.formulas.shared import fraction_text
from ecocomp.money import WAN, from_fen, in_money_context, split_largest_remainder
from ecocomp.obligations import Obligation
from ecocomp.periods import Period

__all__ = ["accrued_fen", "area_amounts", "area_rate", "fund_paid_before", "prorated_fen"]

_ROLES = ("payer", "parties")
_ZERO = Decimal("0.00")


def accrued_fen(full_year: Fraction, day: int, year_days: int) -> int:
    """What ``full_year`` yuan a year has accrued by the end of day ``day`` (1 = 1 January),
    in fen: ``full_year × day / year_days`` exactly, rounded half-up once.

    >>> accrued_fen(Fraction(570000), 181, 365)  # 282,657.534… yuan by 30 June
    28265753
    """
    return math.floor(full_year * 100 * Fraction(day, year_days) + Fraction(1, 2))


def prorated_fen(full_year: Fraction, first: int, last: int, year_days: int) -> int:
    """The part of ``full_year`` yuan for days ``first``–``last`` of a year, in fen: accrued by
    day ``last`` minus accrued by day ``first − 1`` (P1: 2026-07-01 to 12-31 = 287,342.47).

    >>> prorated_fen(Fraction(570000), 182, 365, 365)
    28734247
    """
    return (accrued_fen(full_year, last, year_days)
            - accrued_fen(full_year, first - 1, year_days))


def _day(text: str | None, default: date) -> date:
    return date.fromisoformat(text) if text else default


def _days(agreement: Agreement, party: str, year: int) -> tuple[date, date] | None:
    """The first and last day ``party`` is in the scheme in ``year`` (None: not at all)."""
    term = agreement.params.get("terms", {}).get(party, {})
    first = max(agreement.start, _day(term.get("from"), agreement.start), date(year, 1, 1))
    last = min(agreement.end, _day(term.get("to"), agreement.end), date(year, 12, 31))
    return (first, last) if first <= last else None


def _payees(agreement: Agreement) -> list[str]:
    return [code for role, code in agreement.parties.items() if role != "payer"]


@in_money_context
def area_amounts(agreement: Agreement, year: int) -> dict[str, dict[str, Any]]:
    """Per party in the scheme in ``year``: its lines, days and amount before any cap.

    ``amount`` is in yuan, rounded to the fen once; ``full_year`` is the amount of a whole
    year in the agreement's unit.
    """
    params = agreement.params
    scale = WAN if agreement.unit == "wan" else Decimal(1)
    year_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    found: dict[str, dict[str, Any]] = {}
    for party in _payees(agreement):
        span = _days(agreement, party, year)
        if span is None:
            continue
        lines = []
        full = Decimal(0)
        for code, category in params["categories"].items():
            area = category["area_by_party"].get(party)
            if area is None:
                continue
            subtotal = area * category["rate"]
            full += subtotal
            lines.append({"category": code, "name": category.get("name", code),
                          "area": area, "area_unit": category["area_unit"],
                          "rate": category["rate"], "full_year": subtotal})
        if not lines:
            continue  # a party given only in kind
        days = (span[1] - span[0]).days + 1
        first = (span[0] - date(year, 1, 1)).days + 1
        if params["proration"] == "days":
            fen = prorated_fen(Fraction(full * scale), first, first + days - 1, year_days)
        else:
            fen = accrued_fen(Fraction(full * scale), 1, 1)
        found[party] = {"lines": lines, "full_year": full, "from": span[0], "to": span[1],
                        "days": days, "year_days": year_days, "amount": from_fen(fen)}
    return found


def _capped(agreement: Agreement, amounts: dict[str, Decimal], paid_before: Decimal
            ) -> tuple[dict[str, Decimal], Decimal | None]:
    """The amounts within the fund cap, and what was left of the cap (None: no cap)."""
    cap = agreement.params.get("fund_cap")
    if cap is None:
        return amounts, None
    left = max(agreement.to_yuan(cap) - paid_before, _ZERO)
    total = sum(amounts.values(), _ZERO)
    if total <= left:
        return amounts, left
    weights = [(p, a) for p, a in amounts.items() if a > 0]
    if left == 0 or not weights:
        return {p: _ZERO for p in amounts}, left
    shares = split_largest_remainder(left, weights)
    return {p: shares.get(p, _ZERO) for p in amounts}, left


@in_money_context
def fund_paid_before(agreement: Agreement, year: int) -> Decimal:
    """What the fund paid in the agreement's years before ``year`` (each within the cap);
    zero when the cap bounds each year on its own."""
    if agreement.params.get("fund_cap") is None or agreement.params["fund_cap_scope"] == "year":
        return _ZERO
    paid = _ZERO
    for earlier in range(agreement.start.year, year):
        amounts = {p: v["amount"] for p, v in area_amounts(agreement, earlier).items()}
        capped, _left = _capped(agreement, amounts, paid)
        paid += sum(capped.values(), _ZERO)
    return paid


def _check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    payees = set(_payees(agreement))
    payer = agreement.parties.get("payer")
    found: list[tuple[tuple[str | int, ...], str]] = []

    def party_problem(path: tuple[str | int, ...], code: str) -> None:
        if code == payer:
            found.append((path, f"{code} is the payer; the payer pays the parties and has no "
                                "area of its own"))
        elif code not in payees:
            found.append((path, f"unknown party {code}; it is not in parties (add it there "
                                "or fix the code)"))

    for name, category in params["categories"].items():
        for code in category["area_by_party"]:
            party_problem(("categories", name, "area_by_party", code), code)
    for code, term in params["terms"].items():
        party_problem(("terms", code), code)
        first, last = term.get("from"), term.get("to")
        if first and last and last < first:
            found.append((("terms", code, "to"), f"to {last} is before from {first}; swap or "
                                                 "fix them"))
        elif first and _day(str(first), agreement.start) > agreement.end:
            found.append((("terms", code, "from"), f"from {first} is after the agreement's end "
                          f"{agreement.end}: {code} would never be in the scheme (never paid); "
                          "fix the date or the agreement's end"))
        elif last and _day(str(last), agreement.end) < agreement.start:
            found.append((("terms", code, "to"), f"to {last} is before the agreement's start "
                          f"{agreement.start}: {code} would never be in the scheme (never "
                          "paid); fix the date or the agreement's start"))
    for i, line in enumerate(params["in_kind"]):
        party_problem(("in_kind", i, "party"), line["party"])
    with_area = {c for cat in params["categories"].values() for c in cat["area_by_party"]}
    with_kind = {line["party"] for line in params["in_kind"]}
    for code in sorted(payees - with_area - with_kind):
        found.append((("categories",), f"party {code} has no area in any category and no "
                                       "in-kind line; give it an area or remove it from parties"))
    return found


def _cap(agreement: Agreement, ob: Obligation) -> Decimal | None:
    cap = agreement.params.get("fund_cap")
    return None if cap is None else agreement.to_yuan(cap)


def _explain(party: str, share: dict[str, Any], amount: Decimal, unit: str) -> str:
    parts = " + ".join(f"{line['area']} {line['area_unit']} × {line['rate']}"
                       for line in share["lines"]) or "no area"
    text = f"{party}: ({parts}) {unit}/yr = {share['full_year']} {unit} for a full year"
    if share["days"] != share["year_days"]:
        text += (f", × {share['days']}/{share['year_days']} days in the scheme "
                 f"({share['from']} to {share['to']})")
    return f"{text} = {amount} yuan"


@register_formula("area_rate", roles=_ROLES, params_schema="params.area_rate", check=_check,
                  cap=_cap, inputs="none", prorated=True)
@in_money_context
def area_rate(agreement: Agreement, inputs: object, period: Period) -> list[Obligation]:
    """The year's payment to each party (area × rate, prorated by days, within the fund cap),
    and its in-kind lines at amount 0; a month period gives none.

    >>> from ecocomp.agreement_files import preset
    >>> obs = area_rate(preset("nanshan-area-rate"), None, Period(2026))
    >>> [(o.payee, o.amount) for o in obs if o.component.startswith("area:")][:1]
    [('430529-baiyun-cun', Decimal('287342.47'))]
    """
    if period.is_month or not agreement.in_force(period):
        return []
    year = period.year
    payer = agreement.party_for("payer")
    shares = area_amounts(agreement, year)
    paid_before = fund_paid_before(agreement, year)
    amounts, left = _capped(agreement, {p: s["amount"] for p, s in shares.items()}, paid_before)
    unit = "万元" if agreement.unit == "wan" else "yuan"
    result = []
    for party, share in shares.items():
        amount = amounts[party]
        basis: dict[str, Any] = {
            "formula": "area_rate", "year": year, "unit": agreement.unit,
            "lines": share["lines"], "full_year": share["full_year"],
            "from": share["from"], "to": share["to"], "days": share["days"],
            "year_days": share["year_days"], "proration": agreement.params["proration"],
            "fraction": fraction_text(Fraction(share["days"], share["year_days"])),
            "before_cap": share["amount"],
            "rule": "Σ area × rate per year, × days in the scheme / days of the year (the "
                    "amount accrued by the last day minus that accrued before the first, each "
                    "rounded half-up to the fen)",
        }
        explanation = _explain(party, share, share["amount"], unit)
        if left is not None:
            basis["fund_cap"] = {"cap": agreement.to_yuan(agreement.params["fund_cap"]),
                                 "scope": agreement.params["fund_cap_scope"],
                                 "paid_before": paid_before, "left": left}
            if amount != share["amount"]:
                explanation += (f"; the fund cap leaves {left} yuan for the year, split over "
                                f"the parties by their amounts: {amount} yuan")
        basis["explanation"] = explanation
        result.append(Obligation(agreement.id, period, f"area:{party}", payer, party, amount,
                                 basis))
    for i, line in enumerate(agreement.params["in_kind"]):
        party = line["party"]
        span = _days(agreement, party, year)
        if span is None:
            continue
        result.append(Obligation(
            agreement.id, period, f"in_kind:{party}:{i}", payer, party, _ZERO,
            {"formula": "area_rate", "year": year, "kind": "in_kind",
             "description": line["description"], "from": span[0], "to": span[1],
             "explanation": f"in kind, no money: {line['description']}"},
        ))  # fmt: skip
    return result
