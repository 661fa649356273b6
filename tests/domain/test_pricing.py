"""Pricing of a contribution month (P2, P3, P4), worked by hand to the fen (M1)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.enums import InsuranceType, ParameterCode
from domain.parameters import DEFAULT_VALUES
from domain.pricing import (
    EmployerPrice,
    FlexiblePrice,
    InvalidPensionGrade,
    InvalidPricingInput,
    check_pension_grade,
    default_rates,
    employer_base,
    employer_contribution,
    flexible_medical,
    flexible_pension,
    pension_grades,
    rates_from_values,
)

RATES = default_rates()
D = Decimal
AVERAGE = D("8000.00")

average_wages = st.decimals(min_value=D("1000.00"), max_value=D("60000.00"), places=2)
grades = st.sampled_from(pension_grades(RATES))
declared_wages = st.decimals(min_value=D("0.00"), max_value=D("200000.00"), places=2)


def half_up(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


# P2: flexible pension


@pytest.mark.parametrize(
    ("grade", "base", "amount"),
    [
        (D("1.00"), D("8000.00"), D("1600.00")),
        (D("0.60"), D("4800.00"), D("960.00")),
        (D("0.70"), D("5600.00"), D("1120.00")),
        (D("3.00"), D("24000.00"), D("4800.00")),
    ],
)
def test_pension_at_an_average_wage_of_8000(grade, base, amount):
    assert flexible_pension(AVERAGE, grade, RATES) == FlexiblePrice(base, D("0.20"), amount)


def test_pension_base_is_rounded_half_up_before_the_rate_applies():
    # 0.70 x 8000.15 = 5600.105: half-up gives .11 (half-even would give .10); 20% of it is 1120.022.
    assert flexible_pension(D("8000.15"), D("0.70"), RATES) == FlexiblePrice(D("5600.11"), D("0.20"), D("1120.02"))


def test_the_grades_run_from_60_to_300_percent_in_steps_of_10():
    allowed = pension_grades(RATES)
    assert len(allowed) == 25
    assert allowed[0] == D("0.60") and allowed[1] == D("0.70") and allowed[-1] == D("3.00")


@pytest.mark.parametrize("grade", [D("0.50"), D("3.10"), D("0.65"), D("1.05"), D("0"), D("-1"), D("NaN")])
def test_a_grade_off_the_steps_is_refused(grade):
    with pytest.raises(InvalidPensionGrade):
        flexible_pension(AVERAGE, grade, RATES)


def test_a_float_grade_is_refused():
    with pytest.raises(InvalidPensionGrade):
        check_pension_grade(1.0, RATES)  # type: ignore[arg-type]


def test_a_grade_written_with_more_places_is_the_same_grade():
    assert check_pension_grade(D("1.0000"), RATES) == D("1.00")


@pytest.mark.parametrize("average", [D("0"), D("-8000"), 8000.0])
def test_an_average_wage_that_is_not_a_positive_decimal_is_refused(average):
    with pytest.raises(InvalidPricingInput):
        flexible_pension(average, D("1.00"), RATES)


@given(average=average_wages, grade=grades)
def test_pension_is_exact_to_the_fen(average, grade):
    price = flexible_pension(average, grade, RATES)
    assert price.base == half_up(grade * average)
    assert price.amount == half_up(price.base * D("0.20"))
    assert price.base.as_tuple().exponent == -2 and price.amount.as_tuple().exponent == -2


@given(average=average_wages, low=grades, high=grades)
def test_pension_never_falls_as_the_grade_rises(average, low, high):
    low, high = sorted((low, high))
    assert flexible_pension(average, low, RATES).amount <= flexible_pension(average, high, RATES).amount


@given(low=average_wages, high=average_wages, grade=grades)
def test_pension_never_falls_as_the_average_wage_rises(low, high, grade):
    low, high = sorted((low, high))
    assert flexible_pension(low, grade, RATES).amount <= flexible_pension(high, grade, RATES).amount


# P3: flexible medical


def test_medical_at_an_average_wage_of_8000():
    # 6% of 8000.00 = 480.00, plus the 7.00 large-claim top-up.
    assert flexible_medical(AVERAGE, RATES) == FlexiblePrice(D("8000.00"), D("0.06"), D("487.00"))


def test_medical_share_is_rounded_half_up():
    # 6% of 8000.75 = 480.045: half-up 480.05 (half-even would give 480.04), plus 7.00.
    assert flexible_medical(D("8000.75"), RATES).amount == D("487.05")


@given(average=average_wages)
def test_medical_is_exact_to_the_fen(average):
    price = flexible_medical(average, RATES)
    assert price.base == average
    assert price.amount == half_up(average * D("0.06")) + D("7.00")


# P4: employer channel


@pytest.mark.parametrize(
    ("insurance_type", "employer", "person", "rate"),
    [
        (InsuranceType.PENSION, D("1600.00"), D("800.00"), D("0.24")),
        (InsuranceType.MEDICAL, D("800.00"), D("200.00"), D("0.10")),
        (InsuranceType.UNEMPLOYMENT, D("70.00"), D("30.00"), D("0.010")),
        (InsuranceType.WORK_INJURY, D("50.00"), D("0.00"), D("0.005")),
        (InsuranceType.MATERNITY, D("70.00"), D("0.00"), D("0.007")),
    ],
)
def test_employer_shares_on_a_wage_of_10000(insurance_type, employer, person, rate):
    price = employer_contribution(D("10000.00"), AVERAGE, insurance_type, RATES)
    assert price == EmployerPrice(D("10000.00"), employer, person, employer + person, rate)


@pytest.mark.parametrize(
    ("declared", "base"),
    [
        (D("3000.00"), D("4800.00")),  # below 60% of 8000
        (D("4800.00"), D("4800.00")),
        (D("30000.00"), D("24000.00")),  # above 300% of 8000
        (D("6543.214"), D("6543.21")),
    ],
)
def test_employer_base_is_the_declared_wage_held_within_60_to_300_percent(declared, base):
    assert employer_base(declared, AVERAGE, RATES) == base


def test_employer_shares_are_rounded_each_on_its_own():
    # 0.7% of 6543.21 = 45.80247 and 0.3% = 19.62963: 45.80 + 19.63 = 65.43.
    price = employer_contribution(D("6543.21"), AVERAGE, InsuranceType.UNEMPLOYMENT, RATES)
    assert (price.employer_amount, price.person_amount, price.total) == (D("45.80"), D("19.63"), D("65.43"))


def test_a_floor_wage_of_pension_at_8000():
    price = employer_contribution(D("3000.00"), AVERAGE, InsuranceType.PENSION, RATES)
    assert (price.base, price.total) == (D("4800.00"), D("1152.00"))


def test_a_negative_declared_wage_is_refused():
    with pytest.raises(InvalidPricingInput):
        employer_base(D("-1.00"), AVERAGE, RATES)


@given(declared=declared_wages, average=average_wages, insurance_type=st.sampled_from(InsuranceType))
def test_employer_price_is_exact_and_its_parts_add_up(declared, average, insurance_type):
    price = employer_contribution(declared, average, insurance_type, RATES)
    shares = RATES.shares(insurance_type)
    assert half_up(average * D("0.60")) <= price.base <= half_up(average * D("3.00"))
    assert price.employer_amount == half_up(price.base * shares.employer)
    assert price.person_amount == half_up(price.base * shares.person)
    assert price.total == price.employer_amount + price.person_amount


@given(low=declared_wages, high=declared_wages, average=average_wages)
def test_employer_price_never_falls_as_the_wage_rises(low, high, average):
    low, high = sorted((low, high))
    cheap = employer_contribution(low, average, InsuranceType.PENSION, RATES)
    dear = employer_contribution(high, average, InsuranceType.PENSION, RATES)
    assert cheap.total <= dear.total


# Rates are parameters (effective-dated), not constants


def test_rates_in_force_come_from_parameter_values():
    values = {
        **DEFAULT_VALUES,
        ParameterCode.FLEX_PENSION_RATE: D("0.18"),
        ParameterCode.FLEX_MEDICAL_TOP_UP: D("10.00"),
    }
    rates = rates_from_values(values)
    assert flexible_pension(AVERAGE, D("1.00"), rates).amount == D("1440.00")
    assert flexible_medical(AVERAGE, rates).amount == D("490.00")


def test_default_rates_are_those_of_the_domain():
    assert RATES.flex_pension_rate == D("0.20")
    assert RATES.shares(InsuranceType.PENSION).total == D("0.24")
