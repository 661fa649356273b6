"""Adding and removing staff (E2), with the agency's review and the one visit with the paper
materials; a filing not accepted by the 20th takes effect a month later (M3).

The lines are kept in the BusinessTransaction's details, each with the person it names.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

import models
from domain.enums import (
    BusinessType,
    Channel,
    EmploymentStatus,
    InsuranceType,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    Role,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.identifiers import mask_resident_id
from domain.money import to_fen
from domain.months import Month, is_on_time, month_range
from domain.pricing import employer_contribution
from domain.tariff import Tariff
from services.collection.periods import in_force
from services.collection.tariff import load_tariff
from services.common import clock
from services.common.rate_limits import rate_limiter, try_again_after
from services.common.viewer import Viewer
from services.employer.filing import (
    EMPLOYER_TYPES,
    LineErrors,
    check_size,
    declared_wage_problem,
    id_numbers,
    locked_employer,
    record_with_lines,
    registered,
)
from settings import get_settings

MAX_REASON = 500
UNKNOWN_PERSON_LINES = "unknown-person-lines"  # the rate limit's namespace
FILING_TYPES = (BusinessType.ADD_EMPLOYEES, BusinessType.REMOVE_EMPLOYEES)
OPEN_FILING = (TransactionStatus.SUBMITTED, TransactionStatus.ACCEPTED)
NOT_EMPLOYED_HERE = "not employed by this employer"


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
class Completion:
    """What confirming the materials changed: employments begun or ended, their policies, the periods
    made for an addition, and the months no longer due after a removal."""

    transaction: models.BusinessTransaction
    employments: list[models.Employment]
    policies: list[models.Policy]
    periods: list[models.ContributionPeriod]
    dropped_periods: int = 0


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
        row: dict[str, Any] = {
            "line": self.number,
            "person_id": self.person_id,
            "id_number": mask_resident_id(self.id_number),
        }  # docs/api.md 8
        if self.wage is not None:
            row["declared_wage"] = str(self.wage)
        if self.types:
            row["insurance_types"] = [t.value for t in self.types]
        if self.last_month is not None:
            row["last_month"] = str(self.last_month)
        return row

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> _Line:
        return cls(
            row["line"],
            row["person_id"],
            row["id_number"],
            Decimal(row["declared_wage"]) if "declared_wage" in row else None,
            tuple(InsuranceType(t) for t in row.get("insurance_types", ())),
            Month.parse(row["last_month"]) if "last_month" in row else None,
        )


def on_time_month(day: dt.date) -> Month:
    """M3, E2: done on or before the 20th takes effect this month, later next month."""
    month = Month.of(day)
    return month if is_on_time(day) else month.plus(1)


# Adding and removing staff (E2)


async def add_employees(actor: Viewer, employer_id: int, lines: Sequence[AddLine]) -> models.BusinessTransaction:
    """E2 增员: filed SUBMITTED for the agency to review, taking effect in the month the 20th rule gives."""
    check_size(lines)
    errors = LineErrors()
    numbers = id_numbers([line.id_number for line in lines], errors)
    types: dict[int, tuple[InsuranceType, ...]] = {}
    for number, line in enumerate(lines, 1):
        wage_problem = declared_wage_problem(line.declared_wage, zero_allowed=False)
        if wage_problem:
            errors.add(number, "declaredWage", ErrorCode.INVALID_AMOUNT, wage_problem)
        chosen = _insurance_types(line.insurance_types)
        if isinstance(chosen, str):
            errors.add(number, "insuranceTypes", ErrorCode.INVALID_INPUT, chosen)
        else:
            types[number] = chosen
    async with in_transaction():
        employer = await locked_employer(actor, employer_id)
        await _charge_unknown_persons(actor, employer.id, numbers)
        effective = on_time_month(clock.today())
        persons = await registered(numbers, errors, _not_addable(effective))
        # Every line naming someone is checked, whatever else is wrong with it: otherwise a line
        # with a bad wage would be refused for its person only when that person is not registered.
        await _check_additions(
            employer.id,
            [_Line(n, persons[n].id, numbers[n], types=types.get(n, EMPLOYER_TYPES)) for n in sorted(persons)],
            effective,
            {p.id: p for p in persons.values()},
            errors,
            open_filings=True,
        )
        errors.raise_any("nothing was filed")
        resolved = [
            _Line(n, persons[n].id, numbers[n], to_fen(lines[n - 1].declared_wage), types[n]) for n in sorted(persons)
        ]
        return await _record_filing(BusinessType.ADD_EMPLOYEES, actor, employer, effective, resolved)


async def remove_employees(actor: Viewer, employer_id: int, lines: Sequence[RemoveLine]) -> models.BusinessTransaction:
    """E2 减员: filed SUBMITTED; by default the last month employed is the month before it takes effect."""
    check_size(lines)
    errors = LineErrors()
    numbers = id_numbers([line.id_number for line in lines], errors)
    for number, line in enumerate(lines, 1):
        if line.last_month is not None and not isinstance(line.last_month, Month):
            errors.add(number, "lastMonth", ErrorCode.INVALID_MONTH, "the last month employed is a month YYYY-MM")
    async with in_transaction():
        employer = await locked_employer(actor, employer_id)
        effective = on_time_month(clock.today())
        # Not registered answers as registered but not employed here: it is no business of the employer's.
        persons = await registered(numbers, errors, (ErrorCode.NOT_EMPLOYED_HERE, NOT_EMPLOYED_HERE))
        resolved = [
            _Line(n, persons[n].id, numbers[n], last_month=lines[n - 1].last_month)
            for n in sorted(persons)
            if not errors.failed(n)
        ]
        await _check_removals(employer.id, resolved, effective, errors, open_filings=True)
        errors.raise_any("nothing was filed")
        return await _record_filing(BusinessType.REMOVE_EMPLOYEES, actor, employer, effective, resolved)


async def review(
    actor: Viewer, transaction_id: int, accept: bool, reason: str | None = None
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
        reviewable, what = (
            ((TransactionStatus.SUBMITTED,), "a submitted filing is accepted")
            if accept
            else (OPEN_FILING, "a filing not yet in effect is rejected")
        )
        if transaction.status not in reviewable:
            raise BusinessError(
                ErrorCode.NOT_REVIEWABLE,
                f"this filing is {transaction.status.value.lower()}: only {what}",
                "transactionId",
            )
        if transaction.status is TransactionStatus.ACCEPTED:  # rejected at the visit: the acceptance stays on record
            transaction.details = {
                **transaction.details,
                "accepted": {"at": transaction.decided_at.isoformat(), "by": transaction.decided_by_id},
            }
        if accept:
            today = clock.today()
            if today > Month.from_int(transaction.effective_month).deadline():
                later = on_time_month(today)
                _move_effective_month(transaction, later, f"accepted after the 20th: takes effect from {later}", today)
            await _recheck(transaction, "nothing was accepted")
        transaction.status = TransactionStatus.ACCEPTED if accept else TransactionStatus.REJECTED
        transaction.decided_at, transaction.decided_by_id, transaction.decision_reason = (
            clock.now(),
            actor.account_id,
            text,
        )
        await transaction.save(
            update_fields=["status", "decided_at", "decided_by_id", "decision_reason", "effective_month", "details"]
        )
    return transaction


async def confirm_materials(actor: Viewer, transaction_id: int) -> Completion:
    """E2, the one visit: the paper materials are in, and the accepted change takes effect."""
    tariff = await load_tariff()
    async with in_transaction():
        transaction = await _locked_filing(actor, transaction_id, ErrorCode.MATERIALS_NOT_EXPECTED)
        if transaction.status is not TransactionStatus.ACCEPTED:
            raise BusinessError(
                ErrorCode.MATERIALS_NOT_EXPECTED,
                f"this filing is {transaction.status.value.lower()}: materials are handed in once it is accepted",
                "transactionId",
            )
        lines = _lines_of(transaction)
        # The persons too, after the employer and in id order (as the month-end does), so that a
        # flexible enrollment (F1) and this change of insurance do not pass each other.
        persons = {
            p.id: p
            for p in await models.Person.select_for_update(no_key=True)
            .filter(id__in=[line.person_id for line in lines])
            .order_by("id")
        }
        effective = Month.from_int(transaction.effective_month)
        if transaction.business_type is BusinessType.ADD_EMPLOYEES:
            completion = await _take_on(transaction, lines, persons, effective, tariff)
        else:
            completion = await _let_go(transaction, lines, persons, effective)
        now = clock.now()
        transaction.status = TransactionStatus.COMPLETED
        transaction.details = {
            **transaction.details,
            "materials_confirmed_at": now.isoformat(),
            "materials_confirmed_by": actor.account_id,
        }
        await transaction.save(update_fields=["status", "details"])
    return completion


async def roll_over_unaccepted(today: dt.date) -> int:
    """M3, E2: a filing still awaiting review after the 20th of the month it was to take effect in
    takes effect in the next month it can still make; the move is noted in its details. Returns how
    many filings moved; a second run the same day moves none."""
    target = on_time_month(today)
    late = (
        await models.BusinessTransaction.filter(
            business_type__in=FILING_TYPES,
            status=TransactionStatus.SUBMITTED,
            effective_month__lt=target.to_int(),
        )
        .order_by("id")
        .values_list("id", "employer_id")
    )
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


def employer_period(
    policy: models.Policy, month: Month, declared_wage: Decimal, tariff: Tariff
) -> models.ContributionPeriod:
    """The unsaved DUE employer-channel period of ``policy`` for ``month`` (P4): the base is the
    declared wage held within the limits, the amount both shares, the rate their sum."""
    price = employer_contribution(declared_wage, tariff.average_wage(month), policy.insurance_type, tariff.rates(month))
    return models.ContributionPeriod(
        policy_id=policy.id,
        person_id=policy.person_id,
        month=month.to_int(),
        insurance_type=policy.insurance_type,
        channel=Channel.EMPLOYER,
        base=price.base,
        rate=price.rate,
        amount=price.total,
        employer_amount=price.employer_amount,
        status=PeriodStatus.DUE,
    )


# Checking lines


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
    filings = (
        await models.BusinessTransaction.filter(
            employer_id=employer_id,
            business_type=business_type,
            status__in=OPEN_FILING,
        )
        .order_by("id")
        .values_list("id", "details")
    )
    for transaction_id, details in filings:
        for row in details.get("lines", ()):
            if row["person_id"] in wanted:
                named.setdefault(row["person_id"], transaction_id)
    return named


async def _check_additions(
    employer_id: int,
    lines: list[_Line],
    effective: Month,
    persons: dict[int, models.Person],
    errors: LineErrors,
    *,
    open_filings: bool,
) -> None:
    """E2, F3: each person must be free to be insured here for the chosen types in ``effective``."""
    ids = [line.person_id for line in lines]
    employed_here = set(
        await models.Employment.filter(
            employer_id=employer_id, person_id__in=ids, status=EmploymentStatus.ACTIVE
        ).values_list("person_id", flat=True)
    )
    payers = {
        (person_id, insurance_type): payer
        for person_id, insurance_type, payer in await models.Policy.filter(
            in_force(effective, Channel.EMPLOYER), person_id__in=ids
        ).values_list("person_id", "insurance_type", "employer_id")
    }
    flexible = set(
        await models.Policy.filter(person_id__in=ids, channel=Channel.FLEXIBLE, status=PolicyStatus.ACTIVE).values_list(
            "person_id", "insurance_type"
        )
    )
    pending = await _open_filings(employer_id, BusinessType.ADD_EMPLOYEES, ids) if open_filings else {}
    for line in lines:
        problem = None
        covered = [t for t in line.types if (line.person_id, t) in payers]
        paid_elsewhere = [t for t in covered if payers[line.person_id, t] != employer_id]
        still_flexible = [t for t in line.types if (line.person_id, t) in flexible]
        # What this employer knows already is said plainly; the rest is the person's own (A6).
        if line.person_id in employed_here:
            problem = ErrorCode.ALREADY_EMPLOYED, "already employed by this employer"
        elif line.person_id in pending:
            problem = (
                ErrorCode.INVALID_INPUT,
                f"already on addition filing {pending[line.person_id]}, awaiting its decision",
            )
        elif covered and not paid_elsewhere:
            problem = (
                ErrorCode.ALREADY_EMPLOYED,
                f"{covered[0].value.lower()} insurance is paid by this employer in {effective}",
            )
        elif persons[line.person_id].category is PersonCategory.RETIRED or paid_elsewhere or still_flexible:
            problem = _not_addable(effective)
        if problem:
            errors.add(line.number, "idNumber", *problem)


async def _check_removals(
    employer_id: int, lines: list[_Line], effective: Month, errors: LineErrors, *, open_filings: bool
) -> dict[int, models.Employment]:
    """E2: each person must be employed here now, and the last month employed must fit."""
    ids = [line.person_id for line in lines]
    employments = {
        e.person_id: e
        for e in await models.Employment.filter(
            employer_id=employer_id, person_id__in=ids, status=EmploymentStatus.ACTIVE
        )
    }
    pending = await _open_filings(employer_id, BusinessType.REMOVE_EMPLOYEES, ids) if open_filings else {}
    for line in lines:
        employment = employments.get(line.person_id)
        if employment is None:
            errors.add(line.number, "idNumber", ErrorCode.NOT_EMPLOYED_HERE, NOT_EMPLOYED_HERE)
        elif line.person_id in pending:
            errors.add(
                line.number,
                "idNumber",
                ErrorCode.INVALID_INPUT,
                f"already on removal filing {pending[line.person_id]}, awaiting its decision",
            )
        elif line.last_month is not None:
            start, latest = Month.from_int(employment.start_month), _latest_last_month(employment, effective)
            if line.last_month < start:
                errors.add(
                    line.number,
                    "lastMonth",
                    ErrorCode.INVALID_MONTH,
                    f"employed from {start}: the last month employed cannot be earlier",
                )
            elif line.last_month > latest:
                errors.add(
                    line.number,
                    "lastMonth",
                    ErrorCode.INVALID_MONTH,
                    f"a removal taking effect in {effective} has {latest} as the last month employed at the latest",
                )
    return employments


def _not_addable(effective: Month) -> tuple[ErrorCode, str]:
    """One answer for every reason that lies with the person: not registered, retired, insured by
    another employer or in flexible employment. The employer needs to know that it cannot add
    them, not which (A6); the person learns why at an office."""
    return (
        ErrorCode.PERSON_NOT_ADDABLE,
        f"cannot be added in {effective}: not registered, retired, or insured through another channel;"
        " the person can learn why at a service office",
    )


async def _charge_unknown_persons(actor: Viewer, employer_id: int, numbers: dict[int, str]) -> None:
    """Lines about persons the employer has never employed are limited per account (settings), so
    that an agent cannot ask about anyone at will through filings (A6); over the limit nothing is
    checked or filed."""
    known = await models.Employment.filter(
        employer_id=employer_id, person__id_number__in=list(numbers.values())
    ).values_list("person__id_number", flat=True)
    strangers = len(set(numbers.values()) - set(known))
    limit = get_settings().unknown_person_lines_limit
    until = await rate_limiter().charge(limit, UNKNOWN_PERSON_LINES, str(actor.account_id), cost=strangers)
    if until is not None:
        raise BusinessError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            f"too many lines about persons this employer has never employed (at most {limit} for an"
            f" account): nothing was filed; try again after {try_again_after(until)}",
            "lines",
        )


def _latest_last_month(employment: models.Employment, effective: Month) -> Month:
    """The month before the removal takes effect; the first month once begun is always owed."""
    return max(effective.plus(-1), Month.from_int(employment.start_month))


# Locks, records and decisions


async def _locked_filing(actor: Viewer, transaction_id: int, wrong_kind: ErrorCode) -> models.BusinessTransaction:
    """The filing, after its employer's row and then its own are locked; only a reviewer of its
    district decides on it (A6)."""
    found = await models.BusinessTransaction.get_or_none(id=transaction_id)
    if found is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no business with this id", "transactionId")
    if actor.role is not Role.REVIEWER or actor.district_id != found.district_id:
        raise BusinessError(
            ErrorCode.OUT_OF_SCOPE, "filings are decided by a reviewer of the employer's district", "transactionId"
        )
    if found.business_type not in FILING_TYPES:
        raise BusinessError(wrong_kind, "only an addition or removal of staff is decided here", "transactionId")
    await models.Employer.select_for_update(no_key=True).get(id=found.employer_id)
    return await models.BusinessTransaction.select_for_update(no_key=True).get(id=found.id)


def _lines_of(transaction: models.BusinessTransaction) -> list[_Line]:
    return [_Line.from_stored(row) for row in transaction.details.get("lines", ())]


async def _recheck(transaction: models.BusinessTransaction, outcome: str) -> None:
    """Lines valid when filed may not be now (a flexible enrollment, another employer's addition)."""
    lines, errors = _lines_of(transaction), LineErrors()
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
    move = {
        "from": str(Month.from_int(transaction.effective_month)),
        "to": str(later),
        "on": today.isoformat(),
        "reason": reason,
    }
    transaction.details = {**transaction.details, "effective_month_moves": [*moves, move]}
    transaction.effective_month = later.to_int()


async def _record_filing(
    business_type: BusinessType, actor: Viewer, employer: models.Employer, effective: Month, lines: list[_Line]
) -> models.BusinessTransaction:
    return await record_with_lines(
        business_type,
        actor,
        employer,
        TransactionStatus.SUBMITTED,
        effective,
        {"line_count": len(lines), "filed_on": clock.today()},
        [line.stored() for line in lines],
    )


async def _take_on(
    transaction: models.BusinessTransaction,
    lines: list[_Line],
    persons: dict[int, models.Person],
    effective: Month,
    tariff: Tariff,
) -> Completion:
    """An addition takes effect: the employment, one employer-channel policy a type, and the months
    from the effective one to this one priced by P4."""
    errors = LineErrors()
    await _check_additions(transaction.employer_id, lines, effective, persons, errors, open_filings=False)
    errors.raise_any("nothing took effect")
    employer_id, start, ids = transaction.employer_id, effective.to_int(), [line.person_id for line in lines]
    await models.Employment.bulk_create(
        [
            models.Employment(
                person_id=line.person_id, employer_id=employer_id, start_month=start, declared_wage=line.wage
            )
            for line in lines
        ]
    )
    await models.Policy.bulk_create(
        [
            models.Policy(
                person_id=line.person_id,
                insurance_type=t,
                channel=Channel.EMPLOYER,
                employer_id=employer_id,
                start_month=start,
            )
            for line in lines
            for t in line.types
        ]
    )
    # Under the employer's lock, these are the rows just written: none was in force before (checked).
    employments = await models.Employment.filter(
        employer_id=employer_id, start_month=start, person_id__in=ids, status=EmploymentStatus.ACTIVE
    ).order_by("person_id")
    wanted = {(line.person_id, t) for line in lines for t in line.types}
    policies = [
        p
        for p in await models.Policy.filter(
            employer_id=employer_id,
            channel=Channel.EMPLOYER,
            start_month=start,
            person_id__in=ids,
            status=PolicyStatus.ACTIVE,
            end_month__isnull=True,
        ).order_by("person_id", "id")
        if (p.person_id, p.insurance_type) in wanted
    ]
    wages = {line.person_id: line.wage for line in lines}
    months = month_range(effective, max(effective, clock.this_month()))  # materials may come after the month began
    await models.ContributionPeriod.bulk_create(
        [employer_period(policy, month, wages[policy.person_id], tariff) for policy in policies for month in months]
    )
    periods = list(
        await models.ContributionPeriod.filter(policy_id__in=[p.id for p in policies]).order_by(
            "person_id", "month", "id"
        )
    )
    await models.Person.filter(id__in=ids).update(category=PersonCategory.EMPLOYED, updated_at=clock.now())
    return Completion(transaction, list(employments), policies, periods)


async def _let_go(
    transaction: models.BusinessTransaction, lines: list[_Line], persons: dict[int, models.Person], effective: Month
) -> Completion:
    """A removal takes effect: employment and this employer's policies end with the last month
    employed, and the months after it no longer fall due."""
    errors = LineErrors()
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
        policy_ids = list(
            await models.Policy.filter(
                employer_id=transaction.employer_id,
                channel=Channel.EMPLOYER,
                person_id__in=ids,
                status=PolicyStatus.ACTIVE,
            ).values_list("id", flat=True)
        )
        ended_policies += policy_ids
        await models.Employment.filter(id__in=[employments[i].id for i in ids]).update(
            end_month=last.to_int(), status=EmploymentStatus.ENDED
        )
        await models.Policy.filter(id__in=policy_ids).update(end_month=last.to_int(), status=PolicyStatus.TERMINATED)
        dropped += await models.ContributionPeriod.filter(
            policy_id__in=policy_ids, month__gt=last.to_int(), status=PeriodStatus.DUE
        ).delete()
    ids = [line.person_id for line in lines]
    employed = set(
        await models.Employment.filter(person_id__in=ids, status=EmploymentStatus.ACTIVE).values_list(
            "person_id", flat=True
        )
    )
    flexible = set(
        await models.Policy.filter(person_id__in=ids, channel=Channel.FLEXIBLE, status=PolicyStatus.ACTIVE).values_list(
            "person_id", flat=True
        )
    )
    now = clock.now()
    for category, members in (
        (PersonCategory.EMPLOYED, employed),
        (PersonCategory.FLEXIBLE, flexible - employed),
        (PersonCategory.UNINSURED, set(ids) - employed - flexible),
    ):
        changed = [i for i in members if persons[i].category not in (category, PersonCategory.RETIRED)]
        if changed:
            await models.Person.filter(id__in=changed).update(category=category, updated_at=now)
    ended = list(await models.Employment.filter(id__in=[e.id for e in employments.values()]).order_by("person_id"))
    policies = list(await models.Policy.filter(id__in=ended_policies).order_by("person_id", "id"))
    return Completion(transaction, ended, policies, [], dropped)
