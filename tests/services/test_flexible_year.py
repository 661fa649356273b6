"""A flexible-employment person's year, every amount worked out by hand (F1-F9, M4, P2-P6).

Parameters: average monthly wage 8000.00 in 2026 and 8400.00 in 2027; pension 20% of grade x wage;
medical 6% of the wage + 7.00 = 487.00; interest 1.5% a year, simple, in whole months.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import models
from domain.enums import (
    ArrearStatus,
    BusinessType,
    CardApplicationStatus,
    InsuranceType,
    LedgerKind,
    PaidVia,
    PaymentOrderStatus,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    Role,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import Month
from services import flexible
from services.collection import deposits
from services.collection.month_end import collect_month
from services.common import clock
from services.flexible import arrears
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

D = Decimal
PENSION, MEDICAL = InsuranceType.PENSION, InsuranceType.MEDICAL


class Walk:
    def __init__(self, person: models.Person, me, bank, book: models.Passbook) -> None:
        self.person, self.me, self.bank, self.book = person, me, bank, book
        self.references = 0

    async def deposit(self, day: str, amount: str) -> None:
        clock.freeze(f"{day}T09:30:00+08:00")
        self.references += 1
        await deposits.record_deposit(self.bank, self.book.account_number, D(amount), f"PSBC-{self.references:04d}")

    async def month_end(self, month: str):
        clock.freeze(f"{Month.parse(month).plus(1).first_day().isoformat()}T00:00:00+08:00")
        clock.freeze(clock.now() - dt.timedelta(hours=1))  # 23:00 on the month's last day
        return await collect_month(self.person.id, Month.parse(month))

    async def balance(self) -> Decimal:
        return (await models.Passbook.get(id=self.book.id)).balance

    async def period(self, month: str, insurance_type: InsuranceType) -> models.ContributionPeriod:
        return await models.ContributionPeriod.get(
            person_id=self.person.id, month=Month.parse(month).to_int(), insurance_type=insurance_type
        )

    async def arrear(self, month: str, insurance_type: InsuranceType) -> models.Arrear:
        return await models.Arrear.get(
            person_id=self.person.id, month=Month.parse(month).to_int(), insurance_type=insurance_type
        )


@pytest.fixture
async def walk() -> Walk:
    await factories.average_wage(2026, "8000.00")
    await factories.average_wage(2027, "8400.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="刘芳", category=PersonCategory.UNINSURED)
    book = await factories.passbook(person, [])
    me = await factories.viewer(Role.PERSON, person=person)
    bank = await factories.viewer(Role.BANK)
    return Walk(person, me, bank, book)


async def test_a_year_of_flexible_employment(walk: Walk) -> None:
    # January 15th: enrollment in pension at 60% and medical, from February (F1, F2).
    clock.freeze("2026-01-15T10:00:00+08:00")
    enrolled = await flexible.enroll(walk.me, walk.person.id, [MEDICAL, PENSION], D("0.60"), None, factories.photo())
    assert [(p.insurance_type, p.start_month, p.grade) for p in enrolled.policies] == [
        (PENSION, 202602, D("0.60")),
        (MEDICAL, 202602, None),
    ]
    assert (await walk.period("2026-02", PENSION)).amount == D("960.00")  # 20% of 0.60 x 8000.00
    assert (await walk.period("2026-02", MEDICAL)).amount == D("487.00")  # 6% of 8000.00 + 7.00
    application = enrolled.card_application
    assert application.status is CardApplicationStatus.PHOTO_PENDING
    assert application.visit_deadline.isoformat() == "2026-01-20"  # enrolled before the 20th (F2, M3)
    assert (await models.Person.get(id=walk.person.id)).category is PersonCategory.FLEXIBLE

    await walk.deposit("2026-01-25", "3000.00")
    january = await walk.month_end("2026-01")
    assert (january.paid_periods, january.new_arrears, january.balance) == (0, 0, D("3000.00"))  # nothing due yet

    assert (await walk.month_end("2026-02")).balance == D("1553.00")  # 3000.00 - 960.00 - 487.00
    assert (await walk.month_end("2026-03")).balance == D("106.00")

    # April: a short deposit. Pension is collected first (P6) but 960.00 is more than 606.00, so it
    # becomes an arrear; medical (487.00) is still collected.
    await walk.deposit("2026-04-10", "500.00")
    april = await walk.month_end("2026-04")
    assert (april.paid_periods, april.new_arrears, april.balance) == (1, 1, D("119.00"))
    assert (await walk.period("2026-04", PENSION)).status is PeriodStatus.ARREARS
    assert (await walk.arrear("2026-04", PENSION)).principal == D("960.00")
    assert (await walk.period("2026-04", MEDICAL)).status is PeriodStatus.PAID

    # May 10th: grade 80% from June (F4); May keeps 60%.
    clock.freeze("2026-05-10T10:00:00+08:00")
    change = await flexible.change_pension_grade(walk.me, walk.person.id, D("0.80"))
    assert change.transaction.effective_month == 202606
    await walk.deposit("2026-05-12", "3000.00")
    assert (await walk.month_end("2026-05")).balance == D("1672.00")  # 3119.00 - 960.00 - 487.00
    assert (await walk.period("2026-05", PENSION)).amount == D("960.00")

    # June at 80%: pension 1280.00 leaves 392.00, too little for medical.
    assert (await walk.month_end("2026-06")).balance == D("392.00")
    assert (await walk.period("2026-06", PENSION)).amount == D("1280.00")
    assert (await walk.arrear("2026-06", MEDICAL)).principal == D("487.00")

    # July 5th: suspension of both (F3); July is the last month due and becomes arrears.
    clock.freeze("2026-07-05T10:00:00+08:00")
    policies, _ = await flexible.suspend(walk.me, walk.person.id, [PENSION, MEDICAL])
    assert {(p.status, p.end_month) for p in policies} == {(PolicyStatus.SUSPENDED, 202607)}
    assert (await models.Person.get(id=walk.person.id)).category is PersonCategory.UNINSURED
    july = await walk.month_end("2026-07")
    assert (july.new_arrears, july.balance) == (2, D("392.00"))
    for month in ("2026-08", "2026-09"):
        assert (await walk.month_end(month)).paid_periods == 0
    assert not await models.ContributionPeriod.filter(person_id=walk.person.id, month__in=[202608, 202609]).exists()

    # October 8th: continuation of pension alone at 80%, from November.
    clock.freeze("2026-10-08T10:00:00+08:00")
    continued = await flexible.enroll(walk.me, walk.person.id, [PENSION], D("0.80"), None, None)
    assert continued.transaction.details["continuation"] is True

    # October 9th: pay April's pension and June's medical arrears (F6), cancel July's (F7).
    clock.freeze("2026-10-09T10:00:00+08:00")
    april_pension, june_medical = await walk.arrear("2026-04", PENSION), await walk.arrear("2026-06", MEDICAL)
    order = (await arrears.pay_arrears(walk.me, walk.person.id, [april_pension.id, june_medical.id])).order
    # 960.00 x 1.5% x 6/12 = 7.20; 487.00 x 1.5% x 4/12 = 2.435, rounded half-up to 2.44.
    assert (order.principal, order.interest, order.total, order.collection_month) == (
        D("1447.00"),
        D("9.64"),
        D("1456.64"),
        202610,
    )
    july_pension, july_medical = await walk.arrear("2026-07", PENSION), await walk.arrear("2026-07", MEDICAL)
    with pytest.raises(BusinessError) as refused:
        await arrears.cancel_arrears(walk.me, walk.person.id, [july_pension.id], confirmed=False)
    assert refused.value.code is ErrorCode.CONFIRMATION_REQUIRED
    await arrears.cancel_arrears(walk.me, walk.person.id, [july_pension.id, july_medical.id], confirmed=True)
    await walk.deposit("2026-10-10", "1100.00")
    october = await walk.month_end("2026-10")
    assert (october.collected_orders, october.balance) == (1, D("35.36"))  # 1492.00 - 1456.64
    assert (await walk.arrear("2026-04", PENSION)).status is ArrearStatus.PAID
    assert (await walk.period("2026-06", MEDICAL)).paid_via is PaidVia.ARREARS_PAYMENT
    assert (await models.BusinessTransaction.get(id=order.transaction_id)).status is TransactionStatus.COMPLETED

    # November 10th: the pension interruption is July (cancelled) to October (suspended), priced at
    # the grade and wage of now: 1280.00 a month, interest 6.40 + 4.80 + 3.20 + 1.60 (F8).
    clock.freeze("2026-11-10T10:00:00+08:00")
    quote = await arrears.quote_interruption(walk.person.id)
    assert [(str(line.month), line.principal, line.interest) for line in quote.lines] == [
        ("2026-07", D("1280.00"), D("6.40")),
        ("2026-08", D("1280.00"), D("4.80")),
        ("2026-09", D("1280.00"), D("3.20")),
        ("2026-10", D("1280.00"), D("1.60")),
    ]
    assert (quote.principal, quote.interest, quote.total) == (D("5120.00"), D("16.00"), D("5136.00"))
    with pytest.raises(BusinessError) as medical:
        await arrears.quote_interruption(walk.person.id, MEDICAL)
    assert medical.value.code is ErrorCode.MEDICAL_INTERRUPTION_NOT_BACKPAYABLE
    back_pay = (await arrears.pay_interruption(walk.me, walk.person.id, None)).order
    assert back_pay.total == D("5136.00")
    assert (await arrears.quote_interruption(walk.person.id)).lines == []  # ordered months are not quoted twice
    await walk.deposit("2026-11-12", "6400.00")
    november = await walk.month_end("2026-11")
    assert (november.paid_periods, november.collected_orders, november.balance) == (1, 1, D("19.36"))
    back_paid = await walk.period("2026-07", PENSION)
    assert (back_paid.status, back_paid.paid_via, back_paid.base, back_paid.amount) == (
        PeriodStatus.PAID,
        PaidVia.INTERRUPTION_BACK_PAY,
        D("6400.00"),
        D("1280.00"),
    )
    assert (await walk.period("2026-07", MEDICAL)).status is PeriodStatus.CANCELLED  # never payable again (F7)

    await walk.deposit("2026-12-03", "1300.00")
    assert (await walk.month_end("2026-12")).balance == D("39.36")
    # 2027 is priced with the 2027 wage: 20% of 0.80 x 8400.00 = 1344.00, more than the balance.
    january_2027 = await walk.month_end("2027-01")
    assert (january_2027.new_arrears, january_2027.balance) == (1, D("39.36"))
    assert (await walk.arrear("2027-01", PENSION)).principal == D("1344.00")

    # The ledger adds up: 15300.00 deposited, 15260.64 debited, 39.36 left.
    entries = await models.LedgerEntry.filter(passbook_id=walk.book.id).order_by("id")
    deposited = sum(e.amount for e in entries if e.kind is LedgerKind.DEPOSIT)
    debited = sum(e.amount for e in entries if e.kind is not LedgerKind.DEPOSIT)
    assert (deposited, debited, await walk.balance()) == (D("15300.00"), D("15260.64"), D("39.36"))
    running = D("0.00")
    for entry in entries:
        running += entry.amount if entry.kind is LedgerKind.DEPOSIT else -entry.amount
        assert entry.balance_after == running
    paid_pension = await models.ContributionPeriod.filter(
        person_id=walk.person.id, insurance_type=PENSION, status=PeriodStatus.PAID
    ).values_list("month", flat=True)
    assert sorted(paid_pension) == [
        202602,
        202603,
        202604,
        202605,
        202606,
        202607,
        202608,
        202609,
        202610,
        202611,
        202612,
    ]
    paid_medical = await models.ContributionPeriod.filter(
        person_id=walk.person.id, insurance_type=MEDICAL, status=PeriodStatus.PAID
    ).values_list("month", flat=True)
    assert sorted(paid_medical) == [202602, 202603, 202604, 202605, 202606]
    kinds = (
        await models.BusinessTransaction.filter(person_id=walk.person.id)
        .order_by("id")
        .values_list("business_type", flat=True)
    )
    assert kinds.count(BusinessType.RECORD_DEPOSIT) == 6 and BusinessType.PAY_INTERRUPTION in kinds
    assert (await models.PaymentOrder.get(id=back_pay.id)).status is PaymentOrderStatus.COLLECTED


async def test_a_second_month_end_changes_nothing(walk: Walk) -> None:
    clock.freeze("2026-01-15T10:00:00+08:00")
    await flexible.enroll(walk.me, walk.person.id, [PENSION], D("1.00"), None, None)
    await walk.deposit("2026-02-02", "1000.00")
    first = await walk.month_end("2026-02")
    again = await walk.month_end("2026-02")
    assert (first.new_arrears, first.balance) == (1, D("1000.00"))  # 1600.00 due: nothing debited in part
    assert (again.paid_periods, again.new_arrears, again.balance) == (0, 0, D("1000.00"))
    assert await models.Arrear.filter(person_id=walk.person.id).count() == 1
