"""The committed migrations and the models tell the same story."""

from __future__ import annotations

import importlib
import pkgutil

from tortoise.migrations.constraints import CheckConstraint
from tortoise.migrations.operations import AddConstraint, RemoveConstraint

import migrations as package
import models
from models.migration_files import pending_changes
from settings import Settings


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
                found.setdefault(operation.model_name, set()).add((operation.constraint.name, operation.constraint.check))
            elif isinstance(operation, RemoveConstraint):
                kept = {c for c in found.get(operation.model_name, set()) if c[0] != operation.name}
                found[operation.model_name] = kept
    return found


def test_every_check_constraint_of_the_models_is_created_by_a_migration():
    expected = {
        model.__name__: {(c.name, c.check) for c in model._meta.constraints}
        for model in models.__models__ if model._meta.constraints
    }
    assert _migrated_check_constraints() == expected
