"""Money and exact decimals are read as written in ASCII digits only (docs/api.md 6, M1): anything else
is refused before anything runs, with BAD_USER_INPUT and the argument it was given for."""

from __future__ import annotations

from decimal import Decimal

import pytest

import models
from domain.enums import LedgerKind, Role
from domain.months import Month
from resolvers.inputs import encode_id
from tests import factories
from tests.graphql_client import data, run

pytestmark = pytest.mark.usefixtures("db")

DEPOSIT = """mutation Deposit($input: RecordDepositInput!) { recordDeposit(input: $input) {
  entry { amount } passbook { balance } errors { field code } } }"""
LOOSE_AMOUNTS = [
    "１０.00",  # full-width digits
    "10_000",
    "1e3",
    " 10.00",
    "10.00 ",
    "10.00\n",
    "+10.00",
    "10.001",
    "1,000.00",
    "010.00",
    "10.",
    ".5",
    "-0.00",
    "NaN",
    "Infinity",
    "٣",  # Arabic-Indic three
    "1000000000000.00",
    "",
    10,
    10.5,
]


@pytest.fixture
async def bank():
    owner = await factories.person(await factories.community(await factories.district()))
    book = await factories.passbook(owner, [("PSBC-0", "100.00")])
    return {"viewer": await factories.viewer(Role.BANK), "book": book}


def deposit(bank, amount: object, reference: str = "PSBC-1") -> dict:
    return {"accountNumber": bank["book"].account_number, "amount": amount, "bankReference": reference}


async def _nothing_booked(bank) -> None:
    assert (await models.Passbook.get(id=bank["book"].id)).balance == Decimal("100.00")
    assert await models.LedgerEntry.filter(kind=LedgerKind.DEPOSIT).count() == 1  # the opening one
    assert await models.BusinessTransaction.all().count() == 0


@pytest.mark.parametrize("amount", LOOSE_AMOUNTS)
async def test_a_loosely_written_amount_is_refused_by_name_and_nothing_is_booked(bank, amount) -> None:
    body = await run(DEPOSIT, bank["viewer"], input=deposit(bank, amount))

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "amount"}
    assert error["message"].startswith("Variable '$input' has invalid value at .amount: ")
    await _nothing_booked(bank)


@pytest.mark.parametrize("amount", ['"１０.00"', '"10_000"', '"1e3"', '" 10.00"', "10"])
async def test_a_loosely_written_amount_in_the_document_is_refused_where_it_stands(bank, amount) -> None:
    document = f"""mutation {{ recordDeposit(input: {{accountNumber: "{bank["book"].account_number}",
      amount: {amount}, bankReference: "PSBC-1"}}) {{ errors {{ code }} }} }}"""

    body = await run(document, bank["viewer"])

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "amount"}
    assert error["locations"] == [{"line": 2, "column": 15}]
    await _nothing_booked(bank)


@pytest.mark.parametrize(("amount", "booked"), [("10", "110.00"), ("10.5", "110.50"), ("0.01", "100.01")])
async def test_plain_amounts_are_booked(bank, amount, booked) -> None:
    result = (await data(DEPOSIT, bank["viewer"], input=deposit(bank, amount)))["recordDeposit"]

    assert result["errors"] == [] and result["passbook"] == {"balance": booked}


async def test_a_negative_amount_is_written_plainly_and_refused_by_the_rule_of_its_field(bank) -> None:
    result = (await data(DEPOSIT, bank["viewer"], input=deposit(bank, "-10.00")))["recordDeposit"]

    assert result["errors"] == [{"field": "amount", "code": "INVALID_AMOUNT"}]
    await _nothing_booked(bank)


DECLARE = """mutation Declare($input: DeclareContributionBaseInput!) { declareContributionBase(input: $input) {
  errors { code } } }"""


async def test_a_line_of_a_filing_is_named_by_its_field_and_its_place_in_the_list() -> None:
    home = await factories.district()
    employer = await factories.employer(home)
    agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
    lines = [{"idNumber": "420102198005170011", "declaredWage": "9000.00"}, {"idNumber": "x", "declaredWage": "9e3"}]

    body = await run(DECLARE, agent, input={"year": 2026, "lines": lines})

    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "declaredWage"}
    assert error["message"].startswith("Variable '$input' has invalid value at .lines[1].declaredWage: '9e3'")


GRADE = """mutation Grade($input: ChangePensionGradeInput!) { changePensionGrade(input: $input) {
  policy { grade } errors { field code } } }"""
ESTIMATE = """query Estimate($growth: ExactDecimal!) { pensionEstimate(annualWageGrowth: $growth) {
  inputs { annualWageGrowth } } }"""
LOOSE_EXACT = ["１.5", "1.5e0", " 1.5", "1.5 ", "+1.5", "1_5", "1.50001", "01.5", "-0", "NaN", "", 1.5, 2]


@pytest.fixture
async def payer():
    await factories.average_wage(2026, "8000.00")
    owner = await factories.person(await factories.community(await factories.district()))
    await factories.flexible_pension(owner, Month(2026, 1), grade="1.00")
    return await factories.viewer(Role.PERSON, person=owner), owner


@pytest.mark.parametrize("grade", LOOSE_EXACT)
async def test_a_loosely_written_grade_is_refused_by_name_and_nothing_changes(payer, grade) -> None:
    me, owner = payer

    body = await run(GRADE, me, input={"pensionGrade": grade})

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "pensionGrade"}
    assert (await models.Policy.get(person_id=owner.id)).grade == Decimal("1.00")
    assert await models.BusinessTransaction.all().count() == 0


@pytest.mark.parametrize("growth", ["0.0３", "3e-2", "0.03 ", "0.00001"])
async def test_a_loosely_written_rate_is_refused_by_name(payer, growth) -> None:
    me, _ = payer

    variable = await run(ESTIMATE, me, growth=growth)
    literal = await run(f'{{ pensionEstimate(annualWageGrowth: "{growth}") {{ inputs {{ annualWageGrowth }} }} }}', me)

    for body in (variable, literal):
        [error] = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "annualWageGrowth"}, body


async def test_exact_decimals_have_up_to_four_decimals(payer) -> None:
    me, _ = payer

    estimate = (await data(ESTIMATE, me, growth="0.0325"))["pensionEstimate"]
    grade = (await data(GRADE, me, input={"pensionGrade": "1.5"}))["changePensionGrade"]

    assert estimate["inputs"] == {"annualWageGrowth": "0.0325"}
    assert grade["errors"] == [] and grade["policy"] == {"grade": "1.5"}


async def test_a_month_refused_is_named_too(payer) -> None:
    me, owner = payer
    query = """query ($id: ID!, $to: Month) { node(id: $id) { ... on Person {
      periods(fromMonth: "2026-13", toMonth: $to) { totalCount } } } }"""

    literal = await run(query, me, id=encode_id("Person", owner.id))
    variable = await run(
        query.replace('"2026-13"', '"2026-01"'), me, id=encode_id("Person", owner.id), to="２０２６-02"
    )

    assert [e["extensions"] for e in literal["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "fromMonth"}]
    assert [e["extensions"] for e in variable["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "toMonth"}]
