# The audit trail moves from `integrations` to `spendflo.audit`; the table stays where it is.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('integrations', '0004_audit_needs_attention'),
        ('organizations', '0002_cache_table'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor_label', models.CharField(blank=True, help_text="Email or 'system'.", max_length=255)),
                        ('action', models.CharField(choices=[('connect', 'Connected'), ('edit', 'Edited configuration'), ('validate', 'Validated connection'), ('disconnect', 'Disconnected'), ('archive', 'Archived instance'), ('charts_change', 'Changed charts of accounts'), ('toggle', 'Changed Show to Users'), ('sync_request', 'Requested a sync'), ('key_rotation', 'Rotated encryption key'), ('needs_attention', 'Connection needs attention')], max_length=32)),
                        ('summary', models.CharField(max_length=500)),
                        ('details', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='audit_events', to='organizations.organization')),
                        ('connection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='audit_events', to='integrations.connection')),
                    ],
                    options={
                        'db_table': 'integrations_auditevent',
                        'ordering': ['-created_at', '-pk'],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
