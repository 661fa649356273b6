"""Depth, alias, token and cost limits refuse an operation before it runs."""

from __future__ import annotations

import httpx
import pytest
from graphql import GraphQLSchema, parse
from strawberry import Schema

from schema.limits import FULL_PAGE, QueryCostLimit, operation_cost
from settings import get_settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
COST_QUERY = """
query Catalogue($inner: Int!) {
  items(first: 100) { edges { node { name children(first: $inner) { edges { node { name } } } } } }
}
"""


def nested_query(depth: int) -> str:
    selection = "level"
    for _ in range(depth - 1):
        selection = f"child {{ {selection} }}"
    return f"{{ nested {{ {selection} }} }}"


def catalogue_cost(inner: int) -> int:
    # items; per item: edges, node, name, children; per child: edges, node, name
    return 1 + 100 * 4 + 100 * inner * 3


async def post(client: httpx.AsyncClient, query: str, variables: dict | None = None) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Accept": GRAPHQL_RESPONSE_JSON}
    )


def refusal(response: httpx.Response) -> dict:
    assert response.status_code == 400
    payload = response.json()
    assert "data" not in payload
    [error] = payload["errors"]
    return error


async def test_a_query_at_the_depth_limit_runs(client: httpx.AsyncClient) -> None:
    response = await post(client, nested_query(get_settings().max_query_depth))

    assert response.status_code == 200


async def test_an_over_deep_query_is_refused(client: httpx.AsyncClient) -> None:
    max_depth = get_settings().max_query_depth

    error = refusal(await post(client, nested_query(max_depth + 1)))

    assert error["message"] == f"'anonymous' exceeds maximum operation depth of {max_depth}"
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP"}


async def test_an_alias_bomb_is_refused(client: httpx.AsyncClient) -> None:
    max_aliases = get_settings().max_query_aliases
    aliases = " ".join(f"a{i}: hello" for i in range(max_aliases + 1))

    error = refusal(await post(client, f"{{ {aliases} }}"))

    assert error["message"] == f"{max_aliases + 1} aliases found. Allowed: {max_aliases}"
    assert error["extensions"] == {"code": "TOO_MANY_ALIASES"}


async def test_a_token_bomb_is_refused_while_parsing(client: httpx.AsyncClient) -> None:
    max_tokens = get_settings().max_query_tokens

    error = refusal(await post(client, "{ " + "hello " * max_tokens + "}"))

    assert f"Document contains more than {max_tokens} tokens" in error["message"]
    assert error["extensions"] == {"code": "TOO_MANY_TOKENS"}


async def test_an_over_budget_query_is_refused_with_its_cost_and_the_budget(client: httpx.AsyncClient) -> None:
    budget = get_settings().max_query_cost
    inner = budget // 300 + 1
    cost = catalogue_cost(inner)

    error = refusal(await post(client, COST_QUERY, {"inner": inner}))

    assert error["message"] == f"Query cost {cost} exceeds the budget of {budget}"
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": cost, "budget": budget}


async def test_the_cost_follows_the_variables_of_each_request(client: httpx.AsyncClient) -> None:
    over_budget = {"inner": get_settings().max_query_cost // 300 + 1}

    cheap = await post(client, COST_QUERY, {"inner": 2})
    costly = await post(client, COST_QUERY, over_budget)
    cheap_again = await post(client, COST_QUERY, {"inner": 2})

    assert cheap.status_code == 200 and cheap.json()["data"]["items"]["edges"]
    assert costly.status_code == 400
    assert cheap_again.status_code == 200


@pytest.fixture
def graphql_schema(sample_schema: Schema) -> GraphQLSchema:
    return sample_schema._schema


def cost(schema: GraphQLSchema, query: str, variables: dict | None = None, operation_name: str | None = None) -> int:
    return operation_cost(schema, parse(query), operation_name, variables)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("{ hello }", 1, id="a field costs 1"),
        pytest.param("{ items(first: 5) { totalCount } }", 1 + 5, id="a connection multiplies by first"),
        pytest.param("{ items { edges { node { name } } } }", 1 + 10 * 3, id="first defaults as declared"),
        pytest.param("{ recent { name } }", 1 + FULL_PAGE, id="a list of unknown size is a full page"),
        pytest.param("query ($n: Int = 7) { items(first: $n) { totalCount } }", 1 + 7, id="variable default"),
        pytest.param(
            "{ items(first: 5) { ...Page } } fragment Page on ItemConnection { edges { node { name } } }",
            1 + 5 * 3,
            id="fragments count where spread",
        ),
        pytest.param(
            "{ items(first: 5) { ... on ItemConnection { totalCount } } }", 1 + 5, id="inline fragments count"
        ),
        pytest.param("{ __schema { types { fields { name } } } hello }", 1, id="introspection is free"),
    ],
)
def test_operation_cost(graphql_schema: GraphQLSchema, query: str, expected: int) -> None:
    assert cost(graphql_schema, query) == expected


def test_the_cost_of_the_selected_operation_only(graphql_schema: GraphQLSchema) -> None:
    document = "query Small { hello } query Large { items(first: 50) { totalCount } }"

    assert cost(graphql_schema, document, operation_name="Small") == 1
    assert cost(graphql_schema, document, operation_name="Large") == 51


def test_a_variable_sets_the_page_size(graphql_schema: GraphQLSchema) -> None:
    assert cost(graphql_schema, COST_QUERY, {"inner": 3}) == catalogue_cost(3)


def test_the_budget_defaults_to_the_settings() -> None:
    assert QueryCostLimit().max_cost == get_settings().max_query_cost


# Item: graphql-core coerces 100.0 and 1e2 to the Int 100, so the cost counts them as 100 too.
OVER_BUDGET_INNER = get_settings().max_query_cost // 300 + 1


async def post_raw(client: httpx.AsyncClient, body: str) -> httpx.Response:
    """A request body as written, so that JSON numbers keep their spelling (1e2, 100.0)."""
    return await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE_JSON}
    )


@pytest.mark.parametrize("spelling", [f"{OVER_BUDGET_INNER}.0", f"{OVER_BUDGET_INNER / 100}e2", f"{OVER_BUDGET_INNER}"])
async def test_every_spelling_of_a_whole_number_page_size_costs_the_same(
    client: httpx.AsyncClient, spelling: str
) -> None:
    query = COST_QUERY.replace("\n", " ")
    cost = catalogue_cost(OVER_BUDGET_INNER)

    error = refusal(await post_raw(client, f'{{"query": "{query}", "variables": {{"inner": {spelling}}}}}'))

    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": cost, "budget": get_settings().max_query_cost}


async def test_a_page_size_sent_as_a_string_fails_coercion_as_usual(client: httpx.AsyncClient) -> None:
    error = refusal(await post(client, COST_QUERY, {"inner": str(OVER_BUDGET_INNER)}))

    assert error["message"].startswith("Variable '$inner' has invalid value")
    assert "Int cannot represent non-integer value" in error["message"]
    assert error.get("extensions", {}).get("code") != "QUERY_TOO_COSTLY"


async def test_the_cost_cache_is_keyed_by_the_coerced_page_sizes(client: httpx.AsyncClient) -> None:
    query = COST_QUERY.replace("\n", " ")

    cheap = await post_raw(client, f'{{"query": "{query}", "variables": {{"inner": 2.0}}}}')
    costly = await post_raw(client, f'{{"query": "{query}", "variables": {{"inner": {OVER_BUDGET_INNER}.0}}}}')
    cheap_again = await post_raw(client, f'{{"query": "{query}", "variables": {{"inner": 2, "unused": 1e9}}}}')
    costly_again = await post(client, COST_QUERY, {"inner": OVER_BUDGET_INNER})

    assert cheap.status_code == 200 and cheap.json()["data"]["items"]["edges"]
    assert refusal(costly)["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert cheap_again.status_code == 200
    assert refusal(costly_again)["extensions"]["code"] == "QUERY_TOO_COSTLY"


NESTED = """query Nested($outer: Int, $inner: Int = 2) {
  items(first: $outer) { edges { node { name children(first: $inner) { edges { node { name } } } } } }
}"""


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"outer": 100.0, "inner": 100.0}, catalogue_cost(100), id="floats in both lists"),
        pytest.param({"outer": 1e2, "inner": 5.0}, catalogue_cost(5), id="an exponent"),
        pytest.param({"outer": 100.0}, catalogue_cost(2), id="the operation's default"),
    ],
)
def test_the_cost_counts_page_sizes_as_execution_coerces_them(
    graphql_schema: GraphQLSchema, variables: dict, expected: int
) -> None:
    assert cost(graphql_schema, NESTED, variables) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("{ items(first: 100) { edges { node { name } } } }", 1 + 100 * 3, id="an Int literal"),
        pytest.param("query ($n: Int = 100) { items(first: $n) { totalCount } }", 1 + 100, id="a variable's default"),
    ],
)
def test_literal_page_sizes_and_defaults_count(graphql_schema: GraphQLSchema, query: str, expected: int) -> None:
    assert cost(graphql_schema, query) == expected


async def test_a_float_literal_page_size_is_invalid_before_any_cost(client: httpx.AsyncClient) -> None:
    error = refusal(await post(client, "{ items(first: 100.0) { totalCount } }"))

    assert "Int cannot represent non-integer value: 100.0" in error["message"]
