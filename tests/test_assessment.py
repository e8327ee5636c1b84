"""Assessment: readings → exact monthly sums → monthly and annual means → classes, with the
evidence; river/basin evaluation; the class table and completeness. Oracle E6 of
the worked examples of docs/assessment.md and hand-worked cases."""

import doctest
import random
import re
from datetime import date, datetime
from decimal import Decimal, localcontext
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.assessment import (
    Assessments,
    ItemAssessment,
    MonthlyAggregate,
    SectionAssessment,
    aggregate,
    assess,
    assess_month,
    assess_readings,
    assess_year,
    assessment_table,
    completeness,
    daily_flow_means,
    evaluate_river,
    item_assessment,
)
from ecocomp.errors import AssessmentError
from ecocomp.periods import Period
from ecocomp.readings import Reading
from ecocomp.standards import WaterClass


@attrs.frozen
class Sec:
    """A stand-in for ecocomp.watershed.Section: assessment reads only these two."""

    code: str
    waterbody: str = "river"


S = Sec("s")
Y = Period(2023)


def r(day, parameter, value, *, month=1, source="manual", flag="", below_dl=False, section="s",
      hour=8):  # fmt: skip
    return Reading(section, datetime(2023, month, day, hour), parameter, Decimal(value),
                   below_dl=below_dl, source=source, flag=flag)  # fmt: skip


# --------------------------------------------------------------------------- oracle E6


def test_oracle_e6_annual_mean_with_a_non_detect():
    readings = [r(10, "nh3n", "0.20", month=m) for m in range(1, 12)]
    readings.append(r(10, "nh3n", "0.025", month=12, below_dl=True))  # "<0.025"
    for annual in ("samples", "monthly_means"):
        item = assess_year(aggregate(readings), S, 2023, annual=annual).items["nh3n"]
        assert item.value == Decimal("0.184375")
        assert item.cls is WaterClass.II
        assert (item.samples, item.nondetects, item.months) == (12, 1, 12)


# --------------------------------------------------------------------------- aggregation


def test_aggregate_counts_invalid_apart_includes_suspect_and_halves_non_detects():
    readings = [
        r(3, "tp", "0.10"),
        r(9, "tp", "0.20", flag="suspect"),
        r(15, "tp", "0.02", below_dl=True),
        r(20, "tp", "9.99", flag="invalid"),
        r(25, "tp", "0.04", below_dl=True, flag="invalid"),
    ]
    [agg] = aggregate(readings)
    assert (agg.count, agg.total, agg.nondetects, agg.suspect, agg.invalid) == (
        3, Decimal("0.31"), 1, 1, 2
    )  # fmt: skip


def test_aggregate_groups_by_section_parameter_month_and_source():
    readings = [
        r(3, "tp", "0.1"), r(4, "tp", "0.1", source="automatic"), r(3, "tp", "0.1", month=2),
        r(3, "nh3n", "0.1"), r(3, "tp", "0.1", section="t"), r(5, "tp", "0.3"),
    ]  # fmt: skip
    keys = [(a.section, a.parameter, str(a.month), a.source, a.count) for a in aggregate(readings)]
    assert keys == [
        ("s", "nh3n", "2023-01", "manual", 1),
        ("s", "tp", "2023-01", "automatic", 1),
        ("s", "tp", "2023-01", "manual", 2),
        ("s", "tp", "2023-02", "manual", 1),
        ("t", "tp", "2023-01", "manual", 1),
    ]


def test_sums_are_exact_where_binary_floats_are_not():
    [agg] = aggregate([r(1, "tp", "0.1"), r(2, "tp", "0.2")])
    assert agg.total == Decimal("0.3")
    many = [r(1 + i % 28, "cod", "1E-30", hour=i % 24) for i in range(3)] + [r(1, "cod", "1E+10")]
    [agg] = aggregate(many)
    assert agg.total == Decimal("10000000000.000000000000000000000000000003")


def test_unknown_flag_or_source_is_refused():
    with pytest.raises(AssessmentError, match="flag 'bad'"):
        aggregate([r(1, "tp", "0.1", flag="bad")])
    with pytest.raises(AssessmentError, match="source 'robot'"):
        aggregate([r(1, "tp", "0.1", source="robot")])


_params = st.sampled_from(["nh3n", "tp", "cod", "do"])
_readings = st.lists(
    st.builds(
        Reading,
        section=st.sampled_from(["a", "b"]),
        sampled_at=st.datetimes(datetime(2023, 1, 1), datetime(2023, 12, 31, 23)),
        parameter=_params,
        value=st.decimals(min_value=0, max_value=20, places=3),
        below_dl=st.booleans(),
        source=st.sampled_from(["manual", "automatic"]),
        flag=st.sampled_from(["", "", "suspect", "invalid"]),
    ),
    max_size=40,
)
SECTIONS = [Sec("a"), Sec("b", "lake")]


@settings(max_examples=50, deadline=None)
@given(_readings, st.randoms(use_true_random=False))
def test_aggregation_and_assessment_do_not_depend_on_reading_order(readings, rnd):
    shuffled = list(readings)
    rnd.shuffle(shuffled)
    assert aggregate(shuffled) == aggregate(readings)
    assert assess_readings(shuffled, SECTIONS, 2023) == assess_readings(readings, SECTIONS, 2023)


@settings(max_examples=50, deadline=None)
@given(_readings, st.integers(0, 40))
def test_partial_sums_of_split_readings_assess_the_same_as_the_whole(readings, cut):
    parts = aggregate(readings[:cut]) + aggregate(readings[cut:])
    assert assess(parts, SECTIONS, 2023) == assess(aggregate(readings), SECTIONS, 2023)


def test_aggregates_with_the_same_key_add_up():
    first = aggregate([r(3, "tp", "0.1"), r(4, "tp", "0.2", flag="invalid")])
    second = aggregate([r(5, "tp", "0.4"), r(6, "tp", "0.02", below_dl=True)])  # 0.51 / 3
    item = assess_month(first + second, S, "2023-01").items["tp"]
    assert (item.value, item.samples, item.nondetects, item.excluded_invalid) == (
        Decimal("0.17"), 3, 1, 1
    )  # fmt: skip


@settings(max_examples=50, deadline=None)
@given(_readings)
def test_every_valid_sample_is_counted_once_and_invalid_ones_never(readings):
    aggs = aggregate(readings)
    assert sum(a.count for a in aggs) == sum(1 for x in readings if x.flag != "invalid")
    assert sum(a.invalid for a in aggs) == sum(1 for x in readings if x.flag == "invalid")


# --------------------------------------------------------------------------- monthly values


def test_monthly_value_is_the_mean_of_the_valid_samples():
    readings = [r(3, "nh3n", "0.4"), r(17, "nh3n", "0.7"), r(20, "nh3n", "5", flag="invalid")]
    item = assess_month(aggregate(readings), S, "2023-01").items["nh3n"]
    assert (item.value, item.cls, item.samples, item.excluded_invalid) == (
        Decimal("0.55"), WaterClass.III, 2, 1
    )  # fmt: skip
    assert item.months is None


def test_automatic_data_win_over_manual_for_the_six_items_in_the_same_month():
    readings = [
        r(3, "nh3n", "0.2", source="automatic"), r(4, "nh3n", "0.4", source="automatic"),
        r(5, "nh3n", "1.4"),  # manual, superseded
        r(3, "cod", "10", source="automatic"), r(5, "cod", "20"),  # cod: no priority
    ]  # fmt: skip
    sa = assess_month(aggregate(readings), S, Period(2023, 1))
    nh3n, cod = sa.items["nh3n"], sa.items["cod"]
    assert (nh3n.value, nh3n.source, nh3n.samples, nh3n.superseded) == (
        Decimal("0.3"), "automatic", 2, 1
    )  # fmt: skip
    assert (cod.value, cod.source, cod.samples, cod.superseded) == (Decimal("15"), "mixed", 2, 0)


def test_invalid_automatic_data_do_not_displace_valid_manual_data():
    readings = [r(3, "tp", "0.9", source="automatic", flag="invalid"), r(5, "tp", "0.05")]
    item = assess_month(aggregate(readings), S, Period(2023, 1)).items["tp"]
    assert (item.value, item.source, item.excluded_invalid, item.superseded) == (
        Decimal("0.05"), "manual", 1, 0
    )  # fmt: skip


def test_an_item_with_only_invalid_samples_is_missing_and_says_why():
    readings = [r(3, "tp", "0.9", flag="invalid"), r(4, "tp", "0.8", flag="invalid"),
                r(3, "nh3n", "0.1")]  # fmt: skip
    a = assess(aggregate(readings), [S], 2023)
    sa = a.get("s", Period(2023, 1))
    assert "tp" not in sa.items and "tp" in sa.missing
    assert sa.invalid_only == {"tp": 2}
    assert a.get("s", Y).invalid_only == {"tp": 2}


def test_section_class_is_the_worst_item():
    readings = [r(3, "nh3n", "0.1"), r(3, "do", "4"), r(3, "tp", "0.15"), r(3, "ph", "7")]
    sa = assess_month(aggregate(readings), S, "2023-01")
    assert sa.cls is WaterClass.IV  # DO 4 → Ⅳ
    assert sa.classification().main_pollutants == ("do",)


def test_lake_sections_use_lake_limits():
    sa = assess_month(aggregate([r(3, "tp", "0.12")]), Sec("l", "lake"), "2023-01")
    assert sa.items == {}  # the reading is for section "s"
    sa = assess_month(aggregate([r(3, "tp", "0.12", section="l")]), Sec("l", "lake"), "2023-01")
    assert sa.cls is WaterClass.V


def test_a_mean_that_does_not_terminate_is_rounded_at_50_digits():
    readings = [r(1, "cod", "1"), r(2, "cod", "1"), r(3, "cod", "2")]
    value = assess_month(aggregate(readings), S, "2023-01").items["cod"].value
    with localcontext() as ctx:
        ctx.prec = 50
        assert value == Decimal(4) / Decimal(3)
    assert len(value.as_tuple().digits) == 50


@given(
    st.decimals(min_value=0, max_value=10**12, places=None, allow_nan=False,
                allow_infinity=False).filter(lambda d: len(d.as_tuple().digits) <= 80),
    st.integers(1, 10**6),
)
def test_a_mean_is_the_exact_quotient_rounded_once_at_50_digits(total, count):
    from fractions import Fraction

    from ecocomp.assessment import _mean

    exact = Fraction(total) / count
    with localcontext() as ctx:  # the reference: exact quotient, one rounding, trailing 0s off
        ctx.prec = 50
        expected = (Decimal(exact.numerator) / Decimal(exact.denominator)).normalize()
    value = _mean(total, count)
    assert value == expected and len(value.as_tuple().digits) <= 50
    assert value.as_tuple().exponent <= 0  # whole numbers in plain notation (100, not 1E+2)


def test_whole_means_print_plainly_and_trailing_zeros_are_dropped():
    readings = [r(1, "fecal_coliform", "100"), r(2, "fecal_coliform", "100"),
                r(1, "tp", "0.10"), r(2, "tp", "0.30")]  # fmt: skip
    sa = assess_month(aggregate(readings), S, "2023-01")
    assert str(sa.items["fecal_coliform"].value) == "100"
    assert str(sa.items["tp"].value) == "0.2"


# --------------------------------------------------------------------------- annual values


def _two_months():
    # Jan: 0.1, 0.1, 0.1; Feb: 0.4 → samples mean 0.175 (Ⅲ), mean of monthly means 0.25 (Ⅳ)
    return aggregate([r(d, "tp", "0.1") for d in (5, 12, 19)] + [r(5, "tp", "0.4", month=2)])


def test_annual_mean_of_samples_and_of_monthly_means_differ_by_hand():
    by_samples = assess_year(_two_months(), S, 2023).items["tp"]
    by_months = assess_year(_two_months(), S, 2023, annual="monthly_means").items["tp"]
    assert (by_samples.value, by_samples.cls) == (Decimal("0.175"), WaterClass.III)
    assert (by_months.value, by_months.cls) == (Decimal("0.25"), WaterClass.IV)
    assert by_samples.samples == by_months.samples == 4
    assert by_samples.months == by_months.months == 2


def test_automatic_first_applies_month_by_month_in_the_annual_value():
    readings = [
        r(3, "nh3n", "0.2", source="automatic"), r(5, "nh3n", "1.4"),  # Jan: automatic wins
        r(5, "nh3n", "0.5", month=2),  # Feb: manual only, used
    ]  # fmt: skip
    item = assess_year(aggregate(readings), S, 2023).items["nh3n"]
    assert (item.value, item.source, item.samples, item.superseded, item.months) == (
        Decimal("0.35"), "mixed", 2, 1, 2
    )  # fmt: skip


def test_annual_value_ignores_other_years():
    aggs = [*_two_months(), MonthlyAggregate("s", "tp", Period(2022, 5), "manual", 1, Decimal("9"))]
    assert assess_year(aggs, S, 2023).items["tp"].value == Decimal("0.175")


def test_periods_of_the_wrong_kind_or_annual_method_are_refused():
    with pytest.raises(AssessmentError, match="not a month"):
        assess_month([], S, Period(2023))
    with pytest.raises(AssessmentError, match="not a year"):
        assess_year([], S, "2023-01")
    with pytest.raises(AssessmentError, match="monthly_means"):
        assess_year([], S, 2023, annual="median")


# --------------------------------------------------------------------------- assess()


def test_assess_builds_months_with_data_and_the_year_for_every_section():
    readings = [r(3, "nh3n", "0.1"), r(3, "nh3n", "0.6", month=4), r(3, "tp", "0.3", section="t")]
    a = assess(aggregate(readings), [S, Sec("t"), Sec("u")], Period(2023))
    assert set(a.sections) == {
        ("s", Period(2023, 1)), ("s", Period(2023, 4)), ("s", Y),
        ("t", Period(2023, 1)), ("t", Y),
    }  # fmt: skip
    assert a.get("s", Y).cls is WaterClass.II  # (0.1 + 0.6) / 2 = 0.35
    assert a.get("s", Period(2023, 4)).cls is WaterClass.III
    assert a.get("t", Y).cls is WaterClass.IV


def test_assess_carries_factors_and_daily_flows_through():
    flows = {"s": {date(2023, 1, 3): Decimal("12.5")}}
    a = assess(aggregate([r(3, "nh3n", "0.1")]), [S], 2023, factors=["nh3n", "tp"],
               daily_flows=flows)  # fmt: skip
    assert a.get("s", Y).factors == ("nh3n", "tp")
    assert a.get("s", Y).missing == ("tp",)
    assert a.flows("s", Period(2023, 1)) == {date(2023, 1, 3): Decimal("12.5")}


def test_assess_refuses_a_section_listed_twice_or_an_unknown_waterbody():
    with pytest.raises(AssessmentError, match="listed twice"):
        assess([], [S, S], 2023)
    with pytest.raises(AssessmentError, match=r"section x.*'sea'"):
        assess([], [Sec("x", "sea")], 2023)


def test_assess_readings_includes_the_daily_flows_of_the_year():
    readings = [r(3, "flow", "10"), r(3, "flow", "20", hour=20), r(4, "flow", "30"),
                r(4, "flow", "99", flag="invalid", hour=9), r(5, "nh3n", "0.1")]  # fmt: skip
    a = assess_readings(readings, [S], 2023)
    assert a.flows("s", Period(2023, 1)) == {
        date(2023, 1, 3): Decimal("15"), date(2023, 1, 4): Decimal("30"),
    }  # fmt: skip
    assert a.get("s", Period(2023, 1)).items["flow"].value == Decimal("20")


def test_daily_flow_means_are_per_section_and_day_and_skip_other_items():
    readings = [r(3, "flow", "1"), r(3, "flow", "2", hour=9), r(3, "flow", "4", section="t"),
                r(3, "tp", "0.1")]  # fmt: skip
    assert daily_flow_means(readings) == {
        "s": {date(2023, 1, 3): Decimal("1.5")}, "t": {date(2023, 1, 3): Decimal("4")},
    }  # fmt: skip


def test_evidence_is_reported_as_json():
    readings = [r(3, "nh3n", "1.8", flag="suspect"), r(4, "nh3n", "1", flag="invalid")]
    data = assess_month(aggregate(readings), S, "2023-01").to_json()
    assert data["class"] == "V"
    assert data["items"]["nh3n"] == {
        "value": "1.8", "class": "V", "multiple": "0.8", "samples": 1, "nondetects": 0,
        "suspect": 1, "excluded_invalid": 1, "superseded": 0, "source": "manual",
        "months": None,
    }  # fmt: skip


def test_a_section_assessment_gives_its_trophic_index():
    readings = [r(3, code, v, section="l") for code, v in
                (("chla", "10"), ("tp", "0.05"), ("tn", "1"), ("sd", "1"), ("codmn", "4"))]
    sa = assess_month(aggregate(readings), Sec("l", "lake"), "2023-01")
    assert sa.trophic().rounded()["total"] == Decimal("48.02")


# --------------------------------------------------------------------------- rivers


def _sa(section, nh3n, period=Y, waterbody="river"):
    return SectionAssessment(section, period, waterbody,
                             {"nh3n": item_assessment("nh3n", Decimal(nh3n), 12, waterbody)})


def test_fewer_than_five_sections_average_each_item_then_class():
    ev = evaluate_river([_sa("a", "0.4"), _sa("b", "0.7")])  # Ⅱ and Ⅲ; mean 0.55 → Ⅲ
    assert ev.method == "mean"
    assert ev.means == {"nh3n": Decimal("0.55")}
    assert (ev.cls, ev.descriptor) == (WaterClass.III, "良好")
    ev = evaluate_river([_sa("a", "0.1"), _sa("b", "0.1"), _sa("c", "1.3")])  # mean 0.5 → Ⅱ
    assert (ev.cls, ev.descriptor) == (WaterClass.II, "优")


# class per value of nh3n: 0.1 Ⅰ, 1.2 Ⅳ, 3 劣Ⅴ
@pytest.mark.parametrize(
    ("values", "descriptor"),
    [(["0.1"] * 9 + ["3"], "优"),  # Ⅰ–Ⅲ exactly 90 %
     (["0.1"] * 8 + ["1.2"] * 2, "良好"),  # 80 %
     (["0.1"] * 15 + ["1.2"] * 5, "良好"),  # exactly 75 %
     (["0.1"] * 3 + ["1.2"] * 2, "轻度污染"),  # 60 %, no 劣Ⅴ
     (["0.1"] * 3 + ["1.2"] + ["3"], "中度污染"),  # 劣Ⅴ exactly 20 %
     (["0.1"] * 3 + ["3"] * 2, "重度污染"),  # 劣Ⅴ exactly 40 %
     (["0.1"] * 4 + ["1.2"] * 3 + ["3"], "轻度污染")],  # 50 %, 劣Ⅴ 12.5 %
)  # fmt: skip
def test_five_or_more_sections_use_the_class_proportion_rules(values, descriptor):
    ev = evaluate_river([_sa(f"s{i}", v) for i, v in enumerate(values)])
    assert ev.method == "proportion"
    assert ev.descriptor == descriptor
    assert ev.cls is None
    assert sum(ev.class_counts.values()) == len(values)


def test_class_proportion_shares_are_reported():
    ev = evaluate_river([_sa(f"s{i}", v) for i, v in enumerate(["0.1"] * 3 + ["1.2"] + ["3"])])
    assert (ev.good_share, ev.worst_share) == (Decimal("0.6"), Decimal("0.2"))
    assert str(ev) == "中度污染: Ⅰ–Ⅲ 60%, 劣Ⅴ 20% of 5 sections"


def test_sections_without_a_class_are_left_out_of_the_count():
    empty = [SectionAssessment(f"e{i}", Y, "river", {}) for i in range(3)]
    ev = evaluate_river([_sa("a", "0.1"), _sa("b", "0.6"), *empty])
    assert ev.method == "mean" and ev.sections == ("a", "b") and ev.unassessed == ("e0", "e1", "e2")


def test_river_evaluation_refuses_mixed_periods_lakes_duplicates_and_nothing():
    with pytest.raises(AssessmentError, match="different periods"):
        evaluate_river([_sa("a", "0.1"), _sa("b", "0.1", Period(2023, 1))])
    with pytest.raises(AssessmentError, match="lake"):
        evaluate_river([_sa("a", "0.1"), _sa("l", "0.1", waterbody="lake")])
    with pytest.raises(AssessmentError, match="twice"):
        evaluate_river([_sa("a", "0.1"), _sa("a", "0.2")])
    with pytest.raises(AssessmentError, match="at least one"):
        evaluate_river([])


# --------------------------------------------------------------------------- table, gaps


def _year():
    readings = [r(3, "nh3n", "0.1"), r(3, "nh3n", "1.2", month=3), r(3, "tp", "0.1", month=3)]
    return assess(aggregate(readings), [S], 2023, factors=["nh3n", "tp"])


def test_class_table_has_a_row_per_section_with_twelve_months_and_the_year():
    table = assessment_table(_year(), [S, "t"], 2023)
    s, t = table.rows
    assert s.months[:4] == (WaterClass.I, None, WaterClass.IV, None)
    assert s.year is WaterClass.III  # nh3n (0.1 + 1.2) / 2 = 0.65
    assert t.months == (None,) * 12 and t.year is None
    assert table.to_json()["sections"][0]["months"][:3] == ["I", None, "IV"]
    lines = table.format().splitlines()
    assert lines[0].split()[-1] == "2023" and lines[1].split()[:4] == ["s", "Ⅰ", "-", "Ⅳ"]


def test_class_table_over_a_chosen_factor_list():
    table = assessment_table(_year(), [S], 2023, factors=["tp"])
    assert table.rows[0].months[:3] == (None, None, WaterClass.II)


def test_completeness_names_empty_months_and_missing_factors():
    c = completeness(_year(), [S], 2023)["s"]
    assert c.months_without_data == tuple(Period(2023, m) for m in (2, *range(4, 13)))
    assert c.missing_factors == {Period(2023, 1): ("tp",), Period(2023, 3): ()}
    assert not c.complete
    assert c.to_json()["missing_factors"] == {"2023-01": ["tp"]}


# --------------------------------------------------------------------------- value classes


def test_invalid_value_objects_cannot_be_built():
    with pytest.raises(ValueError, match="at least one sample"):
        ItemAssessment("tp", Decimal("0.1"), 0, WaterClass.II)
    with pytest.raises(TypeError, match="Decimal"):
        ItemAssessment("tp", 0.1, 1, WaterClass.II)
    with pytest.raises(ValueError):
        ItemAssessment("tp", Decimal("0.1"), 1, WaterClass.II, source="robot")
    with pytest.raises(ValueError, match="items"):
        SectionAssessment("s", Y, "river", {"tp": item_assessment("nh3n", Decimal("1"), 1)})
    with pytest.raises(ValueError):
        SectionAssessment("s", Y, "sea", {})
    with pytest.raises(ValueError, match="filed under"):
        Assessments(sections={("s", Y): SectionAssessment("t", Y, "river", {})})
    with pytest.raises(ValueError, match="month"):
        MonthlyAggregate("s", "tp", Y, "manual", 1, Decimal("0.1"))
    with pytest.raises(ValueError, match="total 0"):
        MonthlyAggregate("s", "tp", Period(2023, 1), "manual", 0, Decimal("0.1"), invalid=1)
    with pytest.raises(ValueError, match="cannot exceed"):
        MonthlyAggregate("s", "tp", Period(2023, 1), "manual", 1, Decimal("0.1"), nondetects=2)


_ITEM = {"parameter": "tp", "value": Decimal("0.1"), "samples": 2, "cls": WaterClass.II}
_AGGREGATE = {"section": "s", "parameter": "tp", "month": Period(2023, 1), "source": "manual",
              "count": 2, "total": Decimal("0.2")}


@pytest.mark.parametrize(("field", "bad", "error", "message"), [
    ("parameter", 1, TypeError, "'parameter' must be <class 'str'>"),
    ("value", 0.1, TypeError, "value must be a finite Decimal"),
    ("value", Decimal("NaN"), TypeError, "value must be a finite Decimal"),
    ("samples", -1, ValueError, "samples must be a non-negative int, not -1"),
    ("samples", True, ValueError, "samples must be a non-negative int, not True"),
    ("samples", 2.0, ValueError, "samples must be a non-negative int"),
    ("cls", "II", TypeError, "'cls' must be <enum 'WaterClass'>"),
    ("nondetects", -1, ValueError, "nondetects must be a non-negative int"),
    ("suspect", False, ValueError, "suspect must be a non-negative int"),
    ("excluded_invalid", -2, ValueError, "excluded_invalid must be a non-negative int"),
    ("source", "robot", ValueError, "'source' must be in"),
    ("superseded", "1", ValueError, "superseded must be a non-negative int"),
])
def test_each_field_of_an_item_is_checked_with_its_own_message(field, bad, error, message):
    with pytest.raises(error, match=re.escape(message)):
        ItemAssessment(**{**_ITEM, field: bad})


@pytest.mark.parametrize(("field", "bad", "error", "message"), [
    ("section", None, TypeError, "'section' must be <class 'str'>"),
    ("parameter", b"tp", TypeError, "'parameter' must be <class 'str'>"),
    ("month", Period(2023), ValueError, "month must be a month Period"),
    ("month", "2023-01", ValueError, "month must be a month Period"),
    ("source", "mixed", ValueError, "'source' must be in"),
    ("count", -1, ValueError, "count must be a non-negative int, not -1"),
    ("count", True, ValueError, "count must be a non-negative int, not True"),
    ("total", 0.2, TypeError, "total must be a finite Decimal"),
    ("total", Decimal("Infinity"), TypeError, "total must be a finite Decimal"),
    ("nondetects", -1, ValueError, "nondetects must be a non-negative int"),
    ("suspect", 1.0, ValueError, "suspect must be a non-negative int"),
    ("invalid", -3, ValueError, "invalid must be a non-negative int"),
])
def test_each_field_of_a_monthly_sum_is_checked_with_its_own_message(field, bad, error, message):
    with pytest.raises(error, match=re.escape(message)):
        MonthlyAggregate(**{**_AGGREGATE, field: bad})


def test_the_first_bad_field_is_the_one_named_and_subclasses_are_accepted():
    with pytest.raises(TypeError, match="'parameter'"):  # field order, as attrs checks them
        ItemAssessment(**{**_ITEM, "parameter": 1, "samples": -1})

    class Code(str):
        pass

    class Exact(Decimal):
        pass

    item = ItemAssessment(**{**_ITEM, "parameter": Code("tp"), "value": Exact("0.1")})
    assert item.parameter == "tp" and item.value == Decimal("0.1")
    assert MonthlyAggregate(**{**_AGGREGATE, "section": Code("s")}).section == "s"


def test_shuffled_input_order_of_sections_does_not_change_assessments():
    readings = [r(3, "nh3n", "0.1", section=c) for c in "abcde"]
    sections = [Sec(c) for c in "abcde"]
    other = list(sections)
    random.Random(1).shuffle(other)
    assert assess(aggregate(readings), sections, 2023) == assess(aggregate(readings), other, 2023)


def test_examples_in_docs_assessment_md_run():
    doc = Path(__file__).parent.parent / "docs" / "assessment.md"
    failures, tried = doctest.testfile(str(doc), module_relative=False, encoding="utf-8")
    assert tried > 20 and failures == 0


def test_a_negative_zero_total_gives_a_plain_zero_mean():
    from types import SimpleNamespace

    agg = MonthlyAggregate("s", "temp", Period(2023, 1), "manual", 1, Decimal("-0"))
    value = assess_month([agg], SimpleNamespace(code="s", waterbody="river"),
                         "2023-01").items["temp"].value
    assert str(value) == "0"


@given(st.decimals(min_value=Decimal("-1E+28"), max_value=Decimal("1E+28"),  # readings' bound
                   allow_nan=False, allow_infinity=False)
       | st.sampled_from([Decimal(t) for t in ("1E+2", "-1E+3", "10.0", "9.99", "0E+5", "-0",
                                               "1E+1", "-10", "-9.5", "99999E+20")]))
def test_tidy_equals_the_rule_written_with_the_digit_tuple(value):
    from ecocomp.assessment import _MEAN, _ONE, _tidy

    plain = _MEAN.normalize(value)
    expected = plain.quantize(_ONE, context=_MEAN) if plain.as_tuple().exponent > 0 else plain
    got = _tidy(value)
    assert got == expected and str(got) == str(expected)
