"""Registration at an office (参保登记): persons (A1) and employers (A2, E1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from domain.enums import Role
from resolvers.inputs import decode_int_id
from resolvers.loaders import node_of
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.enums import RetirementClass
from schema.payloads import IDEMPOTENCY_KEY, INPUT
from schema.permissions import allow
from services import registration


@strawberry.input(description="A person brought to a community or district office with their ID card (A1).")
class RegisterPersonInput:
    id_number: str = strawberry.field(description="18-character resident ID number; checked against GB 11643 (A1).")
    name: str = strawberry.field(description="Name as on the ID card.")
    community_id: strawberry.ID = strawberry.field(description="The community the person lives in.")
    phone: str | None = strawberry.field(default=None, description="Contact phone.")
    address: str | None = strawberry.field(default=None, description="Contact address.")
    archive_birth_date: dt.date | None = strawberry.field(
        default=None, description="Birth date in the archive when it differs from the card (Q3)."
    )
    retirement_class: RetirementClass = strawberry.field(
        default=RetirementClass.WORKER, description="Archive job class (Q3)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The registered person and the business recorded.",
    transaction="The REGISTER_PERSON business.",
    errors="Why nothing was registered; empty on success.",
)
class RegisterPersonPayload:
    person: nodes.Person | None = strawberry.field(default=None, description="The person, once registered.")


@strawberry.input(description="An employer registering at its district office (E1, A2).")
class RegisterEmployerInput:
    credit_code: str = strawberry.field(description="18-character unified social credit code (A2).")
    name: str = strawberry.field(description="Registered name.")
    district_id: strawberry.ID = strawberry.field(description="The district whose office serves it.")
    address: str | None = strawberry.field(default=None, description="Registered address.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The registered employer and the business recorded.",
    transaction="The REGISTER_EMPLOYER business.",
    errors="Why nothing was registered; empty on success.",
)
class RegisterEmployerPayload:
    employer: nodes.Employer | None = strawberry.field(default=None, description="The employer, once registered.")


@strawberry.type
class RegistrationMutations:
    @business_mutation(
        description="Register a person (clerk of their community, reviewer of their district).",
        extensions=[allow(Role.CLERK, Role.REVIEWER, Role.ADMIN)],
    )
    async def register_person(
        self, info: strawberry.Info, input: Annotated[RegisterPersonInput, INPUT]
    ) -> RegisterPersonPayload:
        form = registration.PersonRegistration(
            id_number=input.id_number,
            name=input.name,
            community_id=decode_int_id(input.community_id, "Community", "communityId"),
            phone=input.phone,
            address=input.address,
            archive_birth_date=input.archive_birth_date,
            retirement_class=input.retirement_class,
        )
        person, transaction = await registration.register_person(info.context.viewer, form)
        return RegisterPersonPayload(
            person=node_of(nodes.Person, person), transaction=node_of(nodes.BusinessTransaction, transaction)
        )

    @business_mutation(
        description="Register an employer (reviewer of its district).", extensions=[allow(Role.REVIEWER, Role.ADMIN)]
    )
    async def register_employer(
        self, info: strawberry.Info, input: Annotated[RegisterEmployerInput, INPUT]
    ) -> RegisterEmployerPayload:
        employer, transaction = await registration.register_employer(
            info.context.viewer,
            input.credit_code,
            input.name,
            decode_int_id(input.district_id, "District", "districtId"),
            input.address,
        )
        return RegisterEmployerPayload(
            employer=node_of(nodes.Employer, employer), transaction=node_of(nodes.BusinessTransaction, transaction)
        )
