"""Back-payment interest (rule P5): simple interest in whole months, exact to the fen (M1)."""

from __future__ import annotations

from decimal import Decimal

from domain.enums import ParameterCode
from domain.money import to_fen
from domain.months import Month
from domain.parameters import DEFAULT_VALUES

DEFAULT_ANNUAL_RATE = DEFAULT_VALUES[ParameterCode.BACK_PAY_INTEREST_RATE]
MONTHS_A_YEAR = 12


class InvalidInterestInput(ValueError):
    """A principal or a rate that interest cannot be computed on."""


def months_overdue(due: Month, paid: Month) -> int:
    """Whole months from the month a contribution was due to the month it is paid; never negative."""
    return max(0, due.months_until(paid))


def simple_interest(principal: Decimal, months: int, annual_rate: Decimal = DEFAULT_ANNUAL_RATE) -> Decimal:
    """principal x rate x months / 12, rounded half-up once at the end (P5, M1)."""
    if not isinstance(principal, Decimal) or not principal.is_finite() or principal < 0:
        raise InvalidInterestInput(f"a principal is a decimal that is not negative, not {principal!r}")
    if not isinstance(annual_rate, Decimal) or not annual_rate.is_finite() or annual_rate < 0:
        raise InvalidInterestInput(f"an interest rate is a decimal that is not negative, not {annual_rate!r}")
    if months <= 0:
        return to_fen(0)
    return to_fen(principal * annual_rate * months / MONTHS_A_YEAR)


def back_pay_interest(
    principal: Decimal, due: Month, paid: Month, annual_rate: Decimal = DEFAULT_ANNUAL_RATE
) -> Decimal:
    """The interest on a contribution due in ``due`` and paid in ``paid`` (P5); 0 when not late."""
    return simple_interest(principal, months_overdue(due, paid), annual_rate)
