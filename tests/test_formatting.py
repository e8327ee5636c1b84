"""Amounts and dates as people write them: 万元, 人民币大写, 80万, 2022年4月20日."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecocomp.formatting import daxie, format_wan, format_yuan_grouped, parse_amount, parse_day

# --------------------------------------------------------------------------- 大写


@pytest.mark.parametrize("amount, words", [
    ("800000.00", "捌拾万元整"),
    ("123.45", "壹佰贰拾叁元肆角伍分"),
    ("0.00", "零元整"),
    ("0.05", "伍分"),
    ("0.40", "肆角整"),
    ("10.00", "壹拾元整"),
    ("1005.07", "壹仟零伍元零柒分"),
    ("1000.50", "壹仟元伍角整"),
    ("10500.00", "壹万零伍佰元整"),
    ("15000.00", "壹万伍仟元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("8000000.00", "捌佰万元整"),
    ("27750000.00", "贰仟柒佰柒拾伍万元整"),
    ("1000000000000.00", "壹万亿元整"),
    ("-800000.00", "负捌拾万元整"),
])
def test_daxie_writes_amounts_as_on_a_payment_order(amount, words):
    assert daxie(Decimal(amount)) == words


_DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_UNIT = {"拾": 10, "佰": 100, "仟": 1000}


def _read_daxie(text: str) -> Decimal:
    """The test's own reader of capitals, to check :func:`daxie` loses nothing."""
    negative = text.startswith("负")
    text = text.removeprefix("负").removesuffix("整")
    integer, _, fraction = text.rpartition("元")
    total = section = number = 0
    for ch in integer:
        if ch in _DIGIT:
            number = _DIGIT[ch]
        elif ch in _UNIT:
            section, number = section + number * _UNIT[ch], 0
        elif ch == "万":
            section, number = (section + number) * 10**4, 0
        elif ch == "亿":
            total, section, number = (total + section + number) * 10**8, 0, 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    fen = (total + section + number) * 100
    digit = 0
    for ch in fraction:
        if ch in _DIGIT:
            digit = _DIGIT[ch]
        elif ch == "角":
            fen, digit = fen + digit * 10, 0
        elif ch == "分":
            fen, digit = fen + digit, 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    value = Decimal(fen) / 100
    return -value if negative else value


@given(st.decimals(min_value="-1000000000000", max_value="1000000000000", places=2,
                   allow_nan=False, allow_infinity=False))
def test_daxie_reads_back_to_the_same_amount_exact_to_the_fen(amount):
    words = daxie(amount)
    assert _read_daxie(words) == amount
    assert words.endswith("整") == (amount * 100 % 10 == 0)  # 整 after 元 or 角 only
    assert "零零" not in words


def test_daxie_refuses_what_is_not_money():
    with pytest.raises(ValueError, match="fen"):
        daxie(Decimal("1.005"))
    with pytest.raises(ValueError, match="1万亿"):
        daxie(Decimal("1000000000000.01"))
    with pytest.raises(TypeError):
        daxie(0.1)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- 万元, separators


@pytest.mark.parametrize("amount, text", [
    ("800000.00", "80"), ("12345678.90", "≈1,234.57"), ("-5000", "-0.5"), ("0", "0"),
    ("49.99", "≈0"), ("50.00", "≈0.01"), ("27750000", "2,775"), ("287342.47", "≈28.73"),
    ("287300.00", "28.73"), ("-5000.01", "≈-0.5"),
])
def test_format_wan_has_at_most_two_decimals_and_separators(amount, text):
    assert format_wan(Decimal(amount)) == text


def test_format_yuan_grouped():
    assert format_yuan_grouped(Decimal("800000")) == "800,000.00"
    assert format_yuan_grouped(Decimal("-800000"), sign=True) == "-800,000.00"
    assert format_yuan_grouped(Decimal("5"), sign=True) == "+5.00"


# --------------------------------------------------------------------------- reading input


@pytest.mark.parametrize("text, amount", [
    ("80万", "800000"), ("80万元", "800000"), ("800,000.00", "800000.00"), ("800000", "800000"),
    ("1.5万", "15000"), ("８０万", "800000"), (" 800000.05 ", "800000.05"), ("¥800,000", "800000"),
    ("800000元", "800000"), ("0.0001万", "1"),
])
def test_parse_amount_reads_what_a_finance_officer_types_exactly(text, amount):
    value = parse_amount(text)
    assert isinstance(value, Decimal) and value == Decimal(amount)


@pytest.mark.parametrize("text", ["", "万", "abc", "1,5", "1_000", "80 万 元 元", "NaN", "80w",
                                  "1,0000", "\u0663"])
def test_parse_amount_refuses_what_is_not_an_amount(text):
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)


@pytest.mark.parametrize("text", ["2022-04-20", "2022/04/20", "2022-4-20", "2022/4/20",
                                  "2022年4月20日", "2022年04月20号", "2022.4.20", "20220420",
                                  "２０２２年４月２０日"])
def test_parse_day_reads_the_ways_dates_are_written(text):
    assert parse_day(text) == date(2022, 4, 20)


@pytest.mark.parametrize("text, says", [("2022-02-30", "not a date in the calendar"),
                                        ("2022-13-01", "not a date in the calendar"),
                                        ("20/04/2022", "not a date"), ("tomorrow", "not a date")])
def test_parse_day_refuses_dates_that_do_not_exist(text, says):
    with pytest.raises(ValueError, match=says):
        parse_day(text)
