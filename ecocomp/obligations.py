"""Obligations and their netting: who owes whom how much, and what the clearing moves.

An :class:`Obligation` is money one party owes another under one agreement, for one period
and component, with the ``basis`` needed to recompute it by hand. Formulas return them;
settlement posts them; :func:`net_obligations` nets them per agreement and year. This module
knows nothing of formulas or of how obligations are computed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from ecocomp.agreements import FrozenDict, thaw
from ecocomp.money import in_money_context
from ecocomp.periods import Period
from ecocomp.standards import WaterClass

__all__ = [
    "Net",
    "Obligation",
    "decimal_text",
    "net_obligations",
    "party_nets",
    "settle_nets",
]


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text without exponent (``Decimal('1E+2')`` → ``'100'``).

    >>> decimal_text(Decimal("1E+2")), decimal_text(Decimal("0.50"))
    ('100', '0.50')
    """
    return f"{value:f}"


def _basis_value(value: Any, where: str = "basis") -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        raise TypeError(f"{where}: {value!r} is a float; use Decimal or str in an obligation basis")
    if isinstance(value, WaterClass):
        return value.code
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, Period):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return FrozenDict({str(k): _basis_value(v, f"{where}.{k}") for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_basis_value(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise TypeError(f"{where}: {type(value).__name__} is not JSON-able; use str, int or Decimal")


class _Unusual(Exception):
    """A basis value :func:`_frozen_basis` leaves to :func:`_basis_value`."""


_AS_IS = frozenset({str, int, bool, type(None)})


def _plain_basis(value: Any) -> Any:
    # _basis_value for the exact types formulas and recorded runs hold (JSON's, Decimals,
    # classes, periods, dates), without building the location of every value for a
    # message that is never needed; anything else (a subclass, a float) goes to it
    kind = type(value)
    if kind in _AS_IS:
        return value
    # containers take their plain leaves (most of a basis) without a call
    if kind is dict or kind is FrozenDict:
        frozen = {}
        for k, v in value.items():
            if type(k) is not str:
                # an int's text is str(k) and f"{k}" alike; any other key's str() or
                # format() may differ or run code: the general path alone calls them
                if type(k) is not int:
                    raise _Unusual
                k = str(k)
            frozen[k] = v if type(v) in _AS_IS else _plain_basis(v)
        return FrozenDict.adopt(frozen)  # built here: no copy
    if kind is list or kind is tuple:
        return tuple([v if type(v) in _AS_IS else _plain_basis(v) for v in value])
    if kind is Decimal:
        return decimal_text(value)
    if kind is WaterClass:
        return value.code
    if kind is Period:
        return str(value)
    if kind is date:
        return value.isoformat()
    raise _Unusual


def _frozen_basis(value: Any) -> Any:
    """An obligation's basis as stored: exactly :func:`_basis_value`'s result or error
    (anything but plain JSON types, Decimals and tuples is converted by it, with the
    location of a refused value)."""
    try:
        return _plain_basis(value)
    except _Unusual:
        return _basis_value(value)


def _check_amount(_instance: object, _attribute: object, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"obligation amount must be a finite Decimal, not {value!r}")
    if value.as_tuple().exponent != -2:
        raise ValueError(f"obligation amount {value} must have exactly 2 decimals (use to_yuan)")
    if value < 0:
        raise ValueError(f"obligation amount {value} is negative; swap payer and payee instead")


@attrs.frozen
class Obligation:
    """Money one party owes another under one agreement, for one period and component.

    ``basis`` holds every input and intermediate number needed to recompute ``amount`` by
    hand (Decimals are stored as strings, classes as codes; floats are refused).

    >>> o = Obligation("a", Period(2023, 1), "class:s", "430700", "430800", Decimal("1.00"))
    >>> o.to_json()["amount"]
    '1.00'
    """

    agreement: str
    period: Period = attrs.field(validator=attrs.validators.instance_of(Period))
    component: str = attrs.field(validator=attrs.validators.min_len(1))
    payer: str
    payee: str
    amount: Decimal = attrs.field(validator=_check_amount)
    basis: Mapping[str, Any] = attrs.field(factory=FrozenDict, converter=_frozen_basis)

    def __attrs_post_init__(self) -> None:
        if self.payer == self.payee:
            raise ValueError(f"obligation {self.agreement}/{self.period}/{self.component}: "
                             f"payer and payee are both {self.payer}")

    def to_json(self) -> dict[str, Any]:
        """The SPEC §6 ``settle`` obligation shape (amount as a decimal string in yuan)."""
        data = self.frozen_json()
        data["basis"] = thaw(self.basis)
        return data

    def frozen_json(self) -> dict[str, Any]:
        """:meth:`to_json` with the basis as held (FrozenDicts and tuples), not thawed,
        for ``json.dumps(..., default=agreements.unfrozen)`` and the ledger's meta, which
        read it as it is (a run writes each basis two or three times)."""
        return {
            "agreement": self.agreement,
            "period": str(self.period),
            "component": self.component,
            "payer": self.payer,
            "payee": self.payee,
            "amount": f"{self.amount:.2f}",
            "basis": self.basis,
        }


@attrs.frozen
class Net:
    """The net of one agreement-year between two parties (what the annual clearing moves)."""

    agreement: str
    year: int
    payer: str
    payee: str
    amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "year": self.year, "payer": self.payer,
                "payee": self.payee, "amount": f"{self.amount:.2f}"}


@in_money_context
def party_nets(obligations: Iterable[Obligation]) -> dict[str, Decimal]:
    """Per party: received minus paid over ``obligations`` (zero-sum by construction)."""
    nets: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for ob in obligations:
        nets[ob.payer] -= ob.amount
        nets[ob.payee] += ob.amount
    return dict(nets)


@in_money_context
def settle_nets(nets: Mapping[str, Decimal]) -> list[tuple[str, str, Decimal]]:
    """Turn per-party nets (summing to zero) into payer → payee transfers, exact to the fen.

    Net payers and net receivers are each taken in party-code order and matched greedily,
    which is exact, deterministic and uses at most (payers + receivers − 1) transfers.

    >>> settle_nets({"a": Decimal("-3"), "b": Decimal("1"), "c": Decimal("2")})
    [('a', 'b', Decimal('1')), ('a', 'c', Decimal('2'))]
    """
    if sum(nets.values(), Decimal(0)) != 0:
        raise ValueError(f"nets do not sum to zero: {dict(nets)}")
    payers = [[p, -v] for p, v in sorted(nets.items()) if v < 0]
    payees = [[p, v] for p, v in sorted(nets.items()) if v > 0]
    transfers: list[tuple[str, str, Decimal]] = []
    i = j = 0
    while i < len(payers) and j < len(payees):
        moved = min(payers[i][1], payees[j][1])
        transfers.append((payers[i][0], payees[j][0], moved))
        payers[i][1] -= moved
        payees[j][1] -= moved
        i += payers[i][1] == 0
        j += payees[j][1] == 0
    return transfers


@in_money_context
def net_obligations(obligations: Iterable[Obligation]) -> list[Net]:
    """Net the obligations per agreement and year: who finally pays whom how much.

    Zero nets are left out. A two-party agreement gives at most one Net per year; a pooled
    fund may give several (see :func:`settle_nets`).

    >>> obs = [Obligation("a", Period(2023, m), "c", p, q, Decimal(v)) for m, p, q, v in
    ...        [(1, "X", "Y", "5.00"), (2, "Y", "X", "2.00")]]
    >>> net_obligations(obs)
    [Net(agreement='a', year=2023, payer='X', payee='Y', amount=Decimal('3.00'))]
    """
    groups: dict[tuple[str, int], list[Obligation]] = defaultdict(list)
    for ob in obligations:
        groups[(ob.agreement, ob.period.year)].append(ob)
    result = []
    for (agreement, year), obs in sorted(groups.items()):
        for payer, payee, amount in settle_nets(party_nets(obs)):
            result.append(Net(agreement, year, payer, payee, amount))
    return result
