"""Back-payment interest (P5), worked by hand to the fen (M1)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.interest import (
    DEFAULT_ANNUAL_RATE,
    InvalidInterestInput,
    back_pay_interest,
    months_overdue,
    simple_interest,
)
from domain.months import Month

D = Decimal

principals = st.decimals(min_value=D("0.00"), max_value=D("100000.00"), places=2)
months = st.builds(Month, st.integers(2000, 2040), st.integers(1, 12))
rates = st.decimals(min_value=D("0.0000"), max_value=D("0.2000"), places=4)


def test_the_default_rate_is_one_and_a_half_percent_a_year():
    assert DEFAULT_ANNUAL_RATE == D("0.015")


def test_960_over_14_months():
    # 960.00 x 1.5% x 14 / 12 = 16.80
    assert back_pay_interest(D("960.00"), Month(2025, 1), Month(2026, 3)) == D("16.80")


def test_interest_is_rounded_half_up_once():
    # 487.00 x 1.5% x 12 / 12 = 7.305: half-up 7.31 (half-even would give 7.30).
    assert simple_interest(D("487.00"), 12) == D("7.31")


def test_a_whole_year_at_another_rate():
    assert back_pay_interest(D("1000.00"), Month(2024, 6), Month(2025, 6), D("0.03")) == D("30.00")


@pytest.mark.parametrize(
    ("due", "paid"),
    [
        (Month(2026, 3), Month(2026, 3)),  # paid in the month it was due
        (Month(2026, 3), Month(2025, 12)),  # paid before it was due
    ],
)
def test_no_interest_when_not_late(due, paid):
    assert back_pay_interest(D("960.00"), due, paid) == D("0.00")


def test_months_overdue_counts_whole_calendar_months():
    assert months_overdue(Month(2025, 12), Month(2026, 1)) == 1
    assert months_overdue(Month(2025, 1), Month(2026, 3)) == 14
    assert months_overdue(Month(2026, 3), Month(2026, 1)) == 0


@pytest.mark.parametrize(
    ("principal", "rate"),
    [(D("-1.00"), D("0.015")), (D("1.00"), D("-0.01")), (960.0, D("0.015")), (D("1.00"), D("NaN"))],
)
def test_a_negative_or_inexact_input_is_refused(principal, rate):
    with pytest.raises(InvalidInterestInput):
        simple_interest(principal, 3, rate)


@given(principal=principals, due=months, paid=months, rate=rates)
def test_interest_is_never_negative_and_exact_to_the_fen(principal, due, paid, rate):
    interest = back_pay_interest(principal, due, paid, rate)
    late = max(0, due.months_until(paid))
    assert interest >= 0
    assert interest == (principal * rate * late / 12).quantize(D("0.01"), rounding=ROUND_HALF_UP)


@given(principal=principals, fewer=st.integers(-24, 600), more=st.integers(-24, 600), rate=rates)
def test_interest_never_falls_as_months_pass(principal, fewer, more, rate):
    fewer, more = sorted((fewer, more))
    assert simple_interest(principal, fewer, rate) <= simple_interest(principal, more, rate)
