"""A WebSocket signs in once; its session is checked again before each operation and each message
sent, and a socket closes as soon as its session ends (A4, A6, A8)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import socket as socket_module
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import models
from domain.enums import Role
from main import create_app
from resolvers.inputs import encode_id
from resolvers.viewer import viewer_of
from schema import subscription
from schema.context import Context
from schema.root import schema
from services import access
from services.access import secrets as access_secrets
from services.common import clock
from settings import Settings
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


# --- over a real socket: a socket lives no longer than its session (A8) --------------------------

UPDATES = "subscription { transactionUpdates { businessType person { idNumber phone passbook { balance } } } }"
CHANGE = "mutation($input: UpdatePersonalInfoInput!) { updatePersonalInfo(input: $input) { errors { code } } }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { token errors { code } } }"
LOGOUT = "mutation { logout { errors { code } } }"
CHANGE_PASSWORD = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { errors { code } } }"
REVOKE_CERTIFICATE = (
    "mutation($input: RevokeCertificateInput!) { revokeCertificate(input: $input) { errors { code } } }"
)
WITHIN = 1.0  # A8's "at once": every socket of an ended session is closed within a second
PATIENCE = 10.0  # bounded waits for what is not timed
PASSWORD = "Counter2026"


@dataclass
class Hall:
    """A served app, a clerk of the community and one of its persons with online access."""

    http: httpx.AsyncClient
    url: str
    person: models.Person
    grant: access.Grant
    device_credential: str

    async def graphql(self, query: str, token: str | None = None, **variables: Any) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def sign_in(self, username: str, password: str, device_credential: str | None = None) -> str:
        login = (
            await self.graphql(
                LOGIN, input={"username": username, "password": password, "deviceCredential": device_credential}
            )
        )["login"]
        assert login["errors"] == [], login
        return login["token"]

    async def person_signs_in(self, device_credential: str | None = None) -> str:
        return await self.sign_in(
            self.grant.username, self.grant.initial_password, device_credential or self.device_credential
        )

    async def clerk_changes(self, **change: str) -> None:
        token = await self.sign_in("clerk.socket", PASSWORD)
        input = {"personId": encode_id("Person", self.person.id), **change}
        assert (await self.graphql(CHANGE, token, input=input))["updatePersonalInfo"]["errors"] == []


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a port of its own, in this event loop, its lifespan in a
    context of its own (as tests.server.conftest.running); yields host:port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(), context=contextvars.Context())
    async with asyncio.timeout(PATIENCE):
        while not server.started:
            if task.done():
                task.result()  # raises what failed the start-up
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quick password hashes, and subscriptions polling often: neither is what is tested."""
    monkeypatch.setattr(access_secrets, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(subscription, "POLL_SECONDS", 0.05)


async def person_with_access() -> tuple[models.Person, access.Grant, str]:
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="孙丽", male=False)
    await factories.passbook(person, [("B20261101", "1200.00")])
    clerk = await access.create_staff_account(Role.CLERK, "clerk.socket", PASSWORD, community=home)
    grant = await access.grant_online_access(clerk, person=person, place="百步亭社区服务站")
    device = await access.install_certificate(
        grant.username, grant.initial_password, grant.certificate_password, "手机", None
    )
    return person, grant, device.device_credential


@pytest.fixture
async def hall(test_settings: Settings, quick: None) -> AsyncIterator[Hall]:
    person, grant, device_credential = await person_with_access()
    app = create_app(Settings(database_url=test_settings.database_url, graphiql=False, redis_url=None))
    async with served(app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        yield Hall(http, f"ws://{address}/graphql", person, grant, device_credential)


@contextlib.asynccontextmanager
async def signed_in(url: str, token: str) -> AsyncIterator[ClientConnection]:
    """A socket signed in with ``token`` (graphql-transport-ws)."""
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=PATIENCE) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(socket.recv(), PATIENCE)) == {"type": "connection_ack"}
        yield socket


@contextlib.asynccontextmanager
async def following(url: str, token: str) -> AsyncIterator[ClientConnection]:
    """A socket signed in with ``token``, subscribed to transactionUpdates."""
    async with signed_in(url, token) as socket:
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}))
        yield socket


async def next_update(socket: ClientConnection) -> dict:
    message = json.loads(await asyncio.wait_for(socket.recv(), PATIENCE))
    assert message["type"] == "next", message
    return message["payload"]["data"]["transactionUpdates"]


async def updates_until(socket: ClientConnection, business_type: str) -> list[dict]:
    """The updates a socket hears, up to the first of ``business_type``."""
    heard = [await next_update(socket)]
    while heard[-1]["businessType"] != business_type:
        heard.append(await next_update(socket))
    return heard


async def until_closed(socket: ClientConnection, within: float) -> tuple[list[dict], int | None, str | None]:
    """What the socket receives until it is closed, and the code and reason it is closed with;
    fails unless it is closed within ``within`` seconds."""
    received = []
    try:
        async with asyncio.timeout(within):
            with contextlib.suppress(ConnectionClosed):
                while True:
                    received.append(json.loads(await socket.recv()))
    except TimeoutError:
        pytest.fail(f"still open after {within:.2f} s, having received {received}")
    return received, socket.close_code, socket.close_reason


async def test_the_probe_a_logout_closes_the_open_socket_at_once_and_it_hears_nothing_more(hall: Hall):
    token = await hall.person_signs_in()
    async with following(hall.url, token) as socket:
        await hall.clerk_changes(address="江岸区百步亭花园路1号")
        seen = await next_update(socket)  # what an open socket hears: the person's details
        assert seen == {
            "businessType": "UPDATE_PERSONAL_INFO",
            "person": {"idNumber": hall.person.id_number, "phone": None, "passbook": {"balance": "1200.00"}},
        }

        await log_out(hall, token)
        logged_out = time.monotonic()
        await hall.clerk_changes(phone="027-82345678")
        received, code, reason = await until_closed(socket, WITHIN - (time.monotonic() - logged_out))

    assert (received, code, reason) == ([], 4401, "Session ended")


async def log_out(hall: Hall, ended: str, kept: str | None = None) -> None:
    assert (await hall.graphql(LOGOUT, ended))["logout"]["errors"] == []


async def change_password(hall: Hall, ended: str, kept: str) -> None:
    input = {"oldPassword": hall.grant.initial_password, "newPassword": "NewPass2026"}
    assert (await hall.graphql(CHANGE_PASSWORD, kept, input=input))["changePassword"]["errors"] == []


async def revoke_certificate(hall: Hall, ended: str, kept: str) -> None:
    mine = await hall.graphql("{ me { certificates { id deviceName } } }", kept)
    [certificate] = [c["id"] for c in mine["me"]["certificates"] if c["deviceName"] == "手机"]
    payload = await hall.graphql(REVOKE_CERTIFICATE, kept, input={"certificateId": certificate})
    assert payload["revokeCertificate"]["errors"] == []


@pytest.mark.parametrize("end_session", [log_out, change_password, revoke_certificate])
async def test_ending_a_session_closes_its_sockets_within_a_second_even_idle_ones(hall: Hall, end_session):
    """Sockets with nothing to send: only the notice of the ended session can close them."""
    tablet = await access.install_certificate(
        hall.grant.username, hall.grant.initial_password, hall.grant.certificate_password, "平板", None
    )
    ended, kept = await hall.person_signs_in(), await hall.person_signs_in(tablet.device_credential)
    async with signed_in(hall.url, ended) as closing, signed_in(hall.url, kept) as staying:
        await end_session(hall, ended, kept)
        received, code, reason = await until_closed(closing, WITHIN)
        assert (received, code, reason) == ([], 4401, "Session ended")

        await staying.send(json.dumps({"type": "ping"}))  # the other session's socket stays open
        assert json.loads(await asyncio.wait_for(staying.recv(), PATIENCE)) == {"type": "pong"}


async def test_a_password_change_closes_the_sockets_of_the_other_sessions_and_keeps_its_own(hall: Hall):
    elsewhere, here = await hall.person_signs_in(), await hall.person_signs_in()
    async with following(hall.url, elsewhere) as other, following(hall.url, here) as own:
        await hall.clerk_changes(address="江岸区百步亭花园路1号")
        await next_update(other), await next_update(own)

        await change_password(hall, elsewhere, here)
        changed = time.monotonic()
        await hall.clerk_changes(phone="027-82345678")
        received, code, _ = await until_closed(other, WITHIN - (time.monotonic() - changed))
        assert (received, code) == ([], 4401)

        # This session stays signed in, and hears of its password change, then of the new phone.
        heard = await updates_until(own, "UPDATE_PERSONAL_INFO")
        assert [update["businessType"] for update in heard] == ["CHANGE_PASSWORD", "UPDATE_PERSONAL_INFO"]
        assert heard[-1]["person"]["phone"] == "027-82345678"


async def test_revoking_a_certificate_closes_the_sockets_of_its_sessions(hall: Hall):
    tablet = await access.install_certificate(
        hall.grant.username, hall.grant.initial_password, hall.grant.certificate_password, "平板", None
    )
    on_phone, on_tablet = await hall.person_signs_in(), await hall.person_signs_in(tablet.device_credential)
    async with following(hall.url, on_phone) as phone, following(hall.url, on_tablet) as kept:
        await hall.clerk_changes(address="江岸区百步亭花园路1号")
        await next_update(phone), await next_update(kept)

        await revoke_certificate(hall, on_phone, on_tablet)
        revoked = time.monotonic()
        await hall.clerk_changes(phone="027-82345678")
        received, code, _ = await until_closed(phone, WITHIN - (time.monotonic() - revoked))
        assert (received, code) == ([], 4401)

        heard = await updates_until(kept, "UPDATE_PERSONAL_INFO")
        assert [update["businessType"] for update in heard] == ["REVOKE_CERTIFICATE", "UPDATE_PERSONAL_INFO"]
        assert heard[-1]["person"]["phone"] == "027-82345678"


async def test_without_a_notice_the_socket_finds_its_session_ended_before_it_sends(hall: Hall):
    """A notice lost (or a session ended some other way): the socket asks the session store
    before it sends, and closes instead."""
    token = await hall.person_signs_in()
    async with following(hall.url, token) as socket:
        await hall.clerk_changes(address="江岸区百步亭花园路1号")
        await next_update(socket)

        await models.AccountSession.filter(account_id=hall.grant.account.id).update(ended_at=clock.now())
        await hall.clerk_changes(phone="027-82345678")
        received, code, reason = await until_closed(socket, PATIENCE)

    assert (received, code, reason) == ([], 4401, "Session ended")


# --- across server processes: PostgreSQL and Redis, as in production ------------------------------

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket_module.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def server_processes(settings: Settings, count: int, logs: Path) -> AsyncIterator[list[str]]:
    """``count`` processes of ``main.py serve`` on the database and Redis of ``settings``, the
    clock held at the test's; yields their host:port once each answers (its notices are
    subscribed by then: the lifespan waits for it)."""
    ports = [free_port() for _ in range(count)]
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "JOB_QUEUE_NAME": settings.job_queue_name,
        "SHEBAO_NOW": clock.now().isoformat(),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "main.py", "serve"],
            cwd=ROOT,
            env={**environment, "PORT": str(port)},
            stdout=(logs / f"server-{port}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        async with httpx.AsyncClient() as http, asyncio.timeout(30):
            for process, port in zip(processes, ports):
                while True:
                    assert process.poll() is None, (logs / f"server-{port}.log").read_text()
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
        yield [f"127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=PATIENCE)


@pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
    reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)",
)
async def test_a_logout_through_one_server_process_closes_the_sockets_held_by_another(
    test_settings: Settings, quick: None, tmp_path: Path
):
    person, grant, device_credential = await person_with_access()
    deployment = Settings(
        database_url=test_settings.database_url,
        redis_url=os.environ["REDIS_URL"],
        job_queue_name=f"shebao:test:{uuid.uuid4().hex}",  # its notices' channels too: ours alone
    )
    async with (
        server_processes(deployment, 2, tmp_path) as (one, other),
        httpx.AsyncClient(base_url=f"http://{one}") as http,
    ):
        hall = Hall(http, f"ws://{other}/graphql", person, grant, device_credential)
        token = await hall.person_signs_in()
        async with following(hall.url, token) as subscribed, signed_in(hall.url, token) as idle:
            await hall.clerk_changes(address="江岸区百步亭花园路1号")
            assert (await next_update(subscribed))["person"]["idNumber"] == person.id_number

            await log_out(hall, token)
            logged_out = time.monotonic()
            await hall.clerk_changes(phone="027-82345678")
            for socket in (subscribed, idle):
                received, code, reason = await until_closed(socket, WITHIN - (time.monotonic() - logged_out))
                assert (received, code, reason) == ([], 4401, "Session ended")
