from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_account_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ContributionPeriod',
            name='grade',
            field=fields.DecimalField(null=True, description='the flexible pension grade the month was priced at (P2)', max_digits=8, decimal_places=4),
        ),
    ]
