"""Retirement (Q3): the reform schedule, the minimum contribution and the pension estimate,
worked by hand to the fen (M1)."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.enums import Gender, RetirementClass
from domain.months import Month
from domain.retirement import (
    MEN,
    REFORM_EFFECTIVE,
    RETIREMENT_SCHEDULES,
    WOMEN_CADRES,
    WOMEN_WORKERS,
    AlreadyRetired,
    EstimateInput,
    InvalidRetirementInput,
    YearsMonths,
    account_divisor,
    as_years_months,
    contribution_months,
    effective_birth_date,
    minimum_contribution_months,
    pension_estimate,
    pension_start_month,
    retirement_age,
    retirement_month,
    retirement_schedule,
)

D = Decimal
MALE, FEMALE = Gender.MALE, Gender.FEMALE
WORKER, CADRE = RetirementClass.WORKER, RetirementClass.CADRE
AGE_60 = YearsMonths(60, 0)

birth_dates = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2010, 12, 31))
kinds = st.sampled_from(sorted(RETIREMENT_SCHEDULES, key=lambda key: (key[0].value, key[1].value)))


def born(year: int, month: int, day: int = 15) -> dt.date:
    return dt.date(year, month, day)


def half_up(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


# Q3: retirement age and month, the official reform table


@pytest.mark.parametrize(
    ("birth", "age", "month"),
    [
        (born(1964, 12), YearsMonths(60, 0), Month(2024, 12)),  # reaches 60 before 2025: unchanged
        (born(1965, 1), YearsMonths(60, 1), Month(2025, 2)),
        (born(1965, 4), YearsMonths(60, 1), Month(2025, 5)),
        (born(1965, 5), YearsMonths(60, 2), Month(2025, 7)),
        (born(1966, 3), YearsMonths(60, 4), Month(2026, 7)),  # 14 months after 1965-01: 14 // 4 + 1 = 4
        (born(1970, 12), YearsMonths(61, 6), Month(2032, 6)),  # 71 // 4 + 1 = 18
        (born(1976, 5), YearsMonths(62, 11), Month(2039, 4)),  # 136 // 4 + 1 = 35
        (born(1976, 8), YearsMonths(62, 11), Month(2039, 7)),
        (born(1976, 9), YearsMonths(63, 0), Month(2039, 9)),  # 140 // 4 + 1 = 36, the cap
        (born(1990, 6), YearsMonths(63, 0), Month(2053, 6)),
        (born(1955, 6), YearsMonths(60, 0), Month(2015, 6)),
    ],
)
def test_men(birth, age, month):
    for retirement_class in RetirementClass:  # a man's class does not matter
        assert retirement_age(birth, MALE, retirement_class) == age
        assert retirement_month(birth, MALE, retirement_class) == month


@pytest.mark.parametrize(
    ("birth", "age", "month"),
    [
        (born(1969, 12), YearsMonths(55, 0), Month(2024, 12)),
        (born(1970, 1), YearsMonths(55, 1), Month(2025, 2)),
        (born(1970, 4), YearsMonths(55, 1), Month(2025, 5)),
        (born(1970, 5), YearsMonths(55, 2), Month(2025, 7)),
        (born(1981, 8), YearsMonths(57, 11), Month(2039, 7)),  # 139 // 4 + 1 = 35
        (born(1981, 9), YearsMonths(58, 0), Month(2039, 9)),  # 140 // 4 + 1 = 36, the cap
        (born(1995, 1), YearsMonths(58, 0), Month(2053, 1)),
    ],
)
def test_women_cadres(birth, age, month):
    assert retirement_age(birth, FEMALE, CADRE) == age
    assert retirement_month(birth, FEMALE, CADRE) == month


@pytest.mark.parametrize(
    ("birth", "age", "month"),
    [
        (born(1974, 12), YearsMonths(50, 0), Month(2024, 12)),
        (born(1975, 1), YearsMonths(50, 1), Month(2025, 2)),
        (born(1975, 2), YearsMonths(50, 1), Month(2025, 3)),
        (born(1975, 3), YearsMonths(50, 2), Month(2025, 5)),
        (born(1980, 1), YearsMonths(52, 7), Month(2032, 8)),  # 60 // 2 + 1 = 31
        (born(1984, 10), YearsMonths(54, 11), Month(2039, 9)),  # 117 // 2 + 1 = 59
        (born(1984, 11), YearsMonths(55, 0), Month(2039, 11)),  # 118 // 2 + 1 = 60, the cap
        (born(1984, 12), YearsMonths(55, 0), Month(2039, 12)),
        (born(2000, 7), YearsMonths(55, 0), Month(2055, 7)),
    ],
)
def test_women_workers(birth, age, month):
    assert retirement_age(birth, FEMALE, WORKER) == age
    assert retirement_month(birth, FEMALE, WORKER) == month


def test_the_day_of_birth_does_not_matter_only_the_month():
    assert retirement_month(born(1965, 1, 1), MALE, WORKER) == retirement_month(born(1965, 1, 31), MALE, WORKER)


def test_the_pension_starts_the_month_after_the_retirement_month():
    assert pension_start_month(born(1965, 1), MALE, WORKER) == Month(2025, 3)
    assert pension_start_month(born(1974, 12), FEMALE, WORKER) == Month(2025, 1)


def test_a_birth_year_before_the_month_calendar_still_has_a_retirement_month():
    assert retirement_month(born(1945, 3), MALE, WORKER) == Month(2005, 3)


def test_the_schedules_are_those_of_the_reform():
    assert retirement_schedule(MALE, CADRE) is MEN and retirement_schedule(MALE, WORKER) is MEN
    assert retirement_schedule(FEMALE, CADRE) is WOMEN_CADRES
    assert retirement_schedule(FEMALE, WORKER) is WOMEN_WORKERS
    assert (MEN.final_age, WOMEN_CADRES.final_age, WOMEN_WORKERS.final_age) == (
        YearsMonths(63, 0),
        YearsMonths(58, 0),
        YearsMonths(55, 0),
    )
    # The first delayed birth month is the first that reaches the original age on or after 2025-01-01.
    for schedule in (MEN, WOMEN_CADRES, WOMEN_WORKERS):
        assert schedule.first_delayed_birth.plus(schedule.original_age.total_months) == Month.of(REFORM_EFFECTIVE)


# Q3: the archive birth date decides


def test_the_archive_birth_date_takes_precedence_over_the_card():
    card, archive = born(1966, 3), born(1964, 10)
    assert effective_birth_date(card, archive) == archive
    assert effective_birth_date(card, None) == card
    assert retirement_month(effective_birth_date(card, archive), MALE, WORKER) == Month(2024, 10)
    assert retirement_month(effective_birth_date(card, None), MALE, WORKER) == Month(2026, 7)


# Q3: minimum contribution months


@pytest.mark.parametrize(
    ("year", "months"),
    [
        (2020, 180),
        (2029, 180),
        (2030, 186),
        (2031, 192),
        (2035, 216),
        (2038, 234),
        (2039, 240),
        (2045, 240),
    ],
)
def test_minimum_contribution_months(year, months):
    assert minimum_contribution_months(Month(year, 1)) == months
    assert minimum_contribution_months(Month(year, 12)) == months


@given(year=st.integers(1990, 2100))
def test_minimum_never_falls_and_stays_within_15_and_20_years(year):
    this_year = minimum_contribution_months(Month(year, 6))
    assert 180 <= this_year <= 240
    assert this_year <= minimum_contribution_months(Month(year + 1, 6))


# Q2, F7: contribution years


def test_contribution_months_count_each_distinct_month_once():
    months = [Month(2024, 1), Month(2024, 2), Month(2024, 2), Month(2023, 12)]
    assert contribution_months(months) == 3
    assert contribution_months([]) == 0


def test_months_as_years_and_months():
    assert as_years_months(185) == YearsMonths(15, 5)
    assert as_years_months(240) == YearsMonths(20, 0)
    assert as_years_months(0) == YearsMonths(0, 0)
    assert str(as_years_months(186)) == "15y6m"
    with pytest.raises(InvalidRetirementInput):
        as_years_months(-1)


@given(months=st.lists(st.builds(Month, st.integers(1990, 2040), st.integers(1, 12)), max_size=60))
def test_contribution_months_is_the_number_of_distinct_months(months):
    count = contribution_months(months)
    assert count == len({month.to_int() for month in months})
    assert as_years_months(count).total_months == count


# Personal-account divisor


@pytest.mark.parametrize(
    ("age", "divisor"),
    [
        (YearsMonths(60, 0), D("139.00")),
        (YearsMonths(55, 0), D("170.00")),
        (YearsMonths(50, 0), D("195.00")),
        (YearsMonths(63, 0), D("117.00")),
        (YearsMonths(60, 4), D("136.67")),  # 139 - 7 x 4 / 12 = 136.666...
        (YearsMonths(50, 1), D("194.58")),  # 195 - 5 / 12 = 194.5833...
        (YearsMonths(59, 6), D("142.00")),  # 145 - 6 x 6 / 12
    ],
)
def test_account_divisor(age, divisor):
    assert account_divisor(age) == divisor


@pytest.mark.parametrize("age", [YearsMonths(49, 11), YearsMonths(63, 1), YearsMonths(65, 0)])
def test_an_age_outside_the_divisor_table_is_refused(age):
    with pytest.raises(InvalidRetirementInput):
        account_divisor(age)


# Q3: the pension estimate


def estimate_input(**changes) -> EstimateInput:
    values = dict(
        today=Month(2029, 6),
        retirement=Month(2030, 6),
        retirement_age=AGE_60,
        paid_months=240,
        mean_index=D("1.00"),
        account_balance=D("153600.00"),
        average_wage=D("8000.00"),
        grade=D("1.00"),
    )
    return EstimateInput(**{**values, **changes})


def test_twenty_years_at_grade_one_retiring_at_60():
    estimate = pension_estimate(estimate_input())
    # Stop now: 240 months; the 2030 minimum is 186.
    # basic = 8000.00 x (1 + 1.00) / 2 x 20 x 1% = 1600.00
    # account = 153600.00 (8% x 8000.00 x 240) / 139 = 1105.0359... -> 1105.04
    stop = estimate.stop_now
    assert (stop.contribution_months, stop.minimum_months, stop.eligible, stop.months_short) == (240, 186, True, 0)
    assert stop.contribution_years == YearsMonths(20, 0)
    assert (stop.basic_pension, stop.account_pension, stop.total) == (D("1600.00"), D("1105.04"), D("2705.04"))
    assert (stop.average_wage_at_retirement, stop.divisor, stop.mean_index) == (D("8000.00"), D("139.00"), D("1.0000"))
    # Keep paying 2029-07 .. 2030-06: 12 months more at grade 1.00, 252 months.
    # basic = 8000.00 x (1 + 1.00) / 2 x 21 x 1% = 1680.00
    # account = 153600.00 + 12 x 640.00 = 161280.00; / 139 = 1160.2877... -> 1160.29
    keep = estimate.keep_paying
    assert estimate.months_to_retirement == 12
    assert (keep.contribution_months, keep.account_at_retirement) == (252, D("161280.00"))
    assert (keep.basic_pension, keep.account_pension, keep.total) == (D("1680.00"), D("1160.29"), D("2840.29"))
    assert estimate.monthly_difference == D("135.25")  # 2840.29 - 2705.04


def test_a_low_grade_past_and_a_higher_grade_ahead():
    # 180 months at grade 0.60, account 8% x 4800.00 x 180 = 69120.00; then 60 months at 1.00.
    given_input = estimate_input(
        today=Month(2025, 6),
        retirement=Month(2030, 6),
        paid_months=180,
        mean_index=D("0.60"),
        account_balance=D("69120.00"),
    )
    estimate = pension_estimate(given_input)
    stop = estimate.stop_now
    # Stop now: 180 < 186 months for 2030: 6 months short, no pension.
    assert (stop.eligible, stop.months_short, stop.total, stop.basic_pension, stop.account_pension) == (
        False,
        6,
        None,
        None,
        None,
    )
    keep = estimate.keep_paying
    # mean = (180 x 0.60 + 60 x 1.00) / 240 = 168 / 240 = 0.70
    # basic = 8000.00 x 1.70 / 2 x 20 x 1% = 1360.00
    # account = 69120.00 + 60 x 640.00 = 107520.00; / 139 = 773.5251... -> 773.53
    assert (keep.contribution_months, keep.mean_index) == (240, D("0.7000"))
    assert (keep.basic_pension, keep.account_pension, keep.total) == (D("1360.00"), D("773.53"), D("2133.53"))
    assert estimate.monthly_difference is None  # stopping now gives no pension to compare


def test_not_eligible_either_way_says_how_many_months_are_missing():
    # Retiring 2035-03 needs 216 months; 150 paid, 25 months ahead (2033-03 .. 2035-03).
    estimate = pension_estimate(estimate_input(today=Month(2033, 2), retirement=Month(2035, 3), paid_months=150))
    assert estimate.months_to_retirement == 25
    assert (estimate.keep_paying.contribution_months, estimate.keep_paying.months_short) == (175, 41)
    assert (estimate.stop_now.contribution_months, estimate.stop_now.months_short) == (150, 66)
    assert estimate.keep_paying.total is None and estimate.stop_now.total is None
    assert estimate.monthly_difference is None


def test_a_delayed_woman_worker_retiring_with_an_interpolated_divisor():
    # Born 1975-03: 50 years 2 months, retiring 2025-05. Divisor 195 - 5 x 2 / 12 = 194.1666... -> 194.17.
    birth = born(1975, 3)
    age, retirement = retirement_age(birth, FEMALE, WORKER), retirement_month(birth, FEMALE, WORKER)
    estimate = pension_estimate(
        estimate_input(
            today=Month(2025, 2),
            retirement=retirement,
            retirement_age=age,
            paid_months=200,
            mean_index=D("0.60"),
            account_balance=D("76800.00"),
            grade=D("0.60"),
        )
    )
    stop = estimate.stop_now
    # basic = 8000.00 x 1.60 / 2 x (200 / 12) x 1% = 6400 x 200 / 1200 = 1066.666... -> 1066.67
    # account = 76800.00 / 194.17 = 395.5297... -> 395.53
    assert stop.divisor == D("194.17")
    assert (stop.basic_pension, stop.account_pension, stop.total) == (D("1066.67"), D("395.53"), D("1462.20"))
    keep = estimate.keep_paying
    # 3 months more (2025-03 .. 2025-05) at 0.60: 8% x 4800.00 = 384.00 a month.
    # basic = 8000.00 x 1.60 / 2 x (203 / 12) x 1% = 6400 x 203 / 1200 = 1082.666... -> 1082.67
    # account = 76800.00 + 1152.00 = 77952.00; / 194.17 = 401.4626... -> 401.46
    assert (keep.contribution_months, keep.account_at_retirement) == (203, D("77952.00"))
    assert (keep.basic_pension, keep.account_pension, keep.total) == (D("1082.67"), D("401.46"), D("1484.13"))
    assert estimate.monthly_difference == D("21.93")


def test_wage_growth_raises_the_wage_of_each_later_year():
    # 5% a year from 8000.00 in 2026: 2027 is 8400.00.
    # Keep paying 2026-02 .. 2027-12 at 1.00: 11 x 640.00 + 12 x (8% x 8400.00 = 672.00) = 7040 + 8064 = 15104.00
    estimate = pension_estimate(
        estimate_input(
            today=Month(2026, 1), retirement=Month(2027, 12), account_balance=D("0.00"), annual_wage_growth=D("0.05")
        )
    )
    keep, stop = estimate.keep_paying, estimate.stop_now
    assert keep.average_wage_at_retirement == stop.average_wage_at_retirement == D("8400.00")
    assert keep.account_at_retirement == D("15104.00")
    # stop: 8400.00 x 2 / 2 x 20 x 1% = 1680.00; keep: 263 months: 8400 x 263 / 1200 = 1841.00
    assert (stop.basic_pension, keep.basic_pension) == (D("1680.00"), D("1841.00"))


def test_not_paying_now_has_no_keep_paying_scenario():
    estimate = pension_estimate(estimate_input(grade=None))
    assert estimate.keep_paying is None and estimate.monthly_difference is None
    assert estimate.stop_now.total == D("2705.04")


@pytest.mark.parametrize("today", [Month(2030, 6), Month(2031, 1)])
def test_an_estimate_at_or_after_the_retirement_month_is_refused(today):
    with pytest.raises(AlreadyRetired):
        pension_estimate(estimate_input(today=today))


@pytest.mark.parametrize(
    "changes",
    [
        {"paid_months": -1},
        {"mean_index": D("-0.10")},
        {"account_balance": D("-1.00")},
        {"average_wage": D("0")},
        {"average_wage": 8000.0},
        {"grade": D("-1.00")},
        {"grade": D("0")},
        {"annual_wage_growth": D("-0.01")},
        {"mean_index": D("NaN")},
        {"retirement_age": YearsMonths(45, 0)},
    ],
)
def test_a_negative_or_inexact_input_is_refused(changes):
    with pytest.raises(InvalidRetirementInput):
        pension_estimate(estimate_input(**changes))


# Properties


@given(birth=birth_dates, kind=kinds)
def test_the_reform_delays_by_no_more_than_its_cap(birth, kind):
    gender, retirement_class = kind
    schedule = RETIREMENT_SCHEDULES[kind]
    old_rules = Month(birth.year + schedule.original_years, birth.month)
    month = retirement_month(birth, gender, retirement_class)
    delay = old_rules.months_until(month)
    assert 0 <= delay <= schedule.max_delay_months
    assert delay == 0 or month >= Month(2025, 2)  # nobody reaching the old age before 2025 is delayed
    assert retirement_age(birth, gender, retirement_class).total_months == schedule.original_years * 12 + delay


@given(first=birth_dates, second=birth_dates, kind=kinds)
def test_a_later_birth_never_retires_earlier_nor_younger(first, second, kind):
    earlier, later = sorted((first, second))
    assert retirement_month(earlier, *kind) <= retirement_month(later, *kind)
    assert retirement_age(earlier, *kind) <= retirement_age(later, *kind)


months_ahead = st.integers(1, 240)
grades = st.sampled_from([D("0.60") + D("0.10") * i for i in range(25)])
estimates = st.builds(
    lambda ahead, paid, mean, balance, wage, grade, growth, age: estimate_input(
        today=Month(2026, 1),
        retirement=Month(2026, 1).plus(ahead),
        paid_months=paid,
        mean_index=mean,
        account_balance=balance,
        average_wage=wage,
        grade=grade,
        annual_wage_growth=growth,
        retirement_age=age,
    ),
    months_ahead,
    st.integers(0, 480),
    st.decimals(min_value=D("0.60"), max_value=D("3.00"), places=4),
    st.decimals(min_value=D("0.00"), max_value=D("800000.00"), places=2),
    st.decimals(min_value=D("1000.00"), max_value=D("30000.00"), places=2),
    grades,
    st.decimals(min_value=D("0.00"), max_value=D("0.10"), places=3),
    st.builds(YearsMonths, st.integers(50, 62), st.integers(0, 11)),
)


@given(given_input=estimates)
def test_keeping_on_never_pays_less_than_stopping(given_input):
    estimate = pension_estimate(given_input)
    keep, stop = estimate.keep_paying, estimate.stop_now
    assert keep.contribution_months == stop.contribution_months + estimate.months_to_retirement
    assert keep.account_at_retirement >= stop.account_at_retirement
    assert keep.months_short <= stop.months_short
    if stop.eligible:
        assert keep.eligible
        assert keep.total >= stop.total
        assert estimate.monthly_difference == keep.total - stop.total >= 0
    for scenario in (keep, stop):
        if scenario.eligible:
            assert scenario.total == scenario.basic_pension + scenario.account_pension
            assert scenario.basic_pension == half_up(
                scenario.average_wage_at_retirement
                * (1 + scenario.mean_index)
                / 2
                * scenario.contribution_months
                / 12
                * D("0.01")
            )
            assert scenario.total.as_tuple().exponent == -2
        else:
            assert scenario.total is None
            assert scenario.months_short == scenario.minimum_months - scenario.contribution_months > 0
