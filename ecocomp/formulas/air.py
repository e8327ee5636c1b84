"""Air-quality (大气) compensation: ``air_attainment``, ``air_change`` and ``air_ladder``.

The formulas read a city's period statistics (:class:`ecocomp.air.AirStatistics`, keyed by
``(city, period)`` in :class:`ecocomp.air.AirAssessments`); the assessed city is the
agreement's ``party`` (a 市州 GB/T 2260 code) and the ``counterparty`` is the province.

- ``air_attainment`` (annual): a reward when the city's annual statistics attain the grade
  of GB 3095 (``attain_reward``, or ``first_attain_reward`` in the first attaining year), and
  when it had no heavy-pollution day (``zero_heavy_reward``); ``exclusive = "max"`` pays only
  the largest (湖南 「不重复」).
- ``air_change`` (month, quarter or year): per indicator i,
  ``M = Σᵢ wᵢ · sᵢ · (Bᵢ − Xᵢ) · cᵢ · k · f`` with Bᵢ the basis (same period last year, a
  target or the group mean), Xᵢ the current value, sᵢ reversing the difference where higher
  is better (good_ratio), k the party's factor and f the target correction. M > 0: the
  counterparty pays M; M < 0: the party pays |M| (山东, 安徽, 湖北, 湖南 improvement).
- ``air_ladder`` (month, quarter or year): for each unit the value is above the base, the
  party pays by steps (郑州 5·10 then 20 per μg/m³); optional mirrored rewards below it.

Every amount is computed with exact fractions and rounded once, half up, to the fen (or
to whole 万 with ``round_result = "wan"``); every obligation's basis holds each value, basis
value, weight, coefficient, factor and rule, and the agreement's source and confidence.

A quarter's amount is booked in the quarter's last month (``2018-09`` for 2018 Q3), with
``"span": "2018-Q3"`` in its basis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

import attrs

from ecocomp.agreements import Agreement
from ecocomp.air.standards import PAIRED, gb3095, resolve_standard
from ecocomp.air.statistics import (
    LIMIT_OF,
    ROUNDING_WORDS,
    Rounding,
    attains,
    city_day,
    period_statistics,
)
from ecocomp.errors import FormulaError
from ecocomp.formulas.registry import register_formula
from ecocomp.formulas.shared import fraction_text
from ecocomp.money import WAN, split_largest_remainder, to_yuan
from ecocomp.obligations import Obligation
from ecocomp.periods import Period, Quarter

__all__ = [
    "HIGHER_IS_BETTER",
    "Span",
    "air_attainment",
    "air_change",
    "air_ladder",
    "booked",
    "ladder_amount",
    "spans",
]

_ROLES = ("party", "counterparty")
#: Statistics where a higher value is better air (the difference is reversed: X − B).
HIGHER_IS_BETTER = frozenset({"good_ratio", "good_days"})


# --------------------------------------------------------------------------- periods

#: A settlement period of an air formula: a month or a year (:class:`Period`) or a quarter.
Span = Period | Quarter


def _span(agreement: Agreement) -> str:
    """What an air agreement settles whole: its ``period`` (month, quarter or year)."""
    return str(agreement.params.get("period", "month"))


def spans(kind: str, period: Period) -> list[Span]:
    """The months, quarters or years (``kind``) booked within ``period`` (a year or a month).

    >>> [str(s) for s in spans("quarter", Period(2018, 9))]
    ['2018-Q3']
    >>> spans("year", Period(2018, 12))
    []
    """
    if kind == "year":
        return [Period(period.year)] if not period.is_month else []
    from ecocomp.air.assess import periods_of  # the air store: only for air formulas

    found = periods_of(period.year, kind)
    return [s for s in found if period.start <= booked(s).start and booked(s).end <= period.end]


def booked(span: Span) -> Period:
    """The period a span's obligation is booked in: itself, or a quarter's last month.

    >>> booked(Quarter(2018, 3))
    Period(year=2018, month=9)
    """
    return span.months()[-1] if isinstance(span, Quarter) else span


def _in_force(agreement: Agreement, span: Span) -> bool:
    return span.start <= agreement.end and span.end >= agreement.start


def _statistics(assessments: Any, city: str, span: Span) -> Any:
    return assessments.statistics.get((city, span))


def _value(stats: Any, code: str) -> Fraction | None:
    """A statistic as an exact fraction, or None when missing or flagged invalid."""
    if stats is None:
        return None
    value = stats.values.get(code)
    if value is None or not stats.valid.get(code, True):
        return None
    if code == "good_ratio":  # shown to 4 places; paid on the exact good_days/valid_days
        good, days = _value(stats, "good_days"), _value(stats, "valid_days")
        if good is not None and days:
            return good * 100 / days
    return Fraction(value)


# --------------------------------------------------------------------------- rounding


def _rounding(agreement: Agreement) -> Rounding:
    """The agreement's ``round_concentrations`` (修约); ``none`` when it sets none."""
    return cast(Rounding, agreement.params.get("round_concentrations", "none"))


def _rounding_note(basis: Mapping[str, Any]) -> str:
    """The explanation's words for the basis's ``round_concentrations`` ("": not set)."""
    rule = basis.get("round_concentrations")
    if rule is None:
        return ""
    if rule == "none":
        return " [concentrations not rounded (round_concentrations = none)]"
    return (f" [concentrations rounded {ROUNDING_WORDS[rule]} to whole μg/m³ and CO to 0.1 "
            f"mg/m³, daily values then statistics (round_concentrations = {rule})]")


class _Computed(Mapping[Any, Any]):
    """The keys of ``keys``, each value ``compute(key)`` computed when first read."""

    def __init__(self, keys: Mapping[Any, Any], compute: Any) -> None:
        self._keys, self._compute = keys, compute
        self._done: dict[Any, Any] = {}

    def __getitem__(self, key: Any) -> Any:
        if key not in self._done:
            self._done[key] = self._compute(key)
        return self._done[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _rounded_days(daily: Mapping[str, tuple[Any, ...]], rule: Rounding, city: str
                  ) -> tuple[Any, ...]:
    """A city's days with their concentrations rounded by ``rule`` (their AQI recomputed)."""
    return tuple(city_day(d.city, d.day, d.values, version=d.version,
                          round_concentrations=rule) for d in daily[city])


def _rounded_statistics(agreement: Agreement, assessments: Any, rule: Rounding,
                        key: tuple[str, Any]) -> Any:
    """A ``(city, span)``'s statistics recomputed from the city's exact days with the
    concentrations rounded by ``rule``, under the standard the exact ones were assessed
    under."""
    exact = assessments.statistics[key]
    city, span = key
    days = (getattr(assessments, "daily", None) or {}).get(city)
    if not days:
        raise FormulaError(
            f"agreement {agreement.id}: round_concentrations = \"{rule}\" rounds the daily "
            f"values of {city}, but the air inputs hold only its statistics for {span}, not "
            "its days; assess the air with assess_air (which keeps the days) or leave "
            "round_concentrations out")
    return period_statistics(days, city=city, period=span, standard=exact.standard,
                             round_concentrations=rule)


@attrs.frozen
class _Rounded:
    """The air inputs as an agreement with ``round_concentrations`` reads them (same keys)."""

    statistics: Mapping[tuple[str, Any], Any]
    daily: Mapping[str, tuple[Any, ...]]


def _as_rounded(agreement: Agreement, assessments: Any) -> Any:
    """``assessments`` as the agreement's ``round_concentrations`` reads them: unchanged for
    ``none`` (the settlement's statistics are exact); else each statistic recomputed from the
    city's days with every daily concentration rounded at the HJ 663 places, then each
    statistic."""
    rule = _rounding(agreement)
    if rule == "none" or assessments is None:
        return assessments
    daily = getattr(assessments, "daily", None) or {}
    return _Rounded(
        _Computed(assessments.statistics,
                  lambda key: _rounded_statistics(agreement, assessments, rule, key)),
        _Computed(daily, lambda city: _rounded_days(daily, rule, city)))


# --------------------------------------------------------------------------- amounts


def _yuan(amount: Fraction, agreement: Agreement) -> Decimal:
    """A non-negative amount in the agreement's unit as yuan, half up to the fen."""
    fen = amount * (int(WAN) if agreement.unit == "wan" else 1) * 100
    return to_yuan(Decimal(math.floor(fen + Fraction(1, 2))).scaleb(-2))


def _round_wan(amount: Fraction, agreement: Agreement) -> Fraction:
    """``amount`` (in the agreement's unit) to whole 万元, half up in magnitude."""
    per = 1 if agreement.unit == "wan" else int(WAN)
    whole = math.floor(abs(amount) / per + Fraction(1, 2)) * per
    return Fraction(whole if amount >= 0 else -whole)


def _text(value: Fraction | None) -> str | None:
    return None if value is None else fraction_text(value)


def _short(value: Fraction) -> str:
    """``value`` for reading: exact when it has at most 4 decimals, else ``≈`` 4 decimals.

    >>> _short(Fraction(189, 2)), _short(Fraction(2, 3))
    ('94.5', '≈0.6667')
    """
    text = fraction_text(value)
    if "/" not in text and len(text.partition(".")[2]) <= 4:
        return text
    fen = math.floor(abs(value) * 10000 + Fraction(1, 2))
    return f"≈{'-' if value < 0 else ''}{fen // 10000}.{fen % 10000:04d}"


def _unit_text(agreement: Agreement) -> str:
    return "万元" if agreement.unit == "wan" else "元"


def _obligation(
    agreement: Agreement, period: Period, component: str, signed: Fraction,
    basis: dict[str, Any], *, cap: Decimal | None = None,
) -> Obligation:
    """Reward (signed > 0: counterparty → party) or penalty (< 0: party → counterparty).

    ``cap`` (in the agreement's unit) bounds the amount either way.
    """
    party, counterparty = agreement.party_for("party"), agreement.party_for("counterparty")
    reward = signed >= 0
    payer, payee = (counterparty, party) if reward else (party, counterparty)
    amount = abs(signed)
    capped = cap is not None and amount > Fraction(cap)
    if capped:
        amount = Fraction(cap)
    yuan = _yuan(amount, agreement)
    unit = _unit_text(agreement)
    basis.update({
        "direction": "reward" if reward else "penalty", "signed_amount": _text(signed),
        "cap": cap, "capped": capped, "amount_in_unit": _text(amount), "unit": agreement.unit,
        "amount_yuan": yuan, "source": agreement.source, "confidence": agreement.confidence,
    })  # fmt: skip
    if "explanation" not in basis:
        outcome = (f"{payer} pays {payee} {yuan} yuan ({_short(amount)} {unit})" if yuan
                   else "no payment")
        rule = basis.get("readable", basis["rule"]) + _rounding_note(basis)
        basis["explanation"] = f"{basis.get('span', period)}: {rule} → {outcome}" + (
            f" (capped at {cap} {unit}; uncapped {_short(abs(signed))})" if capped else "")
    return Obligation(agreement.id, period, component, payer, payee, yuan, basis)


def _why(stats: Any, what: Iterable[str]) -> str:
    """Why the first of ``what`` that has data is not valid (HJ 663 counts), or ""."""
    for name in what:
        text = (getattr(stats, "evidence", None) or {}).get(name.split(" ")[0], "")
        if "not valid: " in text:
            return f" ({name} not valid under HJ 663: {text.split('not valid: ', 1)[1]})"
    return ""


def _missing(agreement: Agreement, span: Span, what: Iterable[str], key: str,
             stats: Any = None) -> str:
    what = list(what)
    names = ", ".join(what)
    why = _why(stats, what) if stats is not None else ""
    if agreement.params[key] == "error":
        raise FormulaError(
            f"agreement {agreement.id}: no valid {names} for {agreement.party_for('party')} in "
            f"{span}{why}; import its air readings or set params.{key} = \"skip\""
        )
    return f"no valid {names}{why}: skipped ({key} = skip)"


def _skipped(agreement: Agreement, period: Period, component: str, span: Span,
             missing: list[str], stats: Any, basis: dict[str, Any]) -> Obligation:
    """A period without valid statistics: amount 0, the reason in its basis (or the
    ``missing_period = "error"`` stop)."""
    basis["missing"] = missing
    basis["rule"] = _missing(agreement, span, missing, "missing_period", stats)
    return _obligation(agreement, period, component, Fraction(0), basis)


def _group_mean(assessments: Any, group: Iterable[str], span: Span, code: str
                ) -> tuple[Fraction | None, dict[str, str | None]]:
    """The mean of ``code`` over the group's cities with a valid value, and each value."""
    values = {city: _value(_statistics(assessments, city, span), code) for city in group}
    present = [v for v in values.values() if v is not None]
    mean = sum(present, Fraction(0)) / len(present) if present else None
    return mean, {city: _text(v) for city, v in values.items()}


def _evidence(stats: Any) -> dict[str, Any]:
    return {"standard": stats.standard,
            "values": {k: v for k, v in sorted(stats.values.items())},
            "valid": {k: bool(v) for k, v in sorted(stats.valid.items())},
            "how": {k: v for k, v in sorted(getattr(stats, "evidence", {}).items())}}


def _settled(
    agreement: Agreement, assessments: Any, period: Period, formula: str,
) -> Iterator[tuple[Span, Any, dict[str, Any]]]:
    """The spans the agreement settles in ``period``, the party's statistics of each (None:
    none) and the start of each obligation's basis."""
    city = agreement.party_for("party")
    kind = agreement.params["period"]
    for span in spans(kind, period):
        if not _in_force(agreement, span):
            continue
        stats = _statistics(assessments, city, span)
        basis: dict[str, Any] = {"formula": formula, "city": city, "span": str(span),
                                 "period_kind": kind}
        if "round_concentrations" in agreement.params:  # set: shown (absent: exact)
            basis["round_concentrations"] = agreement.params["round_concentrations"]
        if stats is not None:
            basis["evidence"] = _evidence(stats)
        yield span, stats, basis


def _cap(agreement: Agreement, _ob: Obligation) -> Decimal | None:
    """The ``cap`` param in yuan (None: no cap)."""
    cap = agreement.params.get("cap")
    return None if cap is None else agreement.to_yuan(cap)


def _beneficiary(agreement: Agreement, city: str) -> str | None:
    """Cleaner air in the party's own city never lowers the party's net."""
    party = agreement.party_for("party")
    return party if city == party else None


# --------------------------------------------------------------------------- attainment


def _attainment_check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    found = []
    first = params.get("first_attain_reward")
    if first is not None and first < params["attain_reward"]:
        found.append((("first_attain_reward",), f"{first} is below attain_reward "
                      f"{params['attain_reward']}; the first attaining year earns at least as "
                      "much (湖南: 1000 vs 500)"))
    return found


def _attainment_cap(agreement: Agreement, _ob: Obligation) -> Decimal:
    params = agreement.params
    rewards = [params["attain_reward"], params.get("first_attain_reward") or 0,
               params.get("zero_heavy_reward") or 0]
    return agreement.to_yuan(max(rewards) if params["exclusive"] == "max" else sum(rewards))


def _heavy_days(assessments: Any, city: str, year: int, stats: Any, above: int
                ) -> tuple[Fraction | None, str]:
    if above == 200:
        return _value(stats, "heavy_days"), "heavy_days statistic (AQI > 200)"
    # another threshold counts the days the heavy_days statistic counts (those with all six
    # pollutants), and only in a year whose count of such days is valid under HJ 663
    days = [d for d in (getattr(assessments, "daily", {}) or {}).get(city, ())
            if d.day.year == year and d.aqi is not None and d.complete]
    if not days or _value(stats, "heavy_days") is None:
        return None, f"count of days with AQI > {above} (too few valid days, HJ 663)"
    return Fraction(sum(1 for d in days if d.aqi > above)), f"days with AQI > {above}"


def _attained_by_data(agreement: Agreement, assessments: Any, city: str, year: int) -> bool:
    """Whether the imported air data of ``year`` (valid statistics) attain the grade."""
    stats = _statistics(assessments, city, Period(year))
    if stats is None or agreement.params.get("first_attain_reward") is None:
        return False
    params = agreement.params
    standard = resolve_standard(params["standard"], Period(year).end)
    return attains(stats, standard=standard, grade=params["grade"])[0]


def _attainment_lookback(agreement: Agreement) -> int:
    """A first-time reward reads the year before (did it attain?)."""
    return 1 if agreement.params.get("first_attain_reward") is not None else 0


def _undecided(stats: Any) -> list[str]:
    """The six attainment statistics that are absent or flagged invalid (HJ 663)."""
    return [name for name in LIMIT_OF if _value(stats, name) is None]


def _above_limit(reason: str) -> bool:
    """Whether an :func:`attains` reason is a valid statistic above its limit."""
    return " > " in reason and "not a valid statistic" not in reason and "no data" not in reason


@register_formula("air_attainment", roles=_ROLES, inputs="air", annual=True,
                  params_schema="params.air_attainment", check=_attainment_check,
                  cap=_attainment_cap, lookback=_attainment_lookback,
                  beneficiary=_beneficiary)
def air_attainment(agreement: Agreement, assessments: Any, period: Period) -> list[Obligation]:
    """The year's attainment reward (component ``attainment``); a month period gives none.

    Rewards are paid by the counterparty (the province) to the party (the city).
    """
    if period.is_month or not agreement.in_force(period):
        return []
    params: Mapping[str, Any] = agreement.params
    assessments = _as_rounded(agreement, assessments)
    city = agreement.party_for("party")
    span = Period(period.year)
    stats = _statistics(assessments, city, span)
    standard = resolve_standard(params["standard"], period.end)
    basis: dict[str, Any] = {
        "formula": "air_attainment", "city": city, "span": str(span), "year": period.year,
        "standard": standard, "standard_param": params["standard"], "grade": params["grade"],
        "exclusive": params["exclusive"], "attained_years": sorted(params["attained_years"]),
    }  # fmt: skip
    if "round_concentrations" in params:  # set by the agreement: shown (absent: exact)
        basis["round_concentrations"] = params["round_concentrations"]
    if stats is None:
        basis["rule"] = _missing(agreement, span, ["annual statistics"], "missing_year")
        return [_obligation(agreement, period, "attainment", Fraction(0), basis)]
    basis["evidence"] = _evidence(stats)
    attained, failing = attains(stats, standard=standard, grade=params["grade"])
    unknown = _undecided(stats)
    not_judged = None
    if unknown and not any(_above_limit(reason) for reason in failing):
        # an invalid or absent statistic (HJ 663: too few days) is missing, not a miss: the
        # attainment cannot be judged, so missing_year decides it (docs/air-formulas.md).
        # The heavy-day reward does not depend on it and is still judged: otherwise cleaner
        # air (a statistic no longer above its limit) could cost the city that reward.
        not_judged = _missing(agreement, span, unknown, "missing_year", stats)
        basis["missing"] = unknown
        attained = False
    heavy, heavy_from = _heavy_days(assessments, city, period.year, stats,
                                    params["heavy_aqi_above"])
    earlier = [y for y in params["attained_years"] if y < period.year]
    by_data = _attained_by_data(agreement, assessments, city, period.year - 1)
    if by_data and period.year - 1 not in earlier:
        # the history omits a year the imported data show attained: not a first time
        earlier.append(period.year - 1)
        basis["history_note"] = (
            f"{period.year - 1} attains grade {params['grade']} by the imported air data but "
            f"is not in attained_years; counted as attained (add it to attained_years)")
    first = attained and not earlier and params.get("first_attain_reward") is not None
    rewards: dict[str, Fraction] = {}
    rules = []
    if not_judged is not None:
        rules.append(f"attainment of grade {params['grade']} of {standard} not judged: "
                     f"{not_judged}; no attainment reward")
    elif attained:
        key = "first_attain_reward" if first else "attain_reward"
        rewards[key] = Fraction(params[key])
        rules.append(f"attains grade {params['grade']} of {standard}"
                     + (" for the first time" if first else
                        f" (attained before: {', '.join(map(str, sorted(earlier)))}"
                        + (" — by the air data, not in attained_years" if by_data and
                           period.year - 1 not in params["attained_years"] else "") + ")"
                        if earlier else "") + f": {key} {params[key]}")
    else:
        rules.append(f"misses grade {params['grade']} of {standard} ({', '.join(failing)}): "
                     "no attainment reward")
    zero = params.get("zero_heavy_reward")
    if heavy is None:
        rules.append(f"no valid {heavy_from}: no heavy-day reward")
    elif heavy == 0 and zero is not None:
        rewards["zero_heavy_reward"] = Fraction(zero)
        rules.append(f"no heavy-pollution day ({heavy_from} = 0): zero_heavy_reward {zero}")
    else:
        rules.append(f"{_text(heavy)} heavy-pollution day(s) ({heavy_from}): "
                     "no heavy-day reward")
    if params["exclusive"] == "max":
        chosen = max(rewards.values(), default=Fraction(0))
        rule = "the largest applicable reward (exclusive = max, 不重复)"
    else:
        chosen = sum(rewards.values(), Fraction(0))
        rule = "the sum of the applicable rewards (exclusive = sum)"
    basis.update({"attained": attained, "failing": list(failing), "first_time": first,
                  "heavy_days": _text(heavy), "heavy_aqi_above": params["heavy_aqi_above"],
                  "rewards": {k: _text(v) for k, v in rewards.items()}, "rules": rules,
                  "rule": f"{'; '.join(rules)}; paid: {rule}"})
    return [_obligation(agreement, period, "attainment", chosen, basis)]


# --------------------------------------------------------------------------- change


def _k(agreement: Agreement) -> Fraction:
    params = agreement.params
    return Fraction(params["k"].get(agreement.party_for("party"), params["k_default"]))


def _basis_value(
    agreement: Agreement, assessments: Any, span: Span, ind: Mapping[str, Any],
    city: str | None = None,
) -> tuple[Fraction | None, dict[str, Any]]:
    """Bᵢ for ``city`` (default: the party) and where it comes from."""
    params = agreement.params
    kind = params["basis"]
    code = ind["code"]
    if kind == "same_period_last_year":
        earlier = span.shift_years(-1)
        city = city or agreement.party_for("party")
        then = _statistics(assessments, city, earlier)
        where: dict[str, Any] = {"basis_span": str(earlier)}
        value = _value(then, code)
        now = _statistics(assessments, city, span)
        if value is not None and now is not None and code in BY_STANDARD:
            value = _same_standard(agreement, assessments, city, code, then, now, value, where)
        return value, where
    if kind == "annual_target":
        return Fraction(ind["target"]), {"basis_span": None}
    mean, values = _group_mean(assessments, params["group"], span, code)
    return mean, {"basis_span": str(span), "group_values": values}


#: Statistics whose value depends on the standard they were assessed under, not on the air
#: alone: the AQI days (HJ 633 version) and the 综合指数 (the GB 3095 limits of the phase).
BY_STANDARD = frozenset({"good_ratio", "good_days", "heavy_days", "composite_index"})


def _yardstick(stats: Any, code: str) -> str:
    """What ``code`` of ``stats`` was measured with: the HJ 633 version of its AQI days, or
    for the 综合指数 the GB 3095 version and phase of its limits."""
    if code == "composite_index":
        return f"{stats.standard} {gb3095(stats.standard).phase_on(stats.period.end).name}"
    return f"{stats.standard} (AQI {PAIRED[stats.standard]})"


def _same_standard(agreement: Agreement, assessments: Any, city: str, code: str, then: Any,
                   now: Any, value: Fraction, where: dict[str, Any]) -> Fraction | None:
    """The basis ``value`` of ``code`` measured like this period's (``basis_standard``)."""
    before, current = _yardstick(then, code), _yardstick(now, code)
    if before == current:
        return value
    how = agreement.params.get("basis_standard", "error")
    if how == "error":
        raise FormulaError(
            f"agreement {agreement.id}: {code} of {city} in {then.period} was assessed under "
            f"{before} and in {now.period} under {current}; their difference would measure the "
            "change of standard, not of the air. Set params.basis_standard = \"current\" "
            f"(restate {then.period} under {current}) or \"each\" (compare them as assessed)")
    if how == "each":
        where["basis_standard"] = f"{then.period} as assessed, under {before} (each)"
        return value
    where["basis_standard"] = (f"{then.period} restated under {current} (was {before}: "
                               f"{_text(value)})")
    if code == "composite_index":
        from ecocomp.air.standards import hj663
        from ecocomp.air.statistics import _quantized, composite_index

        index, _terms = composite_index(then.values, standard=now.standard, on=now.period.end)
        return Fraction(_quantized(index, int(hj663().rounding["composite_places"].value)))
    days = (getattr(assessments, "daily", {}) or {}).get(city, ())
    restated = period_statistics(days, city=city, period=then.period, standard=now.standard,
                                 round_concentrations=_rounding(agreement))
    return _value(restated, code)


def _correction(
    agreement: Agreement, assessments: Any, span: Span, stats: Any,
) -> tuple[Fraction, dict[str, Any] | None]:
    rule = agreement.params.get("target_correction")
    if rule is None:
        return Fraction(1), None
    code = rule["indicator"]
    value = _value(stats, code)
    ind = {"code": code, "target": rule["target"]}
    base, _where = _basis_value(agreement, assessments, span, ind)
    # better = lower for a concentration, higher for good_ratio and good_days: a value
    # "meets" its target, "improves" and "falls" in the better direction
    sign = -1 if code in HIGHER_IS_BETTER else 1
    facts: dict[str, Any] = {"indicator": code, "value": _text(value), "target": rule["target"],
                             "basis_value": _text(base)}
    if sign < 0:
        facts["better"] = "higher"  # (a concentration's facts stay as they were)
    conditions: dict[str, bool | None] = {
        "target_met": None if value is None else sign * (Fraction(rule["target"]) - value) >= 0,
        "improved": None if value is None or base is None else sign * (base - value) > 0,
        "fall_above_group_mean": None,
    }
    group = agreement.params.get("group")
    if group and value is not None and base is not None:
        falls = []
        for city in group:
            other = _statistics(assessments, city, span)
            x = _value(other, code)
            ob, _ = _basis_value(agreement, assessments, span, ind, city)
            if x is not None and ob is not None:
                falls.append(sign * (ob - x))
        if falls:
            mean_fall = sum(falls, Fraction(0)) / len(falls)
            facts["group_mean_fall"] = _text(mean_fall)
            conditions["fall_above_group_mean"] = sign * (base - value) > mean_fall
    facts["conditions"] = conditions
    for i, r in enumerate(rule["rules"]):
        wanted = {k: r[k] for k in ("target_met", "improved", "fall_above_group_mean") if k in r}
        if all(conditions[k] is not None and conditions[k] == v for k, v in wanted.items()):
            facts.update({"rule_index": i, "rule": dict(wanted), "factor": r["factor"],
                          "note": r.get("note")})
            return Fraction(r["factor"]), facts
    facts.update({"rule_index": None, "factor": Decimal(1), "note": "no rule matched: f = 1"})
    return Fraction(1), facts


def _change_check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    found: list[tuple[tuple[str | int, ...], str]] = []
    codes = [i["code"] for i in params["indicators"]]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            found.append((("indicators", i, "code"), f"indicator {code} is listed twice"))
    if params["basis"] == "group_mean" and not params.get("group"):
        found.append((("group",), "basis = \"group_mean\" needs group = [city codes]"))
    if params["basis"] == "annual_target":
        for i, ind in enumerate(params["indicators"]):
            if "target" not in ind:
                found.append((("indicators", i, "target"), f"basis = \"annual_target\" needs "
                              f"a target for {ind['code']}, e.g. target = 35"))
    return found


def _change_lookback(agreement: Agreement) -> int:
    return 1 if agreement.params["basis"] == "same_period_last_year" else 0


def _split(agreement: Agreement, yuan: Decimal) -> dict[str, Decimal] | None:
    shares = agreement.params.get("split")
    if shares is None:
        return None
    return split_largest_remainder(yuan, list(shares.items()))


@register_formula("air_change", roles=_ROLES, inputs="air", span=_span,
                  params_schema="params.air_change", check=_change_check, cap=_cap,
                  lookback=_change_lookback, beneficiary=_beneficiary)
def air_change(agreement: Agreement, assessments: Any, period: Period) -> list[Obligation]:
    """Per span: ``M = Σᵢ wᵢ·sᵢ·(Bᵢ − Xᵢ)·cᵢ · k · f`` (component ``change``).

    M > 0: the counterparty pays the party; M < 0: the party pays |M|.
    """
    params: Mapping[str, Any] = agreement.params
    assessments = _as_rounded(agreement, assessments)
    k = _k(agreement)
    unit = _unit_text(agreement)
    result = []
    for span, stats, basis in _settled(agreement, assessments, period, "air_change"):
        basis.update({"basis_kind": params["basis"], "k": _text(k),
                      "round_result": params["round_result"]})
        terms, missing = [], []
        score_k, score_plain = Fraction(0), Fraction(0)
        for ind in params["indicators"]:
            code = ind["code"]
            x = _value(stats, code)
            b, where = _basis_value(agreement, assessments, span, ind)
            if x is None or b is None:
                missing.append(code if x is None else f"{code} basis ({where['basis_span']})")
                continue
            sign = -1 if code in HIGHER_IS_BETTER else 1
            diff = sign * (b - x)
            term = Fraction(ind["weight"]) * diff * Fraction(ind["coefficient"])
            if ind["apply_k"]:
                score_k += term
            else:
                score_plain += term
            terms.append({
                "code": code, "value": _text(x), "basis_value": _text(b), **where,
                "sign": sign, "difference": _text(diff), "weight": ind["weight"],
                "coefficient": ind["coefficient"], "apply_k": ind["apply_k"],
                "term": _text(term),
                "formula": (f"{ind['weight']} × ({'X − B' if sign < 0 else 'B − X'} = "
                            f"{_text(diff)}) × {ind['coefficient']} = {_text(term)}"),
            })  # fmt: skip
        basis["indicators"] = terms
        if missing:
            result.append(_skipped(agreement, booked(span), "change", span, missing, stats,
                                   basis))
            continue
        uncorrected = score_k * k + score_plain
        if uncorrected > 0:
            f, correction = _correction(agreement, assessments, span, stats)
        else:  # the target correction scales rewards; a penalty is paid in full [I]
            f, correction = Fraction(1), None
        signed = uncorrected * f
        exact = signed
        if params["round_result"] == "wan":
            signed = _round_wan(signed, agreement)
        readable = "; ".join(
            f"{t['code']} {'X − B' if t['sign'] < 0 else 'B − X'} = "
            + (f"{_short(Fraction(t['value']))} − {_short(Fraction(t['basis_value']))}"
               if t["sign"] < 0 else
               f"{_short(Fraction(t['basis_value']))} − {_short(Fraction(t['value']))}")
            + f" = {_short(Fraction(t['difference']))}, × w {t['weight']} × c "
            f"{t['coefficient']} = {_short(Fraction(t['term']))}"
            for t in terms)
        basis["readable"] = (
            f"{readable}; M = {_short(score_k)} × k {_text(k)}"
            + (f" + {_short(score_plain)}" if score_plain else "")
            + f" × f {_text(f)} = {_short(exact)} {unit}"
            + (f", rounded to whole 万: {_text(signed)}" if exact != signed else ""))
        basis.update({
            "sum_with_k": _text(score_k), "sum_without_k": _text(score_plain), "f": _text(f),
            "target_correction": correction, "exact_amount": _text(exact),
            "rule": (f"M = (Σ w·s·(B − X)·c = {_text(score_k)}) × k {_text(k)}"
                     + (f" + {_text(score_plain)}" if score_plain else "")
                     + f" × f {_text(f)} = {_text(exact)} {unit}"
                     + (f", rounded to whole 万: {_text(signed)}" if exact != signed else "")),
        })  # fmt: skip
        ob = _obligation(agreement, booked(span), "change", signed, basis, cap=params.get("cap"))
        split = _split(agreement, ob.amount)
        if split is not None:
            ob = attrs.evolve(ob, basis={**ob.basis, "split": split})
        result.append(ob)
    return result


# --------------------------------------------------------------------------- ladder


def ladder_amount(excess: Fraction, tiers: Iterable[Mapping[str, Any]]
                  ) -> tuple[Fraction, list[dict[str, Any]]]:
    """The amount for ``excess`` units over the steps, and each step's share.

    >>> amount, steps = ladder_amount(Fraction(8), [{"upto": 5, "rate": 10}, {"rate": 20}])
    >>> amount, [s["units"] for s in steps]
    (Fraction(110, 1), ['5', '3'])
    """
    total, lower, steps = Fraction(0), Fraction(0), []
    for tier in tiers:
        upper = Fraction(tier["upto"]) if tier.get("upto") is not None else None
        units = max(Fraction(0), (excess if upper is None else min(excess, upper)) - lower)
        if units:
            part = units * Fraction(tier["rate"])
            total += part
            steps.append({"from": _text(lower), "upto": _text(upper), "units": _text(units),
                          "rate": tier["rate"], "amount": _text(part)})
        if upper is None:
            break
        lower = upper
    return total, steps


def _ladder_check(agreement: Agreement) -> list[tuple[tuple[str | int, ...], str]]:
    params = agreement.params
    found: list[tuple[tuple[str | int, ...], str]] = []
    for i, ind in enumerate(params["indicators"]):
        if ind["base"] == "group_mean" and not params.get("group"):
            found.append((("indicators", i, "base"), "base = \"group_mean\" needs "
                          "group = [city codes]"))
        for key in ("tiers", "rewards"):
            tiers = ind.get(key)
            if tiers is None:
                continue
            last = None
            for j, tier in enumerate(tiers):
                upto = tier.get("upto")
                if j < len(tiers) - 1 and upto is None:
                    found.append((("indicators", i, key, j, "upto"), "only the last step "
                                  "may leave out upto; write upto = 5 (the upper bound)"))
                elif j == len(tiers) - 1 and upto is not None:
                    found.append((("indicators", i, key, j, "upto"), "the last step has no "
                                  "upper bound; remove upto (units above the previous step "
                                  "are charged at its rate)"))
                if upto is not None and last is not None and upto <= last:
                    found.append((("indicators", i, key, j, "upto"), f"upto {upto} is not "
                                  f"above the previous step's {last}; steps must rise"))
                last = upto if upto is not None else last
    return found


@register_formula("air_ladder", roles=_ROLES, inputs="air", span=_span,
                  params_schema="params.air_ladder", check=_ladder_check, cap=_cap,
                  beneficiary=_beneficiary)
def air_ladder(agreement: Agreement, assessments: Any, period: Period) -> list[Obligation]:
    """Per span: the steps worse than the base the party pays, rewards for those better
    (``ladder``); worse is above the base for a concentration, below it for good_ratio and
    good_days."""
    params: Mapping[str, Any] = agreement.params
    assessments = _as_rounded(agreement, assessments)
    unit = _unit_text(agreement)
    result = []
    for span, stats, basis in _settled(agreement, assessments, period, "air_ladder"):
        parts, missing, signed = [], [], Fraction(0)
        for ind in params["indicators"]:
            code = ind["code"]
            x = _value(stats, code)
            part: dict[str, Any] = {"code": code, "value": _text(x)}
            if ind["base"] == "group_mean":
                base, values = _group_mean(assessments, params["group"], span, code)
                part.update({"base_kind": "group_mean", "group_values": values})
            else:
                base = Fraction(ind["base"])
                part["base_kind"] = "number"
            part["base"] = _text(base)
            if x is None or base is None:
                missing.append(code if x is None else f"{code} group mean")
                continue
            # units worse than the base: above it for a concentration, below it for
            # good_ratio and good_days (higher is better)
            higher_better = code in HIGHER_IS_BETTER
            worse = base - x if higher_better else x - base
            over, under = ("below_base", "above_base") if higher_better else (
                "above_base", "below_base")
            if higher_better:
                part["better"] = "higher"
            if worse > 0:
                amount, steps = ladder_amount(worse, ind["tiers"])
                part.update({over: _text(worse), "steps": steps,
                             "amount": _text(-amount), "direction": "penalty"})
                signed -= amount
            elif worse < 0 and ind.get("rewards") is not None:
                amount, steps = ladder_amount(-worse, ind["rewards"])
                part.update({under: _text(-worse), "steps": steps,
                             "amount": _text(amount), "direction": "reward"})
                signed += amount
            else:
                part.update({"amount": "0", "direction": "none"})
            parts.append(part)
        basis["indicators"] = parts
        if missing:
            result.append(_skipped(agreement, booked(span), "ladder", span, missing, stats,
                                   basis))
            continue
        described = "; ".join(
            f"{p['code']} {p['value']} vs base {p['base']}: "
            + (" + ".join(f"{s['units']} × {s['rate']}" for s in p["steps"])
               + f" = {p['amount']}" if p.get("steps") else "0")
            for p in parts)
        basis["rule"] = f"{described} {unit} (negative: the party pays)"
        result.append(_obligation(agreement, booked(span), "ladder", signed, basis,
                                  cap=params.get("cap")))
    return result
