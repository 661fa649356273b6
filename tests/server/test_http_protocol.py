"""GraphQL over HTTP: media types, status codes and request errors, under both response types."""

from __future__ import annotations

import json

import httpx
import pytest

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def request_error_status(media_type: str) -> int:
    return 400 if media_type == GRAPHQL_RESPONSE_JSON else 200


def assert_media_type(response: httpx.Response, media_type: str) -> None:
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"


async def test_a_query_answers_in_the_accepted_media_type(client: httpx.AsyncClient, media_type: str) -> None:
    response = await client.post("/graphql", json={"query": "{ hello }"}, headers={"Accept": media_type})

    assert response.status_code == 200
    assert_media_type(response, media_type)
    assert response.json() == {"data": {"hello": "world"}}


async def test_a_query_over_get_is_answered(client: httpx.AsyncClient, media_type: str) -> None:
    response = await client.get("/graphql", params={"query": "{ hello }"}, headers={"Accept": media_type})

    assert response.status_code == 200
    assert_media_type(response, media_type)
    assert response.json() == {"data": {"hello": "world"}}


async def test_a_mutation_over_post_runs(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "mutation { touch }"})

    assert response.status_code == 200
    assert response.json() == {"data": {"touch": True}}


async def test_text_is_sent_as_utf8(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ greeting }"})

    assert "你好".encode() in response.content
    assert response.json() == {"data": {"greeting": "你好"}}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, {JSON};q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"{JSON}, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, {JSON}", JSON),
        (f"{JSON}, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{JSON};q=0, */*", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", GRAPHQL_RESPONSE_JSON),
    ],
)
async def test_accept_is_negotiated_by_q_value(client: httpx.AsyncClient, accept: str | None, expected: str) -> None:
    headers = {"Accept": accept} if accept else {}
    request = client.build_request("POST", "/graphql", json={"query": "{ hello }"}, headers=headers)
    if accept is None:
        del request.headers["Accept"]

    response = await client.send(request)

    assert response.status_code == 200
    assert_media_type(response, expected)


@pytest.mark.parametrize(
    "accept",
    ["text/html", "text/csv", f"{JSON}; charset=latin1", f"{GRAPHQL_RESPONSE_JSON};q=0, {JSON};q=0"],
)
async def test_nothing_acceptable_is_406(client: httpx.AsyncClient, accept: str) -> None:
    response = await client.post("/graphql", json={"query": "{ hello }"}, headers={"Accept": accept})

    assert response.status_code == 406
    assert response.json()["errors"][0]["message"].startswith("Not Acceptable")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": f"{JSON}; charset=latin1"},
        {"Content-Type": GRAPHQL_RESPONSE_JSON},
        {},
    ],
)
async def test_an_unsupported_content_type_is_415(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post("/graphql", content=b'{"query": "{ hello }"}', headers=headers)

    assert response.status_code == 415
    assert response.json()["errors"][0]["message"].startswith("Unsupported Media Type")


async def test_json_with_utf8_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": "{ hello }"}', headers={"Content-Type": f"{JSON}; charset=UTF-8"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type", ["Application/JSON; Charset=UTF-8", "APPLICATION/JSON", "application/Json;charset=utf8"]
)
async def test_the_content_type_is_matched_without_regard_to_case(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post("/graphql", content=b'{"query": "{ hello }"}', headers={"Content-Type": content_type})

    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "world"}}


async def test_a_multipart_content_type_is_matched_without_regard_to_case(client: httpx.AsyncClient) -> None:
    operations = {"query": "mutation ($f: Upload!) { upload(file: $f) }", "variables": {"f": None}}
    request = client.build_request(
        "POST",
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("photo.jpg", b"photo", "image/jpeg")},
    )
    boundary = request.headers["Content-Type"].split("boundary=")[1]
    headers = {"Content-Type": f"Multipart/Form-Data; Boundary={boundary}", "GraphQL-Require-Preflight": "1"}

    response = await client.post("/graphql", content=request.read(), headers=headers)

    assert response.status_code == 200
    assert response.json() == {"data": {"upload": 5}}


@pytest.mark.parametrize(
    "params",
    [
        {"query": "mutation { touch }"},
        {"query": "query Read { hello } mutation Write { touch }", "operationName": "Write"},
    ],
)
async def test_a_mutation_over_get_is_405_allowing_post(
    client: httpx.AsyncClient, media_type: str, params: dict[str, str]
) -> None:
    response = await client.get("/graphql", params=params, headers={"Accept": media_type})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_media_type(response, media_type)
    assert "data" not in response.json()


async def test_other_methods_are_405_allowing_get_and_post(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": "{ hello }"})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"query": "{ hello"}, id="syntax error"),
        pytest.param({"query": "{ unknownField }"}, id="validation error"),
        pytest.param(
            {"query": "query ($m: Month!) { month(value: $m) }", "variables": {"m": "2024-13"}},
            id="variable coercion",
        ),
        pytest.param({"query": "query Known { hello }", "operationName": "Unknown"}, id="unknown operation"),
        pytest.param({"query": "query A { hello } query B { hello }"}, id="several operations, no name"),
        pytest.param({"query": "subscription { count(to: 1) }"}, id="subscription over HTTP"),
    ],
)
async def test_request_errors_have_no_data(client: httpx.AsyncClient, media_type: str, body: dict) -> None:
    response = await client.post("/graphql", json=body, headers={"Accept": media_type})

    assert response.status_code == request_error_status(media_type)
    assert_media_type(response, media_type)
    payload = response.json()
    assert "data" not in payload
    assert payload["errors"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"query": ', id="malformed JSON"),
        pytest.param(b"", id="empty body"),
        pytest.param(b"1", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b'"{ hello }"', id="string"),
        pytest.param(b'[{"query": "{ hello }"}]', id="batch"),
        pytest.param(b"{}", id="no query"),
        pytest.param(b'{"query": 1}', id="query not a string"),
        pytest.param(b'{"query": "{ hello }", "variables": [1]}', id="variables not an object"),
        pytest.param(b'{"query": "{ hello }", "extensions": "x"}', id="extensions not an object"),
        pytest.param(b'{"query": "{ hello }", "operationName": 5}', id="operationName not a string"),
    ],
)
async def test_a_malformed_request_is_400(client: httpx.AsyncClient, media_type: str, content: bytes) -> None:
    response = await client.post("/graphql", content=content, headers={"Accept": media_type, "Content-Type": JSON})

    assert response.status_code == 400
    assert_media_type(response, media_type)
    assert response.json()["errors"][0]["message"]


async def test_a_field_error_keeps_the_data_and_status_200(client: httpx.AsyncClient, media_type: str) -> None:
    response = await client.post("/graphql", json={"query": "{ hello forbidden }"}, headers={"Accept": media_type})

    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] == {"hello": "world", "forbidden": None}
    assert payload["errors"][0]["path"] == ["forbidden"]


async def test_an_empty_operation_name_means_none_was_given(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "query Only { hello }", "operationName": ""})

    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "world"}}


async def test_a_named_operation_is_chosen_among_several(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "query A { hello } query B { greeting }", "operationName": "B"}
    )

    assert response.json() == {"data": {"greeting": "你好"}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"query": "{ hello }", "variables": {"v": ' + "[" * 3000 + "]" * 3000 + "}}", "nested too deeply"),
        ('{"query": "{ hello }", "variables": {"v": "\\udfff"}}', "lone surrogate"),
    ],
)
async def test_json_no_decoder_downstream_could_take_is_a_request_error(
    client: httpx.AsyncClient, body: str, reason: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE_JSON}
    )
    assert response.status_code == 400 and reason in response.json()["errors"][0]["message"]
