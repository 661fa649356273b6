"""Root lists of the read side: filters turned into querysets, paged by id (keyset)."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

import models
from domain.enums import OWED_ARREARS
from domain.identifiers import InvalidIdentifier, normalise_credit_code, normalise_resident_id
from resolvers.loaders import fetch_nodes
from resolvers.scopes import scoped
from schema import nodes
from schema.errors import BadUserInput
from schema.relay import Connection, PageRequest, connection_from_keyset, decode_int_id

def resident_id_argument(raw: str, argument: str = "idNumber") -> str:
    try:
        return normalise_resident_id(raw)
    except InvalidIdentifier as exc:
        raise BadUserInput(f"invalid ID number: {exc}", argument) from None


def credit_code_argument(raw: str, argument: str = "creditCode") -> str:
    try:
        return normalise_credit_code(raw)
    except InvalidIdentifier as exc:
        raise BadUserInput(f"invalid credit code: {exc}", argument) from None


def name_prefix_argument(raw: str, argument: str = "namePrefix") -> str:
    prefix = raw.strip()
    if not 1 <= len(prefix) <= 64:
        raise BadUserInput("a name prefix has 1 to 64 characters", argument)
    return prefix


async def keyset_page(node_type: type, queryset: QuerySet, page: PageRequest, newest_first: bool = False) -> Connection:
    """A page of ``queryset`` in id order (descending when ``newest_first``)."""

    async def fetch(after: int | None, before: int | None, limit: int, backwards: bool) -> list[Any]:
        window = queryset
        if after is not None:
            window = window.filter(id__lt=after) if newest_first else window.filter(id__gt=after)
        if before is not None:
            window = window.filter(id__gt=before) if newest_first else window.filter(id__lt=before)
        descending = backwards != newest_first
        return await fetch_nodes(node_type, window.order_by("-id" if descending else "id").limit(limit))

    return await connection_from_keyset(page, fetch, queryset.count)


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


async def parameters_in_force(code: Any, month: int | None) -> list[nodes.Parameter]:
    """All values, or with ``month`` only the value each parameter has in that month."""
    queryset = models.Parameter.all()
    if code is not None:
        queryset = queryset.filter(code=code)
    if month is not None:
        queryset = queryset.filter(effective_from__lte=month)
    rows = await fetch_nodes(nodes.Parameter, queryset.order_by("code", "effective_from"))
    if month is None:
        return rows
    latest: dict[Any, nodes.Parameter] = {}
    for row in rows:
        latest[row.code] = row
    return list(latest.values())


async def jobs(kind: Any, status: Any, viewer: Any) -> list[nodes.Job]:
    """Jobs are few (a handful a month), so they are listed whole, newest first."""
    queryset = scoped(models.Job.all(), models.Job, viewer)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    if status is not None:
        queryset = queryset.filter(status=status)
    return await fetch_nodes(nodes.Job, queryset.order_by("-created_at"))


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
