"""GB 3838-2002 as data: the limits match the published table, every limit is a class boundary,
the registry resolves names and units, and water classes parse every accepted spelling."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecocomp.errors import StandardError
from ecocomp.standards import (
    ASSESSED_ITEMS,
    WaterClass,
    _load_standard,
    class_of,
    classify_item,
    exceedance_multiple,
    gb3838,
    parameter,
)

# GB 3838-2002 Table 1 [C S11], typed in independently of the data file (classes Ⅰ..Ⅴ).
TABLE_1 = {
    ("do", "river"): ("7.5", "6", "5", "3", "2"),
    ("codmn", "river"): ("2", "4", "6", "10", "15"),
    ("cod", "river"): ("15", "15", "20", "30", "40"),
    ("bod5", "river"): ("3", "3", "4", "6", "10"),
    ("nh3n", "river"): ("0.15", "0.5", "1.0", "1.5", "2.0"),
    ("tp", "river"): ("0.02", "0.1", "0.2", "0.3", "0.4"),
    ("tp", "lake"): ("0.01", "0.025", "0.05", "0.1", "0.2"),
    ("tn", "lake"): ("0.2", "0.5", "1.0", "1.5", "2.0"),
    ("cu", "river"): ("0.01", "1.0", "1.0", "1.0", "1.0"),
    ("zn", "river"): ("0.05", "1.0", "1.0", "2.0", "2.0"),
    ("fluoride", "river"): ("1.0", "1.0", "1.0", "1.5", "1.5"),
    ("se", "river"): ("0.01", "0.01", "0.01", "0.02", "0.02"),
    ("as", "river"): ("0.05", "0.05", "0.05", "0.1", "0.1"),
    ("hg", "river"): ("0.00005", "0.00005", "0.0001", "0.001", "0.001"),
    ("cd", "river"): ("0.001", "0.005", "0.005", "0.005", "0.01"),
    ("cr6", "river"): ("0.01", "0.05", "0.05", "0.05", "0.1"),
    ("pb", "river"): ("0.01", "0.01", "0.05", "0.05", "0.1"),
    ("cyanide", "river"): ("0.005", "0.05", "0.2", "0.2", "0.2"),
    ("phenol", "river"): ("0.002", "0.002", "0.005", "0.01", "0.1"),
    ("petroleum", "river"): ("0.05", "0.05", "0.05", "0.5", "1.0"),
    ("las", "river"): ("0.2", "0.2", "0.2", "0.3", "0.3"),
    ("sulfide", "river"): ("0.05", "0.1", "0.2", "0.5", "1.0"),
    ("fecal_coliform", "river"): ("200", "2000", "10000", "20000", "40000"),
}
EPS = Decimal("1E-12")  # far below the smallest gap between limits (Hg: 5E-5)
CLASSES = tuple(WaterClass)[:5]


def _data_limits() -> dict[tuple[str, str], tuple[Decimal, ...]]:
    return {
        (code, wb): limits
        for code, p in gb3838().parameters.items()
        for wb, limits in p.limits.items()
    }


def _cases() -> list[tuple[str, str, int]]:
    return [(code, wb, i) for (code, wb) in _data_limits() for i in range(5)]


def test_data_file_limits_equal_the_published_table():
    assert _data_limits() == {k: tuple(Decimal(v) for v in vs) for k, vs in TABLE_1.items()}


@pytest.mark.parametrize(("code", "waterbody", "i"), _cases())
def test_value_equal_to_a_limit_gets_the_best_class_with_that_limit(code, waterbody, i):
    limits = _data_limits()[(code, waterbody)]
    limit = limits[i]
    best = limits.index(limit)  # repeated limits (COD Ⅰ = Ⅱ = 15) give the better class
    assert classify_item(code, limit, waterbody) is WaterClass(best + 1)


@pytest.mark.parametrize(("code", "waterbody", "i"), _cases())
def test_value_just_beyond_a_limit_goes_to_the_next_worse_class(code, waterbody, i):
    limits = _data_limits()[(code, waterbody)]
    limit = limits[i]
    higher_is_better = gb3838().parameters[code].direction == "higher"
    beyond = limit - EPS if higher_is_better else limit + EPS
    worse = [
        j for j, other in enumerate(limits)
        if (other < limit if higher_is_better else other > limit)
    ]  # fmt: skip
    expected = WaterClass(worse[0] + 1) if worse else WaterClass.WORSE_THAN_V
    got = classify_item(code, beyond, waterbody)
    assert got is expected
    assert got > classify_item(code, limit, waterbody)


def test_dissolved_oxygen_is_higher_is_better():
    assert classify_item("do", "7.5") is WaterClass.I
    assert classify_item("do", "12") is WaterClass.I
    assert classify_item("do", "5.5") is WaterClass.III
    assert classify_item("do", "2.5") is WaterClass.V
    assert classify_item("do", "1.99") is WaterClass.WORSE_THAN_V


@pytest.mark.parametrize(
    ("value", "expected"),
    [("6", WaterClass.I), ("9", WaterClass.I), ("7.2", WaterClass.I),
     ("5.99", WaterClass.WORSE_THAN_V), ("9.01", WaterClass.WORSE_THAN_V)],
)  # fmt: skip
def test_ph_in_6_to_9_is_class_I_and_outside_is_worse_than_V(value, expected):
    assert classify_item("ph", value) is expected
    assert classify_item("ph", value, "lake") is expected


def test_lakes_use_their_own_tp_and_tn_limits():
    assert classify_item("tp", "0.12", "river") is WaterClass.III
    assert classify_item("tp", "0.12", "lake") is WaterClass.V
    assert classify_item("tn", "1.2", "lake") is WaterClass.IV
    assert classify_item("tn", "1.2", "river") is None  # TN classes only lakes
    assert classify_item("nh3n", "0.45", "lake") is WaterClass.II  # others: river limits


def test_items_without_limits_do_not_class():
    for code in ("temp", "chla", "sd", "flow"):
        assert classify_item(code, "1") is None


def test_unknown_waterbody_is_refused_instead_of_read_as_river():
    with pytest.raises(StandardError, match=r"'reservoir'.*river.*lake"):
        classify_item("tp", "0.03", "reservoir")
    with pytest.raises(StandardError):
        exceedance_multiple("tp", "0.5", waterbody="sea")


def test_float_values_are_refused():
    with pytest.raises(TypeError, match="float"):
        classify_item("nh3n", 0.5)


def test_assessed_items_are_the_21_of_the_2011_method():
    assert len(ASSESSED_ITEMS) == 21
    assert set(ASSESSED_ITEMS) == {
        "ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "cu", "zn", "fluoride", "se",
        "as", "hg", "cd", "cr6", "pb", "cyanide", "phenol", "petroleum", "las", "sulfide",
    }  # fmt: skip
    assert not {"temp", "fecal_coliform", "tn"} & set(ASSESSED_ITEMS)


# --------------------------------------------------------------------------- multiples


def test_exceedance_multiples_of_oracle_e5():
    assert exceedance_multiple("nh3n", "1.8") == Decimal("0.8")
    assert exceedance_multiple("tp", "0.5") == Decimal("1.5")
    assert exceedance_multiple("do", "2.5") is None
    assert exceedance_multiple("ph", "9.5") is None
    assert exceedance_multiple("temp", "30") is None


def test_exceedance_multiple_is_zero_within_the_limit_and_uses_the_reference_class():
    assert exceedance_multiple("nh3n", "1.0") == 0
    assert exceedance_multiple("nh3n", "0.75", WaterClass.II) == Decimal("0.5")
    assert exceedance_multiple("nh3n", "0.75", "II") == Decimal("0.5")
    assert exceedance_multiple("tp", "0.075", waterbody="lake") == Decimal("0.5")


def test_whole_exceedance_multiples_print_plainly():
    assert str(exceedance_multiple("tp", "4.2")) == "20"


def test_reference_class_worse_than_v_is_refused():
    with pytest.raises(StandardError, match=r"Ⅰ\.\.Ⅴ"):
        exceedance_multiple("nh3n", "1.8", WaterClass.WORSE_THAN_V)


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("name", "code"),
    [("氨氮", "nh3n"), ("NH3-N", "nh3n"), ("NH₃-N", "nh3n"), ("nh3n", "nh3n"),
     ("CODMn", "codmn"), ("COD_Mn", "codmn"), ("高锰酸盐指数", "codmn"), ("COD", "cod"),
     ("BOD₅", "bod5"), ("pH值", "ph"), ("PH", "ph"), ("溶解氧", "do"), ("DO", "do"),
     ("Cr6+", "cr6"), ("Cr(VI)", "cr6"), ("六价铬", "cr6"), ("总磷(以P计)", "tp"),
     ("叶绿素a", "chla"), ("Chl-a", "chla"), ("透明度", "sd"), ("流量", "flow"),
     (" tp ", "tp"), ("Tp", "tp")],
)  # fmt: skip
def test_parameters_resolve_by_code_chinese_name_and_alias(name, code):
    assert parameter(name).code == code
    assert gb3838().resolve(name) == code


def test_every_code_name_and_alias_in_the_data_resolves_to_its_own_item():
    for code, p in gb3838().parameters.items():
        for name in (code, p.name, *p.aliases):
            assert parameter(name).code == code


def test_unknown_parameter_is_an_error_naming_it():
    with pytest.raises(StandardError, match="'ammonia'"):
        parameter("ammonia")
    assert gb3838().resolve("ammonia") is None


@pytest.mark.parametrize("unit", ["µg/L", "μg/L", "ug/L", "UG/L", "μg/l", " µg/L "])
def test_micrograms_per_litre_in_any_spelling_convert_exactly(unit):
    assert parameter("tp").to_canonical(Decimal("15"), unit) == Decimal("0.015")


def test_canonical_and_other_units_convert_exactly():
    assert parameter("nh3n").to_canonical(Decimal("0.45"), "mg/L") == Decimal("0.45")
    assert parameter("nh3n").to_canonical(Decimal("0.45"), "") == Decimal("0.45")
    assert parameter("nh3n").to_canonical(Decimal("0.45"), None) == Decimal("0.45")
    assert parameter("chla").to_canonical(Decimal("0.012"), "mg/L") == Decimal("12")
    assert parameter("chla").to_canonical(Decimal("12"), "mg/m3") == Decimal("12")
    assert parameter("sd").to_canonical(Decimal("85"), "cm") == Decimal("0.85")
    assert parameter("temp").to_canonical(Decimal("20"), "℃") == Decimal("20")


def test_unknown_unit_is_an_error_naming_item_and_accepted_units():
    with pytest.raises(StandardError, match=r"'g/L'.*tp.*'mg/L'"):
        parameter("tp").to_canonical(Decimal("1"), "g/L")
    with pytest.raises(StandardError, match="'mg/L'"):
        parameter("ph").to_canonical(Decimal("7"), "mg/L")


# --------------------------------------------------------------------------- classes


@pytest.mark.parametrize(
    ("text", "expected"),
    [("I", 1), ("Ⅰ", 1), ("1", 1), (1, 1), ("ⅰ", 1), ("一", 1), ("i", 1), ("Ⅰ类", 1),
     ("II", 2), ("Ⅱ", 2), ("II类", 2), ("iii", 3), ("Ⅲ", 3), ("三类", 3), ("IV", 4), ("Ⅳ", 4),
     ("V", 5), ("Ⅴ", 5), ("劣V", 6), ("劣Ⅴ", 6), ("劣Ⅴ类", 6), ("worse_than_V", 6),
     ("worse than V", 6), ("WORSE_THAN_V", 6), (5, 5), (WaterClass.III, 3)],
)  # fmt: skip
def test_water_class_parses_every_accepted_spelling(text, expected):
    assert WaterClass.parse(text) is WaterClass(expected)


@pytest.mark.parametrize("text", ["VII", "", "0", 0, 7, True, "劣IV", "good", None])
def test_water_class_refuses_anything_else(text):
    with pytest.raises(StandardError, match="not a water class"):
        WaterClass.parse(text)


@pytest.mark.parametrize("text", ["Ⅵ", "VI", "vi", "Ⅵ类", "6", 6, "六"])
def test_there_is_no_class_six_and_it_is_not_read_as_worse_than_five(text):
    # "Ⅵ" used to be read as 劣Ⅴ: a target of "VI" silently became the worst class
    with pytest.raises(StandardError, match="no class Ⅵ"):
        WaterClass.parse(text)


def test_water_class_names_round_trip_and_order_best_to_worst():
    for cls in WaterClass:
        assert WaterClass.parse(cls.roman) is cls
        assert WaterClass.parse(cls.code) is cls
    assert list(WaterClass) == sorted(WaterClass)
    assert [c.roman for c in WaterClass] == ["Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ"]
    assert [c.descriptor for c in WaterClass] == [
        "优", "优", "良好", "轻度污染", "中度污染", "重度污染"
    ]  # fmt: skip
    assert str(WaterClass.WORSE_THAN_V) == "劣Ⅴ"


# --------------------------------------------------------------------------- data loader


def _raw(**spec: object) -> dict:
    base = {"name": "测试", "units": {"mg/L": "1"}, "direction": "lower", "assessed": True,
            "river": ["1", "2", "3", "4", "5"]}  # fmt: skip
    return {"standard": "x", "parameters": {"x": {**base, **spec}}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [({"river": ["1", "3", "2", "4", "5"]}, "not monotone"),
     ({"river": ["1", "2", "3", "4"]}, "needs 5 limits"),
     ({"direction": "sideways"}, "direction"),
     ({"river": None, "direction": "higher"}, "needs river or lake limits")],
)  # fmt: skip
def test_malformed_standard_data_is_refused_with_the_key(spec, message):
    raw = _raw(**spec)
    if spec.get("river", "") is None:
        del raw["parameters"]["x"]["river"]
    with pytest.raises(StandardError, match=message):
        _load_standard(raw)


def test_standard_data_missing_a_key_or_reusing_an_alias_is_refused():
    raw = _raw()
    del raw["parameters"]["x"]["units"]
    with pytest.raises(StandardError, match="missing key 'units'"):
        _load_standard(raw)
    raw = _raw()
    raw["parameters"]["y"] = {**raw["parameters"]["x"], "name": "别的", "aliases": ["X"]}
    with pytest.raises(StandardError, match="alias 'X' also names x"):
        _load_standard(raw)


def _reference_class(code: str, value: Decimal, waterbody: str) -> WaterClass | None:
    """classify_item as it was written before the limits were looked up once (the oracle)."""
    param = gb3838().parameter(code)
    limits = param.limits_for(waterbody)  # type: ignore[arg-type]
    if param.direction == "range":
        low, high = param.range or (Decimal(6), Decimal(9))
        return WaterClass.I if low <= value <= high else WaterClass.WORSE_THAN_V
    if param.direction == "none" or limits is None:
        return None
    for i, limit in enumerate(limits):
        if (value >= limit) if param.direction == "higher" else (value <= limit):
            return WaterClass(i + 1)
    return WaterClass.WORSE_THAN_V


@given(code=st.sampled_from(sorted(gb3838().parameters)),
       waterbody=st.sampled_from(["river", "lake"]),
       value=st.decimals(min_value=0, max_value=100_000, allow_nan=False, places=4))
def test_class_of_and_classify_item_give_the_reference_class(code, waterbody, value):
    expected = _reference_class(code, value, waterbody)
    assert class_of(code, value, waterbody) is expected
    assert classify_item(code, value, waterbody) is expected


@pytest.mark.parametrize("code", sorted(gb3838().parameters))
@pytest.mark.parametrize("waterbody", ["river", "lake"])
def test_class_of_at_every_limit_and_one_step_beyond(code, waterbody):
    param = gb3838().parameter(code)
    limits = param.limits_for(waterbody) or ()
    for limit in (*limits, *(param.range or ())):
        for value in (limit, limit - Decimal("0.001"), limit + Decimal("0.001")):
            assert class_of(code, value, waterbody) is _reference_class(code, value, waterbody)


def test_class_of_refuses_an_unknown_waterbody_every_time():
    for _ in range(2):  # nothing cached for it
        with pytest.raises(StandardError, match="reservoir"):
            class_of("tp", Decimal("0.1"), "reservoir")  # type: ignore[arg-type]
