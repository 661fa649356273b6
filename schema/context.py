"""The per-request context: request id, the signed-in viewer, DataLoaders built fresh for the
graph's entities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from resolvers.loaders import Loaders
from resolvers.viewer import client_address, viewer_of
from schema.nodes import NODE_KINDS
from services.common.viewer import Viewer
from settings import get_settings


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
        self.loaders = Loaders(NODE_KINDS, self.viewer)

    def sign_in(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        self.loaders = Loaders(NODE_KINDS, viewer)


async def make_context(request: Any, response: Any, request_id: str) -> Context:
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", {})
    return Context(
        request=request,
        response=response,
        request_id=request_id,
        viewer=await viewer_of(headers.get("authorization")),
        client_address=client_address(
            client.host if client else None, headers.get("x-forwarded-for"), get_settings().trusted_proxies
        ),
    )
