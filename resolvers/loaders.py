"""DataLoaders, one per entity and key, created fresh for each request.

Rows are read with ``values()`` straight into the graph's types: no ORM instances are built on the
read path. Lists are loaded for all parents of a page in one query per distinct set of filters.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Hashable, Sequence
from functools import cache
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise import fields
from tortoise.models import Model

import models
from schema import nodes


@cache
def columns(node_type: type) -> dict[str, str]:
    """values() aliases for a node type: each init field is a column, db_id is the primary key."""
    names = [f.name for f in dataclasses.fields(node_type) if f.init]
    return {name: ("id" if name == "db_id" else name) for name in names}


def rows_to_nodes(node_type: type, rows: Sequence[dict[str, Any]]) -> list[Any]:
    return [node_type(**row) for row in rows]


async def fetch_nodes(node_type: type, queryset) -> list[Any]:
    return rows_to_nodes(node_type, await queryset.values(**columns(node_type)))


class ById(DataLoader[Any, Any]):
    """One entity by primary key; a missing key loads as None."""

    def __init__(self, model: type[Model], node_type: type) -> None:
        super().__init__(load_fn=self._load)
        self.model, self.node_type = model, node_type

    def parse_key(self, text: str) -> Any:
        """The primary key written in a global id, or None when it cannot be one."""
        if isinstance(self.model._meta.pk, fields.UUIDField):
            try:
                return uuid.UUID(text)
            except ValueError:
                return None
        return int(text) if text.isdigit() and len(text) <= 18 else None

    async def _load(self, keys: list[int]) -> list[Any]:
        found = {node.db_id: node for node in await fetch_nodes(self.node_type, self.model.filter(id__in=keys))}
        return [found.get(key) for key in keys]


class ByParent:
    """The rows of a child table for a parent id, filtered and ordered in SQL.

    ``load(parent_id, **filters)``: None filters are ignored. Parents asked for with the same
    filters in one tick share one query.
    """

    def __init__(self, model: type[Model], node_type: type, parent: str, order: Sequence[str], single: bool = False):
        self.model, self.node_type, self.parent, self.order, self.single = model, node_type, parent, order, single
        self._loader: DataLoader[tuple, Any] = DataLoader(load_fn=self._load)

    def load(self, parent_id: int, **filters: Hashable):
        active = tuple(sorted((name, value) for name, value in filters.items() if value is not None))
        return self._loader.load((parent_id, active))

    async def _load(self, keys: list[tuple]) -> list[Any]:
        parents_by_filters: dict[tuple, list[int]] = defaultdict(list)
        for parent_id, active in keys:
            parents_by_filters[active].append(parent_id)
        grouped: dict[tuple, list[Any]] = defaultdict(list)
        for active, parent_ids in parents_by_filters.items():
            queryset = self.model.filter(**{f"{self.parent}__in": parent_ids}, **dict(active)).order_by(*self.order)
            rows = await queryset.values(**columns(self.node_type), _parent=self.parent)
            for row in rows:
                grouped[(row.pop("_parent"), active)].append(self.node_type(**row))
        if self.single:
            return [next(iter(grouped.get(key, ())), None) for key in keys]
        return [grouped.get(key, []) for key in keys]


class ParametersInForce:
    """Every parameter value, read once per request on first use (the table is small)."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, int, Any]] | None = None

    async def value(self, code: Any, month: int) -> Any:
        """The value of ``code`` in force in ``month`` (YYYYMM), or None."""
        if self._rows is None:
            rows = await models.Parameter.all().order_by("effective_from").values_list("code", "effective_from", "value")
            self._rows = list(rows)
        in_force = None
        for row_code, effective_from, value in self._rows:
            if row_code == code and effective_from <= month:
                in_force = value
        return in_force


class Loaders:
    def __init__(self) -> None:
        self.parameters = ParametersInForce()
        self.district = ById(models.District, nodes.District)
        self.community = ById(models.Community, nodes.Community)
        self.person = ById(models.Person, nodes.Person)
        self.employer = ById(models.Employer, nodes.Employer)
        self.employment = ById(models.Employment, nodes.Employment)
        self.policy = ById(models.Policy, nodes.Policy)
        self.period = ById(models.ContributionPeriod, nodes.ContributionPeriod)
        self.arrear = ById(models.Arrear, nodes.Arrear)
        self.passbook = ById(models.Passbook, nodes.Passbook)
        self.ledger_entry = ById(models.LedgerEntry, nodes.LedgerEntry)
        self.transaction = ById(models.BusinessTransaction, nodes.BusinessTransaction)
        self.parameter = ById(models.Parameter, nodes.Parameter)
        self.job = ById(models.Job, nodes.Job)

        self.policies_of_person = ByParent(models.Policy, nodes.Policy, "person_id", ("start_month", "id"))
        self.periods_of_person = ByParent(
            models.ContributionPeriod, nodes.ContributionPeriod, "person_id", ("month", "insurance_type", "id")
        )
        self.periods_of_policy = ByParent(models.ContributionPeriod, nodes.ContributionPeriod, "policy_id", ("month",))
        self.arrears_of_person = ByParent(models.Arrear, nodes.Arrear, "person_id", ("month", "insurance_type", "id"))
        self.passbook_of_person = ByParent(models.Passbook, nodes.Passbook, "person_id", ("id",), single=True)
        self.entries_of_passbook = ByParent(models.LedgerEntry, nodes.LedgerEntry, "passbook_id", ("booked_at", "id"))
        self.employments_of_person = ByParent(models.Employment, nodes.Employment, "person_id", ("start_month", "id"))
        self.employments_of_employer = ByParent(models.Employment, nodes.Employment, "employer_id", ("start_month", "id"))
        self.transactions_of_person = ByParent(
            models.BusinessTransaction, nodes.BusinessTransaction, "person_id", ("-submitted_at", "-id")
        )
        self.transactions_of_employer = ByParent(
            models.BusinessTransaction, nodes.BusinessTransaction, "employer_id", ("-submitted_at", "-id")
        )

    def by_type(self, type_name: str) -> ById | None:
        loader = getattr(self, _BY_ID_NAMES.get(type_name, ""), None)
        return loader if isinstance(loader, ById) else None


_BY_ID_NAMES = {
    "District": "district", "Community": "community", "Person": "person", "Employer": "employer",
    "Employment": "employment", "Policy": "policy", "ContributionPeriod": "period", "Arrear": "arrear",
    "Passbook": "passbook", "LedgerEntry": "ledger_entry", "BusinessTransaction": "transaction",
    "Parameter": "parameter", "Job": "job",
}
