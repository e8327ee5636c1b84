"""Property-test compensation formulas: hypothesis strategies and the invariant checker.

Public so users can test their own formulas with the same checks as the shipped presets::

    from ecocomp.testing import check_formula
    check_formula("class_ladder", max_examples=50)   # raises AssertionError on a violation

Strategies build valid inputs (classes, concentrations per parameter, section assessments,
whole years of :class:`~ecocomp.assessment.Assessments` with gaps, a city's air statistics per
year, quarter and month as :class:`~ecocomp.air.AirAssessments`, random valid agreements of a
preset type). The invariants (each also usable alone in a user's test):

- amounts are non-negative Decimals exact to the fen, payer ≠ payee, both parties of the agreement;
- money is conserved: over the obligations, every party's net (received − paid) sums to zero;
- caps are respected where the formula declares one;
- determinism: the same inputs give the same outputs, also with inputs in another order;
- monotonicity: improving one section-period by one class never lowers the net of the party
  the formula declares as benefiting from clean water (e.g. the upstream party of a ladder);
  for an air formula (``inputs="air"``), cleaner air in one of the party's city-periods
  (:func:`improve_air`) never lowers its net;
- period isolation: data of years outside the formula's window never change its obligations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ecocomp.agreement_files import agreement_from_dict
from ecocomp.agreements import Agreement
from ecocomp.air import AirAssessments, AirStatistics
from ecocomp.assessment import Assessments, SectionAssessment, item_assessment
from ecocomp.formulas import FormulaSpec, Obligation, get_spec, net_obligations
from ecocomp.formulas.base import _REGISTRY, party_nets
from ecocomp.periods import Period, Quarter
from ecocomp.readings import Reading
from ecocomp.standards import ASSESSED_ITEMS, Waterbody, WaterClass, gb3838

__all__ = [
    "agreements",
    "air_assessments",
    "air_reordered",
    "air_statistics",
    "assert_air_monotone",
    "assert_caps_respected",
    "assert_deterministic",
    "assert_money_conserved",
    "assert_monotone",
    "assert_obligations_valid",
    "assert_period_isolated",
    "assessments",
    "check_formula",
    "decimals_for",
    "improve",
    "improve_air",
    "monthly",
    "readings",
    "reordered",
    "section_assessment",
    "section_assessments",
    "sections",
    "water_classes",
]

PARTY_POOL = ("430000", "430200", "430700", "430800", "431100", "360000", "500000", "530000")
SECTION_POOL = ("s-up", "s-mid", "s-down", "s-lake")
#: Items every generated assessment carries (the index and the usual drivers of the class).
CORE_ITEMS = ("ph", "do", "codmn", "nh3n", "tp", "tn")
_EXTRA_ITEMS = tuple(code for code in ASSESSED_ITEMS if code not in CORE_ITEMS)


def water_classes() -> st.SearchStrategy[WaterClass]:
    """Any water class Ⅰ…劣Ⅴ.

    >>> water_classes().example() in WaterClass
    True
    """
    return st.sampled_from(list(WaterClass))


def _places(limits: Sequence[Decimal]) -> int:
    return min(6, max(-limit.as_tuple().exponent for limit in limits) + 1)  # type: ignore[operator]


@cache
def decimals_for(
    parameter: str, waterbody: Waterbody = "river", cls: WaterClass | None = None
) -> st.SearchStrategy[Decimal]:
    """Realistic exact concentrations of ``parameter``, optionally within class ``cls``.

    Values on class limits are drawn often (a limit belongs to the better class). Where
    limits repeat (COD Ⅰ = Ⅱ) a value "in" the empty class falls in the better one.

    >>> from ecocomp.standards import classify_item
    >>> classify_item("nh3n", decimals_for("nh3n", cls=WaterClass.IV).example()) <= WaterClass.IV
    True
    """
    param = gb3838().parameter(parameter)
    if param.direction == "range":
        inside = st.decimals("6.0", "9.0", places=2)
        outside = st.one_of(st.decimals("4.0", "5.99", places=2),
                            st.decimals("9.01", "10.5", places=2))
        if cls is None:
            return st.one_of(inside, outside)
        return inside if cls < WaterClass.WORSE_THAN_V else outside
    limits = param.limits_for(waterbody)
    if limits is None:  # unclassed (e.g. tn on a river): any plausible value
        return st.decimals("0.01", "5", places=3)
    places = _places(limits)
    eps = Decimal(1).scaleb(-places)
    if param.direction == "higher":  # DO: higher is better
        ranges = [(limits[0], limits[0] + 4)] + [
            (limits[k], limits[k - 1] - eps) for k in range(1, 5)
        ] + [(Decimal(0), limits[4] - eps)]
    else:
        ranges = [(Decimal(0), limits[0])] + [
            (limits[k - 1] + eps, limits[k]) for k in range(1, 5)
        ] + [(limits[4] + eps, limits[4] * 3)]

    def in_class(k: int) -> st.SearchStrategy[Decimal]:
        lo, hi = ranges[k]
        best = hi if param.direction == "lower" else lo  # the edge nearest the better class
        if lo > hi:
            return st.just(best)
        return st.one_of(st.decimals(lo, hi, places=places), st.just(best))

    if cls is not None:
        return in_class(cls - 1)
    return st.integers(0, 5).flatmap(in_class)


def sections() -> st.SearchStrategy[str]:
    """Section codes (ASCII slugs).

    >>> import re; bool(re.fullmatch(r"[a-z][a-z0-9-]*", sections().example()))
    True
    """
    return st.one_of(st.sampled_from(SECTION_POOL), st.from_regex(r"[a-z][a-z0-9-]{0,11}",
                                                                  fullmatch=True))


@st.composite
def readings(draw: st.DrawFn, section: str | None = None) -> Reading:
    """A single valid reading (canonical unit), possibly a non-detect or flagged.

    >>> readings(section="s-up").example().section
    's-up'
    """
    code = draw(st.sampled_from((*CORE_ITEMS, "cd", "pb", "as")))
    value = draw(decimals_for(code).filter(lambda v: v > 0))
    moment = draw(st.datetimes(datetime(2015, 1, 1), datetime(2030, 12, 31)))
    return Reading(
        section=section if section is not None else draw(sections()),
        sampled_at=moment.replace(second=0, microsecond=0), parameter=code, value=value,
        below_dl=draw(st.booleans()) if code in ("cd", "pb", "as") else False,
        source=draw(st.sampled_from(("manual", "automatic"))),
        flag=draw(st.sampled_from(("", "", "", "suspect", "invalid"))),
    )  # fmt: skip


_CLASS_UP_TO = {c: st.integers(1, int(c)) for c in WaterClass}
_SAMPLES = st.integers(1, 4)
_EXTRAS = st.lists(st.sampled_from(_EXTRA_ITEMS), max_size=1, unique=True)


@st.composite
def section_assessments(
    draw: st.DrawFn,
    section: str | None = None,
    period: Period | None = None,
    *,
    waterbody: Waterbody = "river",
    cls: WaterClass | None = None,
) -> SectionAssessment:
    """A section's assessment: the core items plus a few others, optionally of class ``cls``.

    With ``cls`` one driving item (NH3-N) is in that class and all others at or better.

    >>> section_assessments(cls=WaterClass.III).example().class_for() == WaterClass.III
    True
    """
    cls = cls if cls is not None else draw(water_classes())
    codes = list(CORE_ITEMS) + draw(_EXTRAS)
    items = {}
    for code in codes:
        item_cls = cls if code == "nh3n" else WaterClass(draw(_CLASS_UP_TO[cls]))
        value = draw(decimals_for(code, waterbody, item_cls))
        items[code] = item_assessment(code, value, draw(_SAMPLES), waterbody)
    return SectionAssessment(
        section=section if section is not None else draw(sections()),
        period=period if period is not None else Period(2023, draw(st.integers(1, 12))),
        waterbody=waterbody, items=items,
    )  # fmt: skip


@st.composite
def assessments(
    draw: st.DrawFn,
    sections: Sequence[str] = ("s-up",),
    year: int = 2023,
    *,
    previous_year: bool = True,
    gaps: bool = True,
    flows: bool = True,
) -> Assessments:
    """Months and the year of ``year`` (and the year before) for the given sections.

    Some section-periods are left out when ``gaps`` (missing data); daily flows follow a
    drawn level and pattern with a few missing days.

    >>> a = assessments(sections=("s-up",), gaps=False).example()
    >>> a.get("s-up", Period(2023, 5)) is not None
    True
    """
    years = (year - 1, year) if previous_year else (year,)
    parts: dict[tuple[str, Period], SectionAssessment] = {}
    daily: dict[str, dict[date, Decimal]] = {}
    periods = [p for y in years for p in (Period(y), *Period(y).months())]
    # one flat list of (class, variant) per section keeps generation and shrinking fast
    lowest = 0 if gaps else 1
    cells = st.tuples(st.integers(lowest, 6), st.integers(0, 3))
    for section in sections:
        drawn = draw(st.lists(cells, min_size=len(periods), max_size=len(periods)))
        for period, (cls, variant) in zip(periods, drawn, strict=True):
            if cls:
                parts[(section, period)] = SectionAssessment(
                    section=section, period=period, waterbody="river",
                    items=_variant_items(WaterClass(cls), variant))
        if flows:
            level = draw(st.integers(5, 400))
            swing = draw(st.integers(0, 200))
            step = draw(st.integers(1, 97))
            missing = set(draw(st.lists(st.integers(0, 800), max_size=6)))
            first = date(years[0], 1, 1)
            days = (date(year, 12, 31) - first).days + 1
            daily[section] = {
                first + timedelta(days=i): Decimal(level + (i * step) % (swing + 1)) / 2
                for i in range(days) if i not in missing
            }
    return Assessments(sections=parts, daily_flows=daily)


@cache
def _class_values(code: str, cls: WaterClass) -> tuple[Decimal, Decimal]:
    """Two values of ``code`` in class ``cls`` (its edge towards worse, and a middle value)."""
    param = gb3838().parameter(code)
    if param.direction == "range":
        return (Decimal("7.5"), Decimal("6.5")) if cls < 6 else (Decimal("9.5"), Decimal("5.5"))
    limits = param.limits_for("river")
    assert limits is not None
    if param.direction == "higher":
        if cls == WaterClass.WORSE_THAN_V:
            return limits[4] / 2, limits[4] / 4
        upper = limits[cls - 2] if cls > 1 else limits[0] + 2
        return limits[cls - 1], (limits[cls - 1] + upper) / 2
    if cls == WaterClass.WORSE_THAN_V:
        return limits[4] * 2, limits[4] * Decimal("1.3")
    lower = limits[cls - 2] if cls > 1 else Decimal(0)
    return limits[cls - 1], (lower + limits[cls - 1]) / 2


@cache
def _variant_items(cls: WaterClass, variant: int) -> Mapping[str, Any]:
    """Items of a section in class ``cls``: NH3-N decides, the others at or better (4 variants)."""
    second = WaterClass(max(1, cls - variant % 2))
    values = {
        "nh3n": _class_values("nh3n", cls)[variant // 2],
        "tp": _class_values("tp", second)[variant % 2],
        "codmn": _class_values("codmn", WaterClass(max(1, cls - 1)))[1],
        "do": _class_values("do", WaterClass(min(cls, 3)))[variant % 2],
        "ph": Decimal("7.2"),
        "tn": Decimal("0.4") * (1 + variant) * cls,
    }
    return {code: item_assessment(code, v, 2) for code, v in values.items()}


# --------------------------------------------------------------------------- fixed examples

#: An NH3-N value inside each class (for hand-worked examples).
NH3N_IN_CLASS = {WaterClass.I: "0.10", WaterClass.II: "0.30", WaterClass.III: "0.80",
                 WaterClass.IV: "1.20", WaterClass.V: "1.80", WaterClass.WORSE_THAN_V: "2.50"}


def section_assessment(
    section: str, period: Period, values: Mapping[str, object] | WaterClass,
    waterbody: Waterbody = "river", samples: int = 1,
) -> SectionAssessment:
    """A hand-made assessment from item values, or of a class (NH3-N in that class, DO Ⅰ).

    >>> section_assessment("s", Period(2023, 1), WaterClass.III).class_for()
    <WaterClass.III: 3>
    """
    if isinstance(values, WaterClass):
        values = {"nh3n": NH3N_IN_CLASS[values], "do": "8"}
    items = {code: item_assessment(code, Decimal(str(v)), samples, waterbody)
             for code, v in values.items()}
    return SectionAssessment(section=section, period=period, waterbody=waterbody, items=items)


def monthly(section: str, year: int, classes: Sequence[WaterClass | None]) -> Assessments:
    """Assessments of one section with one class per month (None: no data that month).

    >>> monthly("s", 2023, [WaterClass.II] * 12).get("s", Period(2023, 12)).class_for()
    <WaterClass.II: 2>
    """
    return Assessments(sections={
        (section, Period(year, m)): section_assessment(section, Period(year, m), cls)
        for m, cls in enumerate(classes, start=1) if cls is not None
    })


# --------------------------------------------------------------------------- agreements

_amounts = st.one_of(
    st.integers(0, 300),
    st.decimals("0", "300", places=2),
    st.decimals("0", "300", places=2).map(str),
)


def _value(x: object) -> Decimal:
    return Decimal(str(x))


@st.composite
def _ladder_params(draw: st.DrawFn, codes: Sequence[str]) -> dict[str, Any]:
    # a ladder that rewards clean water: downstream pays for the best classes (amounts not
    # growing as water worsens), nobody in the middle, upstream pays for the worst (growing)
    a = draw(st.integers(1, 7))
    b = draw(st.integers(a, 7))
    down = sorted((draw(_amounts) for _ in range(a - 1)), key=_value, reverse=True)
    up = sorted((draw(_amounts) for _ in range(7 - b)), key=_value)
    rules: dict[str, Any] = {}
    for cls in WaterClass:
        if cls < a:
            rules[cls.code] = {"payer": "downstream", "amount": down[cls - 1]}
        elif cls < b:
            rules[cls.code] = {"payer": "none"}
        else:
            rules[cls.code] = {"payer": "upstream", "amount": up[cls - b]}
    params: dict[str, Any] = {
        "rules": rules,
        "missing_month": draw(st.sampled_from(("skip", "upstream_pays", "downstream_pays"))),
        "factors": draw(st.one_of(st.just("standard"), st.lists(
            st.sampled_from(CORE_ITEMS), min_size=1, unique=True))),
    }
    if draw(st.booleans()):
        floor = max((_value(x) for x in down), default=Decimal(0))
        params["improvement"] = {
            "basis": draw(st.sampled_from(("same_month_last_year", "last_year_annual"))),
            "payer": "downstream", "amount": str(floor + _value(draw(_amounts))),
        }
    return params


@st.composite
def _target_params(draw: st.DrawFn, codes: Sequence[str]) -> dict[str, Any]:
    two = draw(_amounts)
    params: dict[str, Any] = {
        "reward": {"II": two, "I": str(_value(two) + _value(draw(_amounts)))},
        "penalty": {"base": draw(_amounts), "step": draw(_amounts),
                    "step_size": draw(st.sampled_from(("0.1", "0.2", "0.5"))),
                    "reference_class": draw(st.sampled_from(("II", "III")))},
    }
    if draw(st.booleans()):  # a cap is never below the least penalty (base)
        params["penalty"]["cap"] = str(_value(params["penalty"]["base"])
                                       + _value(draw(_amounts)))
    return params


@st.composite
def _change_params(draw: st.DrawFn, codes: Sequence[str]) -> dict[str, Any]:
    cut = draw(st.integers(1, len(codes) - 1))
    return {
        "entry_sections": list(codes[:cut]), "exit_sections": list(codes[cut:]),
        "reward_per_class": draw(_amounts), "penalty_per_class": draw(_amounts),
        "combine": draw(st.sampled_from(("mean_concentration", "mean", "worst", "best"))),
        "round_classes": draw(st.booleans()),
        "missing_month": draw(st.sampled_from(("skip", "available"))),
    }  # fmt: skip


@st.composite
def _flow_params(draw: st.DrawFn, codes: Sequence[str]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(list(codes)), min_size=1, unique=True))
    params: dict[str, Any] = {
        "targets": {c: draw(st.integers(1, 250)) for c in chosen},
        "penalty_per_day": draw(_amounts),
        "missing_day": draw(st.sampled_from(("skip", "penalise"))),
    }
    if draw(st.booleans()):  # a cap is never below one day's penalty
        params["cap_per_month"] = str(_value(params["penalty_per_day"])
                                      + _value(draw(_amounts)))
    return params


@st.composite
def _index_params(draw: st.DrawFn, codes: Sequence[str]) -> dict[str, Any]:
    items = draw(st.lists(st.sampled_from(("codmn", "nh3n", "tn", "tp")), min_size=1,
                          unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=len(items) - 1,
                                max_size=len(items) - 1)))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    below = draw(st.sampled_from(("downstream", "upstream")))
    above = draw(st.sampled_from(("upstream", "downstream")))
    return {
        "k0": draw(st.decimals("0.5", "1.2", places=2)),
        "threshold": draw(st.sampled_from(("1", "0.9", "1.1"))),
        "weights": {c: str(Decimal(s) / 100) for c, s in zip(items, shares, strict=True)},
        "baseline": {c: str(draw(decimals_for(c, cls=WaterClass.III)).max(Decimal("0.001")))
                     for c in items},
        "outcome": {"at_or_below": {"payer": below, "amount": draw(_amounts)},
                    "above": {"payer": above, "amount": draw(_amounts)}},
    }  # fmt: skip


@st.composite
def _fund_params(draw: st.DrawFn, codes: Sequence[str], parties: Sequence[str]) -> dict[str, Any]:
    def ratios() -> dict[str, int]:
        r = {p: draw(st.integers(0, 10)) for p in parties}
        r[parties[draw(st.integers(0, len(parties) - 1))]] += 1
        return r

    deductions = []
    for _ in range(draw(st.integers(0, 3))):
        src = draw(st.sampled_from(list(parties)))
        others = [p for p in parties if p != src]
        to = draw(st.lists(st.sampled_from(others), min_size=1, unique=True))
        deductions.append({"section": draw(st.sampled_from(list(codes))), "from": src,
                           "to": {p: draw(st.integers(1, 3)) for p in to},
                           "portion": draw(st.sampled_from(("1", "0.5", "0.25")))})
    return {"fund": draw(st.integers(1, 50000)), "contribution": ratios(),
            "allocation": ratios(), "target": draw(st.sampled_from(("II", "III"))),
            "missing_year": draw(st.sampled_from(("skip", "fail"))),
            "deductions": deductions}


@st.composite
def _area_params(draw: st.DrawFn, payees: Sequence[str], year: int,
                 end: date | None = None) -> dict[str, Any]:
    def area() -> str:
        return str(draw(st.decimals("0", "20000", places=draw(st.integers(0, 2)))))

    categories = {
        f"c{i}": {"rate": str(draw(st.decimals("0", "500", places=2))),
                  "area_by_party": {p: area() for p in payees}}
        for i in range(draw(st.integers(1, 3)))
    }
    terms = {}
    for p in payees:
        if draw(st.booleans()):
            last = min(end or date(year, 12, 31), date(year, 12, 31))  # joins by the end
            first = date(year, 1, 1) + timedelta(
                days=draw(st.integers(0, (last - date(year, 1, 1)).days)))
            terms[p] = {"from": first.isoformat()}
    params: dict[str, Any] = {"categories": categories, "terms": terms,
                              "proration": draw(st.sampled_from(("days", "none")))}
    if draw(st.booleans()):
        params["fund_cap"] = draw(st.integers(0, 5_000_000))
        params["fund_cap_scope"] = draw(st.sampled_from(("term", "year")))
    if draw(st.booleans()):
        params["in_kind"] = [{"party": payees[0], "description": "生态管护员岗位"}]
    return params


_ROLE_KEYS = {"upstream_downstream": ("upstream", "downstream"),
              "party_counterparty": ("party", "counterparty")}
_PRESET_SHAPES: dict[str, tuple[str, tuple[int, int]]] = {
    "class_ladder": ("upstream_downstream", (1, 2)),
    "target_reward_penalty": ("party_counterparty", (1, 3)),
    "class_change": ("party_counterparty", (2, 4)),
    "min_flow": ("party_counterparty", (1, 2)),
    "pollution_index": ("upstream_downstream", (1, 1)),
    "fund_split": ("parties", (1, 3)),
    "area_rate": ("payer_parties", (0, 0)),
    "air_attainment": ("party_counterparty", (0, 0)),
    "air_change": ("party_counterparty", (0, 0)),
    "air_ladder": ("party_counterparty", (0, 0)),
}
_AIR_FORMULAS = ("air_attainment", "air_change", "air_ladder")


@st.composite
def agreements(
    draw: st.DrawFn,
    formula: str = "class_ladder",
    *,
    year: int = 2023,
    params: st.SearchStrategy[Mapping[str, Any]] | None = None,
    roles: Sequence[str] | None = None,
    section_codes: Sequence[str] = SECTION_POOL,
) -> Agreement:
    """Random valid agreements of a formula, in force during (part of) ``year``.

    For the shipped presets params are generated; for your own formula pass ``params``
    (a strategy of params dicts) and, unless it is registered, nothing else is needed.

    >>> agreements("class_ladder").example().formula
    'class_ladder'
    """
    if formula in _PRESET_SHAPES:
        shape, (lo, hi) = _PRESET_SHAPES[formula]
    else:
        spec_roles = tuple(roles) if roles is not None else get_spec(formula).roles
        shape, (lo, hi) = ("parties" if spec_roles == ("parties",) else "custom"), (1, 2)
    codes = draw(st.lists(st.sampled_from(list(section_codes)), min_size=lo, max_size=hi,
                          unique=True))
    n_parties = draw(st.integers(2, 4)) if shape in ("parties", "payer_parties") else 2
    parties = draw(st.lists(st.sampled_from(PARTY_POOL), min_size=n_parties,
                            max_size=n_parties, unique=True))
    if formula in _AIR_FORMULAS:  # a city and its province; no sections
        codes = []
        parties = [draw(st.sampled_from(AIR_PARTY_POOL)), "430000"]
    start = draw(st.sampled_from((date(year - 3, 1, 1), date(year, 1, 1), date(year, 4, 16))))
    end = draw(st.sampled_from((date(year, 12, 31), date(year + 2, 12, 31), date(year, 9, 14))))
    data: dict[str, Any] = {
        "id": f"test-{formula.replace('_', '-')}", "name": f"random {formula} agreement",
        "formula": formula, "start": start, "end": end,
        "unit": draw(st.sampled_from(("yuan", "wan"))),
        "clearing_due": f"{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}",
        "source": "generated by ecocomp.testing.agreements",
        "confidence": draw(st.sampled_from(("confirmed", "inferred", "placeholder"))),
    }  # fmt: skip
    if codes:
        data["sections"] = codes
    if shape == "parties":
        data["parties"] = parties
    elif shape == "payer_parties":
        data["payer"], data["parties"] = parties[0], parties[1:]
    elif shape == "custom":
        spec_roles = tuple(roles) if roles is not None else get_spec(formula).roles
        data.update(dict(zip(spec_roles, parties, strict=False)))
    else:
        data.update(dict(zip(_ROLE_KEYS[shape], parties, strict=True)))
    if params is not None:
        data["params"] = dict(draw(params))
    else:
        make = {"class_ladder": _ladder_params, "target_reward_penalty": _target_params,
                "class_change": _change_params, "min_flow": _flow_params,
                "pollution_index": _index_params}
        air = {"air_attainment": _attainment_params, "air_change": _air_change_params,
               "air_ladder": _air_ladder_params}
        if formula == "fund_split":
            data["params"] = draw(_fund_params(codes, parties))
        elif formula in air:
            data["params"] = draw(air[formula](parties))
        elif formula == "area_rate":
            data["params"] = draw(_area_params(parties[1:], year, end))
        elif formula in make:
            data["params"] = draw(make[formula](codes))
        else:
            data["params"] = {}
    return agreement_from_dict(data)


# --------------------------------------------------------------------------- air

#: Levels of air quality: index 0 is the cleanest. Each level gives a set of statistics
#: worse than the level before in every one (so a lower level is cleaner air everywhere).
_AIR_BASE = {"pm25": Decimal("18"), "pm10": Decimal("35"), "so2": Decimal("5"),
             "no2": Decimal("15"), "co_p95": Decimal("0.6"), "o3_8h_p90": Decimal("100")}
_AIR_STEP = {"pm25": Decimal("3.5"), "pm10": Decimal("6"), "so2": Decimal("2"),
             "no2": Decimal("2.5"), "co_p95": Decimal("0.2"), "o3_8h_p90": Decimal("6.5")}


def _air_values(level: int, variant: int, days: int) -> dict[str, Decimal]:
    values = {k: v + _AIR_STEP[k] * level + Decimal(variant) / 10 for k, v in _AIR_BASE.items()}
    good = max(0, days - days * (level + variant) // 24)
    heavy = max(0, level - 12) + (variant if level > 12 else 0)
    values.update({
        "good_days": Decimal(good), "valid_days": Decimal(days), "heavy_days": Decimal(heavy),
        "good_ratio": (Decimal(good) * 100 / Decimal(days)).quantize(Decimal("0.0001")),
        "composite_index": (Decimal("2.5") + Decimal(level) / 4).quantize(Decimal("0.0001")),
    })  # fmt: skip
    return values


def air_statistics(city: str, period: Period | Quarter, level: int, variant: int = 0,
                   *, invalid: Sequence[str] = ()) -> AirStatistics:
    """A city's statistics at an air-quality ``level`` (0 cleanest, every statistic worse as
    it grows); ``invalid`` statistics are flagged not valid under HJ 663.

    >>> air_statistics("430100", Period(2023), 3).values["pm25"]
    Decimal('28.5')
    """
    values = _air_values(level, variant, period.days)
    return AirStatistics(city, period, "GB3095-2012", values,
                         {k: k not in invalid for k in values})


def _air_periods(year: int) -> list[Period | Quarter]:
    return [Period(year), *(Quarter(year, q) for q in range(1, 5)), *Period(year).months()]


@st.composite
def air_assessments(
    draw: st.DrawFn,
    cities: Sequence[str] = ("430100",),
    year: int = 2023,
    *,
    previous_year: bool = True,
    gaps: bool = True,
) -> AirAssessments:
    """Statistics of ``cities`` for every year, quarter and month of ``year`` (and the year
    before), at drawn air-quality levels, with gaps and invalid statistics when ``gaps``.

    >>> a = air_assessments(cities=("430100",), gaps=False).example()
    >>> a.get("430100", "2023-Q2") is not None
    True
    """
    years = (year - 1, year) if previous_year else (year,)
    stats: dict[tuple[str, Period | Quarter], AirStatistics] = {}
    cells = st.tuples(st.integers(0 if gaps else 1, 18), st.integers(0, 3),
                      st.integers(0, 12 if gaps else 0))
    for city in cities:
        periods = [p for y in years for p in _air_periods(y)]
        drawn = draw(st.lists(cells, min_size=len(periods), max_size=len(periods)))
        for period, (level, variant, flag) in zip(periods, drawn, strict=True):
            if level:
                invalid = ("pm25",) if flag == 1 else ("o3_8h_p90", "good_ratio") if flag == 2 \
                    else ()
                stats[(city, period)] = air_statistics(city, period, level - 1, variant,
                                                       invalid=invalid)
    return AirAssessments(stats, {})


def air_reordered(data: AirAssessments) -> AirAssessments:
    """The same air data with every mapping in reverse insertion order."""
    return AirAssessments(dict(reversed(list(data.statistics.items()))),
                          {c: d for c, d in reversed(list(data.daily.items()))})


def improve_air(stats: AirStatistics) -> AirStatistics:
    """The same statistics one level cleaner in every statistic (ratios and counts too)."""
    values = dict(stats.values)
    for key, step in _AIR_STEP.items():
        if key in values:
            values[key] = max(Decimal(0), values[key] - step)
    days = values.get("valid_days", Decimal(stats.period.days))
    if "good_days" in values:
        values["good_days"] = min(days, values["good_days"] + 10)
        values["good_ratio"] = (values["good_days"] * 100 / days).quantize(Decimal("0.0001"))
    if "heavy_days" in values:
        values["heavy_days"] = max(Decimal(0), values["heavy_days"] - 1)
    if "composite_index" in values:
        values["composite_index"] = max(Decimal(0), values["composite_index"] - Decimal("0.25"))
    return attrs.evolve(stats, values=values)


_AIR_CODES = ("pm25", "pm10", "so2", "no2", "co_p95", "o3_8h_p90", "good_ratio", "heavy_days")


@st.composite
def _attainment_params(draw: st.DrawFn, parties: Sequence[str]) -> dict[str, Any]:
    attain = draw(_amounts)
    params: dict[str, Any] = {
        "standard": draw(st.sampled_from(("by_date", "GB3095-2012", "GB3095-2026"))),
        "grade": draw(st.sampled_from(("II", "II", "I"))), "attain_reward": attain,
        "attained_years": draw(st.lists(st.integers(2019, 2024), unique=True, max_size=3)),
        "exclusive": draw(st.sampled_from(("max", "sum"))),
    }  # fmt: skip
    if draw(st.booleans()):
        params["first_attain_reward"] = str(_value(attain) + _value(draw(_amounts)))
    if draw(st.booleans()):
        params["zero_heavy_reward"] = draw(_amounts)
    return params


def _positive_decimal(lo: str, hi: str, places: int = 2) -> st.SearchStrategy[str]:
    return st.decimals(lo, hi, places=places).map(str)


@st.composite
def _air_change_params(draw: st.DrawFn, parties: Sequence[str]) -> dict[str, Any]:
    party = parties[0]
    codes = draw(st.lists(st.sampled_from(_AIR_CODES), min_size=1, max_size=4, unique=True))
    basis = draw(st.sampled_from(("same_period_last_year", "annual_target", "group_mean")))
    indicators = []
    for code in codes:
        ind: dict[str, Any] = {"code": code, "weight": draw(_positive_decimal("0", "1")),
                               "coefficient": draw(_positive_decimal("0", "80", 1))}
        if basis == "annual_target":
            ind["target"] = draw(_positive_decimal("0", "120", 1))
        if draw(st.integers(0, 4)) == 0:
            ind["apply_k"] = False
        indicators.append(ind)
    params: dict[str, Any] = {
        "period": draw(st.sampled_from(("month", "quarter", "year"))), "basis": basis,
        "indicators": indicators,
        "round_result": draw(st.sampled_from(("fen", "fen", "wan"))),
    }  # fmt: skip
    others = [p for p in AIR_PARTY_POOL if p not in parties]
    group = [party, *draw(st.lists(st.sampled_from(others), max_size=2, unique=True))]
    if basis == "group_mean" or draw(st.booleans()):
        params["group"] = group
    if draw(st.booleans()):
        params["k"] = {party: draw(_positive_decimal("0.5", "2", 1))}
    if draw(st.booleans()):
        params["cap"] = draw(_amounts)
    if draw(st.booleans()):
        # factors that never fall as the target indicator improves (a ≥ b ≥ c)
        a, b, c = sorted((draw(_positive_decimal("0", "1")) for _ in range(3)),
                         key=Decimal, reverse=True)
        rules: list[dict[str, Any]] = [{"target_met": True, "factor": a}]
        if "group" in params:
            rules.append({"target_met": False, "fall_above_group_mean": True, "factor": b})
        rules.append({"target_met": False, "factor": c})
        params["target_correction"] = {"indicator": draw(st.sampled_from(codes)),
                                       "target": draw(_positive_decimal("10", "120", 1)),
                                       "rules": rules}
    return params


@st.composite
def _tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    uptos = sorted(set(draw(st.lists(st.integers(1, 30), max_size=3))))
    return [*({"upto": u, "rate": draw(_positive_decimal("0", "30", 1))} for u in uptos),
            {"rate": draw(_positive_decimal("0", "30", 1))}]


@st.composite
def _air_ladder_params(draw: st.DrawFn, parties: Sequence[str]) -> dict[str, Any]:
    # every statistic a ladder may read, good_ratio (higher is better) and heavy_days too
    codes = draw(st.lists(st.sampled_from(_AIR_CODES), min_size=1, max_size=2, unique=True))
    group_base = draw(st.booleans())
    indicators = []
    for code in codes:
        ind: dict[str, Any] = {
            "code": code, "tiers": draw(_tiers()),
            "base": "group_mean" if group_base else draw(_positive_decimal("5", "120", 1)),
        }  # fmt: skip
        if draw(st.booleans()):
            ind["rewards"] = draw(_tiers())
        indicators.append(ind)
    params: dict[str, Any] = {"period": draw(st.sampled_from(("month", "quarter", "year"))),
                              "indicators": indicators}
    if group_base:
        others = [p for p in AIR_PARTY_POOL if p not in parties]
        params["group"] = [parties[0], *draw(st.lists(st.sampled_from(others), min_size=1,
                                                     max_size=2, unique=True))]
    if draw(st.booleans()):
        params["cap"] = draw(_amounts)
    return params


#: City codes air agreements are drawn from (Hunan's 市州 and the province).
AIR_PARTY_POOL = ("430100", "430200", "430300", "430400", "430800", "431200")


def _air_cities(agreement: Agreement) -> tuple[str, ...]:
    """The cities an air agreement reads: its party and its group."""
    group = agreement.params.get("group") or ()
    return tuple(dict.fromkeys((agreement.party_for("party"), *group)))


def _air_relevant(agreement: Agreement, span: Period | Quarter, period: Period) -> bool:
    """Whether an air agreement settles ``span`` in a run of ``period``."""
    kind = agreement.params.get("period", "year")
    if kind == "quarter":
        if not isinstance(span, Quarter):
            return False
        last = span.months()[-1]
    elif isinstance(span, Quarter) or (kind == "year") != (span.month is None):
        return False
    else:
        last = span
    return period.start <= last.start and last.end <= period.end


def _air_outside(data: AirAssessments, year: int, lookback: int, cities: Sequence[str],
                 level: int) -> AirAssessments:
    """``data`` with every period outside ``year`` and its look-back replaced."""
    far = (year + 1, year - 1 - lookback)
    kept = {k: v for k, v in data.statistics.items()
            if year - lookback <= k[1].year <= year}
    for city in cities:
        for y in far:
            for period in _air_periods(y):
                kept[(city, period)] = air_statistics(city, period, level)
    return AirAssessments(kept, data.daily)


# --------------------------------------------------------------------------- invariants


def improve(
    sa: SectionAssessment, factors: Iterable[str] | None = None
) -> SectionAssessment | None:
    """The same assessment one class better (None when it is Ⅰ or has no class).

    Every item worse than the new class is set to that class's limit (pH to 7.0); other items
    keep their values, so exceedance multiples never grow.

    >>> from ecocomp.assessment import item_assessment
    >>> sa = SectionAssessment("s", Period(2023, 1), "river",
    ...                        {"nh3n": item_assessment("nh3n", Decimal("1.2"), 1)})
    >>> improve(sa).class_for()
    <WaterClass.III: 3>
    """
    codes = tuple(factors) if factors is not None else sa.factors
    cls = sa.class_for(codes)
    if cls is None or cls is WaterClass.I:
        return None
    better = WaterClass(cls - 1)
    items = dict(sa.items)
    for code in codes:
        item = items.get(code)
        if item is None or item.cls is None or item.cls <= better:
            continue
        param = gb3838().parameter(code)
        value = Decimal("7.0") if param.direction == "range" else param.limit(better, sa.waterbody)
        assert value is not None
        items[code] = attrs.evolve(item, value=value, exact=None, cls=item_assessment(
            code, value, item.samples, sa.waterbody).cls)
    return attrs.evolve(sa, items=items)


def reordered(assessments: Any) -> Any:
    """The same data with every mapping in reverse insertion order (for determinism checks)."""
    if isinstance(assessments, AirAssessments):
        return air_reordered(assessments)
    return Assessments(
        sections=dict(reversed(list(assessments.sections.items()))),
        daily_flows={s: dict(reversed(list(d.items())))
                     for s, d in reversed(list(assessments.daily_flows.items()))},
    )


def assert_obligations_valid(agreement: Agreement, obligations: Sequence[Obligation]) -> None:
    """Amounts ≥ 0 exact to the fen; payer ≠ payee, both parties of the agreement."""
    for ob in obligations:
        where = f"{ob.agreement}/{ob.period}/{ob.component}"
        assert isinstance(ob.amount, Decimal) and ob.amount >= 0, (
            f"{where}: amount {ob.amount!r} is negative")
        assert ob.amount == ob.amount.quantize(Decimal("0.01")), (
            f"{where}: {ob.amount} is not whole fen")
        assert ob.payer != ob.payee, f"{where}: payer and payee are both {ob.payer}"
        assert {ob.payer, ob.payee} <= set(agreement.party_codes), (
            f"{where}: {ob.payer}→{ob.payee} are not parties of {agreement.id}")
        assert ob.agreement == agreement.id, f"{where}: names agreement {ob.agreement}"


def assert_money_conserved(obligations: Sequence[Obligation]) -> None:
    """Σ paid = Σ received; the parties' nets sum to zero; nets agree with net_obligations."""
    paid = sum((ob.amount for ob in obligations), Decimal(0))
    nets = party_nets(obligations)
    assert sum(nets.values(), Decimal(0)) == 0, f"party nets do not sum to zero: {nets}"
    received = sum((v for v in nets.values() if v > 0), Decimal(0))
    netted = sum((n.amount for n in net_obligations(obligations)), Decimal(0))
    assert netted == received, f"net_obligations move {netted}, party nets need {received}"
    assert netted <= paid, f"nets {netted} exceed the gross {paid}"


def assert_caps_respected(
    spec: FormulaSpec, agreement: Agreement, obligations: Sequence[Obligation]
) -> None:
    """Every obligation is at most the cap the formula declares for it."""
    if spec.cap is None:
        return
    for ob in obligations:
        cap = spec.cap(agreement, ob)
        assert cap is None or ob.amount <= cap, (
            f"{ob.agreement}/{ob.period}/{ob.component}: {ob.amount} exceeds the cap {cap}")


def assert_deterministic(
    spec: FormulaSpec, agreement: Agreement, data: Assessments, period: Period
) -> list[Obligation]:
    """Two runs, and a run on reordered inputs, give identical obligations."""
    first = spec(agreement, data, period)
    assert spec(agreement, data, period) == first, "two runs on the same inputs differ"
    assert spec(agreement, reordered(data), period) == first, (
        "the obligations depend on the order of the assessments")
    return first


def _net(obligations: Sequence[Obligation], party: str) -> Decimal:
    return party_nets(obligations).get(party, Decimal(0))


def assert_monotone(
    spec: FormulaSpec,
    agreement: Agreement,
    data: Assessments,
    period: Period,
    key: tuple[str, Period],
    before: Sequence[Obligation] | None = None,
) -> None:
    """Improving section-period ``key`` by one class never lowers the beneficiary's net."""
    if spec.beneficiary is None or key not in data.sections:
        return
    party = spec.beneficiary(agreement, key[0])
    better = improve(data.sections[key], _factors(agreement))
    if party is None or better is None:
        return
    before = spec(agreement, data, period) if before is None else before
    after = spec(agreement, attrs.evolve(data, sections={**data.sections, key: better}), period)
    assert _net(after, party) >= _net(before, party), (
        f"improving {key[0]} in {key[1]} by one class lowered {party}'s net from "
        f"{_net(before, party)} to {_net(after, party)}")


def _factors(agreement: Agreement) -> tuple[str, ...]:
    factors = agreement.params.get("factors", "standard")
    return ASSESSED_ITEMS if factors == "standard" else tuple(factors)


def assert_air_monotone(
    spec: FormulaSpec,
    agreement: Agreement,
    data: AirAssessments,
    period: Period,
    key: tuple[str, Any],
    before: Sequence[Obligation] | None = None,
) -> None:
    """Cleaner air in city-period ``key`` never lowers the beneficiary's net."""
    if spec.beneficiary is None or key not in data.statistics:
        return
    party = spec.beneficiary(agreement, key[0])
    if party is None:
        return
    before = spec(agreement, data, period) if before is None else before
    better = improve_air(data.statistics[key])
    after = spec(agreement, attrs.evolve(data, statistics={**data.statistics, key: better}),
                 period)
    assert _net(after, party) >= _net(before, party), (
        f"cleaner air in {key[0]} in {key[1]} lowered {party}'s net from "
        f"{_net(before, party)} to {_net(after, party)}")


def assert_period_isolated(
    spec: FormulaSpec,
    agreement: Agreement,
    data: Assessments,
    changed: Assessments,
    period: Period,
    before: Sequence[Obligation] | None = None,
) -> None:
    """``changed`` differs from ``data`` only outside the window: the obligations must not."""
    before = spec(agreement, data, period) if before is None else before
    assert spec(agreement, changed, period) == list(before), (
        f"data outside {period} (and its look-back) changed the obligations")


@st.composite
def _outside(draw: st.DrawFn, spec: FormulaSpec, agreement: Agreement, data: Assessments,
             year: int) -> Assessments:
    lookback = spec.lookback(agreement) if spec.lookback is not None else 0
    far = (year + 1, year - 1 - lookback)
    parts = {k: v for k, v in data.sections.items() if year - lookback <= k[1].year <= year}
    for section in agreement.sections:
        for y in far:
            for period in (Period(y), Period(y, draw(st.integers(1, 12)))):
                cls, variant = draw(st.integers(1, 6)), draw(st.integers(0, 3))
                parts[(section, period)] = SectionAssessment(
                    section, period, "river", _variant_items(WaterClass(cls), variant))
    flows = {}
    for section, days in data.daily_flows.items():
        kept = {d: q for d, q in days.items() if year - lookback <= d.year <= year}
        noise = draw(st.integers(0, 300))
        for y in far:
            kept.update({date(y, 1, 1) + timedelta(days=i): Decimal(noise) for i in range(40)})
        flows[section] = kept
    return Assessments(sections=parts, daily_flows=flows)


def _spec(formula: str | FormulaSpec | Callable[..., Any]) -> FormulaSpec:
    if isinstance(formula, FormulaSpec):
        return formula
    if isinstance(formula, str):
        return get_spec(formula)
    for spec in _REGISTRY.values():
        if spec.func is formula:
            return spec
    raise ValueError(f"{formula!r} is not registered; register it with register_formula first")


def check_formula(
    formula: str | FormulaSpec | Callable[..., Any],
    *,
    agreements: st.SearchStrategy[Agreement] | None = None,
    assessments: Callable[[Agreement], st.SearchStrategy[Assessments]] | None = None,
    year: int = 2023,
    max_examples: int = 50,
    shrink: bool = True,
) -> None:
    """Property-test a registered formula against every invariant; AssertionError on failure.

    ``agreements`` defaults to :func:`agreements` of the formula (give your own for a custom
    formula's params); ``assessments(agreement)`` returns a strategy of data for an
    agreement (default: a year and the year before for its sections, with gaps and flows).
    Hypothesis shrinks a failure and prints the falsifying agreement and data
    (``shrink=False`` reports the first failure found, faster but bigger).

    >>> check_formula("class_ladder", max_examples=5)
    """
    spec = _spec(formula)
    air = spec.inputs == "air"
    agreement_strategy = agreements if agreements is not None else globals()["agreements"](
        spec.name, year=year)
    data_for = assessments if assessments is not None else (
        (lambda a: air_assessments(cities=_air_cities(a), year=year)) if air else
        (lambda a: globals()["assessments"](sections=a.sections, year=year)))

    @settings(max_examples=max_examples, deadline=None, database=None,
              report_multiple_bugs=False,
              phases=tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        agreement = data.draw(agreement_strategy, label="agreement")
        inputs = data.draw(data_for(agreement), label="assessments")
        period = data.draw(st.one_of(st.just(Period(year)),
                                     st.integers(1, 12).map(lambda m: Period(year, m))),
                           label="period")
        try:
            obligations = assert_deterministic(spec, agreement, inputs, period)
            assert_obligations_valid(agreement, obligations)
            assert_money_conserved(obligations)
            assert_caps_respected(spec, agreement, obligations)
            if air:
                party = agreement.party_for("party")
                keys = [k for k in inputs.statistics
                        if k[0] == party and _air_relevant(agreement, k[1], period)]
            else:
                keys = [k for k in inputs.sections
                        if k[1].year == year and k[0] in agreement.sections]
            if keys:
                key = data.draw(st.sampled_from(sorted(keys, key=str)), label="improved")
                check = assert_air_monotone if air else assert_monotone
                check(spec, agreement, inputs, period, key, obligations)
            if air:
                lookback = spec.lookback(agreement) if spec.lookback is not None else 0
                changed = _air_outside(inputs, year, lookback, _air_cities(agreement),
                                       data.draw(st.integers(0, 18), label="outside level"))
            else:
                changed = data.draw(_outside(spec, agreement, inputs, year),
                                    label="outside data")
            assert_period_isolated(spec, agreement, inputs, changed, period, obligations)
        except AssertionError as exc:
            raise AssertionError(f"formula {spec.name}, agreement {agreement.id}, period "
                                 f"{period}: {exc}") from None

    run()
