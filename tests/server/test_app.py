"""The application as a whole: GraphiQL, subscriptions, lifespan and the command line."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

import main
from domain.enums import Role
from services.common import clock
from services.common.viewer import Viewer
from settings import Settings

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def get_graphiql(app: Starlette) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hall") as client:
        return await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})


async def test_graphiql_is_served_when_enabled(make_app: Callable[..., Starlette]) -> None:
    response = await get_graphiql(make_app(graphiql=True))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_absent_when_disabled(make_app: Callable[..., Starlette]) -> None:
    response = await get_graphiql(make_app(graphiql=False))

    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


@pytest.fixture
def websocket_client(make_app: Callable[..., Starlette]) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)  # it would rather have httpx2
        from starlette.testclient import TestClient
    yield TestClient(make_app())


@pytest.fixture
def known_token(monkeypatch: pytest.MonkeyPatch) -> str:
    """One token the server takes for a signed-in clerk (sessions themselves: tests/services)."""

    async def viewer_of(authorization: str | None) -> Viewer | None:
        return Viewer(1, "clerk", Role.CLERK) if authorization == "Bearer kiosk-token" else None

    monkeypatch.setattr("server.view.viewer_of", viewer_of)
    return "kiosk-token"


def test_a_subscription_streams_over_graphql_transport_ws(websocket_client: Any, known_token: str) -> None:
    with websocket_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        assert socket.accepted_subprotocol == "graphql-transport-ws"
        socket.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {known_token}"}})
        assert socket.receive_json() == {"type": "connection_ack"}

        socket.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { count(to: 2) }"}})

        assert socket.receive_json() == {"id": "1", "type": "next", "payload": {"data": {"count": 1}}}
        assert socket.receive_json() == {"id": "1", "type": "next", "payload": {"data": {"count": 2}}}
        assert socket.receive_json() == {"id": "1", "type": "complete"}


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer stolen"}, {"Authorization": 42}])
def test_a_socket_without_a_valid_token_is_closed_as_forbidden(
    websocket_client: Any, known_token: str, payload: dict
) -> None:
    with websocket_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        socket.send_json({"type": "connection_init", "payload": payload})
        message = socket.receive()

    assert message == {"type": "websocket.close", "code": 4403, "reason": "Forbidden"}


def test_the_legacy_graphql_ws_protocol_is_refused(websocket_client: Any) -> None:
    with websocket_client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as socket:
        message = socket.receive()

    assert message == {"type": "websocket.close", "code": 4406, "reason": "Subprotocol not acceptable"}


async def test_the_lifespan_holds_the_clock_at_shebao_now(serve: Callable) -> None:
    try:
        async with serve(SHEBAO_NOW="2024-03-20T10:30:00"):
            now = clock.now()
    finally:
        clock.freeze(None)

    assert (now.date(), now.hour, now.minute) == (dt.date(2024, 3, 20), 10, 30)
    assert now.utcoffset() == dt.timedelta(hours=8)


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    """The embedded defaults, whatever DATABASE_URL and REDIS_URL the test run has."""
    return Settings(**{"database_url": f"sqlite://{tmp_path / 'hall.sqlite3'}", "redis_url": None, **overrides})


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What the command line did, in order: migrations applied and servers started."""
    calls: list[tuple[str, Any]] = []

    async def apply_migrations(settings: Settings) -> None:
        calls.append(("migrate", settings.database_url))

    monkeypatch.setattr(main, "apply_migrations", apply_migrations)
    monkeypatch.setattr(main.uvicorn, "run", lambda app, **options: calls.append(("uvicorn", (app, options))))
    return calls


def test_serve_migrates_the_embedded_database_then_starts_the_server(
    uvicorn_runs: list[tuple[str, Any]], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, host="0.0.0.0", port=8123)

    main.main(["serve", "--workers", "1"], settings)

    assert [call for call, _ in uvicorn_runs] == ["migrate", "uvicorn"]
    app, options = uvicorn_runs[1][1]
    assert app == "main:create_app"
    assert options["factory"] is True
    assert (options["host"], options["port"], options["workers"]) == ("0.0.0.0", 8123, 1)


def test_serve_leaves_postgres_migrations_to_the_migrate_command(uvicorn_runs: list[tuple[str, Any]]) -> None:
    main.main(["serve"], Settings(database_url="postgres://postgres@127.0.0.1:5432/test"))

    assert [call for call, _ in uvicorn_runs] == ["uvicorn"]


def test_export_schema_writes_the_sdl(
    monkeypatch: pytest.MonkeyPatch, sample_schema: strawberry.Schema, tmp_path: Path
) -> None:
    monkeypatch.setattr("schema.root.schema", sample_schema)
    output = tmp_path / "schema.graphql"

    main.main(["export-schema", "--output", str(output)], settings_for(tmp_path))

    assert output.read_text(encoding="utf-8") == sample_schema.as_str() + "\n"


def test_the_worker_needs_redis(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="REDIS_URL is not set"):
        main.main(["worker"], settings_for(tmp_path))
