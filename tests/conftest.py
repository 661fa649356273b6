"""Test database: a fresh SQLite file, or a fresh PostgreSQL database when DATABASE_URL points at a
PostgreSQL server. Migrations are applied once per run; the database is dropped afterwards."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from limits.aio.storage import MemoryStorage
from tortoise import Tortoise, connections

from jobs.queue import use_queue
from jobs.registry import run_job
from models.database import apply_migrations
from services.common import clock
from services.common.rate_limits import RateLimiter, use_rate_limiter
from settings import Settings, get_settings

# Tables emptied between tests that ask for a clean database; parameter defaults stay.
_DATA_TABLES = (
    "audit_event",
    "idempotency_record",
    "account_session",
    "certificate",
    "job",
    "appointment",
    "appointment_slot",
    "office",
    "medical_card_application",
    "ledger_entry",
    "payment_order_line",
    "payment_order",
    "arrear",
    "contribution_period",
    "policy",
    "employment",
    "passbook",
    "business_transaction",
    "login_throttle",
    "account",
    "person",
    "employer",
    "community",
    "district",
    "enrollment_rollup",
    "business_volume_rollup",
    "online_adoption_rollup",
    "rollup_month",
)


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "asyncpg://"))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _asyncpg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
async def test_settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    server_url = os.environ.get("DATABASE_URL", "")
    if _is_postgres(server_url):
        name = f"shebao_test_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(_asyncpg_dsn(server_url))
        await admin.execute(f'CREATE DATABASE "{name}"')
        database_url = _with_database(server_url, name)
    else:
        name, admin = None, None
        database_url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    settings = Settings(database_url=database_url, redis_url=os.environ.get("REDIS_URL"))
    try:
        await apply_migrations(settings)
        await Tortoise.init(config=settings.tortoise_config())
        yield settings
    finally:
        await connections.close_all()
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


@pytest.fixture
async def db(test_settings: Settings) -> AsyncIterator[Settings]:
    """An empty database (parameter defaults kept) for tests that write."""
    await empty_tables()
    yield test_settings


async def empty_tables() -> None:
    # A server test's lifespan initialises Tortoise for its own database, which rebinds the
    # models' query builders to that database's dialect: bind them to the test database again.
    Tortoise._build_initial_querysets()
    connection = connections.get("default")
    await connection.execute_script('UPDATE "account" SET granted_by_id = NULL')  # accounts refer to accounts
    for table in _DATA_TABLES:
        await connection.execute_script(f'DELETE FROM "{table}"')
    await connection.execute_script("DELETE FROM \"parameter\" WHERE note IS NULL OR note <> 'default (DOMAIN.md)'")


@pytest.fixture(scope="session", autouse=True)
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Uploaded photos go to a folder of the run, never into the checkout."""
    folder = tmp_path_factory.mktemp("media")
    previous = os.environ.get("MEDIA_DIR")
    os.environ["MEDIA_DIR"] = str(folder)
    get_settings.cache_clear()
    yield folder
    if previous is None:
        os.environ.pop("MEDIA_DIR", None)
    else:
        os.environ["MEDIA_DIR"] = previous
    get_settings.cache_clear()


class HeldQueue:
    """Jobs wait until the test runs them, so that it sees each state in turn."""

    def __init__(self) -> None:
        self.job_ids: list[str] = []

    async def enqueue(self, job_id: str, attempt: int = 0) -> None:
        self.job_ids.append(job_id)

    async def run_all(self) -> None:
        while self.job_ids:
            await run_job({}, self.job_ids.pop(0))

    async def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def held_jobs() -> Iterator[HeldQueue]:
    queue = HeldQueue()
    use_queue(queue)
    yield queue
    use_queue(None)


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Every test counts rate limits from nothing, in this process's memory; a test of the Redis
    storage makes a limiter of its own."""
    use_rate_limiter(RateLimiter(MemoryStorage()))
    yield
    use_rate_limiter(None)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Every test starts on 2026-11-10 10:00 local time unless it sets the clock itself."""
    clock.freeze("2026-11-10T10:00:00+08:00")
    yield
    clock.freeze(None)


class QueryCounter(logging.Handler):
    """Counts SQL statements sent through Tortoise."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().lstrip()
        if message.split(" ", 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            self.statements.append(message)


@pytest.fixture
def count_queries() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(previous)
