"""The month-end debit for one person (M4, P6).

For the month it makes the periods every policy in force owes, then collects from the passbook,
oldest month first and pension before medical (P6); what the balance cannot cover becomes an
arrear. Then the payment orders due for collection (F6, F8), oldest first: collected in full, or
lapsed when the balance is short, their arrears open again. A contribution is never debited in
part. The passbook row is locked throughout, and each debit is unique per period or order in the
ledger: a second run, or one racing a deposit or an order, cannot debit twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tortoise.transactions import in_transaction

import models
from domain.enums import (
    ArrearStatus, Channel, InsuranceType, LedgerKind, PaidVia, PaymentOrderKind, PaymentOrderStatus, PeriodStatus,
    TransactionStatus,
)
from domain.months import Month
from domain.tariff import Tariff
from services import clock
from services.periods import ensure_period, in_force
from services.tariff import load_tariff

COLLECTION_ORDER = (InsuranceType.PENSION, InsuranceType.MEDICAL)  # P6


@dataclass
class Collection:
    """What one person's month-end did."""

    month: Month
    debited: Decimal = Decimal("0.00")
    paid_periods: int = 0
    new_arrears: int = 0
    collected_orders: int = 0
    lapsed_orders: int = 0
    balance: Decimal = Decimal("0.00")
    arrear_months: list[str] = field(default_factory=list)


class _Purse:
    """The passbook's balance during one run; a person without a passbook has nothing to debit."""

    def __init__(self, passbook: models.Passbook | None, month: Month) -> None:
        self.passbook, self.month = passbook, month
        self.balance = passbook.balance if passbook is not None else Decimal("0.00")
        self.now = clock.now()

    async def debit(self, amount: Decimal, kind: LedgerKind, **link: object) -> bool:
        if self.passbook is None or amount > self.balance:
            return False
        self.balance -= amount
        await models.LedgerEntry.create(passbook_id=self.passbook.id, kind=kind, amount=amount, balance_after=self.balance,
                                        month=self.month.to_int(), booked_at=self.now, **link)
        return True


async def collect_month(person_id: int, month: Month, tariff: Tariff | None = None) -> Collection:
    tariff = tariff or await load_tariff()
    result = Collection(month)
    async with in_transaction():
        # Person first, as every self-service business locks it: orders wait for the run, and back.
        await models.Person.select_for_update().filter(id=person_id).values_list("id", flat=True)
        passbook = await models.Passbook.select_for_update().get_or_none(person_id=person_id)
        purse = _Purse(passbook, month)
        for policy in await models.Policy.filter(in_force(month), person_id=person_id):
            await ensure_period(policy, month, tariff)
        due = await models.ContributionPeriod.filter(
            person_id=person_id, channel=Channel.FLEXIBLE, status=PeriodStatus.DUE, month__lte=month.to_int())
        for period in sorted(due, key=lambda p: (p.month, COLLECTION_ORDER.index(p.insurance_type), p.id)):
            await _collect_period(purse, period, result)
        orders = await models.PaymentOrder.filter(person_id=person_id, status=PaymentOrderStatus.OPEN,
                                                  collection_month__lte=month.to_int()).order_by("id")
        for order in orders:
            await _collect_order(purse, order, tariff, result)
        if passbook is not None and purse.balance != passbook.balance:
            passbook.balance = purse.balance
            await passbook.save(update_fields=["balance", "updated_at"])
    result.balance = purse.balance
    return result


async def _collect_period(purse: _Purse, period: models.ContributionPeriod, result: Collection) -> None:
    if await purse.debit(period.amount, LedgerKind.CONTRIBUTION_DEBIT, period_id=period.id):
        period.status, period.paid_via, period.paid_at = PeriodStatus.PAID, PaidVia.PASSBOOK_DEBIT, purse.now
        await period.save(update_fields=["status", "paid_via", "paid_at"])
        result.debited += period.amount
        result.paid_periods += 1
        return
    period.status = PeriodStatus.ARREARS
    await period.save(update_fields=["status"])
    await models.Arrear.create(period_id=period.id, person_id=period.person_id, month=period.month,
                              insurance_type=period.insurance_type, principal=period.amount)
    result.new_arrears += 1
    result.arrear_months.append(f"{Month.from_int(period.month)} {period.insurance_type.value}")


async def _collect_order(purse: _Purse, order: models.PaymentOrder, tariff: Tariff, result: Collection) -> None:
    lines = await models.PaymentOrderLine.filter(order_id=order.id).order_by("month")
    kind = LedgerKind.ARREARS_DEBIT if order.kind is PaymentOrderKind.ARREARS else LedgerKind.INTERRUPTION_DEBIT
    if not await purse.debit(order.total, kind, payment_order_id=order.id):
        await _lapse(order, purse, f"the passbook held {purse.balance} at the end of {purse.month}; {order.total} was needed")
        result.lapsed_orders += 1
        return
    if order.kind is PaymentOrderKind.ARREARS:
        arrear_ids = [line.arrear_id for line in lines]
        await models.Arrear.filter(id__in=arrear_ids).update(status=ArrearStatus.PAID, resolved_at=purse.now)
        period_ids = await models.Arrear.filter(id__in=arrear_ids).values_list("period_id", flat=True)
        await models.ContributionPeriod.filter(id__in=list(period_ids)).update(
            status=PeriodStatus.PAID, paid_via=PaidVia.ARREARS_PAYMENT, paid_at=purse.now)
    else:
        await _back_pay_months(order, lines, tariff, purse)
    order.status, order.settled_at = PaymentOrderStatus.COLLECTED, purse.now
    await order.save(update_fields=["status", "settled_at"])
    await _settle_transaction(order, TransactionStatus.COMPLETED, None)
    result.debited += order.total
    result.collected_orders += 1


async def _back_pay_months(order: models.PaymentOrder, lines: list[models.PaymentOrderLine], tariff: Tariff,
                           purse: _Purse) -> None:
    """F8: a cancelled month's period is paid in place; a month with none gets one on the person's
    latest flexible pension policy."""
    policy = await models.Policy.filter(person_id=order.person_id, insurance_type=InsuranceType.PENSION,
                                        channel=Channel.FLEXIBLE).order_by("-start_month", "-id").first()
    rate = tariff.rates(Month.from_int(order.collection_month)).flex_pension_rate
    cancelled = {p.month: p for p in await models.ContributionPeriod.filter(
        person_id=order.person_id, insurance_type=InsuranceType.PENSION, status=PeriodStatus.CANCELLED,
        month__in=[line.month for line in lines])}
    for line in lines:
        period = cancelled.get(line.month) or models.ContributionPeriod(
            policy_id=policy.id, person_id=order.person_id, month=line.month, insurance_type=InsuranceType.PENSION,
            channel=Channel.FLEXIBLE)
        period.base, period.rate, period.amount = line.base, rate, line.principal
        period.status, period.paid_via, period.paid_at = PeriodStatus.PAID, PaidVia.INTERRUPTION_BACK_PAY, purse.now
        await period.save()


async def _lapse(order: models.PaymentOrder, purse: _Purse, reason: str) -> None:
    order.status, order.settled_at = PaymentOrderStatus.LAPSED, purse.now
    await order.save(update_fields=["status", "settled_at"])
    if order.kind is PaymentOrderKind.ARREARS:
        arrear_ids = await models.PaymentOrderLine.filter(order_id=order.id).values_list("arrear_id", flat=True)
        await models.Arrear.filter(id__in=list(arrear_ids), status=ArrearStatus.ORDERED).update(status=ArrearStatus.OPEN)
    await _settle_transaction(order, TransactionStatus.CANCELLED, reason)


async def _settle_transaction(order: models.PaymentOrder, status: TransactionStatus, reason: str | None) -> None:
    if order.transaction_id is not None:
        await models.BusinessTransaction.filter(id=order.transaction_id).update(
            status=status, decided_at=clock.now(), decision_reason=reason)
