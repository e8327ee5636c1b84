"""Classify a set of values: the single-factor class of a sample and the lake trophic index.

:func:`classify` answers "which class is this water?" for one set of item values (a sample,
a monthly or annual mean) per GB 3838-2002 and the 2011 evaluation method (环办〔2011〕22号):
the class is the worst item class over the assessed factors, with each item's exceedance
multiple (超标倍数), the descriptor (优 … 重度污染) and the main pollutants.
:func:`trophic_index` computes the lake trophic level index TLI(Σ) (综合营养状态指数).

Both are pure and exact: values are Decimal (or decimal strings), never float.
See docs/assessment.md for the rules and their sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import attrs

from ecocomp.errors import StandardError
from ecocomp.money import CONTEXT, as_decimal, in_money_context
from ecocomp.standards import (
    ASSESSED_ITEMS,
    Waterbody,
    WaterClass,
    classify_item,
    exceedance_multiple,
    gb3838,
)

__all__ = [
    "PRIORITY_POLLUTANTS",
    "TROPHIC_WEIGHTS",
    "Classification",
    "ClassifiedItem",
    "TrophicState",
    "classify",
    "resolve_factors",
    "trophic_grade",
    "trophic_index",
]

# docs/assessment.md [P]: if cyanide or a heavy metal exceeds, it leads the main pollutants.
PRIORITY_POLLUTANTS: frozenset[str] = frozenset(
    {"cyanide", "hg", "cd", "cr6", "pb", "as", "cu", "zn", "se"}
)
_MAIN_POLLUTANTS = 3

# docs/assessment.md [C S14]: TLI(j) = 10 × (a + b × ln C), weights Wj (they sum to 1).
_TLI_COEFFICIENTS: Mapping[str, tuple[Decimal, Decimal]] = {
    "chla": (Decimal("2.5"), Decimal("1.086")),
    "tp": (Decimal("9.436"), Decimal("1.624")),
    "tn": (Decimal("5.453"), Decimal("1.694")),
    "sd": (Decimal("5.118"), Decimal("-1.94")),
    "codmn": (Decimal("0.109"), Decimal("2.661")),
}
TROPHIC_WEIGHTS: Mapping[str, Decimal] = {
    "chla": Decimal("0.2663"),
    "tp": Decimal("0.1879"),
    "tn": Decimal("0.1790"),
    "sd": Decimal("0.1834"),
    "codmn": Decimal("0.1834"),
}
# Upper bounds (inclusive) of each grade; above the last one is 重度富营养.
_TROPHIC_GRADES = (
    (Decimal(30), "贫营养"),  # strictly below 30
    (Decimal(50), "中营养"),
    (Decimal(60), "轻度富营养"),
    (Decimal(70), "中度富营养"),
)
_PRECISION = 50
_DISPLAY = Decimal("0.01")


def _check_waterbody(waterbody: object) -> Waterbody:
    if waterbody not in ("river", "lake"):
        raise StandardError(
            f"waterbody {waterbody!r} is not known; use 'river' or 'lake' "
            "(reservoirs are assessed as lakes)"
        )
    return waterbody  # type: ignore[return-value]


def _value(name: str, value: object) -> Decimal:
    """An exact Decimal from str/int/Decimal; a float is refused before it can lose digits."""
    if isinstance(value, float):
        raise TypeError(
            f"value of {name} is a float ({value!r}); pass a str or Decimal such as "
            f"'{value}' so no digits are lost"
        )
    return as_decimal(value, what=name)


def _codes(values: Mapping[str, object]) -> dict[str, Decimal]:
    """Values keyed by parameter code; None means 'no value'. Two names for one item clash."""
    standard = gb3838()
    out: dict[str, Decimal] = {}
    given: dict[str, str] = {}
    for name, value in values.items():
        code = standard.parameter(name).code
        if code in given:
            raise StandardError(
                f"{name!r} and {given[code]!r} both name {code}; give each item once"
            )
        given[code] = name
        if value is not None:
            out[code] = _value(name, value)
    return out


def resolve_factors(factors: Iterable[str] | str | None) -> tuple[str, ...]:
    """Factor names (codes, Chinese names, aliases) as codes; None or "standard" = the 21 items.

    >>> resolve_factors(["氨氮", "TP"])
    ('nh3n', 'tp')
    """
    if factors is None or factors == "standard":
        return ASSESSED_ITEMS
    if isinstance(factors, str):
        raise StandardError(
            f"factors {factors!r} must be a list of parameter codes or 'standard'"
        )
    standard = gb3838()
    codes: list[str] = []
    for name in factors:
        code = standard.parameter(name).code
        if code not in codes:
            codes.append(code)
    if not codes:
        raise StandardError("the factor list is empty; name at least one parameter")
    return tuple(codes)


def _reference(reference: object) -> WaterClass:
    cls = WaterClass.parse(reference)
    if cls is WaterClass.WORSE_THAN_V:
        raise StandardError("the reference class must be Ⅰ..Ⅴ, not 劣Ⅴ")
    return cls


@attrs.frozen
class ClassifiedItem:
    """One item's value and class, its exceedance multiple and the reference limit it uses.

    ``multiple`` is 超标倍数 ``(C − Cs)/Cs`` against the reference class limit Cs (0 when
    within it); None for pH and DO, which the method gives no multiple. ``limit`` is Cs (None
    for pH, which has a range rather than a limit).
    """

    parameter: str = attrs.field(validator=attrs.validators.instance_of(str))
    value: Decimal = attrs.field(validator=attrs.validators.instance_of(Decimal))
    cls: WaterClass = attrs.field(validator=attrs.validators.instance_of(WaterClass))
    multiple: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(Decimal))
    )
    limit: Decimal | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(Decimal))
    )

    @property
    def name(self) -> str:
        """The Chinese name of the item (氨氮, 总磷, …)."""
        return gb3838().parameters[self.parameter].name

    def __str__(self) -> str:
        text = f"{self.name} {self.value} {self.cls.roman}类"
        if self.multiple:
            text += f" (超标 {self.multiple} 倍)"
        return text


def _classify_one(
    code: str, value: Decimal, waterbody: Waterbody, reference: WaterClass
) -> ClassifiedItem | None:
    cls = classify_item(code, value, waterbody)
    if cls is None:
        return None
    return ClassifiedItem(
        parameter=code,
        value=value,
        cls=cls,
        multiple=exceedance_multiple(code, value, reference, waterbody),
        limit=gb3838().parameters[code].limit(reference, waterbody),
    )


def _main_pollutants(items: Mapping[str, ClassifiedItem], waterbody: Waterbody) -> tuple[str, ...]:
    """Up to 3 items worse than Ⅲ: cyanide/heavy metals first, then worst class, larger multiple.

    The multiple used for ordering is always against Ⅲ (the method's basis), whatever the
    reference class of the classification; items without a multiple (pH, DO) come after those
    with one in the same class, and remaining ties keep the factor order.
    """
    candidates = [item for item in items.values() if item.cls > WaterClass.III]
    order = {code: i for i, code in enumerate(items)}

    def key(item: ClassifiedItem) -> tuple[int, int, Decimal, int]:
        m = exceedance_multiple(item.parameter, item.value, WaterClass.III, waterbody)
        return (
            0 if item.parameter in PRIORITY_POLLUTANTS else 1,
            -int(item.cls),
            -(m if m is not None else Decimal(-1)),
            order[item.parameter],
        )

    return tuple(item.parameter for item in sorted(candidates, key=key)[:_MAIN_POLLUTANTS])


@attrs.frozen
class Classification:
    """The class of one set of values, with the evidence that explains it.

    - ``cls``: worst item class over ``factors`` (None when no factor has a value);
    - ``items``: the factors that have a value, in factor order;
    - ``extra``: values of items outside the factors that still class (e.g. TN in a lake,
      fecal coliform), reported but not part of ``cls``;
    - ``unclassed``: values the standard does not class here (temperature, TN in a river, …);
    - ``missing``: factors without a value;
    - ``main_pollutants``: for classes worse than Ⅲ, up to three items (主要污染指标).
    """

    cls: WaterClass | None
    items: Mapping[str, ClassifiedItem] = attrs.field(converter=dict)
    waterbody: Waterbody = "river"
    reference: WaterClass = WaterClass.III
    factors: tuple[str, ...] = attrs.field(default=ASSESSED_ITEMS, converter=tuple)
    extra: Mapping[str, ClassifiedItem] = attrs.field(factory=dict, converter=dict)
    unclassed: Mapping[str, Decimal] = attrs.field(factory=dict, converter=dict)
    missing: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    main_pollutants: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @property
    def descriptor(self) -> str | None:
        """水质状况: 优 (Ⅰ–Ⅱ), 良好 (Ⅲ), 轻度污染, 中度污染, 重度污染 (劣Ⅴ)."""
        return self.cls.descriptor if self.cls is not None else None

    @in_money_context
    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: classes as codes (``III``), numbers as decimal strings."""

        def item(it: ClassifiedItem) -> dict[str, Any]:
            return {
                "value": str(it.value),
                "class": it.cls.code,
                "multiple": None if it.multiple is None else str(it.multiple),
                "limit": None if it.limit is None else str(it.limit),
            }

        return {
            "class": self.cls.code if self.cls is not None else None,
            "descriptor": self.descriptor,
            "waterbody": self.waterbody,
            "reference": self.reference.code,
            "items": {code: item(it) for code, it in self.items.items()},
            "extra": {code: item(it) for code, it in self.extra.items()},
            "unclassed": {code: str(v) for code, v in self.unclassed.items()},
            "missing": list(self.missing),
            "main_pollutants": list(self.main_pollutants),
        }

    def __str__(self) -> str:
        if self.cls is None:
            return "no class (none of the assessed factors has a value)"
        return f"{self.cls.roman}类 ({self.cls.descriptor})"


@in_money_context
def classify(
    values: Mapping[str, object],
    waterbody: Waterbody = "river",
    *,
    factors: Iterable[str] | str | None = None,
    reference: WaterClass | str = WaterClass.III,
) -> Classification:
    """Classify a set of item values per GB 3838-2002 by the single-factor method.

    ``values`` are keyed by parameter code, Chinese name or alias, as Decimal, str or int
    (a float is refused with TypeError; None means no value). ``factors`` defaults to the 21
    items of the 2011 method; ``reference`` is the class the multiples are measured against.

    >>> c = classify({"do": "5.5", "codmn": "4.5", "nh3n": "0.45", "tp": "0.12"})
    >>> str(c), str(classify({"do": "5.5", "tp": "0.12"}, "lake"))
    ('Ⅲ类 (良好)', 'Ⅴ类 (中度污染)')
    """
    waterbody = _check_waterbody(waterbody)
    reference = _reference(reference)
    codes = resolve_factors(factors)
    given = _codes(values)
    items: dict[str, ClassifiedItem] = {}
    extra: dict[str, ClassifiedItem] = {}
    unclassed: dict[str, Decimal] = {}
    for code, value in given.items():
        classified = _classify_one(code, value, waterbody, reference)
        if classified is None:
            unclassed[code] = value
        elif code not in codes:
            extra[code] = classified
    for code in codes:
        if code in given and code not in unclassed:
            items[code] = _classify_one(code, given[code], waterbody, reference)  # type: ignore[assignment]
    cls = max((it.cls for it in items.values()), default=None)
    return Classification(
        cls=cls,
        items=items,
        waterbody=waterbody,
        reference=reference,
        factors=codes,
        extra=extra,
        unclassed=unclassed,
        missing=tuple(code for code in codes if code not in given),
        main_pollutants=_main_pollutants(items, waterbody),
    )


# --------------------------------------------------------------------------- trophic index


def trophic_grade(tli: Decimal) -> str:
    """The trophic grade of a TLI(Σ) value (营养状态分级).

    Below 30 贫营养; up to 50 中营养; up to 60 轻度富营养; up to 70 中度富营养; above 70
    重度富营养 (a value equal to a bound takes the lower grade, as in the 2001 rule).

    >>> trophic_grade(Decimal("50")), trophic_grade(Decimal("50.01"))
    ('中营养', '轻度富营养')
    """
    if tli < _TROPHIC_GRADES[0][0]:
        return _TROPHIC_GRADES[0][1]
    for bound, grade in _TROPHIC_GRADES[1:]:
        if tli <= bound:
            return grade
    return "重度富营养"


def _display(value: Decimal) -> Decimal:
    with localcontext(CONTEXT) as ctx:
        ctx.prec = _PRECISION
        return value.quantize(_DISPLAY, rounding=ROUND_HALF_UP)


@attrs.frozen
class TrophicState:
    """Trophic level index of a lake or reservoir point: TLI(j) per item and TLI(Σ).

    Fields hold full precision (50 significant digits); :meth:`rounded` gives the two-decimal
    display values. ``total`` and ``grade`` are None unless all five items have a value —
    the weights are never renormalised — and ``missing`` then names the absent items.
    """

    values: Mapping[str, Decimal] = attrs.field(converter=dict)
    index: Mapping[str, Decimal] = attrs.field(converter=dict)
    total: Decimal | None
    grade: str | None
    missing: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def rounded(self) -> dict[str, Decimal | None]:
        """TLI(j) of each item and ``"total"`` = TLI(Σ), to 0.01 (ROUND_HALF_UP), for display."""
        out: dict[str, Decimal | None] = {code: _display(v) for code, v in self.index.items()}
        out["total"] = _display(self.total) if self.total is not None else None
        return out

    def __str__(self) -> str:
        if self.total is None:
            return f"TLI(Σ) not computed: no value for {', '.join(self.missing)}"
        return f"TLI(Σ) = {_display(self.total)} ({self.grade})"


def trophic_index(values: Mapping[str, object]) -> TrophicState:
    """Trophic level index TLI(Σ) = Σ Wj·TLI(j) over chla, TP, TN, SD and CODMn ([C S14]).

    Units: chla mg/m³, SD m, the others mg/L. Other items in ``values`` are ignored. All five
    are needed for TLI(Σ); with fewer, the per-item indices are still given and ``missing``
    says what is absent. Logarithms are taken with 50 significant digits, without float.

    >>> t = trophic_index({"chla": "10", "tp": "0.05", "tn": "1", "sd": "1", "codmn": "4"})
    >>> t.rounded()["total"], t.grade
    (Decimal('48.02'), '中营养')
    """
    given = _codes(values)
    index: dict[str, Decimal] = {}
    used: dict[str, Decimal] = {}
    with localcontext(CONTEXT) as ctx:
        ctx.prec = _PRECISION
        for code, (a, b) in _TLI_COEFFICIENTS.items():
            if code not in given:
                continue
            value = given[code]
            if value <= 0:
                name = gb3838().parameters[code].name
                raise StandardError(
                    f"trophic index: {code} ({name}) = {value} must be positive to take its "
                    "logarithm; check the value or leave the item out"
                )
            used[code] = value
            index[code] = 10 * (a + b * value.ln())
        missing = tuple(code for code in _TLI_COEFFICIENTS if code not in index)
        total = None
        if not missing:
            total = sum((TROPHIC_WEIGHTS[code] * index[code] for code in index), Decimal(0))
    return TrophicState(
        values=used,
        index=index,
        total=total,
        grade=trophic_grade(total) if total is not None else None,
        missing=missing,
    )
