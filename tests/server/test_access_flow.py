"""Online access end to end over HTTP (A3, A4): grant at the counter, install, sign in, read, sign out."""

from __future__ import annotations

import pytest

import models
from domain.enums import Role
from main import create_app
from resolvers.inputs import encode_id
from services import access
from settings import Settings
from tests import factories
from tests.server.conftest import running

pytestmark = pytest.mark.usefixtures("db")


async def graphql(client, query: str, token: str | None = None, **variables):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return response.json()


@pytest.fixture
async def hall(test_settings: Settings):
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="孙丽", male=False)
    await access.create_staff_account(Role.CLERK, "clerk.baibuting", "Counter2026", community=home)
    app = create_app(Settings(database_url=test_settings.database_url, graphiql=False, redis_url=None))
    async with running(app) as client:
        yield client, person


async def sign_in(client, username, password, device_credential=None):
    body = await graphql(
        client,
        """mutation($input: LoginInput!) { login(input: $input) { token errors { code } } }""",
        input={"username": username, "password": password, "deviceCredential": device_credential},
    )
    return body["data"]["login"]


async def test_a_person_gets_access_installs_a_certificate_signs_in_and_reads_only_themself(hall):
    client, person = hall
    clerk_token = (await sign_in(client, "clerk.baibuting", "Counter2026"))["token"]
    granted = (
        await graphql(
            client,
            """mutation($input: GrantOnlineAccessInput!) { grantOnlineAccess(input: $input) {
        username initialPassword certificatePassword transaction { businessType } errors { code } } }""",
            clerk_token,
            input={"personId": encode_id("Person", person.id), "place": "百步亭社区服务站"},
        )
    )["data"]["grantOnlineAccess"]
    assert granted["errors"] == [] and granted["transaction"] == {"businessType": "GRANT_ONLINE_ACCESS"}

    without_certificate = await sign_in(client, granted["username"], granted["initialPassword"])
    assert without_certificate == {"token": None, "errors": [{"code": "CERTIFICATE_REQUIRED"}]}

    installed = (
        await graphql(
            client,
            """mutation($input: InstallCertificateInput!) { installCertificate(input: $input) {
        deviceCredential certificate { deviceName } errors { code } } }""",
            input={
                "username": granted["username"],
                "password": granted["initialPassword"],
                "certificatePassword": granted["certificatePassword"],
                "deviceName": "家里的电脑",
            },
        )
    )["data"]["installCertificate"]
    assert installed["errors"] == [] and installed["certificate"] == {"deviceName": "家里的电脑"}

    token = (await sign_in(client, granted["username"], granted["initialPassword"], installed["deviceCredential"]))[
        "token"
    ]
    me = (
        await graphql(client, "{ me { role person { name idNumber } certificates { deviceName revokedAt } } }", token)
    )["data"]["me"]
    assert me == {
        "role": "PERSON",
        "person": {"name": "孙丽", "idNumber": person.id_number},
        "certificates": [{"deviceName": "家里的电脑", "revokedAt": None}],
    }
    others = await graphql(client, "{ persons { totalCount } }", token)
    assert others["data"]["persons"]["totalCount"] == 1

    assert (await graphql(client, "mutation { logout { errors { code } } }", token))["data"]["logout"]["errors"] == []
    after = await graphql(client, "{ me { role } }", token)
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_failed_logins_say_nothing_about_the_username_and_log_no_secret(hall, caplog):
    client, _ = hall
    unknown = await sign_in(client, "nobody.here", "Wrong2026")
    wrong = await sign_in(client, "clerk.baibuting", "Wrong2026")
    assert unknown == wrong == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}
    event = await models.AuditEvent.filter(operation="login").order_by("-id").first()
    assert event.input["input"]["password"] == "[removed]"
    assert "Wrong2026" not in caplog.text


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer " + "x" * 300, "Basic abc", "Bearer"])
async def test_a_bad_or_tampered_token_is_unauthenticated(hall, authorization):
    client, _ = hall
    response = await client.post(
        "/graphql", json={"query": "{ me { role } }"}, headers={"Authorization": authorization}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_megabyte_password_is_refused_and_never_stored(hall):
    client, _ = hall
    result = await sign_in(client, "clerk.baibuting", "p" * 1_000_000)
    assert result["token"] is None and result["errors"][0]["code"] == "PASSWORD_TOO_LONG"
    event = await models.AuditEvent.filter(operation="login").order_by("-id").first()
    assert event.input["input"]["password"] == "[removed]"


async def test_an_odd_username_gets_a_clear_error(hall):
    client, _ = hall
    body = await graphql(
        client,
        """mutation($input: LoginInput!) { login(input: $input) { errors { field code message } } }""",
        input={"username": "管理员\x00; DROP", "password": "Whatever2026"},
    )
    [error] = body["data"]["login"]["errors"]
    assert (error["field"], error["code"]) == ("username", "INVALID_USERNAME")
    assert "\x00" not in error["message"] and "DROP" not in error["message"]
