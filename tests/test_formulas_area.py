"""``area_rate`` (南山国家公园): area × rate per year, proration by days, in-kind lines, fund cap.

Oracle P1 (air-and-park.md §4.3, rates placeholders): village V, 12,000 亩 easement forest at
40 元 and 300 亩 farmland at 300 元 = 570,000.00 元 a full year; joining on 2026-07-01
(184/365) = 570,000 × 184/365 = 287,342.47 元.
"""

from __future__ import annotations

import itertools
import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.agreement_files import agreement_from_dict, preset
from ecocomp.errors import ValidationFailed
from ecocomp.formulas import area_rate, get_spec
from ecocomp.formulas.area import area_amounts
from ecocomp.periods import Period
from ecocomp.project import check_project, load_project

ROOT = Path(__file__).resolve().parent.parent
PARK = ROOT / "examples" / "nanshan-2026"
PAYER, V, W = "430000-nanshan-glj", "430529-baiyun-cun", "430529-shimen-cun"


def agreement(params: dict[str, Any], *, parties: tuple[str, ...] = (V, W),
              start: str = "2026-01-01", end: str = "2030-12-31", unit: str = "yuan") -> Any:
    return agreement_from_dict({
        "id": "park", "name": "南山 test", "formula": "area_rate", "payer": PAYER,
        "parties": list(parties), "start": start, "end": end, "unit": unit,
        "clearing_due": "12-31", "source": "test [U]", "confidence": "placeholder",
        "params": params,
    }, "park.toml")


def p1(**extra: Any) -> dict[str, Any]:
    return {"categories": {
        "easement_forest": {"rate": 40, "area_by_party": {V: 12000, W: 8000}},
        "farmland": {"rate": 300, "area_by_party": {V: 300}},
    }, **extra}


def paid(a: Any, year: int) -> dict[str, Decimal]:
    return {o.payee: o.amount for o in area_rate(a, None, Period(year))
            if o.component.startswith("area:")}


# --------------------------------------------------------------------------- oracle


def test_p1_full_year_and_joining_on_1_july():
    assert paid(agreement(p1()), 2026)[V] == Decimal("570000.00")
    joined = agreement(p1(terms={V: {"from": "2026-07-01"}}))
    assert paid(joined, 2026) == {V: Decimal("287342.47"), W: Decimal("320000.00")}
    assert paid(joined, 2027)[V] == Decimal("570000.00")
    ob = next(o for o in area_rate(joined, None, Period(2026)) if o.payee == V)
    assert (ob.payer, ob.basis["days"], ob.basis["year_days"]) == (PAYER, 184, 365)
    assert ob.basis["full_year"] == "570000"
    assert "× 184/365" in ob.basis["explanation"]


def test_the_shipped_preset_and_the_park_project_give_p1():
    assert paid(preset("nanshan-area-rate"), 2026)[V] == Decimal("287342.47")
    project = load_project(PARK)
    assert paid(project.agreement("nanshan-area-rate"), 2026)[V] == Decimal("287342.47")


def test_an_agreement_starting_on_1_july_is_prorated_like_a_party_joining():
    assert paid(agreement(p1(), start="2026-07-01"), 2026)[V] == Decimal("287342.47")


def test_rates_in_wan_give_the_same_yuan():
    params = {"categories": {"easement_forest": {"rate": "0.004", "area_by_party": {V: 12000}},
                             "farmland": {"rate": "0.03", "area_by_party": {V: 300}}},
              "terms": {V: {"from": "2026-07-01"}}}
    assert paid(agreement(params, parties=(V,), unit="wan"), 2026) == {V: Decimal("287342.47")}


def test_without_proration_any_day_pays_the_whole_year():
    a = agreement(p1(proration="none", terms={V: {"from": "2026-12-31"}}))
    assert paid(a, 2026)[V] == Decimal("570000.00")


def test_a_month_period_and_a_year_out_of_force_give_nothing():
    a = agreement(p1())
    assert area_rate(a, None, Period(2026, 3)) == []
    assert area_rate(a, None, Period(2031)) == []


# --------------------------------------------------------------------------- in kind


def test_in_kind_lines_are_recorded_with_amount_zero_and_their_description():
    a = agreement(p1(in_kind=[{"party": V, "description": "生态管护员岗位 3 个"}],
                     terms={V: {"to": "2027-06-30"}}))
    lines = [o for o in area_rate(a, None, Period(2026)) if o.component.startswith("in_kind")]
    assert [(o.payer, o.payee, o.amount) for o in lines] == [(PAYER, V, Decimal("0.00"))]
    assert lines[0].basis["description"] == "生态管护员岗位 3 个"
    assert lines[0].basis["kind"] == "in_kind"
    assert "in kind, no money" in lines[0].basis["explanation"]
    assert any(o.component.startswith("in_kind") for o in area_rate(a, None, Period(2027)))
    # V left the scheme on 2027-06-30: no line in 2028, neither money nor kind
    assert {o.payee for o in area_rate(a, None, Period(2028))} == {W}


def test_a_party_with_only_an_in_kind_line_is_admitted():
    a = agreement({"categories": {"forest": {"rate": 40, "area_by_party": {W: 10}}},
                   "in_kind": [{"party": V, "description": "relocation help"}]})
    assert [o.amount for o in area_rate(a, None, Period(2026)) if o.payee == V] == [
        Decimal("0.00")]


# --------------------------------------------------------------------------- fund cap


def test_the_fund_cap_bounds_the_whole_term():
    # 890,000 a full year; 2026: 607,342.47; the cap of 1,000,000 leaves 392,657.53 for 2027
    a = agreement(p1(fund_cap=1000000, terms={V: {"from": "2026-07-01"}}))
    years = {y: paid(a, y) for y in range(2026, 2031)}
    assert sum(years[2026].values()) == Decimal("607342.47")
    assert sum(years[2027].values()) == Decimal("392657.53")
    assert all(v == 0 for y in (2028, 2029, 2030) for v in years[y].values())
    assert sum(v for y in years.values() for v in y.values()) == Decimal("1000000.00")
    # split by the parties' amounts (570,000 : 320,000), to the fen
    assert years[2027] == {V: Decimal("251477.29"), W: Decimal("141180.24")}
    ob = next(o for o in area_rate(a, None, Period(2027)) if o.payee == V)
    assert ob.basis["fund_cap"]["left"] == "392657.53"
    assert ob.basis["before_cap"] == "570000.00"
    assert "fund cap" in ob.basis["explanation"]


def test_a_yearly_fund_cap_bounds_each_year():
    a = agreement(p1(fund_cap=500000, fund_cap_scope="year"))
    for year in (2026, 2027):
        assert sum(paid(a, year).values()) == Decimal("500000.00")


def test_the_preset_cap_is_2_45_yi_and_a_cap_the_invariant_checker_reads():
    a = preset("nanshan-area-rate")
    ob = area_rate(a, None, Period(2026))[0]
    assert get_spec("area_rate").cap(a, ob) == Decimal("245000000.00")
    assert get_spec("area_rate").inputs == "none"


areas = st.integers(0, 50000).map(Decimal)
rates = st.sampled_from(["0", "0.5", "16", "40", "300", "1234.56"]).map(Decimal)


@settings(max_examples=60, deadline=None)
@given(a_v=areas, a_w=areas, rate=rates, cap=st.integers(0, 5_000_000),
       scope=st.sampled_from(["term", "year"]), joined=st.integers(0, 364))
def test_the_cap_is_never_exceeded_and_no_party_gets_more_than_uncapped(
        a_v, a_w, rate, cap, scope, joined):
    day = (date(2026, 1, 1) + timedelta(days=joined)).isoformat()
    base = {"categories": {"forest": {"rate": rate, "area_by_party": {V: a_v, W: a_w}}},
            "terms": {V: {"from": day}}}
    capped = agreement({**base, "fund_cap": cap, "fund_cap_scope": scope})
    free = agreement(base)
    total = Decimal(0)
    for year in range(2026, 2031):
        got, uncapped = paid(capped, year), paid(free, year)
        assert all(got[p] <= uncapped[p] for p in got)
        assert sum(got.values()) <= cap
        total += sum(got.values())
        if sum(uncapped.values()) <= (cap if scope == "year" else cap - (total - sum(
                got.values()))):
            assert got == uncapped  # a cap that does not bind changes nothing
    if scope == "term":
        assert total <= cap


# --------------------------------------------------------------------------- proration


@settings(max_examples=80, deadline=None)
@given(area=areas, rate=rates, year=st.sampled_from([2026, 2028]),
       cuts=st.lists(st.integers(1, 365), min_size=1, max_size=3, unique=True))
def test_the_parts_of_a_split_year_add_up_to_the_full_year_never_more(area, rate, year, cuts):
    jan1 = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - jan1).days
    bounds = [0, *sorted(c for c in cuts if c < days), days]
    params = {"categories": {"forest": {"rate": rate, "area_by_party": {V: area}}}}
    full = paid(agreement(params, parties=(V,), start=f"{year}-01-01",
                          end=f"{year}-12-31"), year)[V]
    parts = [paid(agreement(params, parties=(V,),
                            start=(jan1 + timedelta(days=lo)).isoformat(),
                            end=(jan1 + timedelta(days=hi - 1)).isoformat()), year)[V]
             for lo, hi in itertools.pairwise(bounds)]
    assert sum(parts) == full  # exactly: so never more than the full year
    assert full == (area * rate).quantize(Decimal("0.01"))


@settings(max_examples=80, deadline=None)
@given(small=areas, extra=areas, rate=rates, day=st.integers(0, 364),
       side=st.sampled_from(["from", "to", "whole"]))
def test_amounts_are_monotone_in_area(small, extra, rate, day, side):
    on = (date(2026, 1, 1) + timedelta(days=day)).isoformat()
    terms = {} if side == "whole" else {V: {side: on}}

    def amount(area: Decimal) -> Decimal:
        params = {"categories": {"forest": {"rate": rate, "area_by_party": {V: area}}},
                  "terms": terms}
        return paid(agreement(params, parties=(V,)), 2026)[V]

    assert amount(small) <= amount(small + extra)


@settings(max_examples=60, deadline=None)
@given(small=areas, extra=areas, rate=rates, first=st.integers(1, 364), length=st.integers(1, 364))
def test_a_span_inside_the_year_is_within_one_fen_of_monotone(small, extra, rate, first,
                                                               length):
    """Joining and leaving in one year: the difference of two accrued amounts may lose the
    rounding of one fen against a slightly smaller area (docs/agreements.md)."""
    start = date(2026, 1, 1) + timedelta(days=first)
    end = min(start + timedelta(days=length), date(2026, 12, 31))

    def amount(area: Decimal) -> Decimal:
        params = {"categories": {"forest": {"rate": rate, "area_by_party": {V: area}}},
                  "terms": {V: {"from": start.isoformat(), "to": end.isoformat()}}}
        return paid(agreement(params, parties=(V,)), 2026)[V]

    assert amount(small) <= amount(small + extra) + Decimal("0.01")


def test_area_amounts_reports_the_lines_before_the_cap():
    shares = area_amounts(agreement(p1(terms={V: {"from": "2026-07-01"}})), 2026)
    assert [line["category"] for line in shares[V]["lines"]] == ["easement_forest", "farmland"]
    assert (shares[V]["from"], shares[V]["to"]) == (date(2026, 7, 1), date(2026, 12, 31))


# --------------------------------------------------------------------------- admission


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"categories": {"f": {"rate": 40, "area_by_party": {"430529-x": 1}}}},
     "params.categories.f.area_by_party.430529-x", "unknown party 430529-x"),
    ({"categories": {"f": {"rate": 40, "area_by_party": {PAYER: 1, V: 1, W: 1}}}},
     f"params.categories.f.area_by_party.{PAYER}", "is the payer"),
    ({"terms": {V: {"from": "2026-07-01", "to": "2026-06-30"}}},
     f"params.terms.{V}.to", "is before from"),
    ({"categories": {"f": {"rate": 40, "area_by_party": {V: 1}}}},
     "params.categories", f"party {W} has no area"),
    ({"categories": {"f": {"rate": -1, "area_by_party": {V: 1, W: 1}}}},
     "params.categories.f.rate", "negative"),
    ({"in_kind": [{"party": "Baiyun", "description": "x"}]},
     "params.in_kind.0.party", "is not a party code"),
    ({"fund_cap": "0.001"}, "params.fund_cap", "whole number of fen"),
])
def test_bad_params_are_located(change, field, words):
    with pytest.raises(ValidationFailed) as info:
        agreement({**p1(), **change})
    assert any(p.field == field and words in p.message for p in info.value.problems), [
        str(p) for p in info.value.problems]


def test_an_area_rate_agreement_lists_no_sections_and_needs_a_payer():
    data = {"id": "park", "name": "n", "formula": "area_rate", "parties": [V, W],
            "sections": ["s1"], "start": "2026-01-01", "end": "2026-12-31", "unit": "yuan",
            "clearing_due": "12-31", "source": "test", "confidence": "placeholder",
            "params": p1()}
    with pytest.raises(ValidationFailed) as info:
        agreement_from_dict(data, "park.toml")
    messages = {p.field: p.message for p in info.value.problems}
    assert "reads no measurements" in messages["sections"]
    assert "needs 'payer'" in messages["payer"]


def test_a_water_agreement_still_needs_its_sections():
    data = preset("lishui-zjj-cd-2020")
    raw = {"id": data.id, "name": data.name, "formula": data.formula,
           "upstream": "430800", "downstream": "430700", "start": "2021-01-01",
           "end": "2021-12-31", "unit": "wan", "clearing_due": "04-30", "source": "x",
           "confidence": "placeholder", "params": dict(data.params)}
    with pytest.raises(ValidationFailed, match="'sections' is required but missing"):
        agreement_from_dict(raw, "x.toml")
    with pytest.raises(ValidationFailed, match="sections: the list is empty"):
        agreement_from_dict({**raw, "sections": []}, "x.toml")


# --------------------------------------------------------------------------- the park project


def test_the_park_project_needs_neither_sections_nor_readings():
    assert check_project(PARK) == []
    project = load_project(PARK)
    assert project.sections == {} and project.readings_files == ()
    assert project.parties[V].level == "collective" and project.parties[V].parent == "430529"


def test_a_water_project_without_sections_toml_is_still_refused(project: Path):
    (project / "sections.toml").unlink()
    problems = check_project(project)
    assert [(Path(p.file).name, p.message) for p in problems] == [
        ("sections.toml", "file is missing")]


def test_the_park_year_settles_with_the_water_commands(tmp_path: Path):
    from ecocomp.cli import main

    folder = tmp_path / "nanshan-2026"
    shutil.copytree(PARK, folder)
    db = str(tmp_path / "park.db")
    run = CliRunner().invoke
    settled = run(main, ["--lang", "en", "settle", str(folder), "--year", "2026", "--db", db,
                         "--json"])
    assert settled.exit_code == 0, settled.output
    out = json.loads(settled.output)
    amounts = {(o["payee"], o["component"]): o["amount"] for o in out["obligations"]}
    assert amounts[(V, f"area:{V}")] == "287342.47"
    assert amounts[(V, f"in_kind:{V}:0")] == "0.00"
    statement = run(main, ["--lang", "en", "statement", V, "--db", db, "--year", "2026",
                           "--as-of", "2027-01-31"])
    assert statement.exit_code == 0, statement.output
    assert "+287,342.47" in statement.output and "生态管护员岗位 3 个" in statement.output
    report = run(main, ["report", "--db", db, "--year", "2026", "--out",
                        str(tmp_path / "park.html"), "--as-of", "2027-01-31"])
    assert report.exit_code == 0, report.output
    assert "287,342.47" in (tmp_path / "park.html").read_text(encoding="utf-8")
    verified = run(main, ["--lang", "en", "ledger", "verify", "--db", db, "--with-readings"])
    assert verified.exit_code == 0, verified.output
    again = run(main, ["--lang", "en", "settle", str(folder), "--year", "2026", "--db", db])
    assert again.exit_code == 0 and "0 posted, 3 unchanged" in again.output, again.output


def test_area_rate_keeps_every_invariant_of_the_checker():
    from ecocomp.testing import check_formula

    check_formula("area_rate", max_examples=25)
