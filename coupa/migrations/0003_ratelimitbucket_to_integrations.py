# The rate-limit bucket now belongs to `integrations` (same table).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('coupa', '0002_chartofaccounts_account_commodity_coupauser_currency_and_more'),
        ('integrations', '0005_neutral_connection'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='RateLimitBucket')],
            database_operations=[],
        ),
    ]
