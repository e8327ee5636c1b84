"""Silent wrong money in agreement files and the water formulas: each test is a finding.

Every case is worked by hand in its docstring (Decimal, to the fen); the code must either
compute exactly that amount or refuse the input with a located message.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import attrs
import pytest

from ecocomp.agreement_files import load_agreements, preset
from ecocomp.agreements import freeze, thaw
from ecocomp.assessment import aggregate, assess, item_assessment
from ecocomp.errors import ValidationFailed
from ecocomp.formulas import class_change, pollution_index
from ecocomp.periods import Period
from ecocomp.project import load_project
from ecocomp.readings import Reading
from ecocomp.settlement import compute
from ecocomp.standards import WaterClass as C
from ecocomp.testing import monthly


@dataclass(frozen=True)
class _Section:
    code: str
    waterbody: str = "river"


def _readings(section: str, parameter: str, values: list[str], year: int,
              month: int | None = None) -> list[Reading]:
    """One sample per value: all on days of ``month``, or one a month from January."""
    return [Reading(section, datetime(year, month or i + 1, (3 + 3 * i) if month else 5),
                    parameter, Decimal(v)) for i, v in enumerate(values)]


# --------------------------------------------------------------------------- exact means


def test_index_exactly_at_threshold_pays_the_at_or_below_side_when_a_mean_is_a_ninth() -> None:
    """新安江 round 3 (K0 0.90, weights 0.25, baselines codmn 2.0, nh3n 0.12, tn 1.1, tp 0.03).

    Nine CODMn samples 2.9 × 8 + 2.8 = 26.0 → annual mean 26/9 (does not terminate);
    nh3n, tn, tp at their baselines all year. Ratios: 13/9, 1, 1, 1 → Σ = 40/9;
    P = 0.90 × 0.25 × 40/9 = 1 exactly ≤ 1 → 浙江 (330000) pays 安徽 (340000) 20000万 =
    200,000,000.00. The rounded mean 2.888…889 gave P = 1.000…00125 > 1: 安徽 paid 浙江 2亿.
    """
    rs = _readings("jiekou", "codmn", ["2.9"] * 8 + ["2.8"], 2020)
    for code, value in (("nh3n", "0.12"), ("tn", "1.1"), ("tp", "0.03")):
        rs += _readings("jiekou", code, [value] * 12, 2020)
    data = assess(aggregate(rs), [_Section("jiekou")], 2020)
    (ob,) = pollution_index(preset("xinanjiang-round3"), data, Period(2020))
    assert (ob.payer, ob.payee, ob.amount) == ("330000", "340000", Decimal("200000000.00"))
    assert ob.basis["p_exact"] == "1" and ob.basis["outcome"] == "at_or_below"
    assert data.get("jiekou", Period(2020)).items["codmn"].exact_value == Fraction(26, 9)


def test_index_at_threshold_with_monthly_means_is_exact_too() -> None:
    """The same year under ``annual = "monthly_means"``: CODMn 2.9 in eight months and 2.8 in
    one → mean of monthly means 26/9 again, P = 1, 浙江 pays 安徽 2亿."""
    rs = _readings("jiekou", "codmn", ["2.9"] * 8 + ["2.8"], 2020)
    for code, value in (("nh3n", "0.12"), ("tn", "1.1"), ("tp", "0.03")):
        rs += _readings("jiekou", code, [value] * 12, 2020)
    data = assess(aggregate(rs), [_Section("jiekou")], 2020, annual="monthly_means")
    (ob,) = pollution_index(preset("xinanjiang-round3"), data, Period(2020))
    assert (ob.payer, ob.payee, ob.basis["p_exact"]) == ("330000", "340000", "1")


def test_mean_concentration_exactly_on_a_limit_keeps_the_better_class() -> None:
    """湘江 dynamic component (株洲 preset, 50万 per class), entry sections A and B, exit C.

    March 2014 NH3-N: A 0.3, 0.3, 0.4 → 1/3; B 1.6, 1.7, 1.7 → 5/3; entry mean (1/3 + 5/3)/2
    = 1.0, exactly the Ⅲ limit → Ⅲ (a value equal to a limit is in the better class).
    Exit C 0.9 → Ⅲ. No class changed: 0.00. The rounded means averaged to
    1.000…015 → Ⅳ, and 株洲 was rewarded one class, 500,000.00 yuan.
    """
    rs = (_readings("zhutingzhen", "nh3n", ["0.3", "0.3", "0.4"], 2014, 3)
          + _readings("entry-b", "nh3n", ["1.6", "1.7", "1.7"], 2014, 3)
          + _readings("majiahe", "nh3n", ["0.9"], 2014, 3))
    data = assess(aggregate(rs), [_Section(c) for c in ("zhutingzhen", "entry-b", "majiahe")],
                  2014)
    agreement = preset("xiangjiang-2014-zhuzhou-change")
    params = thaw(agreement.params)
    params["entry_sections"] = ["zhutingzhen", "entry-b"]
    agreement = attrs.evolve(agreement, sections=("zhutingzhen", "entry-b", "majiahe"),
                             params=freeze(params))
    (ob,) = class_change(agreement, data, Period(2014, 3))
    assert ob.basis["entry_means"]["nh3n"] == {"mean": "1", "class": "III", "sections": "2"}
    assert ob.amount == Decimal("0.00") and ob.basis["rule"] == "no change"


def test_an_item_copied_with_a_new_value_cannot_keep_the_old_exact_mean() -> None:
    """``exact`` belongs to ``value``: a copy with another value and the old exact mean would
    compute with a mean nobody sees, so it is refused."""
    (item,) = assess(aggregate(_readings("s", "nh3n", ["0.3", "0.3", "0.4"], 2014, 3)),
                     [_Section("s")], 2014).get("s", Period(2014, 3)).items.values()
    assert item.exact == Fraction(1, 3)
    with pytest.raises(ValueError, match="exact=None"):
        attrs.evolve(item, value=Decimal("0.5"))
    assert attrs.evolve(item, value=Decimal("0.5"), exact=None).exact_value == Fraction(1, 2)
    assert item_assessment("nh3n", Decimal("0.5"), 2).exact is None


# --------------------------------------------------------------------------- overlaps

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"


def _renewed(tmp_path: Path, old_end: str, new_start: str, supersedes: bool = False) -> Path:
    """The example project with 澧水 ending on ``old_end`` and a renewal from ``new_start``."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    folder = root / "agreements"
    old = (folder / "lishui-zjj-cd-2020.toml").read_text(encoding="utf-8")
    old = old.replace("end = 2022-12-31", f"end = {old_end}")
    new = (old.replace('id = "lishui-zjj-cd-2020"', 'id = "lishui-zjj-cd-2021"'
                       + ('\nsupersedes = "lishui-zjj-cd-2020"' if supersedes else ""))
              .replace("start = 2020-01-01", f"start = {new_start}")
              .replace(f"end = {old_end}", "end = 2023-12-31"))
    (folder / "lishui-zjj-cd-2020.toml").write_text(old, encoding="utf-8")
    (folder / "lishui-zjj-cd-2021.toml").write_text(new, encoding="utf-8")
    return root


def test_a_renewal_starting_mid_month_is_refused_as_settling_that_month_twice(
        tmp_path: Path) -> None:
    """澧水 ends 2021-06-15 and its renewal starts 2021-06-16, no day in common. class_ladder
    settles whole months, so both settled June 2021: with Ⅰ all year, 常德 paid 张家界
    13 × 80万 = 1040万 for 2021 instead of 12 × 80万 = 960万. Refused, naming the month."""
    with pytest.raises(ValidationFailed) as info:
        load_project(_renewed(tmp_path, "2021-06-15", "2021-06-16"))
    (problem,) = info.value.problems
    assert problem.file is not None and problem.file.endswith("lishui-zjj-cd-2021.toml")
    assert problem.field == "start"
    assert "2021-06 in full (paid twice)" in problem.message
    assert 'supersedes = "lishui-zjj-cd-2020"' in problem.message


def test_a_mid_month_renewal_that_supersedes_settles_the_month_once(tmp_path: Path) -> None:
    """With ``supersedes`` the renewal settles June in full and the old one does not:
    Ⅰ all year → 12 obligations of 800,000.00, net 9,600,000.00 from 常德 to 张家界."""
    project = load_project(_renewed(tmp_path, "2021-06-15", "2021-06-16", supersedes=True))
    obligations, _nets = compute(project, monthly("lishui-zjj-cd", 2021, [C.I] * 12), 2021)
    lishui = [o for o in obligations if o.agreement.startswith("lishui")]
    assert sorted(str(o.period) for o in lishui) == [f"2021-{m:02}" for m in range(1, 13)]
    assert sum(o.amount for o in lishui) == Decimal("9600000.00")


def test_a_renewal_on_the_first_of_a_month_is_still_accepted(tmp_path: Path) -> None:
    """Ending 2021-06-30 and renewing 2021-07-01 settles each month once: accepted."""
    project = load_project(_renewed(tmp_path, "2021-06-30", "2021-07-01"))
    obligations, _nets = compute(project, monthly("lishui-zjj-cd", 2021, [C.I] * 12), 2021)
    assert sum(o.amount for o in obligations
               if o.agreement.startswith("lishui")) == Decimal("9600000.00")


def test_annual_agreements_meeting_mid_year_are_refused_as_settling_that_year_twice(
        tmp_path: Path) -> None:
    """新安江 round 1 cut to 2012-01-01..2014-06-30 and a follow-up from 2014-07-01: both are
    in force in 2014 and pollution_index settles whole years, so 2014's 1亿 was paid twice."""
    folder = tmp_path / "agreements"
    folder.mkdir()
    text = (EXAMPLE.parent.parent / "ecocomp" / "presets" / "xinanjiang-round1.toml").read_text(
        encoding="utf-8")
    (folder / "a.toml").write_text(text.replace("end = 2014-12-31", "end = 2014-06-30"),
                                   encoding="utf-8")
    (folder / "b.toml").write_text(text.replace('id = "xinanjiang-round1"', 'id = "round1b"')
                                   .replace("start = 2012-01-01", "start = 2014-07-01"),
                                   encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_agreements(folder)
    (problem,) = info.value.problems
    assert "in the year 2014" in problem.message and "2014 in full (paid twice)" in problem.message


# --------------------------------------------------------------------------- inconsistent params


def _refused(name: str, params: dict[str, object]) -> list[str]:
    """The problems of a shipped agreement with ``params`` merged in (none: accepted)."""
    try:
        preset(name, params=params)
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_penalty_cap_below_the_base_is_refused() -> None:
    """永州 target: base 50万, step 10万. With cap 10 (say 10万 meant as a 10-step cap), a Ⅳ
    month at multiple 0.3 owed 50 + 10 × 2 = 70万 but paid 10万: every penalty month paid
    the cap whatever base and step said."""
    (problem,) = _refused("xiangjiang-2014-yongzhou-target", {"penalty": {"cap": 10}})
    assert "xiangjiang-2014-yongzhou-target.toml:" in problem
    assert "params.penalty.cap: cap 10 is below base 50" in problem
    assert _refused("xiangjiang-2014-yongzhou-target", {"penalty": {"cap": 50}}) == []


def test_a_monthly_flow_cap_below_one_days_penalty_is_refused() -> None:
    """株洲 flow: 1万 per day below target. cap_per_month 0.5 made a month with 12 days below
    pay 0.5万 instead of 12万 (the cap was meant in 10万 or written in the wrong unit)."""
    (problem,) = _refused("xiangjiang-2014-zhuzhou-flow", {"cap_per_month": "0.5"})
    assert "params.cap_per_month: cap_per_month 0.5 is below penalty_per_day 1" in problem
    assert _refused("xiangjiang-2014-zhuzhou-flow", {"cap_per_month": 1}) == []


def test_a_ladder_amount_that_nobody_pays_is_refused() -> None:
    """澧水 with Ⅱ = {payer = "none", amount = 80}: a Ⅱ month paid 0 and the 80万 the file
    names was dropped without a word (the payer was forgotten, or the amount misplaced)."""
    (problem,) = _refused("lishui-zjj-cd-2020", {"rules": {"II": {"payer": "none",
                                                                  "amount": 80}}})
    assert "params.rules.II.amount: amount 80 with payer \"none\"" in problem
    assert _refused("lishui-zjj-cd-2020", {"rules": {"II": {"payer": "none",
                                                            "amount": 0}}}) == []


def test_a_missing_amount_that_the_missing_month_rule_never_pays_is_refused() -> None:
    """missing_amount = 50 with missing_month = "skip" (the default): a month without data
    paid 0, not the 50万 written. Refused; with upstream_pays it is paid."""
    (problem,) = _refused("lishui-zjj-cd-2020", {"missing_amount": 50})
    assert "params.missing_amount: missing_amount is set, but missing_month is 'skip'" in problem
    assert _refused("lishui-zjj-cd-2020", {"missing_amount": 50,
                                           "missing_month": "upstream_pays"}) == []


# --------------------------------------------------------------------------- documented remainders


@pytest.mark.parametrize(("parties", "extra_fen_to"), [
    (["530000", "520000", "510000"], "530000"),
    (["510000", "520000", "530000"], "510000"),
])
def test_a_fund_not_divisible_to_the_fen_gives_the_fen_to_the_party_listed_first(
        parties: list[str], extra_fen_to: str) -> None:
    """赤水河 shape with a 100.00 yuan fund paid in 1:1:1: 100.00 / 3 = 33.333… each; the
    floors 33.33 × 3 = 99.99 leave 1 fen, and the three remainders tie, so it goes to the
    party listed first in ``parties``: 33.34 / 33.33 / 33.33, always summing to 100.00."""
    from ecocomp.assessment import Assessments
    from ecocomp.formulas.fund import fund_shares

    agreement = preset("chishui-2018")
    params = thaw(agreement.params)
    params.update({"fund": Decimal(100), "deductions": [],
                   "contribution": {p: Decimal(1) for p in parties}})
    agreement = attrs.evolve(agreement, unit="yuan", parties={
        f"parties[{i}]": p for i, p in enumerate(parties)}, params=freeze(params))
    shares = fund_shares(agreement, Assessments(), 2018)
    assert shares["contributions"][extra_fen_to] == Decimal("33.34")
    assert sum(shares["contributions"].values()) == Decimal("100.00")
    assert sorted(shares["contributions"].values()) == [Decimal("33.33"), Decimal("33.33"),
                                                        Decimal("33.34")]


def test_a_month_shared_through_a_chain_of_supersedes_is_settled_once_and_accepted(
        tmp_path: Path) -> None:
    """A ends 06-15, B (supersedes A) runs 06-16..06-20, C (supersedes B) from 06-21: June is
    settled by C alone (A's and B's June are superseded), so A and C sharing June is fine."""
    root = _renewed(tmp_path, "2021-06-15", "2021-06-16", supersedes=True)
    folder = root / "agreements"
    b = (folder / "lishui-zjj-cd-2021.toml").read_text(encoding="utf-8")
    (folder / "lishui-zjj-cd-2021.toml").write_text(
        b.replace("end = 2023-12-31", "end = 2021-06-20"), encoding="utf-8")
    (folder / "lishui-zjj-cd-2021c.toml").write_text(
        b.replace('id = "lishui-zjj-cd-2021"', 'id = "lishui-zjj-cd-2021c"')
         .replace('supersedes = "lishui-zjj-cd-2020"', 'supersedes = "lishui-zjj-cd-2021"')
         .replace("start = 2021-06-16", "start = 2021-06-21"), encoding="utf-8")
    project = load_project(root)
    obligations, _nets = compute(project, monthly("lishui-zjj-cd", 2021, [C.I] * 12), 2021)
    june = [o.agreement for o in obligations if str(o.period) == "2021-06"
            and o.agreement.startswith("lishui")]
    assert june == ["lishui-zjj-cd-2021c"]


def _air_renewed(tmp_path: Path, source: str, first_end: str, second_start: str,
             edit: tuple[str, str] = ("", "")) -> list[str]:
    """The problems of an agreement file (``source``, from the repository, ``edit``
    applied) cut to end on ``first_end`` and a copy of it starting on ``second_start``
    (none: both accepted)."""
    folder = tmp_path / "agreements"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    text = (Path(__file__).parent.parent / source).read_text(encoding="utf-8")
    if edit[0]:
        assert edit[0] in text
        text = text.replace(*edit)
    fields = {line.split("=")[0].strip(): line.split("=")[1].split("#")[0].strip()
              for line in text.splitlines() if line.startswith(("id =", "start =", "end ="))}
    (folder / "a.toml").write_text(
        text.replace(f"end = {fields['end']}", f"end = {first_end}", 1), encoding="utf-8")
    (folder / "b.toml").write_text(
        text.replace(f"id = {fields['id']}", 'id = "renewal"', 1)
        .replace(f"start = {fields['start']}", f"start = {second_start}", 1), encoding="utf-8")
    try:
        load_agreements(folder)
    except ValidationFailed as exc:
        return [p.message for p in exc.problems]
    return []


def test_air_agreements_meeting_inside_the_span_they_settle_are_refused(
        tmp_path: Path) -> None:
    """The air formulas settle whole years (attainment) or the agreement's ``period``: an
    attainment renewal from 2020-07-01 paid 2020's reward twice, and a quarterly ladder
    renewed on 2021-08-01 settled the third quarter of 2021 twice; a monthly ladder renewed
    on the first of a month is fine."""
    attainment = "examples/hunan-air-2021/agreements/attainment-changde.toml"
    ladder = "ecocomp/presets/zhengzhou-air-ladder.toml"
    quarterly = ('period = "month"', 'period = "quarter"')
    (year,) = _air_renewed(tmp_path, attainment, "2020-06-30", "2020-07-01")
    assert "in the year 2020" in year and "settles whole years" in year
    assert _air_renewed(tmp_path, attainment, "2020-12-31", "2021-01-01") == []
    (quarter,) = _air_renewed(tmp_path, ladder, "2021-07-31", "2021-08-01", quarterly)
    assert "in the quarter 2021-Q3" in quarter and "settles whole quarters" in quarter
    assert _air_renewed(tmp_path, ladder, "2021-09-30", "2021-10-01", quarterly) == []
    assert _air_renewed(tmp_path, ladder, "2021-07-31", "2021-08-01") == []


# --------------------------------------------------------------------------- odd but possible


def test_a_ladder_paying_less_for_cleaner_water_is_a_located_warning(tmp_path: Path) -> None:
    """澧水 with Ⅰ and Ⅲ typed the wrong way round (Ⅰ: 张家界 pays 80万, Ⅲ: 常德 pays) settles
    without an error and rewards dirtier water; `ecocomp check` (and settle, which prints
    the project's warnings) now says which class and why, and still exits 0."""
    from click.testing import CliRunner

    from ecocomp.cli import main

    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    path = root / "agreements" / "lishui-zjj-cd-2020.toml"
    text = path.read_text(encoding="utf-8")
    rule = "{:<13}= {{ payer = \"{}\"".format
    swapped = (text.replace(rule("I", "downstream"), rule("I", "x"))
               .replace(rule("III", "upstream"), rule("III", "downstream"))
               .replace(rule("I", "x"), rule("I", "upstream")))
    assert swapped != text
    path.write_text(swapped, encoding="utf-8")
    first, second = load_project(root).warnings  # Ⅰ below Ⅱ, and Ⅱ below Ⅲ
    assert (first.file, first.field, second.field) == (str(path), "params.rules.I",
                                                       "params.rules.II")
    assert "class I (cleaner) gives the upstream party -80 万元, less than class II" in str(first)
    assert "class II (cleaner) gives the upstream party 0 万元, less than class III" in str(second)
    got = CliRunner().invoke(main, ["check", str(root)])
    assert got.exit_code == 0, got.output
    assert "warning:" in got.output and "params.rules.I:" in got.output
    assert "cleaner water would be paid less" in got.output
    assert load_project(EXAMPLE).warnings == ()  # the example as shipped: nothing odd


def test_an_index_k0_above_its_threshold_is_a_located_warning() -> None:
    """新安江 round 3 with k0 = 90 (90% written as a whole number): P = 90 with every item at
    its baseline, so 安徽 would pay 浙江 every year however clean the water; a warning names
    k0. The shipped rounds (0.85–0.90 under 1) give none."""
    from ecocomp.agreement_files import agreement_warnings

    (warning,) = agreement_warnings([preset("xinanjiang-round3", params={"k0": "90"})])
    assert warning.field == "params.k0" and "k0 = 90 is above the threshold 1" in str(warning)
    assert agreement_warnings([preset(f"xinanjiang-round{n}") for n in (1, 2, 3)]) == []


def test_air_renewals_of_different_periods_are_refused_whichever_starts_first(
        tmp_path: Path) -> None:
    """A monthly ladder ending 2021-07-31 and a yearly renewal from 2021-08-01: the yearly
    one settles all of 2021, January to July included, which the monthly one settled too
    (paid twice); a quarterly renewal settles July twice. Refused as the same pair the other
    way round (yearly first) already was: the wider span of the two decides, not the order
    of their starts."""
    ladder = (Path(__file__).parent.parent / "ecocomp" / "presets"
              / "zhengzhou-air-ladder.toml").read_text(encoding="utf-8")
    for first, second in (("month", "year"), ("year", "month"), ("month", "quarter")):
        folder = tmp_path / f"{first}-{second}"
        folder.mkdir()
        (folder / "a.toml").write_text(
            ladder.replace("end = 2022-12-31", "end = 2021-07-31")
            .replace('period = "month"', f'period = "{first}"'), encoding="utf-8")
        (folder / "b.toml").write_text(
            ladder.replace('id = "zhengzhou-air-ladder"', 'id = "renewal"')
            .replace("start = 2020-01-01", "start = 2021-08-01")
            .replace('period = "month"', f'period = "{second}"'), encoding="utf-8")
        with pytest.raises(ValidationFailed) as info:
            load_agreements(folder)
        (problem,) = info.value.problems
        wider = "quarter" if "quarter" in (first, second) else "year"
        assert f"settles whole {wider}s" in problem.message, (first, second)


def test_a_quarter_shared_through_a_chain_of_supersedes_is_refused_as_settled_twice(
        tmp_path: Path) -> None:
    """Quarterly ladders: A ends 2021-08-15, B (supersedes A) runs 08-16..08-20, C
    (supersedes B) from 08-21. A quarter's obligation is booked in its last month
    (September), where B is no longer in force: A's Q3 is not superseded, C settles Q3 too,
    and Q3 was paid twice (110万 each). It was accepted because the check asked whether A
    was superseded in August, the month C starts, not in September as the settlement does."""
    ladder = (Path(__file__).parent.parent / "ecocomp" / "presets"
              / "zhengzhou-air-ladder.toml").read_text(encoding="utf-8").replace(
        'period = "month"', 'period = "quarter"')
    first = 'id = "zhengzhou-air-ladder"'
    folder = tmp_path / "agreements"
    folder.mkdir()
    (folder / "a.toml").write_text(ladder.replace("end = 2022-12-31", "end = 2021-08-15"),
                                   encoding="utf-8")
    (folder / "b.toml").write_text(
        ladder.replace(first, 'id = "b"\nsupersedes = "zhengzhou-air-ladder"')
        .replace("start = 2020-01-01", "start = 2021-08-16")
        .replace("end = 2022-12-31", "end = 2021-08-20"), encoding="utf-8")
    (folder / "c.toml").write_text(
        ladder.replace(first, 'id = "c"\nsupersedes = "b"')
        .replace("start = 2020-01-01", "start = 2021-08-21"), encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_agreements(folder)
    (problem,) = info.value.problems
    assert "in the quarter 2021-Q3" in problem.message and "'zhengzhou-air-ladder'" in (
        problem.message)
    assert problem.file is not None and problem.file.endswith("c.toml")


@pytest.mark.parametrize(("older", "newer", "start", "refused"), [
    ("month", "year", "2021-08-01", True),     # the year settles January to July again
    ("year", "month", "2021-08-01", True),     # 2021 superseded: January to July by nobody
    ("month", "quarter", "2021-08-01", True),  # July settled by both
    ("month", "year", "2022-01-01", False),    # on a year's first day: each settles its own
    ("month", "quarter", "2021-10-01", False),
])
def test_a_supersedes_between_spans_must_start_a_whole_span(
        tmp_path: Path, older: str, newer: str, start: str, refused: bool) -> None:
    """A yearly air ladder that supersedes a monthly one from 2021-08-01 settles all of 2021
    (the months before it too, which the monthly one settles: paid twice), and a monthly
    one superseding a yearly one mid-year leaves the yearly one's 2021 superseded (January
    to July paid by nobody). With supersedes written this was accepted; now the newer must
    start on the first day of the wider span."""
    ladder = (Path(__file__).parent.parent / "ecocomp" / "presets"
              / "zhengzhou-air-ladder.toml").read_text(encoding="utf-8")
    end = (date.fromisoformat(start) - timedelta(days=1)).isoformat()
    (tmp_path / "a.toml").write_text(
        ladder.replace("end = 2022-12-31", f"end = {end}")
        .replace('period = "month"', f'period = "{older}"'), encoding="utf-8")
    (tmp_path / "b.toml").write_text(
        ladder.replace('id = "zhengzhou-air-ladder"',
                       'id = "renewal"\nsupersedes = "zhengzhou-air-ladder"')
        .replace("start = 2020-01-01", f"start = {start}").replace("end = 2022-12-31",
                                                                   "end = 2023-12-31")
        .replace('period = "month"', f'period = "{newer}"'), encoding="utf-8")
    if not refused:
        assert len(load_agreements(tmp_path)) == 2
        return
    with pytest.raises(ValidationFailed) as info:
        load_agreements(tmp_path)
    (problem,) = info.value.problems
    assert problem.field == "start" and problem.file.endswith("b.toml")
    assert "supersedes 'zhengzhou-air-ladder' from 2021-08-01" in problem.message
    assert "start 'renewal' on the first day of a" in problem.message


def test_an_agreement_starting_inside_a_month_it_settles_whole_is_a_warning(
        tmp_path: Path) -> None:
    """澧水 starting 2020-01-16 alone: class_ladder settles whole months, so January 2020 is
    paid in full (80万 for a Ⅰ month), not for its 16 days. Possible, so a warning naming the
    field, not a problem; a renewal that settles the rest of the month gives none."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    path = root / "agreements" / "lishui-zjj-cd-2020.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "start = 2020-01-01", "start = 2020-01-16"), encoding="utf-8")
    (warning,) = load_project(root).warnings
    assert (warning.file, warning.field) == (str(path), "start")
    assert ("start 2020-01-16 is inside a month (2020-01-01 to 2020-01-15 is outside the "
            "agreement), and formula class_ladder settles whole months") in str(warning)
    from ecocomp.agreement_files import agreement_warnings

    folder = tmp_path / "renewal"
    folder.mkdir()
    text = (EXAMPLE / "agreements" / "lishui-zjj-cd-2020.toml").read_text(encoding="utf-8")
    (folder / "a.toml").write_text(text.replace("end = 2022-12-31", "end = 2021-06-15"),
                                   encoding="utf-8")
    (folder / "b.toml").write_text(
        text.replace('id = "lishui-zjj-cd-2020"',
                     'id = "lishui-2021"\nsupersedes = "lishui-zjj-cd-2020"')
        .replace("start = 2020-01-01", "start = 2021-06-16"), encoding="utf-8")
    assert agreement_warnings(load_agreements(folder)) == []
