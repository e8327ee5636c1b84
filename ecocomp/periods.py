"""Assessment and settlement periods: a month ("2023-01") or a year ("2023"); quarters.

A :class:`Quarter` ("2023-Q3") is the period of quarterly air statistics (山东, 安徽).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

import attrs

__all__ = ["Period", "Quarter"]

_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


@attrs.frozen(order=True)
class Period:
    """A calendar month (``month`` 1–12) or a whole year (``month`` None).

    Orders chronologically within a year with the year itself first.

    >>> Period.parse("2023-01"), str(Period(2023))
    (Period(year=2023, month=1), '2023')
    """

    year: int = attrs.field(validator=attrs.validators.instance_of(int))
    month: int | None = attrs.field(default=None)

    @month.validator
    def _check_month(self, _attribute: object, value: int | None) -> None:
        if value is not None and not (isinstance(value, int) and 1 <= value <= 12):
            raise ValueError(f"month must be 1..12 or None, not {value!r}")

    def __attrs_post_init__(self) -> None:
        if not 1900 <= self.year <= 2999:
            raise ValueError(f"year {self.year} is out of range 1900..2999")

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """Parse ``YYYY`` or ``YYYY-MM``."""
        if isinstance(text, Period):
            return text
        match = _PATTERN.match(str(text).strip())
        if not match:
            raise ValueError(f"period {text!r} is not YYYY or YYYY-MM")
        year, month = match.groups()
        return cls(int(year), int(month) if month else None)

    @classmethod
    def of(cls, moment: date | datetime) -> Period:
        """The month containing a date or date-time."""
        return cls(moment.year, moment.month)

    @property
    def is_month(self) -> bool:
        return self.month is not None

    @property
    def start(self) -> date:
        return date(self.year, self.month or 1, 1)

    @property
    def end(self) -> date:
        """Last day of the period (inclusive)."""
        if self.month is None or self.month == 12:
            return date(self.year, 12, 31)
        return date.fromordinal(date(self.year, self.month + 1, 1).toordinal() - 1)

    @property
    def days(self) -> int:
        return self.end.toordinal() - self.start.toordinal() + 1

    def months(self) -> Iterator[Period]:
        """The months of this period (itself for a month)."""
        if self.month is not None:
            yield self
        else:
            for m in range(1, 13):
                yield Period(self.year, m)

    def year_period(self) -> Period:
        return Period(self.year)

    def shift_years(self, years: int) -> Period:
        return Period(self.year + years, self.month)

    def contains(self, moment: date | datetime) -> bool:
        d = moment.date() if isinstance(moment, datetime) else moment
        return self.start <= d <= self.end

    def __str__(self) -> str:
        return f"{self.year:04d}" if self.month is None else f"{self.year:04d}-{self.month:02d}"


@attrs.frozen(order=True)
class Quarter:
    """A calendar quarter (``quarter`` 1–4), with the same reading API as :class:`Period`.

    >>> Quarter.parse("2026-Q3").months()[0], Quarter(2026, 1).days, str(Quarter(2026, 4))
    (Period(year=2026, month=7), 90, '2026-Q4')
    """

    year: int = attrs.field(validator=attrs.validators.instance_of(int))
    quarter: int = attrs.field(validator=attrs.validators.in_((1, 2, 3, 4)))

    @classmethod
    def parse(cls, text: str | Quarter) -> Quarter:
        """Parse ``YYYY-Qn`` (or ``YYYYQn``)."""
        if isinstance(text, Quarter):
            return text
        match = _QUARTER.match(str(text).strip())
        if not match:
            raise ValueError(f"quarter {text!r} is not YYYY-Q1..YYYY-Q4")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: date | datetime) -> Quarter:
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        return Period(self.year, 3 * self.quarter).end

    @property
    def days(self) -> int:
        return self.end.toordinal() - self.start.toordinal() + 1

    def months(self) -> tuple[Period, ...]:
        return tuple(Period(self.year, m) for m in range(3 * self.quarter - 2,
                                                         3 * self.quarter + 1))

    def year_period(self) -> Period:
        return Period(self.year)

    def shift_years(self, years: int) -> Quarter:
        return Quarter(self.year + years, self.quarter)

    def contains(self, moment: date | datetime) -> bool:
        d = moment.date() if isinstance(moment, datetime) else moment
        return self.start <= d <= self.end

    def __str__(self) -> str:
        return f"{self.year:04d}-Q{self.quarter}"
