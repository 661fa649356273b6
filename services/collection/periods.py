"""Flexible-channel months: which policies owe a month, and what the month costs (P2, P3)."""

from __future__ import annotations

from decimal import Decimal

from tortoise.expressions import Q

import models
from domain.enums import Channel, InsuranceType, PeriodStatus, PolicyStatus
from domain.months import Month
from domain.pricing import FlexiblePrice
from domain.tariff import Tariff


def in_force(month: Month, channel: Channel = Channel.FLEXIBLE) -> Q:
    """Policies that owe ``month``: started, and active or ended no earlier."""
    m = month.to_int()
    return Q(channel=channel, start_month__lte=m) & (
        Q(status=PolicyStatus.ACTIVE, end_month__isnull=True) | Q(end_month__gte=m)
    )


def flexible_price(insurance_type: InsuranceType, grade: Decimal | None, month: Month, tariff: Tariff) -> FlexiblePrice:
    """P2 at the grade for pension, P3 for medical."""
    return tariff.pension(month, grade) if insurance_type is InsuranceType.PENSION else tariff.medical(month)


def priced_period(policy: models.Policy, month: Month, tariff: Tariff) -> models.ContributionPeriod:
    """The unsaved DUE period of ``policy`` for ``month``, at the parameters in force for it."""
    price = flexible_price(policy.insurance_type, policy.grade, month, tariff)
    return models.ContributionPeriod(
        policy_id=policy.id,
        person_id=policy.person_id,
        month=month.to_int(),
        insurance_type=policy.insurance_type,
        channel=Channel.FLEXIBLE,
        grade=policy.grade,
        base=price.base,
        rate=price.rate,
        amount=price.amount,
        status=PeriodStatus.DUE,
    )


async def ensure_period(policy: models.Policy, month: Month, tariff: Tariff) -> models.ContributionPeriod:
    """The period of ``policy`` for ``month``, made at today's grade when it does not exist yet."""
    found = await models.ContributionPeriod.get_or_none(policy_id=policy.id, month=month.to_int())
    if found is not None:
        return found
    period = priced_period(policy, month, tariff)
    await period.save()
    return period
