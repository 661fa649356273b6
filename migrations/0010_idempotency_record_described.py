from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0009_job_status_index')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='IdempotencyRecord',
            options={'table': 'idempotency_record', 'app': 'models', 'unique_together': (('account', 'key'),), 'pk_attr': 'id', 'table_description': 'The first answer to a mutation retried with the same key by the same account (docs/api.md 3).'},
        ),
    ]
