"""Recording a BusinessTransaction for each business done (docs/api.md 4)."""

from __future__ import annotations

from typing import Any

import models
from domain.enums import BusinessType, Role, ServiceChannel, TransactionStatus
from services.common import clock
from services.common.audit import without_secrets
from services.common.viewer import Viewer

COUNTER_ROLES = (Role.CLERK, Role.REVIEWER, Role.ADMIN, Role.BANK)


def channel_of(actor: Viewer) -> ServiceChannel:
    """Staff working for someone is the counter (or a kiosk); a person or an agent is online."""
    return ServiceChannel.COUNTER if actor.role in COUNTER_ROLES else ServiceChannel.ONLINE


async def record_transaction(
    business_type: BusinessType,
    actor: Viewer,
    *,
    district_id: int,
    status: TransactionStatus,
    person_id: int | None = None,
    employer_id: int | None = None,
    effective_month: int | None = None,
    details: dict[str, Any] | None = None,
    using_db: Any = None,
) -> models.BusinessTransaction:
    return await models.BusinessTransaction.create(
        business_type=business_type,
        status=status,
        channel=channel_of(actor),
        actor_id=actor.account_id,
        person_id=person_id,
        employer_id=employer_id,
        district_id=district_id,
        submitted_at=clock.now(),
        effective_month=effective_month,
        details=without_secrets(details or {}),
        using_db=using_db,
    )
