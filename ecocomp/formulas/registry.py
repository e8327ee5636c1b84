"""The registry of named formulas, and admission of an agreement by its formula.

A formula is a pure function ``(agreement, inputs, period) -> list[Obligation]``. It is
registered under a name with the roles its agreements use, the kind of inputs it reads
(``"water"``: the section assessments, the default; ``"air"``; ``"none"``), a JSON Schema for
its params and optional semantic checks. :meth:`FormulaSpec.admit` turns agreement data
naming the formula into an :class:`~ecocomp.agreements.Agreement` (roles, params checked
against the schema and coerced, money checked, then the formula's own checks) or the
located problems; :mod:`ecocomp.agreement_files` reads the files and adds what only the
project knows. :mod:`ecocomp.testing` reads the same spec to know which invariants apply
(who benefits from cleaner water, which caps bound an amount, how many earlier years the
formula reads).
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, localcontext
from typing import Any, Protocol

import attrs

from ecocomp.agreements import ROLE_KEYS, Agreement, clearing_due_problem, roles_of
from ecocomp.errors import AgreementError, FormulaError, Problem
from ecocomp.money import CONTEXT, MAX_YUAN, WAN, as_decimal
from ecocomp.obligations import Obligation
from ecocomp.periods import Period
from ecocomp.validation import (
    TomlLocator,
    describe_error,
    errors_of,
    finite_copy,
    marked_values,
    node_at,
    nonfinite_message,
    resolve_ref,
    schema,
    schema_problems,
    show,
    validator_for_schema,
)

__all__ = [
    "INPUT_KINDS",
    "Formula",
    "FormulaReplacedWarning",
    "FormulaSpec",
    "coerce_params",
    "formula_names",
    "get_formula",
    "get_spec",
    "params_problems",
    "params_schema_of",
    "pinpoint",
    "register_formula",
]

PathMessages = Iterable[tuple[tuple[str | int, ...], str]]
#: The kinds of inputs ecocomp's formulas read: ``water`` (the section assessments,
#: :class:`~ecocomp.assessment.Assessments`), ``air`` (the city air statistics) and ``none``
#: (formulas that read no measurements, e.g. ``area_rate``). Settlement builds each kind's
#: inputs once per run, only when an agreement needs them (``settlement.register_inputs``).
INPUT_KINDS: tuple[str, ...] = ("water", "air", "none")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_UNKNOWN = re.compile(r"^unknown key\(s\) '([^']+)';")


class Formula(Protocol):
    """The shape of a formula: pure, no files, no database.

    ``inputs`` is what its kind of inputs provides: the :class:`~ecocomp.assessment.Assessments`
    for ``water`` formulas, ``None`` for formulas that read no measurements.
    """

    def __call__(self, agreement: Agreement, inputs: Any, period: Period) -> list[Obligation]: ...


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


def _under(field: str | None, path: tuple[str | int, ...]) -> bool:
    key = ".".join(str(p) for p in path)
    return field is not None and (field == key or field.startswith(key + "."))


_UNIT_NAMES = {"yuan": "yuan", "wan": "万元"}


def _money_problems(
    sch: Mapping[str, Any], params: Mapping[str, Any], unit: str
) -> list[tuple[tuple[str | int, ...], str]]:
    """Money amounts (``"x-money"`` in the params schema) that are not money ecocomp can hold.

    An amount in yuan must be a whole number of fen (no silent rounding: 0.005 yuan is a
    mistake, as in ``ecocomp pay``), and at most ``MAX_YUAN`` (1万亿 yuan).
    """
    found = []
    for path, value, _node in marked_values(sch, params, "x-money"):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            continue
        amount = Decimal(value)
        written = f"{show(amount)} {_UNIT_NAMES[unit]}"
        # compare exponents first: 1e999999 万 must not be multiplied out
        yuan, converted = None, ""
        if amount.adjusted() <= 16:
            with localcontext(CONTEXT) as ctx:
                ctx.prec = len(amount.as_tuple().digits) + 10  # exact: no rounding here
                yuan = amount * (WAN if unit == "wan" else 1)
                if unit != "yuan":
                    converted = f" ({show(yuan.normalize())} yuan)"
        if yuan is None or abs(yuan) > MAX_YUAN:
            found.append((path, f"{written}{converted} is more than {MAX_YUAN:,f} yuan (1万亿), "
                                "the largest amount ecocomp handles; check the amount and the "
                                "unit (`unit` = \"yuan\" or \"wan\")"))
            continue
        with localcontext(CONTEXT) as ctx:
            ctx.prec = len(yuan.as_tuple().digits) + 10
            fen = yuan * 100
            whole = fen == fen.to_integral_value()
        if not whole:
            found.append((path, f"{written}{converted} is not a whole number of fen; write at "
                                + ("most 2 decimals in yuan (6 in 万元)" if unit == "yuan"
                                   else "most 6 decimals in 万元 (2 in yuan)")))
    return found


def pinpoint(problem: Problem, locate: TomlLocator | None) -> Problem:
    """Point an "unknown key" problem at the misspelt key itself (its own line and key)."""
    match = _UNKNOWN.match(problem.message)
    if match is None:
        return problem
    key = match.group(1)
    field = f"{problem.field}.{key}" if problem.field else key
    path = tuple(field.split("."))
    row = locate.line(path) if locate is not None else problem.row
    return attrs.evolve(problem, field=field, row=row)


# --------------------------------------------------------------------------- registry

FormulaFunc = Callable[[Agreement, Any, Period], list[Obligation]]


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
    ``inputs``: the kind of inputs it reads (:data:`INPUT_KINDS`): ``"water"`` (the default)
    passes the :class:`~ecocomp.assessment.Assessments`, ``"none"`` passes ``None``.
    ``prorated``: its amounts for a period cover only the days the agreement is in force
    (``area_rate``), so an agreement superseded part-way through a year settles the days
    before the newer one starts instead of nothing.
    ``annual``: its obligations are for whole settlement years (``pollution_index``,
    ``fund_split``), so two agreements in force on days of one year both settle that year
    in full; the others settle months (or days, when ``prorated``).
    ``advise``: like ``check``, for values that are possible but odd enough to be a slip (a
    ladder that pays less for cleaner water, a percent written as a whole number): they are
    warnings (``ecocomp check`` and ``settle`` print them), not problems.
    ``span(agreement)``: what it settles whole when the agreement says so (``"month"``,
    ``"quarter"`` or ``"year"``: the air formulas' ``period``); it overrides ``annual``.
    """

    name: str
    func: FormulaFunc
    roles: tuple[str, ...]
    params_schema: str | Mapping[str, Any] | None = None
    check: Callable[[Agreement], PathMessages] | None = None
    beneficiary: Callable[[Agreement, str], str | None] | None = None
    cap: Callable[[Agreement, Obligation], Decimal | None] | None = None
    lookback: Callable[[Agreement], int] | None = None
    inputs: str = "water"
    prorated: bool = False
    annual: bool = False
    span: Callable[[Agreement], str] | None = None
    advise: Callable[[Agreement], PathMessages] | None = None

    @property
    def settles(self) -> str:
        """The span of the periods it settles: ``"day"`` (prorated), ``"year"`` (annual) or
        ``"month"``; two agreements in force in one such span both settle all of it."""
        return "day" if self.prorated else "year" if self.annual else "month"

    def settles_for(self, agreement: Agreement) -> str:
        """The span of the periods it settles for ``agreement``: :attr:`settles`, or what
        the agreement chooses when the formula lets it (``span``)."""
        return self.span(agreement) if self.span is not None else self.settles

    def __call__(self, agreement: Agreement, inputs: Any, period: Period) -> list[Obligation]:
        """Run the formula and check what it returned (a safety net for users' formulas).

        It runs under :data:`ecocomp.money.CONTEXT`, not the caller's decimal context.
        """
        with localcontext(CONTEXT):
            obligations = list(self.func(agreement, inputs, period))
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
        wanted = ", ".join(self.roles)
        found = [(r, f"formula {self.name} needs {r!r} (its roles: {wanted})")
                 for r in self.roles if r not in data]
        found += [(r, f"formula {self.name} does not use {r!r}; its roles are {wanted}")
                  for r in ROLE_KEYS if r in data and r not in self.roles]
        listed = data.get("parties")
        if self.roles == ("parties",) and isinstance(listed, list) and len(listed) == 1:
            found.append(("parties", "the list has 1 entry; it needs at least 2; list the "
                                     "party codes, e.g. [\"530000\", \"520000\"]"))
        return found

    def semantic_problems(self, agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
        """The formula's own checks of a schema-valid agreement."""
        return list(self.check(agreement)) if self.check is not None else []

    def sections_problems(
        self, raw: Mapping[str, Any], *, file: str | None = None,
        locate: TomlLocator | None = None,
    ) -> list[Problem]:
        """A water formula reads sections: they must be listed; a formula that reads no
        measurements lists none."""
        sections = raw.get("sections")
        if self.inputs == "water":
            if sections is None:
                return [Problem("'sections' is required but missing", file=file)]
            if not sections:
                return [_located(("sections",), "the list is empty; list the codes of the "
                                 "sections the formula reads, e.g. [\"zhutingzhen\"]", file,
                                 locate)]
        elif self.inputs == "none" and sections:
            return [_located(("sections",), f"formula {self.name} reads no measurements, so "
                             "its agreements list no sections; remove sections", file, locate)]
        return []

    def admit_params(
        self,
        params: object,
        unit: str,
        *,
        file: str | None = None,
        locate: TomlLocator | None = None,
    ) -> tuple[Any, list[Problem]]:
        """The params as the formula reads them (coerced, defaults filled in), or problems.

        Non-finite numbers (nan, inf) are refused before the schema sees them; then the
        params schema, then the money amounts (``"x-money"``) in the agreement's ``unit``.
        """
        sch = params_schema_of(self)
        params, bad = finite_copy(params)
        found = [_located(("params", *p), nonfinite_message(v, node_at(sch, p) if sch else None),
                          file, locate) for p, v in bad]
        found += [
            pinpoint(p, locate)
            for p in params_problems(self, params, file=file, locate=locate)
            if not any(_under(p.field, ("params", *b)) for b, _ in bad)
        ]
        if found:
            return params, found
        params = coerce_params(self, params)
        if sch is not None:
            found += [_located(("params", *p), m, file, locate)
                      for p, m in _money_problems(sch, params, unit)]
        return params, found

    def admit(
        self,
        raw: Mapping[str, Any],
        *,
        file: str | None = None,
        locate: TomlLocator | None = None,
    ) -> Agreement | list[Problem]:
        """Admit agreement data naming this formula: the :class:`Agreement`, or every problem.

        ``raw`` is agreement data that passed ``agreement.schema.json`` (dates as ISO text,
        as :mod:`ecocomp.agreement_files` hands it over). Checked here: the dates and the
        clearing day, the roles, the params (finite, schema, coercion, money); then the
        Agreement is built and the formula's semantic checks run. What only a project knows
        (party and section codes, the sections' sides) is the loader's.
        """
        found = value_problems(raw, file=file, locate=locate)
        found += self.sections_problems(raw, file=file, locate=locate)
        found += [_located((k,), m, file, locate) for k, m in self.role_problems(raw)]
        params, params_found = self.admit_params(raw.get("params", {}), raw["unit"],
                                                 file=file, locate=locate)
        found += params_found
        if found:
            return found
        agreement = Agreement(
            id=raw["id"], name=raw["name"], formula=raw["formula"],
            sections=raw.get("sections", ()), parties=roles_of(raw),
            start=date.fromisoformat(raw["start"]), end=date.fromisoformat(raw["end"]),
            unit=raw["unit"],
            clearing_due=raw["clearing_due"], params=params, source=raw["source"],
            confidence=raw["confidence"], file=file, supersedes=raw.get("supersedes"),
            parties_override=(raw.get("parties_override") or {}).get("reason"),
        )  # fmt: skip
        return [_located(("params", *p), m, file, locate)
                for p, m in self.semantic_problems(agreement)] or agreement


def _located(
    path: tuple[str | int, ...], message: str, file: str | None, locate: TomlLocator | None
) -> Problem:
    """An agreement problem at ``path`` (its key, and its line when the TOML is known)."""
    key = ".".join(str(p) for p in path) or None
    line = locate.line(path) if locate is not None and path else None
    return AgreementError(message, file=file, row=line, field=key).problem


def value_problems(
    raw: Mapping[str, Any], *, file: str | None = None, locate: TomlLocator | None = None
) -> list[Problem]:
    """What any formula refuses in schema-valid agreement data: dates out of order, a
    clearing day that is not a day of the year."""
    found = []
    start, end = date.fromisoformat(raw["start"]), date.fromisoformat(raw["end"])
    if end < start:
        found.append(_located(("end",), f"end {end} is before start {start}; swap or fix them",
                              file, locate))
    due = clearing_due_problem(raw["clearing_due"])
    if due is not None:
        found.append(_located(("clearing_due",), due, file, locate))
    return found


_REGISTRY: dict[str, FormulaSpec] = {}


class FormulaReplacedWarning(UserWarning):
    """A formula of the user's was registered again under its name and replaced."""


def _shipped(spec: FormulaSpec) -> bool:
    """A preset shipped with ecocomp: replacing one silently would change every preset."""
    return getattr(spec.func, "__module__", "").startswith("ecocomp.formulas")


def register_formula(
    name: str,
    func: FormulaFunc | None = None,
    *,
    roles: Sequence[str],
    params_schema: str | Mapping[str, Any] | None = None,
    check: Callable[[Agreement], PathMessages] | None = None,
    beneficiary: Callable[[Agreement, str], str | None] | None = None,
    cap: Callable[[Agreement, Obligation], Decimal | None] | None = None,
    lookback: Callable[[Agreement], int] | None = None,
    inputs: str = "water",
    replace: bool = False,
    prorated: bool = False,
    annual: bool = False,
    span: Callable[[Agreement], str] | None = None,
    advise: Callable[[Agreement], PathMessages] | None = None,
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

    def add(f: FormulaFunc) -> Any:
        if name in _REGISTRY and not replace:
            if _shipped(_REGISTRY[name]):
                raise FormulaError(f"formula {name!r} is already registered; pass replace=True "
                                   "to replace it")
            # a notebook cell run again registers the same name: replace it, and say so
            warnings.warn(f"formula {name!r} was already registered; the new definition "
                          "replaces it (pass replace=True to say you mean it)",
                          FormulaReplacedWarning, stacklevel=2 if func is None else 3)
        if not isinstance(inputs, str) or not _KIND.match(inputs):
            raise FormulaError(f"formula {name!r}: inputs {inputs!r} is not a kind of inputs; "
                               f"use one of {', '.join(INPUT_KINDS)}")
        if tuple(roles) not in (("parties",), ("payer", "parties")) and (
                len(roles) < 2 or "parties" in roles):
            raise FormulaError(f"formula {name!r}: roles must be ('parties',), ('payer', "
                               "'parties') or two or more role names such as ('upstream', "
                               "'downstream')")
        _REGISTRY[name] = FormulaSpec(
            name=name, func=f, roles=tuple(roles), params_schema=freeze_schema(params_schema),
            check=check, beneficiary=beneficiary, cap=cap, lookback=lookback, inputs=inputs,
            prorated=prorated, annual=annual, span=span, advise=advise,
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
