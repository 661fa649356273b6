"""Changing a person's contact details and community (F5): nothing else changes online."""

from __future__ import annotations

from tortoise.transactions import in_transaction

import models
from domain.enums import BusinessType, Role, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from services.common.contact import phone_of
from services.common.self_service import acts_for, refuse_unless_self_serving
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

CHANGEABLE = ("phone", "address", "community_id")


async def update_personal_info(
    actor: Viewer,
    person_id: int,
    *,
    phone: str | None = None,
    address: str | None = None,
    community_id: int | None = None,
) -> tuple[models.Person, models.BusinessTransaction]:
    """Apply the given changes (None leaves a detail as it is); the person, or their clerk, acts."""
    changes: dict[str, object] = {}
    if phone is not None:
        changes["phone"] = phone_of(phone)
    if address is not None:
        text = address.strip()
        if not 1 <= len(text) <= 200 or not text.isprintable():
            raise BusinessError(ErrorCode.INVALID_INPUT, "an address has 1 to 200 printable characters", "address")
        changes["address"] = text
    if community_id is not None:
        if not await models.Community.exists(id=community_id):
            raise BusinessError(ErrorCode.NOT_FOUND, "no such community", "communityId")
        changes["community_id"] = community_id
    if not changes:
        raise BusinessError(ErrorCode.INVALID_INPUT, "give at least one of phone, address and communityId", None)
    async with in_transaction():
        person = await models.Person.select_for_update().get_or_none(id=person_id)
        if person is None or not acts_for(actor, person):
            raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this person", "personId")
        if actor.role is Role.PERSON:
            # A5 for the person themself, as in every self-service business; a clerk at the
            # counter may change the contact details of any person of their community.
            refuse_unless_self_serving(person)
        before = {name: getattr(person, name) for name in CHANGEABLE}
        for name, value in changes.items():
            setattr(person, name, value)
        if "community_id" in changes:
            person.district_id = (await models.Community.get(id=person.community_id)).district_id
        await person.save(update_fields=[*changes, "district_id", "updated_at"])
        transaction = await record_transaction(
            BusinessType.UPDATE_PERSONAL_INFO,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.COMPLETED,
            details={"before": before, "after": {name: getattr(person, name) for name in CHANGEABLE}},
        )
    return person, transaction
