from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecocomp.money import (
    MAX_YUAN,
    as_decimal,
    format_yuan,
    from_fen,
    split_largest_remainder,
    to_fen,
    to_yuan,
    unit_to_yuan,
)


def test_to_yuan_rounds_half_up_at_the_fen():
    assert to_yuan("0.005") == Decimal("0.01")
    assert to_yuan("2.345") == Decimal("2.35")
    assert to_yuan("-2.345") == Decimal("-2.35")
    assert str(to_yuan(1)) == "1.00"


def test_wan_amounts_convert_exactly():
    assert unit_to_yuan("80", "wan") == Decimal("800000.00")
    assert unit_to_yuan(Decimal("0.123456"), "wan") == Decimal("1234.56")
    with pytest.raises(ValueError, match="unknown money unit"):
        unit_to_yuan("1", "dollar")


def test_floats_nan_and_garbage_are_refused():
    with pytest.raises(TypeError):
        as_decimal(0.1)
    for bad in ("NaN", "inf", "abc"):
        with pytest.raises(ValueError):
            as_decimal(bad)


def test_fen_round_trip_and_refusal_of_fractions_of_a_fen():
    assert to_fen(Decimal("800000.00")) == 80000000
    assert from_fen(80000000) == Decimal("800000.00")
    with pytest.raises(ValueError, match="whole number of fen"):
        to_fen("0.001")


@pytest.mark.parametrize("amount", ["0.0100000000000000000000000000001",
                                    "123456789012.3400000000000000000001"])
def test_a_fraction_of_a_fen_beyond_28_digits_is_refused_not_rounded(amount):
    """value * 100 at 28 digits rounds the fraction away; the refusal must not depend on
    how many digits the amount has."""
    with pytest.raises(ValueError, match="whole number of fen"):
        to_fen(amount)


def test_format_yuan():
    assert format_yuan(Decimal("8000000")) == "8,000,000.00"
    assert format_yuan(Decimal("8000000"), "wan") == "800"


def test_split_oracle_chishui_contributions():
    # E8 (docs/agreements.md): 2亿 fund contributed 1:5:4
    parts = split_largest_remainder(Decimal("200000000.00"), {"yn": 1, "gz": 5, "sc": 4})
    assert parts == {
        "yn": Decimal("20000000.00"),
        "gz": Decimal("100000000.00"),
        "sc": Decimal("80000000.00"),
    }


def test_split_thirds_gives_the_extra_fen_to_the_first_of_equal_remainders():
    parts = split_largest_remainder(Decimal("100.00"), {"a": 1, "b": 1, "c": 1})
    assert parts == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}



def test_a_split_naming_one_party_twice_is_refused_not_short():
    # as (key, weight) pairs a key may repeat; a dict of parts would keep only the last
    # share and the parts would no longer sum to the whole (33.33 of 100.00 lost)
    with pytest.raises(ValueError, match="'a' twice"):
        split_largest_remainder(Decimal("100.00"), [("a", 1), ("b", 1), ("a", 1)])

@given(
    total=st.integers(min_value=0, max_value=10**13).map(from_fen),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_splits_are_exact_to_the_fen_and_sum_to_the_whole(total, weights):
    parts = split_largest_remainder(total, list(enumerate(weights)))
    assert sum(parts.values()) == total
    for i, w in enumerate(weights):
        exact = total * w / sum(weights)
        assert abs(parts[i] - exact) < Decimal("0.01")
        assert parts[i] == parts[i].quantize(Decimal("0.01"))
        assert parts[i] >= 0


def test_amounts_beyond_the_largest_are_refused_not_rounded_or_overflowed():
    assert to_yuan(MAX_YUAN) == Decimal("1000000000000.00")
    assert to_fen(-MAX_YUAN) == -10**14
    for amount in ("1000000000000.01", "-1e20", "1E+400"):
        with pytest.raises(ValueError, match="1万亿"):
            to_yuan(amount)
        with pytest.raises(ValueError, match="1万亿"):
            to_fen(amount)


def test_a_split_sums_to_its_total_whatever_the_callers_decimal_precision():
    """The weights' sum was taken at the caller's precision: at 3 digits 1.001 + 1.001 is
    2.00, and 100.00 yuan split into 50.05 + 50.05 = 100.10 (10 fen made up)."""
    import decimal

    with decimal.localcontext(decimal.Context(prec=3)):
        parts = split_largest_remainder(Decimal("100.00"), {"a": "1.001", "b": "1.001"})
    assert parts == {"a": Decimal("50.00"), "b": Decimal("50.00")}


@pytest.mark.parametrize("prec", [3, 5, 9])
def test_money_primitives_ignore_the_callers_decimal_precision(prec):
    """to_fen, from_fen, unit_to_yuan and format_yuan are exact whatever the thread's
    decimal context: 12,345,678.91 yuan has 10 digits, so a context of fewer digits would
    round ``value * 100`` in silence (to_fen gave 1,234,500,000 fen at 5 digits, rounding
    down)."""
    import decimal

    with decimal.localcontext(decimal.Context(prec=prec, rounding=decimal.ROUND_DOWN)):
        assert to_fen(Decimal("12345678.91")) == 1_234_567_891
        assert from_fen(1_234_567_891) == Decimal("12345678.91")
        assert str(from_fen(1_234_567_891)) == "12345678.91"
        assert unit_to_yuan("1234.56789", "wan") == Decimal("12345678.90")
        assert format_yuan(Decimal("12345678.91"), "wan") == "1234.567891"
