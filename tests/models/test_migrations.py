"""The committed migrations and the models tell the same story."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest
from tortoise.migrations.constraints import CheckConstraint
from tortoise.migrations.operations import AddConstraint, RemoveConstraint

import migrations as package
import models
from models.migration_files import pending_changes, removals_as_operations
from settings import Settings
from tests.conftest import _asyncpg_dsn, _is_postgres, _with_database

ROOT = Path(__file__).resolve().parents[2]


async def test_models_need_no_new_migration(tmp_path):
    settings = Settings(database_url=f"sqlite://{tmp_path / 'empty.sqlite3'}")
    writers = await pending_changes(settings)
    assert writers == [], "models changed without a migration: run `python main.py makemigrations`"


def _migrated_check_constraints() -> dict[str, set[tuple[str, str]]]:
    """CHECK constraints the migrations create, per model, from their AddConstraint operations."""
    found: dict[str, set[tuple[str, str]]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        migration = importlib.import_module(f"migrations.{info.name}").Migration
        for operation in migration.operations:
            if isinstance(operation, AddConstraint) and isinstance(operation.constraint, CheckConstraint):
                found.setdefault(operation.model_name, set()).add(
                    (operation.constraint.name, operation.constraint.check)
                )
            elif isinstance(operation, RemoveConstraint):
                kept = {c for c in found.get(operation.model_name, set()) if c[0] != operation.name}
                found[operation.model_name] = kept
    return found


def test_every_check_constraint_of_the_models_is_created_by_a_migration():
    expected = {
        model.__name__: {(c.name, c.check) for c in model._meta.constraints}
        for model in models.__models__
        if model._meta.constraints
    }
    assert _migrated_check_constraints() == expected


def test_new_migrations_remove_fields_in_place():
    written = "operations = [\n        ops.RemoveField(model_name='Account', name='failed_logins'),\n    ]\n"
    rewritten = removals_as_operations(written)
    assert rewritten.startswith("from models.migration_files import RemoveColumn\n")
    assert (
        "RemoveColumn(model_name='Account', name='failed_logins')" in rewritten and "ops.RemoveField" not in rewritten
    )


# Migrations are applied in a process of their own, as `main.py migrate` applies them, to a
# database of their own: the test database of this run stays as it is.
MIGRATE = """
import asyncio, sys
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from settings import Settings

async def main(url, target):
    try:
        await migrate(config=Settings(database_url=url).tortoise_config(), target=target or None)
    finally:
        await Tortoise.close_connections()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
async def scratch_url(tmp_path):
    """A new empty database on the test run's server: PostgreSQL when DATABASE_URL names one."""
    server_url = os.environ.get("DATABASE_URL", "")
    if not _is_postgres(server_url):
        yield f"sqlite://{tmp_path / 'migrated.sqlite3'}"
        return
    name = f"shebao_migrations_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def migrate_to(url: str, target: str = "") -> None:
    done = subprocess.run(
        [sys.executable, "-c", MIGRATE, url, target], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]


async def sql(url: str, statement: str) -> list[tuple]:
    if url.startswith("sqlite://"):
        with closing(sqlite3.connect(url.removeprefix("sqlite://"))) as connection:
            connection.execute("PRAGMA foreign_keys = ON")
            rows = connection.execute(statement).fetchall()
            connection.commit()
            return rows
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return [tuple(row) for row in await connection.fetch(statement)]
    finally:
        await connection.close()


async def columns(url: str, table: str) -> set[str]:
    if url.startswith("sqlite://"):
        return {name for (name,) in await sql(url, f"SELECT name FROM pragma_table_info('{table}')")}
    return {
        name
        for (name,) in await sql(
            url, f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
        )
    }


async def index_definitions(url: str, table: str) -> list[str]:
    if url.startswith("sqlite://"):
        return [
            text
            for (text,) in await sql(
                url, f"SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND sql IS NOT NULL"
            )
        ]
    return [text for (text,) in await sql(url, f"SELECT indexdef FROM pg_indexes WHERE tablename = '{table}'")]


async def test_accounts_and_login_throttles_keep_their_rows_through_the_migrations(scratch_url):
    """The unused lock columns of Account are dropped, and LoginThrottle's column renamed, in place:
    rows, the rows referring to them, and the indexes stay (a rebuilt SQLite table lost its indexes,
    and could not be dropped while certificates referred to it)."""
    migrate_to(scratch_url, "models.0006_statistics_rollups")
    moment = "'2026-11-19 09:00:00+08:00'"
    await sql(
        scratch_url,
        "INSERT INTO account (id, username, password_hash, role, failed_logins, is_active, created_at)"
        f" VALUES (1, 'demo.admin', 'x', 'ADMIN', 3, TRUE, {moment})",
    )
    await sql(
        scratch_url,
        "INSERT INTO account (id, username, password_hash, role, failed_logins, is_active, created_at,"
        f" granted_by_id) VALUES (2, 'demo.bank', 'x', 'BANK', 0, TRUE, {moment}, 1)",
    )
    await sql(
        scratch_url,
        "INSERT INTO certificate (id, account_id, credential_hash, device_name, installed_at)"
        f" VALUES (1, 2, 'hash', 'kiosk', {moment})",
    )
    await sql(
        scratch_url,
        "INSERT INTO account_session (id, account_id, token_hash, created_at, expires_at)"
        f" VALUES (1, 2, 'token', {moment}, {moment})",
    )
    for key, failures in (("user:demo.bank", 4), ("addr:203.0.113.9", 19)):
        await sql(
            scratch_url,
            "INSERT INTO login_throttle (client_address, failures, window_started_at)"
            f" VALUES ('{key}', {failures}, {moment})",
        )

    migrate_to(scratch_url)

    assert {"failed_logins", "locked_until"}.isdisjoint(await columns(scratch_url, "account"))
    assert await sql(scratch_url, "SELECT id, username, granted_by_id FROM account ORDER BY id") == [
        (1, "demo.admin", None),
        (2, "demo.bank", 1),
    ]
    assert await sql(scratch_url, "SELECT account_id FROM certificate") == [(2,)]
    assert await sql(scratch_url, "SELECT account_id FROM account_session") == [(2,)]
    assert any("UNIQUE" in text and "person_id" in text for text in await index_definitions(scratch_url, "account"))
    assert "client_address" not in await columns(scratch_url, "login_throttle")
    assert await sql(scratch_url, 'SELECT "key", failures FROM login_throttle ORDER BY "key"') == [
        ("addr:203.0.113.9", 19),
        ("user:demo.bank", 4),
    ]
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await sql(
            scratch_url,
            f"INSERT INTO login_throttle (\"key\", failures, window_started_at) VALUES ('user:demo.bank', 1, {moment})",
        )
