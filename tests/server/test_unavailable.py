"""The database out of reach is 503 with Retry-After and SERVICE_UNAVAILABLE (docs/api.md 12), under
both response media types, never a 500; once it answers again, so does the hall."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import strawberry
from starlette.types import Receive, Scope, Send

from domain.enums import Role
from main import create_app
from schema.masking import MaskUnexpectedErrors
from schema.metrics import OperationMetrics
from server.observability import ObservabilityMiddleware
from services import access
from settings import Settings
from tests.server.conftest import GRAPHQL_RESPONSE_JSON, JSON, make_settings, running

UNREACHABLE_POSTGRES = "postgres://postgres@127.0.0.1:1/test"
PARAMETERS = "{ parameters(first: 1) { edges { node { code } } } }"
LOGIN = 'mutation { login(input: {username: "demo.admin", password: "Demo2026hall"}) { token } }'
A_TOKEN = "k" * 43  # the shape of a real one, so that the session store is asked
ME = "{ me { username } }"


def assert_unavailable(response: httpx.Response, media_type: str) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    errors = response.json()["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["SERVICE_UNAVAILABLE"]
    assert errors[0]["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and "127.0.0.1" not in response.text


async def post(client: httpx.AsyncClient, query: str, media_type: str, token: str | None = None) -> httpx.Response:
    headers = {"Accept": media_type, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await client.post("/graphql", json={"query": query}, headers=headers)


@pytest.mark.parametrize("media_type", [GRAPHQL_RESPONSE_JSON, JSON])
@pytest.mark.parametrize(
    ("query", "token"),
    [
        pytest.param(PARAMETERS, None, id="an anonymous query"),
        pytest.param(LOGIN, None, id="a login"),
        pytest.param(ME, A_TOKEN, id="a signed-in request"),
    ],
)
async def test_an_unreachable_database_is_503_with_retry_after(media_type: str, query: str, token: str | None) -> None:
    async with running(create_app(make_settings(database_url=UNREACHABLE_POSTGRES))) as client:
        response = await post(client, query, media_type, token)

    assert_unavailable(response, media_type)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    def starting(self) -> str | None:
        raise asyncpg.CannotConnectNowError("the database system is starting up")

    @strawberry.field
    def boom(self) -> str | None:
        raise RuntimeError("not an outage")


OUTAGE_SCHEMA = strawberry.Schema(query=Query, extensions=[MaskUnexpectedErrors, OperationMetrics])


@pytest.fixture
async def outage_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(make_settings(), schema=OUTAGE_SCHEMA))
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        yield client


async def test_a_database_starting_up_is_503(outage_client: httpx.AsyncClient, media_type: str) -> None:
    assert_unavailable(await post(outage_client, "{ starting }", media_type), media_type)


async def test_an_answer_given_stands_beside_an_outage(outage_client: httpx.AsyncClient, media_type: str) -> None:
    response = await post(outage_client, "{ hello starting }", media_type)

    assert response.status_code == 200
    assert response.json()["data"] == {"hello": "world", "starting": None}
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]


async def test_an_unexpected_error_is_not_taken_for_an_outage(outage_client: httpx.AsyncClient) -> None:
    response = await post(outage_client, "{ boom starting }", JSON)

    assert response.status_code == 503
    codes = sorted(e["extensions"]["code"] for e in response.json()["errors"])
    assert codes == ["INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"]
    response = await post(outage_client, "{ boom }", JSON)
    assert response.status_code == 200
    assert "retry-after" not in response.headers


async def test_an_outage_outside_graphql_is_503_too() -> None:
    async def unreachable(scope: Scope, receive: Receive, send: Send) -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")

    transport = httpx.ASGITransport(app=ObservabilityMiddleware(unreachable))
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        response = await client.get("/anything")

    assert_unavailable(response, JSON)


class CuttableProxy:
    """A TCP proxy in front of PostgreSQL: ``cut()`` is the database going away (live connections
    dropped, new ones refused), ``restore()`` its coming back on the same address."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.BaseTransport] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for transport in list(self.transports):
            transport.abort()
        self.transports.clear()

    restore = start

    async def link(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.transports |= {client_writer.transport, server_writer.transport}
        await asyncio.gather(
            self.pump(client_reader, server_writer), self.pump(server_reader, client_writer), return_exceptions=True
        )

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
            self.transports.discard(writer.transport)


@pytest.fixture
async def proxied_database(db: Settings) -> AsyncIterator[tuple[CuttableProxy, str]]:
    """The test database (PostgreSQL) reached through a CuttableProxy."""
    parts = urlsplit(db.database_url)
    proxy = CuttableProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    try:
        yield proxy, urlunsplit(parts._replace(netloc=netloc))
    finally:
        await proxy.cut()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs PostgreSQL (DATABASE_URL)"
)
async def test_postgres_going_away_is_503_and_coming_back_serves_again(
    proxied_database: tuple[CuttableProxy, str],
) -> None:
    proxy, url = proxied_database
    await access.create_staff_account(Role.ADMIN, "outage.admin", "Outage2026hall")
    login = 'mutation { login(input: {username: "outage.admin", password: "Outage2026hall"}) { token } }'
    async with running(create_app(Settings(database_url=url, graphiql=False, redis_url=None))) as client:
        token = (await post(client, login, JSON)).json()["data"]["login"]["token"]
        before = await post(client, ME, JSON, token)

        await proxy.cut()
        during = {
            (media_type, name): await post(client, query, media_type, query_token)
            for media_type in (GRAPHQL_RESPONSE_JSON, JSON)
            for name, query, query_token in (
                ("me", ME, token),
                ("parameters", PARAMETERS, None),
                ("login", login, None),
            )
        }
        await proxy.restore()
        after = await post(client, ME, GRAPHQL_RESPONSE_JSON, token)

    assert before.json() == {"data": {"me": {"username": "outage.admin"}}}
    for (media_type, _), response in during.items():
        assert_unavailable(response, media_type)
    assert after.status_code == 200
    assert after.json() == {"data": {"me": {"username": "outage.admin"}}}
