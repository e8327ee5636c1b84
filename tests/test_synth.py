"""The synthetic readings generator and the bundled example year's readings files.

The monthly classes are checked with an oracle written here from the rules (SPEC §2): mean of
the valid samples, non-detects at half the limit, automatic data winning for the six
automatic items, single-factor worst over the 21 items, classed by ecocomp.standards.
"""

from __future__ import annotations

import csv
import io
import itertools
import tracemalloc
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import synth
from benchmarks.synth import (
    AUTOMATIC_ITEMS,
    ITEMS,
    MonthForce,
    Rates,
    SectionSpec,
    generate_rows,
    write_example,
    write_long,
)
from ecocomp.standards import ASSESSED_ITEMS, WaterClass, classify_item, gb3838

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
READINGS = EXAMPLE / "readings"
FILES = ("2020-manual.csv", "2021-manual.csv", "2021-automatic.csv", "2021-wide-lishui.csv")
I = WaterClass.I  # noqa: E741 - the class is called Ⅰ
II, III, IV, V = WaterClass.II, WaterClass.III, WaterClass.IV, WaterClass.V

Row = tuple[str, str, str, str, str, str]  # section, sampled_at, parameter, value, source, flag


# --------------------------------------------------------------------------- the oracle


def long_rows(lines: Iterable[str]) -> list[Row]:
    reader = csv.reader(lines)
    header = next(reader)
    assert header == ["section", "sampled_at", "parameter", "value", "unit", "source", "flag"]
    return [(s, t, p, v, src, f) for s, t, p, v, _unit, src, f in reader]


def wide_rows(path: Path) -> list[Row]:
    with open(path, encoding="gb18030", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        codes = [gb3838().resolve(h) for h in header[2:]]
        out = []
        for row in reader:
            y, m, d = (int(x) for x in row[1].split("/"))
            when = date(y, m, d).isoformat()
            cells = zip(codes, row[2:], strict=True)
            out += [(row[0], when, c, v, "manual", "") for c, v in cells if v]
    return out


def effective(value: str) -> Decimal:
    return Decimal(value[1:]) / 2 if value.startswith("<") else Decimal(value)


def monthly_means(
    rows: Iterable[Row], include_invalid: bool = False
) -> dict[tuple[str, str], dict[str, Decimal]]:
    """(section, YYYY-MM) → item → monthly mean, automatic data winning where present."""
    sums: dict[tuple[str, str, str, str], list[Decimal]] = defaultdict(list)
    for section, when, code, value, source, flag in rows:
        if code == "flow" or (flag == "invalid" and not include_invalid):
            continue
        sums[(section, when[:7], code, source)].append(effective(value))
    means: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for (section, month, code, source), values in sums.items():
        auto = (section, month, code, "automatic")
        if source == "manual" and code in AUTOMATIC_ITEMS and auto in sums:
            continue
        means[(section, month)][code] = sum(values, Decimal(0)) / len(values)
    return means


def month_class(items: dict[str, Decimal], waterbody: str = "river") -> WaterClass:
    return max(classify_item(c, v, waterbody) for c, v in items.items() if c in ASSESSED_ITEMS)


def classes(means: dict[tuple[str, str], dict[str, Decimal]], section: str, year: int) -> list:
    """The 12 monthly classes of a section (None for a month without data)."""
    out = []
    for m in range(1, 13):
        items = means.get((section, f"{year}-{m:02d}"))
        out.append(month_class(items) if items else None)
    return out


@pytest.fixture(scope="module")
def example_rows() -> list[Row]:
    rows: list[Row] = []
    for name in FILES[:3]:
        with open(READINGS / name, encoding="utf-8", newline="") as f:
            rows += long_rows(f)
    return rows + wide_rows(READINGS / FILES[3])


@pytest.fixture(scope="module")
def example_means(example_rows):
    return monthly_means(example_rows)


# --------------------------------------------------------------------------- the example


def test_the_committed_example_is_regenerated_byte_for_byte(tmp_path):
    counts = write_example(tmp_path)
    assert set(counts) == set(FILES)
    for name in FILES:
        assert (tmp_path / "readings" / name).read_bytes() == (READINGS / name).read_bytes(), (
            f"{name} differs from a fresh run; regenerate with "
            "python -m benchmarks.synth --example examples/hunan-2021"
        )
    assert 60_000 <= sum(counts.values()) <= 120_000


def test_guiyangzhen_is_class_ii_in_eleven_months_and_iii_in_july(example_means):
    expected = [II] * 12
    expected[6] = III
    assert classes(example_means, "guiyangzhen", 2021) == expected


def test_jinyushi_meets_iii_in_ten_months_and_is_iv_in_february_and_august(example_means):
    got = classes(example_means, "jinyushi", 2021)
    assert got == [III, IV, III, III, III, III, III, IV, III, III, III, III]


def test_lishui_has_three_class_i_seven_ii_and_two_iii_months(example_means):
    got = classes(example_means, "lishui-zjj-cd", 2021)
    assert got == [I, I, II, II, III, II, III, II, II, II, II, I]


def test_lishui_2020_is_ii_every_month_and_for_the_year_so_no_2021_month_worse_than_i_improved(
    example_means, example_rows
):
    assert classes(example_means, "lishui-zjj-cd", 2020) == [II] * 12
    # the year's class from the mean of its samples ("last_year_annual" basis)
    year = [(s, "2020", c, v, src, f) for s, t, c, v, src, f in example_rows
            if s == "lishui-zjj-cd" and t.startswith("2020")]
    assert month_class(monthly_means(year)[("lishui-zjj-cd", "2020")]) is II


def test_majiahe_is_iv_in_january_with_nh3n_multiple_between_0_2_and_0_4(example_means):
    got = classes(example_means, "majiahe", 2021)
    assert got == [IV] + [II] * 11
    nh3n = example_means[("majiahe", "2021-01")]["nh3n"]
    assert Decimal("1.2") < nh3n <= Decimal("1.4")  # ceil(m / 0.2) = 2 steps


def test_other_sections_are_class_ii_every_month_both_years(example_means):
    for section in ("lvbutou", "zhutingzhen", "pingtang", "zhangshugang", "quyuan"):
        for year in (2020, 2021):
            assert classes(example_means, section, year) == [II] * 12, (section, year)
    assert classes(example_means, "guiyangzhen", 2020) == [II] * 12
    assert classes(example_means, "majiahe", 2020) == [II] * 12
    assert classes(example_means, "liyezhen", 2020) == [II] * 12
    assert classes(example_means, "jinyushi", 2020) == [III] * 6 + [IV] + [III] * 5


def test_liyezhen_has_no_readings_in_august_2021(example_rows, example_means):
    assert not [r for r in example_rows if r[0] == "liyezhen" and r[1].startswith("2021-08")]
    assert classes(example_means, "liyezhen", 2021) == [II] * 7 + [None] + [II] * 4


def test_the_invalid_cd_sample_decides_guiyangzhen_april(example_rows):
    invalid = [r for r in example_rows if r[5] == "invalid" and r[4] == "manual"]
    assert invalid == [("guiyangzhen", "2021-04-12", "cd", "0.0126", "manual", "invalid")]
    april = ("guiyangzhen", "2021-04")
    assert month_class(monthly_means(example_rows)[april]) is II
    included = monthly_means(example_rows, include_invalid=True)[april]
    assert classify_item("cd", included["cd"]) is V
    assert month_class(included) is V


def test_the_automatic_sensor_faults_flagged_invalid_change_no_monthly_class(example_rows):
    faults = [r for r in example_rows if r[5] == "invalid" and r[4] == "automatic"]
    assert 10 <= len(faults) <= 100
    without_qa = [r for r in example_rows if not (r[5] == "invalid" and r[4] == "manual")]
    valid, everything = monthly_means(example_rows), monthly_means(without_qa, True)
    assert all(month_class(valid[k]) is month_class(everything[k]) for k in valid)


def test_the_eight_automatic_station_factors_give_the_same_monthly_classes(example_means):
    eight = ("ph", "do", "codmn", "nh3n", "tp", "as", "cd", "pb")  # the 湘江 presets' list
    for items in example_means.values():
        worst = max(classify_item(c, v) for c, v in items.items() if c in eight)
        assert worst is month_class(items)


def test_majiahe_flow_is_below_300_on_exactly_five_december_days(example_rows):
    flows = {r[1]: Decimal(r[3]) for r in example_rows if r[0] == "majiahe" and r[2] == "flow"}
    assert len(flows) == 365
    low = sorted(day for day, q in flows.items() if q < 300)
    assert low == [f"2021-12-{d}" for d in range(11, 16)]


def test_flows_have_realistic_magnitudes_and_a_dry_season(example_rows):
    by_section: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in example_rows:
        if r[2] == "flow":
            by_section[r[0]][r[1]] = Decimal(r[3])
    assert set(by_section) == {"guiyangzhen", "zhutingzhen", "majiahe"}
    # 5th and 95th percentiles: 归阳镇 ~500–1500 m³/s, 马家河 ~800–2500 (dry season lower)
    for section, (low, high) in {"guiyangzhen": (400, 1700), "majiahe": (700, 2800)}.items():
        q = by_section[section]
        ordered = sorted(q.values())
        assert low <= ordered[18] and ordered[-19] <= high, section
        june = [v for d, v in q.items() if d.startswith("2021-06")]
        november = [v for d, v in q.items() if d.startswith("2021-11")]
        assert sum(june) / len(june) > Decimal("1.8") * sum(november) / len(november)


def test_automatic_data_cover_the_five_stations_with_some_suspect_samples(example_rows):
    auto = [r for r in example_rows if r[4] == "automatic" and r[2] != "flow"]
    assert {r[0] for r in auto} == {"guiyangzhen", "zhutingzhen", "majiahe", "zhangshugang",
                                    "jinyushi"}
    assert {r[2] for r in auto} == set(AUTOMATIC_ITEMS)
    suspect = sum(r[5] == "suspect" for r in auto)
    assert 50 <= suspect <= 0.01 * len(auto)
    # outages: some 4-hourly slots are missing, but never a whole month
    assert len(auto) < 5 * 365 * 6 * 6


def test_automatic_values_follow_the_manual_sample_of_the_same_month(example_means,
                                                                    example_rows):
    manual = {(r[0], r[1][:7], r[2]): effective(r[3]) for r in example_rows
              if r[4] == "manual" and r[2] in ("tp", "nh3n", "codmn") and r[5] == ""
              and r[1].startswith("2021")}
    ratios = [example_means[(s, m)][c] / v for (s, m, c), v in manual.items()
              if s == "zhutingzhen" and (s, m) in example_means]
    assert len(ratios) == 36
    assert all(Decimal("0.75") < x < Decimal("1.33") for x in ratios)


def test_values_are_written_with_realistic_decimals_and_non_detects(example_rows):
    manual = [r for r in example_rows if r[4] == "manual" and r[0] == "guiyangzhen"]
    decimals = {"tp": 3, "nh3n": 3, "codmn": 1, "do": 1, "ph": 2}
    for _, _, code, value, _, _ in manual:
        if code in decimals and not value.startswith("<"):
            assert len(value.split(".")[1]) == decimals[code], (code, value)
    nondetects = {r[3] for r in example_rows if r[3].startswith("<")}
    assert {"<0.00004", "<0.0001", "<0.004", "<0.0003", "<0.01", "<0.05"} <= nondetects
    assert all(Decimal(6) <= Decimal(r[3]) <= Decimal(9) for r in manual if r[2] == "ph")


def test_dissolved_oxygen_is_lower_in_summer(example_means):
    do = [example_means[("guiyangzhen", f"2021-{m:02d}")]["do"] for m in range(1, 13)]
    assert max(do[5:8]) < min(do[0], do[1], do[11])


def test_the_wide_file_is_gb18030_with_chinese_headers():
    data = (READINGS / "2021-wide-lishui.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("gb18030")
    assert text.startswith("断面,监测时间,pH,溶解氧,高锰酸盐指数,")
    assert text.count("\r\n") == 13
    manual_2021 = (READINGS / "2021-manual.csv").read_text("utf-8")
    assert "lishui-zjj-cd" not in manual_2021


def test_the_example_files_load_with_the_readings_module_and_assess_alike(example_means):
    readings = pytest.importorskip("ecocomp.readings")
    assessment = pytest.importorskip("ecocomp.assessment")
    if not hasattr(readings, "read_readings") or not hasattr(assessment, "assess_readings"):
        pytest.skip("the readings loader or assess_readings is not there yet")
    rows = []
    for name in FILES:
        rows += list(readings.read_readings(READINGS / name))
    specs = synth.section_specs_for_example()
    for year in (2020, 2021):
        result = assessment.assess_readings(rows, specs, year)
        for spec in specs:
            got = [getattr(result.get(spec.code, p), "cls", None)
                   for p in _months(year)]
            assert got == classes(example_means, spec.code, year), (spec.code, year)


def _months(year: int) -> list:
    from ecocomp.periods import Period

    return [Period(year, m) for m in range(1, 13)]


# --------------------------------------------------------------------------- the generator


def _rows_for(specs, years=2021, **kw) -> list[Row]:
    text = synth.LONG_HEADER + "".join(generate_rows(specs, years, **kw))
    return long_rows(io.StringIO(text))


def test_same_seed_gives_the_same_rows_and_another_seed_does_not():
    specs = synth.synthetic_sections(3, seed=5, automatic_share=1.0)
    a = list(generate_rows(specs, 2021, seed=5))
    assert a == list(generate_rows(specs, 2021, seed=5))
    assert a != list(generate_rows(specs, 2021, seed=6))


def test_manual_and_automatic_files_agree_whether_generated_together_or_apart():
    specs = [SectionSpec("s1", "III", automatic=True, mean_flow="80")]
    together = list(generate_rows(specs, 2021, seed=3))
    apart = [list(generate_rows(specs, 2021, seed=3, sources=[s]))
             for s in ("manual", "automatic", "flow")]
    assert sorted(together) == sorted(itertools.chain(*apart))


def test_a_force_on_one_item_leaves_the_other_items_unchanged():
    specs = [SectionSpec("s1", "II")]
    plain = _rows_for(specs, seed=1, sources=["manual"])
    forced = _rows_for(specs, seed=1, sources=["manual"],
                       forces=[MonthForce("s1", "2021-03", items={"nh3n": "V"})])
    changed = [(a, b) for a, b in zip(plain, forced, strict=True) if a != b]
    assert [b[2] for _, b in changed] == ["nh3n"]


_FORCEABLE = [(code, cls) for code in ASSESSED_ITEMS for cls in WaterClass
              if synth._band(code, int(cls), "river") is not None]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=st.sampled_from(_FORCEABLE),
    profile=st.sampled_from(list(WaterClass)),
    seed=st.integers(0, 10_000),
    month=st.integers(1, 12),
    automatic=st.booleans(),
)
def test_a_forced_item_class_is_that_items_monthly_class_for_any_seed(
    target, profile, seed, month, automatic
):
    code, cls = target
    spec = SectionSpec("s1", profile, automatic=automatic)
    key = f"2021-{month:02d}"
    rows = _rows_for([spec], seed=seed, forces=[MonthForce("s1", key, items={code: cls})],
                     rates=Rates(automatic_invalid=0.01, automatic_suspect=0.02))
    means = monthly_means(rows)
    assert classify_item(code, means[("s1", key)][code]) is cls
    # every other month keeps the profile's class (TP carries it)
    other = f"2021-{month % 12 + 1:02d}"
    assert month_class(means[("s1", other)]) is profile


@settings(max_examples=15, deadline=None)
@given(cls=st.sampled_from(list(WaterClass)), seed=st.integers(0, 10_000),
       lake=st.booleans())
def test_a_forced_month_class_is_the_months_single_factor_class(cls, seed, lake):
    waterbody = "lake" if lake else "river"
    spec = SectionSpec("s1", "III", waterbody=waterbody, automatic=True)
    rows = _rows_for([spec], seed=seed, forces=[MonthForce("s1", "2021-06", cls=cls)])
    items = monthly_means(rows)[("s1", "2021-06")]
    got = max(classify_item(c, v, waterbody) for c, v in items.items() if c in ASSESSED_ITEMS)
    assert got is cls


def test_forces_that_the_standard_cannot_produce_are_refused():
    spec = SectionSpec("s1", "II")
    with pytest.raises(ValueError, match="cod cannot be in class Ⅱ"):
        list(generate_rows([spec], 2021, seed=1,
                           forces=[MonthForce("s1", "2021-01", items={"cod": "II"})]))
    with pytest.raises(ValueError, match="YYYY-MM"):
        MonthForce("s1", "2021-13")
    with pytest.raises(ValueError, match="unknown item"):
        MonthForce("s1", "2021-01", items={"nh4": "II"})
    with pytest.raises(ValueError, match="unknown section"):
        list(generate_rows([spec], 2021, seed=1, forces=[MonthForce("s2", "2021-01", gap=True)]))
    with pytest.raises(ValueError, match="no mean_flow"):
        list(generate_rows([spec], 2021, seed=1, low_flows=[
            synth.LowFlow("s1", date(2021, 1, 1), date(2021, 1, 2), Decimal(5))]))


def test_every_generated_value_is_a_decimal_or_a_detection_limit_in_a_known_unit(tmp_path):
    specs = synth.synthetic_sections(12, seed=9, automatic_share=0.5)
    path = tmp_path / "r.csv"
    write_long(path, generate_rows(specs, 2021, seed=9))
    standard = gb3838()
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            param = standard.parameter(row["parameter"])
            param.to_canonical(Decimal(1), row["unit"])
            assert effective(row["value"]) > 0
            assert row["source"] in ("manual", "automatic") and row["flag"] in (
                "", "suspect", "invalid")
    assert {r for r in ITEMS} <= set(standard.parameters)


def test_generation_is_lazy_for_a_huge_run():
    # 20,000 sections for a century would be billions of rows: only lazy generation can
    # hand out the first ten in well under a megabyte (measured: about 0.6 MB).
    specs = synth.synthetic_sections(20_000, seed=1, automatic_share=1.0)
    tracemalloc.start()
    try:
        first = list(itertools.islice(generate_rows(specs, range(2000, 2100), seed=1), 10))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(first) == 10 and peak < 8 * 2**20


def _peak_writing(tmp_path: Path, n: int) -> tuple[int, int]:
    specs = synth.synthetic_sections(n, seed=2, automatic_share=1.0)
    tracemalloc.start()
    try:
        rows = write_long(tmp_path / f"{n}.csv", generate_rows(specs, 2021, seed=2))
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writing_streams_with_flat_memory(tmp_path):
    small_rows, small_peak = _peak_writing(tmp_path, 1)
    big_rows, big_peak = _peak_writing(tmp_path, 4)
    assert big_rows > 3.5 * small_rows > 45_000
    # holding every row would cost ~5 MB here; a write chunk plus one month is ~1.2 MB
    assert big_peak < small_peak + 300_000 and big_peak < 3_000_000


def test_the_command_line_writes_consecutive_years_and_reports_rows(tmp_path, capsys):
    out = tmp_path / "bench.csv"
    assert synth.main(["--sections", "3", "--year", "2021", "--years", "2", "--seed", "1",
                       "--out", str(out), "--automatic-share", "0.34"]) == 0
    printed = capsys.readouterr().out
    with open(out, encoding="utf-8", newline="") as f:
        rows = long_rows(f)
    assert f"{len(rows)} rows written" in printed and " rows/s" in printed
    assert {r[1][:4] for r in rows} == {"2020", "2021"}
    assert {r[0] for r in rows if r[4] == "automatic" and r[2] != "flow"} == {"s0003"}


def test_synthetic_sections_give_exactly_the_automatic_share():
    specs = synth.synthetic_sections(50, seed=4, automatic_share=0.6)
    assert sum(s.automatic for s in specs) == 30
    assert len({s.code for s in specs}) == 50
    assert {s.waterbody for s in specs} == {"river", "lake"}
