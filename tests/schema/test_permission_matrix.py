"""Every query field and mutation, tried by every role and anonymously, against the declared
permission (A5, A6; docs/api.md 2). A field added without a declared permission fails here."""

from __future__ import annotations

import asyncio

import pytest
from graphql import (
    ExecutionResult,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
)

from domain.enums import Role
from resolvers.inputs import encode_id
from schema.context import Context
from schema.permissions import DeclaredPermission
from schema.root import schema
from tests import factories

ANYONE = None
EVERY = frozenset(Role)
STAFF_READING_PERSONS = frozenset({Role.PERSON, Role.EMPLOYER_AGENT, Role.CLERK, Role.REVIEWER, Role.ADMIN})

EXPECTED: dict[str, frozenset[Role] | None] = {
    "Query.me": EVERY,
    "Query.node": EVERY,
    "Query.nodes": EVERY,
    "Query.person": STAFF_READING_PERSONS,
    "Query.persons": STAFF_READING_PERSONS,
    "Query.employer": frozenset({Role.EMPLOYER_AGENT, Role.REVIEWER, Role.ADMIN}),
    "Query.employers": frozenset({Role.EMPLOYER_AGENT, Role.REVIEWER, Role.ADMIN}),
    "Query.businessTransactions": STAFF_READING_PERSONS,
    "Query.job": frozenset({Role.ADMIN}),
    "Query.jobs": frozenset({Role.ADMIN}),
    "Query.parameters": ANYONE,
    "Query.auditEvents": frozenset({Role.REVIEWER, Role.ADMIN}),
    "Query.interruptionQuote": frozenset({Role.PERSON, Role.CLERK, Role.REVIEWER, Role.ADMIN}),
    # Not administrators: the estimate gives back the birth date their masked ID numbers hide (docs/api.md 8).
    "Query.pensionEstimate": frozenset({Role.PERSON, Role.CLERK, Role.REVIEWER}),
    **{
        f"Query.{name}": frozenset({Role.ANALYST, Role.ADMIN})
        for name in ("enrollmentStats", "businessVolumeStats", "onlineAdoptionStats")
    },
    "Query.appointmentSlots": STAFF_READING_PERSONS,
    "Mutation.registerPerson": frozenset({Role.CLERK, Role.REVIEWER, Role.ADMIN}),
    "Mutation.registerEmployer": frozenset({Role.REVIEWER, Role.ADMIN}),
    "Mutation.grantOnlineAccess": frozenset({Role.CLERK, Role.REVIEWER}),
    "Mutation.installCertificate": ANYONE,
    "Mutation.login": ANYONE,
    "Mutation.logout": EVERY,
    "Mutation.changePassword": EVERY,
    "Mutation.revokeCertificate": frozenset({Role.PERSON, Role.EMPLOYER_AGENT}),
    "Mutation.recordDeposit": frozenset({Role.BANK}),
    **{
        f"Mutation.{name}": frozenset({Role.PERSON, Role.CLERK})
        for name in (
            "enrollFlexible",
            "suspendFlexible",
            "changePensionGrade",
            "updatePersonalInfo",
            "payArrears",
            "cancelArrears",
            "payInterruption",
            "applyMedicalCard",
        )
    },
    **{
        f"Mutation.{name}": frozenset({Role.ADMIN})
        for name in ("runMonthEnd", "recalculateArrears", "publishAverageWage")
    },
    # Q1: any person may book a visit, not only the flexibly insured (A5 does not apply).
    **{
        f"Mutation.{name}": frozenset({Role.PERSON, Role.EMPLOYER_AGENT, Role.CLERK})
        for name in ("bookAppointment", "cancelAppointment")
    },
    "Mutation.checkInAppointment": frozenset({Role.REVIEWER}),
    # E2-E4: the employer's agent online, a reviewer of its district at the counter; only reviewers decide.
    **{
        f"Mutation.{name}": frozenset({Role.EMPLOYER_AGENT, Role.REVIEWER})
        for name in ("addEmployees", "removeEmployees", "declareContributionBase", "employerBackPay")
    },
    **{f"Mutation.{name}": frozenset({Role.REVIEWER}) for name in ("reviewTransaction", "confirmMaterials")},
    "Subscription.jobUpdates": frozenset({Role.ADMIN}),
    "Subscription.transactionUpdates": STAFF_READING_PERSONS,
}

SAMPLE_SCALARS = {
    "ID": encode_id("Person", 1),
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Month": "2026-01",
    "Decimal": "1.00",
    "ExactDecimal": "1",
    "Date": "2000-01-01",
    "DateTime": "2026-01-01T00:00:00+08:00",
    "JSON": {},
    "Upload": b"not a photo",
}


def root_fields() -> list[tuple[str, str, object]]:
    found = []
    for root in (schema._schema.query_type, schema._schema.mutation_type, schema._schema.subscription_type):
        for name, field in root.fields.items() if root else ():
            found.append((root.name, name, field))
    return found


def declared(type_name: str, field_name: str) -> DeclaredPermission | None:
    definition = schema.get_type_by_name(type_name)
    for field in definition.fields:
        if field.graphql_name == field_name or schema.config.name_converter.get_graphql_name(field) == field_name:
            return next((e for e in field.extensions if isinstance(e, DeclaredPermission)), None)
    raise LookupError(f"{type_name}.{field_name}")


def test_every_root_field_declares_the_expected_permission():
    actual = {}
    for type_name, field_name, _ in root_fields():
        permission = declared(type_name, field_name)
        assert permission is not None, f"{type_name}.{field_name} declares no permission"
        actual[f"{type_name}.{field_name}"] = permission.roles
    assert actual == EXPECTED


def sample(graphql_type):
    if isinstance(graphql_type, GraphQLNonNull):
        return sample(graphql_type.of_type)
    if isinstance(graphql_type, GraphQLList):
        return [sample(graphql_type.of_type)]
    if isinstance(graphql_type, GraphQLEnumType):
        return next(iter(graphql_type.values))
    if isinstance(graphql_type, GraphQLInputObjectType):
        return {
            name: sample(field.type)
            for name, field in graphql_type.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        }
    assert isinstance(graphql_type, GraphQLScalarType)
    return SAMPLE_SCALARS[graphql_type.name]


def operation_for(type_name: str, field_name: str, field) -> tuple[str, dict]:
    required = {name: argument for name, argument in field.args.items() if isinstance(argument.type, GraphQLNonNull)}
    declarations = ", ".join(f"${name}: {argument.type}" for name, argument in required.items())
    arguments = ", ".join(f"{name}: ${name}" for name in required)
    kind = {"Query": "query", "Mutation": "mutation", "Subscription": "subscription"}[type_name]
    selection = "" if isinstance(get_named_type(field.type), GraphQLScalarType) else " { __typename }"
    text = (
        f"{kind}{f'({declarations})' if declarations else ''} "
        f"{{ {field_name}{f'({arguments})' if arguments else ''}{selection} }}"
    )
    return text, {name: sample(argument.type) for name, argument in required.items()}


SUBSCRIPTION_SETTLES = 0.3  # a refusal comes at once; a subscription let in may wait for changes


async def execute(text: str, variables: dict, context: Context):
    """Run a query or mutation; a subscription up to its first result, or, when it is still
    waiting for a change after a moment, as let in with no result yet."""
    if not text.startswith("subscription"):
        return await schema.execute(text, variable_values=variables, context_value=context)
    outcome = await schema.subscribe(text, variable_values=variables, context_value=context)
    if not hasattr(outcome, "__aiter__"):
        return outcome
    try:
        return await asyncio.wait_for(anext(outcome), SUBSCRIPTION_SETTLES)
    except TimeoutError:
        return ExecutionResult(data=None)
    finally:
        await outcome.aclose()


@pytest.fixture
async def viewers(db):
    home = await factories.community(await factories.district())
    person = await factories.person(home)
    employer = await factories.employer(await factories.district())
    return {
        role: await factories.viewer(
            role,
            person=person if role is Role.PERSON else None,
            employer=employer if role is Role.EMPLOYER_AGENT else None,
            community=home if role is Role.CLERK else None,
            district=await factories.district() if role is Role.REVIEWER else None,
        )
        for role in Role
    }


@pytest.mark.parametrize(
    ("type_name", "field_name", "field"), root_fields(), ids=lambda v: v if isinstance(v, str) else ""
)
async def test_each_role_is_let_in_or_refused_as_declared(viewers, type_name, field_name, field):
    text, variables = operation_for(type_name, field_name, field)
    allowed = EXPECTED[f"{type_name}.{field_name}"]
    for role, viewer in [*viewers.items(), (None, None)]:
        result = await execute(text, variables, Context(viewer=viewer))
        codes = [(error.extensions or {}).get("code") for error in result.errors or ()]
        refused = "UNAUTHENTICATED" in codes or "FORBIDDEN" in codes
        should_refuse = allowed is not ANYONE and (role is None or role not in allowed)
        assert refused == should_refuse, f"{field_name} as {role}: {codes}"
        if refused:
            assert codes == ["UNAUTHENTICATED" if role is None else "FORBIDDEN"]
        else:
            assert "INTERNAL_SERVER_ERROR" not in codes, f"{field_name} as {role} crashed: {result.errors}"
