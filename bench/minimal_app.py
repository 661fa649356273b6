"""The least a hand-written GraphQL server would do for the benchmark's read queries: a Starlette
app, a graphql-core schema of the same shape as the product's, hand-written SQL on asyncpg.

It answers two documents of the product's API from the product's database, and nothing else:

- a person's own records, signed in as the person (``me { person { ... } }``);
- a page of persons with their policies and last twelve months, for an administrator
  (``persons(first: N)``, the query of bench/read_path.py).

Like the product, it finds the session by the token's SHA-256 digest and checks it is still live
(not ended or expired, account active, certificate not revoked, not older than the password),
then reads what the query asks with one statement per list. ID numbers are masked as the product
masks them for an administrator. Every request is parsed, validated and executed by
``graphql()``, or with BENCH_CACHE_DOCUMENTS=1 each distinct document is parsed and validated once,
as the product does. Served by uvicorn like the product (bench/peak_day.py starts it):

    BENCH_DATABASE_URL=postgres://... uvicorn bench.minimal_app:create_app --factory --workers N
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    execute,
    graphql,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.identifiers import mask_resident_id

DATABASE_URL_VARIABLE = "BENCH_DATABASE_URL"
CACHE_VARIABLE = "BENCH_CACHE_DOCUMENTS"
POOL_SIZE = 5  # as Tortoise's default pool, per process

SESSION_SQL = """
SELECT a.id AS account_id, a.username, a.role, a.person_id
FROM account_session s
JOIN account a ON a.id = s.account_id
LEFT JOIN certificate c ON c.id = s.certificate_id
WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND a.is_active
  AND (s.certificate_id IS NULL OR c.revoked_at IS NULL)
  AND (a.password_changed_at IS NULL OR s.created_at >= a.password_changed_at)"""

OWED = ("OPEN", "ORDERED")
DEFAULT_PAGE = 20


def global_id(kind: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def month_text(month: int | None) -> str | None:
    return None if month is None else f"{month // 100:04d}-{month % 100:02d}"


def exact(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def money(value: Any) -> str | None:
    return None if value is None else str(value)


def _list_field(name: str, node: GraphQLObjectType, arguments: dict | None = None) -> GraphQLField:
    """A connection field over a plain list: {"edges": [{"node": item}]}."""
    edge = GraphQLObjectType(f"{name}Edge", {"node": GraphQLField(node, resolve=lambda item, _info: item)})
    connection = GraphQLObjectType(
        f"{name}Connection",
        {
            "edges": GraphQLField(GraphQLList(edge), resolve=lambda items, _info: items),
        },
    )
    return GraphQLField(connection, args=arguments or {})


def _strings(*names: str) -> dict[str, GraphQLField]:
    return {name: GraphQLField(GraphQLString) for name in names}


def build_schema() -> GraphQLSchema:
    policy = GraphQLObjectType("Policy", _strings("insuranceType", "channel", "status", "grade", "startMonth"))
    period = GraphQLObjectType(
        "ContributionPeriod", _strings("month", "insuranceType", "base", "amount", "status", "paidVia")
    )
    arrear = GraphQLObjectType("Arrear", _strings("id", "month", "insuranceType", "principal", "status"))
    passbook = GraphQLObjectType("Passbook", _strings("balance"))
    person = GraphQLObjectType(
        "Person",
        {
            **_strings("id", "name", "idNumber", "category", "phone", "address"),
            "passbook": GraphQLField(passbook),
            "policies": _list_field("Policy", policy),
            "arrears": _list_field("Arrear", arrear),
            "periods": _list_field("ContributionPeriod", period, {"last": GraphQLArgument(GraphQLInt)}),
        },
    )
    me = GraphQLObjectType(
        "Me",
        {
            **_strings("username", "role"),
            "person": GraphQLField(person, resolve=own_records),
        },
    )
    persons = _list_field("Person", person, {"first": GraphQLArgument(GraphQLNonNull(GraphQLInt))})
    persons.resolve = persons_page
    query = GraphQLObjectType(
        "Query", {"me": GraphQLField(me, resolve=lambda _root, info: info.context["viewer"]), "persons": persons}
    )
    return GraphQLSchema(query)


def _policy(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "insuranceType": row["insurance_type"],
        "channel": row["channel"],
        "status": row["status"],
        "grade": exact(row["grade"]),
        "startMonth": month_text(row["start_month"]),
    }


def _period(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "month": month_text(row["month"]),
        "insuranceType": row["insurance_type"],
        "base": money(row["base"]),
        "amount": money(row["amount"]),
        "status": row["status"],
        "paidVia": row["paid_via"],
    }


async def own_records(viewer: dict[str, Any], info: Any) -> dict[str, Any] | None:
    """A person's page: themself, their passbook, policies, owed arrears and last twelve months."""
    person_id = viewer["person_id"]
    if person_id is None:
        return None
    async with info.context["pool"].acquire() as connection:
        row = await connection.fetchrow(
            "SELECT id, name, id_number, category, phone, address FROM person WHERE id = $1", person_id
        )
        passbook = await connection.fetchrow(
            "SELECT balance FROM passbook WHERE person_id = $1 ORDER BY id LIMIT 1", person_id
        )
        policies = await connection.fetch(
            "SELECT insurance_type, channel, status, grade, start_month FROM policy WHERE person_id = $1"
            " ORDER BY start_month, id LIMIT $2",
            person_id,
            DEFAULT_PAGE,
        )
        arrears = await connection.fetch(
            "SELECT id, month, insurance_type, principal, status FROM arrear WHERE person_id = $1"
            " AND status = ANY($2) ORDER BY month, insurance_type, id LIMIT $3",
            person_id,
            list(OWED),
            DEFAULT_PAGE,
        )
        periods = await connection.fetch(
            "SELECT month, insurance_type, base, amount, status, paid_via FROM contribution_period WHERE person_id = $1"
            " ORDER BY month DESC, insurance_type DESC, id DESC LIMIT 12",
            person_id,
        )
    if row is None:
        return None
    return {
        "id": global_id("Person", row["id"]),
        "name": row["name"],
        "idNumber": row["id_number"],  # their own: whole
        "category": row["category"],
        "phone": row["phone"],
        "address": row["address"],
        "passbook": None if passbook is None else {"balance": money(passbook["balance"])},
        "policies": [_policy(policy) for policy in policies],
        "arrears": [
            {
                "id": global_id("Arrear", a["id"]),
                "month": month_text(a["month"]),
                "insuranceType": a["insurance_type"],
                "principal": money(a["principal"]),
                "status": a["status"],
            }
            for a in arrears
        ],
        "periods": [_period(period) for period in reversed(periods)],
    }


async def persons_page(_root: Any, info: Any, first: int) -> list[dict[str, Any]]:
    """bench/read_path.py's baseline: a page of persons, their policies and last twelve months."""
    if info.context["viewer"]["role"] != "ADMIN":
        raise PermissionError("this benchmark server lets only administrators list persons")
    async with info.context["pool"].acquire() as connection:
        rows = await connection.fetch("SELECT id, name, id_number FROM person ORDER BY id LIMIT $1", first)
        ids = [row["id"] for row in rows]
        policies = await connection.fetch(
            "SELECT person_id, insurance_type, channel, status, grade, start_month FROM policy"
            " WHERE person_id = ANY($1) ORDER BY start_month, id",
            ids,
        )
        periods = await connection.fetch(
            """SELECT person_id, month, insurance_type, base, amount, status, paid_via FROM (
                 SELECT person_id, month, insurance_type, id, base, amount, status, paid_via,
                        row_number() OVER (PARTITION BY person_id ORDER BY month DESC, insurance_type DESC, id DESC) AS n
                 FROM contribution_period WHERE person_id = ANY($1)) recent
               WHERE n <= 12 ORDER BY person_id, month, insurance_type, id""",
            ids,
        )
    policies_of, periods_of = defaultdict(list), defaultdict(list)
    for row in policies:
        policies_of[row["person_id"]].append(_policy(row))
    for row in periods:
        periods_of[row["person_id"]].append(_period(row))
    return [
        {
            "name": row["name"],
            "idNumber": mask_resident_id(row["id_number"]),
            "policies": policies_of[row["id"]],
            "periods": periods_of[row["id"]],
        }
        for row in rows
    ]


def _now() -> dt.datetime:
    frozen = os.environ.get("SHEBAO_NOW")
    return dt.datetime.fromisoformat(frozen) if frozen else dt.datetime.now(dt.UTC)


async def signed_in(pool: asyncpg.Pool, authorization: str | None) -> dict[str, Any] | None:
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    token_hash = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
    async with pool.acquire() as connection:
        row = await connection.fetchrow(SESSION_SQL, token_hash, _now())
    return None if row is None else dict(row)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(text, status_code=status, media_type="application/json; charset=utf-8")


def document_cache(schema: GraphQLSchema):
    """``run(query, **options)``: graphql() with each distinct valid document parsed and validated once."""
    documents: dict[str, DocumentNode] = {}

    async def run(query: str, **options: Any) -> ExecutionResult:
        document = documents.get(query)
        if document is None:
            try:
                document = parse(query)
            except GraphQLError as error:
                return ExecutionResult(None, [error])
            errors = validate(schema, document)
            if errors:
                return ExecutionResult(None, errors)
            documents[query] = document
        result = execute(schema, document, **options)
        return await result if not isinstance(result, ExecutionResult) else result

    return run


def create_app() -> Starlette:
    schema = build_schema()
    state: dict[str, asyncpg.Pool] = {}
    if os.environ.get(CACHE_VARIABLE) == "1":
        run = document_cache(schema)
    else:

        async def run(query: str, **options: Any) -> ExecutionResult:
            return await graphql(schema, query, **options)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        url = os.environ[DATABASE_URL_VARIABLE]
        state["pool"] = await asyncpg.create_pool(
            "postgresql://" + url.split("://", 1)[1], min_size=1, max_size=POOL_SIZE
        )
        try:
            yield
        finally:
            await state["pool"].close()

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        viewer = await signed_in(state["pool"], request.headers.get("authorization"))
        if viewer is None:
            return _json({"errors": [{"message": "Sign in first.", "extensions": {"code": "UNAUTHENTICATED"}}]})
        result = await run(
            body["query"],
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
            context_value={"viewer": viewer, "pool": state["pool"]},
        )
        return _json(result.formatted)

    async def healthz(_request: Request) -> Response:
        return _json({"status": "ok"})

    return Starlette(
        routes=[Route("/graphql", endpoint, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan
    )
