from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_login_throttle_key')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Job',
            index=Index(fields=['status', 'created_at']),
        ),
    ]
