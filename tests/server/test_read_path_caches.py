"""What the read path keeps between requests changes no answer: each process parses and validates
a document once (schema.limits.DocumentCache), counts its cost once per set of page sizes, and
builds the SQL of a loader's query once per shape (resolvers.loaders.shaped_sql); the cost, the
operation's name and each viewer's scope are still decided per request."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest

import main
from domain.enums import Role
from domain.months import Month
from resolvers import loaders
from resolvers.loaders import Loaders
from schema.limits import DocumentCache
from schema.nodes import NODE_KINDS
from services.common.viewer import Viewer
from settings import get_settings
from tests import factories
from tests.graphql_client import data
from tests.server.conftest import make_settings, running

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
TWO_OPERATIONS = "query First { hello } query Second { greeting }"
CATALOGUE = """query Catalogue($inner: Int!) {
  items(first: 100) { edges { node { name children(first: $inner) { edges { node { name } } } } } }
}"""


async def post(
    client: httpx.AsyncClient, query: str, variables: dict | None = None, operation_name: str | None = None
) -> httpx.Response:
    body = {"query": query, "variables": variables, "operationName": operation_name}
    return await client.post("/graphql", json=body, headers={"Accept": GRAPHQL_RESPONSE_JSON})


async def test_a_repeated_document_is_parsed_and_validated_once(client: httpx.AsyncClient) -> None:
    query = "query CachedOnce { hello greeting }"
    DocumentCache._documents.entries.clear()
    DocumentCache._validations.entries.clear()

    answers = [await post(client, query) for _ in range(3)]

    assert all(answer.json() == {"data": {"hello": "world", "greeting": "你好"}} for answer in answers)
    assert [key[1] for key in DocumentCache._documents.entries] == [query]
    assert len(DocumentCache._validations.entries) == 1


async def test_the_cost_of_a_cached_document_follows_each_requests_variables(client: httpx.AsyncClient) -> None:
    over_budget = get_settings().max_query_cost // 300 + 1

    answers = [await post(client, CATALOGUE, {"inner": inner}) for inner in (1, over_budget, 1, over_budget)]

    assert [answer.status_code for answer in answers] == [200, 400, 200, 400]
    assert answers[3].json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_variable_left_out_costs_its_default_and_a_null_one_the_arguments(client: httpx.AsyncClient) -> None:
    costly_default = get_settings().max_query_cost // 300 + 1
    query = CATALOGUE.replace("$inner: Int!", f"$inner: Int = {costly_default}")

    answers = [await post(client, query, variables) for variables in ({}, {"inner": None}, {}, {"inner": None})]

    assert [answer.status_code for answer in answers] == [
        400,
        200,
        400,
        200,
    ]  # null: children counts its own default, 10


async def test_an_invalid_document_is_refused_alike_every_time(client: httpx.AsyncClient) -> None:
    answers = [await post(client, "{ hello nosuchfield }") for _ in range(2)]
    syntax = [await post(client, "{ hello ") for _ in range(2)]

    assert [a.status_code for a in answers + syntax] == [400] * 4
    assert answers[0].json() == answers[1].json()
    assert "nosuchfield" in answers[0].json()["errors"][0]["message"]
    assert syntax[0].json() == syntax[1].json()


async def test_a_cached_document_of_two_operations_still_needs_the_name(client: httpx.AsyncClient) -> None:
    named = await post(client, TWO_OPERATIONS, operation_name="Second")
    unnamed = await post(client, TWO_OPERATIONS)
    named_again = await post(client, TWO_OPERATIONS, operation_name="First")

    assert named.json() == {"data": {"greeting": "你好"}}
    assert unnamed.status_code == 400
    assert unnamed.json()["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert named_again.json() == {"data": {"hello": "world"}}


RECORDS = """query Records($id: ID!) {
  me { person { name periods(last: 2) { edges { node { month amount } } } } }
  node(id: $id) { ... on Person { name } }
}"""


@pytest.mark.usefixtures("db")
async def test_each_viewer_reads_through_a_cached_query_shape_only_what_they_may() -> None:
    home = await factories.community(await factories.district())
    people = [await factories.person(home, name=name) for name in ("甲", "乙")]
    for number, owner in enumerate(people):
        policy = await factories.flexible_pension(owner, Month(2026, 1))
        await factories.periods(policy, Month(2026, 1), 3, "8000.00", "0.20", f"{1600 + number}.00")
    viewers = [await factories.viewer(Role.PERSON, person=owner) for owner in people]
    ids = [
        (await data("query($n: String!) { person(idNumber: $n) { id } }", n=owner.id_number))["person"]["id"]
        for owner in people
    ]

    first = await data(RECORDS, viewers[0], id=ids[1])
    second = await data(RECORDS, viewers[1], id=ids[0])
    own = await data(RECORDS, viewers[1], id=ids[1])

    assert first == {
        "me": {
            "person": {
                "name": "甲",
                "periods": {
                    "edges": [
                        {"node": {"month": "2026-02", "amount": "1600.00"}},
                        {"node": {"month": "2026-03", "amount": "1600.00"}},
                    ]
                },
            }
        },
        "node": None,
    }
    assert second["me"]["person"]["periods"]["edges"][0]["node"]["amount"] == "1601.00"
    assert second["node"] is None and own["node"] == {"name": "乙"}


@pytest.mark.usefixtures("db")
async def test_a_cached_query_shape_answers_as_a_query_built_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    home = await factories.community(await factories.district())
    people = [await factories.person(home, name=f"测试{i}") for i in range(3)]
    for owner in people:
        policy = await factories.flexible_pension(owner, Month(2025, 11))
        await factories.periods(policy, Month(2025, 11), 4, "8000.00", "0.20", "1600.00")
    clerk = await factories.viewer(Role.CLERK, community=home)
    keys = [owner.id for owner in people]

    async def read(viewer) -> tuple:
        each = Loaders(NODE_KINDS, viewer)  # the keys of each gather share one query
        return (
            await each.person.load_many(keys),
            await asyncio.gather(*(each.periods_of_person.load(key) for key in keys)),
            await asyncio.gather(*(each.periods_of_person.load(key, window=2, backwards=True) for key in keys)),
            await asyncio.gather(*(each.periods_of_person.count(key) for key in keys)),
        )

    cached = [await read(clerk) for _ in range(2)]
    monkeypatch.setattr(loaders, "_SHAPES_KEPT", -1)  # nothing kept: every query built afresh
    loaders._shapes.clear()
    fresh = await read(clerk)

    assert cached[0] == cached[1] == fresh
    assert [person.name for person in fresh[0]] == ["测试0", "测试1", "测试2"]
    assert [len(periods) for periods in fresh[1]] == [4, 4, 4] and fresh[3] == [4, 4, 4]
    assert [[period.month for period in periods] for periods in fresh[2]] == [[202601, 202602]] * 3


def test_a_shape_is_reused_only_when_its_values_come_back_as_parameters() -> None:
    clerks = [
        Viewer(7, "clerk7", Role.CLERK, community_id=3, district_id=1),
        Viewer(8, "clerk8", Role.CLERK, community_id=4, district_id=1),
    ]
    builds: dict[str, list[Viewer]] = {"inlined": [], "mixed": [], "listed": [], "parameters": []}

    def inlined(who: Viewer, ids: list[int]) -> tuple[str, list]:
        builds["inlined"].append(who)
        return f"SELECT * FROM t WHERE id IN ({', '.join(map(str, ids))}) AND c = $1", [who.community_id]

    def mixed(who: Viewer, ids: list[int]) -> tuple[str, list]:
        builds["mixed"].append(who)
        return "SELECT * FROM t WHERE id = ANY($1) AND c = $2", [[*ids, 0], who.community_id]

    def listed(who: Viewer, ids: list[int]) -> tuple[str, list]:
        builds["listed"].append(who)
        return "SELECT * FROM t WHERE id = ANY($1) AND c = $2 AND u = $3", [list(ids), who.community_id, who.username]

    def parameters(who: Viewer, ids: list[int]) -> tuple[str, list]:
        builds["parameters"].append(who)
        return "SELECT * FROM t WHERE id IN ($1, $2) AND c = $3 AND u = $4", [*ids, who.community_id, who.username]

    answers = {
        build.__name__: [loaders.shaped_sql(("test", build.__name__), who, [21, 22], build) for who in clerks]
        for build in (inlined, mixed, listed, parameters)
    }

    assert answers["inlined"][1] == ("SELECT * FROM t WHERE id IN (21, 22) AND c = $1", [4])
    assert answers["mixed"][1] == ("SELECT * FROM t WHERE id = ANY($1) AND c = $2", [[21, 22, 0], 4])
    assert [sql_and_values[1] for sql_and_values in answers["listed"]] == [
        [[21, 22], 3, "clerk7"],
        [[21, 22], 4, "clerk8"],
    ]
    assert [sql_and_values[1] for sql_and_values in answers["parameters"]] == [
        [21, 22, 3, "clerk7"],
        [21, 22, 4, "clerk8"],
    ]
    assert builds["inlined"][1:] == builds["mixed"][1:] == clerks  # built afresh for each
    for reused in ("listed", "parameters"):  # once, with stand-ins
        assert len(builds[reused]) == 1 and builds[reused][0] not in clerks


async def test_a_server_process_leaves_what_it_started_with_out_of_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple] = []
    recorder = SimpleNamespace(
        collect=lambda: calls.append(("collect",)),
        freeze=lambda: calls.append(("freeze",)),
        set_threshold=lambda *values: calls.append(("set_threshold", *values)),
    )
    monkeypatch.setattr(main, "gc", recorder)

    async with running(main.create_app(make_settings(), tune_gc=True)):
        pass
    tuned = list(calls)
    async with running(main.create_app(make_settings())):  # settings given: a test's app, left alone
        pass

    assert tuned == [("collect",), ("freeze",), ("set_threshold", *main.SERVER_GC_THRESHOLD)]
    assert calls == tuned
