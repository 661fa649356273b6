"""Writing new migration files with Tortoise's autodetector.

Tortoise 1.1 records a new model's CHECK constraints in CreateModel's options but never creates
them, so each new file is rewritten to add them with AddConstraint operations, which do.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tortoise.migrations.autodetector import MigrationAutodetector

from tortoise.context import TortoiseContext

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
        path.write_text(constraints_as_operations(path.read_text()))
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
                    additions.append(f"        ops.AddConstraint({model_name!r}, {segment}),\n")
                removals.append(_span(source, key, value))
    for start, end in sorted(removals, reverse=True):
        source = source[:start] + source[end:]
    closing = source.rindex("    ]")
    return source[:closing] + "".join(additions) + source[closing:]


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
