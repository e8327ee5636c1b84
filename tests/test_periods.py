from datetime import date, datetime

import pytest

from ecocomp.periods import Period


def test_parse_and_print_round_trip():
    assert str(Period.parse("2023-01")) == "2023-01"
    assert str(Period.parse("2023")) == "2023"
    assert Period.parse("2023-12") == Period(2023, 12)


@pytest.mark.parametrize("bad", ["2023-13", "23-01", "2023-1", "", "2023-00"])
def test_malformed_periods_are_refused(bad):
    with pytest.raises(ValueError):
        Period.parse(bad)


def test_month_bounds_and_days():
    assert Period(2024, 2).end == date(2024, 2, 29)
    assert Period(2023, 2).days == 28
    assert Period(2023).days == 365
    assert Period(2023, 12).end == date(2023, 12, 31)


def test_year_has_twelve_months_in_order():
    months = list(Period(2023).months())
    assert [m.month for m in months] == list(range(1, 13))
    assert list(Period(2023, 5).months()) == [Period(2023, 5)]


def test_contains_dates_and_datetimes():
    p = Period(2023, 1)
    assert p.contains(date(2023, 1, 31))
    assert p.contains(datetime(2023, 1, 31, 23, 59))
    assert not p.contains(date(2023, 2, 1))
    assert Period.of(datetime(2023, 7, 9, 8)) == Period(2023, 7)
