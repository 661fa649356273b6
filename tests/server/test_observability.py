"""Request ids, JSON log lines and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

import main
from server.observability import JsonLogFormatter, ObservabilityMiddleware, request_id_var
from tests.server.conftest import make_settings, running


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The value of one sample on /metrics, 0 when it is not there yet."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.parametrize("sane", ["kiosk-7", "a1B2.c3_d4-e5", "x" * 64])
async def test_a_sane_incoming_request_id_is_kept(client: httpx.AsyncClient, sane: str) -> None:
    response = await client.post("/graphql", json={"query": "{ requestId }"}, headers={"X-Request-ID": sane})

    assert response.headers["x-request-id"] == sane
    assert response.json() == {"data": {"requestId": sane}}


@pytest.mark.parametrize("insane", ["", "has space", "x" * 65, "<script>", "id\u00e9"])
async def test_an_insane_incoming_request_id_is_replaced(client: httpx.AsyncClient, insane: str) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ requestId }"}, headers={"X-Request-ID": insane.encode("latin-1")}
    )

    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json() == {"data": {"requestId": request_id}}


async def test_every_route_returns_a_request_id(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/metrics", "/no-such-page"):
        response = await client.get(path)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_operations_are_counted_by_root_field_and_type(client: httpx.AsyncClient) -> None:
    labels = {"operation": "greeting", "type": "query"}
    before = await metric(client, "shebao_graphql_operations_total", **labels)
    timed_before = await metric(client, "shebao_graphql_operation_duration_seconds_count", **labels)

    await client.post("/graphql", json={"query": "query MetricsProbe { greeting }"})

    assert await metric(client, "shebao_graphql_operations_total", **labels) == before + 1
    assert await metric(client, "shebao_graphql_operation_duration_seconds_count", **labels) == timed_before + 1


async def test_an_operation_of_several_root_fields_is_counted_as_multiple(client: httpx.AsyncClient) -> None:
    labels = {"operation": "multiple", "type": "query"}
    before = await metric(client, "shebao_graphql_operations_total", **labels)

    await client.post("/graphql", json={"query": "query Both { hello ...More } fragment More on Query { greeting }"})

    assert await metric(client, "shebao_graphql_operations_total", **labels) == before + 1


async def test_root_fields_are_found_through_fragments(client: httpx.AsyncClient) -> None:
    labels = {"operation": "touch", "type": "mutation"}
    before = await metric(client, "shebao_graphql_operations_total", **labels)

    await client.post("/graphql", json={"query": "mutation { ... on Mutation { touch } alias: touch }"})

    assert await metric(client, "shebao_graphql_operations_total", **labels) == before + 1


def series(exposition: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def test_client_chosen_operation_names_and_invalid_documents_add_no_series(client: httpx.AsyncClient) -> None:
    documents = [f"query Rnd{uuid.uuid4().hex} {{ hello }}" for _ in range(30)]
    documents += [f"query Rnd{uuid.uuid4().hex} {{ nope{i} }}" for i in range(10)]  # fields the schema lacks
    documents += [f"query Rnd{uuid.uuid4().hex} {{" for _ in range(5)]  # does not parse
    documents += [f"mutation Rnd{uuid.uuid4().hex} {{ touch(x: {i}) }}" for i in range(5)]
    for document in documents:  # each once first, so that only the growth of the second round counts
        await client.post("/graphql", json={"query": document})
    before = series((await client.get("/metrics")).text)

    for document in documents:
        await client.post("/graphql", json={"query": document.replace("Rnd", "Again")})
    for operation_name in ("Missing", "Rnd0"):
        await client.post("/graphql", json={"query": "query A { hello }", "operationName": operation_name})
    grown = series((await client.get("/metrics")).text) - before

    assert not [labels for _, labels in grown if any("Rnd" in value or "Again" in value for _, value in labels)]
    assert len(grown) <= 20, sorted(grown)


@pytest.mark.parametrize(
    ("query", "operation", "code"),
    [
        ("query MetricsBoom { boom }", "boom", "INTERNAL_SERVER_ERROR"),
        ("query MetricsForbidden { forbidden }", "forbidden", "FORBIDDEN"),
        ("query MetricsTypo { helo }", "invalid", "BAD_REQUEST"),
    ],
)
async def test_errors_are_counted_by_operation_and_code(
    client: httpx.AsyncClient, query: str, operation: str, code: str
) -> None:
    labels = {"operation": operation, "type": "query", "code": code}
    before = await metric(client, "shebao_graphql_errors_total", **labels)

    await client.post("/graphql", json={"query": query})

    assert await metric(client, "shebao_graphql_errors_total", **labels) == before + 1


async def test_http_requests_are_counted_by_route_and_status(client: httpx.AsyncClient) -> None:
    labels = {"route": "/graphql", "method": "POST", "status": "415"}
    before = await metric(client, "shebao_http_requests_total", **labels)

    await client.post("/graphql", content=b"{ hello }", headers={"Content-Type": "text/plain"})

    assert await metric(client, "shebao_http_requests_total", **labels) == before + 1


async def test_unmatched_paths_share_one_route_label(client: httpx.AsyncClient) -> None:
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    before = await metric(client, "shebao_http_requests_total", **labels)

    await client.get("/persons/420102199001011234")
    await client.get("/persons/420102199001015678")

    assert await metric(client, "shebao_http_requests_total", **labels) == before + 2


def test_a_log_line_is_one_json_object_with_the_request_id_and_extras() -> None:
    record = logging.LogRecord("shebao.jobs", logging.WARNING, __file__, 1, "Job %s is late", ("J1",), None)
    record.job_id = "J1"
    token = request_id_var.set("kiosk-7")
    try:
        line = JsonLogFormatter().format(record)
    finally:
        request_id_var.reset(token)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "shebao.jobs"
    assert entry["message"] == "Job J1 is late"
    assert entry["request_id"] == "kiosk-7"
    assert entry["job_id"] == "J1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["ts"])


async def test_an_unhandled_exception_is_a_500_with_the_request_id() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("disk full at /var/lib/postgresql")

    transport = httpx.ASGITransport(app=ObservabilityMiddleware(broken))
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        response = await client.get("/anything", headers={"X-Request-ID": "kiosk-9"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "kiosk-9"
    [error] = response.json()["errors"]
    assert error == {
        "message": "Internal server error",
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "kiosk-9"},
    }


async def test_a_client_gone_while_its_request_is_read_is_counted_as_499_not_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[Message] = []

    async def gone() -> Message:
        return {"type": "http.disconnect"}

    async def record(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    labels = {"route": "/graphql", "method": "POST", "status": "499"}
    app = main.create_app(make_settings())
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hall") as client:
            before = await metric(client, "shebao_http_requests_total", **labels)
            with caplog.at_level(logging.INFO):
                await app(scope, gone, record)
            after = await metric(client, "shebao_http_requests_total", **labels)

    assert sent == []
    assert after == before + 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.status for r in caplog.records if r.name == "shebao.access"] == [499]
