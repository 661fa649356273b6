"""What must never happen is refused by the database itself, not only by the code."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError, OperationalError, ValidationError

import models
from domain.enums import LedgerKind
from domain.months import Month
from services.common import clock
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
REFUSED = (IntegrityError, OperationalError)


async def _flexible():
    owner = await factories.person(await factories.community(await factories.district()))
    policy = await factories.flexible_pension(owner, Month(2026, 1))
    return owner, policy


async def test_one_period_per_policy_and_month():
    _, policy = await _flexible()
    await factories.periods(policy, Month(2026, 1), 1, "8000.00", "0.20", "1600.00")
    with pytest.raises(IntegrityError):
        await factories.periods(policy, Month(2026, 1), 1, "8000.00", "0.20", "1600.00")
    assert await models.ContributionPeriod.filter(policy_id=policy.id).count() == 1


async def test_one_ledger_entry_per_period_and_kind():
    owner, policy = await _flexible()
    [period] = await factories.periods(policy, Month(2026, 1), 1, "8000.00", "0.20", "1600.00")
    book = await factories.passbook(owner, [("PSBC-9", "5000.00")])
    debit = dict(
        passbook=book,
        kind=LedgerKind.CONTRIBUTION_DEBIT,
        amount=Decimal("1600.00"),
        balance_after=Decimal("3400.00"),
        month=202601,
        period=period,
        booked_at=clock.now(),
    )
    await models.LedgerEntry.create(**debit)
    with pytest.raises(IntegrityError):
        await models.LedgerEntry.create(**debit)


async def test_a_bank_reference_is_counted_once():
    owner, _ = await _flexible()
    await factories.passbook(owner, [("PSBC-1", "100.00")])
    with pytest.raises(IntegrityError):
        await factories.passbook(owner, [("PSBC-1", "100.00")])


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE passbook SET balance = -0.01", "negative balance"),
        ("UPDATE contribution_period SET status = 'LOST'", "status outside the enum"),
        ("UPDATE contribution_period SET month = 202613", "impossible month"),
        ("UPDATE contribution_period SET amount = -1", "negative amount"),
        ("UPDATE contribution_period SET status = 'PAID', paid_via = NULL", "paid without a way"),
        ("UPDATE policy SET grade = 3.10", "grade above 300%"),
        ("UPDATE person SET gender = 'X'", "gender outside the enum"),
    ],
)
async def test_the_database_refuses_what_must_never_happen(sql, what):
    owner, policy = await _flexible()
    await factories.periods(policy, Month(2026, 1), 1, "8000.00", "0.20", "1600.00")
    await factories.passbook(owner, [("PSBC-2", "10.00")])
    with pytest.raises(REFUSED):
        await connections.get("default").execute_query(sql)


async def test_an_invalid_id_number_is_never_stored():
    home = await factories.community(await factories.district())
    with pytest.raises(ValidationError):
        await models.Person.create(
            id_number="420102198005170011",
            name="错号",
            gender="MALE",
            birth_date="1980-05-17",
            category="FLEXIBLE",
            district_id=home.district_id,
            community=home,
        )
    assert await models.Person.all().count() == 0


async def test_an_invalid_credit_code_is_never_stored():
    home = await factories.district()
    with pytest.raises(ValidationError):
        await models.Employer.create(credit_code="91420102MA4KXXXXXX", name="错码公司", district=home)
