"""The per-request context: request id, the signed-in viewer, DataLoaders built fresh."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from resolvers.loaders import Loaders
from services.access import authenticate
from services.common.viewer import Viewer
from settings import get_settings

BEARER = "bearer "
MAX_TOKEN_LENGTH = 256


@dataclass
class Context:
    request: Any = None
    response: Any = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    viewer: Viewer | None = None  # None: anonymous
    client_address: str | None = None
    connection_params: dict[str, Any] | None = None
    authorization: str | None = None  # on a WebSocket, checked again before each operation
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.viewer)

    def sign_in(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        self.loaders = Loaders(viewer)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent or malformed."""
    if not authorization or not authorization[: len(BEARER)].lower() == BEARER:
        return None
    token = authorization[len(BEARER):].strip()
    return token if 0 < len(token) <= MAX_TOKEN_LENGTH else None


async def viewer_of(authorization: str | None) -> Viewer | None:
    token = bearer_token(authorization)
    return None if token is None else await authenticate(token)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: list[str]) -> str | None:
    """The client's address: behind our own proxies, the nearest address they were not given by
    another of our proxies (X-Forwarded-For lists the hops, the nearest last)."""
    address = peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    while address in trusted_proxies and hops:
        address = hops.pop()
    return address


async def make_context(request: Any, response: Any, request_id: str) -> Context:
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", {})
    return Context(
        request=request, response=response, request_id=request_id,
        viewer=await viewer_of(headers.get("authorization")),
        client_address=client_address(client.host if client else None, headers.get("x-forwarded-for"),
                                      get_settings().trusted_proxies),
    )
