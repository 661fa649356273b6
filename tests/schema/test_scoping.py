"""Who sees what (A5, A6; docs/api.md 8): rows out of a viewer's scope read as if they did not exist."""

from __future__ import annotations

import pytest

import models
from domain.enums import EmploymentStatus, PersonCategory, Role
from resolvers.inputs import encode_id
from services.common.viewer import Viewer
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

PERSONS = "{ persons(first: 100) { edges { node { name idNumber } } } }"


@pytest.fixture
async def city():
    jiangan = await factories.district("420102", "江岸区")
    wuchang = await factories.district("420106", "武昌区")
    baibuting, dazhi = await factories.community(jiangan, "百步亭社区"), await factories.community(jiangan, "大智社区")
    zhongnan = await factories.community(wuchang, "中南社区")
    amei = await factories.person(baibuting, name="阿梅", category=PersonCategory.EMPLOYED, male=False)
    bo = await factories.person(dazhi, name="波")
    chen = await factories.person(zhongnan, name="陈", category=PersonCategory.EMPLOYED)
    logistics = await factories.employer(jiangan, "江城物流")
    other = await factories.employer(wuchang, "武昌电子")
    await models.Employment.create(person=amei, employer=logistics, start_month=202501, declared_wage="9000.00")
    await models.Employment.create(
        person=chen, employer=other, start_month=202501, declared_wage="7000.00", status=EmploymentStatus.ACTIVE
    )
    viewers = {
        "person": Viewer(1, "amei", Role.PERSON, person_id=amei.id, community_id=baibuting.id, district_id=jiangan.id),
        "agent": Viewer(2, "logistics", Role.EMPLOYER_AGENT, employer_id=logistics.id, district_id=jiangan.id),
        "clerk": Viewer(3, "clerk", Role.CLERK, community_id=dazhi.id, district_id=jiangan.id),
        "reviewer": Viewer(4, "reviewer", Role.REVIEWER, district_id=jiangan.id),
        "admin": Viewer(5, "admin", Role.ADMIN),
        "bank": Viewer(6, "bank", Role.BANK),
        "analyst": Viewer(7, "analyst", Role.ANALYST),
    }
    return {"viewers": viewers, "amei": amei, "bo": bo, "chen": chen, "logistics": logistics, "other": other}


def masked(number: str) -> str:
    return number[:6] + "********" + number[14:]


async def test_each_role_lists_only_its_persons_with_id_numbers_masked_but_for_its_own(city):
    amei, bo, chen, viewers = city["amei"], city["bo"], city["chen"], city["viewers"]

    async def listed(role):
        return [
            (e["node"]["name"], e["node"]["idNumber"])
            for e in (await data(PERSONS, viewer=viewers[role]))["persons"]["edges"]
        ]

    assert await listed("person") == [("阿梅", amei.id_number)]
    assert await listed("agent") == [("阿梅", masked(amei.id_number))]
    assert await listed("clerk") == [("波", bo.id_number)]
    assert await listed("reviewer") == [("阿梅", amei.id_number), ("波", bo.id_number)]
    assert await listed("admin") == [
        ("阿梅", masked(amei.id_number)),
        ("波", masked(bo.id_number)),
        ("陈", masked(chen.id_number)),
    ]


@pytest.mark.parametrize("role", ["bank", "analyst"])
async def test_roles_without_personal_reach_are_forbidden_persons(city, role):
    body = await run(PERSONS, viewer=city["viewers"][role])
    assert error_codes(body) == ["FORBIDDEN"] and body["data"] is None


async def test_an_anonymous_caller_must_sign_in_but_may_read_the_rules(city):
    assert error_codes(await run(PERSONS, viewer=None)) == ["UNAUTHENTICATED"]
    rules = await data("{ parameters(code: FLEX_PENSION_RATE) { edges { node { value } } } }", viewer=None)
    assert rules["parameters"]["edges"][0]["node"]["value"] == "0.2"


async def test_node_of_something_out_of_scope_reads_as_absent(city):
    query = "query($id: ID!) { node(id: $id) { ... on Person { name } ... on Employer { name } } }"
    person = city["viewers"]["person"]
    assert (await data(query, viewer=person, id=encode_id("Person", city["amei"].id)))["node"] == {"name": "阿梅"}
    assert (await data(query, viewer=person, id=encode_id("Person", city["chen"].id)))["node"] is None
    assert (await data(query, viewer=person, id=encode_id("Employer", city["other"].id)))["node"] is None
    reviewer = city["viewers"]["reviewer"]
    assert (await data(query, viewer=reviewer, id=encode_id("Person", city["chen"].id)))["node"] is None


async def test_a_person_reaching_their_employer_does_not_see_its_other_staff(city):
    await models.Employment.create(
        person=city["bo"], employer=city["logistics"], start_month=202502, declared_wage="8000.00"
    )
    query = """{ me { person { employments { edges { node { employer { name
      employees { totalCount edges { node { person { name } } } } } } } } } } }"""
    me = (await data(query, viewer=city["viewers"]["person"]))["me"]
    [employment] = me["person"]["employments"]["edges"]
    employees = employment["node"]["employer"]["employees"]
    assert employees["totalCount"] == 1 and employees["edges"][0]["node"]["person"]["name"] == "阿梅"
    agent = await data("{ me { employer { employees { totalCount } } } }", viewer=city["viewers"]["agent"])
    assert agent["me"]["employer"]["employees"]["totalCount"] == 2


async def test_me_says_who_the_viewer_is(city):
    me = (await data("{ me { username role person { name } district { name } } }", viewer=city["viewers"]["person"]))[
        "me"
    ]
    assert me == {"username": "amei", "role": "PERSON", "person": {"name": "阿梅"}, "district": {"name": "江岸区"}}


async def test_a_person_reads_their_passbook_movements_page_by_page(city):
    await factories.passbook(city["amei"], [("PSBC-A", "100.00"), ("PSBC-B", "50.00"), ("PSBC-C", "25.00")])
    query = "{ me { person { passbook { balance entries(last: 2) { edges { node { amount } } } } } } }"
    passbook = (await data(query, viewer=city["viewers"]["person"]))["me"]["person"]["passbook"]
    assert passbook == {
        "balance": "175.00",
        "entries": {"edges": [{"node": {"amount": "50.00"}}, {"node": {"amount": "25.00"}}]},
    }


async def test_a_reviewer_sees_the_staff_of_their_districts_employers_and_the_employers_of_their_residents(city):
    # 陈 lives in 武昌区 and works for 武昌电子; 阿梅 of 江岸区 also works there now
    await models.Employment.create(
        person=city["amei"], employer=city["other"], start_month=202601, declared_wage="9000.00"
    )
    reviewer = city["viewers"]["reviewer"]
    query = """{ persons(filter: {category: EMPLOYED}) { edges { node { name
      employments { edges { node { employer { name employees { totalCount } } } } } } } } }"""
    [amei] = (await data(query, viewer=reviewer))["persons"]["edges"]
    employers = {
        e["node"]["employer"]["name"]: e["node"]["employer"]["employees"]["totalCount"]
        for e in amei["node"]["employments"]["edges"]
    }
    assert employers == {"江城物流": 1, "武昌电子": 1}  # 武昌电子's other staff live elsewhere

    wuchang = Viewer(8, "wuchang", Role.REVIEWER, district_id=city["chen"].district_id)
    staff = await data("{ employers { edges { node { name employees { totalCount } } } } }", viewer=wuchang)
    assert {e["node"]["name"]: e["node"]["employees"]["totalCount"] for e in staff["employers"]["edges"]} == {
        "武昌电子": 2
    }


async def test_an_agent_sees_what_its_employer_pays_but_not_the_staffs_own_insurance_or_money(city):
    from domain.months import Month

    own = await factories.flexible_pension(city["amei"], Month(2024, 1))
    await factories.periods(own, Month(2024, 1), 3, "4800.00", "0.20", "960.00")
    await factories.passbook(city["amei"], [("PSBC-P", "100.00")])
    agent = city["viewers"]["agent"]
    person = (
        await data(
            """query($id: ID!) { node(id: $id) { ... on Person { name policies { totalCount }
      periods { totalCount } passbook { balance } } } }""",
            viewer=agent,
            id=encode_id("Person", city["amei"].id),
        )
    )["node"]
    assert person == {"name": "阿梅", "policies": {"totalCount": 0}, "periods": {"totalCount": 0}, "passbook": None}


@pytest.mark.parametrize("key", ["0001", "١٢", "²", "1.0", "-1"])
async def test_only_the_one_spelling_we_issue_is_an_id(city, key):
    from tests.graphql_client import ADMINISTRATOR

    body = await run("query($id: ID!) { node(id: $id) { id } }", viewer=ADMINISTRATOR, id=encode_id("Person", key))
    assert error_codes(body) == ["BAD_USER_INPUT"]
