"""Read path: a page of persons with their policies and last twelve months.

Compares, in the same run and on the same PostgreSQL data, the product schema (strawberry,
Tortoise, DataLoaders) with a minimal graphql-core schema of the same shape answering the same
query from three hand-written SQL statements on asyncpg. Execution only, no HTTP. Creates its
own database and drops it.

A demo city's persons have a few years of months each; ``--history-years N`` gives the persons of
the page N more years of paid months before their first, every policy, as a working life has, to
see how the page's cost follows the length of a history.

    python -m bench.read_path [--persons 5000] [--page 50] [--rounds 200] [--history-years 0]
                              [--server postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    graphql,
)
from tortoise import Tortoise

from bench.machine import machine_line
from demo.city import seed_city
from domain.enums import Role
from domain.identifiers import mask_resident_id
from models.database import apply_migrations
from schema.context import Context
from schema.root import schema as product_schema
from services.common.viewer import Viewer
from settings import Settings

PRODUCT_QUERY = """query Page($first: Int!) { persons(first: $first) { edges { node {
  name idNumber
  policies { edges { node { insuranceType grade } } }
  periods(last: 12) { edges { node { month amount status } } }
} } } }"""


def _connection(name: str, node: GraphQLObjectType, arguments: dict | None = None) -> GraphQLField:
    """A field returning {"edges": [{"node": ...}]} built from a plain list."""
    edge = GraphQLObjectType(f"{name}Edge", {"node": GraphQLField(node, resolve=lambda item, _info: item)})
    connection = GraphQLObjectType(
        f"{name}Connection",
        {
            "edges": GraphQLField(GraphQLList(edge), resolve=lambda items, _info: items),
        },
    )
    return GraphQLField(connection, args=arguments or {})


def baseline_schema(pool: asyncpg.Pool) -> GraphQLSchema:
    """The least a hand-written server would do: three SQL statements per page, ID numbers masked
    as the product masks them for an administrator."""
    policy = GraphQLObjectType(
        "Policy", {"insuranceType": GraphQLField(GraphQLString), "grade": GraphQLField(GraphQLString)}
    )
    period = GraphQLObjectType(
        "Period",
        {
            "month": GraphQLField(GraphQLString),
            "amount": GraphQLField(GraphQLString),
            "status": GraphQLField(GraphQLString),
        },
    )
    person = GraphQLObjectType(
        "Person",
        {
            "name": GraphQLField(GraphQLString),
            "idNumber": GraphQLField(GraphQLString),
            "policies": _connection("Policy", policy),
            "periods": _connection("Period", period, {"last": GraphQLArgument(GraphQLInt)}),
        },
    )

    async def persons(_root, _info, first: int) -> list[dict]:
        async with pool.acquire() as connection:
            rows = await connection.fetch("SELECT id, name, id_number FROM person ORDER BY id LIMIT $1", first)
            ids = [row["id"] for row in rows]
            policies = await connection.fetch(
                (
                    "SELECT person_id, insurance_type, grade FROM policy WHERE person_id = ANY($1) ORDER BY "
                    "start_month, id"
                ),
                ids,
            )
            periods = await connection.fetch(
                """SELECT person_id, month, amount, status FROM (
                     SELECT person_id, month, insurance_type, id, amount, status,
                            row_number() OVER (PARTITION BY person_id ORDER BY month DESC, insurance_type DESC, id DESC) AS n
                     FROM contribution_period WHERE person_id = ANY($1)) recent
                   WHERE n <= 12 ORDER BY person_id, month, insurance_type, id""",
                ids,
            )
        policies_of, periods_of = defaultdict(list), defaultdict(list)
        for row in policies:
            policies_of[row["person_id"]].append(
                {
                    "insuranceType": row["insurance_type"],
                    "grade": None if row["grade"] is None else format(row["grade"].normalize(), "f"),
                }
            )
        for row in periods:
            month = row["month"]
            periods_of[row["person_id"]].append(
                {
                    "month": f"{month // 100:04d}-{month % 100:02d}",
                    "amount": str(row["amount"]),
                    "status": row["status"],
                }
            )
        return [
            {
                "name": row["name"],
                "idNumber": mask_resident_id(row["id_number"]),
                "policies": policies_of[row["id"]],
                "periods": periods_of[row["id"]],
            }
            for row in rows
        ]

    persons_field = _connection("Person", person, {"first": GraphQLArgument(GraphQLNonNull(GraphQLInt))})
    persons_field.resolve = persons
    query = GraphQLObjectType("Query", {"persons": persons_field})
    return GraphQLSchema(query)


async def lengthen_histories(pool: asyncpg.Pool, page: int, years: int) -> float:
    """Give the first ``page`` persons ``years`` more years of paid months before each policy's
    first; the months of a page's person on average."""
    async with pool.acquire() as connection:
        await connection.execute(
            """INSERT INTO contribution_period (month, insurance_type, channel, base, rate, amount, employer_amount,
                                                status, paid_via, paid_at, grade, policy_id, person_id, created_at)
               SELECT earlier.month, first.insurance_type, first.channel, first.base, first.rate, first.amount,
                      first.employer_amount, 'PAID', CASE WHEN first.channel = 'EMPLOYER' THEN 'EMPLOYER'
                      ELSE 'PASSBOOK_DEBIT' END, now(), first.grade, first.policy_id, first.person_id, now()
               FROM (SELECT DISTINCT ON (policy_id) * FROM contribution_period
                     WHERE person_id IN (SELECT id FROM person ORDER BY id LIMIT $1) ORDER BY policy_id, month) first
               CROSS JOIN LATERAL (SELECT (first.month / 100 - back.year) * 100 + calendar.month AS month
                                   FROM generate_series(1, $2) AS back(year), generate_series(1, 12) AS calendar(month)
                                  ) earlier""",
            page,
            years,
        )
        await connection.execute("ANALYZE contribution_period")
        return await connection.fetchval(
            """SELECT count(*)::float / $1 FROM contribution_period
               WHERE person_id IN (SELECT id FROM person ORDER BY id LIMIT $1)""",
            page,
        )


async def timed(run: Callable[[], Awaitable[Any]], rounds: int, warmup: int = 5) -> list[float]:
    """Seconds per round of ``run``, after ``warmup`` rounds that are not counted."""
    for _ in range(warmup):
        await run()
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - start)
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--page", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--history-years", type=int, default=0)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    name = f"shebao_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = "postgresql://" + args.server.split("://", 1)[1]
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = args.server.rsplit("/", 1)[0] + f"/{name}"
    try:
        settings = Settings(database_url=database_url)
        await apply_migrations(settings)
        await Tortoise.init(config=settings.tortoise_config())
        report = await seed_city(persons=args.persons, seed=1)
        pool = await asyncpg.create_pool("postgresql://" + database_url.split("://", 1)[1], min_size=1, max_size=2)
        months_per_person = await lengthen_histories(pool, args.page, args.history_years)
        baseline = baseline_schema(pool)

        async def run_product() -> dict:
            context = Context(viewer=Viewer(0, "bench", Role.ADMIN))
            result = await product_schema.execute(
                PRODUCT_QUERY, variable_values={"first": args.page}, context_value=context
            )
            assert not result.errors, result.errors
            return result.data

        async def run_baseline() -> dict:
            result = await graphql(baseline, PRODUCT_QUERY, variable_values={"first": args.page})
            assert not result.errors, result.errors
            return result.data

        assert await run_product() == await run_baseline(), "the two servers must answer alike"

        product = await timed(run_product, args.rounds)
        plain = await timed(run_baseline, args.rounds)
        await pool.close()
    finally:
        await Tortoise.close_connections()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    product_ms, plain_ms = statistics.median(product) * 1000, statistics.median(plain) * 1000
    print(f"machine: {machine_line()}")
    print(
        f"data: {report.persons} persons, {report.periods} periods; page of {args.page} persons with "
        f"{months_per_person:.0f} months each on average, {args.rounds} rounds"
    )
    print(f"graphql-core + asyncpg, hand-written SQL: median {plain_ms:.1f} ms")
    print(f"product schema (strawberry + Tortoise):  median {product_ms:.1f} ms")
    print(f"throughput ratio product/baseline: {plain_ms / product_ms:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
