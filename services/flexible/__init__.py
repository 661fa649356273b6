"""Flexible-employment enrollment, suspension and pension grade (F1-F4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tortoise.transactions import in_transaction

import models
from domain.enums import (
    BusinessType,
    Channel,
    InsuranceType,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import Month
from domain.pricing import InvalidPensionGrade, check_pension_grade
from domain.tariff import Tariff
from services.cards import applications as card_applications
from services.collection.periods import ensure_period, in_force, priced_period
from services.collection.tariff import load_tariff
from services.common import clock
from services.common.self_service import locked_subject
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

FLEXIBLE_TYPES = (InsuranceType.PENSION, InsuranceType.MEDICAL)
LATEST_START = 3  # months ahead: an enrollment further out is a keying error


@dataclass(frozen=True)
class Enrollment:
    policies: list[models.Policy]
    transaction: models.BusinessTransaction
    card_application: models.MedicalCardApplication | None


@dataclass(frozen=True)
class GradeChange:
    policy: models.Policy
    repriced: list[models.ContributionPeriod]
    transaction: models.BusinessTransaction


def _flexible_types(insurance_types: Sequence[InsuranceType]) -> list[InsuranceType]:
    chosen = list(dict.fromkeys(insurance_types))
    if not chosen or any(t not in FLEXIBLE_TYPES for t in chosen):
        raise BusinessError(
            ErrorCode.INVALID_INPUT, "flexible employment insures PENSION and/or MEDICAL", "insuranceTypes"
        )
    return sorted(chosen, key=FLEXIBLE_TYPES.index)  # pension first, as it is collected (P6)


def pension_grade(grade: Decimal | None, tariff: Tariff, month: Month) -> Decimal:
    if grade is None:
        raise BusinessError(
            ErrorCode.INVALID_GRADE, "choose a pension grade, 0.60 to 3.00 of the average wage (P2)", "pensionGrade"
        )
    try:
        return check_pension_grade(grade, tariff.rates(month))
    except InvalidPensionGrade as error:
        raise BusinessError(ErrorCode.INVALID_GRADE, str(error), "pensionGrade") from None


async def _active_flexible(person_id: int, insurance_type: InsuranceType) -> models.Policy | None:
    return await models.Policy.get_or_none(
        person_id=person_id, insurance_type=insurance_type, channel=Channel.FLEXIBLE, status=PolicyStatus.ACTIVE
    )


async def _employer_covers(person_id: int, insurance_type: InsuranceType, month: Month) -> bool:
    """F1: an employer pays this insurance for the person in ``month``."""
    return await models.Policy.filter(
        in_force(month, Channel.EMPLOYER), person_id=person_id, insurance_type=insurance_type
    ).exists()


async def enroll(
    actor: Viewer,
    person_id: int,
    insurance_types: Sequence[InsuranceType],
    grade: Decimal | None,
    start_month: Month | None,
    photo: bytes | None,
) -> Enrollment:
    """F1, F2: new enrollment, or continuation after a suspension, from next month at the earliest.
    The first month's period is made at once, so the person sees what to deposit."""
    types = _flexible_types(insurance_types)
    this_month = clock.this_month()
    start = start_month or this_month.plus(1)
    if start <= this_month:
        raise BusinessError(
            ErrorCode.INVALID_MONTH,
            f"contributions start next month ({this_month.plus(1)}) at the earliest (F1)",
            "startMonth",
        )
    if start > this_month.plus(LATEST_START):
        raise BusinessError(
            ErrorCode.INVALID_MONTH, f"an enrollment starts at most {LATEST_START} months ahead", "startMonth"
        )
    tariff = await load_tariff()
    chosen_grade = pension_grade(grade, tariff, start) if InsuranceType.PENSION in types else None
    if grade is not None and chosen_grade is None:
        raise BusinessError(ErrorCode.INVALID_INPUT, "a pension grade goes with a pension enrollment", "pensionGrade")
    image = card_applications.checked_photo(photo) if InsuranceType.MEDICAL in types else None
    if photo is not None and image is None:
        raise BusinessError(ErrorCode.INVALID_INPUT, "a photo goes with a medical enrollment (F2)", "photo")
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        for insurance_type in types:
            if await _active_flexible(person.id, insurance_type) is not None:
                raise BusinessError(
                    ErrorCode.ALREADY_ENROLLED,
                    f"already enrolled in flexible {insurance_type.value.lower()} insurance",
                    "insuranceTypes",
                )
            if await _employer_covers(person.id, insurance_type, start):
                raise BusinessError(
                    ErrorCode.INSURED_BY_EMPLOYER,
                    f"an employer pays {insurance_type.value.lower()} insurance for this person in {start} (F1)",
                    "insuranceTypes",
                )
        continuation = await models.Policy.exists(
            person_id=person.id, channel=Channel.FLEXIBLE, insurance_type__in=types
        )
        policies = []
        for insurance_type in types:
            policy = await models.Policy.create(
                person_id=person.id,
                insurance_type=insurance_type,
                channel=Channel.FLEXIBLE,
                grade=chosen_grade if insurance_type is InsuranceType.PENSION else None,
                start_month=start.to_int(),
            )
            await priced_period(policy, start, tariff).save()
            policies.append(policy)
        person.category = PersonCategory.FLEXIBLE
        await person.save(update_fields=["category", "updated_at"])
        transaction = await record_transaction(
            BusinessType.ENROLL_FLEXIBLE,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.COMPLETED,
            effective_month=start.to_int(),
            details={
                "insurance_types": types,
                "pension_grade": chosen_grade,
                "start_month": start,
                "continuation": continuation,
            },
        )
        application, photo_job = (
            (None, None)
            if image is None
            else await card_applications.open_application(person, transaction, photo, image)
        )
    if photo_job is not None:
        await card_applications.queue_photo_check(photo_job)
    return Enrollment(policies, transaction, application)


async def suspend(
    actor: Viewer, person_id: int, insurance_types: Sequence[InsuranceType]
) -> tuple[list[models.Policy], models.BusinessTransaction]:
    """F3: this month is the last due; months not yet due are dropped. A policy suspended before its
    first month never owed anything and is TERMINATED instead."""
    types = _flexible_types(insurance_types)
    this_month = clock.this_month()
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        policies = []
        for insurance_type in types:
            policy = await _active_flexible(person.id, insurance_type)
            if policy is None:
                raise BusinessError(
                    ErrorCode.NOT_ENROLLED,
                    f"not enrolled in flexible {insurance_type.value.lower()} insurance",
                    "insuranceTypes",
                )
            if policy.start_month > this_month.to_int():
                policy.status = PolicyStatus.TERMINATED
            else:
                policy.status, policy.end_month = PolicyStatus.SUSPENDED, this_month.to_int()
            await policy.save(update_fields=["status", "end_month"])
            await models.ContributionPeriod.filter(
                policy_id=policy.id, month__gt=this_month.to_int(), status=PeriodStatus.DUE
            ).delete()
            policies.append(policy)
        if not await models.Policy.exists(person_id=person.id, channel=Channel.FLEXIBLE, status=PolicyStatus.ACTIVE):
            person.category = PersonCategory.UNINSURED
            await person.save(update_fields=["category", "updated_at"])
        transaction = await record_transaction(
            BusinessType.SUSPEND_FLEXIBLE,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.COMPLETED,
            effective_month=this_month.plus(1).to_int(),
            details={"insurance_types": types, "last_month_due": this_month},
        )
    return policies, transaction


async def change_pension_grade(actor: Viewer, person_id: int, grade: Decimal | None) -> GradeChange:
    """F4: the new grade from next month; this month keeps the old one, and the months not yet due
    are re-priced."""
    this_month = clock.this_month()
    effective = this_month.plus(1)
    tariff = await load_tariff()
    new_grade = pension_grade(grade, tariff, effective)
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        policy = await _active_flexible(person.id, InsuranceType.PENSION)
        if policy is None:
            raise BusinessError(ErrorCode.NOT_ENROLLED, "not enrolled in flexible pension insurance", "personId")
        if policy.grade == new_grade:
            raise BusinessError(ErrorCode.INVALID_GRADE, f"the pension grade is already {new_grade}", "pensionGrade")
        old_grade = policy.grade
        if policy.start_month <= this_month.to_int():
            await ensure_period(policy, this_month, tariff)  # fixes this month at the old grade
        policy.grade = new_grade
        await policy.save(update_fields=["grade"])
        repriced = list(
            await models.ContributionPeriod.filter(
                policy_id=policy.id, month__gte=effective.to_int(), status=PeriodStatus.DUE
            ).order_by("month")
        )
        for period in repriced:
            price = tariff.pension(Month.from_int(period.month), new_grade)
            period.grade, period.base, period.amount = new_grade, price.base, price.amount
            await period.save(update_fields=["grade", "base", "amount"])
        transaction = await record_transaction(
            BusinessType.CHANGE_PENSION_GRADE,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.COMPLETED,
            effective_month=effective.to_int(),
            details={
                "from_grade": old_grade,
                "to_grade": new_grade,
                "repriced_months": [Month.from_int(p.month) for p in repriced],
            },
        )
    return GradeChange(policy, repriced, transaction)
