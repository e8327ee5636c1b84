"""Money: Decimal yuan in the API, integer fen (分) in storage, exact splits.

Rounding is ROUND_HALF_UP (四舍五入) and happens only where an amount becomes money
(:func:`to_yuan`). Splitting one amount among several parties uses the largest-remainder
method so the parts always sum exactly to the whole.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, TypeVar

__all__ = [
    "CONTEXT",
    "FEN",
    "MAX_YUAN",
    "WAN",
    "as_decimal",
    "format_yuan",
    "from_fen",
    "in_money_context",
    "split_largest_remainder",
    "to_fen",
    "to_yuan",
    "unit_to_yuan",
    "working_context",
]

FEN = Decimal("0.01")
WAN = Decimal(10000)
#: The largest amount ecocomp handles, 1 万亿 yuan: far above any compensation fund (the
#: 新安江 scheme moves about 5 亿 a year), and small enough that the sum of a ledger's amounts
#: in fen stays within SQLite's 64-bit integers for over 90,000 transfers of this size.
MAX_YUAN = Decimal(10) ** 12
#: The decimal arithmetic formulas, netting and the readings' value cells (unit factors,
#: exponents written out) run under, whatever the caller's thread context is: Python's default
#: context (28 digits, ROUND_HALF_EVEN, errors raised), so a caller who lowered the precision
#: cannot round an intermediate amount or a stored value in silence.
CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
                  capitals=1, clamp=0, flags=[], traps=[InvalidOperation, DivisionByZero,
                                                        Overflow])
_UNITS = {"yuan": Decimal(1), "wan": WAN}
_F = TypeVar("_F", bound=Callable[..., Any])


def working_context(**changes: int) -> Context:
    """:data:`CONTEXT` with ``changes`` (``prec``, ``Emax``, ``Emin``): a working precision
    built from it, not from ``decimal.DefaultContext``, which a program may have changed
    before importing ecocomp (its rounding would round means the other way)."""
    context = CONTEXT.copy()
    for name, value in changes.items():
        setattr(context, name, value)
    return context


def in_money_context(func: _F) -> _F:
    """Run ``func`` under :data:`CONTEXT` instead of the caller's decimal context."""
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with localcontext(CONTEXT):
            return func(*args, **kwargs)
    return run  # type: ignore[return-value]
_HUNDRED = Decimal(100)

K = TypeVar("K")


def as_decimal(value: object, *, what: str = "value") -> Decimal:
    """Convert str/int/Decimal to a finite Decimal exactly; refuse float, NaN and infinity.

    >>> as_decimal("0.10")
    Decimal('0.10')
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{what}: {value!r} is a {type(value).__name__}; pass a str or Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a decimal number") from None
    else:
        raise TypeError(f"{what}: {value!r} is not a decimal number")
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


@in_money_context
def to_yuan(amount: object) -> Decimal:
    """Fix an amount as money: Decimal yuan with exactly 2 decimals, ROUND_HALF_UP."""
    value = as_decimal(amount, what="amount")
    _check_bound(value)
    with localcontext(CONTEXT) as ctx:
        ctx.prec = max(28, len(value.as_tuple().digits) + 4)
        return value.quantize(FEN, rounding=ROUND_HALF_UP)


def _check_bound(value: Decimal) -> None:
    if abs(value) > MAX_YUAN:
        shown = f"{value:,f}" if value.adjusted() < 16 else f"{value:.4E}"
        raise ValueError(
            f"amount {shown} yuan is beyond ±{MAX_YUAN:,f} yuan (1万亿), the largest amount "
            "ecocomp handles; check the amounts and units that produced it"
        )


def unit_to_yuan(amount: object, unit: str) -> Decimal:
    """An agreement amount in ``unit`` ("yuan" or "wan" = 万元) as yuan, fixed to the fen."""
    try:
        factor = _UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown money unit {unit!r}; use 'yuan' or 'wan'") from None
    return to_yuan(CONTEXT.multiply(as_decimal(amount, what="amount"), factor))


@in_money_context
def to_fen(amount: object) -> int:
    """Yuan → integer fen. Refuses amounts that are not whole fen instead of rounding them."""
    value = as_decimal(amount, what="amount")
    _check_bound(value)
    # whole fen: no digit below 0.01 (asked of the digits themselves: value * 100 in a
    # 28-digit context would round a fraction far enough down the amount away)
    if value.as_tuple().exponent < -2 and value != value.quantize(FEN, context=CONTEXT):
        raise ValueError(f"amount {value} is not a whole number of fen; round it with to_yuan()")
    return int(CONTEXT.multiply(value, _HUNDRED))


def from_fen(fen: int) -> Decimal:
    """Integer fen → Decimal yuan with 2 decimals."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}")
    return Decimal(fen).scaleb(-2, CONTEXT)


@in_money_context
def format_yuan(amount: Decimal, unit: str = "yuan") -> str:
    """Human text: ``1,234,567.89`` for yuan, ``123.456789`` for 万元 (no precision lost)."""
    if unit == "wan":
        return f"{CONTEXT.divide(amount, WAN).normalize(CONTEXT):f}"
    return f"{to_yuan(amount):,}"


@in_money_context
def split_largest_remainder(
    total: Decimal, weights: Mapping[K, object] | Sequence[tuple[K, object]]
) -> dict[K, Decimal]:
    """Split ``total`` yuan by ``weights`` into fen-exact parts that sum to ``total``.

    Each part gets the floor of its exact share in fen; the fen left over go one each to the
    largest remainders (ties by the order the weights are given, so results are determinic).

    >>> split_largest_remainder(Decimal("100.00"), {"a": 1, "b": 1, "c": 1})
    {'a': Decimal('33.34'), 'b': Decimal('33.33'), 'c': Decimal('33.33')}
    """
    items = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
    if not items:
        raise ValueError("split needs at least one weight")
    seen: set[K] = set()
    for key, _ in items:
        if key in seen:  # the parts are a dict: one key's share would be lost
            raise ValueError(f"split weights name {key!r} twice; give each key one weight")
        seen.add(key)
    total_fen = to_fen(total)
    if total_fen < 0:
        raise ValueError(f"cannot split a negative amount {total}")
    ws = [as_decimal(w, what=f"weight of {k!r}") for k, w in items]
    if any(w < 0 for w in ws):
        raise ValueError("split weights must not be negative")
    wsum = sum(ws, Decimal(0))
    if wsum == 0:
        raise ValueError("split weights sum to zero")
    with localcontext(CONTEXT) as ctx:
        ctx.prec = 60
        shares = [Decimal(total_fen) * w / wsum for w in ws]
    floors = [int(s) for s in shares]  # shares are non-negative, int() floors
    left = total_fen - sum(floors)
    order = sorted(range(len(items)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return {k: from_fen(f) for (k, _), f in zip(items, floors, strict=True)}
