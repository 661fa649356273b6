"""Multipart uploads (GraphQL multipart request spec): CSRF guard and body size limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
from starlette.applications import Starlette

UPLOAD = {"query": "mutation ($file: Upload!) { upload(file: $file) }", "variables": {"file": None}}
PREFLIGHT = {"GraphQL-Require-Preflight": "1"}


def upload_request(client: httpx.AsyncClient, payload: bytes, headers: dict[str, str]) -> httpx.Request:
    return client.build_request(
        "POST",
        "/graphql",
        data={"operations": json.dumps(UPLOAD), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("photo.jpg", payload, "image/jpeg")},
        headers=headers,
    )


async def test_an_upload_with_a_preflight_header_is_received(client: httpx.AsyncClient) -> None:
    response = await client.send(upload_request(client, b"x" * 2048, PREFLIGHT))

    assert response.status_code == 200
    assert response.json() == {"data": {"upload": 2048}}


async def test_apollo_preflight_headers_are_accepted_too(client: httpx.AsyncClient) -> None:
    for header in ("Apollo-Require-Preflight", "X-Apollo-Operation-Name"):
        response = await client.send(upload_request(client, b"photo", {header: "UploadPhoto"}))

        assert response.status_code == 200


async def test_an_upload_without_a_preflight_header_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.send(upload_request(client, b"photo", {}))

    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "GraphQL-Require-Preflight" in message
    assert "cross-site request forgery" in message


async def test_a_body_declared_too_large_is_413(make_app: Callable[..., Starlette]) -> None:
    transport = httpx.ASGITransport(app=make_app(max_upload_bytes=1000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        response = await client.send(upload_request(client, b"x" * 5000, PREFLIGHT))

    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == "The request body exceeds the limit of 1000 bytes."


async def test_a_streamed_body_is_stopped_at_the_limit(make_app: Callable[..., Starlette]) -> None:
    transport = httpx.ASGITransport(app=make_app(max_upload_bytes=1000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        request = upload_request(client, b"x" * 5000, PREFLIGHT)
        body = request.read()
        sent: list[int] = []

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 256):
                sent.append(start)
                yield body[start : start + 256]

        headers = {"Content-Type": request.headers["Content-Type"], **PREFLIGHT}
        response = await client.post("/graphql", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert 1000 < len(sent) * 256 < len(body)  # read up to the limit, refused before the end
