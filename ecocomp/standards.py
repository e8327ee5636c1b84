"""GB 3838-2002 as data: water classes, the parameter registry and per-item class limits.

The limits ship in ``ecocomp/data/gb3838_2002.toml`` and are loaded once, exactly (decimal
strings, never float), and validated on load. Code here holds only the rules of use:
a value equal to a limit belongs to the better class; DO is higher-is-better; pH outside
6–9 is 劣Ⅴ; lakes and reservoirs use their own TP and TN limits.
"""

from __future__ import annotations

import enum
import itertools
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, localcontext
from functools import cache
from importlib import resources
from typing import Literal

import attrs

from ecocomp.errors import StandardError
from ecocomp.money import CONTEXT, as_decimal

__all__ = [
    "ASSESSED_ITEMS",
    "Parameter",
    "Standard",
    "WaterClass",
    "Waterbody",
    "classify_item",
    "exceedance_multiple",
    "gb3838",
    "parameter",
]

Waterbody = Literal["river", "lake"]
Direction = Literal["lower", "higher", "range", "none"]

_ROMAN = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ")
_CODES = ("I", "II", "III", "IV", "V", "worse_than_V")
_DESCRIPTORS = ("优", "优", "良好", "轻度污染", "中度污染", "重度污染")
# Colours of the 2011 evaluation method's class legend (蓝/蓝/绿/黄/橙/红); hex values [I].
_COLOURS = ("#00B0F0", "#0070C0", "#00B050", "#FFFF00", "#FFC000", "#FF0000")
_CLASS_ALIASES = {
    "1": 1, "i": 1, "ⅰ": 1, "一": 1,
    "2": 2, "ii": 2, "ⅱ": 2, "二": 2,
    "3": 3, "iii": 3, "ⅲ": 3, "三": 3,
    "4": 4, "iv": 4, "ⅳ": 4, "四": 4,
    "5": 5, "v": 5, "ⅴ": 5, "五": 5,
    "劣v": 6, "劣ⅴ": 6, "劣五": 6, "worse_than_v": 6, "worsethanv": 6,
}  # fmt: skip
# GB 3838 has five classes; "Ⅵ", "VI", "6" or "六" are not 劣Ⅴ but a mistake to ask about.
_NOT_CLASSES = frozenset({"6", "vi", "ⅵ", "六", "0"})


class WaterClass(enum.IntEnum):
    """Water quality class, ordered best (Ⅰ = 1) to worst (劣Ⅴ = 6).

    >>> WaterClass.parse("劣V") is WaterClass.WORSE_THAN_V, str(WaterClass.III)
    (True, 'Ⅲ')
    """

    I = 1  # noqa: E741 - the class is called Ⅰ
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @classmethod
    def parse(cls, text: object) -> WaterClass:
        """Accept ``I``..``V``, ``Ⅰ``..``Ⅴ``, 1..5, ``劣V``/``劣Ⅴ``/``worse_than_V``, or a class.

        There is no class Ⅵ: ``"VI"``, ``"Ⅵ"`` and ``6`` are refused rather than read as 劣Ⅴ.
        """
        if isinstance(text, WaterClass):
            return text
        if isinstance(text, int) and not isinstance(text, bool) and 1 <= text <= 5:
            return cls(text)
        key = unicodedata.normalize("NFKC", str(text)).strip().lower().removesuffix("类")
        key = key.replace(" ", "")
        if key in _NOT_CLASSES:
            raise StandardError(
                f"{text!r} is not a water class: GB 3838 has classes Ⅰ to Ⅴ and 劣Ⅴ (worse than "
                "Ⅴ), no class Ⅵ; write worse_than_V (or 劣Ⅴ) if that is meant"
            )
        try:
            return cls(_CLASS_ALIASES[key])
        except KeyError:
            raise StandardError(
                f"{text!r} is not a water class; use I, II, III, IV, V or worse_than_V"
            ) from None

    @property
    def roman(self) -> str:
        """Ⅰ…劣Ⅴ, for people."""
        return _ROMAN[self - 1]

    @property
    def code(self) -> str:
        """I…worse_than_V, for JSON and files."""
        return _CODES[self - 1]

    @property
    def descriptor(self) -> str:
        """水质状况: 优 (Ⅰ–Ⅱ), 良好, 轻度污染, 中度污染, 重度污染."""
        return _DESCRIPTORS[self - 1]

    @property
    def colour(self) -> str:
        """The legend colour of the class as ``#RRGGBB``."""
        return _COLOURS[self - 1]

    def __str__(self) -> str:
        return self.roman


def _decimal_tuple(values: object) -> tuple[Decimal, ...]:
    return tuple(as_decimal(v) for v in values)  # type: ignore[attr-defined]


@attrs.frozen
class Parameter:
    """One monitored parameter: code, Chinese name, aliases, unit, direction and limits."""

    code: str
    name: str
    aliases: tuple[str, ...]
    unit: str
    units: Mapping[str, Decimal]
    direction: Direction
    assessed: bool
    limits: Mapping[str, tuple[Decimal, ...]]
    range: tuple[Decimal, Decimal] | None = None
    unit_names: tuple[str, ...] = ()  # accepted units as written in the data, for messages

    def limits_for(self, waterbody: Waterbody) -> tuple[Decimal, ...] | None:
        """Class Ⅰ..Ⅴ limits for a waterbody; lakes fall back to river limits."""
        if waterbody not in ("river", "lake"):
            # Anything else used to fall through to the river limits, silently wrong for a
            # reservoir (which takes the lake TP/TN limits).
            raise StandardError(
                f"waterbody {waterbody!r} is not known; use 'river' or 'lake' "
                "(reservoirs are assessed as lakes)"
            )
        if waterbody == "lake":
            return self.limits.get("lake", self.limits.get("river"))
        return self.limits.get("river")

    def classifiable(self, waterbody: Waterbody = "river") -> bool:
        return self.direction == "range" or (
            self.direction in ("lower", "higher") and self.limits_for(waterbody) is not None
        )

    def limit(self, cls: WaterClass, waterbody: Waterbody = "river") -> Decimal | None:
        """The limit of class ``cls`` (Ⅰ..Ⅴ), or None where the item has no such limit."""
        limits = self.limits_for(waterbody)
        if limits is None or cls is WaterClass.WORSE_THAN_V:
            return None
        return limits[cls - 1]

    def to_canonical(self, value: Decimal, unit: str | None) -> Decimal:
        """Convert a value in ``unit`` to this parameter's unit; empty unit = canonical."""
        if unit is None or unit.strip() == "":
            return value
        factor = self.units.get(_normalise_unit(unit))
        if factor is None:
            shown = self.unit_names or tuple(self.units)
            raise StandardError(
                f"unit {unit!r} is not accepted for {self.code} ({self.name}); "
                f"use one of {', '.join(repr(u) for u in shown if u)}"
            )
        return value if factor == 1 else value * factor


def _normalise_unit(unit: str) -> str:
    """A comparison key for a unit: NFKC (µ→μ, ³→3, ℃→°C), case-folded, ``ug`` read as μg."""
    key = unicodedata.normalize("NFKC", unit).strip().lower().replace(" ", "")
    return "μ" + key[1:] if key.startswith("ug/") else key


def _normalise_alias(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s\-_()（）·.]", "", key)


@attrs.frozen
class Standard:
    """The parameter registry and limits of one standard (GB 3838-2002 by default)."""

    name: str
    parameters: Mapping[str, Parameter]
    _aliases: Mapping[str, str] = attrs.field(alias="aliases")

    def parameter(self, name: str) -> Parameter:
        """Look a parameter up by code, Chinese name or alias (case and punctuation ignored)."""
        found = self.parameters.get(name)  # the common case: a code, as stored
        if found is not None:
            return found
        code = self._aliases.get(_normalise_alias(name))
        if code is None:
            raise StandardError(
                f"unknown parameter {name!r}; use a code such as nh3n, tp, codmn or a "
                "Chinese name such as 氨氮 (see ecocomp.gb3838().parameters)"
            )
        return self.parameters[code]

    def resolve(self, name: str) -> str | None:
        """The parameter code for a name or alias, or None when unknown."""
        return self._aliases.get(_normalise_alias(name))

    @property
    def assessed_items(self) -> tuple[str, ...]:
        """The 21 items of the 2011 evaluation method, in table order."""
        return tuple(code for code, p in self.parameters.items() if p.assessed)


def _load_standard(raw: Mapping[str, object]) -> Standard:
    params: dict[str, Parameter] = {}
    aliases: dict[str, str] = {}
    table = raw.get("parameters")
    if not isinstance(table, dict):
        raise StandardError("standard data: missing [parameters] tables")
    for code, spec in table.items():
        where = f"standard data: parameters.{code}"
        try:
            direction = spec["direction"]
            if direction not in ("lower", "higher", "range", "none"):
                raise StandardError(f"{where}.direction: {direction!r} is not valid")
            limits = {wb: _decimal_tuple(spec[wb]) for wb in ("river", "lake") if wb in spec}
            for wb, values in limits.items():
                if len(values) != 5:
                    raise StandardError(f"{where}.{wb}: needs 5 limits (Ⅰ..Ⅴ)")
                ordered = values if direction == "higher" else tuple(reversed(values))
                if any(a < b for a, b in itertools.pairwise(ordered)):
                    raise StandardError(f"{where}.{wb}: limits are not monotone")
            if direction in ("lower", "higher") and not limits:
                raise StandardError(f"{where}: a classified item needs river or lake limits")
            units = {_normalise_unit(u): as_decimal(f) for u, f in spec["units"].items()}
            rng = spec.get("range")
            param = Parameter(
                code=code,
                name=spec["name"],
                aliases=tuple(spec.get("aliases", ())),
                unit=next(iter(spec["units"])),
                units=units,
                direction=direction,
                assessed=bool(spec["assessed"]),
                limits=limits,
                range=(as_decimal(rng[0]), as_decimal(rng[1])) if rng else None,
                unit_names=tuple(spec["units"]),
            )
        except KeyError as exc:
            raise StandardError(f"{where}: missing key {exc.args[0]!r}") from None
        params[code] = param
        for alias in (code, param.name, *param.aliases):
            key = _normalise_alias(alias)
            if aliases.setdefault(key, code) != code:
                raise StandardError(f"{where}: alias {alias!r} also names {aliases[key]}")
    return Standard(name=str(raw.get("standard", "")), parameters=params, aliases=aliases)


@cache
def gb3838() -> Standard:
    """The GB 3838-2002 standard shipped with ecocomp (loaded and validated once)."""
    data = resources.files("ecocomp.data").joinpath("gb3838_2002.toml").read_bytes()
    return _load_standard(tomllib.loads(data.decode("utf-8"), parse_float=Decimal))


def parameter(name: str) -> Parameter:
    """Shortcut for ``gb3838().parameter(name)``."""
    return gb3838().parameter(name)


ASSESSED_ITEMS: tuple[str, ...] = gb3838().assessed_items


def classify_item(
    code: str, value: object, waterbody: Waterbody = "river"
) -> WaterClass | None:
    """The class of one item's value, or None for items the standard does not class.

    >>> classify_item("nh3n", "0.5"), classify_item("do", "5.5"), classify_item("ph", "9.1")
    (<WaterClass.II: 2>, <WaterClass.III: 3>, <WaterClass.WORSE_THAN_V: 6>)
    """
    param = gb3838().parameter(code)
    v = as_decimal(value, what=param.code)
    return class_of(param.code, v, waterbody)


#: A class's limits as :func:`class_of` walks them: direction, then the limits (Ⅰ..Ⅴ) or
#: the pH range's ends.
_Rule = tuple[str, tuple[Decimal, ...] | None]
_RULES: dict[tuple[str, str], _Rule] = {}
_CLASSES = tuple(WaterClass(i + 1) for i in range(5))


def _rule(code: str, waterbody: str) -> _Rule:
    param = gb3838().parameter(code)
    limits = param.limits_for(waterbody)  # type: ignore[arg-type]  # checks the waterbody
    if param.direction == "range":
        return "range", param.range or (Decimal(6), Decimal(9))
    if param.direction == "none" or limits is None:
        return "none", None
    return param.direction, limits


def class_of(code: str, value: Decimal, waterbody: Waterbody = "river") -> WaterClass | None:
    """:func:`classify_item` of a finite Decimal and a parameter's code, with each
    parameter's limits looked up once (assessment classes ~180,000 values a province-year).
    """
    rule = _RULES.get((code, waterbody))
    if rule is None:
        rule = _RULES[(code, waterbody)] = _rule(code, waterbody)
    direction, limits = rule
    if direction == "higher":
        for cls, limit in zip(_CLASSES, limits, strict=False):  # type: ignore[arg-type]
            if value >= limit:
                return cls
    elif direction == "lower":
        for cls, limit in zip(_CLASSES, limits, strict=False):  # type: ignore[arg-type]
            if value <= limit:
                return cls
    elif direction == "range":
        low, high = limits  # type: ignore[misc]
        return WaterClass.I if low <= value <= high else WaterClass.WORSE_THAN_V
    else:
        return None
    return WaterClass.WORSE_THAN_V


def exceedance_multiple(
    code: str,
    value: object,
    reference: WaterClass = WaterClass.III,
    waterbody: Waterbody = "river",
) -> Decimal | None:
    """超标倍数 ``(C − Cs)/Cs`` against the reference class limit; 0 when within the limit.

    None where the method defines no multiple (pH, DO, temperature, unclassed items).

    >>> exceedance_multiple("nh3n", "1.8"), exceedance_multiple("tp", "0.5")
    (Decimal('0.8'), Decimal('1.5'))
    """
    param = gb3838().parameter(code)
    v = as_decimal(value, what=param.code)
    reference = WaterClass.parse(reference)
    if reference is WaterClass.WORSE_THAN_V:
        raise StandardError("the reference class of an exceedance multiple must be Ⅰ..Ⅴ")
    limit = param.limit(reference, waterbody)  # also checks the waterbody
    if param.direction != "lower" or limit is None:
        return None
    if v <= limit:
        return Decimal(0)
    with localcontext(CONTEXT) as ctx:
        # 50 digits like the assessment means, so a long exact mean is not cut at 28 digits.
        ctx.prec = 50
        multiple = ((v - limit) / limit).normalize()
        # normalize() writes 10 as 1E+1; keep whole multiples in plain notation.
        return multiple.quantize(Decimal(1)) if multiple.as_tuple().exponent > 0 else multiple
