"""Agreements as data: TOML/JSON agreement files → validated, immutable :class:`Agreement` objects.

An agreement says which formula settles it, between whom, over which sections, for which
period, with which parameters, and where its rule comes from (``source``, ``confidence``).
Files are checked against ``schemas/agreement.schema.json`` and then against the params
schema and checks of the named formula (looked up in :mod:`ecocomp.formulas`); every problem
of every file is collected before one :class:`~ecocomp.errors.ValidationFailed` is raised,
each naming the file, the line and the key.

Parties are held as a mapping role → party code: ``upstream``/``downstream`` or
``party``/``counterparty`` as written in the file, and for a list ``parties = [...]`` the
roles ``parties[0]``, ``parties[1]``, … in the order written.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, localcontext
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import attrs

from ecocomp.errors import AgreementError, FormulaError, Problem, ValidationFailed
from ecocomp.money import MAX_YUAN, WAN, unit_to_yuan
from ecocomp.periods import Period
from ecocomp.validation import (
    TomlLocator,
    finite_copy,
    limit_problem,
    marked_values,
    node_at,
    nonfinite_message,
    read_project_file,
    schema_problems,
    show,
    too_deep_message,
)

__all__ = [
    "CONFIDENCES",
    "ROLE_KEYS",
    "Agreement",
    "FrozenDict",
    "agreement_from_dict",
    "freeze",
    "load_agreement",
    "load_agreements",
    "overlap_problems",
    "preset",
    "presets",
    "superseded",
    "thaw",
]

Confidence = Literal["confirmed", "inferred", "placeholder"]
Unit = Literal["yuan", "wan"]
CONFIDENCES: tuple[str, ...] = ("confirmed", "inferred", "placeholder")
#: Top-level keys of an agreement file that name parties (SPEC §4).
ROLE_KEYS: tuple[str, ...] = ("upstream", "downstream", "party", "counterparty", "parties")
_CLEARING = re.compile(r"^(\d{2})-(\d{2})$")
_TOML_LINE = re.compile(r"at line (\d+)")
_UNKNOWN = re.compile(r"^unknown key\(s\) '([^']+)';")


class FrozenDict(Mapping[str, Any]):
    """An immutable, hashable mapping (what agreement params and obligation bases are made of).

    >>> FrozenDict({"a": 1})["a"]
    1
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data: dicts → :class:`FrozenDict`, lists → tuples.

    >>> freeze({"a": [1, {"b": 2}]})
    FrozenDict({'a': (1, FrozenDict({'b': 2}))})
    """
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The mutable copy of frozen data: FrozenDict → dict, tuple → list (Decimals kept).

    >>> thaw(freeze({"a": (1, 2)}))
    {'a': [1, 2]}
    """
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def _clearing_due(_instance: object, _attribute: object, value: str) -> None:
    match = _CLEARING.match(value)
    if not match:
        raise ValueError(f"clearing_due {value!r} is not MM-DD, e.g. '04-30'")
    try:
        date(2001, int(match.group(1)), int(match.group(2)))  # a non-leap year: no 02-29
    except ValueError:
        raise ValueError(f"clearing_due {value!r} is not a day of the year") from None


def _non_empty(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not value:
        raise ValueError(f"agreement {attribute.name} must not be empty")


@attrs.frozen
class Agreement:
    """One signed agreement: formula, parties by role, sections, validity, params and source.

    >>> a = preset("lishui-zjj-cd-2020")
    >>> a.party_for("downstream"), a.due_date(2021), a.to_yuan(80)
    ('430700', datetime.date(2022, 4, 30), Decimal('800000.00'))
    """

    id: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    name: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    formula: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    sections: tuple[str, ...] = attrs.field(converter=tuple, validator=_non_empty)
    parties: Mapping[str, str] = attrs.field(converter=freeze, validator=_non_empty)
    start: date = attrs.field(validator=attrs.validators.instance_of(date))
    end: date = attrs.field(validator=attrs.validators.instance_of(date))
    unit: Unit = attrs.field(default="yuan", validator=attrs.validators.in_(("yuan", "wan")))
    clearing_due: str = attrs.field(default="04-30", validator=_clearing_due)
    params: Mapping[str, Any] = attrs.field(factory=FrozenDict, converter=freeze)
    source: str = ""
    confidence: Confidence = attrs.field(
        default="placeholder", validator=attrs.validators.in_(CONFIDENCES)
    )
    file: str | None = attrs.field(default=None, eq=False)
    #: The id of an earlier agreement this one replaces (see :func:`superseded`).
    supersedes: str | None = attrs.field(default=None, kw_only=True)
    #: Why the parties deliberately differ from the sections' sides (``[parties_override]``).
    parties_override: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"agreement {self.id}: end {self.end} is before start {self.start}")
        if len(set(self.sections)) != len(self.sections):
            raise ValueError(f"agreement {self.id}: a section is listed twice")

    @property
    def party_codes(self) -> tuple[str, ...]:
        """The distinct party codes in role order."""
        return tuple(dict.fromkeys(self.parties.values()))

    def party_for(self, role: str) -> str:
        """The party code playing ``role`` (``upstream``, ``party``, ``parties[0]``, …)."""
        try:
            return self.parties[role]
        except KeyError:
            raise FormulaError(
                f"agreement {self.id}: no {role!r} party; it names {', '.join(self.parties)}"
            ) from None

    def in_force(self, period: Period) -> bool:
        """True when the agreement is in force on at least one day of ``period``."""
        return period.start <= self.end and period.end >= self.start

    def months_in_force(self, period: Period) -> list[Period]:
        """The months of ``period`` (a year or a month) on which the agreement is in force."""
        return [m for m in period.months() if self.in_force(m)]

    def due_date(self, year: int) -> date:
        """When the net of settlement ``year`` is due: ``clearing_due`` of the following year."""
        month, day = (int(part) for part in self.clearing_due.split("-"))
        return date(year + 1, month, day)

    def to_yuan(self, amount: object) -> Decimal:
        """An amount in the agreement's unit as yuan, fixed to the fen (ROUND_HALF_UP)."""
        return unit_to_yuan(amount, self.unit)


# --------------------------------------------------------------------------- loading


def _plain(value: Any, path: tuple[str | int, ...], problems: list[tuple[tuple, str]]) -> Any:
    """TOML dates → ISO strings (so one schema serves TOML and JSON); date-times refused."""
    if isinstance(value, datetime):
        problems.append((path, f"{value.isoformat()} is a date-time; write a date (YYYY-MM-DD)"))
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, (*path, i), problems) for i, v in enumerate(value)]
    return value


def _roles_of(data: Mapping[str, Any]) -> dict[str, str]:
    if "parties" in data:
        return {f"parties[{i}]": str(code) for i, code in enumerate(data["parties"])}
    return {r: str(data[r]) for r in ROLE_KEYS[:4] if r in data}


def agreement_from_dict(
    data: Mapping[str, Any],
    file: str | None = None,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
    locate: TomlLocator | None = None,
) -> Agreement:
    """Validate agreement data (as read from TOML or JSON) and build the :class:`Agreement`.

    ``parties``/``sections``, when given, are the known party and section codes to cross-check.
    Given as the loaded tables (code → Party / Section, as a project passes them), the
    parties are also checked against the sections' sides and the factors against their
    waterbodies (unless the agreement declares ``[parties_override]``).
    Raises :class:`~ecocomp.errors.ValidationFailed` listing every problem found.

    >>> data = tomllib.load(open("lishui.toml", "rb"), parse_float=Decimal)  # doctest: +SKIP
    >>> agreement_from_dict(data, "lishui.toml")  # doctest: +SKIP
    """
    problems = agreement_problems(data, file, parties=parties, sections=sections, locate=locate)
    if isinstance(problems, Agreement):
        return problems
    raise ValidationFailed(problems, what=f"agreement {file or data.get('id', '')}".strip())


def agreement_problems(
    data: Mapping[str, Any],
    file: str | None = None,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
    locate: TomlLocator | None = None,
) -> Agreement | list[Problem]:
    """The Agreement when ``data`` is valid, else every problem found (never raises for input)."""
    # the registry lives a floor above (formulas read agreements); import it when first needed
    from ecocomp.formulas.base import coerce_params, get_spec, params_problems, params_schema_of

    def problem(path: tuple[str | int, ...], message: str) -> Problem:
        key = ".".join(str(p) for p in path) or None
        line = locate.line(path) if locate is not None and path else None
        return AgreementError(message, file=file, row=line, field=key).problem

    if not isinstance(data, Mapping):
        return [problem((), "an agreement must be a table of keys (id, name, formula, …)")]
    raw: list[tuple[tuple, str]] = []
    plain = _plain(dict(data), (), raw)
    found = [problem(p, m) for p, m in raw]
    # params are checked below, by the schema of the formula, which knows what each one is
    top = {**plain, "params": {}} if isinstance(plain.get("params"), dict) else plain
    found += [_pinpoint(p, locate) for p in schema_problems("agreement", top, file=file,
                                                         locate=locate)]
    if found:
        return found

    spec = None
    try:
        spec = get_spec(plain["formula"])
    except FormulaError as exc:
        found.append(problem(("formula",), str(exc)))
    start, end = date.fromisoformat(plain["start"]), date.fromisoformat(plain["end"])
    if end < start:
        found.append(problem(("end",), f"end {end} is before start {start}; swap or fix them"))
    try:
        _clearing_due(None, None, plain["clearing_due"])
    except ValueError as exc:
        found.append(problem(("clearing_due",), f"{exc}"))
    roles = _roles_of(plain)
    if spec is not None:
        found += [problem((k,), m) for k, m in spec.role_problems(plain)]
    if len(set(roles.values())) < len(roles):
        found.append(problem((next(iter(roles)).split("[")[0],),
                             "the same party code plays two roles; each party appears once"))
    for role, code in roles.items():
        if parties is not None and code not in parties:
            key = (role,) if "[" not in role else ("parties", int(role[8:-1]))
            found.append(problem(key, f"unknown party {code}; add it to parties.toml or fix the "
                                 "code"))
    if sections is not None:
        for i, code in enumerate(plain["sections"]):
            if code not in sections:
                found.append(problem(("sections", i), f"unknown section {code!r}; add it to "
                                     "sections.toml or fix the code"))
    params: Any = plain.get("params", {})
    if spec is not None:
        sch = params_schema_of(spec)
        # nan/inf never reach a schema (jsonschema cannot compare them) nor a formula
        params, bad = finite_copy(params)
        params_found = [
            problem(("params", *p), nonfinite_message(v, node_at(sch, p) if sch else None))
            for p, v in bad
        ]
        params_found += [
            _pinpoint(p, locate)
            for p in params_problems(spec, params, file=file, locate=locate)
            if not any(_under(p.field, ("params", *b)) for b, _ in bad)
        ]
        found += params_found
        if not params_found:
            params = coerce_params(spec, params)
            if sch is not None:
                found += [problem(("params", *p), m)
                          for p, m in _money_problems(sch, params, plain["unit"])]
    if found:
        return found
    assert spec is not None
    agreement = Agreement(
        id=plain["id"], name=plain["name"], formula=plain["formula"],
        sections=plain["sections"], parties=roles, start=start, end=end, unit=plain["unit"],
        clearing_due=plain["clearing_due"], params=params, source=plain["source"],
        confidence=plain["confidence"], file=file, supersedes=plain.get("supersedes"),
        parties_override=(plain.get("parties_override") or {}).get("reason"),
    )  # fmt: skip
    checked = [problem(("params", *p), m) for p, m in spec.semantic_problems(agreement)]
    if isinstance(sections, Mapping):
        checked += [problem(p, m) for p, m in _factor_problems(agreement, sections)]
        if agreement.parties_override is None:
            checked += [problem(p, m)
                        for p, m in _side_problems(agreement, spec.roles, sections, parties)]
    if agreement.supersedes == agreement.id:
        checked.append(problem(("supersedes",), "an agreement cannot supersede itself; name "
                               "the id of the earlier agreement it replaces"))
    return checked or agreement


# --------------------------------------------------------------------------- the watershed


def _factor_problems(
    agreement: Agreement, sections: Mapping[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Listed ``params.factors`` that GB 3838 does not classify on a section's waterbody.

    Such a factor would be left out of the class without a word (e.g. ``tn`` on a river:
    GB 3838 limits total nitrogen for lakes and reservoirs only; ``temp`` has no class).
    """
    from ecocomp.standards import gb3838

    factors = agreement.params.get("factors", "standard")
    if not isinstance(factors, tuple):
        return []
    found = []
    standard = gb3838()
    for i, code in enumerate(factors):
        if not isinstance(code, str) or code not in standard.parameters:
            continue  # unknown codes are reported by the formula's own check
        parameter = standard.parameters[code]
        bad = [s for c in agreement.sections if (s := sections.get(c)) is not None
               and not parameter.classifiable(s.waterbody)]
        if bad:
            waterbodies = sorted({s.waterbody for s in bad})
            where = ", ".join(repr(s.code) for s in bad[:3]) + (" …" if len(bad) > 3 else "")
            why = ("has no class limits in GB 3838" if not any(
                parameter.classifiable(w) for w in ("river", "lake"))
                else f"has no GB 3838 class limits for a {' or '.join(waterbodies)}")
            found.append((("params", "factors", i),
                          f"{code} ({parameter.name}) {why}, so it cannot count towards the "
                          f"class of section {where} ({' / '.join(waterbodies)}); remove it "
                          "from factors (or fix the section's waterbody in sections.toml)"))
    return found


def _contains(parties: Mapping[str, Any] | None, outer: str, inner: str | None) -> bool:
    """Whether party ``outer`` is ``inner`` or a division containing it (parent chain)."""
    seen = 0
    while inner is not None and seen < 8:
        if inner == outer:
            return True
        party = parties.get(inner) if parties is not None else None
        inner = getattr(party, "parent", None)
        seen += 1
    return False


#: Formulas whose sections are all the party's exit (出境) sections: the party is upstream.
_EXIT_FORMULAS = frozenset({"target_reward_penalty"})


def _side_problems(
    agreement: Agreement,
    roles: tuple[str, ...],
    sections: Mapping[str, Any],
    parties: Collection[str] | None,
) -> list[tuple[tuple[str | int, ...], str]]:
    """Parties that contradict the sides of the agreement's sections in sections.toml.

    ``upstream``/``downstream`` agreements: each section's upstream side must be the
    agreement's upstream party (or a division containing it), and likewise downstream; a swap
    flips every payment. ``party``/``counterparty`` agreements: the party must be on the
    upstream side of its exit sections (``exit_sections``, or every section of a
    target_reward_penalty agreement), on the downstream side of its ``entry_sections``, and
    on one side of every other section. A side sections.toml leaves out is not checked.
    """
    known = parties if isinstance(parties, Mapping) else None
    fix = ("; fix the party codes, or declare [parties_override] with a reason if the "
           "agreement deliberately names other parties")

    def at(section: Any, side: str) -> str:
        origin = getattr(section, "origin", None)
        line = origin.line_of(side) if origin is not None else None
        return f" ({origin.file}:{line})" if origin is not None and line else ""

    found: list[tuple[tuple[str | int, ...], str]] = []
    listed = [s for c in agreement.sections if (s := sections.get(c)) is not None]
    if roles == ("upstream", "downstream"):
        up, down = agreement.parties["upstream"], agreement.parties["downstream"]
        for s in listed:
            if s.upstream is None or s.downstream is None:
                pairs = [(r, side) for r, side in (("upstream", s.upstream),
                                                   ("downstream", s.downstream)) if side]
            else:
                pairs = [("upstream", s.upstream), ("downstream", s.downstream)]
            wrong = [(r, side) for r, side in pairs if not _contains(known, agreement.parties[r],
                                                                     side)]
            if not wrong:
                continue
            if (s.upstream is not None and s.downstream is not None
                    and _contains(known, up, s.downstream)
                    and _contains(known, down, s.upstream)):
                found.append((("upstream",),
                              f"upstream {up} and downstream {down} are swapped: sections.toml "
                              f"puts {s.upstream} upstream of section {s.code!r}"
                              f"{at(s, 'upstream')} and {s.downstream} downstream, so every "
                              f"payment would go the wrong way{fix}"))
                continue
            for role, side in wrong:
                found.append(((role,), f"{role} {agreement.parties[role]} is not the party "
                              f"{role} of section {s.code!r}: sections.toml says "
                              f"{side}{at(s, role)}{fix}"))
        return found
    if roles != ("party", "counterparty"):
        return found
    party = agreement.parties["party"]
    params = agreement.params
    exits = set(params.get("exit_sections", ()) or ())
    entries = set(params.get("entry_sections", ()) or ())
    if agreement.formula in _EXIT_FORMULAS:
        exits |= set(agreement.sections)
    for s in listed:
        if s.code in exits and s.upstream is not None and not _contains(known, party,
                                                                        s.upstream):
            found.append((("party",), f"party {party} is not upstream of {s.code!r}, one of "
                          f"its exit (出境) sections: sections.toml says {s.upstream} is "
                          f"upstream{at(s, 'upstream')}{fix}"))
        elif s.code in entries and s.downstream is not None and not _contains(
                known, party, s.downstream):
            found.append((("party",), f"party {party} is not downstream of {s.code!r}, one "
                          f"of its entry (入境) sections: sections.toml says {s.downstream} is "
                          f"downstream{at(s, 'downstream')}{fix}"))
        elif s.code not in exits | entries and (s.upstream or s.downstream) and not any(
                _contains(known, party, side) for side in (s.upstream, s.downstream)):
            found.append((("party",), f"party {party} is on neither side of section "
                          f"{s.code!r}: sections.toml says {s.upstream or '(none)'} upstream "
                          f"and {s.downstream or '(none)'} downstream{at(s, 'upstream')}{fix}"))
    return found


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
            with localcontext() as ctx:
                ctx.prec = len(amount.as_tuple().digits) + 10  # exact: no rounding here
                yuan = amount * (WAN if unit == "wan" else 1)
                if unit != "yuan":
                    converted = f" ({show(yuan.normalize())} yuan)"
        if yuan is None or abs(yuan) > MAX_YUAN:
            found.append((path, f"{written}{converted} is more than {MAX_YUAN:,f} yuan (1万亿), "
                                "the largest amount ecocomp handles; check the amount and the "
                                "unit (`unit` = \"yuan\" or \"wan\")"))
            continue
        with localcontext() as ctx:
            ctx.prec = len(yuan.as_tuple().digits) + 10
            fen = yuan * 100
            whole = fen == fen.to_integral_value()
        if not whole:
            found.append((path, f"{written}{converted} is not a whole number of fen; write at "
                                + ("most 2 decimals in yuan (6 in 万元)" if unit == "yuan"
                                   else "most 6 decimals in 万元 (2 in yuan)")))
    return found


def _pinpoint(problem: Problem, locate: TomlLocator | None) -> Problem:
    """Point an "unknown key" problem at the misspelt key itself (its own line and key)."""
    match = _UNKNOWN.match(problem.message)
    if match is None:
        return problem
    key = match.group(1)
    field = f"{problem.field}.{key}" if problem.field else key
    path = tuple(field.split("."))
    row = locate.line(path) if locate is not None else problem.row
    return attrs.evolve(problem, field=field, row=row)


def _read(path: Path) -> tuple[dict[str, Any] | None, TomlLocator | None, list[Problem]]:
    file = str(path)
    try:
        text = read_project_file(path)
    except ValueError as exc:  # over the size limit
        return None, None, [Problem(str(exc), file=file)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [Problem(f"cannot read the file ({exc}); save it as UTF-8", file=file)]
    if path.suffix.lower() == ".json":
        try:
            # NaN/Infinity as Decimal too, so they are reported like TOML's nan/inf
            data = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
        except RecursionError:
            return None, None, [Problem(too_deep_message(), file=file)]
        except json.JSONDecodeError as exc:
            return None, None, [Problem(f"JSON syntax error: {exc.msg} (column {exc.colno})",
                                        file=file, row=exc.lineno)]
        if not isinstance(data, dict):
            return None, None, [Problem("the file must hold one JSON object", file=file)]
        deep = limit_problem(data)
        if deep is not None:
            return None, None, [Problem(deep[1], file=file,
                                        field=".".join(str(p) for p in deep[0][:2]))]
        return data, None, []
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except RecursionError:
        return None, None, [Problem(too_deep_message(), file=file)]
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        return None, None, [Problem(f"TOML syntax error: {exc}", file=file,
                                    row=int(match.group(1)) if match else None)]
    locate = TomlLocator(text)
    deep = limit_problem(data)
    if deep is not None:
        return None, None, [Problem(deep[1], file=file, row=locate.line(deep[0]),
                                    field=".".join(str(p) for p in deep[0][:2]))]
    return data, locate, []


def _load(
    path: Path, parties: Collection[str] | None, sections: Collection[str] | None
) -> Agreement | list[Problem]:
    data, locate, problems = _read(path)
    if data is None:
        return problems
    return agreement_problems(data, str(path), parties=parties, sections=sections, locate=locate)


def load_agreement(
    path: str | Path,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
) -> Agreement:
    """Load and validate one agreement file (``.toml`` or ``.json``).

    >>> load_agreement("agreements/lishui.toml", parties={"430700", "430800"})  # doctest: +SKIP
    """
    result = _load(Path(path), parties, sections)
    if isinstance(result, Agreement):
        return result
    raise ValidationFailed(result, what=f"agreement file {path}")


def load_agreements(
    folder: str | Path,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
) -> list[Agreement]:
    """Load every ``*.toml``/``*.json`` agreement in ``folder``; all problems of all files at once.

    Agreement ids must be unique across the folder.

    >>> load_agreements("project/agreements")  # doctest: +SKIP
    """
    root = Path(folder)
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".toml", ".json"))
    agreements: list[Agreement] = []
    problems: list[Problem] = [
        Problem(f"{'a folder' if p.is_dir() else 'a file'} that is not an agreement: only "
                "*.toml and *.json files are read here (and *.md notes), so this one would be "
                "ignored; move it out of agreements/ or rename it to .toml", file=str(p))
        for p in sorted(root.iterdir())
        if p not in files and not p.name.startswith((".", "~$"))
        and not (p.is_file() and p.suffix.lower() == ".md")
    ]
    seen: dict[str, str] = {}
    for path in files:
        result = _load(path, parties, sections)
        if isinstance(result, Agreement):
            if result.id in seen:
                problems.append(Problem(f"agreement id {result.id!r} is also used by "
                                        f"{seen[result.id]}; ids must be unique",
                                        file=str(path), field="id"))
            seen.setdefault(result.id, str(path))
            agreements.append(result)
        else:
            problems.extend(result)
    problems += overlap_problems(agreements)
    if problems:
        raise ValidationFailed(problems, what=f"agreements in {root}")
    return agreements


def overlap_problems(agreements: Collection[Agreement]) -> list[Problem]:
    """Agreements that would settle the same thing twice, and ``supersedes`` naming no agreement.

    Two agreements with the same formula and the same parties in the same roles, sharing a
    section, in force on a common day, would both be settled for the common months: the
    money would be paid twice. That is refused unless one names the other in ``supersedes``.
    """
    found: list[Problem] = []
    ids = {a.id for a in agreements}
    for a in agreements:
        if a.supersedes is not None and a.supersedes not in ids:
            found.append(Problem(f"supersedes {a.supersedes!r}, but no agreement of the "
                                 f"project has that id (known: {', '.join(sorted(ids))}); fix "
                                 "the id or remove supersedes", file=a.file, field="supersedes"))
    by_id = {a.id: a for a in agreements}
    for a in agreements:
        other = by_id.get(a.supersedes or "")
        if other is not None and other.supersedes == a.id and a.id < other.id:
            found.append(Problem(f"supersedes {other.id!r}, which supersedes it in turn, so "
                                 "neither would be settled where both are in force; keep "
                                 "supersedes in the newer one only", file=a.file,
                                 field="supersedes"))
    ordered = sorted(agreements, key=lambda a: (a.start, a.file or "", a.id))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if (a.formula != b.formula or dict(a.parties) != dict(b.parties)
                    or not set(a.sections) & set(b.sections)
                    or b.start > a.end or a.start > b.end
                    or a.supersedes == b.id or b.supersedes == a.id):
                continue
            shared = ", ".join(repr(c) for c in a.sections if c in b.sections)
            first, last = max(a.start, b.start), min(a.end, b.end)
            found.append(Problem(
                f"agreement {b.id!r} overlaps agreement {a.id!r} ({a.file or 'same project'}) "
                f"from {first} to {last}: same formula {a.formula}, same parties, section "
                f"{shared}, so those months would be settled twice; end one before the other "
                f"starts, or write supersedes = \"{a.id}\" in {b.id!r} if it replaces it",
                file=b.file, field="supersedes" if b.supersedes else "start",
            ))
    return found


def superseded(agreement: Agreement, period: Period, agreements: Iterable[Agreement]) -> bool:
    """Whether an agreement superseding ``agreement`` is in force on a day of ``period``.

    A superseded agreement is not settled for such a period (month, or year for annual
    formulas): the newer agreement settles it.
    """
    return any(
        other.supersedes == agreement.id and other.id != agreement.id and other.in_force(period)
        for other in agreements
    )


# --------------------------------------------------------------------------- shipped presets


def presets(*, templates: bool = False) -> list[str]:
    """Names of the agreement files shipped in ``ecocomp/presets`` (sorted).

    Templates (:data:`ecocomp.presets.TEMPLATES`: the agreement's shape is known but some
    amounts are not published [U], so the user must supply them) are listed only with
    ``templates=True``.

    >>> "lishui-zjj-cd-2020" in presets(), "lvshui-jx-hn-2022" in presets(templates=True)
    (True, True)
    """
    from ecocomp.presets import TEMPLATES

    folder = resources.files("ecocomp.presets")
    names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
    return names if templates else [n for n in names if n not in TEMPLATES]


def _merged(base: Any, extra: Mapping[str, Any]) -> Any:
    """``base`` with ``extra`` merged in, tables merged key by key (neither is changed)."""
    if not isinstance(base, Mapping):
        return thaw(extra)
    out = dict(base)
    for key, value in extra.items():
        out[key] = (_merged(out[key], value) if isinstance(value, Mapping) and key in out
                    else thaw(value))
    return out


def preset(name: str, *, params: Mapping[str, Any] | None = None) -> Agreement:
    """A shipped agreement by file name (without ``.toml``), validated.

    ``params`` is merged into the file's ``[params]`` (tables key by key) before validation:
    that is how a template's missing amounts are supplied, e.g.
    ``preset("lvshui-jx-hn-2022", params={"rules": {"I": {"amount": 150}, ...}})``.

    >>> preset("lvshui-jx-hn-2019").party_for("upstream")
    '360000'
    """
    from ecocomp.presets import TEMPLATES

    if name not in presets(templates=True):
        raise FormulaError(f"no preset agreement {name!r}; known: "
                           f"{', '.join(presets(templates=True))}")
    file = resources.files("ecocomp.presets").joinpath(f"{name}.toml")
    text = file.read_text(encoding="utf-8")
    data = tomllib.loads(text, parse_float=Decimal)
    if params is not None:
        data["params"] = _merged(data.get("params", {}), params)
    where = f"ecocomp/presets/{name}.toml"
    result = agreement_problems(data, where, locate=TomlLocator(text))
    if isinstance(result, Agreement):
        return result
    what = f"preset {where}"
    if name in TEMPLATES:
        what += (" (a template: its unpublished amounts must be supplied; pass them as "
                 f"preset({name!r}, params={{...}}) or copy the file into your project's "
                 "agreements/ and write them)")
    raise ValidationFailed(result, what=what)
