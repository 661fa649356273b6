"""A person's contribution years and retirement (Q2, Q3), and their pension estimate (Q3).

Contribution months are the distinct months with a PAID period of the insurance type, whatever
the channel and however paid: collected at month-end, paid as arrears (F6), back-paid as an
interruption (F8) or by an employer (E4). Cancelled months never count (F7), nor months still
due or owed. The counting is done by the database; the pension inputs need each paid month's base
and average wage, so they are read month by month (a working life is at most a few hundred rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tortoise.expressions import Q
from tortoise.functions import Count

import models
from domain import retirement as rules
from domain.enums import (
    Channel,
    Gender,
    InsuranceType,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    RetirementClass,
)
from domain.errors import BusinessError, ErrorCode
from domain.money import to_fen
from domain.months import Month
from domain.retirement import (
    INDEX_PLACES,
    PERSONAL_ACCOUNT_RATE,
    AlreadyRetired,
    EstimateInput,
    InvalidRetirementInput,
    PensionEstimate,
    YearsMonths,
    as_years_months,
    effective_birth_date,
    minimum_contribution_months,
    retirement_age,
    retirement_month,
)
from domain.tariff import Tariff
from services.collection.tariff import load_tariff
from services.common import clock

# An estimate is a guide: a growth beyond this is a keying error (0.05 is 5% a year), and it keeps
# the wage of a retirement decades away within the decimals the estimate works in.
MAX_ANNUAL_WAGE_GROWTH = Decimal("0.20")


@dataclass(frozen=True, slots=True)
class Retirement:
    """Q3: when the person retires, by the archive's birth date when there is one."""

    birth_date: dt.date  # the one that decides: the archive's, else the ID card's
    age: YearsMonths
    month: Month  # the last month whose contribution counts


@dataclass(frozen=True, slots=True)
class TypeRecord:
    """The actual contribution months of one insurance type (Q2)."""

    insurance_type: InsuranceType
    months: int
    years: YearsMonths
    minimum_months: int | None = None  # PENSION only (Q3)
    months_needed: int | None = None  # PENSION only: 0 once the minimum is reached


@dataclass(frozen=True, slots=True)
class ContributionRecord:
    person_id: int
    retirement: Retirement
    types: tuple[TypeRecord, ...]  # every insurance type, in the order of InsuranceType

    def of(self, insurance_type: InsuranceType) -> TypeRecord:
        return next(record for record in self.types if record.insurance_type is insurance_type)


@dataclass(frozen=True, slots=True)
class PersonalPensionEstimate:
    """The estimate (domain.retirement.pension_estimate) and what it was computed from."""

    person_id: int
    retirement: Retirement
    inputs: EstimateInput
    estimate: PensionEstimate


async def _person(person_id: int) -> models.Person:
    person = await models.Person.get_or_none(id=person_id)
    if person is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no such person", "personId")
    return person


def retirement_of(person: models.Person) -> Retirement:
    """Q3: the archive's birth date first; a woman's retirement class sets her age."""
    return _retirement(person.birth_date, person.archive_birth_date, person.gender, person.retirement_class)


def _retirement(
    birth_date: dt.date, archive_birth_date: dt.date | None, gender: Gender, retirement_class: RetirementClass
) -> Retirement:
    birth = effective_birth_date(birth_date, archive_birth_date)
    return Retirement(
        birth, retirement_age(birth, gender, retirement_class), retirement_month(birth, gender, retirement_class)
    )


async def contribution_record(person_id: int) -> ContributionRecord:
    """Q2: actual contribution months per insurance type; for pension, the minimum still needed (Q3)."""
    record = (await contribution_records([person_id])).get(person_id)
    if record is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no such person", "personId")
    return record


async def contribution_records(person_ids: Iterable[int], within: Q | None = None) -> dict[int, ContributionRecord]:
    """The contribution records of many persons (Q2, Q3) in two queries, however many they are: the
    persons, and their paid months counted per person and type by the database. A person who does
    not exist, or is not ``within`` (a filter of persons; None for all), is absent from the answer.
    """
    wanted = list(dict.fromkeys(person_ids))
    if not wanted:
        return {}
    persons = models.Person.filter(id__in=wanted)
    if within is not None:
        persons = persons.filter(within)
    rows = await persons.values_list("id", "birth_date", "archive_birth_date", "gender", "retirement_class")
    retirements = {row[0]: _retirement(*row[1:]) for row in rows}
    if not retirements:
        return {}
    counted = (
        await models.ContributionPeriod.filter(person_id__in=list(retirements), status=PeriodStatus.PAID)
        .annotate(months=Count("month", distinct=True))
        .group_by("person_id", "insurance_type")
        .values("person_id", "insurance_type", "months")
    )
    paid: dict[int, dict[InsuranceType, int]] = {person_id: {} for person_id in retirements}
    for row in counted:
        paid[row["person_id"]][InsuranceType(row["insurance_type"])] = row["months"]
    return {person_id: _record(person_id, retirement, paid[person_id]) for person_id, retirement in retirements.items()}


def _record(person_id: int, retirement: Retirement, paid: dict[InsuranceType, int]) -> ContributionRecord:
    minimum = minimum_contribution_months(retirement.month)
    types = []
    for insurance_type in InsuranceType:
        months = paid.get(insurance_type, 0)
        if insurance_type is InsuranceType.PENSION:
            types.append(TypeRecord(insurance_type, months, as_years_months(months), minimum, max(0, minimum - months)))
        else:
            types.append(TypeRecord(insurance_type, months, as_years_months(months)))
    return ContributionRecord(person_id, retirement, tuple(types))


async def pension_estimate(
    person_id: int, annual_wage_growth: Decimal | int = 0, tariff: Tariff | None = None
) -> PersonalPensionEstimate:
    """Q3: keep paying the current flexible grade until retirement, or stop now.

    From the database: the paid pension months up to this month, their mean index (each month's
    base over that month's average wage, P1), the personal account (8% of each paid month's base,
    no interest), today's average wage and the grade of the active flexible pension policy (None
    when the person is not paying it). This month counts once it is collected (M4).
    """
    growth = _growth(annual_wage_growth)
    person = await _person(person_id)
    retirement = retirement_of(person)
    today = clock.this_month()
    if person.category is PersonCategory.RETIRED or retirement.month <= today:
        raise BusinessError(
            ErrorCode.PERSON_RETIRED,
            f"already retired: the retirement month is {retirement.month}, there is no pension left to estimate (Q3)",
            "personId",
        )
    tariff = tariff or await load_tariff()
    rows = await models.ContributionPeriod.filter(
        person_id=person.id,
        insurance_type=InsuranceType.PENSION,
        status=PeriodStatus.PAID,
        month__lte=today.to_int(),
    ).values_list("month", "base")
    # One month counts once (Q2); were a month paid twice, its larger base stands for it.
    bases: dict[int, Decimal] = {}
    for month, base in rows:
        bases[month] = max(base, bases.get(month, base))
    index_sum = sum((base / tariff.average_wage(Month.from_int(month)) for month, base in bases.items()), Decimal("0"))
    mean_index = (index_sum / len(bases)).quantize(INDEX_PLACES, rounding=ROUND_HALF_UP) if bases else Decimal("0.0000")
    account = sum((to_fen(base * PERSONAL_ACCOUNT_RATE) for base in bases.values()), Decimal("0.00"))
    policy = (
        await models.Policy.filter(
            person_id=person.id,
            insurance_type=InsuranceType.PENSION,
            channel=Channel.FLEXIBLE,
            status=PolicyStatus.ACTIVE,
        )
        .order_by("-id")
        .first()
    )
    inputs = EstimateInput(
        today=today,
        retirement=retirement.month,
        retirement_age=retirement.age,
        paid_months=len(bases),
        mean_index=mean_index,
        account_balance=account,
        average_wage=tariff.average_wage(today),
        grade=policy.grade if policy is not None else None,
        annual_wage_growth=growth,
    )
    try:
        estimate = rules.pension_estimate(inputs)
    except AlreadyRetired as error:  # checked above; kept so that a rule change cannot slip through
        raise BusinessError(ErrorCode.PERSON_RETIRED, f"already retired: {error}", "personId") from None
    except InvalidRetirementInput as error:
        raise BusinessError(ErrorCode.INVALID_INPUT, str(error), "personId") from None
    return PersonalPensionEstimate(person.id, retirement, inputs, estimate)


def _growth(value: Decimal | int) -> Decimal:
    """A decimal share a year (0.03 is 3%); binary floats are refused, as for money (M1)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise BusinessError(
            ErrorCode.INVALID_INPUT, "the annual wage growth is a decimal such as 0.03", "annualWageGrowth"
        )
    growth = Decimal(value)
    if not growth.is_finite() or not (0 <= growth <= MAX_ANNUAL_WAGE_GROWTH):
        raise BusinessError(
            ErrorCode.INVALID_INPUT,
            f"the annual wage growth is between 0 and {MAX_ANNUAL_WAGE_GROWTH}, not {value}",
            "annualWageGrowth",
        )
    return growth
