"""Indexes that keep the request-form pickers fast on large instances.

A (connection, sort key, id) index lists offered records a page at a time. On
PostgreSQL, trigram indexes on the searched columns (as Django's `icontains` compares
them: `UPPER(column) LIKE UPPER('%term%')`) answer a search without reading every row;
they need the `pg_trgm` extension, which the migration creates when it may. Without it
(or on SQLite) searches still work, by scanning.
"""

import logging

from django.db import migrations, models, transaction

log = logging.getLogger(__name__)

#: Table -> searched columns (coupa.reference.registry's search_fields of the pickables).
SEARCHED = {
    "coupa_item": ("name", "item_number", "description"),
    "coupa_vendor": ("name", "display_name", "number"),
    "coupa_account": ("code", "name"),
}


def _trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - no privilege: searches scan instead
        log.warning("pg_trgm is not available: picker searches will scan their tables")
        return
    for table, columns in SEARCHED.items():
        for column in columns:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_{column}_trgm "
                f"ON {table} USING gin (UPPER({column}) gin_trgm_ops)"
            )


def _drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, columns in SEARCHED.items():
        for column in columns:
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("coupa", "0003_ratelimitbucket_to_integrations"),
        ("integrations", "0007_fieldmapping_form_field_fieldmapping_version_and_more"),
    ]

    operations = [
        migrations.RunPython(_trigram_indexes, _drop_trigram_indexes),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["connection", "code", "id"], name="coupa_account_picker"),
        ),
        migrations.AddIndex(
            model_name="item",
            index=models.Index(fields=["connection", "name", "id"], name="coupa_item_picker"),
        ),
        migrations.AddIndex(
            model_name="vendor",
            index=models.Index(fields=["connection", "name", "id"], name="coupa_vendor_picker"),
        ),
    ]
