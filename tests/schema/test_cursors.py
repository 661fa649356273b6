"""A cursor belongs to the list that gave it (docs/api.md 13): any other list refuses it as
BAD_USER_INPUT naming the argument, instead of paging from a place that means nothing there."""

from __future__ import annotations

import base64

import pytest

from domain.enums import PeriodStatus, Role
from domain.months import Month
from resolvers.inputs import encode_id
from tests import factories
from tests.graphql_client import data, run

pytestmark = pytest.mark.usefixtures("db")

ROOT_LISTS = {
    "persons": "{ persons(first: 1, after: $after) { edges { cursor } } }",
    "employers": "{ employers(first: 1, after: $after) { edges { cursor } } }",
    "businessTransactions": "{ businessTransactions(first: 1, after: $after) { edges { cursor } } }",
    "auditEvents": "{ auditEvents(first: 1, after: $after) { edges { cursor } } }",
    "jobs": "{ jobs(first: 1, after: $after) { edges { cursor } } }",
    "parameters": "{ parameters(first: 1, after: $after) { edges { cursor } } }",
}
NESTED = """query ($id: ID!, $after: String, $before: String, $type: InsuranceType) { node(id: $id) { ... on Person {
  periods(first: 2, after: $after, insuranceType: $type) { edges { cursor node { month } } }
  arrears(first: 2, after: $after) { edges { cursor } }
  back: periods(last: 2, before: $before) { edges { cursor node { month } } } } } }"""


def query(name: str) -> str:
    return "query ($after: String)" + ROOT_LISTS[name]


@pytest.fixture
async def city():
    home = await factories.district()
    community = await factories.community(home)
    owners = [await factories.person(community, name=name) for name in ("甲", "乙")]
    for owner in owners:
        pension = await factories.flexible_pension(owner, Month(2026, 1))
        medical = await factories.flexible_medical(owner, Month(2026, 1))
        await factories.arrears(await factories.periods(pension, Month(2026, 1), 3, "8000.00", "0.20", "1600.00"))
        await factories.periods(medical, Month(2026, 1), 3, "8000.00", "0.06", "487.00", PeriodStatus.PAID)
    await factories.employer(home)
    await factories.employer(home, "武汉第二物流有限公司")
    await factories.average_wage(2026, "8000.00")
    return owners


async def _cursor(name: str) -> str:
    edges = (await data(query(name) if name in ROOT_LISTS else name))[name]["edges"]
    return edges[0]["cursor"]


async def test_a_root_lists_cursor_pages_its_own_list(city) -> None:
    first = await _cursor("persons")

    page = (await data(query("persons"), after=first))["persons"]["edges"]

    assert len(page) == 1 and page[0]["cursor"] != first


@pytest.mark.parametrize(
    ("issued_by", "given_to"),
    [
        ("persons", "employers"),
        ("employers", "persons"),
        ("persons", "businessTransactions"),
        ("employers", "auditEvents"),
        ("parameters", "jobs"),
    ],
)
async def test_a_root_lists_cursor_is_refused_by_another(city, issued_by, given_to) -> None:
    cursor = await _cursor(issued_by)

    body = await run(query(given_to), after=cursor)

    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}
    assert error["message"] == f"{cursor!r} is not a cursor of this list"


async def test_an_id_or_an_unbound_cursor_is_not_a_cursor(city) -> None:
    for foreign in (encode_id("Person", city[0].id), encode_id("cursor", city[0].id), encode_id("position", 0)):
        body = await run(query("persons"), after=foreign)
        assert [e["extensions"] for e in body["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "after"}]


async def test_a_filtered_in_memory_lists_cursor_is_refused_by_the_list_without_the_filter(city) -> None:
    filtered = "query ($after: String) { parameters(code: AVERAGE_MONTHLY_WAGE, first: 1, after: $after) { edges { cursor } } }"
    cursor = (await data(filtered))["parameters"]["edges"][0]["cursor"]

    assert "errors" not in await run(filtered, after=cursor)
    body = await run(query("parameters"), after=cursor)
    assert [e["extensions"] for e in body["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "after"}]


async def test_a_nested_lists_cursor_is_refused_by_another_list_of_the_same_or_another_parent(city) -> None:
    owner, other = (encode_id("Person", person.id) for person in city)
    mine = (await data(NESTED, id=owner))["node"]
    periods_cursor = mine["periods"]["edges"][0]["cursor"]
    arrears_cursor = mine["arrears"]["edges"][0]["cursor"]
    back_cursor = mine["back"]["edges"][0]["cursor"]

    arrears_page = await run(
        "query ($id: ID!, $after: String) { node(id: $id) { ... on Person { arrears(after: $after) { totalCount } } } }",
        id=owner,
        after=periods_cursor,
    )
    other_person = await run(
        "query ($id: ID!, $after: String) { node(id: $id) { ... on Person { periods(after: $after) { totalCount } } } }",
        id=other,
        after=periods_cursor,
    )
    other_filter = await run(
        """query ($id: ID!, $after: String) { node(id: $id) { ... on Person {
          periods(after: $after, insuranceType: MEDICAL) { totalCount } } } }""",
        id=owner,
        after=periods_cursor,
    )
    periods_page = await run(
        "query ($id: ID!, $after: String) { node(id: $id) { ... on Person { periods(after: $after) { totalCount } } } }",
        id=owner,
        after=arrears_cursor,
    )
    for body in (arrears_page, other_person, other_filter, periods_page):
        assert [e["extensions"] for e in body["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "after"}], body

    # Within its own list it goes on, from the start or from the end.
    onwards_query = """query ($id: ID!, $after: String, $before: String) { node(id: $id) { ... on Person {
      periods(first: 2, after: $after) { edges { node { month } } }
      back: periods(last: 2, before: $before) { edges { node { month } } } } } }"""
    onwards = (await data(onwards_query, id=owner, after=periods_cursor, before=back_cursor))["node"]
    assert [e["node"]["month"] for e in onwards["periods"]["edges"]] == ["2026-01", "2026-02"]
    assert [e["node"]["month"] for e in onwards["back"]["edges"]] == ["2026-02", "2026-02"]  # medical, pension


async def test_cursors_stay_opaque(city) -> None:
    for name in ("persons", "employers", "parameters"):
        cursor = await _cursor(name)
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        assert name not in text.lower() and "person" not in text.lower() and "employer" not in text.lower()


async def test_a_viewer_of_another_role_reads_its_own_cursors(city) -> None:
    reviewer = await factories.viewer(Role.REVIEWER, district=await factories.district())
    cursor = (await data(query("persons"), reviewer))["persons"]["edges"][0]["cursor"]

    assert len((await data(query("persons"), reviewer, after=cursor))["persons"]["edges"]) == 1
