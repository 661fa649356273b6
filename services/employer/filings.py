"""Employer business: adding and removing staff (E2) with the agency's review and the one visit
with the paper materials, yearly contribution bases (E3), and back-pay of unpaid months (E4).

A filing is all or nothing. Each line is checked on its own and, when any fails, nothing is filed
and the refusal (``FilingRejected``) lists every failing line, so that an agent corrects line 37
of 200 instead of the whole filing. The lines are kept in the BusinessTransaction's details, each
with the person it names. Every filing and decision locks the employer's row first, so one
employer's filings and decisions run one after the other.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import models
from domain.enums import (
    ArrearStatus, BusinessType, Channel, EmployerStatus, EmploymentStatus, InsuranceType, PaidVia, PeriodStatus,
    PersonCategory, PolicyStatus, Role, TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.identifiers import InvalidIdentifier, mask_resident_id, normalise_resident_id
from domain.money import to_fen
from domain.months import Month, is_on_time, month_range
from domain.pricing import employer_contribution
from domain.tariff import Tariff
from services.common import clock
from models.bulk import update_each
from services.collection.periods import in_force
from services.collection.tariff import load_tariff
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

MAX_FILING_LINES = 500
MAX_DECLARED_WAGE = Decimal("1000000.00")
MAX_BACK_PAY_MONTHS = 360  # thirty years of months in one back-payment
MAX_OWED_MONTHS = 120
MAX_REASON = 500
EMPLOYER_TYPES = tuple(InsuranceType)  # P4: an addition insures all five unless told otherwise
FILING_TYPES = (BusinessType.ADD_EMPLOYEES, BusinessType.REMOVE_EMPLOYEES)
OPEN_FILING = (TransactionStatus.SUBMITTED, TransactionStatus.ACCEPTED)
UNPAID = (PeriodStatus.DUE, PeriodStatus.ARREARS)
ZERO = Decimal("0.00")


class Clamp(str, Enum):
    """Where a declared wage stands against the P4 limits: within, under the floor, over the ceiling."""

    NONE = "NONE"
    LOW = "LOW"
    HIGH = "HIGH"


@dataclass(frozen=True)
class LineError:
    """Why one line of a filing is refused; ``line`` counts from 1, as the agent's list does."""

    line: int
    field: str
    code: ErrorCode
    message: str


class FilingRejected(BusinessError):
    """Some lines are refused, so nothing was done; ``line_errors`` says which and why."""

    def __init__(self, line_errors: list[LineError], outcome: str) -> None:
        self.line_errors = sorted(line_errors, key=lambda e: e.line)
        lines = sorted({e.line for e in self.line_errors})
        first = ", ".join(str(n) for n in lines[:10]) + (", ..." if len(lines) > 10 else "")
        super().__init__(ErrorCode.INVALID_LINES,
                         f"{len(lines)} line{'s' if len(lines) > 1 else ''} refused (line {first}): {outcome}", "lines")


@dataclass(frozen=True)
class AddLine:
    id_number: str
    declared_wage: Decimal
    insurance_types: Sequence[InsuranceType] | None = None  # None: all five (P4)


@dataclass(frozen=True)
class RemoveLine:
    id_number: str
    last_month: Month | None = None  # None: the month before the removal takes effect


@dataclass(frozen=True)
class BaseLine:
    id_number: str
    declared_wage: Decimal


@dataclass(frozen=True)
class Completion:
    """What confirming the materials changed: employments begun or ended, their policies, the periods
    made for an addition, and the months no longer due after a removal."""

    transaction: models.BusinessTransaction
    employments: list[models.Employment]
    policies: list[models.Policy]
    periods: list[models.ContributionPeriod]
    dropped_periods: int = 0


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


@dataclass(frozen=True)
class _Line:
    """A line resolved to its person, as kept in the filing's details."""

    number: int
    person_id: int
    id_number: str
    wage: Decimal | None = None
    types: tuple[InsuranceType, ...] = ()
    last_month: Month | None = None

    def stored(self) -> dict[str, Any]:
        row: dict[str, Any] = {"line": self.number, "person_id": self.person_id,
                               "id_number": mask_resident_id(self.id_number)}  # API.md 8
        if self.wage is not None:
            row["declared_wage"] = str(self.wage)
        if self.types:
            row["insurance_types"] = [t.value for t in self.types]
        if self.last_month is not None:
            row["last_month"] = str(self.last_month)
        return row

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> _Line:
        return cls(row["line"], row["person_id"], row["id_number"],
                   Decimal(row["declared_wage"]) if "declared_wage" in row else None,
                   tuple(InsuranceType(t) for t in row.get("insurance_types", ())),
                   Month.parse(row["last_month"]) if "last_month" in row else None)


class _Errors:
    def __init__(self) -> None:
        self.items: list[LineError] = []
        self.lines: set[int] = set()

    def add(self, line: int, field: str, code: ErrorCode, message: str) -> None:
        self.items.append(LineError(line, field, code, message))
        self.lines.add(line)

    def failed(self, line: int) -> bool:
        return line in self.lines

    def raise_any(self, outcome: str) -> None:
        if self.items:
            raise FilingRejected(self.items, outcome)


def on_time_month(day: dt.date) -> Month:
    """M3, E2: done on or before the 20th takes effect this month, later next month."""
    month = Month.of(day)
    return month if is_on_time(day) else month.plus(1)


# Adding and removing staff (E2)

async def add_employees(actor: Viewer, employer_id: int, lines: Sequence[AddLine]) -> models.BusinessTransaction:
    """E2 增员: filed SUBMITTED for the agency to review, taking effect in the month the 20th rule gives."""
    _check_size(lines)
    errors = _Errors()
    numbers = _id_numbers([line.id_number for line in lines], errors)
    types: dict[int, tuple[InsuranceType, ...]] = {}
    for number, line in enumerate(lines, 1):
        wage_problem = _wage_problem(line.declared_wage, zero_allowed=False)
        if wage_problem:
            errors.add(number, "declaredWage", ErrorCode.INVALID_AMOUNT, wage_problem)
        chosen = _insurance_types(line.insurance_types)
        if isinstance(chosen, str):
            errors.add(number, "insuranceTypes", ErrorCode.INVALID_INPUT, chosen)
        else:
            types[number] = chosen
    async with in_transaction():
        employer = await _locked_employer(actor, employer_id)
        effective = on_time_month(clock.today())
        persons = await _registered(numbers, errors)
        resolved = [_Line(n, persons[n].id, numbers[n], to_fen(lines[n - 1].declared_wage), types[n])
                    for n in sorted(persons) if not errors.failed(n)]
        await _check_additions(employer.id, resolved, effective, {p.id: p for p in persons.values()}, errors,
                               open_filings=True)
        errors.raise_any("nothing was filed")
        return await _record_filing(BusinessType.ADD_EMPLOYEES, actor, employer, effective, resolved)


async def remove_employees(actor: Viewer, employer_id: int, lines: Sequence[RemoveLine]) -> models.BusinessTransaction:
    """E2 减员: filed SUBMITTED; by default the last month employed is the month before it takes effect."""
    _check_size(lines)
    errors = _Errors()
    numbers = _id_numbers([line.id_number for line in lines], errors)
    for number, line in enumerate(lines, 1):
        if line.last_month is not None and not isinstance(line.last_month, Month):
            errors.add(number, "lastMonth", ErrorCode.INVALID_MONTH, "the last month employed is a month YYYY-MM")
    async with in_transaction():
        employer = await _locked_employer(actor, employer_id)
        effective = on_time_month(clock.today())
        persons = await _registered(numbers, errors)
        resolved = [_Line(n, persons[n].id, numbers[n], last_month=lines[n - 1].last_month)
                    for n in sorted(persons) if not errors.failed(n)]
        await _check_removals(employer.id, resolved, effective, errors, open_filings=True)
        errors.raise_any("nothing was filed")
        return await _record_filing(BusinessType.REMOVE_EMPLOYEES, actor, employer, effective, resolved)


async def review(actor: Viewer, transaction_id: int, accept: bool, reason: str | None = None
                 ) -> models.BusinessTransaction:
    """E2: the district's reviewer accepts a submitted filing, or rejects it with a reason the agent
    reads. Accepted after the 20th of the month it was to take effect in, it takes effect a month
    later (M3). An accepted filing can still be rejected at the visit, before its materials are
    confirmed: materials that do not match, or lines no longer valid, would otherwise hold it open."""
    text = (reason or "").strip() or None
    if not accept and text is None:
        raise BusinessError(ErrorCode.REASON_REQUIRED, "a rejection tells the employer why", "reason")
    if text is not None and len(text) > MAX_REASON:
        raise BusinessError(ErrorCode.INVALID_INPUT, f"a reason has at most {MAX_REASON} characters", "reason")
    async with in_transaction():
        transaction = await _locked_filing(actor, transaction_id, ErrorCode.NOT_REVIEWABLE)
        reviewable, what = ((TransactionStatus.SUBMITTED,), "a submitted filing is accepted") if accept else (
            OPEN_FILING, "a filing not yet in effect is rejected")
        if transaction.status not in reviewable:
            raise BusinessError(ErrorCode.NOT_REVIEWABLE, f"this filing is {transaction.status.value.lower()}: only {what}",
                                "transactionId")
        if transaction.status is TransactionStatus.ACCEPTED:  # rejected at the visit: the acceptance stays on record
            transaction.details = {**transaction.details, "accepted": {
                "at": transaction.decided_at.isoformat(), "by": transaction.decided_by_id}}
        if accept:
            today = clock.today()
            if today > Month.from_int(transaction.effective_month).deadline():
                later = on_time_month(today)
                _move_effective_month(transaction, later, f"accepted after the 20th: takes effect from {later}", today)
            await _recheck(transaction, "nothing was accepted")
        transaction.status = TransactionStatus.ACCEPTED if accept else TransactionStatus.REJECTED
        transaction.decided_at, transaction.decided_by_id, transaction.decision_reason = clock.now(), actor.account_id, text
        await transaction.save(update_fields=["status", "decided_at", "decided_by_id", "decision_reason",
                                              "effective_month", "details"])
    return transaction


async def confirm_materials(actor: Viewer, transaction_id: int) -> Completion:
    """E2, the one visit: the paper materials are in, and the accepted change takes effect."""
    tariff = await load_tariff()
    async with in_transaction():
        transaction = await _locked_filing(actor, transaction_id, ErrorCode.MATERIALS_NOT_EXPECTED)
        if transaction.status is not TransactionStatus.ACCEPTED:
            raise BusinessError(ErrorCode.MATERIALS_NOT_EXPECTED,
                                f"this filing is {transaction.status.value.lower()}: materials are handed in once it is accepted",
                                "transactionId")
        lines = _lines_of(transaction)
        # The persons too, after the employer and in id order (as the month-end does), so that a
        # flexible enrollment (F1) and this change of insurance do not pass each other.
        persons = {p.id: p for p in await models.Person.select_for_update(no_key=True).filter(
            id__in=[line.person_id for line in lines]).order_by("id")}
        effective = Month.from_int(transaction.effective_month)
        if transaction.business_type is BusinessType.ADD_EMPLOYEES:
            completion = await _take_on(transaction, lines, persons, effective, tariff)
        else:
            completion = await _let_go(transaction, lines, persons, effective)
        now = clock.now()
        transaction.status = TransactionStatus.COMPLETED
        transaction.details = {**transaction.details, "materials_confirmed_at": now.isoformat(),
                               "materials_confirmed_by": actor.account_id}
        await transaction.save(update_fields=["status", "details"])
    return completion


async def roll_over_unaccepted(today: dt.date) -> int:
    """M3, E2: a filing still awaiting review after the 20th of the month it was to take effect in
    takes effect in the next month it can still make; the move is noted in its details. Returns how
    many filings moved; a second run the same day moves none."""
    target = on_time_month(today)
    late = await models.BusinessTransaction.filter(
        business_type__in=FILING_TYPES, status=TransactionStatus.SUBMITTED, effective_month__lt=target.to_int(),
    ).order_by("id").values_list("id", "employer_id")
    moved = 0
    for transaction_id, employer_id in late:
        async with in_transaction():
            await models.Employer.select_for_update(no_key=True).get(id=employer_id)
            transaction = await models.BusinessTransaction.select_for_update(no_key=True).get(id=transaction_id)
            if transaction.status is not TransactionStatus.SUBMITTED or transaction.effective_month >= target.to_int():
                continue  # reviewed or moved meanwhile
            _move_effective_month(transaction, target, f"not accepted by the 20th: takes effect from {target}", today)
            await transaction.save(update_fields=["effective_month", "details"])
            moved += 1
    return moved


# Contribution bases (E3) and back-pay (E4)

async def declare_contribution_base(actor: Viewer, employer_id: int, year: int,
                                    lines: Sequence[BaseLine]) -> BaseDeclaration:
    """E3: each person's declared wage and the base it gives, held within 60%..300% of the average
    wage (P4); the employer's months of that year not yet paid are priced again."""
    _check_size(lines)
    this_month = clock.this_month()
    if year != this_month.year:
        # One declared wage is kept per employment and prices its every month: it is declared for
        # the year in force.
        raise BusinessError(ErrorCode.INVALID_INPUT, f"bases are declared for the year in force, {this_month.year}", "year")
    tariff = await load_tariff()
    average, rates = to_fen(tariff.average_wage(this_month)), tariff.rates(this_month)
    errors = _Errors()
    numbers = _id_numbers([line.id_number for line in lines], errors)
    for number, line in enumerate(lines, 1):
        wage_problem = _wage_problem(line.declared_wage, zero_allowed=True)
        if wage_problem:
            errors.add(number, "declaredWage", ErrorCode.INVALID_AMOUNT, wage_problem)
    first, last = Month(year, 1), Month(year, 12)
    async with in_transaction() as connection:
        employer = await _locked_employer(actor, employer_id)
        persons = await _registered(numbers, errors)
        employments = await models.Employment.filter(
            Q(end_month__isnull=True) | Q(end_month__gte=first.to_int()), employer_id=employer.id,
            person_id__in=[p.id for p in persons.values()], start_month__lte=last.to_int())
        held: dict[int, list[int]] = defaultdict(list)
        for employment in employments:
            held[employment.person_id].append(employment.id)
        for number, person in persons.items():
            if not errors.failed(number) and person.id not in held:
                errors.add(number, "idNumber", ErrorCode.NOT_EMPLOYED_HERE, f"not employed by this employer in {year}")
        errors.raise_any("nothing was declared")
        wages = {persons[n].id: to_fen(lines[n - 1].declared_wage) for n in sorted(persons)}
        await update_each(connection, "employment", ("declared_wage",),
                          [(employment_id, wages[person_id]) for person_id, ids in held.items() for employment_id in ids],
                          ("numeric",))
        repriced = await _reprice(connection, employer.id, wages, first, last, tariff)
        declared = []
        for number in sorted(persons):
            person_id, wage = persons[number].id, wages[persons[number].id]
            price = employer_contribution(wage, average, InsuranceType.PENSION, rates)
            clamp = Clamp.LOW if price.base > wage else Clamp.HIGH if price.base < wage else Clamp.NONE
            declared.append(DeclaredBase(number, person_id, wage, price.base, clamp, repriced[person_id]))
        transaction = await _record(
            BusinessType.DECLARE_CONTRIBUTION_BASE, actor, employer, TransactionStatus.COMPLETED, this_month,
            {"year": year, "average_wage": average, "line_count": len(declared)},
            [{"line": d.line, "person_id": d.person_id, "id_number": mask_resident_id(numbers[d.line]),
              "declared_wage": str(d.declared_wage), "base": str(d.base), "clamp": d.clamp.value,
              "repriced_periods": d.repriced_periods} for d in declared])
    return BaseDeclaration(transaction, year, average, declared)


async def employer_back_pay(actor: Viewer, employer_id: int, months: Sequence[Month],
                            person_ids: Sequence[int] | None = None) -> EmployerBackPay:
    """E4: the employer pays, by bank transfer, the past months it did not pay, each period's amount
    plus interest from its month to this one (P5); all its staff, or the persons named."""
    this_month = clock.this_month()
    chosen = list(dict.fromkeys(months))
    if not chosen or len(chosen) != len(months) or len(chosen) > MAX_BACK_PAY_MONTHS:
        raise BusinessError(ErrorCode.INVALID_MONTH, f"choose 1 to {MAX_BACK_PAY_MONTHS} different months", "months")
    for month in chosen:
        if not isinstance(month, Month) or month >= this_month:
            raise BusinessError(ErrorCode.INVALID_MONTH, f"back-pay is for months before {this_month}: {month} is not", "months")
    persons = None if person_ids is None else list(dict.fromkeys(person_ids))
    if persons is not None and (not persons or len(persons) != len(person_ids)):
        raise BusinessError(ErrorCode.INVALID_INPUT, "name each person once, or none for all the staff", "personIds")
    tariff = await load_tariff()
    async with in_transaction():
        employer = await _locked_employer(actor, employer_id)
        query = models.ContributionPeriod.select_for_update(no_key=True, of=("contribution_period",)).filter(
            policy__employer_id=employer.id, channel=Channel.EMPLOYER, status__in=UNPAID,
            month__in=[m.to_int() for m in chosen])
        if persons is not None:
            query = query.filter(person_id__in=persons)
        periods = sorted(await query, key=lambda p: (p.month, p.person_id, EMPLOYER_TYPES.index(p.insurance_type), p.id))
        ordered = set(await models.Arrear.filter(  # held by a person's own payment order (F6)
            period_id__in=[p.id for p in periods], status=ArrearStatus.ORDERED).values_list("period_id", flat=True))
        periods = [p for p in periods if p.id not in ordered]
        owing = {p.person_id for p in periods}
        for person_id in persons or ():
            if person_id not in owing:
                raise BusinessError(ErrorCode.INVALID_INPUT, f"nothing is owed for person {person_id} in these months", "personIds")
        owed_months = {p.month for p in periods}
        for month in sorted(chosen):
            if month.to_int() not in owed_months:
                raise BusinessError(ErrorCode.INVALID_MONTH, f"nothing is owed for {month}", "months")
        lines = [BackPayLine(p.id, p.person_id, Month.from_int(p.month), p.insurance_type, p.amount,
                             tariff.interest(p.amount, Month.from_int(p.month), this_month)) for p in periods]
        now = clock.now()
        ids = [p.id for p in periods]
        await models.ContributionPeriod.filter(id__in=ids).update(
            status=PeriodStatus.PAID, paid_via=PaidVia.EMPLOYER_BACK_PAY, paid_at=now)
        await models.Arrear.filter(period_id__in=ids, status=ArrearStatus.OPEN).update(
            status=ArrearStatus.PAID, resolved_at=now)
        by_month: dict[Month, list[BackPayLine]] = defaultdict(list)
        for line in lines:
            by_month[line.month].append(line)
        principal = sum((line.principal for line in lines), ZERO)
        interest = sum((line.interest for line in lines), ZERO)
        transaction = await _record(
            BusinessType.EMPLOYER_BACK_PAY, actor, employer, TransactionStatus.COMPLETED, this_month,
            {"months": len(chosen), "persons": len(owing), "periods": len(lines), "principal": principal,
             "interest": interest, "total": principal + interest, "paid_by": "bank transfer"},
            [{"month": str(month), "periods": len(rows),
              "principal": str(sum((r.principal for r in rows), ZERO)),
              "interest": str(sum((r.interest for r in rows), ZERO))} for month, rows in sorted(by_month.items())])
    return EmployerBackPay(transaction, lines)


async def owed_by_month(employer_id: int, first: Month, last: Month) -> list[MonthOwed]:
    """What the employer has not paid, month by month from ``first`` to ``last``, both shares (P4),
    and of it what is overdue, with interest to this month (P5)."""
    return (await owed_by_month_of([employer_id], first, last))[employer_id]


async def owed_by_month_of(employer_ids: Sequence[int], first: Month, last: Month, within: Q | None = None
                           ) -> dict[int, list[MonthOwed]]:
    """``owed_by_month`` of several employers in one query, as a page of employers asks it.
    ``within`` narrows the periods summed, to those a reader may see (A6)."""
    if last < first or first.months_until(last) >= MAX_OWED_MONTHS:
        raise BusinessError(ErrorCode.INVALID_MONTH, f"choose 1 to {MAX_OWED_MONTHS} months, the first before the last", "first")
    this_month = clock.this_month()
    tariff = await load_tariff()
    query = models.ContributionPeriod.filter(
        policy__employer_id__in=list(employer_ids), channel=Channel.EMPLOYER, status__in=UNPAID,
        month__gte=first.to_int(), month__lte=last.to_int())
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
    return {employer_id: [MonthOwed(Month.from_int(m), amount, employer_share, amount - employer_share, arrears, interest)
                          for m, (amount, employer_share, arrears, interest) in by_month.items()]
            for employer_id, by_month in sums.items()}


def employer_period(policy: models.Policy, month: Month, declared_wage: Decimal,
                    tariff: Tariff) -> models.ContributionPeriod:
    """The unsaved DUE employer-channel period of ``policy`` for ``month`` (P4): the base is the
    declared wage held within the limits, the amount both shares, the rate their sum."""
    price = employer_contribution(declared_wage, tariff.average_wage(month), policy.insurance_type,
                                  tariff.rates(month))
    return models.ContributionPeriod(
        policy_id=policy.id, person_id=policy.person_id, month=month.to_int(), insurance_type=policy.insurance_type,
        channel=Channel.EMPLOYER, base=price.base, rate=price.rate, amount=price.total,
        employer_amount=price.employer_amount, status=PeriodStatus.DUE,
    )


# Checking lines

def _check_size(lines: Sequence[object]) -> None:
    if not lines:
        raise BusinessError(ErrorCode.INVALID_INPUT, "a filing has at least one line", "lines")
    if len(lines) > MAX_FILING_LINES:
        raise BusinessError(ErrorCode.FILING_TOO_LARGE,
                            f"a filing has at most {MAX_FILING_LINES} lines, this one {len(lines)}: split it", "lines")


def _id_numbers(raw_numbers: Sequence[str], errors: _Errors) -> dict[int, str]:
    """Line -> ID number in its stored form, for the lines that pass A1 and name someone new."""
    first_line: dict[str, int] = {}
    for number, raw in enumerate(raw_numbers, 1):
        try:
            id_number = normalise_resident_id(raw)
        except InvalidIdentifier as exc:
            errors.add(number, "idNumber", ErrorCode.INVALID_ID_NUMBER, str(exc))
            continue
        if id_number in first_line:
            errors.add(number, "idNumber", ErrorCode.INVALID_INPUT, f"the same ID number is on line {first_line[id_number]}")
            continue
        first_line[id_number] = number
    return {number: id_number for id_number, number in first_line.items()}


async def _registered(numbers: dict[int, str], errors: _Errors) -> dict[int, models.Person]:
    """Line -> registered person; registering a person is a business of its own, done first."""
    found = {p.id_number: p for p in await models.Person.filter(id_number__in=list(numbers.values()))}
    persons = {}
    for number, id_number in numbers.items():
        if id_number in found:
            persons[number] = found[id_number]
        else:
            errors.add(number, "idNumber", ErrorCode.PERSON_NOT_REGISTERED,
                       "no person is registered with this ID number: register them at an office first")
    return persons


def _wage_problem(wage: object, *, zero_allowed: bool) -> str | None:
    if not isinstance(wage, Decimal) or not wage.is_finite():
        return "a monthly wage is a decimal amount such as 6500.00"
    if wage.as_tuple().exponent < -2:  # type: ignore[operator]
        return "a monthly wage has at most two decimal places (M1)"
    if wage < 0 or (wage == 0 and not zero_allowed):
        return f"the declared monthly wage must be {'0.00 or more' if zero_allowed else 'more than 0.00'}"
    if wage > MAX_DECLARED_WAGE:
        return f"a declared monthly wage is at most {MAX_DECLARED_WAGE}"
    return None


def _insurance_types(chosen: Sequence[InsuranceType] | None) -> tuple[InsuranceType, ...] | str:
    if chosen is None:
        return EMPLOYER_TYPES
    distinct = list(dict.fromkeys(chosen))
    if not distinct:
        return "choose at least one insurance type, or none for all five"
    if any(not isinstance(t, InsuranceType) for t in distinct):
        return "an insurance type is PENSION, MEDICAL, UNEMPLOYMENT, WORK_INJURY or MATERNITY"
    return tuple(sorted(distinct, key=EMPLOYER_TYPES.index))


async def _open_filings(employer_id: int, business_type: BusinessType, person_ids: list[int]) -> dict[int, int]:
    """Person -> an open filing of the same kind of this employer that already names them."""
    wanted, named = set(person_ids), {}
    filings = await models.BusinessTransaction.filter(
        employer_id=employer_id, business_type=business_type, status__in=OPEN_FILING,
    ).order_by("id").values_list("id", "details")
    for transaction_id, details in filings:
        for row in details.get("lines", ()):
            if row["person_id"] in wanted:
                named.setdefault(row["person_id"], transaction_id)
    return named


async def _check_additions(employer_id: int, lines: list[_Line], effective: Month, persons: dict[int, models.Person],
                           errors: _Errors, *, open_filings: bool) -> None:
    """E2, F3: each person must be free to be insured here for the chosen types in ``effective``."""
    ids = [line.person_id for line in lines]
    employed_here = set(await models.Employment.filter(
        employer_id=employer_id, person_id__in=ids, status=EmploymentStatus.ACTIVE).values_list("person_id", flat=True))
    payers = {(person_id, insurance_type): payer for person_id, insurance_type, payer in await models.Policy.filter(
        in_force(effective, Channel.EMPLOYER), person_id__in=ids).values_list("person_id", "insurance_type", "employer_id")}
    flexible = set(await models.Policy.filter(
        person_id__in=ids, channel=Channel.FLEXIBLE, status=PolicyStatus.ACTIVE).values_list("person_id", "insurance_type"))
    pending = await _open_filings(employer_id, BusinessType.ADD_EMPLOYEES, ids) if open_filings else {}
    for line in lines:
        problem = None
        covered = [t for t in line.types if (line.person_id, t) in payers]
        still_flexible = [t for t in line.types if (line.person_id, t) in flexible]
        if persons[line.person_id].category is PersonCategory.RETIRED:
            problem = ErrorCode.PERSON_RETIRED, "this person is retired and pays no more contributions"
        elif line.person_id in employed_here:
            problem = ErrorCode.ALREADY_EMPLOYED, "already employed by this employer"
        elif line.person_id in pending:
            problem = ErrorCode.INVALID_INPUT, f"already on addition filing {pending[line.person_id]}, awaiting its decision"
        elif covered:
            whose = "this" if payers[line.person_id, covered[0]] == employer_id else "another"
            problem = (ErrorCode.ALREADY_EMPLOYED,
                       f"{covered[0].value.lower()} insurance is paid by {whose} employer in {effective}")
        elif still_flexible:
            problem = (ErrorCode.FLEXIBLE_STILL_ACTIVE, f"flexible {still_flexible[0].value.lower()} insurance is still"
                       " active: the person suspends it first (F3)")
        if problem:
            errors.add(line.number, "idNumber", *problem)


async def _check_removals(employer_id: int, lines: list[_Line], effective: Month, errors: _Errors, *,
                          open_filings: bool) -> dict[int, models.Employment]:
    """E2: each person must be employed here now, and the last month employed must fit."""
    ids = [line.person_id for line in lines]
    employments = {e.person_id: e for e in await models.Employment.filter(
        employer_id=employer_id, person_id__in=ids, status=EmploymentStatus.ACTIVE)}
    pending = await _open_filings(employer_id, BusinessType.REMOVE_EMPLOYEES, ids) if open_filings else {}
    for line in lines:
        employment = employments.get(line.person_id)
        if employment is None:
            errors.add(line.number, "idNumber", ErrorCode.NOT_EMPLOYED_HERE, "not employed by this employer")
        elif line.person_id in pending:
            errors.add(line.number, "idNumber", ErrorCode.INVALID_INPUT,
                       f"already on removal filing {pending[line.person_id]}, awaiting its decision")
        elif line.last_month is not None:
            start, latest = Month.from_int(employment.start_month), _latest_last_month(employment, effective)
            if line.last_month < start:
                errors.add(line.number, "lastMonth", ErrorCode.INVALID_MONTH,
                           f"employed from {start}: the last month employed cannot be earlier")
            elif line.last_month > latest:
                errors.add(line.number, "lastMonth", ErrorCode.INVALID_MONTH,
                           f"a removal taking effect in {effective} has {latest} as the last month employed at the latest")
    return employments


def _latest_last_month(employment: models.Employment, effective: Month) -> Month:
    """The month before the removal takes effect; the first month once begun is always owed."""
    return max(effective.plus(-1), Month.from_int(employment.start_month))


# Locks, records and decisions

def _acts_for(actor: Viewer, employer: models.Employer) -> bool:
    """A6: the employer's own agent online, or a reviewer of its district at the counter."""
    if actor.role is Role.EMPLOYER_AGENT:
        return actor.employer_id == employer.id
    return actor.role is Role.REVIEWER and actor.district_id == employer.district_id


async def _locked_employer(actor: Viewer, employer_id: int) -> models.Employer:
    """The employer, row-locked for the rest of the transaction, so that its filings serialize."""
    employer = await models.Employer.select_for_update(no_key=True).get_or_none(id=employer_id)
    if employer is None or not _acts_for(actor, employer):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this employer", "employerId")
    if employer.status is EmployerStatus.CLOSED:
        raise BusinessError(ErrorCode.EMPLOYER_CLOSED, "this employer is closed", "employerId")
    return employer


async def _locked_filing(actor: Viewer, transaction_id: int, wrong_kind: ErrorCode) -> models.BusinessTransaction:
    """The filing, after its employer's row and then its own are locked; only a reviewer of its
    district decides on it (A6)."""
    found = await models.BusinessTransaction.get_or_none(id=transaction_id)
    if found is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no business with this id", "transactionId")
    if actor.role is not Role.REVIEWER or actor.district_id != found.district_id:
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "filings are decided by a reviewer of the employer's district",
                            "transactionId")
    if found.business_type not in FILING_TYPES:
        raise BusinessError(wrong_kind, "only an addition or removal of staff is decided here", "transactionId")
    await models.Employer.select_for_update(no_key=True).get(id=found.employer_id)
    return await models.BusinessTransaction.select_for_update(no_key=True).get(id=found.id)


def _lines_of(transaction: models.BusinessTransaction) -> list[_Line]:
    return [_Line.from_stored(row) for row in transaction.details.get("lines", ())]


async def _recheck(transaction: models.BusinessTransaction, outcome: str) -> None:
    """Lines valid when filed may not be now (a flexible enrollment, another employer's addition)."""
    lines, errors = _lines_of(transaction), _Errors()
    effective = Month.from_int(transaction.effective_month)
    if transaction.business_type is BusinessType.ADD_EMPLOYEES:
        persons = {p.id: p for p in await models.Person.filter(id__in=[line.person_id for line in lines])}
        await _check_additions(transaction.employer_id, lines, effective, persons, errors, open_filings=False)
    else:
        await _check_removals(transaction.employer_id, lines, effective, errors, open_filings=False)
    errors.raise_any(outcome)


def _move_effective_month(transaction: models.BusinessTransaction, later: Month, reason: str, today: dt.date) -> None:
    """Kept in the details, so that the agent sees why the month changed (M3)."""
    moves = transaction.details.get("effective_month_moves", [])
    move = {"from": str(Month.from_int(transaction.effective_month)), "to": str(later), "on": today.isoformat(),
            "reason": reason}
    transaction.details = {**transaction.details, "effective_month_moves": [*moves, move]}
    transaction.effective_month = later.to_int()


async def _record(business_type: BusinessType, actor: Viewer, employer: models.Employer, status: TransactionStatus,
                  effective: Month, summary: dict[str, Any], lines: list[dict[str, Any]]
                  ) -> models.BusinessTransaction:
    transaction = await record_transaction(
        business_type, actor, district_id=employer.district_id, employer_id=employer.id, status=status,
        effective_month=effective.to_int(), details=summary)
    # record_transaction keeps at most 100 items of a list; a filing keeps every line (ID numbers masked).
    transaction.details = {**transaction.details, "lines": lines}
    await transaction.save(update_fields=["details"])
    return transaction


async def _record_filing(business_type: BusinessType, actor: Viewer, employer: models.Employer, effective: Month,
                         lines: list[_Line]) -> models.BusinessTransaction:
    return await _record(business_type, actor, employer, TransactionStatus.SUBMITTED, effective,
                         {"line_count": len(lines), "filed_on": clock.today()}, [line.stored() for line in lines])


async def _take_on(transaction: models.BusinessTransaction, lines: list[_Line], persons: dict[int, models.Person],
                   effective: Month, tariff: Tariff) -> Completion:
    """An addition takes effect: the employment, one employer-channel policy a type, and the months
    from the effective one to this one priced by P4."""
    errors = _Errors()
    await _check_additions(transaction.employer_id, lines, effective, persons, errors, open_filings=False)
    errors.raise_any("nothing took effect")
    employer_id, start, ids = transaction.employer_id, effective.to_int(), [line.person_id for line in lines]
    await models.Employment.bulk_create([models.Employment(
        person_id=line.person_id, employer_id=employer_id, start_month=start, declared_wage=line.wage) for line in lines])
    await models.Policy.bulk_create([models.Policy(
        person_id=line.person_id, insurance_type=t, channel=Channel.EMPLOYER, employer_id=employer_id, start_month=start)
        for line in lines for t in line.types])
    # Under the employer's lock, these are the rows just written: none was in force before (checked).
    employments = await models.Employment.filter(employer_id=employer_id, start_month=start, person_id__in=ids,
                                                 status=EmploymentStatus.ACTIVE).order_by("person_id")
    wanted = {(line.person_id, t) for line in lines for t in line.types}
    policies = [p for p in await models.Policy.filter(
        employer_id=employer_id, channel=Channel.EMPLOYER, start_month=start, person_id__in=ids,
        status=PolicyStatus.ACTIVE, end_month__isnull=True).order_by("person_id", "id")
        if (p.person_id, p.insurance_type) in wanted]
    wages = {line.person_id: line.wage for line in lines}
    months = month_range(effective, max(effective, clock.this_month()))  # materials may come after the month began
    await models.ContributionPeriod.bulk_create(
        [employer_period(policy, month, wages[policy.person_id], tariff) for policy in policies for month in months])
    periods = list(await models.ContributionPeriod.filter(policy_id__in=[p.id for p in policies]).order_by(
        "person_id", "month", "id"))
    await models.Person.filter(id__in=ids).update(category=PersonCategory.EMPLOYED, updated_at=clock.now())
    return Completion(transaction, list(employments), policies, periods)


async def _let_go(transaction: models.BusinessTransaction, lines: list[_Line], persons: dict[int, models.Person],
                  effective: Month) -> Completion:
    """A removal takes effect: employment and this employer's policies end with the last month
    employed, and the months after it no longer fall due."""
    errors = _Errors()
    employments = await _check_removals(transaction.employer_id, lines, effective, errors, open_filings=False)
    errors.raise_any("nothing took effect")
    by_last: dict[Month, list[int]] = defaultdict(list)
    stored = []
    for line in lines:
        last = line.last_month or _latest_last_month(employments[line.person_id], effective)
        by_last[last].append(line.person_id)
        stored.append({**line.stored(), "last_month": str(last)})
    transaction.details = {**transaction.details, "lines": stored}
    dropped, ended_policies = 0, []
    for last, ids in by_last.items():
        policy_ids = list(await models.Policy.filter(
            employer_id=transaction.employer_id, channel=Channel.EMPLOYER, person_id__in=ids,
            status=PolicyStatus.ACTIVE).values_list("id", flat=True))
        ended_policies += policy_ids
        await models.Employment.filter(id__in=[employments[i].id for i in ids]).update(
            end_month=last.to_int(), status=EmploymentStatus.ENDED)
        await models.Policy.filter(id__in=policy_ids).update(end_month=last.to_int(), status=PolicyStatus.TERMINATED)
        dropped += await models.ContributionPeriod.filter(
            policy_id__in=policy_ids, month__gt=last.to_int(), status=PeriodStatus.DUE).delete()
    ids = [line.person_id for line in lines]
    employed = set(await models.Employment.filter(
        person_id__in=ids, status=EmploymentStatus.ACTIVE).values_list("person_id", flat=True))
    flexible = set(await models.Policy.filter(
        person_id__in=ids, channel=Channel.FLEXIBLE, status=PolicyStatus.ACTIVE).values_list("person_id", flat=True))
    now = clock.now()
    for category, members in ((PersonCategory.EMPLOYED, employed), (PersonCategory.FLEXIBLE, flexible - employed),
                              (PersonCategory.UNINSURED, set(ids) - employed - flexible)):
        changed = [i for i in members if persons[i].category not in (category, PersonCategory.RETIRED)]
        if changed:
            await models.Person.filter(id__in=changed).update(category=category, updated_at=now)
    ended = list(await models.Employment.filter(id__in=[e.id for e in employments.values()]).order_by("person_id"))
    policies = list(await models.Policy.filter(id__in=ended_policies).order_by("person_id", "id"))
    return Completion(transaction, ended, policies, [], dropped)


async def _reprice(connection: Any, employer_id: int, wages: dict[int, Decimal], first: Month, last: Month,
                   tariff: Tariff) -> dict[int, int]:
    """E3, P4: this employer's DUE months of the persons, from ``first`` to ``last``, at their new
    declared wage; locked, as the P1 re-pricing job may be at them. Returns the count per person."""
    periods = await models.ContributionPeriod.select_for_update(no_key=True, of=("contribution_period",)).filter(
        policy__employer_id=employer_id, channel=Channel.EMPLOYER, person_id__in=list(wages),
        status=PeriodStatus.DUE, month__gte=first.to_int(), month__lte=last.to_int()).order_by("id")
    counts: dict[int, int] = dict.fromkeys(wages, 0)
    rows = []
    for period in periods:
        month = Month.from_int(period.month)
        price = employer_contribution(wages[period.person_id], tariff.average_wage(month), period.insurance_type,
                                      tariff.rates(month))
        if (price.base, price.total, price.employer_amount, price.rate) != (
                period.base, period.amount, period.employer_amount, period.rate):
            rows.append((period.id, price.base, price.total, price.employer_amount, price.rate))
            counts[period.person_id] += 1
    await update_each(connection, "contribution_period", ("base", "amount", "employer_amount", "rate"), rows,
                      ("numeric", "numeric", "numeric", "numeric"))
    return counts
