"""Root lists of the read side: filters turned into querysets, read through the viewer's scope."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

import models
from domain.enums import OWED_ARREARS
from resolvers.inputs import credit_code_argument, decode_int_id, name_prefix_argument, resident_id_argument
from resolvers.loaders import fetch_nodes
from resolvers.scopes import scoped


def persons_queryset(f: Any, viewer: Any) -> QuerySet:
    """The persons the viewer may see that match a PersonFilter (schema.query)."""
    queryset = scoped(models.Person.all(), models.Person, viewer)
    if f is None:
        return queryset
    if f.district_id is not None:
        queryset = queryset.filter(district_id=decode_int_id(f.district_id, "District", "districtId"))
    if f.community_id is not None:
        queryset = queryset.filter(community_id=decode_int_id(f.community_id, "Community", "communityId"))
    if f.category is not None:
        queryset = queryset.filter(category=f.category)
    if f.name_prefix is not None:
        queryset = queryset.filter(name__startswith=name_prefix_argument(f.name_prefix))
    if f.id_number is not None:
        queryset = queryset.filter(id_number=resident_id_argument(f.id_number))
    if f.insurance_type is not None or f.policy_status is not None:
        policies = models.Policy.all()
        if f.insurance_type is not None:
            policies = policies.filter(insurance_type=f.insurance_type)
        if f.policy_status is not None:
            policies = policies.filter(status=f.policy_status)
        queryset = queryset.filter(id__in=Subquery(policies.values("person_id")))
    if f.has_arrears is not None:
        owing = Subquery(models.Arrear.filter(status__in=OWED_ARREARS).values("person_id"))
        queryset = queryset.filter(id__in=owing) if f.has_arrears else queryset.exclude(id__in=owing)
    return queryset


def employers_queryset(f: Any, viewer: Any) -> QuerySet:
    queryset = scoped(models.Employer.all(), models.Employer, viewer)
    if f is None:
        return queryset
    if f.district_id is not None:
        queryset = queryset.filter(district_id=decode_int_id(f.district_id, "District", "districtId"))
    if f.status is not None:
        queryset = queryset.filter(status=f.status)
    if f.name_prefix is not None:
        queryset = queryset.filter(name__startswith=name_prefix_argument(f.name_prefix))
    if f.credit_code is not None:
        queryset = queryset.filter(credit_code=credit_code_argument(f.credit_code))
    return queryset


def transactions_queryset(f: Any, viewer: Any) -> QuerySet:
    queryset = scoped(models.BusinessTransaction.all(), models.BusinessTransaction, viewer)
    if f is None:
        return queryset
    if f.business_type is not None:
        queryset = queryset.filter(business_type=f.business_type)
    if f.status is not None:
        queryset = queryset.filter(status=f.status)
    if f.channel is not None:
        queryset = queryset.filter(channel=f.channel)
    if f.district_id is not None:
        queryset = queryset.filter(district_id=decode_int_id(f.district_id, "District", "districtId"))
    if f.person_id is not None:
        queryset = queryset.filter(person_id=decode_int_id(f.person_id, "Person", "personId"))
    if f.employer_id is not None:
        queryset = queryset.filter(employer_id=decode_int_id(f.employer_id, "Employer", "employerId"))
    if f.effective_month is not None:
        queryset = queryset.filter(effective_month=f.effective_month.to_int())
    return queryset


async def parameters_in_force(node_type: type, code: Any, month: int | None) -> list[Any]:
    """All values, or with ``month`` only the value each parameter has in that month."""
    queryset = models.Parameter.all()
    if code is not None:
        queryset = queryset.filter(code=code)
    if month is not None:
        queryset = queryset.filter(effective_from__lte=month)
    rows = await fetch_nodes(node_type, queryset.order_by("code", "effective_from"))
    if month is None:
        return rows
    latest: dict[Any, Any] = {}
    for row in rows:
        latest[row.code] = row
    return list(latest.values())


async def jobs(node_type: type, kind: Any, status: Any, viewer: Any) -> list[Any]:
    """Jobs are few (a handful a month), so they are listed whole, newest first."""
    queryset = scoped(models.Job.all(), models.Job, viewer)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    if status is not None:
        queryset = queryset.filter(status=status)
    return await fetch_nodes(node_type, queryset.order_by("-created_at"))


def audit_events_queryset(f: Any, viewer: Any) -> QuerySet:
    queryset = scoped(models.AuditEvent.all(), models.AuditEvent, viewer)
    if f is None:
        return queryset
    if f.operation is not None:
        queryset = queryset.filter(operation=f.operation)
    if f.outcome is not None:
        queryset = queryset.filter(outcome=f.outcome)
    if f.username is not None:
        queryset = queryset.filter(account__username=f.username.strip().lower())
    return queryset
