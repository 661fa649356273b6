"""Flexible-employment self-service (F1-F8), done by the person online or by their clerk."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.errors import BusinessError, ErrorCode
from resolvers.loaders import node_of
from resolvers.mutations import run_mutation
from schema import nodes
from schema.payloads import IDEMPOTENCY_KEY, INPUT, UserError
from schema.permissions import self_service
from schema.relay import decode_int_id
from services import personal_info


@strawberry.input(description="Change contact details or community (F5); name, ID number and birth dates are changed only at an office.")
class UpdatePersonalInfoInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description="Whose details: a clerk names the person; a person changes their own.")
    phone: str | None = strawberry.field(default=None, description="New contact phone.")
    address: str | None = strawberry.field(default=None, description="New contact address.")
    community_id: strawberry.ID | None = strawberry.field(default=None, description="New community of residence.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.type(description="The person with the new details, and the business recorded.")
class UpdatePersonalInfoPayload:
    person: nodes.Person | None = strawberry.field(default=None, description="The person as now recorded.")
    transaction: nodes.BusinessTransaction | None = strawberry.field(default=None, description="The UPDATE_PERSONAL_INFO business, with the details before and after.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why nothing changed; empty on success.")


@strawberry.type
class FlexibleMutations:
    @strawberry.mutation(description="Change personal information (F5).", extensions=[self_service()])
    async def update_personal_info(self, info: strawberry.Info,
                                   input: Annotated[UpdatePersonalInfoInput, INPUT]) -> UpdatePersonalInfoPayload:
        async def update() -> UpdatePersonalInfoPayload:
            viewer = info.context.viewer
            person_id = (decode_int_id(input.person_id, "Person", "personId") if input.person_id is not None
                         else viewer.person_id)
            community_id = None if input.community_id is None else decode_int_id(input.community_id, "Community", "communityId")
            if person_id is None:
                raise BusinessError(ErrorCode.INVALID_INPUT, "name the person", "personId")
            person, transaction = await personal_info.update_personal_info(
                viewer, person_id, phone=input.phone, address=input.address, community_id=community_id,
            )
            return UpdatePersonalInfoPayload(person=node_of(nodes.Person, person),
                                             transaction=node_of(nodes.BusinessTransaction, transaction))

        return await run_mutation(info, input, UpdatePersonalInfoPayload, update)
