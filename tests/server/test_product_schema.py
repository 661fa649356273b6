"""The real schema served over HTTP, on the test database, as an outside client sees it."""

from __future__ import annotations

import pytest

from domain.enums import Role
from domain.months import Month
from main import create_app
from services import access
from settings import Settings
from tests import factories
from tests.server.conftest import GRAPHQL_RESPONSE_JSON, running

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
async def hall(test_settings: Settings):
    home = await factories.community(await factories.district())
    owner = await factories.person(home, name="周杰")
    policy = await factories.flexible_pension(owner, Month(2026, 1))
    await factories.periods(policy, Month(2026, 1), 10, "8000.00", "0.20", "1600.00")
    await access.create_staff_account(Role.ADMIN, "admin.city", "Admin2026")
    token = (await access.login("admin.city", "Admin2026", None, "127.0.0.1")).token
    app = create_app(Settings(database_url=test_settings.database_url, graphiql=False, redis_url=None))
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


async def post(client, query: str, variables: dict | None = None, accept: str = GRAPHQL_RESPONSE_JSON):
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Accept": accept, "X-Request-ID": "kiosk-0042"},
    )


async def test_a_client_reads_a_page_of_persons_with_their_months(hall):
    response = await post(
        hall,
        "query Page { persons(first: 5) { totalCount edges { node { name "
        "periods(last: 2) { edges { node { month amount status } } } } } } }",
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.headers["x-request-id"] == "kiosk-0042"
    [edge] = response.json()["data"]["persons"]["edges"]
    assert edge["node"]["name"] == "周杰"
    assert edge["node"]["periods"]["edges"] == [
        {"node": {"month": "2026-09", "amount": "1600.00", "status": "PAID"}},
        {"node": {"month": "2026-10", "amount": "1600.00", "status": "PAID"}},
    ]


async def test_an_impossible_month_is_a_request_error_without_data(hall):
    response = await post(hall, "query P($m: Month) { parameters(inForceAt: $m) { totalCount } }", {"m": "2026-13"})
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body and "month 13 does not exist" in body["errors"][0]["message"]


async def test_first_over_100_is_an_error_not_a_silent_cut(hall):
    body = (await post(hall, "query Big { persons(first: 1000) { totalCount } }")).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 0 and 100" in body["errors"][0]["message"]


async def test_limits_refuse_before_execution_with_cost_and_budget(hall):
    costly = """query Costly { persons(first: 100) { edges { node {
      periods(first: 100) { edges { node { policy { periods(first: 100) { edges { node { month } } } } } } }
    } } } }"""
    response = await post(hall, costly)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["budget"] == 50_000 and error["extensions"]["cost"] > 1_000_000
    assert f"Query cost {error['extensions']['cost']} exceeds the budget of 50000" == error["message"]

    deep = (
        "query Deep { persons { edges { node { periods { edges { node { policy { person { periods { edges { node { "
        "policy { person { name } } } } } } } } } } } } } }"
    )
    assert (await post(hall, deep)).json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"

    aliases = "query Aliases { " + " ".join(f"a{i}: parameters {{ totalCount }}" for i in range(40)) + " }"
    assert (await post(hall, aliases)).json()["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
