"""Wherever a viewer reads an ID number masked, nothing else gives back what the mask hides
(docs/api.md 8, A6): the ID number holds the birth date (A1), and the retirement month follows it (Q3).

Every field of a Person, as the schema lists it, is read by every role, so that a field added later
is read here too without anyone listing it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_named_type,
    introspection_from_schema,
    is_leaf_type,
    is_required_argument,
    parse,
)

import models
from domain.enums import ArrearStatus, EmploymentStatus, PeriodStatus, RetirementClass, Role
from domain.identifiers import make_resident_id
from domain.months import Month
from resolvers.inputs import encode_id
from schema import root
from schema.limits import operation_cost
from settings import get_settings
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

BIRTH = dt.date(1996, 9, 14)
ARCHIVE_BIRTH = dt.date(1996, 3, 2)
NESTED_PAGE = 3


@cache
def _graph() -> GraphQLSchema:
    return build_client_schema(introspection_from_schema(root.schema._schema))


def _is_connection(named: GraphQLNamedType) -> bool:
    return isinstance(named, GraphQLObjectType) and {"edges", "pageInfo"} <= named.fields.keys()


def _is_entity(named: GraphQLNamedType) -> bool:
    return isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)) and any(
        interface.name == "Node" for interface in named.interfaces
    )


def _fields(named: GraphQLNamedType, within: frozenset[str], expand: bool) -> list[str]:
    """Every field of ``named`` without required arguments: its leaves; a connection's nodes, an
    object's fields (entities below the first level with their leaves and plain objects only)."""
    if isinstance(named, GraphQLUnionType):
        return ["__typename"]
    selections = []
    for name, field in named.fields.items():
        if any(is_required_argument(argument) for argument in field.args.values()):
            continue
        target = get_named_type(field.type)
        if is_leaf_type(target):
            selections.append(name)
        elif _is_connection(target):
            node = get_named_type(get_named_type(target.fields["edges"].type).fields["node"].type)
            if expand and node.name not in within:
                inner = " ".join(_fields(node, within | {named.name}, expand=False))
                selections.append(
                    f"{name}(first: {NESTED_PAGE}) {{ totalCount edges {{ cursor node {{ {inner} }} }} }}"
                )
        elif target.name not in within and (expand or not _is_entity(target)):
            inner = _fields(target, within | {named.name}, expand=expand and not _is_entity(target))
            selections.append(f"{name} {{ {' '.join(inner or ['__typename'])} }}")
    return selections


@cache
def every_person_field() -> str:
    person = " ".join(_fields(_graph().get_type("Person"), frozenset(), expand=True))
    text = f"query EveryPersonField {{ persons(first: 5) {{ edges {{ node {{ {person} }} }} }} }}"
    settings = get_settings()
    assert operation_cost(_graph(), parse(text), None, None) <= settings.max_query_cost
    return text


def test_the_generated_query_reads_every_field_of_a_person() -> None:
    asked = {field.name.value for field in _person_selection(every_person_field())}
    assert asked == set(_graph().get_type("Person").fields)
    assert "contributionRecord { retirement { birthDate age { years months } month }" in every_person_field()


def _person_selection(text: str) -> Any:
    (persons,) = parse(text).definitions[0].selection_set.selections
    (edges,) = persons.selection_set.selections
    (node,) = edges.selection_set.selections
    return node.selection_set.selections


def _spellings(day: dt.date) -> set[str]:
    return {
        f"{day:%Y%m%d}",
        f"{day:%Y-%m-%d}",
        f"{day:%Y/%m/%d}",
        f"{day:%Y.%m.%d}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day:%d/%m/%Y}",
        f"{day:%m/%d/%Y}",
    }


def _values(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of every value in a result, nested ones included."""
    yield key, value
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            yield from _values(inner, inner_key)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item, key)


def _texts(value: Any) -> list[str]:
    return [str(leaf) for _, leaf in _values(value) if isinstance(leaf, (str, int)) and not isinstance(leaf, bool)]


@pytest.fixture
async def city():
    """A person of 江岸区 born 1996-09-14 (archive: 1996-03-02), paying flexible pension, employed
    by an employer of 武昌区, and a viewer of every role."""
    await factories.average_wage(2026, "8000.00")
    jiangan = await factories.district("420102", "江岸区")
    wuchang = await factories.district("420106", "武昌区")
    home, elsewhere = await factories.community(jiangan), await factories.community(wuchang, "中南社区")
    owner = await factories.person(home, name="王芳", birth=BIRTH, male=False)
    owner.archive_birth_date = ARCHIVE_BIRTH
    owner.retirement_class = RetirementClass.CADRE
    await owner.save()
    pension = await factories.flexible_pension(owner, Month(2026, 1))
    unpaid = await factories.periods(pension, Month(2026, 1), 3, "8000.00", "0.20", "1600.00", PeriodStatus.ARREARS)
    await factories.arrears(unpaid, ArrearStatus.OPEN)
    await factories.passbook(owner, [("PSBC-1", "100.00")])
    employer = await factories.employer(wuchang)
    await models.Employment.create(
        person=owner, employer=employer, start_month=202601, declared_wage="9000.00", status=EmploymentStatus.ACTIVE
    )
    viewers = {
        "the person": await factories.viewer(Role.PERSON, person=owner),
        "their clerk": await factories.viewer(Role.CLERK, community=home),
        "their district's reviewer": await factories.viewer(Role.REVIEWER, district=jiangan),
        "another community's clerk": await factories.viewer(Role.CLERK, community=elsewhere),
        "the employer's district's reviewer": await factories.viewer(Role.REVIEWER, district=wuchang),
        "the employer's agent": await factories.viewer(Role.EMPLOYER_AGENT, employer=employer),
        "an administrator": await factories.viewer(Role.ADMIN),
        "the bank": await factories.viewer(Role.BANK),
        "an analyst": await factories.viewer(Role.ANALYST),
    }
    return owner, viewers


WHOLE = ("the person", "their clerk", "their district's reviewer")
MASKED = ("the employer's district's reviewer", "the employer's agent", "an administrator")
NOT_REACHED = ("another community's clerk", "the bank", "an analyst")


async def test_every_role_reads_every_field_of_a_person_and_no_masked_one_gets_the_birth_date(city) -> None:
    owner, viewers = city
    query = every_person_field()
    whole = await data(query, viewers["the person"])
    [mine] = [edge["node"] for edge in whole["persons"]["edges"]]
    retirement = mine["contributionRecord"]["retirement"]
    # The scan below would find them: the person reads all of it.
    assert mine["idNumber"] == owner.id_number and owner.id_number[6:14] == "19960914"
    assert (mine["birthDate"], mine["archiveBirthDate"]) == ("1996-09-14", "1996-03-02")
    assert retirement["birthDate"] == "1996-03-02" and retirement["month"] in _texts(mine)

    hidden = _spellings(BIRTH) | _spellings(ARCHIVE_BIRTH) | {owner.id_number}
    for role, viewer in viewers.items():
        body = await run(query, viewer)
        persons = [edge["node"] for edge in ((body["data"] or {}).get("persons") or {"edges": []})["edges"]]
        if role in NOT_REACHED:
            assert persons == [], role
            continue
        [person] = persons
        if role in WHOLE:
            assert person["idNumber"] == owner.id_number, role
            assert person["birthDate"] == "1996-09-14" and person["contributionRecord"] == mine["contributionRecord"]
            continue
        assert role in MASKED
        assert person["idNumber"] == owner.id_number[:6] + "********" + owner.id_number[14:], role
        assert "errors" not in body, (role, body.get("errors"))
        leaks = [text for text in _texts(body) if any(secret in text for secret in hidden)]
        assert leaks == [], (role, leaks)
        # Retirement (Q3) follows the birth date: its month, age and minimum months are not read.
        assert retirement["month"] not in _texts(body), role
        assert person["birthDate"] is None and person["archiveBirthDate"] is None
        assert person["contributionRecord"] is None, role
        assert not [key for key, value in _values(body) if key in {"retirement", "birthDate"} and value is not None]


ESTIMATE = (
    """query ($id: ID) { pensionEstimate(personId: $id) { retirement { birthDate month } monthsToRetirement } }"""
)


async def test_the_pension_estimate_is_refused_where_the_id_number_is_masked(city) -> None:
    owner, viewers = city
    person_id = encode_id("Person", owner.id)

    for role in WHOLE:
        estimate = (await data(ESTIMATE, viewers[role], id=person_id))["pensionEstimate"]
        assert estimate["retirement"]["birthDate"] == "1996-03-02", role
    reviewer = await run(ESTIMATE, viewers["the employer's district's reviewer"], id=person_id)
    administrator = await run(ESTIMATE, viewers["an administrator"], id=person_id)

    assert reviewer["data"] == {"pensionEstimate": None} and error_codes(reviewer) == ["FORBIDDEN"]
    assert reviewer["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "personId"}
    assert administrator["data"] == {"pensionEstimate": None} and error_codes(administrator) == ["FORBIDDEN"]
    for body in (reviewer, administrator):
        assert not [text for text in _texts(body) if any(s in text for s in _spellings(ARCHIVE_BIRTH))]


REGISTER = """mutation ($input: RegisterPersonInput!) { registerPerson(input: $input) { errors { code } } }"""
AUDIT = """{ auditEvents(filter: {operation: "registerPerson"}) { edges { node { operation input } } } }"""


async def test_the_audit_trail_masks_the_birth_dates_beside_the_masked_id_number(city) -> None:
    owner, viewers = city
    clerk = viewers["their clerk"]
    number = make_resident_id("420102", dt.date(1990, 3, 7), 123)
    registered = await data(
        REGISTER,
        clerk,
        input={
            "idNumber": number,
            "name": "刘洋",
            "communityId": encode_id("Community", clerk.community_id),
            "archiveBirthDate": "1989-12-01",
        },
    )
    assert registered["registerPerson"]["errors"] == []

    for role in ("an administrator", "their district's reviewer"):
        [event] = [e["node"] for e in (await data(AUDIT, viewers[role]))["auditEvents"]["edges"]]
        assert event["input"]["input"]["id_number"] == number[:6] + "********" + number[14:]
        assert event["input"]["input"]["archive_birth_date"] == "****-**-**", role
        hidden = _spellings(dt.date(1989, 12, 1)) | _spellings(dt.date(1990, 3, 7))
        assert not [text for text in _texts(event) if any(secret in text for secret in hidden)], role
