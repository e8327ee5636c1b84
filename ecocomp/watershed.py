"""Parties, sections and the river network they form (结算主体, 断面, 流域).

A :class:`Party` is a government named by its GB/T 2260 division code; a :class:`Section` is a
monitoring point on a river or lake, with the party upstream and the party downstream of it
when it marks a boundary, its target class and the next section downstream. A
:class:`Watershed` holds both and checks the network: every party a section names is known,
no section points back upstream into a cycle, a parent contains its child.

The files are ``parties.toml`` (``[[party]]`` tables) and ``sections.toml`` (``[[section]]``
tables), validated against ``schemas/parties.schema.json`` and ``schemas/sections.schema.json``
and then structured with cattrs; every problem of a file is collected, located as
``file:line:key``, before one :class:`~ecocomp.errors.ValidationFailed` is raised. The bundled
reference dataset (:func:`reference_watershed`) loads through the same path. docs/watershed.md
describes the formats, the rules and the dataset.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError

from ecocomp.errors import EcocompError, InputError, Problem, ValidationFailed
from ecocomp.money import as_decimal
from ecocomp.standards import Waterbody, WaterClass
from ecocomp.validation import (
    TomlLocator,
    limit_problem,
    read_project_file,
    schema,
    schema_problems,
    too_deep_message,
)

__all__ = [
    "BASINS",
    "CONFIDENCES",
    "GOVERNMENT_LEVELS",
    "NON_GOVERNMENT_LEVELS",
    "PARTY_LEVELS",
    "SECTION_LEVELS",
    "WATERBODIES",
    "Origin",
    "Party",
    "Section",
    "Watershed",
    "level_of_code",
    "load_parties",
    "load_sections",
    "load_watershed",
    "reference_watershed",
]

PartyLevel = Literal["province", "city", "county", "collective", "household", "agency"]
Basin = Literal["湘江", "资水", "沅江", "澧水", "洞庭湖", "长江", "other"]
SectionLevel = Literal["national", "provincial", "city"]
Confidence = Literal["confirmed", "partial", "inferred", "unknown"]

PARTY_LEVELS: tuple[str, ...] = (
    "province", "city", "county", "collective", "household", "agency")
#: Governments, coded by GB/T 2260.
GOVERNMENT_LEVELS: tuple[str, ...] = ("province", "city", "county")
#: Payees that are not governments (生态保护补偿条例 Art. 2): a village collective (村集体), a
#: household (农户) and an agency (e.g. a national park's 管理局). Each has a code of its own:
#: its parent's code, ``-`` and a slug, e.g. ``430529-baiyun-cun`` under 城步县 430529.
NON_GOVERNMENT_LEVELS: tuple[str, ...] = ("collective", "household", "agency")
#: The levels a non-government party's parent may have.
_PARENT_LEVELS = {"collective": ("county",), "household": ("county", "collective"),
                  "agency": ("province", "city", "county")}
BASINS: tuple[str, ...] = ("湘江", "资水", "沅江", "澧水", "洞庭湖", "长江", "other")
WATERBODIES: tuple[str, ...] = ("river", "lake")
SECTION_LEVELS: tuple[str, ...] = ("national", "provincial", "city")
CONFIDENCES: tuple[str, ...] = ("confirmed", "partial", "inferred", "unknown")

# The first two digits of every GB/T 2260 code name a province-level division; anything
# else is a typo (e.g. 930000 for 430000), caught here rather than as an "unknown party".
_PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})  # fmt: skip
_PARTY_CODE = re.compile(r"^[0-9]{6}$")
#: A non-government party's code: a GB/T 2260 code, then up to 4 ``-slug`` parts.
_OWN_CODE = re.compile(r"^[0-9]{6}(?:-[a-z0-9]{1,24}){1,4}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")
_RANK = {"province": 0, "city": 1, "county": 2}
# Suggest a party code only when 5 of its 6 digits match: nearer misses among digits are noise.
_CODE_CUTOFF = 0.8


class _FieldError(ValueError):
    """A value that cannot make a valid Party or Section; ``field`` names the key."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def level_of_code(code: str) -> PartyLevel:
    """The level a GB/T 2260 code has by its shape: XX0000 province, XXYY00 city, else county.

    >>> level_of_code("430700"), level_of_code("430281")
    ('city', 'county')
    """
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "city"
    return "county"


def _party_code_problem(value: object, *, own: bool = False) -> str | None:
    """Why ``value`` is not a party code (``own``: a non-government party's code is allowed)."""
    if own and isinstance(value, str) and _OWN_CODE.match(value):
        value = value[:6]
    elif not isinstance(value, str) or not _PARTY_CODE.match(value):
        if own:
            return (f"{value!r} is not a 6-digit GB/T 2260 code such as '430700', nor a "
                    "collective's, household's or agency's code such as '430529-baiyun-cun' "
                    "(its parent's code, '-', and lower-case letters and digits)")
        return f"{value!r} is not a 6-digit GB/T 2260 code such as '430700'"
    if value[:2] not in _PROVINCES:
        return (
            f"{value!r} is not a GB/T 2260 code: no province starts with {value[:2]!r} "
            "(湖南 is 43xxxx); check the digits"
        )
    return None


def _text(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, str) or not value.strip():
        raise _FieldError(attribute.name, f"{attribute.name} must be non-empty text, not {value!r}")


def _optional_text(instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if value is not None:
        _text(instance, attribute, value)


def _one_of(choices: tuple[str, ...], *, optional: bool = False) -> Callable[..., None]:
    def check(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
        if optional and value is None:
            return
        if value not in choices:
            raise _FieldError(
                attribute.name,
                f"{attribute.name} {value!r} is not one of {', '.join(choices)}",
            )

    return check


# --------------------------------------------------------------------------- values


@attrs.frozen
class Origin:
    """Where a party or section was read: the file, its place in the file, the lines of its keys.

    Carried by objects a loader built (never compared), so that a network problem found later
    still names ``file:line:key``, as beancount's entries carry their source.
    """

    file: str
    index: int
    line: int | None = None
    key_lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, key: str | None) -> int | None:
        """The line of ``key`` in the table, or the table's own line."""
        return dict(self.key_lines).get(key or "", self.line)


def _check_party_code(instance: Party, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    problem = _party_code_problem(value, own=True)
    if problem:
        raise _FieldError("code", f"party code {problem}")


def _check_party_level(instance: Party, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    _one_of(PARTY_LEVELS)(instance, attribute, value)
    own = not _PARTY_CODE.match(instance.code)
    if own and value in GOVERNMENT_LEVELS:
        raise _FieldError(
            "level",
            f"party {instance.code}: a code with a name part is a collective's, household's or "
            f"agency's, not a {value}'s; give level = \"collective\", \"household\" or "
            "\"agency\", or write the 6-digit GB/T 2260 code",
        )
    if value in NON_GOVERNMENT_LEVELS:
        if not own:
            raise _FieldError(
                "level",
                f"party {instance.code}: a {value} has a code of its own, its parent's code, '-' "
                f"and a name, e.g. '{instance.code}-baiyun-cun' (the 6-digit code stays the "
                "government's); fix the code or the level",
            )
        return
    shape = level_of_code(instance.code)
    if value != shape:
        raise _FieldError(
            "level",
            f"party {instance.code}: level {value!r} does not match the code, which is a "
            f"{shape}'s (GB/T 2260: XX0000 province, XXYY00 city, other codes county); "
            "fix the level or the code",
        )


def _check_own_parent(instance: Party, value: object) -> None:
    """The parent of a collective, household or agency: required, and its code's prefix."""
    allowed = _PARENT_LEVELS[instance.level]
    kinds = " or ".join(allowed)
    if value is None:
        raise _FieldError("parent", f"party {instance.code} ({instance.level}) needs a parent: "
                                    f"the {kinds} it belongs to, e.g. parent = "
                                    f"\"{instance.code[:6]}\"")
    problem = _party_code_problem(value, own="collective" in allowed)
    if problem:
        raise _FieldError("parent", f"party {instance.code}: parent {problem}")
    assert isinstance(value, str)
    level = level_of_code(value) if _PARTY_CODE.match(value) else "collective"
    if level not in allowed or not instance.code.startswith(value + "-"):
        raise _FieldError(
            "parent",
            f"party {instance.code} ({instance.level}): {value} cannot be its parent; the "
            f"parent of a {instance.level} is the {kinds} it belongs to, and the party's code "
            f"is the parent's code, '-' and a name (e.g. {value}-{instance.code.split('-')[-1]})",
        )


def _check_parent(instance: Party, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if instance.level in NON_GOVERNMENT_LEVELS:
        _check_own_parent(instance, value)
        return
    if value is None:
        return
    problem = _party_code_problem(value)
    if problem:
        raise _FieldError("parent", f"party {instance.code}: parent {problem}")
    assert isinstance(value, str)
    if instance.level == "province":
        raise _FieldError(
            "parent", f"party {instance.code} is a province and has no parent; remove parent"
        )
    parent_level = level_of_code(value)
    # A parent is a province, or (for a county) a city; its code is the child's prefix.
    prefix = value[:2] if parent_level == "province" else value[:4]
    if _RANK[parent_level] >= _RANK[instance.level] or not instance.code.startswith(prefix):
        raise _FieldError(
            "parent",
            f"party {instance.code} ({instance.level}): {value} cannot be its parent; a parent "
            f"is a province ({instance.code[:2]}0000)"
            + (f" or a city ({instance.code[:4]}00)" if instance.level == "county" else "")
            + " whose code starts the child's code",
        )


@attrs.frozen
class Party:
    """A party that pays or receives compensation (结算主体).

    A government by GB/T 2260 code: the level must match the shape of the code, and a parent
    must contain the party (430281 醴陵市 → 430200 株洲市 → 430000 湖南省). A collective,
    household or agency (:data:`NON_GOVERNMENT_LEVELS`) has a code of its own, its parent's
    code, ``-`` and a name, and must name that parent (a county, for a village collective).

    >>> Party("430700", "常德市", "city", parent="430000").level
    'city'
    >>> Party("430529-baiyun-cun", "白云村", "collective", parent="430529").parent
    '430529'
    """

    code: str = attrs.field(validator=_check_party_code)
    name: str = attrs.field(validator=_text)
    level: PartyLevel = attrs.field(validator=_check_party_level)
    parent: str | None = attrs.field(default=None, validator=_check_parent)
    origin: Origin | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def label(self) -> str:
        """``430700 常德市``, for messages."""
        return f"{self.code} {self.name}"


def _to_class(value: object) -> WaterClass | None:
    if value is None:
        return None
    try:
        return WaterClass.parse(value)
    except EcocompError as exc:
        if "no class Ⅵ" in str(exc):
            raise _FieldError("target", f"target {exc}") from None
        raise _FieldError(
            "target",
            f"target {value!r} is not a water class; use I, II, III, IV, V or worse_than_V "
            "(Ⅰ…Ⅴ and 劣Ⅴ also work)",
        ) from None


def _to_flow(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return as_decimal(value, what="eco_flow")
    except (TypeError, ValueError) as exc:
        raise _FieldError("eco_flow", f'{exc}; write the flow in m³/s, e.g. "85.5"') from None


def _check_section_code(instance: Section, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, str) or not _SLUG.match(value):
        raise _FieldError(
            "code",
            f"section code {value!r} is not an ASCII slug (lower-case letters, digits, '-', "
            "'_'), e.g. 'zhutingzhen'; keep the Chinese name in name",
        )


def _check_side(instance: Section, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if value is None:
        return
    problem = _party_code_problem(value)
    if problem:
        raise _FieldError(attribute.name, f"section {instance.code!r}: {attribute.name} {problem}")
    if attribute.name == "downstream" and value == instance.upstream:
        raise _FieldError(
            "downstream",
            f"section {instance.code!r}: upstream and downstream are both {value}; a boundary "
            "section separates two different parties",
        )


def _check_target(instance: Section, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if value is not None and not isinstance(value, WaterClass):
        raise _FieldError("target", f"section {instance.code!r}: target {value!r} is not a class")


def _check_downstream_section(instance: Section, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if value is None:
        return
    if not isinstance(value, str) or not _SLUG.match(value):
        raise _FieldError(
            "downstream_section",
            f"section {instance.code!r}: downstream_section {value!r} is not a section code",
        )
    if value == instance.code:
        raise _FieldError(
            "downstream_section",
            f"section {instance.code!r} names itself as its downstream_section; name the next "
            "section downstream, or leave it out",
        )


def _check_flow(instance: Section, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if value is not None and not (isinstance(value, Decimal) and value > 0):
        raise _FieldError(
            "eco_flow", f"section {instance.code!r}: eco_flow {value} must be a positive m³/s"
        )


@attrs.frozen
class Section:
    """A monitoring section (断面) and, when it marks a boundary, the parties on either side.

    ``upstream``/``downstream`` are party codes: a boundary section has both (and they
    differ); an outlet into a lake or a section whose neighbour is unknown may have only one.
    ``downstream_section`` links the network. ``confidence`` is the weakest mark among the
    facts the record states (docs/watershed.md).

    >>> s = Section("zhutingzhen", "朱亭镇", "湘江", "湘江", "river",
    ...             upstream="430400", downstream="430200", target="Ⅲ")
    >>> s.target.code, s.is_boundary
    ('III', True)
    """

    code: str = attrs.field(validator=_check_section_code)
    name: str = attrs.field(validator=_text)
    river: str = attrs.field(validator=_text)
    basin: Basin = attrs.field(validator=_one_of(BASINS))
    waterbody: Waterbody = attrs.field(validator=_one_of(WATERBODIES))
    upstream: str | None = attrs.field(default=None, validator=_check_side)
    downstream: str | None = attrs.field(default=None, validator=_check_side)
    target: WaterClass | None = attrs.field(
        default=None, converter=_to_class, validator=_check_target
    )
    level: SectionLevel | None = attrs.field(
        default=None, validator=_one_of(SECTION_LEVELS, optional=True)
    )
    downstream_section: str | None = attrs.field(default=None, validator=_check_downstream_section)
    eco_flow: Decimal | None = attrs.field(default=None, converter=_to_flow, validator=_check_flow)
    source: str | None = attrs.field(default=None, validator=_optional_text)
    confidence: Confidence | None = attrs.field(
        default=None, validator=_one_of(CONFIDENCES, optional=True)
    )
    note: str | None = attrs.field(default=None, validator=_optional_text)
    origin: Origin | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def is_boundary(self) -> bool:
        """True when the section separates two parties (both sides are set)."""
        return self.upstream is not None and self.downstream is not None

    @property
    def label(self) -> str:
        """``'zhutingzhen' (朱亭镇)``, for messages."""
        return f"{self.code!r} ({self.name})"


# --------------------------------------------------------------------------- the network


def _frozen_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _keyed_by_code(kind: type) -> Callable[..., None]:
    def check(_instance: object, attribute: attrs.Attribute, value: Mapping[str, Any]) -> None:  # type: ignore[type-arg]
        for key, item in value.items():
            if not isinstance(item, kind):
                raise TypeError(f"{attribute.name}[{key!r}] is not a {kind.__name__}: {item!r}")
            if key != item.code:
                raise ValueError(f"{attribute.name}[{key!r}] holds {kind.__name__} {item.code!r}")

    return check


def _suggest(
    wanted: str, codes: Iterable[str], names: Mapping[str, str], *, cutoff: float = 0.6
) -> str:
    """`` (did you mean 'a' or 'b'?)`` from close codes and names, or ``""``.

    Party codes are digits, where near misses are mostly noise: pass a higher ``cutoff``.
    """
    codes = [c for c in codes if c != wanted]
    by_name = {name: code for code, name in names.items()}
    if wanted in by_name:
        return f"; that is the name of {by_name[wanted]!r}, use its code"
    close = difflib.get_close_matches(wanted, codes, n=3, cutoff=cutoff)
    close += [by_name[n] for n in difflib.get_close_matches(wanted, list(by_name), n=3, cutoff=0.5)]
    close = list(dict.fromkeys(close))[:3]
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"{c!r} {names[c]}" for c in close) + "?)"


@attrs.frozen
class Watershed:
    """Parties and sections, with the network checks and the walks the formulas need.

    Construction checks only that each mapping is keyed by its objects' codes; the network
    (known parties, no cycles) is checked by :meth:`problems` / :meth:`check`, so that a
    loader can report every problem at once.

    >>> ws = reference_watershed()
    >>> [s.code for s in ws.exit_sections("431100")]
    ['guiyangzhen']
    """

    parties: Mapping[str, Party] = attrs.field(
        converter=_frozen_map, validator=_keyed_by_code(Party)
    )
    sections: Mapping[str, Section] = attrs.field(
        converter=_frozen_map, validator=_keyed_by_code(Section)
    )

    # ----------------------------------------------------------------- look-ups

    def party(self, code: str) -> Party:
        """The party with this code; an InputError naming close matches if there is none.

        >>> reference_watershed().party("430700").name
        '常德市'
        """
        try:
            return self.parties[code]
        except KeyError:
            hint = self._suggest_party(str(code))
            raise InputError(
                f"unknown party {code!r}{hint}; parties are named by their 6-digit GB/T 2260 code",
            ) from None

    def section(self, code: str) -> Section:
        """The section with this code; an InputError naming close matches if there is none.

        >>> reference_watershed().section("zhutingzhen").name
        '朱亭镇'
        """
        try:
            return self.sections[code]
        except KeyError:
            names = {c: s.name for c, s in self.sections.items()}
            raise InputError(
                f"unknown section {code!r}{_suggest(str(code), self.sections, names)}; "
                "sections are named by their code in sections.toml",
            ) from None

    def _suggest_party(self, wanted: str, exclude: str | None = None) -> str:
        names = {c: p.name for c, p in self.parties.items() if c != exclude}
        return _suggest(wanted, names, names, cutoff=_CODE_CUTOFF)

    def is_within(self, code: str, ancestor: str) -> bool:
        """True when party ``code`` is ``ancestor`` or lies inside it (by the parent links).

        >>> reference_watershed().is_within("430281", "430000")
        True
        """
        seen: set[str] = set()
        current: str | None = code
        while current is not None and current not in seen:
            if current == ancestor:
                return True
            seen.add(current)
            party = self.parties.get(current)
            current = party.parent if party is not None else None
        return False

    def exit_sections(self, party: str, *, nested: bool = False) -> list[Section]:
        """Sections where water leaves ``party`` (出境断面): its code is their ``upstream``.

        With ``nested=True``: sections leaving ``party`` or any party inside it for a known
        party outside it (a 湘江 city boundary is not an exit of 湖南; an outlet whose other
        side is unknown is left out).

        >>> [s.code for s in reference_watershed().exit_sections("430000", nested=True)]
        ['meitianzhen']
        """
        self.party(party)
        return [
            s
            for s in self.sections.values()
            if self._crosses(s.upstream, s.downstream, party, nested)
        ]

    def entry_sections(self, party: str, *, nested: bool = False) -> list[Section]:
        """Sections where water enters ``party`` (入境断面): its code is their ``downstream``.

        >>> [s.code for s in reference_watershed().entry_sections("430200")]
        ['zhutingzhen']
        """
        self.party(party)
        return [
            s
            for s in self.sections.values()
            if self._crosses(s.downstream, s.upstream, party, nested)
        ]

    def _crosses(self, side: str | None, other: str | None, party: str, nested: bool) -> bool:
        if side is None:
            return False
        if not nested:
            return side == party
        return (
            other is not None and self.is_within(side, party) and not self.is_within(other, party)
        )

    def downstream_of(self, section: str) -> list[Section]:
        """The sections below ``section``, nearest first, following ``downstream_section``.

        >>> [s.code for s in reference_watershed().downstream_of("pingtang")]
        ['zhangshugang', 'quyuan']
        """
        self.section(section)
        found: list[Section] = []
        seen = {section}
        current = self.sections[section].downstream_section
        while current is not None and current in self.sections and current not in seen:
            seen.add(current)
            found.append(self.sections[current])
            current = self.sections[current].downstream_section
        return found

    def upstream_of(self, section: str) -> list[Section]:
        """Every section whose water reaches ``section``, nearest first (breadth-first).

        >>> [s.code for s in reference_watershed().upstream_of("guiyangzhen")]
        ['lvbutou']
        """
        self.section(section)
        feeders: dict[str, list[str]] = {}
        for s in self.sections.values():
            if s.downstream_section is not None:
                feeders.setdefault(s.downstream_section, []).append(s.code)
        found: list[Section] = []
        seen = {section}
        frontier = [section]
        while frontier:
            following: list[str] = []
            for code in frontier:
                for feeder in feeders.get(code, ()):
                    if feeder not in seen:
                        seen.add(feeder)
                        found.append(self.sections[feeder])
                        following.append(feeder)
            frontier = following
        return found

    # ----------------------------------------------------------------- checks

    def problems(self) -> list[Problem]:
        """Every inconsistency of the network, located where the objects were read.

        Checks: parents, upstream and downstream parties are known; the two sides of a
        section do not contain each other; downstream_section names a known section; the
        downstream_section links have no cycle. (What a single party or section can get
        wrong is refused when it is built.)

        >>> reference_watershed().problems()
        []
        """
        found: list[Problem] = []
        for party in self.parties.values():
            if party.parent is not None and party.parent not in self.parties:
                found.append(_problem(
                    "party", party, "parent",
                    f"party {party.label}: parent {party.parent} is not among the parties"
                    f"{self._suggest_party(party.parent, party.code)}; add it to the "
                    "parties or fix the code",
                ))  # fmt: skip
        section_names = {c: s.name for c, s in self.sections.items()}
        for s in self.sections.values():
            for key in ("upstream", "downstream"):
                code = getattr(s, key)
                if code is not None and code not in self.parties:
                    found.append(_problem(
                        "section", s, key,
                        f"section {s.label}: {key} party {code} is not among the parties"
                        f"{self._suggest_party(code)}; add it to the parties "
                        "or fix the code",
                    ))  # fmt: skip
            if s.is_boundary and s.upstream in self.parties and s.downstream in self.parties:
                assert s.upstream is not None and s.downstream is not None
                for outer, inner in ((s.upstream, s.downstream), (s.downstream, s.upstream)):
                    if self.is_within(inner, outer):
                        found.append(_problem(
                            "section", s, "downstream",
                            f"section {s.label}: {self.parties[outer].label} contains "
                            f"{self.parties[inner].label}, so the section is not between two "
                            "parties; name the neighbouring party on the other side",
                        ))  # fmt: skip
            link = s.downstream_section
            if link is not None and link not in self.sections:
                found.append(_problem(
                    "section", s, "downstream_section",
                    f"section {s.label}: downstream_section {link!r} is not among the "
                    f"sections{_suggest(link, self.sections, section_names)}; add it or fix "
                    "the code",
                ))  # fmt: skip
        found.extend(self._cycles())
        # In file order, so a user fixes a file top to bottom (stable where nothing is known).
        return sorted(found, key=lambda p: (p.file or "", p.row or 0))

    def _cycles(self) -> list[Problem]:
        # Each section has at most one downstream link, so a walk from any start either ends
        # or runs into a cycle; each cycle is reported once, at its first member in order.
        order = {code: i for i, code in enumerate(self.sections)}
        walk_of: dict[str, int] = {}
        found: list[Problem] = []
        for walk, start in enumerate(self.sections):
            path: list[str] = []
            current: str | None = start
            while current is not None and current in self.sections and current not in walk_of:
                walk_of[current] = walk
                path.append(current)
                current = self.sections[current].downstream_section
            if current is not None and walk_of.get(current) == walk:
                cycle = path[path.index(current) :]
                first = min(cycle, key=order.__getitem__)
                i = cycle.index(first)
                cycle = cycle[i:] + cycle[:i]
                ring = " → ".join([*cycle, first])
                found.append(_problem(
                    "section", self.sections[first], "downstream_section",
                    f"downstream_section links form a cycle: {ring}; water flows one way, so "
                    "one of these links is wrong",
                ))  # fmt: skip
        return found

    def check(self) -> None:
        """Raise ValidationFailed listing every network problem; return quietly if none.

        >>> reference_watershed().check()
        """
        found = self.problems()
        if found:
            raise ValidationFailed(found, what="the watershed network")


def _problem(table: str, obj: Party | Section, key: str, message: str) -> Problem:
    origin = obj.origin
    if origin is None:
        return Problem(message, field=f"{table}.{obj.code}.{key}")
    return Problem(
        message, file=origin.file, row=origin.line_of(key), field=f"{table}.{origin.index}.{key}"
    )


# --------------------------------------------------------------------------- loading


def _structure_decimal(value: object, _type: object) -> Decimal:
    return as_decimal(value, what="value")


def _make_converter() -> cattrs.Converter:
    # prefer_attrib_converters: the attrs converters (WaterClass.parse, exact Decimal) are
    # the one place a target or a flow is read, whether from a file or from Python.
    converter = cattrs.Converter(
        forbid_extra_keys=True, prefer_attrib_converters=True, detailed_validation=True
    )
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_structure_hook(WaterClass, lambda v, _t: WaterClass.parse(v))
    return converter


_CONVERTER = _make_converter()

T = TypeVar("T", Party, Section)


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    file = str(path)
    try:
        text = read_project_file(path)
    except FileNotFoundError:
        raise InputError("file not found; check the path", file=file) from None
    except ValueError as exc:  # over the size limit
        raise InputError(str(exc), file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file ({exc}); save it as UTF-8", file=file) from None
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except RecursionError:
        raise InputError(too_deep_message(), file=file) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        line = int(at.group(1)) if at else len(text.splitlines()) or None
        where = f" at column {at.group(2)}" if at else " at the end of the file"
        what = _TOML_END.sub("", _TOML_AT.sub("", message))
        raise InputError(
            f"TOML syntax error: {what}{where}; fix the syntax (text values need quotes, "
            "keys need '=')",
            file=file,
            row=line,
        ) from None
    deep = limit_problem(data)
    if deep is not None:
        path, message = deep
        raise InputError(message, file=file, row=TomlLocator(text).line(path),
                         field=".".join(str(p) for p in path[:2]))
    return data, text


def _structure_problems(exc: Exception) -> list[tuple[str | None, str]]:
    """(key, message) pairs from a failed cattrs structure or a refusing validator."""
    if isinstance(exc, _FieldError):
        return [(exc.field, str(exc))]
    if isinstance(exc, ForbiddenExtraKeysError):
        return [
            (key, f"unknown key {key!r}; check the spelling") for key in sorted(exc.extra_fields)
        ]
    if isinstance(exc, ClassValidationError):
        found: list[tuple[str | None, str]] = []
        for sub in exc.exceptions:
            if isinstance(sub, _FieldError | ForbiddenExtraKeysError | ClassValidationError):
                found.extend(_structure_problems(sub))
                continue
            names = [getattr(n, "name", None) for n in getattr(sub, "__notes__", ())]
            key = next((n for n in names if n), None)
            found.append((key, f"{key}: {sub}" if key else str(sub)))
        return found
    return [(None, str(exc))]


class _Located:
    """Turns keys of one file's ``[[table]]`` items into located Problems."""

    def __init__(self, file: str, table: str, schema_name: str, locate: TomlLocator) -> None:
        self.file = file
        self.table = table
        self.locate = locate
        item_schema = schema(schema_name)["$defs"][table]
        self.properties: Mapping[str, Any] = item_schema["properties"]

    def at(self, index: int, key: str | None, message: str) -> Problem:
        path: tuple[str | int, ...] = (self.table, index, key) if key else (self.table, index)
        field = ".".join(str(p) for p in path)
        return Problem(message, file=self.file, row=self.locate.line(path), field=field)

    def explain(self, problem: Problem, item: object) -> list[Problem]:
        """Point "unknown key" problems at each key, with the nearest known key as a hint.

        (What a refused value should be comes with the schema message: validation.py.)
        """
        parts = (problem.field or "").split(".")
        if len(parts) < 2 or parts[0] != self.table or not parts[1].isdigit():
            return [problem]
        index = int(parts[1])
        if len(parts) == 2 and problem.message.startswith("unknown key") and isinstance(item, dict):
            found = []
            for key in item:
                if key not in self.properties:
                    close = difflib.get_close_matches(key, list(self.properties), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    found.append(
                        self.at(index, key, f"unknown key {key!r}{hint}; check the spelling")
                    )
            return found or [problem]
        return [problem]


def _name_key(name: str) -> str:
    """A section name as readings files match it: NFKC, case-folded, without spaces.

    The same comparison as the readings loader's, so that two names it cannot tell apart
    are refused here (朱亭镇 and "朱亭镇 ", or a full-width ＺＨＵＴＩＮＧ and zhuting).
    """
    text = unicodedata.normalize("NFKC", name).replace("\ufeff", "")
    return text.strip().lower().replace(" ", "")


def _ambiguous_names(items: list[Any], located: _Located) -> list[Problem]:
    """Section names a readings file could not resolve to one section, at the later table.

    Wide files from monitoring centres name sections by their Chinese name, so a name that is
    also another section's name, or another section's code, would send readings to the wrong
    section without a word.
    """
    tables = [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]
    codes = {item["code"]: i for i, item in tables if isinstance(item.get("code"), str)}
    first: dict[str, int] = {}
    found: list[Problem] = []
    for index, item in tables:
        name, code = item.get("name"), item.get("code")
        if not isinstance(name, str) or not _name_key(name):
            continue
        key = _name_key(name)
        other = first.setdefault(key, index)
        if other != index:
            other_item = items[other]
            other_code = other_item.get("code")
            if isinstance(code, str) and code == other_code:
                continue  # the same section twice: reported as a duplicate code
            what = repr(other_code) if isinstance(other_code, str) else f"#{other + 1}"
            line = located.locate.line(("section", other, "name"))
            spelt = "" if other_item["name"] == name else f"{other_item['name']!r}, "
            where = f" ({spelt}line {line})" if line else ""
            found.append(located.at(
                index, "name",
                f"name {name!r} is also the name of section {what}{where}; section names must "
                "be unique because readings files may use them",
            ))  # fmt: skip
        elif key in codes and key != code:
            found.append(located.at(
                index, "name",
                f"name {name!r} is the code of section {key!r}; readings that name {name!r} "
                "would go to that section, so give this section another name",
            ))  # fmt: skip
    return found


def _build(
    cls: type[T], item: dict[str, Any], flagged: set[str]
) -> tuple[T | None, list[tuple[str | None, str]]]:
    """Structure one item; keep going past a refused optional key so every problem shows.

    Keys the schema flagged are left out (one message per mistake); a refused key with a
    default is dropped and the rest tried again, so a bad target does not hide a bad side.
    """
    optional = {a.name for a in attrs.fields(cls) if a.default is not attrs.NOTHING}
    candidate = {k: v for k, v in item.items() if k not in flagged}
    found: list[tuple[str | None, str]] = []
    while True:
        try:
            return _CONVERTER.structure(candidate, cls), found
        except (ValueError, TypeError, EcocompError, ClassValidationError) as exc:
            problems = _structure_problems(exc)
            found.extend(problems)
            keys = {key for key, _ in problems}
            if not keys or not keys <= optional or not keys & set(candidate):
                return None, found
            candidate = {k: v for k, v in candidate.items() if k not in keys}


def _load(path: str | Path, table: str, cls: type[T], schema_name: str) -> dict[str, T]:
    path = Path(path)
    file = str(path)
    data, text = _read_toml(path)
    located = _Located(file, table, schema_name, TomlLocator(text))
    items = data.get(table)
    if not isinstance(items, list):
        items = []

    def item_at(field: str | None) -> object:
        parts = (field or "").split(".")
        if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(items):
            return items[int(parts[1])]
        return None

    problems = [
        explained
        for problem in schema_problems(schema_name, data, file=file, locate=located.locate)
        for explained in located.explain(problem, item_at(problem.field))
    ]
    flagged: dict[int, set[str]] = {}
    for problem in problems:
        parts = (problem.field or "").split(".")
        if len(parts) >= 3 and parts[0] == table and parts[1].isdigit():
            flagged.setdefault(int(parts[1]), set()).add(parts[2])
    required = {a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING}

    result: dict[str, T] = {}
    first_line: dict[str, int | None] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        code = item.get("code")
        duplicate = isinstance(code, str) and code in first_line
        if duplicate:
            seen = first_line[code]
            problems.append(located.at(
                index, "code",
                f"{table} code {code!r} is defined twice"
                + (f" (first at line {seen})" if seen else "")
                + f"; keep one [[{table}]] table per code",
            ))  # fmt: skip
        elif isinstance(code, str):
            first_line[code] = located.locate.line((table, index, "code"))
        skip = flagged.get(index, set())
        # Keys the schema does not know were reported above; keys it knows but the class
        # does not are left in, for cattrs to refuse (the schema and the class must agree).
        skip |= {key for key in item if key not in located.properties}
        if required - (set(item) - skip):
            continue  # a required key is missing or refused: already reported
        obj, found = _build(cls, item, skip)
        problems.extend(located.at(index, key, message) for key, message in found)
        if obj is None or found or duplicate:
            continue
        origin = Origin(
            file=file,
            index=index,
            line=located.locate.line((table, index)),
            key_lines=tuple(
                (key, line)
                for key in item
                if (line := located.locate.line((table, index, key))) is not None
            ),
        )
        result[obj.code] = attrs.evolve(obj, origin=origin)
    if table == "section":
        problems.extend(_ambiguous_names(items, located))
    if problems:
        problems.sort(key=lambda p: (p.row or 0, p.field or ""))
        raise ValidationFailed(problems, what=file)
    return result


def load_parties(path: str | Path) -> dict[str, Party]:
    """Read ``parties.toml`` (``[[party]]`` tables) into parties keyed by code.

    Raises ValidationFailed listing every problem of the file, each as ``file:line:key``.

    >>> load_parties("project/parties.toml")["430700"].name  # doctest: +SKIP
    '常德市'
    """
    return _load(path, "party", Party, "parties")


def load_sections(path: str | Path) -> dict[str, Section]:
    """Read ``sections.toml`` (``[[section]]`` tables) into sections keyed by code.

    Raises ValidationFailed listing every problem of the file, each as ``file:line:key``.
    The network (known parties, no cycles) is checked by :func:`load_watershed`.

    >>> load_sections("project/sections.toml")["zhutingzhen"].target  # doctest: +SKIP
    <WaterClass.III: 3>
    """
    return _load(path, "section", Section, "sections")


def load_watershed(parties_path: str | Path, sections_path: str | Path) -> Watershed:
    """Load both files and check the network; one ValidationFailed lists every problem.

    >>> load_watershed("project/parties.toml", "project/sections.toml")  # doctest: +SKIP
    """
    problems: list[Problem] = []
    parties: dict[str, Party] | None = None
    sections: dict[str, Section] | None = None
    try:
        parties = load_parties(parties_path)
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        sections = load_sections(sections_path)
    except InputError as exc:
        problems.extend(exc.problems)
    watershed = None
    if parties is not None and sections is not None:
        watershed = Watershed(parties=parties, sections=sections)
        problems.extend(watershed.problems())
    if problems or watershed is None:
        raise ValidationFailed(problems, what=f"{parties_path} and {sections_path}")
    return watershed


@cache
def reference_watershed() -> Watershed:
    """The bundled reference parties and sections of Hunan's 湘江 and 一湖四水 and neighbours.

    Loaded from ``ecocomp/data/reference_parties.toml`` and ``reference_sections.toml``
    through the same loaders and checks as a project's files; each section carries its
    ``source`` (tags of ecocomp/data/sources.toml) and ``confidence``. See docs/watershed.md.

    >>> reference_watershed().section("jinyushi").upstream
    '360000'
    """
    data = resources.files("ecocomp.data")
    with (
        resources.as_file(data / "reference_parties.toml") as parties,
        resources.as_file(data / "reference_sections.toml") as sections,
    ):
        return load_watershed(parties, sections)
