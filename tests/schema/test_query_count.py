"""A nested page costs a constant number of SQL queries, whatever its size (ARCHITECTURE.md)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_named_type,
    get_nullable_type,
    introspection_from_schema,
    is_leaf_type,
    is_list_type,
    is_required_argument,
    parse,
    validate,
)

import models
from domain.enums import (
    ArrearStatus,
    BusinessCategory,
    BusinessType,
    Channel,
    InsuranceType,
    LedgerKind,
    PaidVia,
    PaymentOrderKind,
    PeriodStatus,
    Role,
    TransactionStatus,
)
from domain.months import Month
from schema import root
from schema.limits import alias_rule, depth_rule, operation_cost
from services.common import clock
from services.common.viewer import Viewer
from settings import get_settings
from tests import factories
from tests.graphql_client import data

pytestmark = pytest.mark.usefixtures("db")

PAGE = """query($first: Int!) {
  persons(first: $first) {
    totalCount
    edges { node {
      name idNumber district { name } community { name }
      policies { edges { node { insuranceType grade status } } }
      periods(last: 12) { totalCount edges { node { month amount status policy { insuranceType } } } }
      arrears { edges { node { month principal period { status } } } }
      passbook { balance }
    } }
  }
}"""


async def _city(persons: int) -> None:
    homes = [
        await factories.community(await factories.district(code, name))
        for code, name in (("420102", "江岸区"), ("420106", "武昌区"))
    ]
    people = [await factories.person(homes[i % 2], name=f"测试{i}") for i in range(persons)]
    await models.Policy.bulk_create(
        [
            models.Policy(
                person_id=p.id,
                insurance_type=kind,
                channel=Channel.FLEXIBLE,
                start_month=202501,
                grade=1 if kind == InsuranceType.PENSION else None,
            )
            for p in people
            for kind in (InsuranceType.PENSION, InsuranceType.MEDICAL)
        ]
    )
    periods = [
        models.ContributionPeriod(
            policy_id=policy.id,
            person_id=policy.person_id,
            month=Month(2025, 1).plus(i).to_int(),
            insurance_type=policy.insurance_type,
            channel=Channel.FLEXIBLE,
            base="8000.00",
            rate="0.20",
            amount="1600.00",
            status=PeriodStatus.ARREARS if i == 13 else PeriodStatus.PAID,
            paid_via=None if i == 13 else "PASSBOOK_DEBIT",
        )
        for policy in await models.Policy.all()
        for i in range(14)
    ]
    await models.ContributionPeriod.bulk_create(periods, batch_size=1000)
    unpaid = await models.ContributionPeriod.filter(status=PeriodStatus.ARREARS)
    await factories.arrears(unpaid, ArrearStatus.OPEN)


async def test_a_page_of_100_costs_the_same_queries_as_a_page_of_10(count_queries):
    await _city(100)
    count_queries.statements.clear()

    small = await data(PAGE, first=10)
    small_count = len(count_queries.statements)
    count_queries.statements.clear()
    large = await data(PAGE, first=100)
    large_count = len(count_queries.statements)

    assert len(small["persons"]["edges"]) == 10 and len(large["persons"]["edges"]) == 100
    person = large["persons"]["edges"][99]["node"]
    assert len(person["policies"]["edges"]) == 2
    assert person["periods"]["totalCount"] == 28 and len(person["periods"]["edges"]) == 12
    assert [e["node"]["principal"] for e in person["arrears"]["edges"]] == ["1600.00", "1600.00"]
    # persons and their count; districts; communities; policies; periods and their count; the
    # periods' policies; arrears; the arrears' periods; passbooks
    assert small_count == large_count == 11, count_queries.statements


# Every field of the main entities, asked in queries generated from the schema's introspection, so
# that a field added later is asked here without anyone listing it. An entity's own fields are all
# asked: scalars and enums; an object, or a list of objects, with its leaves; a connection with a
# page of NESTED_PAGE and its nodes' leaves. The leaves of a type are its scalar and enum fields and,
# through the objects without identity it holds (not a Node, not a connection: a Duration, a
# ContributionRecord), theirs. Fields with required arguments, and plain lists below an object of
# the entity's own (Person.contributionRecord's types are asked; a policy's person's are not), are
# asked only of the entity itself: the cost limit counts a plain list as a full page of 100, and
# one inside the nodes of a nested page would cost 50 x 3 x 100 x its fields, over the budget.
# The entity is reached by the shortest path of connections from a root list (Policy: persons, then
# each person's policies), whose page is the one compared; its fields are split over several
# queries when one would exceed the limits of schema/limits.py.

ENTITIES = ("Person", "Employer", "Policy", "ContributionPeriod", "Arrear", "BusinessTransaction")
SMALL, LARGE = 5, 50
NESTED_PAGE = 3
# The required arguments a field is asked with (GraphQL literals): the generator cannot make them up.
ARGUMENTS: dict[tuple[str, str], dict[str, str]] = {
    ("Employer", "owedByMonth"): {"fromMonth": '"2025-01"', "toMonth": '"2025-04"'},
}
# Fields left out, each with the reason. A field with a required argument in neither map fails the test.
SKIPPED: dict[tuple[str, str], str] = {}


@cache
def _graph() -> GraphQLSchema:
    """The schema as a client sees it: built from the introspection of the real one."""
    return build_client_schema(introspection_from_schema(root.schema._schema))


def _is_connection(named: GraphQLNamedType) -> bool:
    return isinstance(named, GraphQLObjectType) and {"edges", "pageInfo"} <= named.fields.keys()


def _is_entity(named: GraphQLNamedType) -> bool:
    return isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)) and (
        named.name == "Node" or any(interface.name == "Node" for interface in named.interfaces)
    )


def _node_of(connection: GraphQLObjectType) -> GraphQLNamedType:
    return get_named_type(get_named_type(connection.fields["edges"].type).fields["node"].type)


def _required(field: GraphQLField) -> list[str]:
    return [name for name, argument in field.args.items() if is_required_argument(argument)]


def _arguments(owner: str, name: str, field: GraphQLField) -> str | None:
    """What ``owner.name`` is asked with: its required arguments, a small page of a connection;
    None when it is skipped."""
    if (owner, name) in SKIPPED:
        return None
    given = dict(ARGUMENTS.get((owner, name), {}))
    missing = [argument for argument in _required(field) if argument not in given]
    assert not missing, (
        f"{owner}.{name} requires {missing}: give values in ARGUMENTS, or skip it in SKIPPED with the reason"
    )
    if _is_connection(get_named_type(field.type)) and "first" in field.args:
        given.setdefault("first", str(NESTED_PAGE))
    return "(" + ", ".join(f"{argument}: {value}" for argument, value in given.items()) + ")" if given else ""


def _leaves(named: GraphQLNamedType, lists: bool = False, within: frozenset[str] = frozenset()) -> list[str]:
    """The scalar and enum fields of ``named``, and its objects without identity with theirs (and
    its lists of them when ``lists``)."""
    if isinstance(named, GraphQLUnionType):
        return ["__typename"]
    selections = []
    for name, field in named.fields.items():
        target = get_named_type(field.type)
        listed = is_list_type(get_nullable_type(field.type)) and not is_leaf_type(target)
        if _required(field) or (named.name, name) in SKIPPED or (listed and not lists):
            continue
        if is_leaf_type(target):
            selections.append(name)
        elif not (_is_entity(target) or _is_connection(target)) and target.name not in within:
            inner = _leaves(target, lists, within | {named.name})
            if inner:
                selections.append(f"{name} {{ {' '.join(inner)} }}")
    return selections


def _selections(entity: GraphQLObjectType) -> list[str]:
    """Every field of the entity."""
    selections = []
    for name, field in entity.fields.items():
        arguments = _arguments(entity.name, name, field)
        if arguments is None:
            continue
        target = get_named_type(field.type)
        if is_leaf_type(target):
            selections.append(name + arguments)
        elif _is_connection(target):
            edge = get_named_type(target.fields["edges"].type)
            node = f"node {{ {' '.join(_leaves(_node_of(target)))} }}"
            selections.append(
                f"{name}{arguments} {{ {' '.join(_leaves(target))} edges {{ {' '.join([*_leaves(edge), node])} }} }}"
            )
        else:  # an object, or a list of them: with lists inside it when it has no identity of its own
            inner = _leaves(target, lists=not _is_entity(target)) or ["__typename"]
            selections.append(f"{name}{arguments} {{ {' '.join(inner)} }}")
    return selections


def _path(entity: str) -> list[str]:
    """The fields from the root to a connection of ``entity``, through connections only."""
    graph = _graph()
    queue: list[tuple[GraphQLObjectType, list[str]]] = [(graph.query_type, [])]
    seen = {graph.query_type.name}
    while queue:
        owner, path = queue.pop(0)
        for name, field in owner.fields.items():
            target = get_named_type(field.type)
            if not _is_connection(target) or _required(field):
                continue
            node = _node_of(target)
            if node.name == entity:
                return [*path, name]
            if node.name not in seen and isinstance(node, GraphQLObjectType):
                seen.add(node.name)
                queue.append((node, [*path, name]))
    raise AssertionError(f"no list of connections reaches {entity}")


def _document(entity: str, selections: list[str]) -> str:
    path = _path(entity)
    inner = " ".join(selections)
    for depth, name in reversed(list(enumerate(path))):
        page = "$first" if depth == 0 else NESTED_PAGE
        inner = f"{name}(first: {page}) {{ edges {{ node {{ {inner} }} }} }}"
    return f"query Every{entity}($first: Int!) {{ {inner} }}"


def _refusals(text: str) -> list[str]:
    """Why the limits of schema/limits.py would refuse the document asked for a page of LARGE."""
    settings = get_settings()
    try:
        document = parse(text, max_tokens=settings.max_query_tokens)
    except GraphQLError as error:
        return [error.message]
    rules = [depth_rule(settings.max_query_depth), alias_rule(settings.max_query_aliases)]
    refusals = [error.message for error in validate(_graph(), document, rules)]
    cost = operation_cost(_graph(), document, None, {"first": LARGE})
    if cost > settings.max_query_cost:
        refusals.append(f"cost {cost} exceeds {settings.max_query_cost}")
    return refusals


@cache
def documents(entity: str) -> tuple[str, ...]:
    """Queries asking every field of ``entity``, as few as the limits allow."""
    chunks: list[list[str]] = [[]]
    for selection in _selections(_graph().get_type(entity)):
        if chunks[-1] and _refusals(_document(entity, [*chunks[-1], selection])):
            chunks.append([])
        chunks[-1].append(selection)
    texts = tuple(_document(entity, chunk) for chunk in chunks)
    for text in texts:
        assert not _refusals(text), (text, _refusals(text))
    return texts


async def _full_city(persons: int) -> Viewer:
    """``persons`` persons, each employed by an employer of their own, where every list the
    generated queries ask holds something: flexible and employer policies with paid and unpaid
    months, arrears, a passbook, a payment order, a card application, transactions, appointments.
    All in one district, whose reviewer, returned, reads them with whole ID numbers, and so every
    field (an administrator reads no contribution record: docs/api.md 8)."""
    admin = await factories.viewer(Role.ADMIN)
    district = await factories.district("420102", "江岸区")
    homes = [await factories.community(district, name) for name in ("百步亭社区", "二七社区")]
    slots = []
    for home in homes:
        office = await models.Office.create(district_id=home.district_id, name="办事大厅", address="解放大道1号")
        slots.append(
            await models.AppointmentSlot.create(
                office=office,
                business_category=BusinessCategory.REGISTRATION,
                starts_at=clock.now() + dt.timedelta(days=1),
                ends_at=clock.now() + dt.timedelta(days=1, hours=1),
                capacity=1000,
                booked=persons,
            )
        )
    people = [await factories.person(homes[i % 2], name=f"测试{i}") for i in range(persons)]
    employers = [await factories.employer(await homes[i % 2].district, name=f"测试单位{i}") for i in range(persons)]
    await models.Employment.bulk_create(
        [
            models.Employment(person_id=p.id, employer_id=e.id, start_month=202501, declared_wage="8000.00")
            for p, e in zip(people, employers)
        ]
    )
    await models.Policy.bulk_create(
        [
            models.Policy(
                person_id=p.id,
                insurance_type=kind,
                channel=channel,
                start_month=202501,
                employer_id=e.id if channel == Channel.EMPLOYER else None,
                grade=1 if (kind, channel) == (InsuranceType.PENSION, Channel.FLEXIBLE) else None,
            )
            for p, e in zip(people, employers)
            for kind, channel in (
                (InsuranceType.PENSION, Channel.FLEXIBLE),
                (InsuranceType.MEDICAL, Channel.FLEXIBLE),
                (InsuranceType.PENSION, Channel.EMPLOYER),
            )
        ]
    )
    await models.ContributionPeriod.bulk_create(
        [
            models.ContributionPeriod(
                policy_id=policy.id,
                person_id=policy.person_id,
                month=202501 + i,
                insurance_type=policy.insurance_type,
                channel=policy.channel,
                base="8000.00",
                rate="0.24",
                amount="1920.00",
                employer_amount="1280.00" if policy.channel == Channel.EMPLOYER else "0.00",
                status=PeriodStatus.ARREARS if i == 3 else PeriodStatus.PAID,
                paid_at=None if i == 3 else clock.now(),
                paid_via=None
                if i == 3
                else PaidVia.EMPLOYER
                if policy.channel == Channel.EMPLOYER
                else PaidVia.PASSBOOK_DEBIT,
            )
            for policy in await models.Policy.all()
            for i in range(4)
        ],
        batch_size=1000,
    )
    await factories.arrears(await models.ContributionPeriod.filter(status=PeriodStatus.ARREARS), ArrearStatus.OPEN)
    await models.Passbook.bulk_create(
        [models.Passbook(person_id=p.id, account_number=f"6221{p.id:012d}", balance="100.00") for p in people]
    )
    await models.LedgerEntry.bulk_create(
        [
            models.LedgerEntry(
                passbook_id=book.id,
                kind=LedgerKind.DEPOSIT,
                amount="100.00",
                balance_after="100.00",
                month=202611,
                bank_reference=f"deposit-{book.id}",
                booked_at=clock.now(),
            )
            for book in await models.Passbook.all()
        ]
    )
    await models.PaymentOrder.bulk_create(
        [
            models.PaymentOrder(
                person_id=p.id,
                kind=PaymentOrderKind.ARREARS,
                principal="1920.00",
                interest="0.00",
                total="1920.00",
                collection_month=202611,
            )
            for p in people
        ]
    )
    arrear_of = {a.person_id: a for a in await models.Arrear.filter(period__channel=Channel.FLEXIBLE)}
    await models.PaymentOrderLine.bulk_create(
        [
            models.PaymentOrderLine(
                order_id=o.id,
                arrear_id=arrear_of[o.person_id].id,
                month=arrear_of[o.person_id].month,
                insurance_type=arrear_of[o.person_id].insurance_type,
                base="8000.00",
                principal="1920.00",
                interest="0.00",
            )
            for o in await models.PaymentOrder.all()
        ]
    )
    await models.MedicalCardApplication.bulk_create(
        [models.MedicalCardApplication(person_id=p.id, visit_deadline=dt.date(2026, 12, 10)) for p in people]
    )
    moves = {
        "line_count": 1,
        "materials_confirmed_at": clock.now().isoformat(),
        "effective_month_moves": [
            {"from": "2026-11", "to": "2026-12", "on": "2026-11-21", "reason": "accepted after the 20th"}
        ],
    }
    await models.BusinessTransaction.bulk_create(
        [  # each person's staff filing: about a person and an employer
            models.BusinessTransaction(
                business_type=BusinessType.ADD_EMPLOYEES,
                status=TransactionStatus.COMPLETED,
                person_id=p.id,
                employer_id=e.id,
                district_id=e.district_id,
                submitted_at=clock.now(),
                effective_month=202612,
                details=moves,
            )
            for p, e in zip(people, employers)
        ]
    )
    await models.Appointment.bulk_create(
        [
            *(
                models.Appointment(slot_id=slots[i % 2].id, account_id=admin.account_id, person_id=p.id)
                for i, p in enumerate(people)
            ),
            *(
                models.Appointment(slot_id=slots[i % 2].id, account_id=admin.account_id, employer_id=e.id)
                for i, e in enumerate(employers)
            ),
        ]
    )
    return await factories.viewer(Role.REVIEWER, district=district)


def _values(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(where, what) of every value in a result, the items of a list where the list is."""
    yield path, value
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _values(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _values(item, path)


def _objects(selection: Any, path: str = "") -> Iterator[str]:
    """Where a document asks an object (or a list of them)."""
    for field in selection.selections:
        if field.selection_set is not None:
            inner = f"{path}.{field.name.value}"
            yield inner
            yield from _objects(field.selection_set, inner)


def _unfilled(text: str, result: dict[str, Any]) -> list[str]:
    """The lists of a result that are empty, and the objects it asks that are null throughout."""
    found = list(_values(result))
    filled = {where for where, value in found if isinstance(value, dict)}
    empty = {where for where, value in found if value == []}
    return sorted(empty | (set(_objects(parse(text).definitions[0].selection_set)) - filled))


def _asked(entity: str, text: str) -> set[str]:
    """The fields a generated document asks of ``entity``: those under the last node of its path."""
    selection = parse(text).definitions[0].selection_set
    for _ in _path(entity):  # name(first: …) { edges { node { … } } }
        (field,) = selection.selections
        (edges,) = field.selection_set.selections
        (node,) = edges.selection_set.selections
        selection = node.selection_set
    return {field.name.value for field in selection.selections}


def test_the_generated_queries_ask_every_field_of_the_entities():
    for entity in ENTITIES:
        asked = set().union(*(_asked(entity, text) for text in documents(entity)))
        wanted = {name for name in _graph().get_type(entity).fields if (entity, name) not in SKIPPED}
        assert asked == wanted, (entity, wanted - asked)
    person = " ".join(documents("Person"))
    assert "contributionRecord { retirement { birthDate age { years months } month } types {" in person


@pytest.mark.parametrize("entity", ENTITIES)
async def test_every_field_of_a_page_of_50_costs_the_same_queries_as_a_page_of_5(entity, count_queries):
    reviewer = await _full_city(LARGE + 5)
    counts, shapes = {}, {}
    for first in (SMALL, LARGE):
        count_queries.statements.clear()
        for text in documents(entity):
            result = await data(text, reviewer, first=first)
            root_list = next(iter(result.values()))["edges"]
            assert len(root_list) == first
            unfilled = _unfilled(text, result)
            assert not unfilled, f"{entity}: nothing in {unfilled}: the city should fill every list and object"
        counts[first] = len(count_queries.statements)
        shapes[first] = Counter(
            re.sub(r"\(\?(,\?)*\)|\(\$\d+(,\$\d+)*\)", "(...)", statement.split(": [", 1)[0])
            for statement in count_queries.statements
        )
    repeated = [f"{count} x {shape}" for shape, count in (shapes[LARGE] - shapes[SMALL]).items()]
    assert counts[SMALL] == counts[LARGE], (
        f"{entity}: {counts[SMALL]} SQL statements for a page of {SMALL}, {counts[LARGE]} for {LARGE}; more of:",
        repeated,
    )
