"""recordDeposit (F9): booked to the fen, counted once however often the bank reports it."""

from __future__ import annotations

import asyncio
import os

import pytest

import models
from domain.enums import BusinessType, LedgerKind, Role
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

DEPOSIT = """mutation Deposit($input: RecordDepositInput!) { recordDeposit(input: $input) {
  entry { kind amount balanceAfter bankReference } passbook { balance } alreadyRecorded
  transaction { businessType channel } errors { field code message } } }"""


@pytest.fixture
async def bank():
    owner = await factories.person(await factories.community(await factories.district()))
    book = await factories.passbook(owner, [("PSBC-0", "100.00")])
    return {"viewer": await factories.viewer(Role.BANK), "book": book, "owner": owner}


def deposit(bank, amount="1234.56", reference="PSBC-20261110-0001"):
    return {"accountNumber": bank["book"].account_number, "amount": amount, "bankReference": reference}


async def test_a_deposit_raises_the_balance_to_the_fen(bank):
    result = (await data(DEPOSIT, viewer=bank["viewer"], input=deposit(bank)))["recordDeposit"]
    assert result["errors"] == [] and result["alreadyRecorded"] is False
    assert result["entry"] == {
        "kind": "DEPOSIT",
        "amount": "1234.56",
        "balanceAfter": "1334.56",
        "bankReference": "PSBC-20261110-0001",
    }
    assert result["passbook"] == {"balance": "1334.56"}
    assert result["transaction"] == {"businessType": "RECORD_DEPOSIT", "channel": "COUNTER"}


async def test_the_same_deposit_reported_twice_is_counted_once(bank):
    first = (await data(DEPOSIT, viewer=bank["viewer"], input=deposit(bank)))["recordDeposit"]
    again = (await data(DEPOSIT, viewer=bank["viewer"], input=deposit(bank)))["recordDeposit"]
    assert again["alreadyRecorded"] is True and again["entry"] == first["entry"]
    assert again["passbook"] == {"balance": "1334.56"} and again["transaction"] is None
    assert await models.LedgerEntry.filter(kind=LedgerKind.DEPOSIT).count() == 2  # with the opening one
    other = (await data(DEPOSIT, viewer=bank["viewer"], input=deposit(bank, amount="1.00")))["recordDeposit"]
    assert [(e["field"], e["code"]) for e in other["errors"]] == [("bankReference", "BANK_REFERENCE_REUSED")]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="a race needs PostgreSQL")
async def test_concurrent_reports_of_one_deposit_book_it_once(bank):
    reports = [
        run(DEPOSIT, viewer=bank["viewer"], input=deposit(bank, amount="50.00", reference="PSBC-RACE"))
        for _ in range(8)
    ]
    results = [body["data"]["recordDeposit"] for body in await asyncio.gather(*reports)]
    assert sorted(r["alreadyRecorded"] for r in results) == [False] + [True] * 7
    book = await models.Passbook.get(id=bank["book"].id)
    assert str(book.balance) == "150.00"
    assert await models.BusinessTransaction.filter(business_type=BusinessType.RECORD_DEPOSIT).count() == 1


@pytest.mark.parametrize(
    ("amount", "field", "code"),
    [
        ("-1.00", "amount", "INVALID_AMOUNT"),
        ("0.00", "amount", "INVALID_AMOUNT"),
        ("1000000.01", "amount", "INVALID_AMOUNT"),
    ],
)
async def test_impossible_amounts_are_refused_and_nothing_moves(bank, amount, field, code):
    result = (await data(DEPOSIT, viewer=bank["viewer"], input=deposit(bank, amount=amount)))["recordDeposit"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)]
    assert str((await models.Passbook.get(id=bank["book"].id)).balance) == "100.00"


@pytest.mark.parametrize("amount", ["1000000000000.00", "1.001", "abc"])
async def test_amounts_that_are_not_money_are_refused_before_execution(bank, amount):
    body = await run(DEPOSIT, viewer=bank["viewer"], input=deposit(bank, amount=amount))
    assert body["data"] is None and body["errors"]
    assert str((await models.Passbook.get(id=bank["book"].id)).balance) == "100.00"


async def test_only_the_bank_records_deposits(bank):
    person = await factories.viewer(Role.PERSON, person=bank["owner"])
    assert error_codes(await run(DEPOSIT, viewer=person, input=deposit(bank))) == ["FORBIDDEN"]
