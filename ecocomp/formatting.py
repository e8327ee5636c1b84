"""Amounts and dates as people write and read them: thousands, 万元, 人民币大写, 2022年4月20日.

Pure functions for the command line (and anyone printing amounts): reading what a finance
officer types (``80万``, ``800,000.00``, ``2022/04/20``, ``2022年4月20日``) into exact
``Decimal`` yuan and ``date``, and writing amounts back with thousands separators, in 万元,
and in capital numerals (大写) as written on payment orders. Never float.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ecocomp.money import FEN, WAN, in_money_context

__all__ = [
    "daxie",
    "format_wan",
    "format_yuan_grouped",
    "parse_amount",
    "parse_day",
    "round_wan",
]

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
#: The largest amount written in capitals: ecocomp's own bound, 1 万亿 yuan.
_DAXIE_MAX = Decimal(10) ** 12


@in_money_context
def format_yuan_grouped(amount: Decimal, *, sign: bool = False) -> str:
    """Yuan with thousands separators and two decimals: ``800,000.00`` (``+800,000.00``)."""
    return f"{amount:+,.2f}" if sign else f"{amount:,.2f}"


@in_money_context
def format_wan(amount: Decimal) -> str:
    """Yuan as 万元 with at most two decimals and thousands separators: ``80``, ``≈1,234.57``.

    Rounded half up to 0.01 万元 (100 yuan), so it is for summaries shown beside the exact
    amount in yuan; trailing zeros are dropped, and ``≈`` marks a figure that was rounded
    (as the report's 万元 columns do).

    >>> format_wan(Decimal("800000.00")), format_wan(Decimal("12345678.90"))
    ('80', '≈1,234.57')
    >>> format_wan(Decimal("-5000")), format_wan(Decimal("-5000.01"))
    ('-0.5', '≈-0.5')
    """
    wan, exact = round_wan(amount)
    text = f"{wan:,.2f}".rstrip("0").rstrip(".")
    return text if exact else f"≈{text}"


@in_money_context
def round_wan(amount: Decimal) -> tuple[Decimal, bool]:
    """Yuan in 万元 rounded half up to 0.01 万元 (100 yuan), without a sign when that is
    nothing, and whether it is exact: the rule of every 万 figure shown (the command line's
    :func:`format_wan`, the reports' 万元 columns).

    >>> round_wan(Decimal("12250.00")), round_wan(Decimal("-49.99"))
    ((Decimal('1.23'), False), (Decimal('0.00'), False))
    """
    exact = amount / WAN
    wan = exact.quantize(FEN, rounding=ROUND_HALF_UP)
    return (wan if wan else wan.copy_abs()), wan == exact


def _group(n: int) -> str:
    """0 < n < 10000 in capitals, zeros inside collapsed to one 零 and none at the end."""
    digits = f"{n:04d}".lstrip("0")
    out, zero = [], False
    for i, ch in enumerate(digits):
        place = len(digits) - 1 - i
        if ch == "0":
            zero = True
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[int(ch)] + _UNITS[place])
    return "".join(out)


def _integer(n: int) -> str:
    """A positive whole number of yuan in capitals (up to 1 万亿)."""
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            text = _integer(high) + unit
            if low:
                text += ("零" if low < size // 10 else "") + _integer(low)
            return text
    return _group(n)


@in_money_context
def daxie(amount: Decimal) -> str:
    """The amount in 人民币大写 (capital numerals of financial writing), exact to the fen.

    Follows 会计基础工作规范 第五十二条: 整 after 元 or 角, none after 分; zeros collapsed to
    one 零; a negative amount starts with 负.

    >>> daxie(Decimal("800000.00")), daxie(Decimal("123.45")), daxie(Decimal("1005.07"))
    ('捌拾万元整', '壹佰贰拾叁元肆角伍分', '壹仟零伍元零柒分')
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TypeError(f"daxie needs a finite Decimal, not {amount!r}")
    if amount != amount.quantize(FEN, rounding=ROUND_HALF_UP):
        raise ValueError(f"{amount} is not a whole number of fen; round it first")
    if abs(amount) > _DAXIE_MAX:
        raise ValueError(f"{amount} is beyond 1万亿 yuan")
    fen = int(abs(amount) * 100)
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    sign = "负" if amount < 0 else ""
    if fen == 0:
        return "零元整"
    text = _integer(yuan) + "元" if yuan else ""
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif fen_digit and yuan:
        text += "零"
    if fen_digit:
        text += _DIGITS[fen_digit] + "分"
    else:
        text += "整"
    return sign + text


# --------------------------------------------------------------------------- reading input

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", re.ASCII)
_GROUPED = re.compile(r"-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", re.ASCII)  # 8,000,000.00


@in_money_context
def parse_amount(text: str) -> Decimal:
    """An amount typed by a person, as exact yuan: ``80万``, ``80万元``, ``800,000.00``.

    Full-width digits and punctuation are read as their ASCII forms (``８０万``). ``万`` means
    ten thousand yuan, exactly. Raises ``ValueError`` saying what was expected.

    >>> parse_amount("80万"), parse_amount("800,000.00"), parse_amount("1.5万元")
    (Decimal('800000'), Decimal('800000.00'), Decimal('15000.0'))
    """
    written = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    if written.startswith(("¥", "￥")):
        written = written[1:]
    if written.startswith("人民币"):
        written = written[3:]
    factor = Decimal(1)
    if written.endswith("元"):
        written = written[:-1]
    if written.endswith("万"):
        factor, written = WAN, written[:-1]
    if _GROUPED.fullmatch(written):
        written = written.replace(",", "")
    if not _NUMBER.fullmatch(written):
        raise ValueError(f"{text!r} is not an amount; write yuan like 800000.00, 800,000.00 "
                         "or 80万")
    try:
        return Decimal(written) * factor
    except InvalidOperation:  # an exponent too large for the context
        raise ValueError(f"{text!r} is not an amount; write yuan like 800000.00") from None


_DAY_PATTERNS = (
    re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})", re.ASCII),
    re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})[日号]?"),
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII),
)


def parse_day(text: str) -> date:
    """A date typed by a person: ``2022-04-20``, ``2022/04/20``, ``2022-4-20``, ``2022年4月20日``.

    >>> parse_day("2022年4月20日"), parse_day("2022/4/2")
    (datetime.date(2022, 4, 20), datetime.date(2022, 4, 2))
    """
    written = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    for pattern in _DAY_PATTERNS:
        found = pattern.fullmatch(written)
        if found:
            year, month, day = (int(g) for g in found.groups())
            try:
                return date(year, month, day)
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a date in the calendar ({exc})") from None
    raise ValueError(f"{text!r} is not a date; write it like 2022-04-20, 2022/04/20 or "
                     "2022年4月20日")
