"""Results do not depend on the caller's :mod:`decimal` context.

Found by a differential run of whole pipelines (settle, assess, the air assessment, statements,
reports, ``ledger verify``) under the default context and under hostile ones: low precision,
other rounding modes, traps on or off, ``capitals=0``, ``clamp=1``. Each test here fails
without the fix it names and passes with it. See also tests/test_trust_campaign.py.
"""

from __future__ import annotations

import decimal
from datetime import date, timedelta
from decimal import Decimal

import pytest

import ecocomp
from ecocomp.air import AirStore, city_day, period_statistics, read_air_readings
from ecocomp.air.statistics import round_concentration
from ecocomp.formatting import daxie, format_wan
from ecocomp.periods import Period

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


def test_main_pollutants_are_ordered_the_same_under_the_callers_precision():
    """The ordering key negated each 超标倍数 in the caller's context: with prec = 3 the
    multiples 0.0010166… (CODMn) and 0.00102 (NH3-N) both became -0.00102 and the tie put
    CODMn first; with Inexact trapped, classify() raised."""
    values = {"codmn": "6.0061", "nh3n": "1.00102"}
    assert ecocomp.classify(values).main_pollutants == ("nh3n", "codmn")
    for hostile in (dict(prec=3), dict(traps=[decimal.Inexact])):
        with decimal.localcontext(**hostile):
            assert ecocomp.classify(values).main_pollutants == ("nh3n", "codmn")


# --------------------------------------------------------------------------- air


def _days(version: str = "HJ633-2012") -> list:
    start = date(2021, 1, 1)
    return [city_day("430100", start + timedelta(days=i),
                     {"pm25": D(70 + i % 9), "pm10": D(110 + i % 13), "so2": D(12 + i % 3),
                      "no2": D(33 + i % 5), "co": D("1.2") + D(i % 7) / 10,
                      "o3_8h": D(80 + i % 11)}, version=version)
            for i in range(31)]


def _statistics(round_concentrations: str = "none") -> tuple:
    stats = period_statistics(_days(), city="430100", period=Period(2021, 1),
                              round_concentrations=round_concentrations)
    return stats.values, stats.evidence


@pytest.mark.parametrize("hostile", [dict(prec=3), dict(clamp=1, Emax=40, Emin=-40),
                                     dict(traps=[decimal.Inexact, decimal.Rounded])],
                         ids=["prec3", "clamp", "inexact-trapped"])
@pytest.mark.parametrize("rounding", ["none", "hj663"])
def test_air_period_statistics_do_not_depend_on_the_callers_context(hostile, rounding):
    """The month's sums ran in the caller's context: with prec = 3 the PM10 mean was built
    from 3.62E+3 instead of 3591 (a class of 117 instead of 116 once rounded, and another
    综合指数); clamp=1 kept 20 decimals on the good-days ratio; a trapped Inexact raised."""
    expected = _statistics(rounding)
    with decimal.localcontext(**hostile):
        assert _statistics(rounding) == expected


def test_round_concentration_does_not_depend_on_the_callers_precision():
    """quantize() to a whole μg/m³ raised InvalidOperation under prec = 6 for 1234567.45."""
    with decimal.localcontext(prec=6):
        assert round_concentration("pm25_24h", D("1234567.45")) == D(1234567)
        assert round_concentration("co_24h", D("1.25")) == D("1.2")


AIR_CSV = "city,date,parameter,value,unit\n430100,2021-01-01,pm25,12.3456789,mg/m³\n" \
          "430100,2021-01-02,pm25,1E+2,μg/m³\n"


def test_air_readings_in_mg_are_not_rounded_by_the_callers_precision(tmp_path):
    """value × 1000 ran in the caller's context: 12.3456789 mg/m³ read as 12345.7 μg/m³
    under prec = 6 (the brief's 1234.5678 × 1 case is the same multiplication)."""
    path = tmp_path / "city.csv"
    path.write_text(AIR_CSV, encoding="utf-8")
    expected = [r.value for r in read_air_readings(path, cities={"430100"})]
    assert expected[0] == D("12345.6789000")
    with decimal.localcontext(prec=6):
        assert [r.value for r in read_air_readings(path, cities={"430100"})] == expected


def test_stored_air_values_do_not_follow_the_callers_capitals(tmp_path):
    """AirStore wrote str(value) in the caller's context: '1e+2' under capitals=0."""
    path = tmp_path / "city.csv"
    path.write_text(AIR_CSV, encoding="utf-8")

    def stored(db: str) -> list:
        with AirStore.open(tmp_path / db) as store:
            store.import_file(path, cities={"430100"})
            return store._conn.execute(
                "SELECT site, at, parameter, value FROM air_readings ORDER BY at").fetchall()

    expected = stored("default.db")
    with decimal.localcontext(capitals=0):
        assert stored("hostile.db") == expected


def test_a_changed_default_context_before_import_rounds_no_mean():
    """The working precisions of means (assessment's, the daily flow means) were built with
    ``Context(prec=…)``, which takes the rest from ``decimal.DefaultContext``: a program that
    set its rounding to ROUND_DOWN before importing ecocomp got 2/3 as …666 instead of …667."""
    import subprocess
    import sys

    script = (
        "import decimal, sys\n"
        "if sys.argv[1] == 'changed':\n"
        "    decimal.DefaultContext.rounding = decimal.ROUND_DOWN\n"
        "    decimal.setcontext(decimal.Context())\n"
        "from datetime import datetime\n"
        "from decimal import Decimal\n"
        "from types import SimpleNamespace\n"
        "from ecocomp.assessment import aggregate, assess\n"
        "from ecocomp.periods import Period\n"
        "from ecocomp.readings import Reading\n"
        "from ecocomp.store import ReadingStore\n"
        "rs = [Reading('s0', datetime(2023, 5, 1, h), p, Decimal(v)) for p in ('flow', 'nh3n')"
        " for h, v in ((1, '1'), (2, '1'), (3, '0'))]\n"
        "with ReadingStore.open(':memory:') as s:\n"
        "    s.add(rs)\n"
        "    print(s.daily_means('flow', Period(2023))['s0'])\n"
        "found = assess(aggregate(rs), [SimpleNamespace(code='s0', waterbody='river')], 2023)\n"
        "print(found.get('s0', Period(2023, 5)).items['nh3n'].value)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", script, how], capture_output=True,
                           text=True, check=True).stdout for how in ("default", "changed")]
    assert runs[0].count("0.66666666666666666666666666666666666666666666666667") == 2
    assert runs[1] == runs[0]
