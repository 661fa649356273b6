"""DataLoaders, one per entity and key, created fresh for each request.

Rows are read with ``values()`` straight into the graph's types: no ORM instances are built on the
read path. Lists are loaded for all parents of a page in one query per distinct set of filters.
The SQL of a loader's query is built by Tortoise once per shape of query (``shaped_sql``).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise import fields
from tortoise.expressions import Q, RawSQL
from tortoise.fields.data import CharEnumFieldInstance
from tortoise.functions import Count
from tortoise.models import Model
from tortoise.queryset import QuerySet

import models
from domain.enums import JobStatus
from domain.errors import BusinessError, ErrorCode
from models.database import sql_of
from resolvers.inputs import whole_number
from resolvers.scopes import scope, scoped
from services import information
from services.employer import back_payment


@dataclass(frozen=True)
class NodeKind:
    """An entity of the graph: its type, the model its rows come from, and its loader by id."""

    node_type: type
    model: type[Model]
    loader: str  # the attribute of Loaders that reads it by id


@cache
def columns(node_type: type) -> dict[str, str]:
    """values() aliases for a node type: each init field is a column of its name, but for db_id (the
    primary key) and the renamings the type declares in ``__columns__``."""
    names = [f.name for f in dataclasses.fields(node_type) if f.init]
    renamed = {"db_id": "id", **getattr(node_type, "__columns__", {})}
    return {name: renamed.get(name, name) for name in names}


def rows_to_nodes(node_type: type, rows: Sequence[dict[str, Any]]) -> list[Any]:
    return [node_type(**row) for row in rows]


def node_of(node_type: type, instance: Model) -> Any:
    """The graph's object for a model instance a service just wrote."""
    return node_type(**{alias: getattr(instance, column) for alias, column in columns(node_type).items()})


async def fetch_nodes(node_type: type, queryset) -> list[Any]:
    return rows_to_nodes(node_type, await queryset.values(**columns(node_type)))


# Building a query through Tortoise takes longer than the database takes to answer it, and a
# loader's queries differ from request to request only in the values they carry: the keys and the
# viewer's. So the SQL of each shape of query is built once per process, with stand-ins for those
# values, and reused with the request's values put in the stand-ins' places. This holds as long as
# the scopes (resolvers.scopes) use the viewer's ids and names only as values to filter on; the
# viewer's role, and which of its fields are empty, are part of the shape. A shape whose stand-ins
# do not all come back unchanged as parameters of the SQL is built afresh each time.
_STAND_IN = -7_319_250_000_000_000  # ids are never negative
_STAND_IN_DIGITS = "73192500000"
_STAND_IN_TEXT = "stand-in:7319250:"
_SHAPES_KEPT = 2048
_ONE_PARENT = -5_551_230_000_000_000  # the parent of a LATERAL query, replaced by each parent's id
_shapes: OrderedDict[tuple, tuple[str, list[Any]] | None] = OrderedDict()
BuildSQL = Callable[[Any, list[Any]], tuple[str, list[Any]]]


def shaped_sql(shape: Hashable, viewer: Any, keys: list[Any], build: BuildSQL) -> tuple[str, list[Any]]:
    """The SQL and parameters that ``build(viewer, keys)`` makes through Tortoise.

    ``shape`` names everything the query depends on but the keys and the viewer: the database's
    dialect, the loader, its filters, its window.
    """
    hashable_record = dataclasses.is_dataclass(viewer) and type(viewer).__hash__ is not None
    if not all(type(key) is int for key in keys) or not (viewer is None or hashable_record):
        return build(viewer, keys)
    stand_in_viewer, viewer_shape, viewer_values = _stand_in_viewer(viewer)
    values = dict(viewer_values)
    stand_in_keys = [_STAND_IN - 100 - i for i in range(len(keys))]
    values.update(zip(stand_in_keys, keys))
    cache_key = (shape, viewer_shape, len(keys))
    if cache_key in _shapes:
        _shapes.move_to_end(cache_key)
        built = _shapes[cache_key]
    else:
        sql, parameters = build(stand_in_viewer, stand_in_keys)
        built = _shapes[cache_key] = (sql, parameters) if _reusable(sql, parameters, values, stand_in_keys) else None
        if len(_shapes) > _SHAPES_KEPT:
            _shapes.popitem(last=False)
    if built is None:
        return build(viewer, keys)
    sql, parameters = built
    return sql, [values.get(p, p) if type(p) in (int, str) else keys if p == stand_in_keys else p for p in parameters]


@lru_cache(maxsize=1024)
def _stand_in_viewer(viewer: Any) -> tuple[Any, tuple, dict[Any, Any]]:
    """The viewer with a stand-in for each of its whole numbers and texts, its shape (every other
    field's value, and which fields were stood in for), and the values the stand-ins stand for."""
    if viewer is None:
        return None, (), {}
    changes: dict[str, Any] = {}
    values: dict[Any, Any] = {}
    shape = []
    for number, field in enumerate(dataclasses.fields(viewer)):
        value = getattr(viewer, field.name)
        if type(value) is int:
            stand_in: Any = _STAND_IN - number
        elif type(value) is str:
            stand_in = f"{_STAND_IN_TEXT}{number}"
        else:  # None, a role: the same SQL only for the same value
            shape.append((field.name, value))
            continue
        changes[field.name] = stand_in
        values[stand_in] = value
        shape.append((field.name, type(value)))
    return dataclasses.replace(viewer, **changes), tuple(shape), values


def _reusable(sql: str, parameters: list[Any], values: dict[Any, Any], stand_in_keys: list[int]) -> bool:
    """Every key came back as a parameter, or all of them as one list, and no stand-in came back
    but as a whole parameter."""
    if _STAND_IN_DIGITS in sql or _STAND_IN_TEXT in sql:
        return False
    for parameter in parameters:
        if type(parameter) in (int, str) and parameter in values or parameter == stand_in_keys:
            continue
        if _STAND_IN_DIGITS in str(parameter) or _STAND_IN_TEXT in str(parameter):
            return False  # changed on its way, or inside another list
    return stand_in_keys in parameters or set(stand_in_keys) <= {p for p in parameters if type(p) is int}


@lru_cache(maxsize=256)
def _converters(model: type[Model], node_type: type, native: tuple[str, ...]) -> list[tuple[str, Callable[[Any], Any]]]:
    return [
        (alias, _converter(model._meta.fields_map[column]))
        for alias, column in columns(node_type).items()
        if column not in native
    ]


def _converter(field: fields.Field) -> Callable[[Any], Any]:
    """``field.to_python_value``; for an enum, its members looked up by value first (a tenth of the
    time of calling the enum, for the same member)."""
    convert = field.to_python_value
    if type(field).to_python_value is not CharEnumFieldInstance.to_python_value:
        return convert
    members = field.enum_type._value2member_map_

    def member(value: Any) -> Any:
        found = members.get(value, members)
        return convert(value) if found is members else found

    return member


def _dialect(model: type[Model]) -> str:
    return model._meta.db.capabilities.dialect


async def fetch_rows(model: type[Model], node_type: type, sql: str, parameters: list[Any]) -> list[dict[str, Any]]:
    """The rows of ``sql``, the node type's columns converted as ``values()`` converts them (one the
    driver reads as its Python type is kept as read), any other column as read."""
    meta = model._meta
    converters = _converters(model, node_type, tuple(field_name for _, field_name, _ in meta.db_native_fields))
    rows = await meta.db.execute_query_dict(sql, parameters)
    for row in rows:
        for alias, convert in converters:
            row[alias] = convert(row[alias])
    return rows


class ById(DataLoader[Any, Any]):
    """One entity by primary key; a missing key loads as None."""

    def __init__(self, model: type[Model], node_type: type, viewer: Any) -> None:
        super().__init__(load_fn=self._load)
        self.model, self.node_type, self.viewer = model, node_type, viewer

    def parse_key(self, text: str) -> Any:
        """The primary key written in a global id, or None when it cannot be one."""
        if isinstance(self.model._meta.pk, fields.UUIDField):
            try:
                key = uuid.UUID(text)
            except ValueError:
                return None
            return key if str(key) == text else None
        return whole_number(text)

    async def _load(self, keys: list[int]) -> list[Any]:
        def build(viewer: Any, ids: list[Any]) -> tuple[str, list[Any]]:
            return sql_of(scoped(self.model.filter(id__in=ids), self.model, viewer).values(**columns(self.node_type)))

        shape = (_dialect(self.model), ById, self.model, self.node_type)
        sql, parameters = shaped_sql(shape, self.viewer, keys, build)
        rows = await fetch_rows(self.model, self.node_type, sql, parameters)
        found = {node.db_id: node for node in rows_to_nodes(self.node_type, rows)}
        return [found.get(key) for key in keys]


class ByParent:
    """The rows of a child table for a parent id, filtered and ordered in SQL.

    ``load(parent_id, **filters)`` loads them all; with ``window=n`` only the first n (the last n
    when ``backwards``), ranked in SQL, so that a page of a long history reads only that page.
    None filters are ignored. Parents asked for alike in one tick share one query.
    """

    def __init__(
        self, model: type[Model], node_type: type, viewer: Any, parent: str, order: Sequence[str], single: bool = False
    ):
        self.model, self.node_type, self.parent, self.order, self.single = model, node_type, parent, order, single
        self.viewer = viewer
        self._rows: DataLoader[tuple, Any] = DataLoader(load_fn=self._load_rows)
        self._counts: DataLoader[tuple, int] = DataLoader(load_fn=self._load_counts)

    def load(self, parent_id: int, *, window: int | None = None, backwards: bool = False, **filters: Hashable):
        return self._rows.load((parent_id, _active(filters), window, backwards))

    def count(self, parent_id: int, **filters: Hashable):
        return self._counts.load((parent_id, _active(filters)))

    def _filtered(self, parent_ids: list[int], active: tuple, viewer: Any) -> QuerySet:
        queryset = self.model.filter(**{f"{self.parent}__in": parent_ids}, **dict(active))
        return scoped(queryset, self.model, viewer)

    async def _load_rows(self, keys: list[tuple]) -> list[Any]:
        grouped: dict[tuple, list[Any]] = defaultdict(list)
        for (active, window, backwards), parent_ids in _group_parents(keys).items():

            def build(
                viewer: Any,
                ids: list[Any],
                active: tuple = active,
                window: int | None = window,
                backwards: bool = backwards,
            ) -> tuple[str, list[Any]]:
                if window is not None and _dialect(self.model) == "postgres":
                    return self._each_parents_window_sql(ids, active, viewer, window, backwards)
                queryset = self._filtered(ids, active, viewer)
                if window is None:
                    return sql_of(queryset.order_by(*self.order).values(**columns(self.node_type), _parent=self.parent))
                return self._ranked_sql(queryset, window, backwards)

            shape = (
                _dialect(self.model),
                ByParent,
                self.model,
                self.node_type,
                self.parent,
                tuple(self.order),
                active,
                window,
                backwards,
            )
            sql, parameters = shaped_sql(shape, self.viewer, parent_ids, build)
            for row in await fetch_rows(self.model, self.node_type, sql, parameters):
                grouped[(row.pop("_parent"), active, window, backwards)].append(self.node_type(**row))
        if self.single:
            return [next(iter(grouped.get(key, ())), None) for key in keys]
        return [grouped.get(key, []) for key in keys]

    def _ranked(self, queryset: QuerySet, backwards: bool) -> QuerySet:
        """The rows with their rank in each parent's list, counted from its end when ``backwards``."""
        table = self.model._meta.db_table  # qualified: a scope may join another table with an id
        terms = []
        for term in self.order:
            descending = term.startswith("-") != backwards
            terms.append(f'"{table}"."{term.lstrip("-")}" {"DESC" if descending else "ASC"}')
        rank = RawSQL(
            f"ROW_NUMBER() OVER (PARTITION BY {_parent_column(table, self.parent)} ORDER BY {', '.join(terms)})"
        )
        return queryset.annotate(_rank=rank)

    def _window_of(self, inner: str, window: int, backwards: bool, source: str = "") -> str:
        wanted = ", ".join(f'ranked."{alias}"' for alias in [*columns(self.node_type), "_parent"])  # not the rank
        return (
            f"SELECT {wanted} FROM {source}({inner}) AS ranked WHERE ranked._rank <= {int(window)} "
            f"ORDER BY ranked._parent, ranked._rank {'DESC' if backwards else 'ASC'}"
        )

    def _ranked_sql(self, queryset: QuerySet, window: int, backwards: bool) -> tuple[str, list[Any]]:
        """The first ``window`` rows of each parent (the last, when ``backwards``), in list order:
        every row of the parents ranked, then the first ranks kept."""
        ranked = self._ranked(queryset, backwards).values(**columns(self.node_type), _parent=self.parent, _rank="_rank")
        inner, parameters = sql_of(ranked)
        return self._window_of(inner, window, backwards), parameters

    def _each_parents_window_sql(
        self, parent_ids: list[int], active: tuple, viewer: Any, window: int, backwards: bool
    ) -> tuple[str, list[Any]]:
        """As _ranked_sql, on PostgreSQL: each parent's rows read on their own (LATERAL), in list
        order up to the window, so that an index on the parent and the order reads only the window
        of a long history instead of ranking all of it. The parents are one array parameter."""
        one = scoped(self.model.filter(**{self.parent: _ONE_PARENT}, **dict(active)), self.model, viewer)
        order = [
            "-" + term.lstrip("-") if term.startswith("-") != backwards else term.lstrip("-") for term in self.order
        ]
        ranked = (
            self._ranked(one, backwards)
            .order_by(*order)
            .limit(window)
            .values(**columns(self.node_type), _parent=self.parent, _rank="_rank")
        )
        inner, parameters = sql_of(ranked)
        if parameters.count(_ONE_PARENT) != 1:
            raise RuntimeError(f"the parent of {self.model.__name__} is not one parameter of its query: {parameters}")
        position = parameters.index(_ONE_PARENT) + 1

        def renumbered(match: re.Match) -> str:  # the parents' array is $1; the stand-in, each parent
            number = int(match.group(1))
            return '"parents"."id"' if number == position else f"${number + 1 if number < position else number}"

        inner = re.sub(r"\$(\d+)\b", renumbered, inner)
        source = 'unnest($1::bigint[]) AS "parents"("id") CROSS JOIN LATERAL '
        rest = [p for number, p in enumerate(parameters, 1) if number != position]
        return self._window_of(inner, window, backwards, source), [list(parent_ids), *rest]

    async def _load_counts(self, keys: list[tuple]) -> list[int]:
        counts: dict[tuple, int] = {}
        for (active,), parent_ids in _group_parents(keys).items():

            def build(viewer: Any, ids: list[Any], active: tuple = active) -> tuple[str, list[Any]]:
                return sql_of(
                    self._filtered(ids, active, viewer)
                    .annotate(_count=Count("id"))
                    .group_by(self.parent)
                    .values(_parent=self.parent, _count="_count")
                )

            shape = (_dialect(self.model), ByParent.count, self.model, self.parent, active)
            sql, parameters = shaped_sql(shape, self.viewer, parent_ids, build)
            rows = await self.model._meta.db.execute_query_dict(sql, parameters)
            counts.update({(row["_parent"], active): int(row["_count"]) for row in rows})
        return [counts.get(key, 0) for key in keys]


def _parent_column(table: str, parent: str) -> str:
    """The parent key in SQL: a column of ``table``, or one reached through relations
    ("period__policy__employer_id"), read from the join Tortoise names after its path."""
    *path, column = parent.split("__")
    return f'"{"__".join([table, *path])}"."{column}"'


def _active(filters: dict[str, Hashable]) -> tuple:
    return tuple(sorted((name, value) for name, value in filters.items() if value is not None))


def _group_parents(keys: list[tuple]) -> dict[tuple, list[int]]:
    """Parent ids by the rest of their key: one query per distinct rest."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for parent_id, *rest in keys:
        groups[tuple(rest)].append(parent_id)
    return groups


class ParametersInForce:
    """Every parameter value, read once per request on first use (the table is small): the fields
    asking at once (each arrear's interest on a page) share the one read through a loader."""

    def __init__(self) -> None:
        self._rows: DataLoader[str, list[tuple[Any, int, Any]]] = DataLoader(load_fn=self._read)

    @staticmethod
    async def _read(keys: list[str]) -> list[list[tuple[Any, int, Any]]]:
        rows = list(
            await models.Parameter.all().order_by("effective_from").values_list("code", "effective_from", "value")
        )
        return [rows for _ in keys]

    async def value(self, code: Any, month: int) -> Any:
        """The value of ``code`` in force in ``month`` (YYYYMM), or None."""
        in_force = None
        for row_code, effective_from, value in await self._rows.load("all"):
            if row_code == code and effective_from <= month:
                in_force = value
        return in_force


class PendingJobs(DataLoader[str, Any]):
    """The unfinished job whose key starts with a prefix ("card-photo:12", "reprice:2026:"), for the
    objects a job is changing (docs/api.md 5); jobs are for administrators, others read null."""

    def __init__(self, node_type: type, viewer: Any) -> None:
        super().__init__(load_fn=self._load)
        self.node_type, self.viewer = node_type, viewer

    async def _load(self, prefixes: list[str]) -> list[Any]:
        wanted = Q(dedupe_key__startswith=prefixes[0])
        for prefix in prefixes[1:]:
            wanted |= Q(dedupe_key__startswith=prefix)
        queryset = scoped(
            models.Job.filter(wanted, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)), models.Job, self.viewer
        )
        rows = await queryset.order_by("created_at").values(**columns(self.node_type), _key="dedupe_key")
        found: dict[str, Any] = {}
        for row in rows:
            key = row.pop("_key")
            for prefix in prefixes:
                if key.startswith(prefix):
                    found[prefix] = self.node_type(**row)
        return [found.get(prefix) for prefix in prefixes]


class OwedByMonth:
    """What employers owe month by month (E4): the employers of a page asked for the same months
    share one query. Only the months the viewer may read are summed (A6)."""

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        self._owed: DataLoader[tuple, Any] = DataLoader(load_fn=self._load)

    def load(self, employer_id: int, first: Any, last: Any):
        return self._owed.load((employer_id, first, last))

    async def _load(self, keys: list[tuple]) -> list[Any]:
        found: dict[tuple, Any] = {}
        within = scope(models.ContributionPeriod, self.viewer)
        for (first, last), employer_ids in _group_parents(keys).items():
            try:
                owed = await back_payment.owed_by_month_of(employer_ids, first, last, within)
            except BusinessError as refusal:  # a bad range fails its own keys only
                owed = dict.fromkeys(employer_ids, refusal)
            found.update({(employer_id, first, last): months for employer_id, months in owed.items()})
        return [found[key] for key in keys]


class ContributionRecords(DataLoader[int, Any]):
    """Persons' contribution records (Q2, Q3, services.information.contribution_records): a page's
    persons in two queries. Only persons the viewer may read are read (A6: resolvers.scopes, as by
    every loader), though the Person asked about was itself read through that scope; one out of it
    fails as NOT_FOUND, as a missing person always has. The months counted are all the person's paid
    months whoever paid them, as the record has always counted: its subject is the person, not rows
    of the viewer's (an agent reads its staff member's whole record, not only its own channel)."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(load_fn=self._load)
        self.viewer = viewer

    async def _load(self, person_ids: list[int]) -> list[Any]:
        found = await information.contribution_records(person_ids, within=scope(models.Person, self.viewer))
        return [
            found[person_id] if person_id in found else BusinessError(ErrorCode.NOT_FOUND, "no such person", "personId")
            for person_id in person_ids
        ]


async def _transaction_details(viewer: Any, transaction_ids: list[int]) -> list[dict[str, Any] | None]:
    """Transactions' details, read only when a field derived from them is asked: a filing's hold
    every line."""
    queryset = scoped(models.BusinessTransaction.filter(id__in=transaction_ids), models.BusinessTransaction, viewer)
    found = dict(await queryset.values_list("id", "details"))
    return [found.get(transaction_id) for transaction_id in transaction_ids]


async def _usernames(account_ids: list[int]) -> list[str | None]:
    """Usernames by account: an account's name is no secret to those who may read its acts."""
    found = dict(await models.Account.filter(id__in=account_ids).values_list("id", "username"))
    return [found.get(account_id) for account_id in account_ids]


class Loaders:
    """The request's loaders; each reads only what ``viewer`` may see (resolvers.scopes). ``kinds``
    names the graph's entities: a loader by id for each, under its name, and the lists below."""

    def __init__(self, kinds: Sequence[NodeKind], viewer: Any = None) -> None:
        self.viewer = viewer
        self.parameters = ParametersInForce()
        self._by_type_name: dict[str, ById] = {}
        node_types = {kind.model: kind.node_type for kind in kinds}
        for kind in kinds:
            loader = ById(kind.model, kind.node_type, viewer)
            setattr(self, kind.loader, loader)
            self._by_type_name[kind.node_type.__name__] = loader

        def by_parent(model: type[Model], parent: str, *order: str, single: bool = False) -> ByParent:
            return ByParent(model, node_types[model], viewer, parent, order, single)

        self.username = DataLoader(load_fn=_usernames)
        self.transaction_details = DataLoader(load_fn=partial(_transaction_details, viewer))
        self.owed_by_month = OwedByMonth(viewer)
        self.pending_job = PendingJobs(node_types[models.Job], viewer)
        self.contribution_record = ContributionRecords(viewer)

        self.policies_of_person = by_parent(models.Policy, "person_id", "start_month", "id")
        self.periods_of_person = by_parent(models.ContributionPeriod, "person_id", "month", "insurance_type", "id")
        self.periods_of_policy = by_parent(models.ContributionPeriod, "policy_id", "month")
        self.arrears_of_person = by_parent(models.Arrear, "person_id", "month", "insurance_type", "id")
        self.payment_orders_of_person = by_parent(models.PaymentOrder, "person_id", "-id")
        self.lines_of_order = by_parent(models.PaymentOrderLine, "order_id", "month", "insurance_type", "id")
        self.card_applications_of_person = by_parent(models.MedicalCardApplication, "person_id", "-id")
        self.passbook_of_person = by_parent(models.Passbook, "person_id", "id", single=True)
        self.entries_of_passbook = by_parent(models.LedgerEntry, "passbook_id", "booked_at", "id")
        self.employments_of_person = by_parent(models.Employment, "person_id", "start_month", "id")
        self.employments_of_employer = by_parent(models.Employment, "employer_id", "start_month", "id")
        self.transactions_of_person = by_parent(models.BusinessTransaction, "person_id", "-submitted_at", "-id")
        self.transactions_of_employer = by_parent(models.BusinessTransaction, "employer_id", "-submitted_at", "-id")
        self.arrears_of_employer = by_parent(  # its staff's employer-channel arrears (E4)
            models.Arrear, "period__policy__employer_id", "month", "person_id", "insurance_type", "id"
        )
        self.appointments_of_person = by_parent(models.Appointment, "person_id", "-id")
        self.appointments_of_employer = by_parent(models.Appointment, "employer_id", "-id")

    def by_type(self, type_name: str) -> ById | None:
        return self._by_type_name.get(type_name)
