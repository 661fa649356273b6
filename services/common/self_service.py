"""Who a flexible-employment business is about, and whether the actor may do it for them (A5, A6).

A5 is a business rule: a refusal is a payload error (INSURED_BY_EMPLOYER, PERSON_RETIRED), the same
for the person online and for their clerk at a kiosk; the schema lets both roles in."""

from __future__ import annotations

import models
from domain.enums import SELF_SERVICE_CATEGORIES, PersonCategory, Role
from domain.errors import BusinessError, ErrorCode
from services.common.viewer import Viewer


def acts_for(actor: Viewer, person: models.Person) -> bool:
    """The person themself online, or the clerk of their community at a kiosk."""
    if actor.role is Role.PERSON:
        return actor.person_id == person.id
    return actor.role is Role.CLERK and actor.community_id == person.community_id


def refuse_unless_self_serving(person: models.Person) -> None:
    """A5: the employed and the retired only read their records; only the flexibly employed, and
    the uninsured who come to enroll, transact for themselves."""
    if person.category in SELF_SERVICE_CATEGORIES:
        return
    if person.category is PersonCategory.RETIRED:
        raise BusinessError(
            ErrorCode.PERSON_RETIRED, "this person is retired and pays no more contributions", "personId"
        )
    raise BusinessError(
        ErrorCode.INSURED_BY_EMPLOYER,
        "this person is insured through an employer, which does their business (A5)",
        "personId",
    )


async def locked_subject(actor: Viewer, person_id: int) -> models.Person:
    """The person, row-locked for the rest of the transaction, so that one person's businesses run
    one after the other; refused when the actor does not act for them or they may not self-serve."""
    person = await models.Person.select_for_update(no_key=True).get_or_none(id=person_id)
    if person is None or not acts_for(actor, person):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this person", "personId")
    refuse_unless_self_serving(person)
    return person
