from tortoise import migrations
from tortoise.migrations import operations as ops

from domain.parameters import DEFAULT_JSON, DEFAULT_VALUES, DEFAULTS_EFFECTIVE_FROM


async def insert_defaults(apps, schema_editor) -> None:
    parameter = apps.get_model("models.Parameter")
    for code, value in DEFAULT_VALUES.items():
        await parameter.create(code=code, effective_from=DEFAULTS_EFFECTIVE_FROM, value=value,
                               note="default (DOMAIN.md)", using_db=schema_editor.client)
    for code, document in DEFAULT_JSON.items():
        await parameter.create(code=code, effective_from=DEFAULTS_EFFECTIVE_FROM, value_json=document,
                               note="default (DOMAIN.md)", using_db=schema_editor.client)


async def delete_defaults(apps, schema_editor) -> None:
    parameter = apps.get_model("models.Parameter")
    await parameter.filter(effective_from=DEFAULTS_EFFECTIVE_FROM).using_db(schema_editor.client).delete()


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(insert_defaults, delete_defaults)]
