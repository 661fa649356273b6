from models.migration_files import RemoveColumn
from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0006_statistics_rollups')]

    initial = False

    operations = [
        RemoveColumn(model_name='Account', name='failed_logins'),
        RemoveColumn(model_name='Account', name='locked_until'),
    ]
