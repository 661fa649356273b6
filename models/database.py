"""Opening, migrating and closing the database, and the SQL of a Tortoise query."""

from __future__ import annotations

import errno
import socket
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.context import require_context, set_global_context
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate

from settings import Settings

# The database unreachable, going down or out of connections, or a wait on it timed out: each
# passes without anything being wrong with the work, which may succeed later.
DATABASE_UNAVAILABLE = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    DBConnectionError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.InsufficientResourcesError,  # 53: too many connections, disk full, out of memory
    asyncpg.OperatorInterventionError,  # 57: shutting down, starting up, query cancelled
)
_NETWORK_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN})


def says_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` itself (not what it was raised from) says the database cannot answer now."""
    if isinstance(error, DATABASE_UNAVAILABLE):
        return True
    # asyncio's connect to every address of a host failing: a bare OSError listing them
    return type(error) is OSError and (error.errno in _NETWORK_ERRNOS or str(error).startswith("Multiple exceptions: "))


async def apply_migrations(settings: Settings) -> None:
    """Bring the schema up to the latest committed migration (idempotent)."""
    await migrate(config=settings.tortoise_config())
    await Tortoise.close_connections()


async def open_database(settings: Settings, *, shared_with_other_tasks: bool = False) -> None:
    await Tortoise.init(config=settings.tortoise_config())
    if shared_with_other_tasks:
        # Tortoise keeps its state in a context variable, and a server's requests (or a worker's
        # jobs) run in tasks that do not inherit the opener's context: make it the process's
        # fallback, as Tortoise's own Starlette integration does. Closing the database clears it.
        set_global_context(require_context())


async def close_database() -> None:
    await Tortoise.close_connections()


def sql_of(query: Any) -> tuple[str, list[Any]]:
    """The SQL and parameters of a Tortoise query, as awaiting it would run them."""
    query._choose_db_if_not_chosen()
    query._make_query()
    return query.query.get_parameterized_sql()
