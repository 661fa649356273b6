"""Paying (F6) and cancelling (F7) historical arrears, and back-paying pension interruptions (F8).

Payments are orders: the money is collected from the passbook at the month-end of the month they
are made (services.collection). An arrear in an open order is ORDERED, and neither ordered again
nor cancelled until the order is collected or lapses. The person's row is locked while an order is
made, so one person's orders are made one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from tortoise.transactions import in_transaction

import models
from domain.enums import (
    ArrearStatus,
    BusinessType,
    Channel,
    InsuranceType,
    PaymentOrderKind,
    PaymentOrderStatus,
    PeriodStatus,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import Month, month_range
from domain.tariff import Tariff
from services.collection.tariff import load_tariff
from services.common import clock
from services.common.self_service import locked_subject
from services.common.transactions import record_transaction
from services.common.viewer import Viewer
from services.flexible import pension_grade

T = TypeVar("T")
MAX_ORDER_LINES = 360  # thirty years of months in one order
PAID_OR_OWED = (PeriodStatus.PAID, PeriodStatus.DUE, PeriodStatus.ARREARS)


@dataclass(frozen=True)
class QuoteLine:
    month: Month
    base: Decimal
    principal: Decimal
    interest: Decimal


@dataclass(frozen=True)
class InterruptionQuote:
    """What back-paying the interrupted pension months would cost if ordered now (F8, P2, P5)."""

    grade: Decimal
    average_wage: Decimal
    collection_month: Month
    lines: list[QuoteLine]

    @property
    def principal(self) -> Decimal:
        return sum((line.principal for line in self.lines), Decimal("0.00"))

    @property
    def interest(self) -> Decimal:
        return sum((line.interest for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


@dataclass(frozen=True)
class Order:
    order: models.PaymentOrder
    transaction: models.BusinessTransaction


def _distinct(ids: Sequence[T], field: str) -> list[T]:
    chosen = list(dict.fromkeys(ids))
    if not chosen:
        raise BusinessError(ErrorCode.INVALID_INPUT, "choose at least one", field)
    if len(chosen) != len(ids):
        raise BusinessError(ErrorCode.INVALID_INPUT, "the same one is chosen twice", field)
    if len(chosen) > MAX_ORDER_LINES:
        raise BusinessError(ErrorCode.INVALID_INPUT, f"at most {MAX_ORDER_LINES} at once", field)
    return chosen


async def _owed_arrears(person_id: int, arrear_ids: Sequence[int], *, cancelling: bool) -> list[models.Arrear]:
    ids = _distinct(arrear_ids, "arrearIds")
    arrears = await models.Arrear.filter(id__in=ids, person_id=person_id).order_by("month", "insurance_type")
    if len(arrears) != len(ids):
        raise BusinessError(ErrorCode.NOT_FOUND, "some of these arrears are not this person's", "arrearIds")
    for arrear in arrears:
        if arrear.status is ArrearStatus.ORDERED:
            why = (
                "cannot be cancelled while a payment order holds it" if cancelling else "is already in a payment order"
            )
            raise BusinessError(
                ErrorCode.ARREARS_ALREADY_ORDERED, f"the arrear of {Month.from_int(arrear.month)} {why}", "arrearIds"
            )
        if arrear.status is not ArrearStatus.OPEN:
            raise BusinessError(
                ErrorCode.ARREARS_NOT_OWED,
                f"the arrear of {Month.from_int(arrear.month)} is {arrear.status.value.lower()}",
                "arrearIds",
            )
    return arrears


async def _claim(arrears: list[models.Arrear], status: ArrearStatus, **changes: object) -> None:
    """Move the arrears out of OPEN only if all are still OPEN: the loser of a race changes nothing."""
    claimed = await models.Arrear.filter(id__in=[a.id for a in arrears], status=ArrearStatus.OPEN).update(
        status=status, **changes
    )
    if claimed != len(arrears):
        raise BusinessError(
            ErrorCode.ARREARS_ALREADY_ORDERED, "these arrears were ordered or cancelled meanwhile", "arrearIds"
        )


async def pay_arrears(actor: Viewer, person_id: int, arrear_ids: Sequence[int]) -> Order:
    """F6: principal plus interest to this month, collected at this month's end (deposit first)."""
    collection = clock.this_month()
    tariff = await load_tariff()
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        arrears = await _owed_arrears(person.id, arrear_ids, cancelling=False)
        await _claim(arrears, ArrearStatus.ORDERED)
        bases = dict(
            await models.ContributionPeriod.filter(id__in=[a.period_id for a in arrears]).values_list("id", "base")
        )
        lines = [
            models.PaymentOrderLine(
                arrear_id=a.id,
                month=a.month,
                insurance_type=a.insurance_type,
                base=bases[a.period_id],
                principal=a.principal,
                interest=tariff.interest(a.principal, Month.from_int(a.month), collection),
            )
            for a in arrears
        ]
        transaction = await record_transaction(
            BusinessType.PAY_ARREARS,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.SUBMITTED,
            effective_month=collection.to_int(),
            details={"months": [f"{Month.from_int(a.month)} {a.insurance_type.value}" for a in arrears]},
        )
        order = await _place_order(person.id, PaymentOrderKind.ARREARS, collection, lines, transaction)
    return Order(order, transaction)


async def cancel_arrears(
    actor: Viewer, person_id: int, arrear_ids: Sequence[int], confirmed: bool
) -> tuple[list[models.Arrear], models.BusinessTransaction]:
    """F7: irreversible. The months never count; medical months can never be paid again, pension
    months become an interruption that only F8 can back-pay."""
    if confirmed is not True:
        raise BusinessError(
            ErrorCode.CONFIRMATION_REQUIRED,
            "cancelling arrears cannot be undone: confirm it explicitly",
            "confirmIrreversible",
        )
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        arrears = await _owed_arrears(person.id, arrear_ids, cancelling=True)
        now = clock.now()
        await _claim(arrears, ArrearStatus.CANCELLED, resolved_at=now)
        await models.ContributionPeriod.filter(id__in=[a.period_id for a in arrears]).update(
            status=PeriodStatus.CANCELLED
        )
        transaction = await record_transaction(
            BusinessType.CANCEL_ARREARS,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.COMPLETED,
            effective_month=clock.this_month().to_int(),
            details={
                "months": [f"{Month.from_int(a.month)} {a.insurance_type.value}" for a in arrears],
                "principal": sum((a.principal for a in arrears), Decimal("0.00")),
            },
        )
        for arrear in arrears:
            arrear.status, arrear.resolved_at = ArrearStatus.CANCELLED, now
    return arrears, transaction


async def interruption_months(person_id: int, this_month: Month) -> list[Month]:
    """F8: months from the first pension month to last month with no pension paid nor owed, and
    not already in an open back-pay order. Cancelled months are interruptions (F7)."""
    covered = set(
        await models.ContributionPeriod.filter(
            person_id=person_id, insurance_type=InsuranceType.PENSION, status__in=PAID_OR_OWED
        ).values_list("month", flat=True)
    )
    starts = await models.Policy.filter(person_id=person_id, insurance_type=InsuranceType.PENSION).values_list(
        "start_month", flat=True
    )
    months = await models.ContributionPeriod.filter(
        person_id=person_id, insurance_type=InsuranceType.PENSION
    ).values_list("month", flat=True)
    first = min([*starts, *months], default=None)
    if first is None or first >= this_month.to_int():
        return []
    ordered = set(
        await models.PaymentOrderLine.filter(
            order__person_id=person_id,
            order__kind=PaymentOrderKind.INTERRUPTION,
            order__status=PaymentOrderStatus.OPEN,
        ).values_list("month", flat=True)
    )
    return [
        m
        for m in month_range(Month.from_int(first), this_month.plus(-1))
        if m.to_int() not in covered and m.to_int() not in ordered
    ]


async def _back_pay_grade(person_id: int, grade: Decimal | None, tariff: Tariff, month: Month) -> Decimal:
    """The grade asked for, else the person's flexible pension grade (the latest policy's)."""
    if grade is not None:
        return pension_grade(grade, tariff, month)
    latest = (
        await models.Policy.filter(person_id=person_id, insurance_type=InsuranceType.PENSION, channel=Channel.FLEXIBLE)
        .order_by("-start_month", "-id")
        .first()
    )
    if latest is None:
        raise BusinessError(
            ErrorCode.NOT_ENROLLED,
            "interruptions are back-paid through flexible pension insurance: enroll first (F1)",
            "personId",
        )
    return latest.grade


async def quote_interruption(
    person_id: int,
    insurance_type: InsuranceType = InsuranceType.PENSION,
    grade: Decimal | None = None,
    tariff: Tariff | None = None,
) -> InterruptionQuote:
    """F8: each interrupted month at the grade and average wage in force now, plus interest (P5)."""
    if insurance_type is InsuranceType.MEDICAL:
        raise BusinessError(
            ErrorCode.MEDICAL_INTERRUPTION_NOT_BACKPAYABLE,
            "medical insurance interruptions cannot be back-paid (F8): medical cover counts only while paid",
            "insuranceType",
        )
    if insurance_type is not InsuranceType.PENSION:
        raise BusinessError(
            ErrorCode.INVALID_INPUT, "only pension interruptions are back-paid by the person (F8)", "insuranceType"
        )
    tariff = tariff or await load_tariff()
    now = clock.this_month()
    chosen_grade = await _back_pay_grade(person_id, grade, tariff, now)
    price = tariff.pension(now, chosen_grade)
    lines = [
        QuoteLine(month, price.base, price.amount, tariff.interest(price.amount, month, now))
        for month in await interruption_months(person_id, now)
    ]
    return InterruptionQuote(chosen_grade, tariff.average_wage(now), now, lines)


async def pay_interruption(
    actor: Viewer,
    person_id: int,
    months: Sequence[Month] | None,
    insurance_type: InsuranceType = InsuranceType.PENSION,
    grade: Decimal | None = None,
) -> Order:
    """F8: order the back-payment of the quoted months (all of them unless some are named)."""
    tariff = await load_tariff()
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        quote = await quote_interruption(person.id, insurance_type, grade, tariff)
        by_month = {line.month: line for line in quote.lines}
        if not by_month:
            raise BusinessError(
                ErrorCode.NO_INTERRUPTION, "there is no interrupted pension month to back-pay", "personId"
            )
        chosen = list(by_month) if months is None else _distinct(months, "months")
        for month in chosen:
            if month not in by_month:
                raise BusinessError(ErrorCode.INVALID_MONTH, f"{month} is not an interrupted pension month", "months")
        lines = [
            models.PaymentOrderLine(
                month=m.to_int(),
                insurance_type=InsuranceType.PENSION,
                base=by_month[m].base,
                principal=by_month[m].principal,
                interest=by_month[m].interest,
            )
            for m in sorted(chosen)
        ]
        transaction = await record_transaction(
            BusinessType.PAY_INTERRUPTION,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.SUBMITTED,
            effective_month=quote.collection_month.to_int(),
            details={"months": sorted(chosen), "grade": quote.grade, "average_wage": quote.average_wage},
        )
        order = await _place_order(person.id, PaymentOrderKind.INTERRUPTION, quote.collection_month, lines, transaction)
    return Order(order, transaction)


async def _place_order(
    person_id: int,
    kind: PaymentOrderKind,
    collection: Month,
    lines: list[models.PaymentOrderLine],
    transaction: models.BusinessTransaction,
) -> models.PaymentOrder:
    principal = sum((line.principal for line in lines), Decimal("0.00"))
    interest = sum((line.interest for line in lines), Decimal("0.00"))
    order = await models.PaymentOrder.create(
        person_id=person_id,
        kind=kind,
        principal=principal,
        interest=interest,
        total=principal + interest,
        collection_month=collection.to_int(),
        transaction_id=transaction.id,
    )
    for line in lines:
        line.order_id = order.id
    await models.PaymentOrderLine.bulk_create(lines)
    return order
