"""The month-end debit (M4, P6), for one person or a chunk of the city in one transaction.

For the month it makes the periods every flexible policy in force owes, then collects from each
passbook, oldest month first and pension before medical (P6); what the balance cannot cover
becomes an arrear. Then the payment orders due for collection (F6, F8), oldest first: collected
in full, or lapsed when the balance is short, their arrears open again. A contribution is never
debited in part. The persons' and passbooks' rows are locked throughout, and each debit is unique
per period or order in the ledger: a second run, or one racing a deposit or an order, cannot
debit twice. Rows are read and written a chunk at a time (services.bulk), so that the city-wide
run is a few statements per chunk, not per person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tortoise.transactions import in_transaction

import models
from domain.enums import (
    ArrearStatus,
    Channel,
    InsuranceType,
    LedgerKind,
    PaidVia,
    PaymentOrderKind,
    PaymentOrderStatus,
    PeriodStatus,
    TransactionStatus,
)
from domain.months import Month
from domain.tariff import Tariff
from models.bulk import Table, lock_range, update_by_ids, update_each, write_rows
from services.collection.periods import flexible_price, in_force
from services.collection.tariff import load_tariff
from services.common import clock

COLLECTION_ORDER = (InsuranceType.PENSION, InsuranceType.MEDICAL)  # P6
NEW_PERIOD = Table(
    "contribution_period",
    (
        "policy_id",
        "person_id",
        "month",
        "insurance_type",
        "channel",
        "grade",
        "base",
        "rate",
        "amount",
        "employer_amount",
        "status",
        "created_at",
    ),
)
NEW_ARREAR = Table(
    "arrear", ("period_id", "person_id", "month", "insurance_type", "principal", "status", "interest", "created_at")
)
NEW_DEBIT = Table("ledger_entry", ("passbook_id", "kind", "amount", "balance_after", "month", "period_id", "booked_at"))


@dataclass
class Collection:
    """What a month-end did, summed over the persons it ran for."""

    month: Month
    persons: int = 0
    debited: Decimal = Decimal("0.00")
    paid_periods: int = 0
    new_arrears: int = 0
    collected_orders: int = 0
    lapsed_orders: int = 0
    balance: Decimal = Decimal("0.00")  # the passbook's after the run, for a single person


@dataclass
class _Purse:
    """One passbook during a run; a person without a passbook has nothing to debit."""

    passbook_id: int | None
    balance: Decimal
    debits: list[tuple] = field(default_factory=list)

    def can_pay(self, amount: Decimal) -> bool:
        return self.passbook_id is not None and amount <= self.balance


async def collect_month(person_id: int, month: Month, tariff: Tariff | None = None) -> Collection:
    return await collect_persons(person_id, person_id, month, tariff)


async def collect_persons(first_id: int, last_id: int, month: Month, tariff: Tariff | None = None) -> Collection:
    """The month-end of the persons whose ids are ``first_id`` to ``last_id``: one transaction, and
    statements whose size does not grow with the chunk's."""
    tariff = tariff or await load_tariff()
    persons = {"person_id__gte": first_id, "person_id__lte": last_id}
    result = Collection(month)
    now = clock.now()
    async with in_transaction() as connection:
        # Persons first, as every self-service business locks them; then passbooks, as deposits do.
        await lock_range(connection, "person", "id", first_id, last_id)
        await lock_range(connection, "passbook", "person_id", first_id, last_id)
        books = await models.Passbook.filter(**persons).values("id", "person_id", "balance")
        purses = {row["person_id"]: _Purse(row["id"], row["balance"]) for row in books}
        await _make_periods(connection, persons, month, tariff, now)
        due = await models.ContributionPeriod.filter(
            **persons,
            channel=Channel.FLEXIBLE,
            status=PeriodStatus.DUE,
            month__lte=month.to_int(),
        ).values("id", "person_id", "month", "insurance_type", "amount")
        due.sort(key=lambda p: (p["person_id"], p["month"], COLLECTION_ORDER.index(p["insurance_type"]), p["id"]))
        paid, unpaid = [], []
        for period in due:
            purse = purses.setdefault(period["person_id"], _Purse(None, Decimal("0.00")))
            if purse.can_pay(period["amount"]):
                purse.balance -= period["amount"]
                purse.debits.append(
                    (
                        purse.passbook_id,
                        LedgerKind.CONTRIBUTION_DEBIT.value,
                        period["amount"],
                        purse.balance,
                        month.to_int(),
                        period["id"],
                        now,
                    )
                )
                paid.append(period["id"])
                result.debited += period["amount"]
            else:
                unpaid.append(period)
        await write_rows(connection, NEW_DEBIT, [debit for purse in purses.values() for debit in purse.debits])
        await update_by_ids(
            connection,
            "contribution_period",
            {"status": PeriodStatus.PAID.value, "paid_via": PaidVia.PASSBOOK_DEBIT.value, "paid_at": now},
            paid,
        )
        await update_by_ids(
            connection, "contribution_period", {"status": PeriodStatus.ARREARS.value}, [p["id"] for p in unpaid]
        )
        await write_rows(
            connection,
            NEW_ARREAR,
            [
                (
                    p["id"],
                    p["person_id"],
                    p["month"],
                    p["insurance_type"].value,
                    p["amount"],
                    ArrearStatus.OPEN.value,
                    Decimal("0.00"),
                    now,
                )
                for p in unpaid
            ],
        )
        result.paid_periods, result.new_arrears = len(paid), len(unpaid)
        orders = await models.PaymentOrder.filter(
            **persons, status=PaymentOrderStatus.OPEN, collection_month__lte=month.to_int()
        ).order_by("person_id", "id")
        for order in orders:
            purse = purses.setdefault(order.person_id, _Purse(None, Decimal("0.00")))
            await _collect_order(purse, order, month, tariff, now, result)
        opening = {row["id"]: row["balance"] for row in books}
        await update_each(
            connection,
            "passbook",
            ("balance", "updated_at"),
            [
                (purse.passbook_id, purse.balance, now)
                for purse in purses.values()
                if purse.passbook_id is not None and purse.balance != opening[purse.passbook_id]
            ],
            ("numeric", "timestamptz"),
        )
    result.persons = len({p["person_id"] for p in due} | {order.person_id for order in orders})
    if first_id == last_id and first_id in purses:
        result.balance = purses[first_id].balance
    return result


async def _make_periods(connection, persons: dict[str, int], month: Month, tariff: Tariff, now) -> None:
    """The month's period of every policy in force that has none yet, priced now (P2, P3)."""
    policies = await models.Policy.filter(in_force(month), **persons).values(
        "id", "person_id", "insurance_type", "grade"
    )
    if not policies:
        return
    made = set(
        await models.ContributionPeriod.filter(**persons, month=month.to_int()).values_list("policy_id", flat=True)
    )
    rows = []
    for policy in policies:
        if policy["id"] in made:
            continue
        price = flexible_price(policy["insurance_type"], policy["grade"], month, tariff)
        rows.append(
            (
                policy["id"],
                policy["person_id"],
                month.to_int(),
                policy["insurance_type"].value,
                Channel.FLEXIBLE.value,
                policy["grade"],
                price.base,
                price.rate,
                price.amount,
                Decimal("0.00"),
                PeriodStatus.DUE.value,
                now,
            )
        )
    await write_rows(connection, NEW_PERIOD, rows)


async def _collect_order(
    purse: _Purse, order: models.PaymentOrder, month: Month, tariff: Tariff, now, result: Collection
) -> None:
    if not purse.can_pay(order.total):
        await _lapse(order, now, f"the passbook held {purse.balance} at the end of {month}; {order.total} was needed")
        result.lapsed_orders += 1
        return
    purse.balance -= order.total
    kind = LedgerKind.ARREARS_DEBIT if order.kind is PaymentOrderKind.ARREARS else LedgerKind.INTERRUPTION_DEBIT
    await models.LedgerEntry.create(
        passbook_id=purse.passbook_id,
        kind=kind,
        amount=order.total,
        balance_after=purse.balance,
        month=month.to_int(),
        payment_order_id=order.id,
        booked_at=now,
    )
    lines = await models.PaymentOrderLine.filter(order_id=order.id).order_by("month")
    if order.kind is PaymentOrderKind.ARREARS:
        arrear_ids = [line.arrear_id for line in lines]
        await models.Arrear.filter(id__in=arrear_ids).update(status=ArrearStatus.PAID, resolved_at=now)
        period_ids = await models.Arrear.filter(id__in=arrear_ids).values_list("period_id", flat=True)
        await models.ContributionPeriod.filter(id__in=list(period_ids)).update(
            status=PeriodStatus.PAID, paid_via=PaidVia.ARREARS_PAYMENT, paid_at=now
        )
    else:
        await _back_pay_months(order, lines, tariff, now)
    order.status, order.settled_at = PaymentOrderStatus.COLLECTED, now
    await order.save(update_fields=["status", "settled_at"])
    await _settle_transaction(order, TransactionStatus.COMPLETED, None, now)
    result.debited += order.total
    result.collected_orders += 1


async def _back_pay_months(
    order: models.PaymentOrder, lines: list[models.PaymentOrderLine], tariff: Tariff, now
) -> None:
    """F8: a cancelled month's period is paid in place; a month with none gets one on the person's
    latest flexible pension policy."""
    policy = (
        await models.Policy.filter(
            person_id=order.person_id, insurance_type=InsuranceType.PENSION, channel=Channel.FLEXIBLE
        )
        .order_by("-start_month", "-id")
        .first()
    )
    rate = tariff.rates(Month.from_int(order.collection_month)).flex_pension_rate
    cancelled = {
        p.month: p
        for p in await models.ContributionPeriod.filter(
            person_id=order.person_id,
            insurance_type=InsuranceType.PENSION,
            status=PeriodStatus.CANCELLED,
            month__in=[line.month for line in lines],
        )
    }
    for line in lines:
        period = cancelled.get(line.month) or models.ContributionPeriod(
            policy_id=policy.id,
            person_id=order.person_id,
            month=line.month,
            insurance_type=InsuranceType.PENSION,
            channel=Channel.FLEXIBLE,
        )
        period.grade, period.base, period.rate, period.amount = policy.grade, line.base, rate, line.principal
        period.status, period.paid_via, period.paid_at = PeriodStatus.PAID, PaidVia.INTERRUPTION_BACK_PAY, now
        await period.save()


async def _lapse(order: models.PaymentOrder, now, reason: str) -> None:
    order.status, order.settled_at = PaymentOrderStatus.LAPSED, now
    await order.save(update_fields=["status", "settled_at"])
    if order.kind is PaymentOrderKind.ARREARS:
        arrear_ids = await models.PaymentOrderLine.filter(order_id=order.id).values_list("arrear_id", flat=True)
        await models.Arrear.filter(id__in=list(arrear_ids), status=ArrearStatus.ORDERED).update(
            status=ArrearStatus.OPEN
        )
    await _settle_transaction(order, TransactionStatus.CANCELLED, reason, now)


async def _settle_transaction(order: models.PaymentOrder, status: TransactionStatus, reason: str | None, now) -> None:
    if order.transaction_id is not None:
        await models.BusinessTransaction.filter(id=order.transaction_id).update(
            status=status, decided_at=now, decision_reason=reason
        )
