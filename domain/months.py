"""Contribution months and the monthly deadline (rules M2, M3).

A month is stored as the integer YYYYMM (202611): sortable, readable in SQL, and checkable by a
database constraint on every engine.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # rule M2
DEADLINE_DAY = 20  # rule M3
FIRST_YEAR = 1950
LAST_YEAR = 2199
_MONTH_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})")


class InvalidMonth(ValueError):
    """A month that is malformed or does not exist."""


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (FIRST_YEAR <= self.year <= LAST_YEAR):
            raise InvalidMonth(f"year {self.year} is outside {FIRST_YEAR}..{LAST_YEAR}")
        if not (1 <= self.month <= 12):
            raise InvalidMonth(f"month {self.month} does not exist")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse "YYYY-MM"; "2026-13" and "2026-1" are refused."""
        match = _MONTH_TEXT.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise InvalidMonth(f"{text!r} is not a month in the form YYYY-MM")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def from_int(cls, value: int) -> Month:
        return cls(value // 100, value % 100)

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    def to_int(self) -> int:
        return self.year * 100 + self.month

    def index(self) -> int:
        """Months since year 0: differences of indexes count whole months."""
        return self.year * 12 + self.month - 1

    def plus(self, months: int) -> Month:
        index = self.index() + months
        return Month(index // 12, index % 12 + 1)

    def months_until(self, later: Month) -> int:
        return later.index() - self.index()

    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    def deadline(self) -> dt.date:
        """The 20th of this month: filings made on or before it are on time (M3)."""
        return dt.date(self.year, self.month, DEADLINE_DAY)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_range(first: Month, last: Month) -> list[Month]:
    return [first.plus(i) for i in range(first.months_until(last) + 1)]


def is_on_time(day: dt.date) -> bool:
    """True when a filing made on ``day`` meets its month's deadline (M3)."""
    return day.day <= DEADLINE_DAY


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TZ).date()
