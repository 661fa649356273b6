"""Writing new migration files with Tortoise's autodetector, and the operations it lacks.

Tortoise 1.1 records a new model's CHECK constraints in CreateModel's options but never creates
them, and on SQLite its AddConstraint rebuilds the table without its indexes and UNIQUE
constraints. New files are therefore rewritten to add each CHECK with AddCheckConstraint.

On SQLite, Tortoise 1.1 also removes a field by rebuilding its table: the rebuild loses the
table's indexes and UNIQUE constraints, and its DROP TABLE fails once other tables' rows refer to
the table. New files therefore remove fields with RemoveColumn, which drops the column in place.

The autodetector writes a renamed field as RenameField (ALTER TABLE ... RENAME COLUMN, data kept)
only when nothing else about the field changed; otherwise as a removal and an addition, which
loses the column's data: rename alone, and check the written file.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tortoise.context import TortoiseContext
from tortoise.fields.relational import ManyToManyFieldInstance
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.operations import AddConstraint, RemoveField

from settings import Settings


async def pending_changes(settings: Settings) -> list:
    """The migration writers the autodetector would produce: empty when migrations match models."""
    config = settings.tortoise_config()
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        return await MigrationAutodetector(ctx.apps, config["apps"]).changes()


async def make_migrations(settings: Settings, name: str | None) -> list[Path]:
    written = []
    for writer in await pending_changes(settings):
        if name:
            writer.name = f"{writer.name.split('_', 1)[0]}_{name}"
        path = Path(writer.write())
        path.write_text(removals_as_operations(constraints_as_operations(path.read_text())))
        written.append(path)
    return written


def constraints_as_operations(source: str) -> str:
    """Move CheckConstraints out of CreateModel options into AddConstraint operations."""
    tree = ast.parse(source)
    additions: list[str] = []
    removals: list[tuple[int, int]] = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "CreateModel"):
            continue
        keywords = {kw.arg: kw.value for kw in call.keywords}
        options = keywords.get("options")
        if not isinstance(options, ast.Dict):
            continue
        model_name = ast.literal_eval(keywords["name"])
        for key, value in zip(options.keys, options.values):
            if isinstance(key, ast.Constant) and key.value == "constraints":
                for constraint in value.elts:  # type: ignore[attr-defined]
                    segment = ast.get_source_segment(source, constraint)
                    additions.append(f"        AddCheckConstraint({model_name!r}, {segment}),\n")
                removals.append(_span(source, key, value))
    for start, end in sorted(removals, reverse=True):
        source = source[:start] + source[end:]
    if not additions:
        return source
    closing = source.rindex("    ]")
    source = source[:closing] + "".join(additions) + source[closing:]
    return "from models.migration_files import AddCheckConstraint\n" + source


def removals_as_operations(source: str) -> str:
    """Remove fields with RemoveColumn instead of Tortoise's RemoveField."""
    if "ops.RemoveField(" not in source:
        return source
    source = source.replace("ops.RemoveField(", "RemoveColumn(")
    return "from models.migration_files import RemoveColumn\n" + source


def _span(source: str, key: ast.expr, value: ast.expr) -> tuple[int, int]:
    """Character offsets of ``'constraints': [...]`` and the comma and space after it."""
    lines = source.splitlines(keepends=True)
    offset = [0]
    for line in lines:
        offset.append(offset[-1] + len(line))
    start = offset[key.lineno - 1] + key.col_offset
    end = offset[value.end_lineno - 1] + value.end_col_offset  # type: ignore[operator]
    while source[end] in ", ":
        end += 1
    return start, end


class AddCheckConstraint(AddConstraint):
    """Adds a CHECK constraint. On SQLite the table is rebuilt from its own stored SQL, so that
    its indexes and UNIQUE constraints survive (SQLite's documented twelve-step way)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None or state_editor.DIALECT != "sqlite":
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        table = new_state.apps.get_model(f"{app_label}.{self.model_name}")._meta.db_table
        client = state_editor.client
        _, rows = await client.execute_query(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", [table]
        )
        table_sql = next(row["sql"] for row in rows if row["type"] == "table")
        indexes = [row["sql"] for row in rows if row["type"] == "index"]
        clause = f', CONSTRAINT "{self.constraint.name}" CHECK ({self.constraint.check}))'
        rebuilt = table_sql[: table_sql.rindex(")")] + clause
        rebuilt = rebuilt.replace(f'CREATE TABLE "{table}"', f'CREATE TABLE "new__{table}"', 1)
        await client.execute_script(rebuilt)
        await client.execute_script(f'INSERT INTO "new__{table}" SELECT * FROM "{table}"')
        await client.execute_script(f'DROP TABLE "{table}"')
        await client.execute_script(f'ALTER TABLE "new__{table}" RENAME TO "{table}"')
        for statement in indexes:
            await client.execute_script(statement)


class RemoveColumn(RemoveField):
    """Removes a field. On SQLite with ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35 and later), in
    place: the table keeps its rows, its indexes and its UNIQUE constraints, and the rows of other
    tables referring to it stay valid. SQLite refuses to drop a column that is indexed, UNIQUE, a
    foreign key or named by a CHECK: drop those first."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None or state_editor.DIALECT != "sqlite":
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        field = model._meta.fields_map[self.name]
        if isinstance(field, ManyToManyFieldInstance):  # its own table: dropped whole
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        await state_editor._run_sql(
            state_editor.DELETE_FIELD_TEMPLATE.format(
                table=state_editor._qualify_table_name(model._meta.db_table, model._meta.schema),
                column=field.source_field or field.model_field_name,
            )
        )
