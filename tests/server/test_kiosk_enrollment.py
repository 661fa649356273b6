"""A community kiosk enrolls a person over HTTP with a multipart photo upload (F1, F2)."""

from __future__ import annotations

import json

import pytest

import models
from domain.enums import PersonCategory, Role
from main import create_app
from resolvers.inputs import encode_id
from services import access
from settings import Settings
from tests import factories
from tests.server.conftest import running

pytestmark = pytest.mark.usefixtures("db")

ENROLL = """mutation ($input: EnrollFlexibleInput!) { enrollFlexible(input: $input) {
  policies { insuranceType startMonth } cardApplication { status visitDeadline }
  transaction { businessType channel } errors { field code message } } }"""


@pytest.fixture
async def kiosk(test_settings: Settings):
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="黄梅", male=False, category=PersonCategory.UNINSURED)
    await access.create_staff_account(Role.CLERK, "clerk.kiosk", "Counter2026", community=home)
    app = create_app(Settings(database_url=test_settings.database_url, graphiql=False, redis_url=None))
    async with running(app) as client:
        login = await client.post(
            "/graphql",
            json={
                "query": """mutation ($input: LoginInput!) { login(input: $input) { token } }""",
                "variables": {"input": {"username": "clerk.kiosk", "password": "Counter2026"}},
            },
        )
        token = login.json()["data"]["login"]["token"]
        yield client, {"Authorization": f"Bearer {token}", "GraphQL-Require-Preflight": "1"}, person


async def upload(client, headers, person, photo: bytes, key: str | None = None):
    operations = {
        "query": ENROLL,
        "variables": {
            "input": {
                "personId": encode_id("Person", person.id),
                "insuranceTypes": ["MEDICAL"],
                "photo": None,
                "idempotencyKey": key,
            }
        },
    }
    response = await client.post(
        "/graphql",
        headers=headers,
        files={"0": ("photo.jpg", photo, "image/jpeg")},
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.photo"]})},
    )
    assert response.status_code == 200
    return response.json()["data"]["enrollFlexible"]


async def test_the_kiosk_uploads_the_photo_and_the_application_is_opened(kiosk):
    client, headers, person = kiosk
    refused = await upload(client, headers, person, b"%PDF-1.7 not a photo")
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("photo", "INVALID_PHOTO")]
    assert not await models.Policy.exists(person_id=person.id)

    done = await upload(client, headers, person, factories.photo(), key="kiosk-3-0001")
    assert done == {
        "policies": [{"insuranceType": "MEDICAL", "startMonth": "2026-12"}],
        "cardApplication": {"status": "PHOTO_PENDING", "visitDeadline": "2026-11-20"},
        "transaction": {"businessType": "ENROLL_FLEXIBLE", "channel": "COUNTER"},
        "errors": [],
    }
    assert (
        await upload(client, headers, person, factories.photo(), key="kiosk-3-0001") == done
    )  # a flaky network's retry
    assert await models.MedicalCardApplication.filter(person_id=person.id).count() == 1
