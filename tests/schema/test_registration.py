"""registerPerson and registerEmployer: A1/A2 checks, scope, idempotency and the audit trail."""

from __future__ import annotations

import pytest

import models
from domain.enums import AuditOutcome, BusinessType, Role
from domain.identifiers import make_credit_code, make_resident_id
from resolvers.inputs import encode_id
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

REGISTER = """mutation Register($input: RegisterPersonInput!) { registerPerson(input: $input) {
  person { name idNumber gender birthDate category community { name } }
  transaction { businessType status channel }
  errors { field code message } } }"""


@pytest.fixture
async def office():
    jiangan = await factories.district()
    baibuting = await factories.community(jiangan)
    other = await factories.community(await factories.district("420106", "武昌区"), "中南社区")
    clerk = await factories.viewer(Role.CLERK, community=baibuting)
    return {"clerk": clerk, "community": baibuting, "other": other, "district": jiangan}


def person_input(office, number="420102199003071234", **changes):
    return {
        "idNumber": number,
        "name": "刘洋",
        "communityId": encode_id("Community", office["community"].id),
        "phone": "13800000000",
        **changes,
    }


async def test_a_clerk_registers_a_person_of_their_community(office):
    import datetime as dt

    number = make_resident_id("420102", dt.date(1990, 3, 7), 123).lower()
    result = (await data(REGISTER, viewer=office["clerk"], input=person_input(office, number)))["registerPerson"]
    assert result["errors"] == []
    assert result["person"] == {
        "name": "刘洋",
        "idNumber": number.upper(),
        "gender": "MALE",
        "birthDate": "1990-03-07",
        "category": "UNINSURED",
        "community": {"name": "百步亭社区"},
    }
    assert result["transaction"] == {"businessType": "REGISTER_PERSON", "status": "COMPLETED", "channel": "COUNTER"}
    event = await models.AuditEvent.get(operation="registerPerson")
    assert event.outcome == AuditOutcome.ALLOWED and event.account_id == office["clerk"].account_id
    assert event.input["input"]["id_number"] == number[:6] + "********" + number[14:]  # masked (docs/api.md 8)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("420102199003071239", "INVALID_ID_NUMBER"),
        ("42010219900230123X", "INVALID_ID_NUMBER"),
        ("420102203001012035", "INVALID_ID_NUMBER"),
    ],
)  # born in 2030
async def test_an_invalid_id_number_is_refused_and_nothing_is_stored(office, number, code):
    result = (await data(REGISTER, viewer=office["clerk"], input=person_input(office, number)))["registerPerson"]
    assert result["person"] is None and [(e["field"], e["code"]) for e in result["errors"]] == [("idNumber", code)]
    assert await models.Person.all().count() == 0
    assert await models.BusinessTransaction.all().count() == 0


async def test_twice_the_same_person_is_already_registered(office):
    import datetime as dt

    number = make_resident_id("420102", dt.date(1990, 3, 7), 125)
    await data(REGISTER, viewer=office["clerk"], input=person_input(office, number))
    again = (await data(REGISTER, viewer=office["clerk"], input=person_input(office, number)))["registerPerson"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_REGISTERED"]
    assert await models.Person.all().count() == 1


async def test_a_clerk_cannot_register_into_another_community(office):
    import datetime as dt

    number = make_resident_id("420106", dt.date(1990, 3, 7), 127)
    form = person_input(office, number, communityId=encode_id("Community", office["other"].id))
    result = (await data(REGISTER, viewer=office["clerk"], input=form))["registerPerson"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("communityId", "OUT_OF_SCOPE")]


async def test_a_retry_with_the_same_key_returns_the_first_result_and_changes_nothing(office):
    import datetime as dt

    number = make_resident_id("420102", dt.date(1991, 1, 1), 129)
    form = person_input(office, number, idempotencyKey="kiosk-7-0001")
    first = (await data(REGISTER, viewer=office["clerk"], input=form))["registerPerson"]
    retry = (await data(REGISTER, viewer=office["clerk"], input=form))["registerPerson"]
    assert retry == first and first["errors"] == []
    assert await models.Person.all().count() == 1
    assert await models.BusinessTransaction.filter(business_type=BusinessType.REGISTER_PERSON).count() == 1
    reused = (await data(REGISTER, viewer=office["clerk"], input={**form, "name": "刘海"}))["registerPerson"]
    assert [e["code"] for e in reused["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_phone_is_checked_as_updatePersonalInfo_checks_it(office):
    import datetime as dt

    number = make_resident_id("420102", dt.date(1993, 4, 5), 133)
    refused = await data(REGISTER, viewer=office["clerk"], input=person_input(office, number, phone="abc"))
    assert [(e["field"], e["code"]) for e in refused["registerPerson"]["errors"]] == [("phone", "INVALID_INPUT")]
    assert not await models.Person.exists(id_number=number)
    done = await data(REGISTER, viewer=office["clerk"], input=person_input(office, number, phone="027-82345678"))
    assert done["registerPerson"]["errors"] == []


async def test_a_refused_request_keeps_no_key_so_the_corrected_one_may_use_it(office):
    import datetime as dt

    number = make_resident_id("420102", dt.date(1992, 5, 6), 131)
    wrong = person_input(office, number, communityId=encode_id("Community", office["other"].id), idempotencyKey="k-9")
    refused = (await data(REGISTER, viewer=office["clerk"], input=wrong))["registerPerson"]
    assert [e["code"] for e in refused["errors"]] == ["OUT_OF_SCOPE"]
    assert await models.IdempotencyRecord.all().count() == 0  # docs/api.md 3: nothing happened, nothing kept

    corrected = person_input(office, number, idempotencyKey="k-9")
    done = (await data(REGISTER, viewer=office["clerk"], input=corrected))["registerPerson"]
    assert done["errors"] == [] and done["person"]["name"] == "刘洋"
    retry = (await data(REGISTER, viewer=office["clerk"], input=corrected))["registerPerson"]
    assert retry == done
    assert await models.Person.filter(id_number=number).count() == 1


async def test_a_refused_mutation_is_audited_and_changes_nothing(office):
    person_viewer = await factories.viewer(Role.PERSON, person=await factories.person(office["community"]))
    body = await run(REGISTER, viewer=person_viewer, input=person_input(office))
    assert error_codes(body) == ["FORBIDDEN"]
    anonymous = await run(REGISTER, viewer=None, input=person_input(office))
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    events = await models.AuditEvent.filter(operation="registerPerson").order_by("id")
    assert [(e.outcome, e.account_id) for e in events] == [
        (AuditOutcome.REFUSED, person_viewer.account_id),
        (AuditOutcome.REFUSED, None),
    ]
    assert await models.Person.all().count() == 1  # only the person the test made


async def test_a_reviewer_registers_an_employer_of_their_district(office):
    reviewer = await factories.viewer(Role.REVIEWER, district=office["district"])
    mutation = """mutation($input: RegisterEmployerInput!) { registerEmployer(input: $input) {
      employer { creditCode name district { name } } transaction { businessType } errors { field code } } }"""
    code = make_credit_code("91420102", "MA4KQ001")
    form = {
        "creditCode": code.lower(),
        "name": "江城物流有限公司",
        "districtId": encode_id("District", office["district"].id),
    }
    result = (await data(mutation, viewer=reviewer, input=form))["registerEmployer"]
    assert result["employer"] == {"creditCode": code, "name": "江城物流有限公司", "district": {"name": "江岸区"}}
    bad = await data(
        mutation, viewer=reviewer, input={**form, "creditCode": code[:-1] + ("0" if code[-1] != "0" else "1")}
    )
    assert [(e["field"], e["code"]) for e in bad["registerEmployer"]["errors"]] == [
        ("creditCode", "INVALID_CREDIT_CODE")
    ]


async def test_the_audit_trail_is_read_by_administrators_and_the_district_reviewer(office):
    import datetime as dt

    await data(
        REGISTER,
        viewer=office["clerk"],
        input=person_input(office, make_resident_id("420102", dt.date(1992, 2, 2), 131)),
    )
    await run(REGISTER, viewer=None, input=person_input(office))
    query = """query($filter: AuditFilter) { auditEvents(filter: $filter) { totalCount
      edges { node { operation outcome username role detail input } } } }"""
    admin = await factories.viewer(Role.ADMIN)
    trail = (await data(query, viewer=admin))["auditEvents"]
    assert [(e["node"]["outcome"], e["node"]["username"]) for e in trail["edges"]] == [
        ("REFUSED", None),
        ("ALLOWED", office["clerk"].username),
    ]
    assert trail["edges"][1]["node"]["input"]["input"]["name"] == "刘洋"
    refused = (await data(query, viewer=admin, filter={"outcome": "REFUSED"}))["auditEvents"]
    assert refused["totalCount"] == 1 and refused["edges"][0]["node"]["detail"] == "not signed in"

    own_reviewer = await factories.viewer(Role.REVIEWER, district=office["district"])
    other_reviewer = await factories.viewer(Role.REVIEWER, district=await factories.district("420106", "武昌区"))
    assert (await data(query, viewer=own_reviewer))["auditEvents"]["totalCount"] == 1  # the clerk's registration
    assert (await data(query, viewer=other_reviewer))["auditEvents"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("field", "value"), [("name", ""), ("name", "刘\x00洋"), ("name", "长" * 65), ("address", "解放\n大道")]
)
async def test_names_and_addresses_must_be_printable_and_short_enough(office, field, value):
    import datetime as dt

    form = person_input(office, make_resident_id("420102", dt.date(1993, 3, 3), 133), **{field: value})
    result = (await data(REGISTER, viewer=office["clerk"], input=form))["registerPerson"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, "INVALID_INPUT")]
    assert await models.Person.all().count() == 0
