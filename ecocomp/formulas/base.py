"""Obligations, the formula protocol and the registry of named formulas.

A formula is a pure function ``(agreement, assessments, period) -> list[Obligation]``. It is
registered under a name with the roles its agreements use, a JSON Schema for its params and
optional semantic checks, so agreement files naming it are validated before anything runs,
and so :mod:`ecocomp.testing` knows which invariants apply (who benefits from cleaner water,
which caps bound an amount, how many earlier years the formula reads).
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import attrs

from ecocomp.agreements import Agreement, FrozenDict, thaw
from ecocomp.assessment import Assessments
from ecocomp.errors import FormulaError, Problem
from ecocomp.money import as_decimal
from ecocomp.periods import Period
from ecocomp.standards import ASSESSED_ITEMS, WaterClass, gb3838
from ecocomp.validation import (
    TomlLocator,
    describe_error,
    errors_of,
    resolve_ref,
    schema,
    schema_problems,
    validator_for_schema,
)

__all__ = [
    "Formula",
    "FormulaSpec",
    "Net",
    "Obligation",
    "class_problems",
    "coerce_params",
    "decimal_text",
    "factor_problems",
    "factors_of",
    "formula_names",
    "get_formula",
    "get_spec",
    "net_obligations",
    "params_problems",
    "params_schema_of",
    "party_nets",
    "register_formula",
    "settle_nets",
]

PathMessages = Iterable[tuple[tuple[str | int, ...], str]]


class Formula(Protocol):
    """The shape of a formula: pure, no files, no database."""

    def __call__(
        self, agreement: Agreement, assessments: Assessments, period: Period
    ) -> list[Obligation]: ...


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
    basis: Mapping[str, Any] = attrs.field(factory=FrozenDict, converter=_basis_value)

    def __attrs_post_init__(self) -> None:
        if self.payer == self.payee:
            raise ValueError(f"obligation {self.agreement}/{self.period}/{self.component}: "
                             f"payer and payee are both {self.payer}")

    def to_json(self) -> dict[str, Any]:
        """The SPEC §6 ``settle`` obligation shape (amount as a decimal string in yuan)."""
        return {
            "agreement": self.agreement,
            "period": str(self.period),
            "component": self.component,
            "payer": self.payer,
            "payee": self.payee,
            "amount": f"{self.amount:.2f}",
            "basis": thaw(self.basis),
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


def party_nets(obligations: Iterable[Obligation]) -> dict[str, Decimal]:
    """Per party: received minus paid over ``obligations`` (zero-sum by construction)."""
    nets: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for ob in obligations:
        nets[ob.payer] -= ob.amount
        nets[ob.payee] += ob.amount
    return dict(nets)


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


# --------------------------------------------------------------------------- params


def params_schema_of(spec: FormulaSpec) -> Mapping[str, Any] | None:
    """The formula's params JSON Schema as a mapping (a named one loaded), or None."""
    if spec.params_schema is None:
        return None
    if isinstance(spec.params_schema, str):
        return schema(spec.params_schema)
    return spec.params_schema


def params_problems(
    spec: FormulaSpec,
    params: object,
    *,
    file: str | None = None,
    locate: TomlLocator | None = None,
) -> list[Problem]:
    """Every violation of the formula's params schema, located as ``params.<key>``."""
    if not isinstance(params, Mapping):
        return [Problem("params must be a table", file=file, field="params")]
    if isinstance(spec.params_schema, str):
        return schema_problems(spec.params_schema, params, file=file, locate=locate,
                               prefix=("params",))
    sch = params_schema_of(spec)
    if sch is None:
        return []
    found = []
    for top in validator_for_schema(sch).iter_errors(params):
        for err in errors_of(top):
            path = ("params", *err.absolute_path)
            found.append(Problem(describe_error(err), file=file,
                                 field=".".join(map(str, path)),
                                 row=locate.line(path) if locate else None))
    return found


def _coerce(value: Any, node: Any, root: Mapping[str, Any]) -> Any:
    node = resolve_ref(node, root)
    if not isinstance(node, Mapping):
        return value
    if node.get("x-decimal") and isinstance(value, str | int | Decimal) and not isinstance(
        value, bool
    ):
        return as_decimal(value)
    for key in ("anyOf", "oneOf"):
        for sub in node.get(key, ()):
            candidate = {"$defs": root.get("$defs", {}), **resolve_ref(sub, root)}
            if validator_for_schema(candidate).is_valid(value):
                return _coerce(value, sub, root)
    if isinstance(value, Mapping):
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        out = {k: _coerce(v, props.get(k, extra), root) for k, v in value.items()}
        for key, sub in props.items():
            resolved = resolve_ref(sub, root)
            if key not in out and isinstance(resolved, Mapping) and "default" in resolved:
                out[key] = _coerce(copy.deepcopy(resolved["default"]), sub, root)
        return out
    if isinstance(value, list):
        return [_coerce(v, node.get("items"), root) for v in value]
    return value


def coerce_params(spec: FormulaSpec, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Params as the formula reads them: decimal fields as Decimal, schema defaults filled in.

    A schema marks decimal fields with ``"x-decimal": true`` (see ``schemas/params.*.json``),
    so ``"0.85"`` and ``0.85`` (read with ``parse_float=Decimal``) both become ``Decimal('0.85')``.
    """
    sch = params_schema_of(spec)
    return params if sch is None else _coerce(dict(params), sch, sch)


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


# --------------------------------------------------------------------------- registry


@attrs.frozen
class FormulaSpec:
    """A registered formula: the function and what the library must know about it.

    ``roles``: the top-level party keys its agreements use — e.g. ``("upstream",
    "downstream")`` — or ``("parties",)`` for a list of parties.
    ``params_schema``: a schema name in ``ecocomp.schemas`` or a JSON Schema dict.
    ``check``: semantic checks beyond the schema, yielding ``(path under params, message)``.
    ``beneficiary(agreement, section)``: the party whose net must never decrease when that
    section's water improves (None: no monotonicity promise for it).
    ``cap(agreement, obligation)``: the largest amount the obligation may have (None: no cap).
    ``lookback(agreement)``: how many earlier years of data the formula reads.
    """

    name: str
    func: Callable[[Agreement, Assessments, Period], list[Obligation]]
    roles: tuple[str, ...]
    params_schema: str | Mapping[str, Any] | None = None
    check: Callable[[Agreement], PathMessages] | None = None
    beneficiary: Callable[[Agreement, str], str | None] | None = None
    cap: Callable[[Agreement, Obligation], Decimal | None] | None = None
    lookback: Callable[[Agreement], int] | None = None

    def __call__(
        self, agreement: Agreement, assessments: Assessments, period: Period
    ) -> list[Obligation]:
        """Run the formula and check what it returned (a safety net for users' formulas)."""
        obligations = list(self.func(agreement, assessments, period))
        seen: set[tuple[Period, str]] = set()
        for ob in obligations:
            where = f"formula {self.name} ({agreement.id}, {period})"
            if not isinstance(ob, Obligation):
                raise FormulaError(f"{where}: returned {type(ob).__name__}, not an Obligation")
            if ob.agreement != agreement.id:
                raise FormulaError(f"{where}: obligation names agreement {ob.agreement!r}")
            if not (period.start <= ob.period.start and ob.period.end <= period.end):
                raise FormulaError(f"{where}: obligation period {ob.period} is outside {period}")
            if {ob.payer, ob.payee} - set(agreement.party_codes):
                raise FormulaError(f"{where}: {ob.payer}→{ob.payee} is not between its parties")
            if (ob.period, ob.component) in seen:
                raise FormulaError(f"{where}: component {ob.component!r} twice in {ob.period}")
            seen.add((ob.period, ob.component))
        return obligations

    def role_problems(self, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Missing or superfluous party keys for this formula, as (key, message)."""
        from ecocomp.agreements import ROLE_KEYS

        wanted = ", ".join(self.roles)
        found = [(r, f"formula {self.name} needs {r!r} (its roles: {wanted})")
                 for r in self.roles if r not in data]
        found += [(r, f"formula {self.name} does not use {r!r}; its roles are {wanted}")
                  for r in ROLE_KEYS if r in data and r not in self.roles]
        return found

    def semantic_problems(self, agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
        """The formula's own checks of a schema-valid agreement."""
        return list(self.check(agreement)) if self.check is not None else []


_REGISTRY: dict[str, FormulaSpec] = {}


class FormulaReplacedWarning(UserWarning):
    """A formula of the user's was registered again under its name and replaced."""


def _shipped(spec: FormulaSpec) -> bool:
    """A preset shipped with ecocomp: replacing one silently would change every preset."""
    return getattr(spec.func, "__module__", "").startswith("ecocomp.formulas")


def register_formula(
    name: str,
    func: Callable[[Agreement, Assessments, Period], list[Obligation]] | None = None,
    *,
    roles: Sequence[str],
    params_schema: str | Mapping[str, Any] | None = None,
    check: Callable[[Agreement], PathMessages] | None = None,
    beneficiary: Callable[[Agreement, str], str | None] | None = None,
    cap: Callable[[Agreement, Obligation], Decimal | None] | None = None,
    lookback: Callable[[Agreement], int] | None = None,
    replace: bool = False,
) -> Any:
    """Register a formula under ``name``; without ``func`` it returns a decorator.

    Registering a name again (a notebook cell run twice) replaces your earlier formula with a
    :class:`FormulaReplacedWarning`; a formula shipped with ecocomp is only replaced with
    ``replace=True``.

    >>> @register_formula("doc_example", roles=("upstream", "downstream"), replace=True)
    ... def flat_fee(agreement, assessments, period):
    ...     return []
    >>> "doc_example" in formula_names()
    True
    """

    def add(f: Callable[[Agreement, Assessments, Period], list[Obligation]]) -> Any:
        if name in _REGISTRY and not replace:
            if _shipped(_REGISTRY[name]):
                raise FormulaError(f"formula {name!r} is already registered; pass replace=True "
                                   "to replace it")
            # a notebook cell run again registers the same name: replace it, and say so
            warnings.warn(f"formula {name!r} was already registered; the new definition "
                          "replaces it (pass replace=True to say you mean it)",
                          FormulaReplacedWarning, stacklevel=2 if func is None else 3)
        if tuple(roles) != ("parties",) and (len(roles) < 2 or "parties" in roles):
            raise FormulaError(f"formula {name!r}: roles must be ('parties',) or two or more "
                               "role names such as ('upstream', 'downstream')")
        _REGISTRY[name] = FormulaSpec(
            name=name, func=f, roles=tuple(roles), params_schema=freeze_schema(params_schema),
            check=check, beneficiary=beneficiary, cap=cap, lookback=lookback,
        )  # fmt: skip
        return f

    return add if func is None else add(func)


def freeze_schema(sch: str | Mapping[str, Any] | None) -> str | Mapping[str, Any] | None:
    # a private copy, so a caller mutating its dict cannot change a registered formula
    return sch if sch is None or isinstance(sch, str) else copy.deepcopy(dict(sch))


def get_spec(name: str) -> FormulaSpec:
    """The registered formula ``name`` with its metadata."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(formula_names())
        raise FormulaError(f"unknown formula {name!r}; known formulas: {known}") from None


def get_formula(name: str) -> FormulaSpec:
    """The formula registered as ``name``, callable as ``f(agreement, assessments, period)``.

    >>> get_formula("class_ladder").roles
    ('upstream', 'downstream')
    """
    return get_spec(name)


def formula_names() -> list[str]:
    """Names of all registered formulas, sorted."""
    return sorted(_REGISTRY)

