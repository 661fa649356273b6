"""Employer business through the graph (E2-E4): staff filed in and out, reviewed and confirmed,
bases declared, months back-paid; each refusal with its code, refused lines one by one, and the
employer's own view. Average monthly wage 8000.00 in 2026: bases within 4800.00..24000.00 (P4).
The clock stands at 2026-11-10 10:00 unless a test moves it."""

from __future__ import annotations

from decimal import Decimal

import pytest

import models
from domain.enums import (
    BusinessType,
    Channel,
    EmploymentStatus,
    InsuranceType,
    PaidVia,
    PeriodStatus,
    PersonCategory,
    Role,
    TransactionStatus,
)
from domain.identifiers import mask_resident_id
from resolvers.inputs import encode_id
from services.common import clock
from services.employer import staffing
from services.employer.staffing import AddLine
from settings import get_settings
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

D = Decimal
PENSION, MEDICAL = InsuranceType.PENSION, InsuranceType.MEDICAL

TRANSACTION = """transaction { id businessType status channel effectiveMonth decisionReason lineCount
  effectiveMonthMoves { fromMonth toMonth movedOn reason } materialsConfirmedAt employer { name } }"""
REFUSALS = "lineErrors { line field code message } errors { field code message }"
ADD = f"""mutation Add($input: AddEmployeesInput!) {{ addEmployees(input: $input) {{ {TRANSACTION} {REFUSALS} }} }}"""
REMOVE = f"""mutation Remove($input: RemoveEmployeesInput!) {{ removeEmployees(input: $input) {{ {TRANSACTION} {REFUSALS} }} }}"""
REVIEW = f"""mutation Review($input: ReviewTransactionInput!) {{ reviewTransaction(input: $input) {{ {TRANSACTION} {REFUSALS} }} }}"""
CONFIRM = f"""mutation Confirm($input: ConfirmMaterialsInput!) {{ confirmMaterials(input: $input) {{ {TRANSACTION}
  employments {{ person {{ name }} startMonth endMonth declaredWage status }} periodsCreated periodsDropped {REFUSALS} }} }}"""
DECLARE = """mutation Declare($input: DeclareContributionBaseInput!) { declareContributionBase(input: $input) {
  transaction { businessType status lineCount } year averageWage
  lines { line idNumber declaredWage base clamp repricedPeriods person { name } }
  lineErrors { line field code message } errors { field code message } } }"""
BACK_PAY = """mutation BackPay($input: EmployerBackPayInput!) { employerBackPay(input: $input) {
  transaction { businessType status effectiveMonth } principal interest total lines { month periods principal interest }
  errors { field code message } } }"""
MY_EMPLOYER = """query Mine($from: Month!, $to: Month!) { me { employer {
  name
  employees { totalCount edges { node { startMonth declaredWage status
    person { name idNumber policies { totalCount } periods { edges { node { month insuranceType amount employerAmount personAmount } } } } } } }
  transactions { edges { node { businessType status effectiveMonth lineCount decisionReason } } }
  owedByMonth(fromMonth: $from, toMonth: $to) { month amount employerShare personShare arrears interest }
  arrears { totalCount edges { node { month insuranceType principal } } } } } }"""


@pytest.fixture
async def hall():
    await factories.average_wage(2026, "8000.00")
    home = await factories.district()
    other = await factories.district("420103", "江汉区")
    employer = await factories.employer(home)
    return {
        "home": await factories.community(home),
        "employer": employer,
        "agent": await factories.viewer(Role.EMPLOYER_AGENT, employer=employer),
        "reviewer": await factories.viewer(Role.REVIEWER, district=home),
        "other_reviewer": await factories.viewer(Role.REVIEWER, district=other),
    }


def at(day: str) -> None:
    clock.freeze(f"{day}T10:00:00+08:00")


def gid(kind: str, row) -> str:
    return encode_id(kind, row.id)


def codes(payload) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def line_codes(payload) -> list[tuple[int, str, str]]:
    return [(e["line"], e["field"], e["code"]) for e in payload["lineErrors"]]


async def person(hall, name: str = "王强", category: PersonCategory = PersonCategory.UNINSURED) -> models.Person:
    return await factories.person(hall["home"], name=name, category=category)


async def mutate(query: str, viewer, root: str, **fields):
    return (await data(query, viewer=viewer, input=fields))[root]


async def hire(hall, *persons: models.Person, wage: str = "10000.00") -> models.BusinessTransaction:
    """Filed, accepted and confirmed at once through the services, as of the clock's day."""
    filing = await staffing.add_employees(
        hall["agent"], hall["employer"].id, [AddLine(p.id_number, D(wage)) for p in persons]
    )
    await staffing.review(hall["reviewer"], filing.id, True)
    return (await staffing.confirm_materials(hall["reviewer"], filing.id)).transaction


# E2: adding staff, reviewed and confirmed


async def test_an_agent_files_for_its_employer_the_district_accepts_and_confirms(hall):
    first, second = await person(hall, "赵一"), await person(hall, "钱二")
    at("2026-11-18")
    filed = await mutate(
        ADD,
        hall["agent"],
        "addEmployees",
        lines=[  # employerId left out: the agent's own
            {"idNumber": first.id_number, "declaredWage": "10000.00"},
            {"idNumber": second.id_number.lower(), "declaredWage": "3000.00", "insuranceTypes": ["PENSION"]},
        ],
    )
    assert (filed["errors"], filed["lineErrors"]) == ([], [])
    assert filed["transaction"] | {"id": None} == {
        "id": None,
        "businessType": "ADD_EMPLOYEES",
        "status": "SUBMITTED",
        "channel": "ONLINE",
        "effectiveMonth": "2026-11",
        "decisionReason": None,
        "lineCount": 2,
        "effectiveMonthMoves": [],
        "materialsConfirmedAt": None,
        "employer": {"name": "武汉江城物流有限公司"},
    }
    filing = filed["transaction"]["id"]

    at("2026-11-19")
    accepted = await mutate(REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filing, accept=True)
    assert accepted["errors"] == [] and accepted["transaction"]["status"] == "ACCEPTED"
    assert accepted["transaction"]["effectiveMonth"] == "2026-11"
    assert await models.Employment.all().count() == 0  # nothing until the visit

    at("2026-11-20")
    done = await mutate(CONFIRM, hall["reviewer"], "confirmMaterials", transactionId=filing)
    assert done["errors"] == [] and done["transaction"]["status"] == "COMPLETED"
    assert done["transaction"]["materialsConfirmedAt"] == "2026-11-20T10:00:00+08:00"
    assert done["employments"] == [
        {
            "person": {"name": "赵一"},
            "startMonth": "2026-11",
            "endMonth": None,
            "declaredWage": "10000.00",
            "status": "ACTIVE",
        },
        {
            "person": {"name": "钱二"},
            "startMonth": "2026-11",
            "endMonth": None,
            "declaredWage": "3000.00",
            "status": "ACTIVE",
        },
    ]
    assert (done["periodsCreated"], done["periodsDropped"]) == (6, None)  # five types and one
    again = await mutate(CONFIRM, hall["reviewer"], "confirmMaterials", transactionId=filing)
    assert codes(again) == [("transactionId", "MATERIALS_NOT_EXPECTED")] and again["employments"] is None


async def test_a_filing_of_200_lines_with_line_37_bad_returns_exactly_that_line(hall):
    persons = [await person(hall, f"员工{n}") for n in range(200)]
    lines = [{"idNumber": p.id_number, "declaredWage": "6000.00"} for p in persons]
    good = lines[36]["idNumber"]
    lines[36] = {"idNumber": good[:17] + ("1" if good[17] != "1" else "2"), "declaredWage": "6000.00"}  # A1

    refused = await mutate(ADD, hall["agent"], "addEmployees", lines=lines, idempotencyKey="filing-200")
    assert refused["lineErrors"] == [
        {
            "line": 37,
            "field": "idNumber",
            "code": "INVALID_ID_NUMBER",
            "message": "the ID number's check character is wrong",
        }
    ]
    assert refused["errors"] == [
        {"field": "lines", "code": "INVALID_LINES", "message": "1 line refused (line 37): nothing was filed"}
    ]
    assert refused["transaction"] is None
    assert not await models.BusinessTransaction.exists(business_type=BusinessType.ADD_EMPLOYEES)
    # A retry on a flaky network reads the same refusal, line by line (docs/api.md 3).
    assert await mutate(ADD, hall["agent"], "addEmployees", lines=lines, idempotencyKey="filing-200") == refused

    lines[36] = {"idNumber": good, "declaredWage": "6000.00"}
    filed = await mutate(ADD, hall["agent"], "addEmployees", lines=lines, idempotencyKey="filing-200-corrected")
    assert (filed["errors"], filed["lineErrors"], filed["transaction"]["lineCount"]) == ([], [], 200)


async def test_lines_are_refused_each_with_its_own_reason(hall):
    fine, retired, employed, careless = [await person(hall, name) for name in ("甲", "乙", "丙", "丁")]
    await models.Person.filter(id=retired.id).update(category=PersonCategory.RETIRED)
    await hire(hall, employed)
    refused = await mutate(
        ADD,
        hall["agent"],
        "addEmployees",
        lines=[
            {"idNumber": fine.id_number, "declaredWage": "6000.00"},
            {"idNumber": retired.id_number, "declaredWage": "6000.00"},
            {"idNumber": employed.id_number, "declaredWage": "6000.00"},
            {"idNumber": careless.id_number, "declaredWage": "0.00", "insuranceTypes": []},
            {"idNumber": "42010219900308777", "declaredWage": "6000.00"},
        ],
    )
    assert line_codes(refused) == [
        (2, "idNumber", "PERSON_NOT_ADDABLE"),
        (3, "idNumber", "ALREADY_EMPLOYED"),
        (4, "declaredWage", "INVALID_AMOUNT"),
        (4, "insuranceTypes", "INVALID_INPUT"),
        (5, "idNumber", "INVALID_ID_NUMBER"),
    ]
    assert codes(refused) == [("lines", "INVALID_LINES")]
    assert refused["errors"][0]["message"] == "4 lines refused (line 2, 3, 4, 5): nothing was filed"
    too_many = await mutate(
        ADD, hall["agent"], "addEmployees", lines=[{"idNumber": fine.id_number, "declaredWage": "6000.00"}] * 501
    )
    assert codes(too_many) == [("lines", "FILING_TOO_LARGE")] and too_many["lineErrors"] == []


async def test_over_the_limit_of_lines_about_strangers_nothing_is_filed(hall, monkeypatch):
    monkeypatch.setattr(get_settings(), "unknown_person_lines_limit", "2/hour")
    strangers = [await person(hall, name) for name in ("甲", "乙", "丙")]
    lines = [{"idNumber": p.id_number, "declaredWage": "6000.00"} for p in strangers]

    refused = await mutate(ADD, hall["agent"], "addEmployees", lines=lines)
    assert codes(refused) == [("lines", "TOO_MANY_ATTEMPTS")]
    assert (refused["lineErrors"], refused["transaction"]) == ([], None)
    assert not await models.BusinessTransaction.exists(business_type=BusinessType.ADD_EMPLOYEES)
    filed = await mutate(ADD, hall["agent"], "addEmployees", lines=lines[:2])
    assert (filed["errors"], filed["transaction"]["lineCount"]) == ([], 2)


async def test_who_may_file_and_decide_for_an_employer(hall):
    someone = await person(hall)
    line = [{"idNumber": someone.id_number, "declaredWage": "7000.00"}]
    employer = gid("Employer", hall["employer"])
    elsewhere = await factories.employer(await factories.district("420103", "江汉区"), name="汉口商贸有限公司")
    other_agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=elsewhere)

    outsider = await mutate(ADD, hall["other_reviewer"], "addEmployees", employerId=employer, lines=line)
    assert codes(outsider) == [("employerId", "OUT_OF_SCOPE")] and outsider["lineErrors"] == []
    another = await mutate(ADD, other_agent, "addEmployees", employerId=employer, lines=line)
    assert codes(another) == [("employerId", "OUT_OF_SCOPE")]
    unnamed = await mutate(ADD, hall["reviewer"], "addEmployees", lines=line)  # a reviewer names the employer
    assert codes(unnamed) == [("employerId", "INVALID_INPUT")]

    at_counter = await mutate(ADD, hall["reviewer"], "addEmployees", employerId=employer, lines=line)
    assert (at_counter["transaction"]["status"], at_counter["transaction"]["channel"]) == ("SUBMITTED", "COUNTER")
    filing = at_counter["transaction"]["id"]
    for query, root, fields in ((REVIEW, "reviewTransaction", {"accept": True}), (CONFIRM, "confirmMaterials", {})):
        refused = await mutate(query, hall["other_reviewer"], root, transactionId=filing, **fields)
        assert codes(refused) == [("transactionId", "OUT_OF_SCOPE")] and refused["transaction"] is None
    forbidden = await run(REVIEW, viewer=hall["agent"], input={"transactionId": filing, "accept": True})
    assert error_codes(forbidden) == ["FORBIDDEN"]
    not_a_filing = await mutate(REVIEW, hall["reviewer"], "reviewTransaction", transactionId=employer, accept=True)
    assert codes(not_a_filing) == [("transactionId", "INVALID_INPUT")]
    assert (
        await models.BusinessTransaction.get(business_type=BusinessType.ADD_EMPLOYEES)
    ).status is TransactionStatus.SUBMITTED


async def test_a_rejection_needs_a_reason_which_the_agent_then_reads(hall):
    someone = await person(hall)
    filed = await mutate(
        ADD, hall["agent"], "addEmployees", lines=[{"idNumber": someone.id_number, "declaredWage": "7000.00"}]
    )
    filing = filed["transaction"]["id"]
    without = await mutate(
        REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filing, accept=False, reason="  "
    )
    assert codes(without) == [("reason", "REASON_REQUIRED")]
    rejected = await mutate(
        REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filing, accept=False, reason="劳动合同复印件缺失"
    )
    assert (rejected["transaction"]["status"], rejected["transaction"]["decisionReason"]) == (
        "REJECTED",
        "劳动合同复印件缺失",
    )
    mine = await data(
        """{ me { employer { transactions(status: REJECTED) { edges { node { id businessType decisionReason } } } } } }""",
        viewer=hall["agent"],
    )
    assert mine["me"]["employer"]["transactions"]["edges"] == [
        {"node": {"id": filing, "businessType": "ADD_EMPLOYEES", "decisionReason": "劳动合同复印件缺失"}}
    ]
    late = await mutate(REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filing, accept=True)
    assert codes(late) == [("transactionId", "NOT_REVIEWABLE")]


async def test_accepted_after_the_20th_the_agent_sees_why_the_month_moved(hall):
    someone = await person(hall)
    at("2026-11-18")
    filed = await mutate(
        ADD, hall["agent"], "addEmployees", lines=[{"idNumber": someone.id_number, "declaredWage": "7000.00"}]
    )
    at("2026-11-22")
    accepted = await mutate(
        REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filed["transaction"]["id"], accept=True
    )
    assert accepted["transaction"]["effectiveMonth"] == "2026-12"
    seen = await data(
        """query ($id: ID!) { node(id: $id) { ... on BusinessTransaction {
        status effectiveMonth effectiveMonthMoves { fromMonth toMonth movedOn reason } } } }""",
        viewer=hall["agent"],
        id=filed["transaction"]["id"],
    )
    assert seen["node"] == {
        "status": "ACCEPTED",
        "effectiveMonth": "2026-12",
        "effectiveMonthMoves": [
            {
                "fromMonth": "2026-11",
                "toMonth": "2026-12",
                "movedOn": "2026-11-22",
                "reason": "accepted after the 20th: takes effect from 2026-12",
            }
        ],
    }


async def test_lines_no_longer_valid_at_acceptance_are_listed(hall):
    someone = await person(hall, category=PersonCategory.UNINSURED)
    filed = await mutate(
        ADD, hall["agent"], "addEmployees", lines=[{"idNumber": someone.id_number, "declaredWage": "7000.00"}]
    )
    await factories.flexible_pension(someone, clock.this_month())  # enrolled flexibly meanwhile (F1, F3)
    refused = await mutate(
        REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filed["transaction"]["id"], accept=True
    )
    assert line_codes(refused) == [(1, "idNumber", "PERSON_NOT_ADDABLE")]
    assert refused["errors"][0]["message"] == "1 line refused (line 1): nothing was accepted"


# E2: removing staff


async def test_removing_someone_not_employed_there_is_refused_on_that_line(hall):
    leaving, stranger = await person(hall, "周一"), await person(hall, "郑三")
    await hire(hall, leaving)
    refused = await mutate(
        REMOVE,
        hall["agent"],
        "removeEmployees",
        lines=[{"idNumber": leaving.id_number}, {"idNumber": stranger.id_number}],
    )
    assert refused["lineErrors"] == [
        {"line": 2, "field": "idNumber", "code": "NOT_EMPLOYED_HERE", "message": "not employed by this employer"}
    ]
    assert codes(refused) == [("lines", "INVALID_LINES")]
    assert not await models.BusinessTransaction.exists(business_type=BusinessType.REMOVE_EMPLOYEES)

    at("2026-12-08")
    filed = await mutate(
        REMOVE, hall["agent"], "removeEmployees", lines=[{"idNumber": leaving.id_number, "lastMonth": "2026-11"}]
    )
    assert (
        filed["transaction"]["businessType"],
        filed["transaction"]["effectiveMonth"],
        filed["transaction"]["lineCount"],
    ) == ("REMOVE_EMPLOYEES", "2026-12", 1)
    await mutate(REVIEW, hall["reviewer"], "reviewTransaction", transactionId=filed["transaction"]["id"], accept=True)
    done = await mutate(CONFIRM, hall["reviewer"], "confirmMaterials", transactionId=filed["transaction"]["id"])
    assert done["employments"] == [
        {
            "person": {"name": "周一"},
            "startMonth": "2026-11",
            "endMonth": "2026-11",
            "declaredWage": "10000.00",
            "status": "ENDED",
        }
    ]
    assert (done["periodsCreated"], done["periodsDropped"]) == (None, 0)
    assert (await models.Employment.get(person_id=leaving.id)).status is EmploymentStatus.ENDED


# E3: contribution bases


async def test_bases_of_minus_one_and_a_billion_are_refused_per_line_then_declared_and_clamped(hall):
    lower, middle, higher = await person(hall, "冯一"), await person(hall, "陈二"), await person(hall, "褚三")
    await hire(hall, lower, middle, higher)

    refused = await mutate(
        DECLARE,
        hall["agent"],
        "declareContributionBase",
        year=2026,
        lines=[
            {"idNumber": lower.id_number, "declaredWage": "-1"},
            {"idNumber": middle.id_number, "declaredWage": "1000000000"},
            {"idNumber": higher.id_number, "declaredWage": "5000.00"},
        ],
    )
    assert refused["lineErrors"] == [
        {
            "line": 1,
            "field": "declaredWage",
            "code": "INVALID_AMOUNT",
            "message": "the declared monthly wage must be 0.00 or more",
        },
        {
            "line": 2,
            "field": "declaredWage",
            "code": "INVALID_AMOUNT",
            "message": "a declared monthly wage is at most 1000000.00",
        },
    ]
    assert codes(refused) == [("lines", "INVALID_LINES")]
    assert (refused["transaction"], refused["year"], refused["lines"]) == (None, None, None)
    assert set(await models.Employment.all().values_list("declared_wage", flat=True)) == {D("10000.00")}
    wrong_year = await mutate(
        DECLARE,
        hall["agent"],
        "declareContributionBase",
        year=2025,
        lines=[{"idNumber": lower.id_number, "declaredWage": "5000.00"}],
    )
    assert codes(wrong_year) == [("year", "INVALID_INPUT")]

    declared = await mutate(
        DECLARE,
        hall["agent"],
        "declareContributionBase",
        year=2026,
        idempotencyKey="bases-2026",
        lines=[
            {"idNumber": lower.id_number, "declaredWage": "3000.00"},
            {"idNumber": middle.id_number, "declaredWage": "12345.67"},
            {"idNumber": higher.id_number, "declaredWage": "30000.00"},
        ],
    )
    assert declared["errors"] == [] and declared["lineErrors"] == []
    assert declared["transaction"] == {
        "businessType": "DECLARE_CONTRIBUTION_BASE",
        "status": "COMPLETED",
        "lineCount": 3,
    }
    assert (declared["year"], declared["averageWage"]) == (2026, "8000.00")
    assert declared["lines"] == [
        {
            "line": 1,
            "idNumber": mask_resident_id(lower.id_number),
            "declaredWage": "3000.00",
            "base": "4800.00",
            "clamp": "LOW",
            "repricedPeriods": 5,
            "person": {"name": "冯一"},
        },
        {
            "line": 2,
            "idNumber": mask_resident_id(middle.id_number),
            "declaredWage": "12345.67",
            "base": "12345.67",
            "clamp": "NONE",
            "repricedPeriods": 5,
            "person": {"name": "陈二"},
        },
        {
            "line": 3,
            "idNumber": mask_resident_id(higher.id_number),
            "declaredWage": "30000.00",
            "base": "24000.00",
            "clamp": "HIGH",
            "repricedPeriods": 5,
            "person": {"name": "褚三"},
        },
    ]
    # A retry reads the declaration as recorded, and prices nothing again.
    again = await mutate(
        DECLARE,
        hall["agent"],
        "declareContributionBase",
        year=2026,
        idempotencyKey="bases-2026",
        lines=[
            {"idNumber": lower.id_number, "declaredWage": "3000.00"},
            {"idNumber": middle.id_number, "declaredWage": "12345.67"},
            {"idNumber": higher.id_number, "declaredWage": "30000.00"},
        ],
    )
    assert again == declared
    assert await models.BusinessTransaction.filter(business_type=BusinessType.DECLARE_CONTRIBUTION_BASE).count() == 1
    pension = await models.ContributionPeriod.get(person_id=lower.id, insurance_type=PENSION)
    assert (pension.base, pension.amount, pension.employer_amount) == (D("4800.00"), D("1152.00"), D("768.00"))


# E4: what the employer owes, and back-pay


async def owing(hall) -> models.Person:
    """A declared wage of 8888.88 from July: pension 2133.33 (1422.22 the employer's), medical
    888.89 (711.11). July is in arrears, August was never paid, September was paid, November is due."""
    someone = await person(hall, "蒋一", PersonCategory.EMPLOYED)
    await models.Employment.create(
        person=someone, employer=hall["employer"], start_month=202607, declared_wage=D("8888.88")
    )
    for insurance_type, amount, employer_amount in ((PENSION, "2133.33", "1422.22"), (MEDICAL, "888.89", "711.11")):
        policy = await models.Policy.create(
            person=someone,
            insurance_type=insurance_type,
            channel=Channel.EMPLOYER,
            employer=hall["employer"],
            start_month=202607,
        )
        for month, status in (
            (202607, PeriodStatus.ARREARS),
            (202608, PeriodStatus.DUE),
            (202609, PeriodStatus.PAID),
            (202611, PeriodStatus.DUE),
        ):
            period = await models.ContributionPeriod.create(
                policy=policy,
                person=someone,
                month=month,
                insurance_type=insurance_type,
                channel=Channel.EMPLOYER,
                base=D("8888.88"),
                rate=D("0.24") if insurance_type is PENSION else D("0.10"),
                amount=D(amount),
                employer_amount=D(employer_amount),
                status=status,
                paid_via=PaidVia.EMPLOYER if status is PeriodStatus.PAID else None,
                paid_at=clock.now() if status is PeriodStatus.PAID else None,
            )
            if status is PeriodStatus.ARREARS:
                await factories.arrears([period])
    return someone


async def test_the_agent_sees_what_is_owed_and_back_pays_it_with_interest(hall):
    await owing(hall)
    before = (await data(MY_EMPLOYER, viewer=hall["agent"], **{"from": "2026-07", "to": "2026-09"}))["me"]["employer"]
    assert before["owedByMonth"] == [
        # July, 4 months late: 2133.33 x 1.5% x 4/12 = 10.67, 888.89 -> 4.44 (P5)
        {
            "month": "2026-07",
            "amount": "3022.22",
            "employerShare": "2133.33",
            "personShare": "888.89",
            "arrears": "3022.22",
            "interest": "15.11",
        },
        {
            "month": "2026-08",
            "amount": "3022.22",
            "employerShare": "2133.33",
            "personShare": "888.89",
            "arrears": "3022.22",
            "interest": "11.33",
        },
        {
            "month": "2026-09",
            "amount": "0.00",
            "employerShare": "0.00",
            "personShare": "0.00",
            "arrears": "0.00",
            "interest": "0.00",
        },
    ]
    assert before["arrears"] == {
        "totalCount": 2,
        "edges": [  # by month, person, then type as written
            {"node": {"month": "2026-07", "insuranceType": "MEDICAL", "principal": "888.89"}},
            {"node": {"month": "2026-07", "insuranceType": "PENSION", "principal": "2133.33"}},
        ],
    }

    for months in (["2026-09"], ["2026-11"], ["2026-07", "2026-07"]):
        refused = await mutate(BACK_PAY, hall["agent"], "employerBackPay", months=months)
        assert codes(refused) == [("months", "INVALID_MONTH")] and refused["total"] is None
    paid = await mutate(
        BACK_PAY, hall["agent"], "employerBackPay", months=["2026-08", "2026-07"], idempotencyKey="transfer-1"
    )
    assert paid == {
        "transaction": {"businessType": "EMPLOYER_BACK_PAY", "status": "COMPLETED", "effectiveMonth": "2026-11"},
        "principal": "6044.44",
        "interest": "26.44",
        "total": "6070.88",
        "lines": [
            {"month": "2026-07", "periods": 2, "principal": "3022.22", "interest": "15.11"},
            {"month": "2026-08", "periods": 2, "principal": "3022.22", "interest": "11.33"},
        ],
        "errors": [],
    }
    assert (
        await mutate(
            BACK_PAY, hall["agent"], "employerBackPay", months=["2026-08", "2026-07"], idempotencyKey="transfer-1"
        )
        == paid
    )
    assert await models.BusinessTransaction.filter(business_type=BusinessType.EMPLOYER_BACK_PAY).count() == 1
    after = (await data(MY_EMPLOYER, viewer=hall["agent"], **{"from": "2026-07", "to": "2026-08"}))["me"]["employer"]
    assert [m["amount"] for m in after["owedByMonth"]] == ["0.00", "0.00"]
    assert after["arrears"] == {"totalCount": 0, "edges": []}


# The employer's view (A6)


async def test_the_employer_view_shows_staff_filings_and_money_to_its_own_agent_only(hall):
    staff = await person(hall, "韩梅")
    await hire(hall, staff, wage="9000.00")
    mine = (await data(MY_EMPLOYER, viewer=hall["agent"], **{"from": "2026-11", "to": "2026-11"}))["me"]["employer"]
    assert mine["employees"]["totalCount"] == 1
    [employment] = [edge["node"] for edge in mine["employees"]["edges"]]
    assert (employment["startMonth"], employment["declaredWage"], employment["status"]) == (
        "2026-11",
        "9000.00",
        "ACTIVE",
    )
    assert employment["person"]["name"] == "韩梅"
    assert employment["person"]["idNumber"] == mask_resident_id(staff.id_number)  # docs/api.md 8
    assert employment["person"]["policies"]["totalCount"] == 5
    assert sorted(
        (
            p["node"]["month"],
            p["node"]["insuranceType"],
            p["node"]["amount"],
            p["node"]["employerAmount"],
            p["node"]["personAmount"],
        )
        for p in employment["person"]["periods"]["edges"]
    ) == [
        ("2026-11", "MATERNITY", "63.00", "63.00", "0.00"),
        ("2026-11", "MEDICAL", "900.00", "720.00", "180.00"),
        ("2026-11", "PENSION", "2160.00", "1440.00", "720.00"),
        ("2026-11", "UNEMPLOYMENT", "90.00", "63.00", "27.00"),
        ("2026-11", "WORK_INJURY", "45.00", "45.00", "0.00"),
    ]
    assert mine["transactions"]["edges"] == [
        {
            "node": {
                "businessType": "ADD_EMPLOYEES",
                "status": "COMPLETED",
                "effectiveMonth": "2026-11",
                "lineCount": 1,
                "decisionReason": None,
            }
        }
    ]
    assert mine["owedByMonth"] == [
        {
            "month": "2026-11",
            "amount": "3258.00",
            "employerShare": "2331.00",
            "personShare": "927.00",
            "arrears": "0.00",
            "interest": "0.00",
        }
    ]

    elsewhere = await factories.employer(hall["home"].district, name="江岸建设有限公司")
    other_agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=elsewhere)
    seen = await data(
        """query ($id: ID!) { employer(id: $id) { name } }""", viewer=other_agent, id=gid("Employer", hall["employer"])
    )
    assert seen == {"employer": None}


async def test_a_staff_member_reading_the_employer_sums_only_their_own_months(hall):
    me_staff, colleague = await person(hall, "孙丽"), await person(hall, "周杰")
    await hire(hall, me_staff, colleague, wage="9000.00")
    viewer = await factories.viewer(Role.PERSON, person=me_staff)
    read = await data(
        """{ me { person { employments { edges { node { employer {
        owedByMonth(fromMonth: "2026-11", toMonth: "2026-11") { amount } arrears { totalCount } } } } } } } }""",
        viewer=viewer,
    )
    [edge] = read["me"]["person"]["employments"]["edges"]
    assert edge["node"]["employer"]["owedByMonth"] == [{"amount": "3258.00"}]  # theirs, not 6516.00 (A6)


async def test_a_backwards_or_too_long_range_is_a_bad_argument(hall):
    for months in ({"from": "2026-11", "to": "2026-10"}, {"from": "2016-11", "to": "2026-11"}):
        refused = await run(MY_EMPLOYER, viewer=hall["agent"], **months)
        assert error_codes(refused) == ["BAD_USER_INPUT"]
        assert refused["errors"][0]["extensions"]["argument"] == "toMonth"


async def test_a_page_of_employers_costs_the_same_queries_whatever_its_size(hall, count_queries):
    for number in range(6):
        employer = await factories.employer(hall["home"].district, name=f"单位{number}")
        agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
        staff = await person(hall, f"职工{number}")
        filing = await staffing.add_employees(agent, employer.id, [AddLine(staff.id_number, D("9000.00"))])
        await staffing.review(hall["reviewer"], filing.id, True)
        await staffing.confirm_materials(hall["reviewer"], filing.id)
    page = """query ($first: Int!) { employers(first: $first) { edges { node { name
        owedByMonth(fromMonth: "2026-10", toMonth: "2026-11") { amount }
        arrears(first: 5) { totalCount edges { node { month } } }
        transactions(first: 5) { edges { node { lineCount effectiveMonthMoves { reason } materialsConfirmedAt } } } } } } }"""
    statements = []
    for first in (2, 7):
        count_queries.statements.clear()
        employers = (await data(page, first=first))["employers"]["edges"]
        statements.append(len(count_queries.statements))
        assert len(employers) == min(first, 7)
    assert statements[0] == statements[1]
    assert [e["node"]["owedByMonth"] for e in employers][1:] == [[{"amount": "0.00"}, {"amount": "3258.00"}]] * 6
