from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_period_grade')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Arrear',
            name='interest',
            field=fields.DecimalField(default=0, description='interest to interest_as_of (P5), kept fresh by a daily job', max_digits=14, decimal_places=2),
        ),
        ops.AddField(
            model_name='Arrear',
            name='interest_as_of',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Job',
            name='heartbeat_at',
            field=fields.DatetimeField(null=True, description='last sign of life of the running attempt', auto_now=False, auto_now_add=False),
        ),
    ]
