"""A WebSocket signs in once; its session is checked again before each operation (A4, A6)."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocket

from domain.enums import Role
from resolvers.viewer import viewer_of
from schema.context import Context
from schema.root import schema
from services import access
from tests import factories

pytestmark = pytest.mark.usefixtures("db")


async def test_an_open_socket_stops_answering_once_its_session_is_logged_out():
    await factories.community(await factories.district())
    await access.create_staff_account(Role.ADMIN, "admin.socket", "Socket2026")
    authorization = f"Bearer {(await access.login('admin.socket', 'Socket2026', None, '127.0.0.1')).token}"
    socket = WebSocket({"type": "websocket", "path": "/graphql", "headers": []}, receive=None, send=None)
    context = Context(request=socket, viewer=await viewer_of(authorization), authorization=authorization)

    before = await schema.execute("{ me { username } }", context_value=context)
    assert before.data == {"me": {"username": "admin.socket"}}
    await access.logout(context.viewer)
    after = await schema.execute("{ me { username } }", context_value=context)
    assert after.data is None and after.errors[0].extensions["code"] == "UNAUTHENTICATED"
