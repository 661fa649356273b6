"""The read side of the graph: persons with their policies, months, arrears and passbook."""

from __future__ import annotations

import pytest

from domain.enums import PeriodStatus, PersonCategory
from domain.months import Month
from resolvers.inputs import encode_id
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

PERSON_QUERY = """
query Person($idNumber: String!, $from: Month, $to: Month, $type: InsuranceType) {
  person(idNumber: $idNumber) {
    id name idNumber gender birthDate category
    district { code name }
    policies { totalCount edges { node { insuranceType channel grade startMonth status } } }
    periods(fromMonth: $from, toMonth: $to, insuranceType: $type) {
      totalCount
      edges { node { month insuranceType base rate amount personAmount status paidVia } }
    }
    arrears { totalCount edges { node { month principal status } } }
    passbook { balance entries { edges { node { kind amount balanceAfter bankReference } } } }
  }
}
"""


async def _flexible_person_with_history():
    home = await factories.community(await factories.district())
    owner = await factories.person(home, name="李娜", male=False, birth=__import__("datetime").date(1985, 2, 28))
    pension = await factories.flexible_pension(owner, Month(2026, 1), grade="0.60")
    medical = await factories.flexible_medical(owner, Month(2026, 1))
    # P2: 0.60 x 8000.00 = 4800.00, 20% = 960.00; P3: 6% x 8000.00 + 7.00 = 487.00
    await factories.periods(pension, Month(2026, 1), 8, "4800.00", "0.20", "960.00")
    unpaid = await factories.periods(pension, Month(2026, 9), 2, "4800.00", "0.20", "960.00", PeriodStatus.ARREARS)
    await factories.arrears(unpaid)
    await factories.periods(medical, Month(2026, 1), 10, "8000.00", "0.06", "487.00")
    await factories.passbook(owner, [("PSBC-001", "5000.00"), ("PSBC-002", "1234.56")])
    return owner


async def test_a_person_reads_months_amounts_arrears_and_passbook():
    owner = await _flexible_person_with_history()
    person = (await data(PERSON_QUERY, idNumber=owner.id_number.lower()))["person"]

    assert person["name"] == "李娜" and person["gender"] == "FEMALE"
    assert person["idNumber"] == owner.id_number[:6] + "********" + owner.id_number[14:]  # masked for an administrator
    assert person["birthDate"] is None  # it would give back what the mask hides (docs/api.md 8)
    assert person["district"] == {"code": "420102", "name": "江岸区"}
    assert [e["node"]["insuranceType"] for e in person["policies"]["edges"]] == ["PENSION", "MEDICAL"]
    assert person["policies"]["edges"][0]["node"]["grade"] == "0.6"
    assert person["periods"]["totalCount"] == 20
    first = person["periods"]["edges"][0]["node"]
    assert first == {
        "month": "2026-01",
        "insuranceType": "MEDICAL",
        "base": "8000.00",
        "rate": "0.06",
        "amount": "487.00",
        "personAmount": "487.00",
        "status": "PAID",
        "paidVia": "PASSBOOK_DEBIT",
    }
    assert [e["node"]["month"] for e in person["arrears"]["edges"]] == ["2026-09", "2026-10"]
    assert {e["node"]["principal"] for e in person["arrears"]["edges"]} == {"960.00"}
    assert person["passbook"]["balance"] == "6234.56"
    assert [e["node"]["balanceAfter"] for e in person["passbook"]["entries"]["edges"]] == ["5000.00", "6234.56"]


async def test_periods_filter_by_month_range_and_type():
    owner = await _flexible_person_with_history()
    person = (
        await data(PERSON_QUERY, idNumber=owner.id_number, **{"from": "2026-08", "to": "2026-09", "type": "PENSION"})
    )["person"]
    months = [(e["node"]["month"], e["node"]["status"]) for e in person["periods"]["edges"]]
    assert months == [("2026-08", "PAID"), ("2026-09", "ARREARS")]


async def test_a_backwards_range_of_months_is_refused_not_answered_empty():
    owner = await _flexible_person_with_history()
    body = await run(PERSON_QUERY, idNumber=owner.id_number, **{"from": "2026-09", "to": "2026-08"})
    assert body["data"]["person"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "fromMonth"}
    assert error["message"] == "fromMonth 2026-09 is after toMonth 2026-08"


async def test_last_twelve_months_page_backwards_with_cursors():
    owner = await _flexible_person_with_history()
    query = """query($id: ID!, $before: String) { node(id: $id) { ... on Person {
      periods(last: 3, before: $before, insuranceType: PENSION) {
        pageInfo { hasPreviousPage hasNextPage startCursor }
        edges { node { month } } } } } }"""
    person_id = encode_id("Person", owner.id)
    page = (await data(query, id=person_id))["node"]["periods"]
    assert [e["node"]["month"] for e in page["edges"]] == ["2026-08", "2026-09", "2026-10"]
    assert page["pageInfo"]["hasPreviousPage"] is True
    earlier = (await data(query, id=person_id, before=page["pageInfo"]["startCursor"]))["node"]["periods"]
    assert [e["node"]["month"] for e in earlier["edges"]] == ["2026-05", "2026-06", "2026-07"]


async def test_persons_filters_and_keyset_pages():
    home = await factories.community(await factories.district())
    other = await factories.community(await factories.district("420106", "武昌区"), name="中南社区")
    flexible = [await factories.person(home, name=f"王{i}") for i in range(5)]
    employed = await factories.person(other, name="赵敏", category=PersonCategory.EMPLOYED, male=False)
    for owner in flexible[:3]:
        await factories.flexible_pension(owner, Month(2025, 1))
    policy = await factories.flexible_pension(flexible[4], Month(2025, 1))
    await factories.arrears(
        await factories.periods(policy, Month(2025, 1), 1, "8000.00", "0.20", "1600.00", PeriodStatus.ARREARS)
    )
    query = """query($filter: PersonFilter, $first: Int, $after: String) {
      persons(filter: $filter, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""

    async def names(**filter_):
        return [e["node"]["name"] for e in (await data(query, filter=filter_, first=100))["persons"]["edges"]]

    assert await names(category="EMPLOYED") == ["赵敏"]
    assert await names(districtId=encode_id("District", (await factories.district("420106")).id)) == ["赵敏"]
    assert await names(insuranceType="PENSION", policyStatus="ACTIVE") == ["王0", "王1", "王2", "王4"]
    assert await names(hasArrears=True) == ["王4"]
    assert len(await names(hasArrears=False)) == 5
    assert await names(namePrefix="赵") == ["赵敏"]
    assert await names(idNumber=employed.id_number) == ["赵敏"]

    first_page = (await data(query, first=4))["persons"]
    assert first_page["totalCount"] == 6 and first_page["pageInfo"]["hasNextPage"] is True
    rest = (await data(query, first=4, after=first_page["pageInfo"]["endCursor"]))["persons"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["王4", "赵敏"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_node_and_nodes_resolve_every_kind_and_refuse_foreign_ids():
    owner = await _flexible_person_with_history()
    policy = await owner.policies.all().first()
    period = await policy.periods.all().first()
    arrear = await owner.arrears.all().first()
    ids = [
        encode_id("Person", owner.id),
        encode_id("Policy", policy.id),
        encode_id("ContributionPeriod", period.id),
        encode_id("Arrear", arrear.id),
        encode_id("Person", 999999),
    ]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
    found = (await data(query, ids=ids))["nodes"]
    assert [n and n["__typename"] for n in found] == ["Person", "Policy", "ContributionPeriod", "Arrear", None]
    assert [n["id"] for n in found[:4]] == ids[:4]

    for bad in ("not-an-id", encode_id("Martian", 1), encode_id("Person", "x1")):
        body = await run("query($id: ID!) { node(id: $id) { id } }", id=bad)
        assert error_codes(body) == ["BAD_USER_INPUT"], body


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        ("query($n: String!) { person(idNumber: $n) { id } }", {"n": "420102198005170011"}, "check character"),
        ("query($n: String!) { person(idNumber: $n) { id } }", {"n": "42010219800230001X"}, "does not exist"),
        ("{ persons(first: 1000) { totalCount } }", {}, "between 0 and 100"),
        ("{ persons(first: 2, last: 2) { totalCount } }", {}, "not both"),
        ('{ persons(after: "bm9wZQ") { totalCount } }', {}, "not a cursor of this list"),
        ("{ person { id } }", {}, "either id or idNumber"),
    ],
)
async def test_bad_arguments_are_typed_errors(query, variables, message):
    body = await run(query, **variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert message in body["errors"][0]["message"]


async def test_an_impossible_month_is_refused_before_execution():
    body = await run("query($m: Month) { parameters(inForceAt: $m) { totalCount } }", m="2026-13")
    assert body["data"] is None
    assert "month 13 does not exist" in body["errors"][0]["message"]
    literal = await run('{ parameters(inForceAt: "2026-1") { totalCount } }')
    assert "YYYY-MM" in literal["errors"][0]["message"]


async def test_parameters_in_force_at_a_month():
    from decimal import Decimal

    from domain.enums import ParameterCode
    from models import Parameter

    await Parameter.create(code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from=202501, value=Decimal("7800.00"))
    await Parameter.create(code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from=202601, value=Decimal("8000.00"))
    query = """query($m: Month) { parameters(code: AVERAGE_MONTHLY_WAGE, inForceAt: $m) {
      edges { node { effectiveFrom value } } } }"""
    assert [e["node"] for e in (await data(query, m="2025-12"))["parameters"]["edges"]] == [
        {"effectiveFrom": "2025-01", "value": "7800"}
    ]
    assert [e["node"] for e in (await data(query, m="2026-03"))["parameters"]["edges"]] == [
        {"effectiveFrom": "2026-01", "value": "8000"}
    ]
    rate = await data("{ parameters(code: BACK_PAY_INTEREST_RATE) { edges { node { value } } } }")
    assert rate["parameters"]["edges"][0]["node"]["value"] == "0.015"


async def test_arrears_show_interest_to_date_at_the_rate_in_force():
    owner = await _flexible_person_with_history()
    query = """query($n: String!) { person(idNumber: $n) { arrears { edges { node {
      month principal interestToDate amountToDate } } } } }"""
    # The clock stands in 2026-11: 960.00 x 1.5% x 2/12 = 2.40, and x 1/12 = 1.20 (P5)
    arrears = [e["node"] for e in (await data(query, n=owner.id_number))["person"]["arrears"]["edges"]]
    assert arrears == [
        {"month": "2026-09", "principal": "960.00", "interestToDate": "2.40", "amountToDate": "962.40"},
        {"month": "2026-10", "principal": "960.00", "interestToDate": "1.20", "amountToDate": "961.20"},
    ]


async def test_a_first_page_read_in_sql_continues_from_its_cursor():
    owner = await _flexible_person_with_history()
    query = """query($id: ID!, $after: String) { node(id: $id) { ... on Person {
      periods(first: 4, after: $after, insuranceType: MEDICAL) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { month } } } } } }"""
    person_id = encode_id("Person", owner.id)
    first = (await data(query, id=person_id))["node"]["periods"]
    assert [e["node"]["month"] for e in first["edges"]] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert first["totalCount"] == 10 and first["pageInfo"]["hasNextPage"] is True
    second = (await data(query, id=person_id, after=first["pageInfo"]["endCursor"]))["node"]["periods"]
    assert [e["node"]["month"] for e in second["edges"]] == ["2026-05", "2026-06", "2026-07", "2026-08"]
