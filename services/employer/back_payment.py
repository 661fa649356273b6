"""Employer back-pay (E4): the employer pays the past months it did not pay, with interest (P5);
and what an employer owes, month by month (P4, P5)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import models
from domain.enums import ArrearStatus, BusinessType, Channel, InsuranceType, PaidVia, PeriodStatus, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from domain.months import Month, month_range
from services.collection.tariff import load_tariff
from services.common import clock
from services.common.viewer import Viewer
from services.employer.filing import EMPLOYER_TYPES, locked_employer, record_with_lines

MAX_BACK_PAY_MONTHS = 360  # thirty years of months in one back-payment
MAX_OWED_MONTHS = 120
UNPAID = (PeriodStatus.DUE, PeriodStatus.ARREARS)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BackPayLine:
    period_id: int
    person_id: int
    month: Month
    insurance_type: InsuranceType
    principal: Decimal
    interest: Decimal


@dataclass(frozen=True)
class EmployerBackPay:
    transaction: models.BusinessTransaction
    lines: list[BackPayLine]

    @property
    def principal(self) -> Decimal:
        return sum((line.principal for line in self.lines), ZERO)

    @property
    def interest(self) -> Decimal:
        return sum((line.interest for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


@dataclass(frozen=True)
class MonthOwed:
    """One month of an employer's unpaid contributions (P4, P5)."""

    month: Month
    amount: Decimal  # every unpaid period's amount, both shares
    employer_share: Decimal
    person_share: Decimal
    arrears: Decimal  # the part overdue: in arrears, or due for a month already past (M4)
    interest: Decimal  # on the arrears, to this month (P5)


async def employer_back_pay(
    actor: Viewer, employer_id: int, months: Sequence[Month], person_ids: Sequence[int] | None = None
) -> EmployerBackPay:
    """E4: the employer pays, by bank transfer, the past months it did not pay, each period's amount
    plus interest from its month to this one (P5); all its staff, or the persons named."""
    this_month = clock.this_month()
    chosen = list(dict.fromkeys(months))
    if not chosen or len(chosen) != len(months) or len(chosen) > MAX_BACK_PAY_MONTHS:
        raise BusinessError(ErrorCode.INVALID_MONTH, f"choose 1 to {MAX_BACK_PAY_MONTHS} different months", "months")
    for month in chosen:
        if not isinstance(month, Month) or month >= this_month:
            raise BusinessError(
                ErrorCode.INVALID_MONTH, f"back-pay is for months before {this_month}: {month} is not", "months"
            )
    persons = None if person_ids is None else list(dict.fromkeys(person_ids))
    if persons is not None and (not persons or len(persons) != len(person_ids)):
        raise BusinessError(ErrorCode.INVALID_INPUT, "name each person once, or none for all the staff", "personIds")
    tariff = await load_tariff()
    async with in_transaction():
        employer = await locked_employer(actor, employer_id)
        query = models.ContributionPeriod.select_for_update(no_key=True, of=("contribution_period",)).filter(
            policy__employer_id=employer.id,
            channel=Channel.EMPLOYER,
            status__in=UNPAID,
            month__in=[m.to_int() for m in chosen],
        )
        if persons is not None:
            query = query.filter(person_id__in=persons)
        periods = sorted(
            await query, key=lambda p: (p.month, p.person_id, EMPLOYER_TYPES.index(p.insurance_type), p.id)
        )
        ordered = set(
            await models.Arrear.filter(  # held by a person's own payment order (F6)
                period_id__in=[p.id for p in periods], status=ArrearStatus.ORDERED
            ).values_list("period_id", flat=True)
        )
        periods = [p for p in periods if p.id not in ordered]
        owing = {p.person_id for p in periods}
        for person_id in persons or ():
            if person_id not in owing:
                raise BusinessError(
                    ErrorCode.INVALID_INPUT, f"nothing is owed for person {person_id} in these months", "personIds"
                )
        owed_months = {p.month for p in periods}
        for month in sorted(chosen):
            if month.to_int() not in owed_months:
                raise BusinessError(ErrorCode.INVALID_MONTH, f"nothing is owed for {month}", "months")
        lines = [
            BackPayLine(
                p.id,
                p.person_id,
                Month.from_int(p.month),
                p.insurance_type,
                p.amount,
                tariff.interest(p.amount, Month.from_int(p.month), this_month),
            )
            for p in periods
        ]
        now = clock.now()
        ids = [p.id for p in periods]
        await models.ContributionPeriod.filter(id__in=ids).update(
            status=PeriodStatus.PAID, paid_via=PaidVia.EMPLOYER_BACK_PAY, paid_at=now
        )
        await models.Arrear.filter(period_id__in=ids, status=ArrearStatus.OPEN).update(
            status=ArrearStatus.PAID, resolved_at=now
        )
        by_month: dict[Month, list[BackPayLine]] = defaultdict(list)
        for line in lines:
            by_month[line.month].append(line)
        principal = sum((line.principal for line in lines), ZERO)
        interest = sum((line.interest for line in lines), ZERO)
        transaction = await record_with_lines(
            BusinessType.EMPLOYER_BACK_PAY,
            actor,
            employer,
            TransactionStatus.COMPLETED,
            this_month,
            {
                "months": len(chosen),
                "persons": len(owing),
                "periods": len(lines),
                "principal": principal,
                "interest": interest,
                "total": principal + interest,
                "paid_by": "bank transfer",
            },
            [
                {
                    "month": str(month),
                    "periods": len(rows),
                    "principal": str(sum((r.principal for r in rows), ZERO)),
                    "interest": str(sum((r.interest for r in rows), ZERO)),
                }
                for month, rows in sorted(by_month.items())
            ],
        )
    return EmployerBackPay(transaction, lines)


async def owed_by_month(employer_id: int, first: Month, last: Month) -> list[MonthOwed]:
    """What the employer has not paid, month by month from ``first`` to ``last``, both shares (P4),
    and of it what is overdue, with interest to this month (P5)."""
    return (await owed_by_month_of([employer_id], first, last))[employer_id]


async def owed_by_month_of(
    employer_ids: Sequence[int], first: Month, last: Month, within: Q | None = None
) -> dict[int, list[MonthOwed]]:
    """``owed_by_month`` of several employers in one query, as a page of employers asks it.
    ``within`` narrows the periods summed, to those a reader may see (A6)."""
    if last < first or first.months_until(last) >= MAX_OWED_MONTHS:
        raise BusinessError(
            ErrorCode.INVALID_MONTH, f"choose 1 to {MAX_OWED_MONTHS} months, the first before the last", "first"
        )
    this_month = clock.this_month()
    tariff = await load_tariff()
    query = models.ContributionPeriod.filter(
        policy__employer_id__in=list(employer_ids),
        channel=Channel.EMPLOYER,
        status__in=UNPAID,
        month__gte=first.to_int(),
        month__lte=last.to_int(),
    )
    if within is not None:
        query = query.filter(within)
    rows = await query.values("month", "status", "amount", "employer_amount", employer_id="policy__employer_id")
    months = [m.to_int() for m in month_range(first, last)]
    sums: dict[int, dict[int, list[Decimal]]] = {e: {m: [ZERO] * 4 for m in months} for e in employer_ids}
    for row in rows:
        month = Month.from_int(row["month"])
        total = sums[row["employer_id"]][row["month"]]
        total[0] += row["amount"]
        total[1] += row["employer_amount"]
        if row["status"] is PeriodStatus.ARREARS or month < this_month:
            total[2] += row["amount"]
            total[3] += tariff.interest(row["amount"], month, this_month)
    return {
        employer_id: [
            MonthOwed(Month.from_int(m), amount, employer_share, amount - employer_share, arrears, interest)
            for m, (amount, employer_share, arrears, interest) in by_month.items()
        ]
        for employer_id, by_month in sums.items()
    }
