"""Yearly contribution bases (E3): each person's declared wage, held within the P4 limits, and the
employer's months of the year not yet paid priced again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import models
from domain.enums import BusinessType, Channel, InsuranceType, PeriodStatus, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from domain.identifiers import mask_resident_id
from domain.money import to_fen
from domain.months import Month
from domain.pricing import employer_contribution
from domain.tariff import Tariff
from models.bulk import update_each
from services.collection.tariff import load_tariff
from services.common import clock
from services.common.viewer import Viewer
from services.employer.filing import (
    LineErrors,
    check_size,
    declared_wage_problem,
    id_numbers,
    locked_employer,
    record_with_lines,
    registered,
)


class Clamp(str, Enum):
    """Where a declared wage stands against the P4 limits: within, under the floor, over the ceiling."""

    NONE = "NONE"
    LOW = "LOW"
    HIGH = "HIGH"


@dataclass(frozen=True)
class BaseLine:
    id_number: str
    declared_wage: Decimal


@dataclass(frozen=True)
class DeclaredBase:
    line: int
    person_id: int
    declared_wage: Decimal
    base: Decimal
    clamp: Clamp
    repriced_periods: int


@dataclass(frozen=True)
class BaseDeclaration:
    transaction: models.BusinessTransaction
    year: int
    average_wage: Decimal
    lines: list[DeclaredBase]


async def declare_contribution_base(
    actor: Viewer, employer_id: int, year: int, lines: Sequence[BaseLine]
) -> BaseDeclaration:
    """E3: each person's declared wage and the base it gives, held within 60%..300% of the average
    wage (P4); the employer's months of that year not yet paid are priced again."""
    check_size(lines)
    this_month = clock.this_month()
    if year != this_month.year:
        # One declared wage is kept per employment and prices its every month: it is declared for
        # the year in force.
        raise BusinessError(
            ErrorCode.INVALID_INPUT, f"bases are declared for the year in force, {this_month.year}", "year"
        )
    tariff = await load_tariff()
    average, rates = to_fen(tariff.average_wage(this_month)), tariff.rates(this_month)
    errors = LineErrors()
    numbers = id_numbers([line.id_number for line in lines], errors)
    for number, line in enumerate(lines, 1):
        wage_problem = declared_wage_problem(line.declared_wage, zero_allowed=True)
        if wage_problem:
            errors.add(number, "declaredWage", ErrorCode.INVALID_AMOUNT, wage_problem)
    first, last = Month(year, 1), Month(year, 12)
    async with in_transaction() as connection:
        employer = await locked_employer(actor, employer_id)
        # an unregistered number is answered as any stranger is: not staff here (A6)
        not_staff = (ErrorCode.NOT_EMPLOYED_HERE, f"not employed by this employer in {year}")
        persons = await registered(numbers, errors, not_staff)
        employments = await models.Employment.filter(
            Q(end_month__isnull=True) | Q(end_month__gte=first.to_int()),
            employer_id=employer.id,
            person_id__in=[p.id for p in persons.values()],
            start_month__lte=last.to_int(),
        )
        held: dict[int, list[int]] = defaultdict(list)
        for employment in employments:
            held[employment.person_id].append(employment.id)
        for number, person in persons.items():
            if not errors.failed(number) and person.id not in held:
                errors.add(number, "idNumber", *not_staff)
        errors.raise_any("nothing was declared")
        wages = {persons[n].id: to_fen(lines[n - 1].declared_wage) for n in sorted(persons)}
        await update_each(
            connection,
            "employment",
            ("declared_wage",),
            [(employment_id, wages[person_id]) for person_id, ids in held.items() for employment_id in ids],
            ("numeric",),
        )
        repriced = await _reprice(connection, employer.id, wages, first, last, tariff)
        declared = []
        for number in sorted(persons):
            person_id, wage = persons[number].id, wages[persons[number].id]
            price = employer_contribution(wage, average, InsuranceType.PENSION, rates)
            clamp = Clamp.LOW if price.base > wage else Clamp.HIGH if price.base < wage else Clamp.NONE
            declared.append(DeclaredBase(number, person_id, wage, price.base, clamp, repriced[person_id]))
        transaction = await record_with_lines(
            BusinessType.DECLARE_CONTRIBUTION_BASE,
            actor,
            employer,
            TransactionStatus.COMPLETED,
            this_month,
            {"year": year, "average_wage": average, "line_count": len(declared)},
            [
                {
                    "line": d.line,
                    "person_id": d.person_id,
                    "id_number": mask_resident_id(numbers[d.line]),
                    "declared_wage": str(d.declared_wage),
                    "base": str(d.base),
                    "clamp": d.clamp.value,
                    "repriced_periods": d.repriced_periods,
                }
                for d in declared
            ],
        )
    return BaseDeclaration(transaction, year, average, declared)


async def _reprice(
    connection: Any, employer_id: int, wages: dict[int, Decimal], first: Month, last: Month, tariff: Tariff
) -> dict[int, int]:
    """E3, P4: this employer's DUE months of the persons, from ``first`` to ``last``, at their new
    declared wage; locked, as the P1 re-pricing job may be at them. Returns the count per person."""
    periods = (
        await models.ContributionPeriod.select_for_update(no_key=True, of=("contribution_period",))
        .filter(
            policy__employer_id=employer_id,
            channel=Channel.EMPLOYER,
            person_id__in=list(wages),
            status=PeriodStatus.DUE,
            month__gte=first.to_int(),
            month__lte=last.to_int(),
        )
        .order_by("id")
    )
    counts: dict[int, int] = dict.fromkeys(wages, 0)
    rows = []
    for period in periods:
        month = Month.from_int(period.month)
        price = employer_contribution(
            wages[period.person_id], tariff.average_wage(month), period.insurance_type, tariff.rates(month)
        )
        if (price.base, price.total, price.employer_amount, price.rate) != (
            period.base,
            period.amount,
            period.employer_amount,
            period.rate,
        ):
            rows.append((period.id, price.base, price.total, price.employer_amount, price.rate))
            counts[period.person_id] += 1
    await update_each(
        connection,
        "contribution_period",
        ("base", "amount", "employer_amount", "rate"),
        rows,
        ("numeric", "numeric", "numeric", "numeric"),
    )
    return counts
