# Connection becomes provider-neutral: the provider's non-secret settings move into
# `provider_settings` (for Coupa: client ID, token path, pause, scopes) and the secret
# column is renamed. The audit trail moves to `spendflo.audit` and the rate-limit bucket
# from `coupa` to here; both keep their tables.

from django.db import migrations, models

_MOVED = ("client_id", "token_path", "post_token_pause", "granted_scopes", "missing_scopes")


def to_settings(apps, schema_editor):
    Connection = apps.get_model("integrations", "Connection")
    for connection in Connection.objects.all():
        connection.provider_settings = {name: getattr(connection, name) for name in _MOVED}
        connection.save(update_fields=["provider_settings"])


def from_settings(apps, schema_editor):
    Connection = apps.get_model("integrations", "Connection")
    defaults = {"client_id": "", "token_path": "", "post_token_pause": 5.0,
                "granted_scopes": [], "missing_scopes": []}
    for connection in Connection.objects.all():
        for name in _MOVED:
            setattr(connection, name, connection.provider_settings.get(name, defaults[name]))
        connection.save(update_fields=list(_MOVED))


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0004_audit_needs_attention'),
        ('audit', '0001_initial'),
        ('coupa', '0002_chartofaccounts_account_commodity_coupauser_currency_and_more'),
    ]

    operations = [
        migrations.AddField(
            model_name='connection',
            name='provider_settings',
            field=models.JSONField(blank=True, default=dict, help_text="The provider's own non-secret settings (for Coupa: OAuth client ID, scopes)."),
        ),
        # A default first, so that migrating back can add the column to existing rows.
        migrations.AlterField(
            model_name='connection', name='client_id', field=models.CharField(default='', max_length=255),
        ),
        migrations.RunPython(to_settings, from_settings),
        *[migrations.RemoveField(model_name='connection', name=name) for name in _MOVED],
        migrations.RenameField(
            model_name='connection', old_name='client_secret_encrypted', new_name='secret_encrypted',
        ),
        migrations.AlterField(
            model_name='connection',
            name='secret_encrypted',
            field=models.TextField(blank=True, help_text="The provider's credential secret, Fernet-encrypted; never shown."),
        ),
        migrations.AlterField(
            model_name='connection',
            name='rate_limit',
            field=models.FloatField(default=20.0, help_text='Requests per second to the instance.'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='AuditEvent')],
            database_operations=[],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RateLimitBucket',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('host', models.CharField(max_length=255, unique=True)),
                        ('tat', models.FloatField(default=0.0)),
                        ('penalty_until', models.FloatField(default=0.0)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'coupa_ratelimitbucket',
                        'verbose_name': 'rate-limit bucket',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
