"""Retirement (rule Q3): the retirement date, the minimum contribution, and a pension estimate.

Retirement age (Q3). The age follows the birth date in the person's archive when it differs from
the ID card (``effective_birth_date``). Before the 2025 reform the ages were: men 60, women cadres
55, women workers 50. The gradual reform took effect on 2025-01-01: whoever reaches the original
age before that date keeps it; for the later-born the age rises with the month of birth, as the
official schedule lists it:

- men (original 60): born 1965-01 retire at 60 years 1 month, then one month more for every 4
  months of birth date, up to 63 (born 1976-09 and later);
- women cadres (original 55): born 1970-01 retire at 55 years 1 month, one month more every 4
  months of birth date, up to 58 (born 1981-09 and later);
- women workers (original 50): born 1975-01 retire at 50 years 1 month, one month more every 2
  months of birth date, up to 55 (born 1984-11 and later).

So the delay in months is ``min(cap, (months from the first delayed birth month) // step + 1)``;
``RETIREMENT_SCHEDULES`` holds the three rows. The *retirement month* is the month of birth plus
the retirement age: the month in which the person reaches the age (born 1965-01-15, 60 years 1
month: 2025-02). It is the last month a contribution can count towards the pension; the pension
is paid from the month after (``pension_start_month``).

Minimum contribution (Q3): 15 years for those retiring before 2030; from 2030 it rises by 6 months
a year (2030: 15 years 6 months, 2031: 16 years, ...) until 20 years in 2039 and after; the year
of the retirement month decides.

Contribution years (Q2, F7): distinct months paid or back-paid; cancelled and unpaid months never
count, so the caller passes only those.

Pension estimate (Q3: "stopping payments lowers the pension"). The standard formula of the basic
pension insurance for urban employees:

- basic pension a month = W x (1 + I) / 2 x N x 1%, where W is the average monthly wage at
  retirement (P1), I the average indexed contribution wage ratio (the mean over contribution months
  of the month's base / that year's average wage; for flexible employment it is the grade, P2) and
  N the contribution years, counted to the month (months / 12);
- personal-account pension a month = the personal account at retirement / the months divisor of
  the retirement age (the national table: 139 at 60, 170 at 55, 195 at 50 ...). An age with
  months (60 years 4 months) takes the divisor interpolated linearly by month between the two
  whole ages, rounded half-up to 0.01.

Assumptions of the estimate (it is a guide, not the pension the agency will grant):

- The average wage keeps today's value every year until retirement, unless an annual growth rate
  is given; then the wage of year y is today's x (1 + growth) ^ (y - this year), rounded to the
  fen, and W is the wage of the retirement year.
- Months already paid count as given (``paid_months``, ``mean_index``, ``account_balance``). The
  current month counts only when the caller includes it.
- "Keep paying": the person pays the current grade every month from next month to the retirement
  month inclusive; each such month adds the grade to the index mean and 8% of its base
  (grade x that year's average wage, rounded to the fen) to the personal account (8 of the 20
  points of P2). "Stop now": nothing more is paid.
- The personal account earns no interest (the caller passes the account so far).
- The mean index is rounded half-up to 4 places; every amount is rounded half-up to the fen (M1).
- A scenario that falls short of the minimum months gives no pension, only how many months are
  missing (the person may back-pay interruptions, F8, or keep paying).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from domain.enums import Gender, RetirementClass
from domain.money import to_fen
from domain.months import Month

MONTHS_A_YEAR = 12
REFORM_EFFECTIVE = dt.date(2025, 1, 1)  # Q3: the gradual reform applies from this day
PERSONAL_ACCOUNT_RATE = Decimal("0.08")  # of the base, each paid flexible month (8 of the 20% of P2)
BASIC_PENSION_RATE = Decimal("0.01")  # 1% of the wage term for each contribution year
INDEX_PLACES = Decimal("0.0001")
DIVISOR_PLACES = Decimal("0.01")


class AlreadyRetired(ValueError):
    """An estimate asked for in or after the retirement month: there is nothing left to compare."""


class InvalidRetirementInput(ValueError):
    """An input a retirement rule cannot work on: negative, not a decimal, or outside the tables."""


@dataclass(frozen=True, order=True, slots=True)
class YearsMonths:
    """A span in whole years and months (an age, or contribution years), months in 0..11."""

    years: int
    months: int

    @classmethod
    def of_months(cls, total: int) -> YearsMonths:
        if total < 0:
            raise InvalidRetirementInput(f"a number of months cannot be negative ({total})")
        years, months = divmod(total, MONTHS_A_YEAR)
        return cls(years, months)

    @property
    def total_months(self) -> int:
        return self.years * MONTHS_A_YEAR + self.months

    def __str__(self) -> str:
        return f"{self.years}y{self.months}m"


@dataclass(frozen=True, slots=True)
class AgeSchedule:
    """One row of the 2025 reform (Q3): the original age and how it rises with the birth month."""

    original_years: int
    first_delayed_birth: Month  # the first birth month that reaches the original age in 2025
    birth_months_per_step: int  # one month more of age for every this many months of birth date
    max_delay_months: int

    @property
    def original_age(self) -> YearsMonths:
        return YearsMonths(self.original_years, 0)

    @property
    def final_age(self) -> YearsMonths:
        return YearsMonths.of_months(self.original_age.total_months + self.max_delay_months)


MEN = AgeSchedule(
    original_years=60, first_delayed_birth=Month(1965, 1), birth_months_per_step=4, max_delay_months=36
)  # towards 63
WOMEN_CADRES = AgeSchedule(
    original_years=55, first_delayed_birth=Month(1970, 1), birth_months_per_step=4, max_delay_months=36
)  # towards 58
WOMEN_WORKERS = AgeSchedule(
    original_years=50, first_delayed_birth=Month(1975, 1), birth_months_per_step=2, max_delay_months=60
)  # towards 55

# A man's retirement class does not change his age (Q3).
RETIREMENT_SCHEDULES: Mapping[tuple[Gender, RetirementClass], AgeSchedule] = MappingProxyType(
    {
        (Gender.MALE, RetirementClass.WORKER): MEN,
        (Gender.MALE, RetirementClass.CADRE): MEN,
        (Gender.FEMALE, RetirementClass.CADRE): WOMEN_CADRES,
        (Gender.FEMALE, RetirementClass.WORKER): WOMEN_WORKERS,
    }
)


@dataclass(frozen=True, slots=True)
class MinimumContributionSchedule:
    """Q3: the minimum contribution months by the year of retirement."""

    base_months: int
    first_rising_year: int
    rise_per_year: int
    final_months: int


MINIMUM_CONTRIBUTION = MinimumContributionSchedule(
    base_months=15 * MONTHS_A_YEAR,
    first_rising_year=2030,
    rise_per_year=6,
    final_months=20 * MONTHS_A_YEAR,
)

# The national table of personal-account divisors (months) by whole retirement age.
ACCOUNT_DIVISORS: Mapping[int, int] = MappingProxyType(
    {
        50: 195,
        51: 190,
        52: 185,
        53: 180,
        54: 175,
        55: 170,
        56: 164,
        57: 158,
        58: 152,
        59: 145,
        60: 139,
        61: 132,
        62: 125,
        63: 117,
    }
)


# Retirement date (Q3)


def effective_birth_date(card: dt.date, archive: dt.date | None) -> dt.date:
    """Q3: the archive's birth date decides retirement when there is one; else the ID card's."""
    return archive if archive is not None else card


def retirement_schedule(gender: Gender, retirement_class: RetirementClass) -> AgeSchedule:
    """The reform row that applies (Q3); a woman's class matters, a man's does not."""
    return RETIREMENT_SCHEDULES[(Gender(gender), RetirementClass(retirement_class))]


def delay_months(birth_date: dt.date, schedule: AgeSchedule) -> int:
    """Q3: months added to the original age; 0 for those who reach it before 2025-01-01."""
    since_first = _birth_index(birth_date) - schedule.first_delayed_birth.index()
    if since_first < 0:
        return 0
    return min(schedule.max_delay_months, since_first // schedule.birth_months_per_step + 1)


def retirement_age(birth_date: dt.date, gender: Gender, retirement_class: RetirementClass) -> YearsMonths:
    """Q3: the statutory retirement age in years and months (men born 1965-05: 60 years 2 months)."""
    schedule = retirement_schedule(gender, retirement_class)
    return YearsMonths.of_months(schedule.original_age.total_months + delay_months(birth_date, schedule))


def retirement_month(birth_date: dt.date, gender: Gender, retirement_class: RetirementClass) -> Month:
    """Q3: the month in which the person reaches the retirement age (month of birth + the age).

    The last month whose contribution counts; the pension is paid from the month after.
    """
    age = retirement_age(birth_date, gender, retirement_class)
    return _month_at(_birth_index(birth_date) + age.total_months)


def pension_start_month(birth_date: dt.date, gender: Gender, retirement_class: RetirementClass) -> Month:
    """The first month of pension: the month after the retirement month (Q3)."""
    return retirement_month(birth_date, gender, retirement_class).plus(1)


# Contribution years (Q2, Q3, F7)


def minimum_contribution_months(retirement: Month) -> int:
    """Q3: 180 months (15 years) before 2030, then 6 months more a year up to 240 (20 years)."""
    schedule = MINIMUM_CONTRIBUTION
    rising_years = max(0, retirement.year - schedule.first_rising_year + 1)
    return min(schedule.final_months, schedule.base_months + schedule.rise_per_year * rising_years)


def contribution_months(paid_months: Iterable[Month]) -> int:
    """Q2: the actual contribution months: each distinct paid or back-paid month counts once.

    Cancelled months never count (F7): the caller passes paid and back-paid months only.
    """
    return len(set(paid_months))


def as_years_months(months: int) -> YearsMonths:
    """Express a number of months as years and months (Q2: 185 months are 15 years 5 months)."""
    return YearsMonths.of_months(months)


# Pension estimate (Q3)


@dataclass(frozen=True, slots=True)
class EstimateInput:
    """What the estimate starts from; see the module docstring for the assumptions.

    ``grade`` is the pension grade paid now (P2), None when the person is not paying now.
    ``retirement_age`` chooses the personal-account divisor.
    """

    today: Month
    retirement: Month
    retirement_age: YearsMonths
    paid_months: int
    mean_index: Decimal
    account_balance: Decimal
    average_wage: Decimal
    grade: Decimal | None
    annual_wage_growth: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One way to reach retirement. The pension amounts are None when not eligible."""

    contribution_months: int
    contribution_years: YearsMonths
    minimum_months: int
    eligible: bool
    months_short: int  # 0 when eligible
    mean_index: Decimal
    account_at_retirement: Decimal
    average_wage_at_retirement: Decimal
    divisor: Decimal
    basic_pension: Decimal | None
    account_pension: Decimal | None
    total: Decimal | None


@dataclass(frozen=True, slots=True)
class PensionEstimate:
    """Keep paying the current grade until retirement, or stop now (Q3).

    ``keep_paying`` is None when the person pays no grade now; ``monthly_difference`` is
    keep-paying minus stop-now, only when both are eligible.
    """

    months_to_retirement: int  # months from next month to the retirement month, both included
    keep_paying: Scenario | None
    stop_now: Scenario
    monthly_difference: Decimal | None


def account_divisor(age: YearsMonths) -> Decimal:
    """The personal-account divisor of a retirement age: the table, interpolated by month."""
    low = ACCOUNT_DIVISORS.get(age.years)
    high = ACCOUNT_DIVISORS.get(age.years + 1) if age.months else low
    if low is None or high is None:
        raise InvalidRetirementInput(f"no personal-account divisor for a retirement age of {age}")
    divisor = Decimal(low) + Decimal(high - low) * age.months / MONTHS_A_YEAR
    return divisor.quantize(DIVISOR_PLACES, rounding=ROUND_HALF_UP)


def basic_pension(average_wage: Decimal, mean_index: Decimal, months: int) -> Decimal:
    """W x (1 + I) / 2 x (months / 12) x 1%, rounded half-up once to the fen (M1)."""
    return to_fen(average_wage * (1 + mean_index) * months * BASIC_PENSION_RATE / (2 * MONTHS_A_YEAR))


def pension_estimate(given: EstimateInput) -> PensionEstimate:
    """Compare the monthly pension of keeping the current grade until retirement with stopping now."""
    _check_estimate_input(given)
    months_ahead = given.today.months_until(given.retirement)
    wage_at_retirement = _average_wage_in(given, given.retirement.year)
    divisor = account_divisor(given.retirement_age)
    minimum = minimum_contribution_months(given.retirement)

    def scenario(months: int, mean_index: Decimal, account: Decimal) -> Scenario:
        mean_index = mean_index.quantize(INDEX_PLACES, rounding=ROUND_HALF_UP)
        account = to_fen(account)
        eligible = months >= minimum
        basic = basic_pension(wage_at_retirement, mean_index, months) if eligible else None
        from_account = to_fen(account / divisor) if eligible else None
        return Scenario(
            contribution_months=months,
            contribution_years=as_years_months(months),
            minimum_months=minimum,
            eligible=eligible,
            months_short=max(0, minimum - months),
            mean_index=mean_index,
            account_at_retirement=account,
            average_wage_at_retirement=wage_at_retirement,
            divisor=divisor,
            basic_pension=basic,
            account_pension=from_account,
            total=basic + from_account if basic is not None and from_account is not None else None,
        )

    stop_now = scenario(given.paid_months, given.mean_index, given.account_balance)
    keep_paying = None
    if given.grade is not None:
        grade = given.grade
        ahead = [given.today.plus(i) for i in range(1, months_ahead + 1)]
        added = sum(
            (to_fen(to_fen(grade * _average_wage_in(given, month.year)) * PERSONAL_ACCOUNT_RATE) for month in ahead),
            Decimal("0"),
        )
        months = given.paid_months + months_ahead
        mean_index = (given.mean_index * given.paid_months + grade * months_ahead) / months
        keep_paying = scenario(months, mean_index, given.account_balance + added)
    difference = None
    if keep_paying is not None and keep_paying.total is not None and stop_now.total is not None:
        difference = keep_paying.total - stop_now.total
    return PensionEstimate(
        months_to_retirement=months_ahead, keep_paying=keep_paying, stop_now=stop_now, monthly_difference=difference
    )


def _average_wage_in(given: EstimateInput, year: int) -> Decimal:
    """Today's average wage grown by the annual rate for each year after this one, to the fen."""
    return to_fen(given.average_wage * (1 + given.annual_wage_growth) ** (year - given.today.year))


def _check_estimate_input(given: EstimateInput) -> None:
    if given.today >= given.retirement:
        raise AlreadyRetired(
            f"the retirement month {given.retirement} is not after {given.today}: there is nothing left to estimate"
        )
    if isinstance(given.paid_months, bool) or not isinstance(given.paid_months, int) or given.paid_months < 0:
        raise InvalidRetirementInput(f"paid months are a whole number that is not negative, not {given.paid_months!r}")
    _require_decimal("the mean index", given.mean_index)
    _require_decimal("the account balance", given.account_balance)
    _require_decimal("the average wage", given.average_wage, positive=True)
    _require_decimal("the annual wage growth", given.annual_wage_growth)
    if given.grade is not None:
        _require_decimal("the grade", given.grade, positive=True)
    account_divisor(given.retirement_age)  # refuses an age outside the table


def _require_decimal(what: str, value: Decimal, *, positive: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise InvalidRetirementInput(f"{what} must be a {kind} decimal, not {value!r}")


def _birth_index(birth_date: dt.date) -> int:
    """The birth month as months since year 0 (like ``Month.index``), for any birth year."""
    return birth_date.year * MONTHS_A_YEAR + birth_date.month - 1


def _month_at(index: int) -> Month:
    return Month(index // MONTHS_A_YEAR, index % MONTHS_A_YEAR + 1)
