"""updatePersonalInfo (F5) and A5: who may change what."""

from __future__ import annotations

import pytest

import models
from domain.enums import AuditOutcome, PersonCategory, Role
from resolvers.inputs import encode_id
from tests import factories
from tests.graphql_client import data, run

pytestmark = pytest.mark.usefixtures("db")

UPDATE = """mutation Update($input: UpdatePersonalInfoInput!) { updatePersonalInfo(input: $input) {
  person { name phone address community { name } district { code } }
  transaction { businessType channel } errors { field code } } }"""


@pytest.fixture
async def people():
    jiangan = await factories.district()
    home, other = await factories.community(jiangan, "百步亭社区"), await factories.community(jiangan, "大智社区")
    flexible = await factories.person(home, name="周敏")
    employed = await factories.person(home, name="吴刚", category=PersonCategory.EMPLOYED)
    return {"home": home, "other": other, "flexible": flexible, "employed": employed}


async def test_a_flexible_person_changes_phone_address_and_community(people):
    me = await factories.viewer(Role.PERSON, person=people["flexible"])
    wuchang = await factories.community(await factories.district("420106", "武昌区"), "中南社区")
    change = {
        "phone": "027-8888 6666",
        "address": "武昌区中南路 8 号",
        "communityId": encode_id("Community", wuchang.id),
    }
    result = (await data(UPDATE, viewer=me, input=change))["updatePersonalInfo"]
    assert result["errors"] == []
    assert result["person"] == {
        "name": "周敏",
        "phone": "027-8888 6666",
        "address": "武昌区中南路 8 号",
        "community": {"name": "中南社区"},
        "district": {"code": "420106"},
    }
    assert result["transaction"] == {"businessType": "UPDATE_PERSONAL_INFO", "channel": "ONLINE"}
    business = await models.BusinessTransaction.get()
    assert business.details["before"]["community_id"] == people["home"].id
    assert business.details["after"]["community_id"] == wuchang.id


async def test_a_person_insured_through_an_employer_may_only_read(people):
    """A5 is a business refusal, in the payload as a clerk gets it for the other businesses."""
    employee = await factories.viewer(Role.PERSON, person=people["employed"])
    body = await run(UPDATE, viewer=employee, input={"phone": "13900000000", "idempotencyKey": "phone-1"})
    assert "errors" not in body
    refused = body["data"]["updatePersonalInfo"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("personId", "INSURED_BY_EMPLOYER")]
    assert refused["person"] is None and refused["transaction"] is None
    assert (await models.Person.get(id=people["employed"].id)).phone is None
    assert await models.BusinessTransaction.all().count() == 0
    event = await models.AuditEvent.get(operation="updatePersonalInfo")
    assert event.outcome == AuditOutcome.ALLOWED and event.detail == "INSURED_BY_EMPLOYER"
    again = await run(UPDATE, viewer=employee, input={"phone": "13900000000", "idempotencyKey": "phone-1"})
    assert again == body


async def test_a_retired_person_may_only_read(people):
    retired = await factories.person(people["home"], name="老张", category=PersonCategory.RETIRED)
    refused = (
        await data(UPDATE, viewer=await factories.viewer(Role.PERSON, person=retired), input={"phone": "13900000000"})
    )["updatePersonalInfo"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("personId", "PERSON_RETIRED")]


async def test_a_clerk_acts_for_persons_of_their_community_only(people):
    clerk = await factories.viewer(Role.CLERK, community=people["home"])
    done = (
        await data(
            UPDATE, viewer=clerk, input={"personId": encode_id("Person", people["flexible"].id), "phone": "13912345678"}
        )
    )["updatePersonalInfo"]
    assert done["person"]["phone"] == "13912345678" and done["transaction"]["channel"] == "COUNTER"
    stranger = await factories.person(people["other"], name="郑")
    refused = (
        await data(UPDATE, viewer=clerk, input={"personId": encode_id("Person", stranger.id), "phone": "13912345678"})
    )["updatePersonalInfo"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("personId", "OUT_OF_SCOPE")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "call me"}, "phone"),
        ({"address": "路\x00"}, "address"),
        ({}, None),
        ({"communityId": encode_id("Community", 999999)}, "communityId"),
    ],
)
async def test_bad_changes_are_refused_and_nothing_changes(people, change, field):
    me = await factories.viewer(Role.PERSON, person=people["flexible"])
    result = (await data(UPDATE, viewer=me, input=change))["updatePersonalInfo"]
    assert [e["field"] for e in result["errors"]] == [field] and result["person"] is None
    assert await models.BusinessTransaction.all().count() == 0
