"""The card-photo standard in force (P7): the parameter CARD_PHOTO_STANDARD, effective-dated like
every parameter, so that a new row (or a corrected value) changes the photos checked from its month."""

from __future__ import annotations

import models
from domain.enums import ParameterCode
from domain.months import Month
from domain.tariff import MissingParameter
from services.cards.photos import PhotoStandard
from services.common import clock


async def photo_standard_in_force(month: Month | None = None) -> PhotoStandard:
    """The standard of the latest row in force in ``month`` (this month when None)."""
    month = clock.this_month() if month is None else month
    value = (
        await models.Parameter.filter(
            code=ParameterCode.CARD_PHOTO_STANDARD,
            effective_from__lte=month.to_int(),
            value_json__isnull=False,
        )
        .order_by("-effective_from")
        .first()
        .values_list("value_json", flat=True)
    )
    if value is None:
        raise MissingParameter(
            f"{ParameterCode.CARD_PHOTO_STANDARD.value} has no value in force in {month}; are the migrations applied?"
        )
    return PhotoStandard.of(value)
