from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0007_account_unused_lock_columns')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='LoginThrottle',
            options={'table': 'login_throttle', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Failed logins per throttled key: a username or a client address.'},
        ),
        ops.RenameField(
            model_name='LoginThrottle',
            old_name='client_address',
            new_name='key',
        ),
    ]
