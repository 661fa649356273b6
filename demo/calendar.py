"""The demo city's calendar: which months it has history for, and what each month cost.

Prices come from the parameters in force in the database month by month (P1-P5), through the
domain's pricing functions, so that every stored figure can be recomputed by the application.
"""

from __future__ import annotations

import calendar as gregorian
import datetime as dt
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from domain.enums import InsuranceType, ParameterCode
from domain.interest import back_pay_interest
from domain.money import to_fen
from domain.months import LOCAL_TZ, Month, month_range
from domain.pricing import (
    EmployerPrice,
    FlexiblePrice,
    Rates,
    employer_contribution,
    flexible_medical,
    flexible_pension,
    rates_from_values,
)
from domain.tariff import PRICING_CODES, ParameterRow, value_in_force

FLEXIBLE_HISTORY_MONTHS = 24  # two years of flexible history up to last month
EMPLOYER_HISTORY_MONTHS = 12  # a year of employer-channel history up to last month
PUBLISHED_WAGE_YEARS = 3  # the years a 24-month history up to last month can touch
# The published average monthly wage of one year, rising about 5% a year from it (P1).
WAGE_ANCHOR_YEAR = 2024
WAGE_ANCHOR = Decimal("8000")
WAGE_GROWTH = Decimal("1.05")


def published_average_wage(year: int) -> Decimal:
    """The demo city's average monthly wage of ``year``: whole yuan, about 5% more each year."""
    wage = WAGE_ANCHOR * WAGE_GROWTH ** (year - WAGE_ANCHOR_YEAR)
    return to_fen(wage.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def wage_years(this_month: Month) -> list[int]:
    """The years whose average wage is published: the last three, which hold the whole history."""
    return list(range(this_month.year - PUBLISHED_WAGE_YEARS + 1, this_month.year + 1))


@dataclass
class Calendar:
    """The months of the demo history and their prices, looked up once per distinct input."""

    now: dt.datetime
    this_month: Month
    average_wages: dict[int, Decimal]
    rates: dict[int, Rates]
    interest_rates: dict[int, Decimal]

    @classmethod
    def build(cls, now: dt.datetime, rows: list[ParameterRow]) -> Calendar:
        this_month = Month.of(now.date())
        months = month_range(this_month.plus(-FLEXIBLE_HISTORY_MONTHS), this_month)
        return cls(
            now=now,
            this_month=this_month,
            average_wages={m.to_int(): value_in_force(rows, ParameterCode.AVERAGE_MONTHLY_WAGE, m) for m in months},
            rates={
                m.to_int(): rates_from_values({code: value_in_force(rows, code, m) for code in PRICING_CODES})
                for m in months
            },
            interest_rates={m.to_int(): value_in_force(rows, ParameterCode.BACK_PAY_INTEREST_RATE, m) for m in months},
        )

    @property
    def last_month(self) -> Month:
        """The last month with history: the month before now."""
        return self.this_month.plus(-1)

    @property
    def flexible_first(self) -> Month:
        return self.this_month.plus(-FLEXIBLE_HISTORY_MONTHS)

    @property
    def employer_first(self) -> Month:
        return self.this_month.plus(-EMPLOYER_HISTORY_MONTHS)

    def average_wage(self, month: int) -> Decimal:
        return self.average_wages[month]

    def pension_price(self, month: int, grade: Decimal) -> FlexiblePrice:
        return _pension_price(self.average_wages[month], grade, self.rates[month])

    def medical_price(self, month: int) -> FlexiblePrice:
        return _medical_price(self.average_wages[month], self.rates[month])

    def employer_price(self, month: int, wage: Decimal, insurance_type: InsuranceType) -> EmployerPrice:
        return _employer_price(wage, self.average_wages[month], insurance_type, self.rates[month])

    def interest(self, principal: Decimal, due: int, paid: int) -> Decimal:
        return back_pay_interest(principal, Month.from_int(due), Month.from_int(paid), self.interest_rates[paid])

    # Moments of the demo history, in local time (M2) and never after now.

    def month_start(self, month: int) -> dt.datetime:
        return dt.datetime(month // 100, month % 100, 1, 0, 5, tzinfo=LOCAL_TZ)

    def month_end(self, month: int) -> dt.datetime:
        """When the month-end run collects the month's contributions (M4)."""
        year, number = divmod(month, 100)
        return dt.datetime(year, number, gregorian.monthrange(year, number)[1], 23, 0, tzinfo=LOCAL_TZ)

    def office_hours(self, rng: random.Random, month: int, last_day: int = 28) -> dt.datetime:
        """A moment between 08:00 and 18:00 on one of the first ``last_day`` days of ``month``."""
        if month == self.this_month.to_int():
            last_day = min(last_day, self.now.day)
        moment = dt.datetime(
            month // 100,
            month % 100,
            rng.randint(1, last_day),
            rng.randint(8, 17),
            rng.randrange(60),
            rng.randrange(60),
            tzinfo=LOCAL_TZ,
        )
        return min(moment, self.now)


@cache
def _pension_price(average_wage: Decimal, grade: Decimal, rates: Rates) -> FlexiblePrice:
    return flexible_pension(average_wage, grade, rates)


@cache
def _medical_price(average_wage: Decimal, rates: Rates) -> FlexiblePrice:
    return flexible_medical(average_wage, rates)


@cache
def _employer_price(wage: Decimal, average_wage: Decimal, insurance_type: InsuranceType, rates: Rates) -> EmployerPrice:
    return employer_contribution(wage, average_wage, insurance_type, rates)
