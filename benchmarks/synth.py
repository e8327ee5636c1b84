"""Deterministic synthetic water-quality and flow readings, streamed as readings CSV.

Used by tests at small sizes, by benchmarks at millions of rows, and to build the bundled
example year (``examples/hunan-2021/readings/``). Everything is seeded: the same
sections, years, seed, forces and rates give the same bytes on every machine, because every
random stream is keyed by (seed, section, year, month, purpose) — so a manual file and an
automatic file generated separately still agree with each other month by month — and values
are computed with + − × ÷ only (no libm functions whose last bit may differ by platform).

What is guaranteed (and what tests rely on): every valid sample of an item in a month lies in
the value band of the class the section's profile (or a :class:`MonthForce`) gives that item,
so the monthly mean's class is known in advance. A "pinned" item sits inside its class band;
other items only stay at or better than their class.

Run ``python -m benchmarks.synth --sections 100 --year 2021 --seed 1 --out readings.csv`` for a
benchmark file, or ``python -m benchmarks.synth --example examples/hunan-2021`` to
regenerate the bundled example's readings.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import random
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import attrs

from ecocomp.standards import ASSESSED_ITEMS, WaterClass, gb3838

__all__ = [
    "AUTOMATIC_ITEMS",
    "EXAMPLE_SEED",
    "ITEMS",
    "LONG_HEADER",
    "LowFlow",
    "MonthForce",
    "Rates",
    "SectionSpec",
    "example_forces",
    "example_low_flows",
    "generate_rows",
    "main",
    "profile_for",
    "section_specs_for_example",
    "synthetic_sections",
    "write_example",
    "write_long",
    "write_wide",
]

Waterbody = Literal["river", "lake"]
Source = Literal["manual", "automatic", "flow"]

#: Items of a monthly manual sample: the 21 assessed items plus total nitrogen.
ITEMS: tuple[str, ...] = (*ASSESSED_ITEMS, "tn")
#: Items an automatic station measures every 4 hours.
AUTOMATIC_ITEMS: tuple[str, ...] = ("ph", "do", "codmn", "nh3n", "tp", "tn")
LONG_HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
#: The seed the bundled example was generated with.
EXAMPLE_SEED = 2023

_HOURS = ("00:00", "04:00", "08:00", "12:00", "16:00", "20:00")

# Seasonal position within an item's typical range, January..December (0 = low end).
_SEASON: Mapping[str, tuple[float, ...]] = {
    # DO: cold water holds more oxygen; summer lows.
    "do": (0.9, 0.85, 0.75, 0.6, 0.45, 0.3, 0.15, 0.2, 0.35, 0.55, 0.75, 0.85),
    # TP, CODMn, COD, BOD5: washed in by flood-season runoff (April–July on the 湘江).
    "runoff": (0.3, 0.3, 0.45, 0.6, 0.75, 0.8, 0.7, 0.55, 0.45, 0.35, 0.3, 0.3),
    # NH3-N, TN: less dilution and slow nitrification in the cold dry season.
    "dry": (0.75, 0.7, 0.6, 0.45, 0.35, 0.3, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7),
    # pH: photosynthesis lifts it a little in summer.
    "ph": (0.4, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.65, 0.55, 0.5, 0.45, 0.4),
    "flat": (0.5,) * 12,
}
# Daily mean flow relative to the annual mean, January..December (湘江 regime: flood season
# April–June, dry season October–February).
_FLOW_SEASON = (0.55, 0.7, 1.0, 1.35, 1.6, 1.65, 1.3, 0.9, 0.75, 0.62, 0.58, 0.52)
# Diurnal swing of automatic readings (relative), at 00, 04, 08, 12, 16 and 20 h.
_DIURNAL: Mapping[str, tuple[float, ...]] = {
    "do": (-0.04, -0.05, -0.01, 0.04, 0.06, 0.01),
    "ph": (-0.006, -0.008, 0.0, 0.006, 0.009, 0.003),
}


@attrs.frozen
class _Item:
    manual_dp: int
    automatic_dp: int
    dl: str | None  # detection limit as written after "<"
    nd_share: float  # share of background (class Ⅰ) samples reported below the DL
    background: tuple[float, float] | None  # typical class Ⅰ range of trace items
    season: str
    noise: float  # relative sample-to-sample noise of manual samples


_ITEM: Mapping[str, _Item] = {
    "ph": _Item(2, 2, None, 0.0, None, "ph", 0.01),
    "do": _Item(1, 2, None, 0.0, None, "do", 0.04),
    "codmn": _Item(1, 1, "0.5", 0.0, None, "runoff", 0.08),
    "cod": _Item(0, 0, "4", 0.0, None, "runoff", 0.08),
    "bod5": _Item(1, 1, "0.5", 0.0, None, "runoff", 0.08),
    "nh3n": _Item(3, 3, "0.025", 0.0, None, "dry", 0.08),
    "tp": _Item(3, 3, "0.01", 0.0, None, "runoff", 0.08),
    "tn": _Item(2, 2, "0.05", 0.0, None, "dry", 0.06),
    "cu": _Item(4, 4, "0.001", 0.35, (0.001, 0.006), "flat", 0.2),
    "zn": _Item(3, 3, "0.004", 0.25, (0.004, 0.035), "flat", 0.2),
    "fluoride": _Item(2, 2, "0.05", 0.0, (0.12, 0.42), "flat", 0.08),
    "se": _Item(4, 4, "0.0004", 0.75, (0.0004, 0.0015), "flat", 0.2),
    "as": _Item(4, 4, "0.0003", 0.0, (0.001, 0.005), "flat", 0.15),
    "hg": _Item(5, 5, "0.00004", 0.93, (0.00004, 0.00005), "flat", 0.1),
    "cd": _Item(4, 4, "0.0001", 0.5, (0.0001, 0.0006), "flat", 0.2),
    "cr6": _Item(3, 3, "0.004", 0.88, (0.004, 0.008), "flat", 0.15),
    "pb": _Item(3, 3, "0.001", 0.6, (0.001, 0.004), "flat", 0.2),
    "cyanide": _Item(3, 3, "0.004", 0.92, (0.004, 0.005), "flat", 0.1),
    "phenol": _Item(4, 4, "0.0003", 0.7, (0.0003, 0.0012), "flat", 0.2),
    "petroleum": _Item(2, 2, "0.01", 0.6, (0.01, 0.04), "flat", 0.2),
    "las": _Item(2, 2, "0.05", 0.85, (0.05, 0.12), "flat", 0.15),
    "sulfide": _Item(3, 3, "0.005", 0.8, (0.005, 0.02), "flat", 0.15),
}

# Typical monthly ranges of the main items by class (1 = Ⅰ … 6 = 劣Ⅴ), in canonical units.
# Ranges inside the class band are "pinned" (the item's monthly class is exactly that class);
# the others straddle better classes and only cap the item at the class (e.g. 湘江 Ⅱ:
# TP 0.035–0.085 pins Ⅱ, CODMn 1.5–3 and NH3-N 0.1–0.4 wander between Ⅰ and Ⅱ).
_TYPICAL: Mapping[str, Mapping[int, tuple[float, float]]] = {
    "ph": {1: (7.0, 8.0), 6: (9.15, 9.6)},
    "do": {1: (7.8, 10.6), 2: (7.0, 10.0), 3: (5.6, 8.2), 4: (3.8, 6.5), 5: (2.3, 4.5),
           6: (1.0, 1.9)},
    "codmn": {1: (1.0, 1.9), 2: (1.5, 3.0), 3: (2.5, 5.2), 4: (4.5, 8.5), 5: (8.0, 13.0),
              6: (16.0, 24.0)},
    "cod": {1: (6.0, 13.0), 3: (10.0, 19.0), 4: (15.0, 28.0), 5: (22.0, 38.0), 6: (42.0, 70.0)},
    "bod5": {1: (0.6, 2.4), 3: (1.2, 3.8), 4: (2.5, 5.6), 5: (4.0, 9.0), 6: (11.0, 18.0)},
    "nh3n": {1: (0.03, 0.13), 2: (0.10, 0.40), 3: (0.25, 0.85), 4: (0.6, 1.4), 5: (1.1, 1.9),
             6: (2.2, 4.0)},
    "tp": {1: (0.008, 0.018), 2: (0.035, 0.085), 3: (0.11, 0.18), 4: (0.21, 0.28),
           5: (0.31, 0.38), 6: (0.45, 0.75)},
    # rivers: TN is not classed, so these are only plausible levels for each profile
    "tn": {1: (0.3, 0.8), 2: (0.8, 1.6), 3: (1.1, 2.2), 4: (1.6, 3.0), 5: (2.2, 4.0),
           6: (3.0, 6.0)},
}  # fmt: skip
_TYPICAL_LAKE: Mapping[str, Mapping[int, tuple[float, float]]] = {
    "tp": {1: (0.005, 0.009), 2: (0.013, 0.023), 3: (0.03, 0.048), 4: (0.055, 0.09),
           5: (0.11, 0.18), 6: (0.22, 0.35)},
    "tn": {1: (0.1, 0.19), 2: (0.25, 0.48), 3: (0.55, 0.95), 4: (1.05, 1.45), 5: (1.55, 1.95),
           6: (2.2, 3.5)},
}  # fmt: skip
# Items that follow the section's profile class; all others stay at background (Ⅰ) unless
# forced. COD and BOD5 have equal Ⅰ/Ⅱ limits, so a Ⅱ profile leaves them at Ⅰ.
_PROFILE_ITEMS = ("do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")


def _parse_class(value: object) -> WaterClass:
    return WaterClass.parse(value)


def _check_item(code: str) -> None:
    if code not in _ITEM:
        raise ValueError(f"unknown item {code!r}; use one of {', '.join(ITEMS)}")


@cache
def _band(code: str, cls: int, waterbody: Waterbody) -> tuple[float, float] | None:
    """The closed value range whose every value classes as exactly ``cls``, or None.

    Bounds are multiples of the item's coarsest written decimal, so rounding a value inside
    the range for writing keeps it inside (rounding is monotone and the bounds are exact).
    """
    param = gb3838().parameter(code)
    item = _ITEM[code]
    step = 10.0 ** -min(item.manual_dp, item.automatic_dp)
    if param.direction == "range":
        low, high = (float(x) for x in (param.range or (Decimal(6), Decimal(9))))
        if cls == 1:
            return (low, high)
        return (high + 0.1, 11.0) if cls == 6 else None
    limits = param.limits_for(waterbody)
    if limits is None:  # not classed here (TN in a river): any positive value will do
        return (step, 1e6)
    lim = [float(x) for x in limits]
    if param.direction == "higher":
        if cls == 1:
            lo, hi = lim[0], 14.0
        elif cls == 6:
            lo, hi = 0.1, lim[4] - step
        else:
            lo, hi = lim[cls - 1], lim[cls - 2] - step
    elif cls == 1:
        lo, hi = step, lim[0]
    elif cls == 6:
        lo, hi = lim[4] + step, lim[4] * 3
    else:
        lo, hi = lim[cls - 2] + step, lim[cls - 1]
    lo, hi = round(lo, 10), round(hi, 10)
    return (lo, hi) if lo <= hi else None


def _ceiling(code: str, cls: int, waterbody: Waterbody) -> tuple[float, float]:
    """The value range classing at ``cls`` or better."""
    best = _band(code, 1, waterbody)
    band = _band(code, cls, waterbody)
    assert best is not None and band is not None
    return (min(best[0], band[0]), max(best[1], band[1]))


def _achievable(code: str, cls: WaterClass, waterbody: Waterbody) -> None:
    if _band(code, int(cls), waterbody) is None:
        raise ValueError(
            f"{code} cannot be in class {cls.roman} in a {waterbody} (GB 3838-2002 gives it the "
            "same limit as a neighbouring class); choose another class or item"
        )


def profile_for(cls: object, waterbody: Waterbody = "river") -> dict[str, WaterClass]:
    """The per-item typical classes of a section whose overall class is ``cls``.

    TP carries the class (pinned); DO, CODMn, NH3-N (and COD, BOD5 from Ⅲ on) stay at or
    better than it; trace items and heavy metals sit at Ⅰ, mostly below detection.

    >>> profile_for("II")["tp"], profile_for("II")["cod"], profile_for("II")["hg"]
    (<WaterClass.II: 2>, <WaterClass.I: 1>, <WaterClass.I: 1>)
    """
    return dict(_profile(_parse_class(cls), waterbody))


@cache
def _profile(target: WaterClass, waterbody: Waterbody) -> Mapping[str, WaterClass]:
    out = {code: WaterClass.I for code in ITEMS}
    for code in _PROFILE_ITEMS:
        c = target
        while _band(code, int(c), waterbody) is None:
            c = WaterClass(c - 1)
        out[code] = c
    return MappingProxyType(out)


def _to_profile(value: object) -> Mapping[str, WaterClass]:
    if isinstance(value, Mapping):
        out = {code: WaterClass.I for code in ITEMS}
        for code, cls in value.items():
            _check_item(code)
            out[code] = _parse_class(cls)
        return MappingProxyType(out)
    return {"*": _parse_class(value)}  # expanded per waterbody in SectionSpec


def _to_decimal_or_none(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@attrs.frozen
class SectionSpec:
    """One synthetic section: its code, waterbody, quality profile, station and flow.

    ``profile`` is a class (every main item centred for that class, TP pinned to it) or a
    mapping item → class (unlisted items at Ⅰ). ``mean_flow`` (m³/s) adds daily flows.

    >>> SectionSpec("zhutingzhen", "II", automatic=True, mean_flow="1250").profile["tp"]
    <WaterClass.II: 2>
    """

    code: str = attrs.field()
    profile: Mapping[str, WaterClass] = attrs.field(converter=_to_profile)
    waterbody: Waterbody = attrs.field(default="river")
    automatic: bool = False
    mean_flow: Decimal | None = attrs.field(default=None, converter=_to_decimal_or_none)
    name: str = ""

    @code.validator
    def _check_code(self, _: object, value: str) -> None:
        if not value or not value.isascii() or "," in value or value != value.strip():
            raise ValueError(f"section code {value!r} must be a non-empty ASCII slug")

    @waterbody.validator
    def _check_waterbody(self, _: object, value: str) -> None:
        if value not in ("river", "lake"):
            raise ValueError(f"waterbody {value!r} must be 'river' or 'lake'")

    @mean_flow.validator
    def _check_flow(self, _: object, value: Decimal | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"{self.code}: mean_flow must be positive, got {value}")

    def __attrs_post_init__(self) -> None:
        if "*" in self.profile:
            # shared and read-only: generated specs (100k+ in benchmarks) cost no memory
            object.__setattr__(self, "profile", _profile(self.profile["*"], self.waterbody))
        else:
            for code, cls in self.profile.items():
                _achievable(code, cls, self.waterbody)


def _to_item_forces(value: object) -> Mapping[str, WaterClass | tuple[Decimal, Decimal]]:
    out: dict[str, WaterClass | tuple[Decimal, Decimal]] = {}
    for code, spec in dict(value).items():  # type: ignore[call-overload]
        _check_item(code)
        if isinstance(spec, tuple | list):
            lo, hi = (Decimal(str(x)) for x in spec)
            if not 0 <= lo <= hi:
                raise ValueError(f"{code}: value range {spec!r} must be 0 ≤ low ≤ high")
            out[code] = (lo, hi)
        else:
            out[code] = _parse_class(spec)
    return out


def _month_key(value: str) -> str:
    try:
        year, month = (int(p) for p in value.split("-"))
        date(year, month, 1)
    except ValueError:
        raise ValueError(f"month {value!r} must be written YYYY-MM, e.g. 2021-07") from None
    return f"{year:04d}-{month:02d}"


@attrs.frozen
class MonthForce:
    """A known outcome for one section in one month (applies to manual and automatic data).

    ``cls``: the month's single-factor class — every item capped at it and ``key`` pinned to
    it. ``items``: the class of single items (or an exact value range ``(low, high)``, e.g.
    to fix an exceedance multiple). ``gap``: no readings at all that month. ``invalid``:
    item → value of a manual sample that QA flagged ``invalid``; a valid re-sample of that
    item follows 7 days later.

    >>> MonthForce("majiahe", "2021-01", items={"nh3n": "IV"}).items["nh3n"]
    <WaterClass.IV: 4>
    """

    section: str
    month: str = attrs.field(converter=_month_key)
    cls: WaterClass | None = attrs.field(
        default=None, converter=attrs.converters.optional(_parse_class)
    )
    key: str = "tp"
    items: Mapping[str, WaterClass | tuple[Decimal, Decimal]] = attrs.field(
        factory=dict, converter=_to_item_forces
    )
    gap: bool = False
    invalid: Mapping[str, str] = attrs.field(factory=dict, converter=dict)

    def __attrs_post_init__(self) -> None:
        _check_item(self.key)
        for code, value in self.invalid.items():
            _check_item(code)
            Decimal(value)  # must be a number as written
        if self.gap and (self.cls or self.items or self.invalid):
            raise ValueError(f"{self.section} {self.month}: a gap month has no data to force")


@attrs.frozen
class LowFlow:
    """Days (``first``..``last`` inclusive) whose daily mean flow is below ``below`` m³/s.

    Every other day of that section stays at least 6 % above ``below``, so the count of
    low-flow days is exactly the event's length.
    """

    section: str
    first: date
    last: date
    below: Decimal = attrs.field(converter=Decimal)

    def __attrs_post_init__(self) -> None:
        if self.last < self.first or self.first.year != self.last.year:
            raise ValueError(f"{self.section}: low-flow days must run forward within one year")
        if not self.below > 0:
            raise ValueError(f"{self.section}: the low-flow threshold must be positive")


@attrs.frozen
class Rates:
    """How often imperfections occur (probabilities per sample, outages per station-year)."""

    automatic_suspect: float = 0.004
    automatic_invalid: float = 0.0005
    outages_per_year: int = 3
    outage_max_days: int = 4
    manual_suspect: float = 0.0

    def __attrs_post_init__(self) -> None:
        for name in ("automatic_suspect", "automatic_invalid", "manual_suspect"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"Rates.{name} must be a probability between 0 and 1")
        if self.outages_per_year < 0 or self.outage_max_days < 1:
            raise ValueError("Rates: outages_per_year must be ≥ 0 and outage_max_days ≥ 1")


# --------------------------------------------------------------------------- planning


@attrs.frozen
class _Plan:
    """One item at one section in one month: level and the band every sample must keep to."""

    code: str
    level: float
    lo: float
    hi: float
    cls: int  # 0 for a forced value range
    forced: bool  # forced items are never reported below the detection limit at random


def _rng(seed: int, *parts: object) -> random.Random:
    # str seeds are hashed with SHA-512 (seed version 2): stable across runs and platforms.
    return random.Random("/".join(str(p) for p in (seed, *parts)))


def _item_range(
    code: str, cls: int, waterbody: Waterbody, forced: bool
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(typical range, clip band) of an item at a class; forced items get a pinned range."""
    band = _band(code, cls, waterbody)
    assert band is not None
    table = (_TYPICAL_LAKE if waterbody == "lake" else {}).get(code) or _TYPICAL.get(code, {})
    typical = table.get(cls)
    if typical is None and cls == 1 and _ITEM[code].background is not None:
        typical = _ITEM[code].background
    if typical is not None and band[0] <= typical[0] and typical[1] <= band[1]:
        return typical, band  # pinned: the monthly class is exactly cls
    if typical is not None and not forced:
        return typical, _ceiling(code, cls, waterbody)
    # the inner part of the band: far enough from both edges to read as that class
    width = band[1] - band[0]
    return (band[0] + 0.2 * width, band[0] + 0.8 * width), band


def _plan_month(
    spec: SectionSpec, year: int, month: int, seed: int, force: MonthForce | None
) -> list[_Plan]:
    rng = _rng(seed, spec.code, f"{year}-{month:02d}", "plan")
    r = rng.random
    plans = []
    for code in ITEMS:
        cls = int(spec.profile[code])
        forced_range: tuple[Decimal, Decimal] | None = None
        forced = False
        if force is not None:
            if force.cls is not None:
                cls = min(cls, int(force.cls))
                while _band(code, cls, spec.waterbody) is None:
                    cls -= 1
                if code == force.key:
                    _achievable(code, force.cls, spec.waterbody)
                    cls, forced = int(force.cls), True
            item_force = force.items.get(code)
            if isinstance(item_force, WaterClass):
                _achievable(code, item_force, spec.waterbody)
                cls, forced = int(item_force), True
            elif item_force is not None:
                forced_range, forced = item_force, True
        jitter = (r() - 0.5) * 0.5  # always drawn, so a force never shifts other items
        if forced_range is not None:
            typical = band = (float(forced_range[0]), float(forced_range[1]))
            cls = 0
        else:
            typical, band = _item_range(code, cls, spec.waterbody, forced)
        position = min(0.98, max(0.02, _SEASON[_ITEM[code].season][month - 1] + jitter))
        level = typical[0] + (typical[1] - typical[0]) * position
        plans.append(_Plan(code, level, band[0], band[1], cls, forced))
    return plans


def _unit(code: str) -> str:
    return "" if code == "ph" else "mg/L"


def _fmt(dp: int) -> str:
    return f"%.{dp}f"


@attrs.frozen
class _Sample:
    """One manual sampling event: its day and item → (value text, flag)."""

    section: str
    day: date
    values: Mapping[str, tuple[str, str]]


def _manual_value(plan: _Plan, r: random.Random, flag: str) -> tuple[str, str]:
    item = _ITEM[plan.code]
    u, v_nd = r.random(), r.random()  # always two draws per item
    v = plan.level * (1.0 + (u - 0.5) * 2.0 * item.noise)
    v = plan.lo if v < plan.lo else plan.hi if v > plan.hi else v
    if item.dl is not None:
        dl = float(item.dl)
        # Reported below the detection limit, a sample counts as DL/2: only at class Ⅰ,
        # where every DL here is below the Ⅰ limit, so the class stays what was planned.
        if plan.cls == 1 and ((not plan.forced and v_nd < item.nd_share) or v < dl):
            return "<" + item.dl, flag
    return _fmt(item.manual_dp) % v, flag


def _manual_samples(
    spec: SectionSpec,
    year: int,
    month: int,
    seed: int,
    plans: Sequence[_Plan],
    force: MonthForce | None,
    rates: Rates,
) -> list[_Sample]:
    rng = _rng(seed, spec.code, f"{year}-{month:02d}", "manual")
    day = date(year, month, 6 + int(rng.random() * 10))
    if day.weekday() >= 5:  # monitoring teams sample on working days
        day += timedelta(days=7 - day.weekday())
    invalid = force.invalid if force is not None else {}
    values: dict[str, tuple[str, str]] = {}
    for plan in plans:
        flag = "suspect" if rng.random() < rates.manual_suspect else ""
        values[plan.code] = _manual_value(plan, rng, flag)
        if plan.code in invalid:
            values[plan.code] = (invalid[plan.code], "invalid")
    samples = [_Sample(spec.code, day, values)]
    if invalid:
        redo = {p.code: _manual_value(p, rng, "") for p in plans if p.code in invalid}
        samples.append(_Sample(spec.code, day + timedelta(days=7), redo))
    return samples


def _outage_days(spec: SectionSpec, year: int, seed: int, rates: Rates) -> set[date]:
    rng = _rng(seed, spec.code, year, "outage")
    first = date(year, 1, 1)
    length = 366 if calendar.isleap(year) else 365
    days: set[date] = set()
    for _ in range(rates.outages_per_year):
        start = int(rng.random() * length)
        span = 1 + int(rng.random() * rates.outage_max_days)
        days.update(first + timedelta(days=start + k) for k in range(span))
    return days


# Relative per-sample noise, day-to-day drift and invalid-value factor of automatic readings.
_AUTO_NOISE = {"ph": 0.008, "do": 0.03}
_AUTO_DRIFT = {"ph": 0.01, "do": 0.05}
_INVALID_FACTOR = {"ph": 1.25, "do": 0.35}


def _automatic_lines(
    spec: SectionSpec,
    year: int,
    month: int,
    seed: int,
    plans: Sequence[_Plan],
    rates: Rates,
    outages: set[date],
) -> list[str]:
    """A month of 4-hourly automatic readings as CSV lines (the hot path: floats, strings)."""
    rng = _rng(seed, spec.code, f"{year}-{month:02d}", "automatic")
    r = rng.random
    by_code = {p.code: p for p in plans}
    rows = []
    for code in AUTOMATIC_ITEMS:
        p = by_code[code]
        item = _ITEM[code]
        rows.append((
            code, p.level, p.lo, p.hi, _fmt(item.automatic_dp),
            _DIURNAL.get(code, (0.0,) * 6), _AUTO_NOISE.get(code, 0.06),
            _AUTO_DRIFT.get(code, 0.12), _INVALID_FACTOR.get(code, 3.0),
            f",{_unit(code)},automatic,\n", f",{_unit(code)},automatic,",
        ))  # fmt: skip
    p_invalid = rates.automatic_invalid
    p_flag = p_invalid + rates.automatic_suspect
    drift = [0.0] * len(rows)
    lines: list[str] = []
    append = lines.append
    head = f"{spec.code},{year}-{month:02d}-"
    for day in range(1, calendar.monthrange(year, month)[1] + 1):
        for j, row in enumerate(rows):  # drawn even on outage days: outages never shift values
            drift[j] = 0.6 * drift[j] + (r() - 0.5) * row[7]
        if date(year, month, day) in outages:
            continue
        stamp = f"{head}{day:02d}T"
        for h, hour in enumerate(_HOURS):
            prefix = f"{stamp}{hour},"
            for j, (code, level, lo, hi, fmt, diurnal, noise, _, bad, tail, flagged) in \
                    enumerate(rows):
                v = level * (1.0 + drift[j] + diurnal[h] + (r() - 0.5) * noise)
                v = lo if v < lo else hi if v > hi else v
                u = r()
                if u < p_flag:
                    if u < p_invalid:  # a sensor fault: implausible, excluded by the flag
                        append(f"{prefix}{code},{fmt % (v * bad)}{flagged}invalid\n")
                    else:  # a spike the operator queried; kept within the band
                        v = min(hi, max(lo, v * 1.12))
                        append(f"{prefix}{code},{fmt % v}{flagged}suspect\n")
                else:
                    append(prefix + code + "," + fmt % v + tail)
    return lines


def _flow_year(
    spec: SectionSpec, year: int, seed: int, low_flows: Sequence[LowFlow]
) -> dict[date, str]:
    """Daily mean flows of a year: seasonal, autocorrelated, flood pulses, forced low days."""
    assert spec.mean_flow is not None
    rng = _rng(seed, spec.code, year, "flow")
    r = rng.random
    mean = float(spec.mean_flow)
    dp = 0 if mean >= 100 else 1 if mean >= 10 else 2
    fmt = _fmt(dp)
    events = [e for e in low_flows if e.section == spec.code and e.first.year == year]
    floor = max((float(e.below) * 1.06 for e in events), default=mean * 0.25)
    low_days = {e.first + timedelta(days=k): e for e in events
                for k in range((e.last - e.first).days + 1)}
    # the three days either side recede towards the low and recover from it, not jump
    ramp: dict[date, float] = {}
    for e in events:
        for k in (1, 2, 3):
            for d in (e.first - timedelta(days=k), e.last + timedelta(days=k)):
                ramp[d] = min(ramp.get(d, 1e12), float(e.below) * (1.06 + 0.3 * k))
    out: dict[date, str] = {}
    ar = pulse = 0.0
    day = date(year, 1, 1)
    while day.year == year:
        m = day.month - 1
        # interpolate between mid-month factors so the season has no steps at month ends
        dim = calendar.monthrange(year, day.month)[1]
        frac = (day.day - 0.5) / dim - 0.5
        other = _FLOW_SEASON[(m + (1 if frac > 0 else -1)) % 12]
        season = _FLOW_SEASON[m] + (other - _FLOW_SEASON[m]) * abs(frac)
        a, b, c = r(), r(), r()
        ar = 0.8 * ar + (a - 0.5) * 0.16
        wet = _FLOW_SEASON[m] > 1.0
        pulse = pulse * 0.6 + ((0.15 + c * 0.35) if b < (0.05 if wet else 0.015) else 0.0)
        q = max(floor, mean * season * (1.0 + ar + pulse))
        if day in ramp:
            q = max(floor, min(q, ramp[day] * (1.0 + 0.1 * a)))
        event = low_days.get(day)
        if event is not None:
            q = float(event.below) * (0.82 + 0.15 * a)
        # the written value must stay on the right side of the threshold after rounding
        text = fmt % q
        if event is not None and Decimal(text) >= event.below:
            text = fmt % (float(event.below) * 0.9)
        out[day] = text
        day += timedelta(days=1)
    return out


def _check_forces(
    sections: Sequence[SectionSpec], forces: Iterable[MonthForce], low_flows: Iterable[LowFlow]
) -> tuple[dict[tuple[str, str], MonthForce], list[LowFlow]]:
    known = {s.code: s for s in sections}
    if len(known) != len(sections):
        raise ValueError("section codes must be unique")
    by_month: dict[tuple[str, str], MonthForce] = {}
    for f in forces:
        if f.section not in known:
            raise ValueError(f"force for unknown section {f.section!r}")
        if (f.section, f.month) in by_month:
            raise ValueError(f"two forces for {f.section} {f.month}; merge them into one")
        by_month[(f.section, f.month)] = f
    flows = list(low_flows)
    for e in flows:
        spec = known.get(e.section)
        if spec is None or spec.mean_flow is None:
            raise ValueError(f"low flow at {e.section!r}: the section has no mean_flow")
    return by_month, flows


def _years(years: int | Iterable[int]) -> list[int]:
    return [years] if isinstance(years, int) else list(years)


def _long_lines(samples: Iterable[_Sample]) -> Iterator[str]:
    for s in samples:
        when = s.day.isoformat()
        for code, (text, flag) in s.values.items():
            yield f"{s.section},{when},{code},{text},{_unit(code)},manual,{flag}\n"


def generate_rows(
    sections: Sequence[SectionSpec],
    years: int | Iterable[int],
    *,
    seed: int,
    sources: Iterable[Source] = ("manual", "automatic", "flow"),
    forces: Iterable[MonthForce] = (),
    low_flows: Iterable[LowFlow] = (),
    rates: Rates = Rates(),  # frozen, so one shared default is safe
) -> Iterator[str]:
    """Readings in the long CSV layout, one line at a time (no header), lazily.

    Order: section, year, month; within a month manual, automatic, then flow rows. Memory
    holds one month of one section, whatever the size of the run.

    >>> lines = generate_rows([SectionSpec("s1", "II")], 2021, seed=1, sources=["manual"])
    >>> next(lines).startswith("s1,2021-01-")
    True
    """
    wanted = set(sources)
    if not wanted <= {"manual", "automatic", "flow"}:
        raise ValueError(f"sources {sorted(wanted)!r}: use manual, automatic and/or flow")
    by_month, flows = _check_forces(sections, forces, low_flows)
    for spec in sections:
        for year in _years(years):
            outages = _outage_days(spec, year, seed, rates) if spec.automatic else set()
            flow = (_flow_year(spec, year, seed, flows)
                    if "flow" in wanted and spec.mean_flow is not None else {})
            for month in range(1, 13):
                force = by_month.get((spec.code, f"{year:04d}-{month:02d}"))
                if force is not None and force.gap:
                    continue
                plans = _plan_month(spec, year, month, seed, force)
                if "manual" in wanted:
                    yield from _long_lines(
                        _manual_samples(spec, year, month, seed, plans, force, rates)
                    )
                if "automatic" in wanted and spec.automatic:
                    yield from _automatic_lines(spec, year, month, seed, plans, rates, outages)
                for day, text in flow.items():
                    if day.month == month:
                        yield f"{spec.code},{day.isoformat()},flow,{text},m³/s,automatic,\n"


def write_long(path: str | Path, lines: Iterable[str]) -> int:
    """Write a long-layout readings file (UTF-8, header first) from lines; return the rows.

    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> write_long(out, generate_rows([SectionSpec("s1", "II")], 2021, seed=1,
    ...                               sources=["manual"]))
    264
    """
    count = 0
    chunk: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(LONG_HEADER)
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 4096:
                f.write("".join(chunk))
                count += len(chunk)
                chunk.clear()
        f.write("".join(chunk))
        count += len(chunk)
    return count


def write_wide(
    path: str | Path,
    sections: Sequence[SectionSpec],
    years: int | Iterable[int],
    *,
    seed: int,
    forces: Iterable[MonthForce] = (),
    encoding: str = "gb18030",
) -> int:
    """Write manual samples in the wide layout a monitoring centre exports; return the rows.

    Chinese headers (断面, 监测时间, pH, 溶解氧, …), one row per sampling event, Excel-style
    dates (2021/1/10) and CRLF line ends, GB18030 by default. The layout has no flag column,
    so forced ``invalid`` samples are refused here.
    """
    by_month, _ = _check_forces(sections, forces, ())
    standard = gb3838()
    headers = ["断面", "监测时间", *(standard.parameter(c).name for c in ITEMS)]
    rows = 0
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(headers)
        for spec in sections:
            for year in _years(years):
                for month in range(1, 13):
                    force = by_month.get((spec.code, f"{year:04d}-{month:02d}"))
                    if force is not None and force.gap:
                        continue
                    if force is not None and force.invalid:
                        raise ValueError(f"{spec.code} {force.month}: the wide layout cannot "
                                         "carry an invalid flag; write this section long")
                    plans = _plan_month(spec, year, month, seed, force)
                    for s in _manual_samples(spec, year, month, seed, plans, force, Rates()):
                        when = f"{s.day.year}/{s.day.month}/{s.day.day}"
                        cells = [s.values[c][0] if c in s.values else "" for c in ITEMS]
                        writer.writerow([spec.code, when, *cells])
                        rows += 1
    return rows


# --------------------------------------------------------------------------- the example


def section_specs_for_example() -> list[SectionSpec]:
    """The bundled example's sections: the 湘江 city-boundary chain, 金鱼石, 里耶镇, 澧水.

    >>> [s.code for s in section_specs_for_example()][:3]
    ['lvbutou', 'guiyangzhen', 'zhutingzhen']
    """
    return [
        SectionSpec("lvbutou", "II", name="绿埠头"),
        SectionSpec("guiyangzhen", "II", automatic=True, mean_flow="900", name="归阳镇"),
        SectionSpec("zhutingzhen", "II", automatic=True, mean_flow="1250", name="朱亭镇"),
        SectionSpec("majiahe", "II", automatic=True, mean_flow="1550", name="马家河"),
        SectionSpec("pingtang", "II", name="坪塘"),
        SectionSpec("zhangshugang", "II", automatic=True, name="樟树港"),
        SectionSpec("quyuan", "II", name="屈原"),
        SectionSpec("jinyushi", "III", automatic=True, name="金鱼石"),
        SectionSpec("liyezhen", "II", name="里耶镇"),
        SectionSpec("lishui-zjj-cd", "II", name="澧水张家界—常德交界断面"),
    ]


def example_forces() -> list[MonthForce]:
    """The deliberate outcomes of the example (see examples/hunan-2021/README.md)."""
    return [
        # 归阳镇: Ⅱ in 11 months, Ⅲ in July (flood-season TP) → 湘江 Ⅱ reward 11 × 50万
        MonthForce("guiyangzhen", "2021-07", cls="III", key="tp"),
        # a contaminated Cd bottle, invalidated by QA and re-sampled a week later: included,
        # April would be Ⅴ (Cd mean > 0.005); excluded, April is Ⅱ
        MonthForce("guiyangzhen", "2021-04", invalid={"cd": "0.0126"}),
        # 马家河: NH3-N Ⅳ in January, every sample 1.22–1.38 → multiple vs Ⅲ in (0.2, 0.4]
        MonthForce("majiahe", "2021-01", items={"nh3n": ("1.22", "1.38")}),
        # 金鱼石 (target Ⅲ): Ⅳ in February (NH3-N) and August (TP), Ⅲ otherwise
        MonthForce("jinyushi", "2021-02", items={"nh3n": "IV"}),
        MonthForce("jinyushi", "2021-08", items={"tp": "IV"}),
        MonthForce("jinyushi", "2020-07", items={"tp": "IV"}),
        # 里耶镇: no sample at all in August 2021
        MonthForce("liyezhen", "2021-08", gap=True),
        # 澧水: 3 × Ⅰ (Jan, Feb, Dec), 7 × Ⅱ, 2 × Ⅲ (May, Jul); 2020 all Ⅱ
        MonthForce("lishui-zjj-cd", "2021-01", cls="I"),
        MonthForce("lishui-zjj-cd", "2021-02", cls="I"),
        MonthForce("lishui-zjj-cd", "2021-12", cls="I"),
        MonthForce("lishui-zjj-cd", "2021-05", cls="III"),
        MonthForce("lishui-zjj-cd", "2021-07", cls="III"),
    ]


def example_low_flows() -> list[LowFlow]:
    """马家河 below 300 m³/s on five dry-season days, 2021-12-11..15."""
    return [LowFlow("majiahe", date(2021, 12, 11), date(2021, 12, 15), Decimal(300))]


def write_example(folder: str | Path, seed: int = EXAMPLE_SEED) -> dict[str, int]:
    """Write the example's ``readings/`` files under ``folder``; return rows per file.

    >>> write_example("examples/hunan-2021")  # doctest: +SKIP
    {'2020-manual.csv': 2640, ...}
    """
    out = Path(folder) / "readings"
    out.mkdir(parents=True, exist_ok=True)
    specs = section_specs_for_example()
    forces = example_forces()
    flows = example_low_flows()
    wide = [s for s in specs if s.code == "lishui-zjj-cd"]
    long = [s for s in specs if s.code != "lishui-zjj-cd"]
    auto = [s for s in specs if s.automatic or s.mean_flow is not None]
    counts = {
        "2020-manual.csv": write_long(
            out / "2020-manual.csv",
            generate_rows(specs, 2020, seed=seed, sources=["manual"], forces=forces),
        ),
        "2021-manual.csv": write_long(
            out / "2021-manual.csv",
            generate_rows(long, 2021, seed=seed, sources=["manual"],
                          forces=[f for f in forces if f.section != "lishui-zjj-cd"]),
        ),
        "2021-automatic.csv": write_long(
            out / "2021-automatic.csv",
            generate_rows(auto, 2021, seed=seed, sources=["automatic", "flow"],
                          forces=[f for f in forces if f.section in {s.code for s in auto}],
                          low_flows=flows),
        ),
        "2021-wide-lishui.csv": write_wide(
            out / "2021-wide-lishui.csv", wide, 2021, seed=seed,
            forces=[f for f in forces if f.section == "lishui-zjj-cd"],
        ),
    }
    return counts


# --------------------------------------------------------------------------- benchmarks

# Profile mix of synthetic benchmark sections (class, weight): mostly Ⅱ–Ⅲ like Hunan's rivers.
_MIX = ((WaterClass.I, 10), (WaterClass.II, 50), (WaterClass.III, 25), (WaterClass.IV, 10),
        (WaterClass.V, 3), (WaterClass.WORSE_THAN_V, 2))  # fmt: skip
_FLOWS = ("15", "40", "120", "300", "800", "1500")


def synthetic_sections(
    n: int, seed: int = 1, automatic_share: float = 0.6
) -> list[SectionSpec]:
    """``n`` sections named s0001…, with a realistic mix of profiles, lakes and stations.

    Exactly ``floor(n × automatic_share)`` of them have an automatic station; about half of
    the rivers have daily flows.

    >>> [s.code for s in synthetic_sections(3)]
    ['s0001', 's0002', 's0003']
    """
    if n < 0 or not 0 <= automatic_share <= 1:
        raise ValueError("n must be ≥ 0 and automatic_share between 0 and 1")
    rng = _rng(seed, "sections")
    width = max(4, len(str(n)))
    total = sum(w for _, w in _MIX)
    out = []
    for i in range(n):
        pick, cls = rng.random() * total, WaterClass.II
        for c, w in _MIX:
            if pick < w:
                cls = c
                break
            pick -= w
        lake = rng.random() < 0.1
        flow = None if lake or rng.random() < 0.5 else _FLOWS[int(rng.random() * len(_FLOWS))]
        out.append(SectionSpec(
            f"s{i + 1:0{width}d}", cls, waterbody="lake" if lake else "river",
            automatic=int((i + 1) * automatic_share) > int(i * automatic_share),
            mean_flow=flow,
        ))  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: a benchmark file, or the bundled example's readings."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.synth",
        description="Write deterministic synthetic readings (long CSV layout, UTF-8).",
    )
    parser.add_argument("--sections", type=int, default=10, help="number of sections")
    parser.add_argument("--year", type=int, default=2021, help="the (last) year to generate")
    parser.add_argument("--years", type=int, default=1,
                        help="number of years, ending with --year (2 → the year before too)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--automatic-share", type=float, default=0.6,
                        help="share of sections with an automatic station")
    parser.add_argument("--out", type=Path, help="the CSV file to write")
    parser.add_argument("--example", type=Path, metavar="DIR",
                        help="instead, write the bundled example's readings/ under DIR")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.example is not None:
        counts = write_example(args.example)
        rows = sum(counts.values())
        where = f"{args.example / 'readings'} ({', '.join(f'{k}: {v}' for k, v in counts.items())})"
    else:
        if args.out is None:
            parser.error("--out FILE is required (or --example DIR)")
        if args.years < 1:
            parser.error("--years must be at least 1")
        specs = synthetic_sections(args.sections, args.seed, args.automatic_share)
        years = range(args.year - args.years + 1, args.year + 1)
        rows = write_long(args.out, generate_rows(specs, years, seed=args.seed))
        where = str(args.out)
    seconds = time.perf_counter() - start
    rate = rows / seconds if seconds > 0 else float("inf")
    print(f"{rows} rows written to {where} in {seconds:.2f} s ({rate:,.0f} rows/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
