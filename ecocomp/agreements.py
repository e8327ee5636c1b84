"""Agreements as values: the immutable :class:`Agreement` and the data it is made of.

An agreement says which formula settles it, between whom, over which sections, for which
period, with which parameters, and where its rule comes from (``source``, ``confidence``).
This module holds the plain value and what can be said of agreement values alone (overlaps,
supersession); it imports nothing from :mod:`ecocomp.formulas`. Agreement files are read and
admitted by :mod:`ecocomp.agreement_files`, which asks the formula registry to check roles
and params (:meth:`ecocomp.formulas.registry.FormulaSpec.admit`).

Parties are held as a mapping role → party code: ``upstream``/``downstream`` or
``party``/``counterparty`` as written in the file, and for a list ``parties = [...]`` the
roles ``parties[0]``, ``parties[1]``, … in the order written.

The loading functions (``load_agreements``, ``preset``, …) are still importable from here,
as before; they are looked up in :mod:`ecocomp.agreement_files` when first asked for.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import (
    Callable,
    Collection,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    ValuesView,
)
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import attrs

from ecocomp.errors import FormulaError, Problem
from ecocomp.money import unit_to_yuan
from ecocomp.periods import Period, Quarter

__all__ = [
    "CONFIDENCES",
    "ROLE_KEYS",
    "Agreement",
    "FrozenDict",
    "clearing_due_problem",
    "freeze",
    "overlap_problems",
    "roles_of",
    "superseded",
    "thaw",
    "unfrozen",
]

Confidence = Literal["confirmed", "inferred", "placeholder"]
Unit = Literal["yuan", "wan"]
CONFIDENCES: tuple[str, ...] = ("confirmed", "inferred", "placeholder")
#: Top-level keys of an agreement file that name parties (SPEC §4).
ROLE_KEYS: tuple[str, ...] = (
    "upstream", "downstream", "party", "counterparty", "parties", "payer")
_CLEARING = re.compile(r"^(\d{2})-(\d{2})$")
#: What ``from ecocomp.agreements import load_agreements`` (and the like) still finds: the
#: loading lives a floor above the formula registry, in :mod:`ecocomp.agreement_files`.
_LOADING = frozenset({
    "agreement_from_dict", "agreement_problems", "load_agreement", "load_agreements",
    "preset", "presets",
})


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

    # the dict's own views and lookups, not Mapping's generic ones (a Python call a key)
    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> KeysView[str]:
        return self._data.keys()

    def values(self) -> ValuesView[Any]:
        return self._data.values()

    def items(self) -> ItemsView[str, Any]:
        return self._data.items()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    @classmethod
    def adopt(cls, data: dict[str, Any]) -> FrozenDict:
        """A FrozenDict over ``data`` itself, not a copy: for a dict just built, which
        nothing else holds or changes (the constructor copies what it is given)."""
        frozen = cls.__new__(cls)
        frozen._data = data
        frozen._hash = None
        return frozen


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
    kind = type(value)
    if kind in _LEAVES:
        return value
    # the usual containers by exact type (no ABC check), their leaves without a call
    if kind is FrozenDict:
        return {k: v if type(v) in _LEAVES else thaw(v) for k, v in value._data.items()}
    if kind is tuple or kind is list:
        return [v if type(v) in _LEAVES else thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


#: Values :func:`thaw` returns as they are, by exact type.
_LEAVES = frozenset({str, int, bool, type(None), Decimal})


def unfrozen(value: object) -> dict[str, Any]:
    """``json.dumps(data, default=unfrozen)`` writes frozen data (FrozenDicts, tuples) as
    ``json.dumps(thaw(data))`` does, without building the thawed copy first.

    >>> import json
    >>> json.dumps(freeze({"a": [1, {"b": "水"}]}), ensure_ascii=False, default=unfrozen)
    '{"a": [1, {"b": "水"}]}'
    """
    if type(value) is FrozenDict:
        return value._data
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


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

    >>> from ecocomp.agreement_files import preset
    >>> a = preset("lishui-zjj-cd-2020")
    >>> a.party_for("downstream"), a.due_date(2021), a.to_yuan(80)
    ('430700', datetime.date(2022, 4, 30), Decimal('800000.00'))
    """

    id: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    name: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    formula: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    #: The sections the formula reads (none for a formula that reads no measurements).
    sections: tuple[str, ...] = attrs.field(converter=tuple)
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

def clearing_due_problem(value: str) -> str | None:
    """Why ``value`` is not a clearing day (``MM-DD`` of a non-leap year), or None."""
    try:
        _clearing_due(None, None, value)
    except ValueError as exc:
        return str(exc)
    return None


def roles_of(data: Mapping[str, Any]) -> dict[str, str]:
    """Role → party code of agreement data: ``payer`` first, then ``parties[0]``, … or the
    named roles."""
    payer = {"payer": str(data["payer"])} if "payer" in data else {}
    if "parties" in data:
        return payer | {f"parties[{i}]": str(code) for i, code in enumerate(data["parties"])}
    return payer | {r: str(data[r]) for r in ROLE_KEYS[:4] if r in data}


#: The spans a formula settles whole, narrowest first.
_SPANS = ("day", "month", "quarter", "year")


def _span_of(day: date, span: str) -> tuple[date, date]:
    """The first and last day of the ``span`` (``day``, ``month``, ``quarter`` or ``year``)
    that holds ``day``."""
    if span == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if span == "quarter":
        quarter = Quarter.of(day)
        return quarter.start, quarter.end
    if span == "month":
        month = Period(day.year, day.month)
        return month.start, month.end
    return day, day


def _settled(agreement: Agreement, span: str) -> tuple[date, date]:
    """The first and last day of the periods ``agreement`` is settled for, when its formula
    settles whole periods of ``span`` (``day``, ``month``, ``quarter`` or ``year``)."""
    return _span_of(agreement.start, span)[0], _span_of(agreement.end, span)[1]


def _same_scheme(a: Agreement, b: Agreement) -> bool:
    """Whether two agreements settle the same thing when in force together: the same
    formula, the same parties in the same roles, a section in common (or neither names
    one)."""
    return (a.formula == b.formula and _same_parties(a) == _same_parties(b)
            and bool(set(a.sections) & set(b.sections) or not (a.sections or b.sections)))


def overlap_problems(
    agreements: Collection[Agreement], *, span: Callable[[Agreement], str] | None = None,
) -> list[Problem]:
    """Agreements that would settle the same thing twice, and ``supersedes`` naming no agreement.

    Two agreements with the same formula and the same parties in the same roles, sharing a
    section, in force on a common day, would both be settled for the common months: the
    money would be paid twice. That is refused unless one names the other in ``supersedes``.
    ``span(agreement)`` says what its formula settles whole: ``"month"`` (a month in force
    on any day is settled in full), ``"year"`` (annual formulas) or ``"day"`` (prorated
    formulas, the default when not given); two agreements that settle one month (or year)
    are refused even when one ends the day before the other starts, as both would settle
    all of it; of two spans, the wider decides. :func:`ecocomp.agreement_files.load_agreements`
    passes each formula's span.
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
    # only agreements of one formula and the same parties that share a section (or both
    # name none) can overlap: compare those pairs alone, in the order of every pair. A list
    # of parties (parties[0], parties[1], …) is the same parties in any order.
    groups: dict[tuple[str, frozenset[tuple[str, str]], str | None], list[int]] = (
        defaultdict(list))
    for i, a in enumerate(ordered):
        key = a.formula, _same_parties(a)
        for code in set(a.sections) or (None,):
            groups[(*key, code)].append(i)
    pairs = sorted({(i, j) for group in groups.values() if len(group) > 1
                    for n, i in enumerate(group) for j in group[n + 1:]})
    for i, j in pairs:
        a, b = ordered[i], ordered[j]
        # the wider span of the two: a yearly air ladder settles all of the year in which
        # a monthly one of the same parties ends, whichever of them starts first
        unit = max(span(a), span(b), key=_SPANS.index) if span is not None else "day"
        (a_first, a_last), (b_first, b_last) = _settled(a, unit), _settled(b, unit)
        if not _same_scheme(a, b) or b_first > a_last or a_first > b_last:
            continue
        if a.supersedes == b.id or b.supersedes == a.id:
            newer, older = (a, b) if a.supersedes == b.id else (b, a)
            wide = _settled(newer, unit)[0]
            if span is not None and span(a) != span(b) and newer.start != wide:
                # settlement asks month by month which one settles: a yearly (or quarterly)
                # one from mid-span settles all of its span, the months before it too
                found.append(Problem(
                    f"agreement {newer.id!r} supersedes {older.id!r} from {newer.start}, but "
                    f"one settles whole {span(newer)}s and the other whole {span(older)}s: "
                    f"the {unit} from {wide} would be settled by both, or by neither; start "
                    f"{newer.id!r} on the first day of a {unit} ({_next_start(newer, unit)}) "
                    f"and end {older.id!r} on the day before",
                    file=newer.file, field="start"))
            continue
        shared = ", ".join(repr(c) for c in a.sections if c in b.sections) or "(none)"
        first, last = max(a.start, b.start), min(a.end, b.end)
        if first > last:  # no common day, but a common month (or year) settled in full
            earlier, later = (a, b) if a.end < b.start else (b, a)
            # the period the shared span's obligations are booked in, as the settlement
            # asks whether they are superseded: a quarter's is its last month
            last_day = _span_of(later.start, unit)[1]
            period = (Period(last_day.year) if unit == "year"
                      else Period(last_day.year, last_day.month))
            if any(superseded(x, period, agreements) for x in (earlier, later)):
                continue  # a third agreement settles that period for one of them
            common = str(Quarter.of(later.start)) if unit == "quarter" else str(period)
            found.append(Problem(
                f"agreement {later.id!r} starts {later.start}, in the {unit} {common} in "
                f"which agreement {earlier.id!r} ({earlier.file or 'same project'}) ends "
                f"({earlier.end}): formula {a.formula} settles whole {unit}s, so both would "
                f"settle {common} in full (paid twice); start {later.id!r} on the first day "
                f"of a {unit} and end {earlier.id!r} on the day before, or write supersedes "
                f"= \"{earlier.id}\" in {later.id!r} if it replaces it",
                file=later.file, field="supersedes" if later.supersedes else "start",
            ))
            continue
        found.append(Problem(
            f"agreement {b.id!r} overlaps agreement {a.id!r} ({a.file or 'same project'}) "
            f"from {first} to {last}: same formula {a.formula}, same parties, section "
            f"{shared}, so those months would be settled twice; end one before the other "
            f"starts, or write supersedes = \"{a.id}\" in {b.id!r} if it replaces it",
            file=b.file, field="supersedes" if b.supersedes else "start",
        ))
    reported = {(ordered[i].id, ordered[j].id) for i, j in pairs}
    return found + _area_overlaps([a for a in ordered if a.formula == "area_rate"], reported)


def part_span_warnings(
    agreements: Collection[Agreement], *, span: Callable[[Agreement], str],
) -> list[Problem]:
    """Agreements that start or end inside a span their formula settles whole (``span``:
    ``"month"``, ``"quarter"`` or ``"year"``; ``"day"`` is prorated), with no other
    agreement of the same formula and parties for the rest of it: that span is settled in
    full, not in part. Possible (a start backdated to the month), but a part month is not
    paid as a part, so it is said (warnings, not problems)."""
    found = []
    for a in agreements:
        unit = span(a)
        if unit == "day":
            continue
        first, last = _settled(a, unit)
        for field, day, rest in (("start", a.start, (first, a.start - timedelta(days=1))),
                                 ("end", a.end, (a.end + timedelta(days=1), last))):
            if rest[0] > rest[1] or any(
                    b is not a and _same_scheme(a, b) and b.start <= rest[1]
                    and rest[0] <= b.end for b in agreements):
                continue
            found.append(Problem(
                f"{field} {day} is inside a {unit} ({rest[0]} to {rest[1]} is outside the "
                f"agreement), and formula {a.formula} settles whole {unit}s: that {unit} is "
                f"settled in full, not for its part; if a part is meant, it cannot be paid "
                f"as one by this formula (a warning: the agreement still settles as written)",
                file=a.file, field=field))
    return found


def _next_start(agreement: Agreement, span: str) -> date:
    """The first day of the first whole ``span`` (month, quarter or year) from the
    agreement's start."""
    first, last = _span_of(agreement.start, span)
    return first if first == agreement.start else last + timedelta(days=1)


def _same_parties(agreement: Agreement) -> frozenset[tuple[str, str]]:
    """The agreement's (role, party) pairs, a list's roles (``parties[0]``…) as ``parties``."""
    return frozenset((re.sub(r"\[\d+\]$", "", role), code)
                     for role, code in agreement.parties.items())


def _area_days(agreement: Agreement, party: str) -> tuple[date, date]:
    """The first and last day ``party`` is in an ``area_rate`` agreement's scheme."""
    term = agreement.params.get("terms", {}).get(party, {})
    first = max(agreement.start, date.fromisoformat(str(term.get("from") or agreement.start)))
    last = min(agreement.end, date.fromisoformat(str(term.get("to") or agreement.end)))
    return first, last


def _area_overlaps(agreements: list[Agreement], reported: set[tuple[str, str]],
                   ) -> list[Problem]:
    """``area_rate`` agreements of one payer paying a party for the same category on a common
    day (a renewal listing its villages in another order, or adding one): paid twice."""
    found = []
    for n, a in enumerate(agreements):
        for b in agreements[n + 1:]:
            if ((a.id, b.id) in reported or a.parties.get("payer") != b.parties.get("payer")
                    or a.supersedes == b.id or b.supersedes == a.id):
                continue
            twice = []
            for code, category in b.params.get("categories", {}).items():
                other = a.params.get("categories", {}).get(code, {}).get("area_by_party", {})
                for party in category.get("area_by_party", {}):
                    if party not in other:
                        continue
                    (a1, a2), (b1, b2) = _area_days(a, party), _area_days(b, party)
                    if max(a1, b1) <= min(a2, b2):
                        twice.append(f"{party} ({code}) from {max(a1, b1)} to {min(a2, b2)}")
            if twice:
                found.append(Problem(
                    f"agreement {b.id!r} pays {', '.join(twice)}, which agreement {a.id!r} "
                    f"({a.file or 'same project'}) pays too, so those days would be paid twice; "
                    "end one before the other starts (or the party's terms), or write "
                    f"supersedes = \"{a.id}\" in {b.id!r} if it replaces it", file=b.file,
                    field="supersedes" if b.supersedes else "start"))
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


def __getattr__(name: str) -> Any:
    # the loading functions, where older code imports them from (see _LOADING)
    if name in _LOADING:
        from ecocomp import agreement_files

        return getattr(agreement_files, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
