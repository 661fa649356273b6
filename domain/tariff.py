"""The parameters in force month by month (P1-P5), and the prices they give.

Parameters are effective-dated rows; a month's value is the latest row that took effect on or
before it. The average wage of a year not yet published is therefore the last year's, until the
new one is published and the year is re-priced (P1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from domain.enums import ParameterCode
from domain.errors import BusinessError, ErrorCode
from domain.interest import back_pay_interest
from domain.months import Month
from domain.pricing import FlexiblePrice, Rates, flexible_medical, flexible_pension, rates_from_values

PRICING_CODES = tuple(
    code
    for code in ParameterCode
    if code not in (ParameterCode.AVERAGE_MONTHLY_WAGE, ParameterCode.CARD_PHOTO_STANDARD)
)


class MissingParameter(LookupError):
    """A parameter has no value in force in the month asked for."""


@dataclass(frozen=True, slots=True)
class ParameterRow:
    code: ParameterCode
    effective_from: int
    value: Decimal


def value_in_force(rows: Iterable[ParameterRow], code: ParameterCode, month: Month) -> Decimal:
    """The value of the latest row of ``code`` that took effect on or before ``month``."""
    candidates = [row for row in rows if row.code == code and row.effective_from <= month.to_int()]
    if not candidates:
        raise MissingParameter(f"{code.value} has no value in force in {month}; are the migrations applied?")
    return max(candidates, key=lambda row: row.effective_from).value


@dataclass
class Tariff:
    """Prices of flexible months and interest, from the parameter rows read once."""

    rows: list[ParameterRow]
    _rates: dict[int, Rates] = field(default_factory=dict)
    _prices: dict[tuple, FlexiblePrice] = field(default_factory=dict)  # a city has few distinct prices a month

    def average_wage(self, month: Month) -> Decimal:
        try:
            return value_in_force(self.rows, ParameterCode.AVERAGE_MONTHLY_WAGE, month)
        except MissingParameter:
            raise BusinessError(
                ErrorCode.AVERAGE_WAGE_NOT_PUBLISHED, f"no average monthly wage is published for {month.year} or before"
            ) from None

    def rates(self, month: Month) -> Rates:
        key = month.to_int()
        if key not in self._rates:
            self._rates[key] = rates_from_values(
                {code: value_in_force(self.rows, code, month) for code in PRICING_CODES}
            )
        return self._rates[key]

    def pension(self, month: Month, grade: Decimal) -> FlexiblePrice:
        """P2 for ``month`` at ``grade``."""
        key = (month, grade)
        if key not in self._prices:
            self._prices[key] = flexible_pension(self.average_wage(month), grade, self.rates(month))
        return self._prices[key]

    def medical(self, month: Month) -> FlexiblePrice:
        """P3 for ``month``."""
        key = (month, None)
        if key not in self._prices:
            self._prices[key] = flexible_medical(self.average_wage(month), self.rates(month))
        return self._prices[key]

    def interest(self, principal: Decimal, due: Month, paid: Month) -> Decimal:
        """P5 at the rate in force in the month of payment."""
        rate = value_in_force(self.rows, ParameterCode.BACK_PAY_INTEREST_RATE, paid)
        return back_pay_interest(principal, due, paid, rate)
