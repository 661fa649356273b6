"""Unexpected exceptions reach the client masked, with the request id the log carries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from strawberry.extensions import SchemaExtension

from schema.masking import MaskUnexpectedErrors
from server.observability import JsonLogFormatter

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


@pytest.fixture
def server_log() -> Iterator[Callable[[], list[dict]]]:
    """The JSON lines the server logs while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


async def test_an_unexpected_error_is_masked_and_logged_with_the_request_id(
    client: httpx.AsyncClient, server_log: Callable[[], list[dict]]
) -> None:
    response = await client.post("/graphql", json={"query": "{ hello boom }"}, headers={"X-Request-ID": "kiosk-7.42"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "kiosk-7.42"
    payload = response.json()
    assert payload["data"] == {"hello": "world", "boom": None}
    assert payload["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 9}],
            "path": ["boom"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "kiosk-7.42"},
        }
    ]
    assert "national_id" not in response.text
    [logged] = [line for line in server_log() if line["logger"] == "shebao.errors"]
    assert logged["request_id"] == "kiosk-7.42"
    assert logged["level"] == "ERROR"
    assert "Traceback" in logged["exception"]
    assert "SELECT national_id FROM person" in logged["exception"]


async def test_a_generated_request_id_is_the_one_in_the_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ boom }"})

    request_id = response.headers["x-request-id"]
    assert response.json()["errors"][0]["extensions"]["requestId"] == request_id


async def test_an_error_raised_on_purpose_passes_through(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ forbidden }"})

    [error] = response.json()["errors"]
    assert error["message"] == "You may not read this person."
    assert error["extensions"] == {"code": "FORBIDDEN"}


async def test_a_clients_invalid_variable_is_explained_not_masked(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "query ($m: Month!) { month(value: $m) }", "variables": {"m": "2024-13"}}
    )

    [error] = response.json()["errors"]
    assert "'2024-13' is not a month" in error["message"]
    assert "requestId" not in error.get("extensions", {})


class FailingExtension(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        raise KeyError("password_hash")
        yield


@pytest.fixture
def failing_app(make_app: Callable[..., Starlette]) -> Starlette:
    @strawberry.type
    class Query:
        hello: str = "world"

    schema = strawberry.Schema(query=Query, extensions=[MaskUnexpectedErrors, FailingExtension])
    return make_app(schema)


@pytest.mark.parametrize("media_type", [GRAPHQL_RESPONSE_JSON, "application/json"])
async def test_a_failure_before_execution_is_a_masked_500(
    failing_app: Starlette, media_type: str, server_log: Callable[[], list[dict]]
) -> None:
    transport = httpx.ASGITransport(app=failing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        response = await client.post("/graphql", json={"query": "{ hello }"}, headers={"Accept": media_type})

    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": response.headers["x-request-id"]},
            }
        ]
    }
    assert any("password_hash" in line.get("exception", "") for line in server_log())
