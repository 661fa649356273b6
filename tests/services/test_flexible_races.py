"""Races that must end in one consistent outcome (F6, F7, F9, M4), run concurrently on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import pytest

import models
from domain.enums import ArrearStatus, LedgerKind, PeriodStatus, PersonCategory, Role
from domain.months import Month
from resolvers.inputs import encode_id
from services.collection import deposits
from services.collection.month_end import collect_month
from services.common import clock
from tests import factories
from tests.graphql_client import run

pytestmark = [
    pytest.mark.usefixtures("db"),
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="a race needs PostgreSQL"),
]

PAY = "mutation ($input: PayArrearsInput!) { payArrears(input: $input) { order { id } errors { code } } }"
CANCEL = (
    "mutation ($input: CancelArrearsInput!) { cancelArrears(input: $input) { arrears { status } errors { code } } }"
)


async def owing_person(home, name: str, months: int = 1):
    person = await factories.person(home, name=name)
    policy = await factories.flexible_pension(person, Month(2026, 1))
    await factories.arrears(
        await factories.periods(
            policy, Month(2026, 1), months, "8000.00", "0.20", "1600.00", status=PeriodStatus.ARREARS
        )
    )
    viewer = await factories.viewer(Role.PERSON, person=person)
    ids = [encode_id("Arrear", a.id) for a in await models.Arrear.filter(person_id=person.id).order_by("month")]
    return person, viewer, ids


@pytest.fixture
async def home():
    await factories.average_wage(2026, "8000.00")
    return await factories.community(await factories.district())


async def test_eight_orders_for_the_same_arrear_make_one(home):
    person, me, ids = await owing_person(home, "甲")
    answers = await asyncio.gather(*(run(PAY, viewer=me, input={"arrearIds": ids}) for _ in range(8)))
    payloads = [answer["data"]["payArrears"] for answer in answers]
    assert sum(p["order"] is not None for p in payloads) == 1
    assert sorted(e["code"] for p in payloads for e in p["errors"]) == ["ARREARS_ALREADY_ORDERED"] * 7
    assert await models.PaymentOrder.filter(person_id=person.id).count() == 1
    assert await models.PaymentOrderLine.filter(order__person_id=person.id).count() == 1


async def test_a_cancellation_racing_a_payment_lets_one_win(home):
    person, me, ids = await owing_person(home, "乙", months=6)
    for arrear_id in ids:
        pay, cancel = await asyncio.gather(
            run(PAY, viewer=me, input={"arrearIds": [arrear_id]}),
            run(CANCEL, viewer=me, input={"arrearIds": [arrear_id], "confirmIrreversible": True}),
        )
        paid, cancelled = pay["data"]["payArrears"], cancel["data"]["cancelArrears"]
        assert (paid["errors"] == []) != (cancelled["errors"] == []), (paid, cancelled)
    arrears = await models.Arrear.filter(person_id=person.id).prefetch_related("period")
    lines = set(await models.PaymentOrderLine.filter(order__person_id=person.id).values_list("arrear_id", flat=True))
    for arrear in arrears:
        if arrear.status is ArrearStatus.ORDERED:
            assert arrear.id in lines and arrear.period.status is PeriodStatus.ARREARS
        else:
            assert arrear.status is ArrearStatus.CANCELLED and arrear.id not in lines
            assert arrear.period.status is PeriodStatus.CANCELLED


async def test_deposits_racing_month_ends_lose_nothing_and_debit_nothing_twice(home):
    bank = await factories.viewer(Role.BANK)
    people = []
    for number in range(10):
        person = await factories.person(home, name=f"丙{number}", category=PersonCategory.FLEXIBLE)
        await factories.flexible_pension(person, Month(2026, 11))
        people.append((person, await factories.passbook(person, [(f"OPEN-{number}", "1000.00")])))
    clock.freeze("2026-11-30T23:00:00+08:00")

    async def month_end_twice(person):
        await asyncio.gather(collect_month(person.id, Month(2026, 11)), collect_month(person.id, Month(2026, 11)))

    await asyncio.gather(
        *(
            task
            for number, (person, book) in enumerate(people)
            for task in (
                month_end_twice(person),
                deposits.record_deposit(bank, book.account_number, Decimal("1000.00"), f"RACE-{number}"),
            )
        )
    )
    for person, book in people:
        balance = (await models.Passbook.get(id=book.id)).balance
        entries = await models.LedgerEntry.filter(passbook_id=book.id)
        debits = [e for e in entries if e.kind is LedgerKind.CONTRIBUTION_DEBIT]
        owed = await models.Arrear.filter(person_id=person.id).count()
        # Deposit first: 2000.00 - 1600.00 collected. Month-end first: an arrear, and 2000.00 kept.
        assert (balance, len(debits), owed) in {(Decimal("400.00"), 1, 0), (Decimal("2000.00"), 0, 1)}
        running = Decimal("0.00")
        for entry in sorted(entries, key=lambda e: e.id):  # each movement saw the one before it
            running += entry.amount if entry.kind is LedgerKind.DEPOSIT else -entry.amount
            assert entry.balance_after == running
        assert running == balance
