"""A frontend on another origin calls the API when its origin is listed (docs/api.md 10)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from starlette.applications import Starlette

FRONTEND = "http://localhost:5173"
PREFLIGHT = {
    "Origin": FRONTEND,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, accept-language",
}


def client_of(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hall")


async def test_a_listed_origin_gets_its_preflight_and_its_post_answered(make_app: Callable[..., Starlette]) -> None:
    async with client_of(make_app(cors_origins=[FRONTEND])) as client:
        preflight = await client.options("/graphql", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == FRONTEND
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "accept-language"} <= set(allowed.replace(" ", "").split(","))

        post = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": FRONTEND})
        assert post.status_code == 200
        assert post.json() == {"data": {"__typename": "Query"}}
        assert post.headers["access-control-allow-origin"] == FRONTEND
        exposed = post.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed


async def test_an_origin_not_listed_is_refused_at_the_preflight(make_app: Callable[..., Starlette]) -> None:
    async with client_of(make_app(cors_origins=[FRONTEND])) as client:
        preflight = await client.options("/graphql", headers={**PREFLIGHT, "Origin": "http://evil.example"})
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        post = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "http://evil.example"}
        )
        assert "access-control-allow-origin" not in post.headers  # the browser keeps the answer from the page


async def test_with_no_list_only_the_same_origin_is_admitted(make_app: Callable[..., Starlette]) -> None:
    async with client_of(make_app()) as client:
        preflight = await client.options("/graphql", headers=PREFLIGHT)
        assert preflight.status_code >= 400
        assert not any(name.startswith("access-control-") for name in preflight.headers)
