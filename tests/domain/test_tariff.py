"""Parameters in force month by month (P1-P5) and what they price, including the F8 back-pay."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.enums import ParameterCode
from domain.errors import BusinessError, ErrorCode
from domain.months import Month
from domain.parameters import DEFAULT_VALUES, DEFAULTS_EFFECTIVE_FROM
from domain.pricing import default_rates, pension_grades
from domain.tariff import ParameterRow, Tariff

D = Decimal
DEFAULT_ROWS = [ParameterRow(code, DEFAULTS_EFFECTIVE_FROM, value) for code, value in DEFAULT_VALUES.items()]


def tariff(*wages: tuple[int, str]) -> Tariff:
    rows = [ParameterRow(ParameterCode.AVERAGE_MONTHLY_WAGE, year * 100 + 1, D(amount)) for year, amount in wages]
    return Tariff(DEFAULT_ROWS + rows)


def test_a_year_not_yet_published_is_priced_at_the_last_published_wage():
    prices = tariff((2025, "7600.00"), (2026, "8000.00"))
    assert prices.average_wage(Month(2025, 12)) == D("7600.00")
    assert prices.pension(Month(2026, 1), D("1.00")).amount == D("1600.00")
    assert prices.pension(Month(2027, 3), D("1.00")).amount == D("1600.00")  # until 2027 is published (P1)
    assert prices.medical(Month(2025, 6)).amount == D("463.00")  # 6% of 7600.00 + 7.00


def test_without_any_published_wage_nothing_can_be_priced():
    with pytest.raises(BusinessError) as refused:
        tariff().pension(Month(2026, 1), D("1.00"))
    assert refused.value.code is ErrorCode.AVERAGE_WAGE_NOT_PUBLISHED


def test_interest_is_at_the_rate_in_force_when_paid():
    raised = Tariff(DEFAULT_ROWS + [ParameterRow(ParameterCode.BACK_PAY_INTEREST_RATE, 202601, D("0.03"))])
    assert raised.interest(D("1200.00"), Month(2025, 1), Month(2025, 7)) == D("9.00")  # 1.5% x 6/12
    assert raised.interest(D("1200.00"), Month(2025, 7), Month(2026, 1)) == D("18.00")  # 3% x 6/12


wages = st.decimals(min_value=D("1000.00"), max_value=D("60000.00"), places=2)


@given(
    due_wage=wages,
    rise=st.decimals(min_value=D("0.00"), max_value=D("20000.00"), places=2),
    grade=st.sampled_from(pension_grades(default_rates())),
    due_year=st.integers(2000, 2030),
    years_later=st.integers(0, 10),
    month=st.integers(1, 12),
    months_later=st.integers(0, 11),
)
def test_a_back_pay_after_cancellation_costs_at_least_what_was_cancelled(
    due_wage, rise, grade, due_year, years_later, month, months_later
):
    """F7, F8: at the same grade, when the wage has not fallen, back-paying a cancelled month later
    costs its principal at today's wage plus interest, never less than what was cancelled."""
    due = Month(due_year, month)
    paid = due.plus(years_later * 12 + months_later)
    prices = (
        tariff((due_year, str(due_wage)), (paid.year, str(due_wage + rise)))
        if paid.year != due_year
        else tariff((due_year, str(due_wage)))
    )
    cancelled = prices.pension(due, grade).amount
    back_pay = prices.pension(paid, grade).amount
    assert back_pay + prices.interest(back_pay, due, paid) >= cancelled
