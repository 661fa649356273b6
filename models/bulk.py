"""Writing many rows a statement: COPY on PostgreSQL, ``execute_many`` on SQLite, and updates of
many rows by id. For the demo city and the city-wide jobs, where one ORM save a row would take hours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

SQLITE_BATCH = 10_000
SQLITE_IDS_A_STATEMENT = 900  # under SQLite's oldest limit of bound variables


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]

    def insert_sql(self, dialect: str) -> str:
        names = ", ".join(f'"{column}"' for column in self.columns)
        return f'INSERT INTO "{self.name}" ({names}) VALUES ({marks(dialect, len(self.columns))})'


def marks(dialect: str, count: int, first: int = 1) -> str:
    if dialect == "postgres":
        return ", ".join(f"${i}" for i in range(first, first + count))
    return ", ".join("?" for _ in range(count))


def dialect_of(connection: BaseDBAsyncClient) -> str:
    return connection.capabilities.dialect


async def write_rows(connection: BaseDBAsyncClient, table: Table, rows: Sequence[tuple]) -> None:
    if not rows:
        return
    if dialect_of(connection) == "postgres":
        # COPY on the transaction's own asyncpg connection: many times executemany's pace.
        async with connection.acquire_connection() as raw:
            await raw.copy_records_to_table(table.name, records=rows, columns=list(table.columns))
        return
    sql = table.insert_sql("sqlite")
    for start in range(0, len(rows), SQLITE_BATCH):
        await connection.execute_many(sql, list(rows[start : start + SQLITE_BATCH]))


async def update_by_ids(
    connection: BaseDBAsyncClient, table: str, assignments: dict[str, Any], ids: Sequence[int], condition: str = ""
) -> None:
    """``UPDATE table SET column = value, ... WHERE id IN ids [AND condition]``."""
    if not ids:
        return
    dialect = dialect_of(connection)
    names = list(assignments)
    values = [assignments[name] for name in names]
    settings = ", ".join(f'"{name}" = {mark}' for name, mark in zip(names, marks(dialect, len(names)).split(", ")))
    extra = f" AND {condition}" if condition else ""
    if dialect == "postgres":
        sql = f'UPDATE "{table}" SET {settings} WHERE id = ANY(${len(names) + 1}::bigint[]){extra}'
        await connection.execute_query(sql, [*values, list(ids)])
        return
    for start in range(0, len(ids), SQLITE_IDS_A_STATEMENT):
        part = list(ids[start : start + SQLITE_IDS_A_STATEMENT])
        sql = f'UPDATE "{table}" SET {settings} WHERE id IN ({marks(dialect, len(part))}){extra}'
        await connection.execute_query(sql, [*values, *part])


async def update_each(
    connection: BaseDBAsyncClient, table: str, columns: Sequence[str], rows: Sequence[tuple], types: Sequence[str]
) -> None:
    """Set ``columns`` row by row from tuples of (id, *values); ``types`` are PostgreSQL's for the values."""
    if not rows:
        return
    if dialect_of(connection) == "postgres":
        arrays = ", ".join(f"${i + 1}::{kind}[]" for i, kind in enumerate(["bigint", *types]))
        names = ", ".join(["id", *columns])
        settings = ", ".join(f'"{column}" = v."{column}"' for column in columns)
        sql = f'UPDATE "{table}" AS t SET {settings} FROM unnest({arrays}) AS v({names}) WHERE t.id = v.id'
        await connection.execute_query(sql, [list(column) for column in zip(*rows)])
        return
    settings = ", ".join(f'"{column}" = ?' for column in columns)
    reordered = [(*row[1:], row[0]) for row in rows]
    for start in range(0, len(reordered), SQLITE_BATCH):
        await connection.execute_many(
            f'UPDATE "{table}" SET {settings} WHERE id = ?', reordered[start : start + SQLITE_BATCH]
        )


async def lock_range(connection: BaseDBAsyncClient, table: str, column: str, first: int, last: int) -> None:
    """Lock the rows whose ``column`` is ``first`` to ``last`` for the transaction, in id order so
    that two lockers never wait for each other. NO KEY: inserts referring to the rows (a ledger
    entry, a business transaction) still pass, as their foreign-key checks only share the key.
    SQLite has one writer at a time and needs no lock."""
    if dialect_of(connection) == "postgres":
        await connection.execute_query(
            f'SELECT id FROM "{table}" WHERE "{column}" BETWEEN $1 AND $2 ORDER BY id FOR NO KEY UPDATE', [first, last]
        )
