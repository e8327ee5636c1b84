"""What several formula families read in the same way, in one place.

The water families (``ladder``, ``xiangjiang``, ``index``, ``fund``) are peers: none imports
another. What they share lives here: the assessed factors of an agreement and their checks,
water-class params that must parse, the per-item evidence of a section's class, the paying
role, and exact rationals shown and rounded for an obligation's basis.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from ecocomp.agreements import Agreement
from ecocomp.assessment import SectionAssessment
from ecocomp.money import CONTEXT
from ecocomp.standards import ASSESSED_ITEMS, WaterClass, gb3838

__all__ = [
    "class_problems",
    "evidence",
    "factor_problems",
    "factors_of",
    "fraction_text",
    "fraction_to_decimal",
    "pay_by_role",
]


def factors_of(agreement: Agreement) -> tuple[str, ...]:
    """The agreement's assessed factors: ``"standard"`` → the 21 items, else the listed codes."""
    factors = agreement.params.get("factors", "standard")
    return ASSESSED_ITEMS if factors == "standard" else tuple(factors)


def factor_problems(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    """Unknown parameter codes in ``params.factors`` (a check formulas share)."""
    factors = agreement.params.get("factors", "standard")
    if factors == "standard":
        return []
    return [(("factors", i), f"unknown parameter {code!r}; use codes such as nh3n, tp, codmn")
            for i, code in enumerate(factors) if gb3838().resolve(code) != code]


def class_problems(
    agreement: Agreement, *keys: tuple[str, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Water-class params (e.g. ``("penalty", "reference_class")``) that do not parse."""
    found = []
    for path in keys:
        value: Any = agreement.params
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            try:
                WaterClass.parse(value)
            except Exception as exc:
                detail = str(exc) if "no class Ⅵ" in str(exc) else (
                    f"{value!r} is not a water class; use I, II, III, IV, V")
                found.append((path, detail))
    return found


def evidence(sa: SectionAssessment, factors: tuple[str, ...]) -> dict[str, Any]:
    """Per-item means, sample counts and classes of the factors with data, and those missing."""
    items = {
        code: {"value": sa.items[code].value, "samples": sa.items[code].samples,
               "class": sa.items[code].cls}
        for code in factors if code in sa.items
    }  # fmt: skip
    return {"items": items, "missing_items": [c for c in factors if c not in sa.items]}


def pay_by_role(agreement: Agreement, payer_role: str, roles: tuple[str, str]) -> tuple[str, str]:
    """(payer, payee) codes for a payer role; ``none`` gives the second role → first (amount 0)."""
    first, second = roles
    if payer_role == first:
        return agreement.party_for(first), agreement.party_for(second)
    return agreement.party_for(second), agreement.party_for(first)


def fraction_text(value: Fraction) -> str:
    """An exact rational as decimal text when it terminates, else ``"n/d"``.

    >>> fraction_text(Fraction(5, 2)), fraction_text(Fraction(7, 3))
    ('2.5', '7/3')
    """
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 60
        return f"{(Decimal(value.numerator) / Decimal(value.denominator)).normalize():f}"


def fraction_to_decimal(value: Fraction) -> Decimal:
    """A rational as a 40-significant-digit Decimal (exact when it terminates that soon)."""
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 40
        return Decimal(value.numerator) / Decimal(value.denominator)
