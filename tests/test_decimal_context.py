"""Results do not depend on the caller's :mod:`decimal` context.

Found by a differential run of whole pipelines (settle, assess, the air assessment, statements,
reports, ``ledger verify``) under the default context and under hostile ones: low precision,
other rounding modes, traps on or off, ``capitals=0``, ``clamp=1``. Each test here fails
without the fix it names and passes with it. See also tests/test_trust_campaign.py.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

import ecocomp
from ecocomp.formatting import daxie, format_wan

D = Decimal


# --------------------------------------------------------------------------- money


def test_the_amount_bound_is_not_rounded_away_by_the_callers_precision():
    """With ``prec = 6``, abs(1000000000000.01) rounded to 1.00000E+12, which is not above
    the bound: to_yuan() and to_fen() accepted an amount above 1万亿 yuan."""
    with decimal.localcontext(prec=6):
        with pytest.raises(ValueError, match="beyond"):
            ecocomp.to_yuan("1000000000000.01")
        with pytest.raises(ValueError, match="beyond"):
            ecocomp.to_fen(D("1000000000000.01"))


def test_to_yuan_rounds_with_inexact_trapped_by_the_caller():
    """A caller trapping Inexact got decimal.Inexact from to_yuan('0.005'), not 0.01."""
    with decimal.localcontext(traps=[decimal.Inexact, decimal.Rounded]):
        assert ecocomp.to_yuan("0.005") == D("0.01")
        assert ecocomp.to_yuan("1234.5678") == D("1234.57")


def test_amounts_in_words_and_wan_do_not_depend_on_the_callers_context():
    """daxie() raised InvalidOperation under prec = 6 (quantize of 8,000,000.00 needs 9
    digits), so `statement --daxie` failed; format_wan raised with Inexact trapped."""
    amounts = [D("8000000.00"), D("533333.33"), D("-12345678.90")]
    expected = [(daxie(a), format_wan(a)) for a in amounts]
    for hostile in (dict(prec=6), dict(traps=[decimal.Inexact]),
                    dict(rounding=decimal.ROUND_DOWN)):
        with decimal.localcontext(**hostile):
            assert [(daxie(a), format_wan(a)) for a in amounts] == expected, hostile


# --------------------------------------------------------------------------- water


def test_exceedance_multiples_and_the_trophic_index_ignore_the_callers_rounding():
    """Their 50-digit working contexts copied the caller's rounding: under ROUND_DOWN the
    超标倍数 of CODMn 15.0000001 ended …666 instead of …667, and TLI(Σ) changed too."""
    tli_values = {"chla": "0.0123456", "tp": "0.0512345", "tn": "1.2345678", "sd": "0.6789",
                  "codmn": "4.56789"}
    multiple = ecocomp.exceedance_multiple("codmn", "15.0000001")
    tli = ecocomp.trophic_index(tli_values)
    assert str(multiple).endswith("6667")
    for rounding in (decimal.ROUND_DOWN, decimal.ROUND_FLOOR, decimal.ROUND_UP):
        with decimal.localcontext(rounding=rounding):
            assert ecocomp.exceedance_multiple("codmn", "15.0000001") == multiple
            assert ecocomp.trophic_index(tli_values) == tli


def test_classification_json_does_not_follow_the_callers_capitals():
    """A multiple of 1.67E-7 was written '1.6666…7e-7' in to_json() under capitals=0."""
    values = {"codmn": "6.000001", "nh3n": "0.5"}
    expected = ecocomp.classify(values).to_json()
    assert expected["items"]["codmn"]["multiple"].endswith("E-7")
    with decimal.localcontext(capitals=0):
        assert ecocomp.classify(values).to_json() == expected
