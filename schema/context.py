"""The per-request context: request id, the signed-in viewer, DataLoaders built fresh for the
graph's entities."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
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
    # How the authorization signs in: on a WebSocket, at connection_init and again later (A8).
    authenticate: Callable[[str | None], Awaitable[Viewer | None]] = field(default=viewer_of, repr=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(NODE_KINDS, self.viewer)

    def sign_in(self, viewer: Viewer | None) -> None:
        self.viewer = viewer
        self.loaders = Loaders(NODE_KINDS, viewer)

    def load_afresh(self) -> None:
        """New loaders: a subscription's next message reads what holds now, not what an earlier
        message loaded."""
        self.loaders = Loaders(NODE_KINDS, self.viewer)

    async def sign_in_again(self) -> None:
        """Sign in with the authorization once more (a WebSocket's, before each operation)."""
        self.sign_in(await self._session_viewer())

    async def still_signed_in(self) -> bool:
        """Whether the session still signs in, asked of the session store (A8); a WebSocket asks
        before each message it sends."""
        if self.viewer is not None and await self._session_viewer() is None:
            self.sign_in(None)
        return self.viewer is not None

    async def _session_viewer(self) -> Viewer | None:
        authorization = self.authorization
        viewer = await self.authenticate(authorization)
        if authorization is not self.authorization:
            return None  # its session ended while we asked (end_session)
        return viewer

    def end_session(self) -> None:
        """Its session has ended (a notice said so): signed out at once and for good."""
        self.authorization = None
        self.sign_in(None)


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
