"""Assessment results: per section and period, each item's value, class and evidence.

This module holds the value classes that formulas consume and, below them, the pure and exact
aggregation that produces them: readings → monthly partial sums (:func:`aggregate`, or the
store's SQL) → monthly and annual means → classes (:func:`assess`), plus the river/basin
evaluation, the class table and the completeness report. Nothing here opens a file or a
database. The rules and their sources are in docs/assessment.md.

Exactness: sums are exact; a mean is computed as an exact fraction and written as a Decimal
with 50 significant digits (trailing zeros removed). A mean that terminates is therefore exact;
one that does not (e.g. 1/3) is rounded at the 50th digit, which can never move it across a
class limit of the standard (limits have at most 5 decimals, and such a mean differs from any
of them by far more than 1e-49). Such an item keeps its exact mean too
(:attr:`ItemAssessment.exact_value`): a formula that combines means (the 新安江 index, a
concentration averaged over sections) computes with it, as a combination of rounded means
could land a hair off a threshold or a limit that the exact one is on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Literal, NamedTuple, Protocol

import attrs

from ecocomp.classification import (
    Classification,
    TrophicState,
    classify,
    resolve_factors,
    trophic_index,
)
from ecocomp.errors import AssessmentError
from ecocomp.money import CONTEXT, in_money_context, working_context
from ecocomp.periods import Period
from ecocomp.readings import Reading
from ecocomp.standards import (
    ASSESSED_ITEMS,
    Waterbody,
    WaterClass,
    class_of,
    classify_item,
    exceedance_multiple,
)

__all__ = [
    "AUTOMATIC_FIRST",
    "AssessmentRow",
    "AssessmentTable",
    "Assessments",
    "Completeness",
    "ItemAssessment",
    "MonthlyAggregate",
    "RiverEvaluation",
    "SectionAssessment",
    "SectionLike",
    "aggregate",
    "assess",
    "assess_month",
    "assess_readings",
    "assess_year",
    "assessment_table",
    "completeness",
    "daily_flow_means",
    "evaluate_river",
    "item_assessment",
]

Source = Literal["manual", "automatic", "mixed"]
AnnualMethod = Literal["samples", "monthly_means"]

# [C S13] (docs/assessment.md): automatic-station data win over manual data for these items.
AUTOMATIC_FIRST: tuple[str, ...] = ("ph", "do", "codmn", "nh3n", "tp", "tn")
MEAN_PRECISION = 50
_SOURCES = ("manual", "automatic")
_FLAGS = ("", "suspect", "invalid")


class SectionLike(Protocol):
    """What assessment reads of a section (断面): its code and its waterbody."""

    @property
    def code(self) -> str: ...

    @property
    def waterbody(self) -> str: ...


#: Means are exact quotients rounded (only if they do not terminate) at 50 digits.
_MEAN = working_context(prec=MEAN_PRECISION)
#: Addition at unbounded precision never rounds.
_EXACT = working_context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_ONE = Decimal(1)
_TEN, _MINUS_TEN = Decimal(10), Decimal(-10)
_ZERO = Decimal(0)
_HALF = Decimal("0.5")


def _tidy(value: Decimal) -> Decimal:
    """Trailing zeros removed, but whole numbers kept in plain notation (100, not 1E+2)."""
    plain = _MEAN.normalize(value)
    # Only a whole number of 10 or more can have a positive exponent once normalised; two
    # comparisons spare most values the digits' tuple
    if (plain >= _TEN or plain <= _MINUS_TEN) and plain.as_tuple().exponent > 0:  # type: ignore[operator]
        return plain.quantize(_ONE, context=_MEAN)
    return plain


def _decimal(fraction: Fraction) -> Decimal:
    """An exact fraction as a Decimal of at most 50 significant digits (exact if it terminates)."""
    return _tidy(_MEAN.divide(Decimal(fraction.numerator), Decimal(fraction.denominator)))


def _mean(total: Decimal, count: int) -> Decimal:
    """``total / count`` as :func:`_decimal` gives it, without building a Fraction.

    A correctly rounded quotient of the same two numbers, so the very same Decimal.
    """
    return _tidy(_MEAN.divide(_EXACT.add(total, _ZERO), Decimal(count)))  # -0 becomes 0


def _exact_mean(total: Decimal, count: int, mean: Decimal) -> Fraction | None:
    """``total / count`` as an exact fraction when ``mean`` (:func:`_mean`) rounded it, else
    None (the usual case, told by one exact multiplication)."""
    if _EXACT.multiply(mean, Decimal(count)) == total:
        return None
    return Fraction(total) / count


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    add = _EXACT.add
    for value in values:
        total = add(total, value)
    return total


def _non_negative(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if type(value) is int and value >= 0:  # the usual case, decided without isinstance
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative int, not {value!r}")


def _finite_decimal(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{attribute.name} must be a finite Decimal, not {value!r}")


def _validate(instance: Any, checks: Sequence[tuple[str, Any]]) -> None:
    """Run each field's check in order, as attrs runs validators: the messages of the
    classes below, whose ``__attrs_post_init__`` first tests the usual case in one go."""
    fields = attrs.fields_dict(type(instance))
    for name, check in checks:
        check(instance, fields[name], getattr(instance, name))


def _waterbody(value: object, where: str) -> Waterbody:
    if value not in ("river", "lake"):
        raise AssessmentError(f"{where}: waterbody {value!r} is not known; use 'river' or 'lake'")
    return value  # type: ignore[return-value]


# --------------------------------------------------------------------------- value classes


@attrs.frozen
class ItemAssessment:
    """One item of one section in one period: the value used and how it was obtained.

    ``value`` is the arithmetic mean of the valid samples (non-detects at half the detection
    limit), exact. ``cls`` is None for items the standard does not class for this waterbody.
    Evidence: ``samples`` used, of which ``nondetects`` and ``suspect``; ``excluded_invalid``
    samples flagged invalid (not used); ``superseded`` valid manual samples not used because
    automatic data won; ``source`` of the samples used; ``months`` with data (annual values).
    """

    # Checked in __attrs_post_init__ (_ITEM_CHECKS): a province-year builds ~90,000.
    parameter: str
    value: Decimal
    samples: int
    cls: WaterClass | None
    nondetects: int = 0
    suspect: int = 0
    excluded_invalid: int = 0
    source: Source = "manual"
    months: int | None = None  # for annual values: months that had samples
    superseded: int = 0
    #: The exact mean when ``value`` is not (a mean that does not terminate, such as 1/3, is
    #: rounded to 50 significant digits in ``value``); None when ``value`` is exact.
    exact: Fraction | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        value, cls = self.value, self.cls
        if not (type(self.parameter) is str and type(value) is Decimal and value.is_finite()
                and (cls is None or type(cls) is WaterClass)
                and self.source in _ITEM_SOURCES
                and type(self.samples) is int and type(self.nondetects) is int
                and type(self.suspect) is int and type(self.excluded_invalid) is int
                and type(self.superseded) is int
                and min(self.samples, self.nondetects, self.suspect, self.excluded_invalid,
                        self.superseded) >= 0
                and (self.exact is None or type(self.exact) is Fraction)):
            _validate(self, _ITEM_CHECKS)
        if self.exact is not None and _decimal(self.exact) != value:
            # a copy whose value was changed (attrs.evolve) must not keep the old exact mean
            raise ValueError(f"{self.parameter}: exact mean {self.exact} is not the value "
                             f"{value} rounded; pass exact=None with a new value")
        if self.samples < 1:
            raise ValueError(f"{self.parameter}: an item value needs at least one sample")
        if self.nondetects > self.samples or self.suspect > self.samples:
            raise ValueError(f"{self.parameter}: nondetects and suspect cannot exceed samples")
        if self.months is not None and not (
            isinstance(self.months, int) and 1 <= self.months <= min(12, self.samples)
        ):
            raise ValueError(f"{self.parameter}: months must be 1..12 and ≤ samples")

    @property
    def exact_value(self) -> Fraction:
        """The mean as an exact fraction: ``exact`` when ``value`` was rounded, else ``value``.

        Formulas that combine means (an index, a mean over sections) compute with it, so a
        result that is exactly on a threshold or a class limit is not moved off it by the
        rounding of a mean such as 1/3.

        >>> item_assessment("nh3n", Decimal("0.5"), 2).exact_value
        Fraction(1, 2)
        """
        return self.exact if self.exact is not None else Fraction(self.value)

    def multiple(
        self, reference: WaterClass = WaterClass.III, waterbody: Waterbody = "river"
    ) -> Decimal | None:
        """超标倍数 against ``reference`` (None for pH, DO and unclassed items)."""
        return exceedance_multiple(self.parameter, self.value, reference, waterbody)

    @in_money_context
    def to_json(self, waterbody: Waterbody = "river") -> dict[str, Any]:
        """The evidence as JSON data (decimal strings, class codes)."""
        multiple = self.multiple(WaterClass.III, waterbody)
        return {
            "value": str(self.value),
            "class": self.cls.code if self.cls is not None else None,
            "multiple": None if multiple is None else str(multiple),
            "samples": self.samples,
            "nondetects": self.nondetects,
            "suspect": self.suspect,
            "excluded_invalid": self.excluded_invalid,
            "superseded": self.superseded,
            "source": self.source,
            "months": self.months,
        }


def _items_match(
    _instance: object, _attribute: object, items: Mapping[str, ItemAssessment]
) -> None:
    for code, item in items.items():
        if not isinstance(item, ItemAssessment) or item.parameter != code:
            raise ValueError(f"items[{code!r}] must be the ItemAssessment of {code}")


@attrs.frozen
class SectionAssessment:
    """A section's assessment for a month or a year, with every item's evidence.

    ``invalid_only`` counts, per item, the invalid samples of items that had no valid sample
    at all in the period (so they are missing, but the report can say why).
    """

    section: str = attrs.field(validator=attrs.validators.instance_of(str))
    period: Period = attrs.field(validator=attrs.validators.instance_of(Period))
    waterbody: Waterbody = attrs.field(validator=attrs.validators.in_(("river", "lake")))
    items: Mapping[str, ItemAssessment] = attrs.field(converter=dict, validator=_items_match)
    factors: tuple[str, ...] = attrs.field(default=ASSESSED_ITEMS, converter=tuple)
    invalid_only: Mapping[str, int] = attrs.field(factory=dict, converter=dict)

    @property
    def missing(self) -> tuple[str, ...]:
        """Assessed factors without any valid sample in the period."""
        return tuple(f for f in self.factors if f not in self.items)

    def class_for(self, factors: Iterable[str] | None = None) -> WaterClass | None:
        """Single-factor class (the worst item) over ``factors`` (default: ``self.factors``).

        None when none of the factors has data.
        """
        worst: WaterClass | None = None
        for code in self.factors if factors is None else factors:
            item = self.items.get(code)
            if item is None or item.cls is None:
                continue
            if worst is None or item.cls > worst:
                worst = item.cls
        return worst

    @property
    def cls(self) -> WaterClass | None:
        return self.class_for()

    def max_multiple(
        self,
        factors: Iterable[str] | None = None,
        reference: WaterClass = WaterClass.III,
    ) -> tuple[Decimal, str | None]:
        """The largest exceedance multiple over ``factors`` and the item that has it."""
        best: tuple[Decimal, str | None] = (Decimal(0), None)
        for code in self.factors if factors is None else factors:
            item = self.items.get(code)
            if item is None:
                continue
            m = item.multiple(reference, self.waterbody)
            if m is not None and m > best[0]:
                best = (m, code)
        return best

    def classification(
        self,
        *,
        factors: Iterable[str] | None = None,
        reference: WaterClass | str = WaterClass.III,
    ) -> Classification:
        """The full classification of the item values (descriptor, main pollutants, …).

        >>> sa = SectionAssessment("s", Period(2023, 1), "river",
        ...                        {"nh3n": item_assessment("nh3n", Decimal("1.8"), 2)})
        >>> str(sa.classification()), sa.classification().main_pollutants
        ('Ⅴ类 (中度污染)', ('nh3n',))
        """
        return classify(
            {code: item.value for code, item in self.items.items()},
            self.waterbody,
            factors=self.factors if factors is None else factors,
            reference=reference,
        )

    def trophic(self) -> TrophicState:
        """The trophic level index TLI(Σ) of the item values (lakes and reservoirs)."""
        return trophic_index({code: item.value for code, item in self.items.items()})

    def to_json(self) -> dict[str, Any]:
        """The assessment and its evidence as JSON data."""
        cls = self.cls
        return {
            "section": self.section,
            "period": str(self.period),
            "waterbody": self.waterbody,
            "class": cls.code if cls is not None else None,
            "items": {code: it.to_json(self.waterbody) for code, it in self.items.items()},
            "missing": list(self.missing),
            "invalid_only": dict(self.invalid_only),
        }


def _keys_match(
    _instance: object, _attribute: object, value: Mapping[tuple[str, Period], SectionAssessment]
) -> None:
    for key, sa in value.items():
        if key != (sa.section, sa.period):
            raise ValueError(f"assessment of {sa.section} {sa.period} is filed under {key}")


@attrs.frozen
class Assessments:
    """What formulas read: section assessments by (section, period) and daily mean flows.

    Pure data, so a formula never touches files or the database.
    """

    sections: Mapping[tuple[str, Period], SectionAssessment] = attrs.field(
        factory=dict, validator=_keys_match
    )
    daily_flows: Mapping[str, Mapping[date, Decimal]] = attrs.field(factory=dict)

    def get(self, section: str, period: Period) -> SectionAssessment | None:
        return self.sections.get((section, period))

    def flows(self, section: str, period: Period) -> dict[date, Decimal]:
        """Daily mean flows (m³/s) of a section within a period, by day."""
        days = self.daily_flows.get(section, {})
        start, end = period.start, period.end  # once, not for every day
        return {d: q for d, q in days.items()
                if start <= (d.date() if isinstance(d, datetime) else d) <= end}

    def __repr__(self) -> str:
        sections = len({s for s, _ in self.sections})
        return (f"<Assessments: {len(self.sections)} section-periods of {sections} sections, "
                f"daily flows at {len(self.daily_flows)} sections>")

    def _repr_html_(self) -> str:
        from ecocomp.notebook import assessments_html

        return assessments_html(self)

    def to_frame(self) -> Any:
        """One row per section and period (class code); needs ``ecocomp[pandas]``."""
        from ecocomp.notebook import assessments_frame

        return assessments_frame(self)


def item_assessment(
    parameter: str,
    value: Decimal,
    samples: int,
    waterbody: Waterbody = "river",
    **evidence: object,
) -> ItemAssessment:
    """Build an ItemAssessment, classing the value per GB 3838-2002.

    >>> item_assessment("tp", Decimal("0.12"), 3, "lake").cls
    <WaterClass.V: 5>
    """
    return ItemAssessment(
        parameter=parameter,
        value=value,
        samples=samples,
        cls=classify_item(parameter, value, waterbody),
        **evidence,  # type: ignore[arg-type]
    )


def _is_month(_instance: object, _attribute: object, value: Period) -> None:
    if not isinstance(value, Period) or not value.is_month:
        raise ValueError(f"month must be a month Period such as 2023-01, not {value!r}")


@attrs.frozen
class MonthlyAggregate:
    """Exact partial sums of one item's samples at one section in one month, by source.

    The unit both the pure aggregation (:func:`aggregate`) and the store's SQL aggregation
    produce, so assessment can run from either and give identical results.
    ``total`` is the exact sum of effective values (non-detects at half the detection limit)
    of the ``count`` valid samples (flag '' or 'suspect'); ``invalid`` samples are only counted.
    Partial sums add up: two aggregates with the same key are merged by summing.
    """

    # Checked in __attrs_post_init__ (_AGGREGATE_CHECKS): a province-year reads ~94,000.
    section: str
    parameter: str
    month: Period
    source: Literal["manual", "automatic"]
    count: int
    total: Decimal
    nondetects: int = 0
    suspect: int = 0
    invalid: int = 0

    def __attrs_post_init__(self) -> None:
        total, month = self.total, self.month
        if not (type(self.section) is str and type(self.parameter) is str
                and type(month) is Period and month.is_month and self.source in _SOURCES
                and type(self.count) is int and type(self.nondetects) is int
                and type(self.suspect) is int and type(self.invalid) is int
                and min(self.count, self.nondetects, self.suspect, self.invalid) >= 0
                and type(total) is Decimal and total.is_finite()):
            _validate(self, _AGGREGATE_CHECKS)
        if self.nondetects > self.count or self.suspect > self.count:
            raise ValueError("nondetects and suspect count valid samples, so cannot exceed count")
        if self.count == 0 and self.total != 0:
            raise ValueError("an aggregate without valid samples must have total 0")

    @property
    def key(self) -> tuple[str, str, Period, str]:
        return (self.section, self.parameter, self.month, self.source)


_ITEM_SOURCES = ("manual", "automatic", "mixed")
#: What each field of the value classes must hold, in field order (their error messages).
_ITEM_CHECKS = (
    ("parameter", attrs.validators.instance_of(str)),
    ("value", _finite_decimal),
    ("samples", _non_negative),
    ("cls", attrs.validators.optional(attrs.validators.instance_of(WaterClass))),
    ("nondetects", _non_negative),
    ("suspect", _non_negative),
    ("excluded_invalid", _non_negative),
    ("source", attrs.validators.in_(_ITEM_SOURCES)),
    ("superseded", _non_negative),
    ("exact", attrs.validators.optional(attrs.validators.instance_of(Fraction))),
)
_AGGREGATE_CHECKS = (
    ("section", attrs.validators.instance_of(str)),
    ("parameter", attrs.validators.instance_of(str)),
    ("month", _is_month),
    ("source", attrs.validators.in_(_SOURCES)),
    ("count", _non_negative),
    ("total", _finite_decimal),
    ("nondetects", _non_negative),
    ("suspect", _non_negative),
    ("invalid", _non_negative),
)


# --------------------------------------------------------------------------- aggregation


def _check_reading(reading: Reading) -> None:
    if reading.flag not in _FLAGS:
        raise AssessmentError(
            f"{reading.section} {reading.sampled_at:%Y-%m-%d %H:%M} {reading.parameter}: "
            f"flag {reading.flag!r} is not '', 'suspect' or 'invalid'"
        )
    if reading.source not in _SOURCES:
        raise AssessmentError(
            f"{reading.section} {reading.sampled_at:%Y-%m-%d %H:%M} {reading.parameter}: "
            f"source {reading.source!r} is not 'manual' or 'automatic'"
        )


def _effective(reading: Reading) -> Decimal:
    """The value used in means; half the detection limit for a non-detect, computed exactly."""
    if not reading.below_dl:
        return reading.value
    return _EXACT.multiply(reading.value, _HALF)


def aggregate(readings: Iterable[Reading]) -> list[MonthlyAggregate]:
    """Monthly partial sums per (section, parameter, month, source), exact and order-free.

    Invalid samples are only counted; suspect ones are used and counted; a non-detect
    contributes half its detection limit. The result is sorted by its key.

    >>> from datetime import datetime
    >>> rs = [Reading("s", datetime(2023, 1, d), "tp", Decimal("0.1")) for d in (3, 17)]
    >>> [(str(a.month), a.count, a.total) for a in aggregate(rs)]
    [('2023-01', 2, Decimal('0.2'))]
    """
    acc: dict[tuple[str, str, Period, str], list[Any]] = {}
    for reading in readings:
        _check_reading(reading)
        key = (reading.section, reading.parameter, Period.of(reading.sampled_at), reading.source)
        # count, values, nondetects, suspect, invalid
        slot = acc.setdefault(key, [0, [], 0, 0, 0])
        if reading.flag == "invalid":
            slot[4] += 1
            continue
        slot[0] += 1
        slot[1].append(_effective(reading))
        slot[2] += reading.below_dl
        slot[3] += reading.flag == "suspect"
    return [
        MonthlyAggregate(
            section=key[0],
            parameter=key[1],
            month=key[2],
            source=key[3],  # type: ignore[arg-type]
            count=count,
            total=_exact_sum(values),
            nondetects=nondetects,
            suspect=suspect,
            invalid=invalid,
        )
        for key, (count, values, nondetects, suspect, invalid) in sorted(acc.items())
    ]


def daily_flow_means(readings: Iterable[Reading]) -> dict[str, dict[date, Decimal]]:
    """Daily mean flow (m³/s) per section and day from ``flow`` readings (pure, exact).

    Every valid sample of the day counts, whatever its source; invalid ones are left out.

    >>> from datetime import datetime
    >>> rs = [Reading("s", datetime(2023, 1, 3, h), "flow", Decimal(q))
    ...       for h, q in ((8, "10"), (20, "13"))]
    >>> daily_flow_means(rs)
    {'s': {datetime.date(2023, 1, 3): Decimal('11.5')}}
    """
    days: dict[tuple[str, date], list[Decimal]] = defaultdict(list)
    for reading in readings:
        if reading.parameter != "flow":
            continue
        _check_reading(reading)
        if reading.flag != "invalid":
            days[(reading.section, reading.sampled_at.date())].append(_effective(reading))
    out: dict[str, dict[date, Decimal]] = {}
    for (section, day), values in sorted(days.items()):
        out.setdefault(section, {})[day] = _mean(_exact_sum(values), len(values))
    return out


# --------------------------------------------------------------------------- assessment


class _Pick(NamedTuple):
    """The samples one item uses in one month, after the automatic-first rule."""

    count: int
    total: Decimal
    nondetects: int
    suspect: int
    invalid: int
    superseded: int
    source: Source | None


def _pick(parameter: str, by_source: Mapping[str, MonthlyAggregate]) -> _Pick:
    if len(by_source) == 1:  # the common case: one source
        (a,) = by_source.values()
        if a.count == 0:
            return _Pick(0, _ZERO, 0, 0, a.invalid, 0, None)
        return _Pick(a.count, a.total, a.nondetects, a.suspect, a.invalid, 0, a.source)
    invalid = sum(a.invalid for a in by_source.values())
    valid = {s: a for s, a in by_source.items() if a.count > 0}
    superseded = 0
    if parameter in AUTOMATIC_FIRST and "automatic" in valid and "manual" in valid:
        superseded = valid.pop("manual").count
    sources = sorted(valid)
    source: Source | None = None
    if len(sources) == 1:
        source = sources[0]  # type: ignore[assignment]
    elif sources:
        source = "mixed"
    return _Pick(
        count=sum(a.count for a in valid.values()),
        total=_exact_sum(a.total for a in valid.values()),
        nondetects=sum(a.nondetects for a in valid.values()),
        suspect=sum(a.suspect for a in valid.values()),
        invalid=invalid,
        superseded=superseded,
        source=source,
    )


# section → month → parameter → source → merged aggregate
_Index = dict[str, dict[Period, dict[str, dict[str, MonthlyAggregate]]]]


def _index(aggregates: Iterable[MonthlyAggregate], year: int | None = None) -> _Index:
    index: _Index = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for agg in aggregates:
        if not isinstance(agg, MonthlyAggregate):
            raise TypeError(f"expected MonthlyAggregate, got {type(agg).__name__}")
        if year is not None and agg.month.year != year:
            continue
        slot = index[agg.section][agg.month][agg.parameter]
        seen = slot.get(agg.source)
        if seen is not None:  # partial sums of the same key add up
            agg = attrs.evolve(
                seen,
                count=seen.count + agg.count,
                total=_exact_sum((seen.total, agg.total)),
                nondetects=seen.nondetects + agg.nondetects,
                suspect=seen.suspect + agg.suspect,
                invalid=seen.invalid + agg.invalid,
            )
        slot[agg.source] = agg
    return index


def _period(value: object, *, month: bool) -> Period:
    period = Period(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if period is None:
        period = Period.parse(value)  # type: ignore[arg-type]
    if period.is_month != month:
        want = "a month such as 2023-01" if month else "a year such as 2023"
        raise AssessmentError(f"period {period} is not {want}")
    return period


def _section_assessment(
    section: SectionLike,
    period: Period,
    picks: Mapping[str, Sequence[_Pick]],
    factors: tuple[str, ...],
    annual: AnnualMethod,
) -> SectionAssessment:
    """Items from each parameter's monthly picks (one pick for a month, up to 12 for a year)."""
    waterbody = _waterbody(section.waterbody, f"section {section.code}")
    items: dict[str, ItemAssessment] = {}
    invalid_only: dict[str, int] = {}
    by_means = annual == "monthly_means" and period.month is None
    for parameter in sorted(picks):
        months = picks[parameter]
        if len(months) == 1:  # a month: one pick, nothing to add up
            used = [] if months[0].count == 0 else list(months)
            invalid = months[0].invalid
        else:
            used = [p for p in months if p.count > 0]
            invalid = sum(p.invalid for p in months)
        if not used:
            invalid_only[parameter] = invalid
            continue
        exact: Fraction | None = None
        if len(used) == 1:
            first = used[0]
            samples, nondetects, suspect, superseded = (
                first.count, first.nondetects, first.suspect, first.superseded)
            value = _mean(first.total, samples)
            exact = _exact_mean(first.total, samples, value)
            source = first.source
        else:
            samples = sum(p.count for p in used)
            nondetects = sum(p.nondetects for p in used)
            suspect = sum(p.suspect for p in used)
            superseded = sum(p.superseded for p in used)
            if by_means:
                fraction = sum((Fraction(p.total) / p.count for p in used),
                               Fraction(0)) / len(used)
                value = _decimal(fraction)
                exact = None if Fraction(value) == fraction else fraction
            else:
                total = _exact_sum(p.total for p in used)
                value = _mean(total, samples)
                exact = _exact_mean(total, samples, value)
            sources = {p.source for p in used}
            source = sources.pop() if len(sources) == 1 else "mixed"
        # positional, in field order (parameter, value, samples, cls, nondetects, suspect,
        # excluded_invalid, source, months, superseded): keywords cost more per call
        items[parameter] = ItemAssessment(
            parameter, value, samples, class_of(parameter, value, waterbody), nondetects,
            suspect, invalid, source,  # type: ignore[arg-type]
            len(used) if period.month is None else None, superseded, exact,
        )
    return SectionAssessment(
        section=section.code,
        period=period,
        waterbody=waterbody,
        items=items,
        factors=factors,
        invalid_only=invalid_only,
    )


def _check_annual(annual: str) -> AnnualMethod:
    if annual not in ("samples", "monthly_means"):
        raise AssessmentError(
            f"annual={annual!r} is not known; use 'samples' (mean of the year's samples) or "
            "'monthly_means' (mean of the monthly means)"
        )
    return annual  # type: ignore[return-value]


def _assess_month(
    index: _Index, section: SectionLike, month: Period, factors: tuple[str, ...]
) -> SectionAssessment:
    data = index.get(section.code, {}).get(month, {})
    picks = {parameter: [_pick(parameter, by_source)] for parameter, by_source in data.items()}
    return _section_assessment(section, month, picks, factors, "samples")


def _assess_year(
    index: _Index,
    section: SectionLike,
    year: Period,
    factors: tuple[str, ...],
    annual: AnnualMethod,
) -> SectionAssessment:
    picks: dict[str, list[_Pick]] = defaultdict(list)
    for month, data in index.get(section.code, {}).items():
        if month.year != year.year:
            continue
        for parameter, by_source in data.items():
            # The automatic-first rule applies month by month, also for the annual value.
            picks[parameter].append(_pick(parameter, by_source))
    return _section_assessment(section, year, picks, factors, annual)


def assess_month(
    aggregates: Iterable[MonthlyAggregate],
    section: SectionLike,
    month: Period | str,
    *,
    factors: Iterable[str] | str | None = None,
) -> SectionAssessment:
    """A section's assessment for one month: each item's mean of the month's valid samples.

    Where automatic and manual data both exist in the month for ph/do/codmn/nh3n/tp/tn, only
    the automatic data are used (``source`` and ``superseded`` say so).

    >>> from types import SimpleNamespace
    >>> agg = MonthlyAggregate("s", "nh3n", Period(2023, 1), "manual", 2, Decimal("1.0"))
    >>> sa = assess_month([agg], SimpleNamespace(code="s", waterbody="river"), "2023-01")
    >>> sa.items["nh3n"].value, sa.cls
    (Decimal('0.5'), <WaterClass.II: 2>)
    """
    period = _period(month, month=True)
    return _assess_month(
        _index(aggregates, period.year), section, period, resolve_factors(factors)
    )


def assess_year(
    aggregates: Iterable[MonthlyAggregate],
    section: SectionLike,
    year: Period | int | str,
    *,
    factors: Iterable[str] | str | None = None,
    annual: AnnualMethod = "samples",
) -> SectionAssessment:
    """A section's annual assessment: the mean of the year's samples, or of the monthly means.

    ``annual="samples"`` (default) averages every sample used in the year;
    ``annual="monthly_means"`` averages the monthly means, so each month weighs the same.
    ``months`` on each item counts the months that had data.

    >>> from types import SimpleNamespace
    >>> aggs = [MonthlyAggregate("s", "tp", Period(2023, 1), "manual", 3, Decimal("0.3")),
    ...         MonthlyAggregate("s", "tp", Period(2023, 2), "manual", 1, Decimal("0.3"))]
    >>> s = SimpleNamespace(code="s", waterbody="river")
    >>> assess_year(aggs, s, 2023).items["tp"].value
    Decimal('0.15')
    >>> assess_year(aggs, s, 2023, annual="monthly_means").items["tp"].value
    Decimal('0.2')
    """
    period = _period(year, month=False)
    return _assess_year(
        _index(aggregates, period.year),
        section,
        period,
        resolve_factors(factors),
        _check_annual(annual),
    )


def assess(
    aggregates: Iterable[MonthlyAggregate],
    sections: Iterable[SectionLike],
    year: int | Period,
    *,
    factors: Iterable[str] | str | None = None,
    annual: AnnualMethod = "samples",
    daily_flows: Mapping[str, Mapping[date, Decimal]] | None = None,
) -> Assessments:
    """Assess every section for every month of ``year`` and for the year itself.

    A (section, period) appears only when the section has at least one sample in it (valid or
    invalid); months without any data are absent (see :func:`completeness`). Aggregates of
    other sections or years are ignored. ``daily_flows`` is passed through for the flow
    formulas (see :func:`daily_flow_means`).

    >>> from types import SimpleNamespace
    >>> agg = MonthlyAggregate("s", "do", Period(2023, 3), "automatic", 1, Decimal("5.5"))
    >>> a = assess([agg], [SimpleNamespace(code="s", waterbody="river")], 2023)
    >>> a.get("s", Period(2023, 3)).cls, a.get("s", Period(2023)).cls, a.get("s", Period(2023, 4))
    (<WaterClass.III: 3>, <WaterClass.III: 3>, None)
    """
    period = _period(year, month=False)
    codes = resolve_factors(factors)
    method = _check_annual(annual)
    index = _index(aggregates, period.year)
    result: dict[tuple[str, Period], SectionAssessment] = {}
    seen: set[str] = set()
    for section in sections:
        if section.code in seen:
            raise AssessmentError(f"section {section.code} is listed twice; list each section once")
        seen.add(section.code)
        _waterbody(section.waterbody, f"section {section.code}")
        months = index.get(section.code, {})
        # each month's picks once: the month's assessment, and the year's (which applies
        # the automatic-first rule month by month too)
        year_picks: dict[str, list[_Pick]] = defaultdict(list)
        for month in period.months():
            data = months.get(month)
            if data is None:
                continue
            picks = {parameter: _pick(parameter, by_source)
                     for parameter, by_source in data.items()}
            result[(section.code, month)] = _section_assessment(
                section, month, {p: [pick] for p, pick in picks.items()}, codes, "samples")
            for parameter, pick in picks.items():
                year_picks[parameter].append(pick)
        if months:
            result[(section.code, period)] = _section_assessment(
                section, period, year_picks, codes, method)
    flows = {code: dict(days) for code, days in (daily_flows or {}).items()}
    return Assessments(sections=result, daily_flows=flows)


def assess_readings(
    readings: Iterable[Reading],
    sections: Iterable[SectionLike],
    year: int | Period,
    *,
    factors: Iterable[str] | str | None = None,
    annual: AnnualMethod = "samples",
) -> Assessments:
    """:func:`assess` straight from readings (no store): aggregates and daily flows of ``year``.

    >>> from datetime import datetime
    >>> from types import SimpleNamespace
    >>> rs = [Reading("s", datetime(2023, 5, 2), "tp", Decimal("0.12"))]
    >>> assess_readings(rs, [SimpleNamespace(code="s", waterbody="lake")], 2023).get(
    ...     "s", Period(2023, 5)).cls
    <WaterClass.V: 5>
    """
    period = _period(year, month=False)
    rows = [r for r in readings if r.sampled_at.year == period.year]
    return assess(
        aggregate(rows),
        sections,
        period,
        factors=factors,
        annual=annual,
        daily_flows=daily_flow_means(rows),
    )


# --------------------------------------------------------------------------- rivers and basins


@attrs.frozen
class RiverEvaluation:
    """The water quality of a river or basin from its sections ([C S12], 河流/流域).

    ``method`` is ``"mean"`` for fewer than 5 assessed sections (each item averaged across the
    sections, then the single-factor class: ``classification``, ``cls`` and ``means``) or
    ``"proportion"`` for 5 or more (the class-proportion method: ``descriptor`` from the shares
    of Ⅰ–Ⅲ and 劣Ⅴ sections; ``cls`` is None). ``sections`` are the assessed sections;
    ``unassessed`` those without a class (no data for any factor), left out of both methods.
    """

    method: Literal["mean", "proportion"]
    period: Period
    sections: tuple[str, ...]
    descriptor: str | None
    class_counts: Mapping[WaterClass, int]
    good_share: Decimal | None  # share of sections in Ⅰ–Ⅲ
    worst_share: Decimal | None  # share of sections in 劣Ⅴ
    cls: WaterClass | None = None
    classification: Classification | None = None
    means: Mapping[str, Decimal] = attrs.field(factory=dict)
    unassessed: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.descriptor is None:
            return "no evaluation (no section has a class)"
        if self.cls is not None:
            return f"{self.cls.roman}类 ({self.descriptor}), mean of {len(self.sections)} sections"
        return (
            f"{self.descriptor}: Ⅰ–Ⅲ {_percent(self.good_share)}%, "
            f"劣Ⅴ {_percent(self.worst_share)}% of {len(self.sections)} sections"
        )


def _percent(share: Decimal | None) -> str:
    if share is None:
        return "-"
    with localcontext(CONTEXT) as ctx:
        ctx.prec = MEAN_PRECISION
        return f"{_tidy((share * 100).quantize(Decimal('0.1'))):f}"


def _proportion_descriptor(good: int, worst: int, n: int) -> str:
    """The class-proportion rule, compared in integers so 75 % and 90 % are exact."""
    if good * 100 >= 90 * n:
        return "优"
    if good * 100 >= 75 * n:
        return "良好"
    if worst * 100 < 20 * n:
        return "轻度污染"
    if worst * 100 < 40 * n:
        return "中度污染"
    return "重度污染"


def evaluate_river(
    assessments: Sequence[SectionAssessment],
    *,
    factors: Iterable[str] | str | None = None,
) -> RiverEvaluation:
    """Evaluate a river or basin from its sections' assessments of one period.

    Fewer than 5 assessed sections: each item's value is averaged across the sections that
    have it, then classed by the single-factor method. 5 or more: class proportions —
    Ⅰ–Ⅲ ≥ 90 % 优; ≥ 75 % 良好; otherwise by the share of 劣Ⅴ: < 20 % 轻度污染,
    < 40 % 中度污染, else 重度污染.

    >>> sa = [SectionAssessment(s, Period(2023), "river",
    ...                         {"nh3n": item_assessment("nh3n", Decimal(v), 12)})
    ...       for s, v in (("a", "0.4"), ("b", "0.7"))]
    >>> str(evaluate_river(sa))
    'Ⅲ类 (良好), mean of 2 sections'
    """
    if not assessments:
        raise AssessmentError("evaluate_river needs the assessments of at least one section")
    periods = {sa.period for sa in assessments}
    if len(periods) > 1:
        raise AssessmentError(
            f"evaluate_river: the sections are assessed for different periods "
            f"({', '.join(sorted(str(p) for p in periods))}); pass one period's assessments"
        )
    codes = [sa.section for sa in assessments]
    if len(set(codes)) < len(codes):
        raise AssessmentError("evaluate_river: a section is listed twice; list each section once")
    lakes = [sa.section for sa in assessments if sa.waterbody != "river"]
    if lakes:
        raise AssessmentError(
            f"evaluate_river: {', '.join(lakes)} are lake points; evaluate lakes and "
            "reservoirs separately (lake limits and the trophic index)"
        )
    chosen = resolve_factors(factors)
    period = periods.pop()
    classed = [sa for sa in assessments if sa.class_for(chosen) is not None]
    unassessed = tuple(sa.section for sa in assessments if sa.class_for(chosen) is None)
    counts = {cls: 0 for cls in WaterClass}
    for sa in classed:
        counts[sa.class_for(chosen)] += 1  # type: ignore[index]
    n = len(classed)
    good = sum(c for cls, c in counts.items() if cls <= WaterClass.III)
    worst = counts[WaterClass.WORSE_THAN_V]
    good_share = _decimal(Fraction(good, n)) if n else None
    worst_share = _decimal(Fraction(worst, n)) if n else None
    sections = tuple(sa.section for sa in classed)
    if n >= 5:
        return RiverEvaluation(
            method="proportion",
            period=period,
            sections=sections,
            descriptor=_proportion_descriptor(good, worst, n),
            class_counts=counts,
            good_share=good_share,
            worst_share=worst_share,
            unassessed=unassessed,
        )
    values: dict[str, list[Decimal]] = defaultdict(list)
    for sa in classed:
        for code, item in sa.items.items():
            values[code].append(item.value)
    means = {
        code: _mean(_exact_sum(vs), len(vs)) for code, vs in sorted(values.items())
    }
    classification = classify(means, "river", factors=chosen)
    return RiverEvaluation(
        method="mean",
        period=period,
        sections=sections,
        descriptor=classification.descriptor,
        class_counts=counts,
        good_share=good_share,
        worst_share=worst_share,
        cls=classification.cls,
        classification=classification,
        means=means,
        unassessed=unassessed,
    )


# --------------------------------------------------------------------------- tables and gaps


def _code(section: SectionLike | str) -> str:
    return section if isinstance(section, str) else section.code


@attrs.frozen
class AssessmentRow:
    """One section's classes: 12 months (None = no class) and the year."""

    section: str
    months: tuple[WaterClass | None, ...]
    year: WaterClass | None

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "months": [c.code if c is not None else None for c in self.months],
            "year": self.year.code if self.year is not None else None,
        }


@attrs.frozen
class AssessmentTable:
    """The monthly class table: rows = sections, columns = the 12 months and the year."""

    year: int
    rows: tuple[AssessmentRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "sections": [row.to_json() for row in self.rows]}

    def format(self) -> str:
        """A plain-text table with Roman classes and ``-`` for no class."""
        header = ["section", *(f"{m:02d}" for m in range(1, 13)), str(self.year)]
        body = [
            [row.section, *(c.roman if c else "-" for c in row.months),
             row.year.roman if row.year else "-"]
            for row in self.rows
        ]  # fmt: skip
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *body]
        )


def assessment_table(
    assessments: Assessments,
    sections: Iterable[SectionLike | str],
    year: int | Period,
    *,
    factors: Iterable[str] | str | None = None,
) -> AssessmentTable:
    """Each section's class per month and for the year (over ``factors``, default each
    assessment's own factors), in the order the sections are given.

    >>> agg = MonthlyAggregate("s", "nh3n", Period(2023, 2), "manual", 1, Decimal("0.4"))
    >>> from types import SimpleNamespace
    >>> a = assess([agg], [SimpleNamespace(code="s", waterbody="river")], 2023)
    >>> assessment_table(a, ["s"], 2023).rows[0].months[:3]
    (None, <WaterClass.II: 2>, None)
    """
    period = _period(year, month=False)
    chosen = None if factors is None else resolve_factors(factors)

    def cls(code: str, p: Period) -> WaterClass | None:
        sa = assessments.get(code, p)
        return sa.class_for(chosen) if sa is not None else None

    rows = tuple(
        AssessmentRow(
            section=code,
            months=tuple(cls(code, m) for m in period.months()),
            year=cls(code, period),
        )
        for code in map(_code, sections)
    )
    return AssessmentTable(year=period.year, rows=rows)


@attrs.frozen
class Completeness:
    """What a section's year lacks: months without any data, and factors missing per month."""

    section: str
    months_without_data: tuple[Period, ...]
    missing_factors: Mapping[Period, tuple[str, ...]]

    @property
    def complete(self) -> bool:
        return not self.months_without_data and not any(self.missing_factors.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "months_without_data": [str(p) for p in self.months_without_data],
            "missing_factors": {str(p): list(f) for p, f in self.missing_factors.items() if f},
        }


def completeness(
    assessments: Assessments,
    sections: Iterable[SectionLike | str],
    year: int | Period,
    *,
    factors: Iterable[str] | str | None = None,
) -> dict[str, Completeness]:
    """Per section: the months of ``year`` with no data at all, and per month with data the
    factors (default: each assessment's own) that have no valid sample.

    >>> agg = MonthlyAggregate("s", "nh3n", Period(2023, 2), "manual", 1, Decimal("0.4"))
    >>> from types import SimpleNamespace
    >>> s = SimpleNamespace(code="s", waterbody="river")
    >>> a = assess([agg], [s], 2023, factors=["nh3n", "tp"])
    >>> c = completeness(a, ["s"], 2023)["s"]
    >>> len(c.months_without_data), c.missing_factors[Period(2023, 2)]
    (11, ('tp',))
    """
    period = _period(year, month=False)
    chosen = None if factors is None else resolve_factors(factors)
    out: dict[str, Completeness] = {}
    for code in map(_code, sections):
        empty: list[Period] = []
        missing: dict[Period, tuple[str, ...]] = {}
        for month in period.months():
            sa = assessments.get(code, month)
            if sa is None:
                empty.append(month)
            elif chosen is None:
                missing[month] = sa.missing
            else:
                missing[month] = tuple(f for f in chosen if f not in sa.items)
        out[code] = Completeness(
            section=code, months_without_data=tuple(empty), missing_factors=missing
        )
    return out
