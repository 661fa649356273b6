from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0002_parameter_defaults')]

    initial = False

    operations = [
        ops.AddConstraint(
            model_name='Account',
            constraint=UniqueConstraint(fields=('person',), name=None),
        ),
        ops.AddIndex(
            model_name='AccountSession',
            index=Index(fields=['account_id']),
        ),
        ops.AddIndex(
            model_name='AccountSession',
            index=Index(fields=['certificate_id']),
        ),
        ops.AddIndex(
            model_name='Certificate',
            index=Index(fields=['account_id']),
        ),
    ]
