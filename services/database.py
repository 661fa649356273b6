"""Opening, migrating and closing the database."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from settings import Settings


async def apply_migrations(settings: Settings) -> None:
    """Bring the schema up to the latest committed migration (idempotent)."""
    await migrate(config=settings.tortoise_config())
    await Tortoise.close_connections()


async def open_database(settings: Settings) -> None:
    await Tortoise.init(config=settings.tortoise_config())


async def close_database() -> None:
    await Tortoise.close_connections()
