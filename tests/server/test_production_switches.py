"""What production turns on or off: introspection, a token for /metrics or a port of its own, and
how long `serve --workers N` waits for a busy server process before replacing it."""

from __future__ import annotations

import argparse
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest

import main
from settings import Settings
from tests.server.conftest import GRAPHQL_RESPONSE_JSON, make_settings

SCHEMA_QUERY = "{ __schema { queryType { name } } }"
TYPE_QUERY = '{ __type(name: "Person") { name } }'


def product_client(**overrides: object) -> httpx.AsyncClient:
    """A client of the product schema, without its lifespan: enough for what needs no database."""
    app = main.create_app(make_settings(**overrides))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hall")


async def graphql(client: httpx.AsyncClient, query: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers={"Accept": GRAPHQL_RESPONSE_JSON})


async def test_introspection_is_on_by_default() -> None:
    async with product_client() as client:
        response = await graphql(client, SCHEMA_QUERY)

    assert response.status_code == 200
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize(
    "query", [SCHEMA_QUERY, TYPE_QUERY, "query Sneaky { ...F } fragment F on Query { __schema { types { name } } }"]
)
async def test_introspection_turned_off_is_refused_before_execution(query: str) -> None:
    async with product_client(introspection=False) as client:
        response = await graphql(client, query)

    assert response.status_code == 400
    assert "data" not in response.json()
    errors = response.json()["errors"]
    assert {error["extensions"]["code"] for error in errors} == {"INTROSPECTION_DISABLED"}
    assert "introspection has been disabled" in errors[0]["message"]


async def test_without_introspection_the_rest_still_answers() -> None:
    async with product_client(introspection=False) as client:
        response = await graphql(client, "{ __typename }")

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_introspection_is_switched_off_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTROSPECTION", "false")

    settings = Settings(database_url="sqlite://:memory:")

    assert settings.introspection is False
    assert settings.graphiql_enabled is False  # GraphiQL would have no schema to show


async def test_graphiql_stays_on_for_the_demo_by_default() -> None:
    settings = Settings(database_url="sqlite://demo.sqlite3")

    assert (settings.introspection, settings.graphiql_enabled) == (True, True)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": "Basic cHJvbTpzM2NyZXQ="}, 401),
        ({"Authorization": "Bearer s3cret-scrape-token"}, 200),
        ({"Authorization": "bearer s3cret-scrape-token"}, 200),
    ],
)
async def test_metrics_ask_for_the_metrics_token_when_it_is_set(headers: dict[str, str], status: int) -> None:
    async with product_client(metrics_token="s3cret-scrape-token") as client:
        response = await client.get("/metrics", headers=headers)

    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
        assert "shebao_" not in response.text
    else:
        assert "shebao_http_requests_total" in response.text


async def test_metrics_need_no_token_by_default() -> None:
    async with product_client() as client:
        response = await client.get("/metrics")

    assert response.status_code == 200


async def test_metrics_on_a_port_of_their_own_are_not_on_the_application() -> None:
    async with product_client(metrics_port=free_port()) as client:
        response = await client.get("/metrics")

    assert response.status_code == 404


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, token: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The options `serve` gave uvicorn.run, which the test replaces (no server starts)."""
    calls: list[dict[str, Any]] = []

    async def no_migrations(settings: Settings) -> None:
        pass

    monkeypatch.setattr(main, "apply_migrations", no_migrations)
    monkeypatch.setattr(main.uvicorn, "run", lambda app, **options: calls.append(options))
    yield calls


def serve_args(workers: int = 1) -> argparse.Namespace:
    return argparse.Namespace(workers=workers, reload=False, demo=False, demo_persons=0)


def test_serve_gives_busy_server_processes_a_minute_to_answer_their_health_check(
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    main.serve(make_settings(), serve_args(workers=2))

    [options] = uvicorn_runs
    assert options["workers"] == 2
    assert options["timeout_worker_healthcheck"] == 60  # uvicorn's own is 5 s


def test_the_health_check_timeout_is_a_setting(
    uvicorn_runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_HEALTHCHECK_TIMEOUT", "300")

    main.serve(Settings(database_url="sqlite://:memory:"), serve_args(workers=4))

    assert uvicorn_runs[0]["timeout_worker_healthcheck"] == 300


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_a_health_check_timeout_that_is_no_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WORKER_HEALTHCHECK_TIMEOUT", value)

    with pytest.raises(pydantic.ValidationError, match="worker_healthcheck_timeout"):
        Settings()


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_serves_metrics_on_their_own_port_with_the_token(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    port = free_port()
    seen: dict[str, Any] = {}

    def run(app: str, **options: Any) -> None:  # while `serve` would be serving
        url = f"http://127.0.0.1:{port}"
        seen["without token"] = fetch(f"{url}/metrics")
        seen["with token"] = fetch(f"{url}/metrics", "scrape-2026")
        seen["elsewhere"] = fetch(f"{url}/graphql", "scrape-2026")

    async def no_migrations(settings: Settings) -> None:
        pass

    monkeypatch.setattr(main, "apply_migrations", no_migrations)
    monkeypatch.setattr(main.uvicorn, "run", run)
    settings = make_settings(metrics_port=port, metrics_token="scrape-2026")

    main.serve(settings, serve_args(workers=workers))

    status, headers, _ = seen["without token"]
    assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"')
    status, headers, body = seen["with token"]
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert "# TYPE" in body or body == ""  # with several processes, only what they wrote
    assert seen["elsewhere"][0] == 404
    with pytest.raises(urllib.error.URLError):  # stopped with the server
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_serve_serves_this_process_metrics_on_their_own_port(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    bodies: list[str] = []

    async def no_migrations(settings: Settings) -> None:
        pass

    monkeypatch.setattr(main, "apply_migrations", no_migrations)
    monkeypatch.setattr(
        main.uvicorn, "run", lambda app, **options: bodies.append(fetch(f"http://127.0.0.1:{port}/metrics")[2])
    )

    main.serve(make_settings(metrics_port=port), serve_args())

    assert "shebao_http_requests_total" in bodies[0]


def test_a_metrics_port_already_taken_stops_serve_with_a_clear_message(uvicorn_runs: list[dict[str, Any]]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(SystemExit, match=f"METRICS_PORT {port} on 127.0.0.1 cannot be listened on"):
            main.serve(make_settings(metrics_port=port), serve_args())

    assert uvicorn_runs == []


def test_the_metrics_port_must_not_be_the_api_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("METRICS_PORT", "8123")

    with pytest.raises(pydantic.ValidationError, match="METRICS_PORT must differ from PORT"):
        Settings()


async def test_an_empty_metrics_token_asks_for_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "")
    settings = Settings(database_url="sqlite://:memory:", graphiql=False)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=main.create_app(settings)), base_url="http://hall"
    ) as client:
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert "s3cret" not in repr(Settings(metrics_token="s3cret"))  # kept out of logs and tracebacks
