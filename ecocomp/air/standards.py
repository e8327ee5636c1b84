"""Air-quality standards as versioned data: GB 3095 limits, HJ 633 breakpoints, HJ 663 rules.

The numbers ship in ``ecocomp/data/air/*.toml`` with a confidence mark ([C]/[P]/[I]/[U]) and
a source tag for each; they are loaded once, exactly (decimal strings, never float), and
validated on load. Code here holds only the rules of use: which version and phase applies on
a date, and the lookup of a limit or a breakpoint row.

>>> gb3095("GB3095-2026").limit("pm25", "annual", "II", on=date(2026, 12, 31)).value
Decimal('30')
>>> hj633("2012").row("pm25_24h").values[1]
Decimal('35')
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import attrs

from ecocomp.errors import StandardError
from ecocomp.packagedata import data_folder

__all__ = [
    "GB3095_VERSIONS",
    "GRADES",
    "HJ633_VERSIONS",
    "MARKS",
    "AqiStandard",
    "BreakpointRow",
    "ConcentrationStandard",
    "Evaluation",
    "Limit",
    "Phase",
    "Rule",
    "gb3095",
    "hj633",
    "hj663",
    "resolve_standard",
]

#: Confidence marks (docs/sources.md): confirmed, partly confirmed, inferred, unknown.
MARKS = ("C", "P", "I", "U")
GRADES = ("I", "II")
AVERAGINGS = ("annual", "24h", "8h", "1h")
GB3095_VERSIONS = ("GB3095-2012", "GB3095-2026")
HJ633_VERSIONS = ("HJ633-2012", "HJ633-2026")
#: The day GB 3095-2026 and HJ 633-2026 came into force (N44): ``by_date`` switches here.
SWITCH_2026 = date(2026, 3, 1)
_FILES = {
    "GB3095-2012": "gb3095_2012.toml",
    "GB3095-2026": "gb3095_2026.toml",
    "HJ633-2012": "hj633_2012.toml",
    "HJ633-2026": "hj633_2026.toml",
}
#: GB 3095 version → the HJ 633 version published with it.
PAIRED = {"GB3095-2012": "HJ633-2012", "GB3095-2026": "HJ633-2026"}


def _mark(value: object, where: str) -> str:
    if value not in MARKS:
        raise StandardError(f"{where}: mark {value!r} is not one of {', '.join(MARKS)}")
    return str(value)


def _decimal(value: object, where: str) -> Decimal:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise StandardError(f"{where}: {value!r} must be a decimal string such as \"35\"")
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise StandardError(f"{where}: {value!r} is not a decimal number") from None
    if not result.is_finite() or result < 0:
        raise StandardError(f"{where}: {value!r} must be a finite number ≥ 0")
    return result


@attrs.frozen
class Limit:
    """One concentration limit of GB 3095 (μg/m³; CO mg/m³) with its mark and source."""

    pollutant: str
    averaging: str
    grade: str
    value: Decimal
    mark: str
    source: str
    assumed_from: str | None = None


@attrs.frozen
class Phase:
    """The limits in force from ``start`` to ``end`` (inclusive; None: open-ended)."""

    name: str
    start: date
    end: date | None
    limits: Mapping[tuple[str, str, str], Limit]

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@attrs.frozen
class ConcentrationStandard:
    """A GB 3095 version: its phases of concentration limits."""

    id: str
    title: str
    source: str
    phases: tuple[Phase, ...]

    def phase_on(self, day: date) -> Phase:
        """The phase in force on ``day``; before the first phase, the first one."""
        for phase in self.phases:
            if phase.covers(day):
                return phase
        if day < self.phases[0].start:
            return self.phases[0]
        return self.phases[-1]

    def limit(self, pollutant: str, averaging: str, grade: str = "II", *, on: date) -> Limit:
        """The limit of ``pollutant`` for ``averaging`` and ``grade`` in force on ``on``."""
        if grade not in GRADES:
            raise StandardError(f"grade {grade!r} is not one of {', '.join(GRADES)}")
        phase = self.phase_on(on)
        try:
            return phase.limits[(pollutant, averaging, grade)]
        except KeyError:
            raise StandardError(
                f"{self.id} ({phase.name}) has no {averaging} grade {grade} limit for "
                f"{pollutant!r}") from None


@attrs.frozen
class BreakpointRow:
    """One row of HJ 633 Table 1: the concentrations at IAQI 0, 50, 100, ..."""

    key: str
    values: tuple[Decimal, ...]
    marks: tuple[str, ...]
    source: str
    beyond: str = "cap"
    assumed_from: str | None = None


@attrs.frozen
class AqiStandard:
    """An HJ 633 version: IAQI levels and each pollutant's breakpoints."""

    id: str
    title: str
    source: str
    start: date
    iaqi: tuple[int, ...]
    rows: Mapping[str, BreakpointRow]

    def row(self, key: str) -> BreakpointRow:
        try:
            return self.rows[key]
        except KeyError:
            raise StandardError(
                f"{self.id} has no breakpoints for {key!r}; known: "
                f"{', '.join(sorted(self.rows))}") from None


@attrs.frozen
class Rule:
    """One threshold of the evaluation rules, with its mark, source and a note."""

    value: Any
    mark: str
    source: str
    note: str = ""


@attrs.frozen
class Evaluation:
    """HJ 663 / GB 3095 Table 4: validity, percentiles, rounding, categories, 综合指数."""

    id: str
    validity: Mapping[str, Rule]
    percentiles: Mapping[str, Rule]
    rounding: Mapping[str, Rule]
    category_upper: tuple[int, ...]
    category_names: tuple[str, ...]
    category_codes: tuple[str, ...]
    categories: Mapping[str, Rule]
    composite: tuple[tuple[str, str], ...]

    def threshold(self, name: str) -> int:
        return int(self.validity[name].value)


def _read(name: str) -> dict[str, Any]:
    text = data_folder("data").joinpath("air").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _load_gb3095(raw: Mapping[str, Any], file: str) -> ConcentrationStandard:
    phases = []
    for i, phase in enumerate(raw.get("phase", ())):
        limits: dict[tuple[str, str, str], Limit] = {}
        for j, row in enumerate(phase.get("limits", ())):
            where = f"{file}: phase {i + 1}, limit {j + 1}"
            try:
                if row["averaging"] not in AVERAGINGS or row["grade"] not in GRADES:
                    raise StandardError(f"{where}: averaging or grade is not known")
                key = (row["pollutant"], row["averaging"], row["grade"])
                if key in limits:
                    raise StandardError(f"{where}: {key} is given twice")
                limits[key] = Limit(*key, _decimal(row["value"], where),
                                    _mark(row["mark"], where), row["source"],
                                    row.get("assumed_from"))
            except KeyError as exc:
                raise StandardError(f"{where}: missing key {exc.args[0]!r}") from None
        phases.append(Phase(phase["name"], phase["start"], phase.get("end"), limits))
    if not phases:
        raise StandardError(f"{file}: no [[phase]]")
    return ConcentrationStandard(raw["id"], raw["title"], raw["source"], tuple(phases))


def _load_hj633(raw: Mapping[str, Any], file: str) -> AqiStandard:
    levels = tuple(int(v) for v in raw["iaqi"])
    rows = {}
    for i, row in enumerate(raw["breakpoints"]):
        where = f"{file}: breakpoints {i + 1} ({row.get('key')})"
        values = tuple(_decimal(v, where) for v in row["values"])
        if len(values) < 2 or len(values) > len(levels):
            raise StandardError(f"{where}: needs 2..{len(levels)} values")
        if any(b <= a for a, b in itertools.pairwise(values)) or values[0] != 0:
            raise StandardError(f"{where}: values must start at 0 and increase")
        marks = tuple(_mark(m, where) for m in row.get("marks", [row.get("mark")] * len(values)))
        if len(marks) != len(values):
            raise StandardError(f"{where}: one mark per value")
        beyond = row.get("beyond", "cap")
        if beyond != "cap" and not beyond.startswith("use:"):
            raise StandardError(f"{where}: beyond must be \"cap\" or \"use:<key>\"")
        rows[row["key"]] = BreakpointRow(row["key"], values, marks, row["source"], beyond,
                                         row.get("assumed_from"))
    for row in rows.values():
        if row.beyond.startswith("use:") and row.beyond[4:] not in rows:
            raise StandardError(f"{file}: {row.key} beyond names unknown {row.beyond[4:]!r}")
    return AqiStandard(raw["id"], raw["title"], raw["source"], raw["start"], levels, rows)


def _rules(table: Mapping[str, Any], where: str) -> dict[str, Rule]:
    return {name: Rule(spec.get("value", spec.get("p")), _mark(spec["mark"], where),
                       spec["source"], spec.get("note", ""))
            for name, spec in table.items() if isinstance(spec, dict)}


def _normal(version: str, family: str) -> str:
    text = "".join(str(version).split()).upper().replace("—", "-").replace("–", "-")
    if text in ("2012", "2026"):
        text = f"{family}-{text}"
    if text.startswith(family) and not text.startswith(f"{family}-"):
        text = f"{family}-{text[len(family):]}"
    return text


@cache
def gb3095(version: str) -> ConcentrationStandard:
    """GB 3095 concentration limits: ``"GB3095-2012"``, ``"GB3095-2026"`` (or ``"2012"``)."""
    key = _normal(version, "GB3095")
    if key not in GB3095_VERSIONS:
        raise StandardError(f"unknown standard {version!r}; use one of "
                            f"{', '.join(GB3095_VERSIONS)} or by_date")
    return _load_gb3095(_read(_FILES[key]), _FILES[key])


@cache
def hj633(version: str) -> AqiStandard:
    """HJ 633 IAQI breakpoints: ``"HJ633-2012"``, ``"HJ633-2026"`` (or ``"2012"``)."""
    key = _normal(version, "HJ633")
    if key in GB3095_VERSIONS or _normal(version, "GB3095") in GB3095_VERSIONS:
        key = PAIRED.get(_normal(version, "GB3095"), key)
    if key not in HJ633_VERSIONS:
        raise StandardError(f"unknown AQI version {version!r}; use one of "
                            f"{', '.join(HJ633_VERSIONS)}")
    return _load_hj633(_read(_FILES[key]), _FILES[key])


@cache
def hj663() -> Evaluation:
    """The evaluation rules (validity thresholds, percentiles, rounding, categories)."""
    raw = _read("hj663.toml")
    cats = raw["categories"]
    return Evaluation(
        id=raw["id"],
        validity=_rules(raw["validity"], "hj663.toml [validity]"),
        percentiles=_rules(raw["percentiles"], "hj663.toml [percentiles]"),
        rounding=_rules(raw["rounding"], "hj663.toml [rounding]"),
        category_upper=tuple(int(v) for v in cats["upper"]),
        category_names=tuple(cats["names"]),
        category_codes=tuple(cats["codes"]),
        categories=_rules(cats, "hj663.toml [categories]"),
        composite=tuple((t["statistic"], t["limit"]) for t in raw["composite"]["terms"]),
    )


def resolve_standard(standard: str, on: date) -> str:
    """The GB 3095 version an agreement's ``standard`` means for a period ending ``on``.

    ``by_date`` is the version in force on that day: GB 3095-2026 from 2026-03-01.

    >>> [resolve_standard("by_date", date(y, 12, 31)) for y in (2025, 2026)]
    ['GB3095-2012', 'GB3095-2026']
    """
    if str(standard).strip().lower() in ("by_date", "by-date"):
        return "GB3095-2026" if on >= SWITCH_2026 else "GB3095-2012"
    return gb3095(standard).id
