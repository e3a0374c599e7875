"""Map Coupa records to rows: bulk upserts keyed by (connection, Coupa id).

What each resource's rows hold comes from its declaration in `coupa.reference.registry`
(its `to_row` and the model's Coupa-owned `columns`). Importers never
delete (Coupa deactivates, §4) and never overwrite what belongs to the admin on an
existing row: `show_to_users`, `imported_at`, and a chart's `selected`.

Unknown keys (custom fields, coupa-api.md §9b) are ignored: rows are built from the typed
attributes of `coupa.client.types`, never from the raw payload.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.utils import timezone

from coupa.client import types
from coupa.models import ChartOfAccounts, CoupaRecordModel
from coupa.reference.counts import counts_stale
from coupa.reference.registry import Resource, Row, resource_get
from integrations.models import Connection

__all__ = [
    "ImportBatch",
    "ResourceCounts",
    "chart_pks",
    "deactivate_unseen",
    "import_batch_prepare",
    "import_batch_write",
    "import_charts",
    "import_records",
    "refresh_statistics",
]


@dataclass
class ResourceCounts:
    """What an import did to one resource's rows."""

    created: int = 0
    updated: int = 0  # changed rows, reactivations included
    deactivated: int = 0  # active -> inactive
    unchanged: int = 0

    def add(self, other: ResourceCounts) -> None:
        """Add another batch's counts to these."""
        self.created += other.created
        self.updated += other.updated
        self.deactivated += other.deactivated
        self.unchanged += other.unchanged

    def as_dict(self) -> dict[str, int]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ResourceCounts:
        """Rebuild counts stored on a SyncRun (missing keys count 0)."""
        data = data or {}
        return cls(
            **{k: int(data.get(k, 0)) for k in ("created", "updated", "deactivated", "unchanged")}
        )


def _clip(limits: Mapping[str, int], row: Row) -> Row:
    # One over-long value must not fail a whole page on Postgres; Coupa's own limits
    # (coupa-api.md §5) are below ours, so this only trims corrupt data.
    for key, value in row.items():
        limit = limits.get(key)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            row[key] = value[:limit]
    return row


def chart_pks(*, connection: Connection) -> dict[int, int]:
    """Return {Coupa account-type id: our ChartOfAccounts pk} for the connection."""
    return dict(
        ChartOfAccounts.objects.filter(connection=connection).values_list("external_id", "pk")
    )


def import_records(
    *,
    connection: Connection,
    resource: str,
    records: Iterable[types.CoupaRecord],
    mark_seen: bool = False,
    charts: Mapping[int, int] | None = None,
    portable: bool | None = None,
) -> ResourceCounts:
    """Upsert one batch of records of `resource`; return what changed.

    New rows get `imported_at` now and `show_to_users` from the organization's
    `show_new_records_by_default`; existing rows keep both. Unchanged rows are not
    written, except that `mark_seen` stamps their `synced_at` (an active walk marks what
    Coupa still returns, see `deactivate_unseen`). Accounts link to their chart through
    `charts` ({Coupa id: pk}; loaded when not given). Duplicate ids in a batch: the last
    wins. Side effects: on PostgreSQL one statement (`_upsert_postgres`); elsewhere, or
    with `portable`, one SELECT and at most one INSERT … ON CONFLICT and one UPDATE, in
    one transaction (`_upsert_portable`); `portable` None follows the
    COUPA_SYNC_PORTABLE_UPSERT setting. Both give the same rows and counts. Idempotent.
    The same as `import_batch_write(import_batch_prepare(...))`.
    """
    batch = import_batch_prepare(
        connection=connection,
        resource=resource,
        records=records,
        mark_seen=mark_seen,
        charts=charts,
        portable=portable,
    )
    return import_batch_write(batch)


def import_batch_prepare(
    *,
    connection: Connection,
    resource: str,
    records: Iterable[types.CoupaRecord],
    mark_seen: bool = False,
    charts: Mapping[int, int] | None = None,
    portable: bool | None = None,
) -> ImportBatch:
    """The part of `import_records` done in Python: the batch's rows and, for PostgreSQL,
    the statement's parameters. Writes nothing; a walk prepares a batch while the
    database writes the one before (`coupa.reference.walk`)."""
    spec = resource_get(resource)
    limits = spec.char_limits
    rows: dict[int, Row] = {}
    for record in records:
        row = _clip(limits, spec.to_row(record))
        row["coupa_updated_at"] = _aware(record.updated_at)
        rows[record.id] = row
    if rows and resource == "accounts":
        chart_map = charts if charts is not None else chart_pks(connection=connection)
        for row in rows.values():
            ext = row["chart_external_id"]
            row["chart_id"] = chart_map.get(ext) if ext is not None else None
    alias = router.db_for_write(spec.model)
    # The one-statement path is about 4x faster on changed rows (bench/sync_bench.py).
    if portable is None:
        portable = bool(settings.COUPA_SYNC_PORTABLE_UPSERT)
    batch = ImportBatch(
        spec=spec,
        connection=connection,
        rows=rows,
        columns=spec.columns,
        now=timezone.now(),
        mark_seen=mark_seen,
        alias=alias,
        one_statement=not portable and connections[alias].vendor == "postgresql",
    )
    if rows and batch.one_statement:
        batch.params, batch.defaults = _postgres_params(batch)
    return batch


def import_batch_write(batch: ImportBatch) -> ResourceCounts:
    """Write a prepared batch (see `import_records`); return what changed."""
    if not batch.rows:
        return ResourceCounts()
    with transaction.atomic(using=batch.alias, savepoint=False):
        # Before the rows: the tab counts' lock comes first (coupa.reference.counts).
        counts_stale(connection_id=batch.connection.pk, resources=[batch.spec.name])
        if batch.one_statement:
            return _upsert_postgres(batch)
        return _upsert_portable(batch, batch.alias)


def _aware(value: datetime | None) -> datetime | None:
    # A naive `updated-at` is in the default time zone, as Django would store it; making it
    # aware here lets it compare equal to what was stored (and keeps Django from warning).
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


@dataclass
class ImportBatch:
    """One deduplicated batch, prepared (`import_batch_prepare`): {Coupa id: row values
    (`_columns` and maybe more)}, and where and how it is to be written."""

    spec: Resource
    connection: Connection
    rows: Mapping[int, Row]
    columns: tuple[str, ...]
    now: datetime
    mark_seen: bool
    alias: str = DEFAULT_DB_ALIAS
    one_statement: bool = False
    #: The one statement's parameters and the new rows' default columns (`_postgres_params`).
    params: dict[str, Any] = field(default_factory=dict)
    defaults: tuple[str, ...] = ()

    def new_row_defaults(self) -> Row:
        """Values a new row gets besides the Coupa-owned ones (never written on update)."""
        model = self.spec.model
        owned = {"id", "connection_id", "external_id", "imported_at", "synced_at", *self.columns}
        values: Row = {
            f.attname: f.get_default()
            for f in model._meta.concrete_fields
            if f.attname not in owned
        }
        if self.spec.pickable:
            values["show_to_users"] = self.connection.organization.show_new_records_by_default
        values["imported_at"] = values["synced_at"] = self.now
        return values


def _upsert_portable(batch: ImportBatch, alias: str) -> ResourceCounts:
    """Any database: read the batch's rows, compare in Python, bulk-upsert what differs."""
    with transaction.atomic(using=alias):
        return _upsert_portable_in_transaction(batch, alias)


def _upsert_portable_in_transaction(batch: ImportBatch, alias: str) -> ResourceCounts:
    model = batch.spec.model
    columns = batch.columns
    manager = model._default_manager.db_manager(alias)
    mine = manager.filter(connection=batch.connection)
    active_at = columns.index("active")
    existing = {
        values[0]: values[1:]
        for values in mine.filter(external_id__in=list(batch.rows)).values_list(
            "external_id", *columns
        )
    }
    counts = ResourceCounts()
    defaults = batch.new_row_defaults()
    to_write: list[CoupaRecordModel] = []
    unchanged: list[int] = []
    for ext_id, row in batch.rows.items():
        new = tuple(row[c] for c in columns)
        old = existing.get(ext_id)
        if old is None:
            counts.created += 1
        elif new == old:
            unchanged.append(ext_id)
            continue
        elif old[active_at] and not new[active_at]:
            counts.deactivated += 1
        else:
            counts.updated += 1
        values = dict(zip(columns, new, strict=True))
        to_write.append(
            model(connection=batch.connection, external_id=ext_id, **defaults, **values)
        )
    counts.unchanged = len(unchanged)
    if to_write:
        # ON CONFLICT DO UPDATE writes only the Coupa-owned columns: show_to_users,
        # imported_at and a chart's `selected` stay as they are.
        manager.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["connection", "external_id"],
            update_fields=[*columns, "synced_at"],
        )
    if batch.mark_seen and unchanged:
        mine.filter(external_id__in=unchanged).update(synced_at=batch.now)
    return counts


def _postgres_params(batch: ImportBatch) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The parameters of `_upsert_postgres`'s statement (the batch as one JSON document)
    and the names of the new rows' defaults among them."""
    payload = [{**row, "external_id": ext_id} for ext_id, row in batch.rows.items()]
    db = connections[batch.alias]
    params: dict[str, Any] = {
        "rows": json.dumps(payload, ensure_ascii=False, default=_json_default),
        "connection": batch.connection.pk,
        "mark_seen": batch.mark_seen,
    }
    fields = {f.attname: f for f in batch.spec.model._meta.concrete_fields}
    defaults = batch.new_row_defaults()
    for name, value in defaults.items():
        params[f"default_{name}"] = fields[name].get_db_prep_save(value, db)
    return params, tuple(defaults)


def _upsert_postgres(batch: ImportBatch) -> ResourceCounts:
    """PostgreSQL: read, compare, upsert and count in one statement (`_postgres_sql`).

    Same rows and counts as `_upsert_portable`, without model instances, per-value
    adaptation or extra round trips: the batch travels as one JSON document that the
    server unpacks with `json_to_recordset`. One statement is atomic by itself.
    """
    sql = _postgres_sql(batch.spec.model, batch.columns, batch.defaults, batch.alias)
    with connections[batch.alias].cursor() as cursor:
        cursor.execute(sql, batch.params)
        result = cursor.fetchone()
    assert result is not None
    created, updated, deactivated, unchanged = result
    return ResourceCounts(
        created=created, updated=updated, deactivated=deactivated, unchanged=unchanged
    )


def commit_without_flush(*, resource: str) -> None:
    """Let the current transaction's COMMIT return before its WAL is on disk (PostgreSQL).

    An import commits a batch every thousand records or so, and each commit otherwise
    waits for a disk flush (about a tenth of an import's time, bench case 3). This
    loses no consistency: a database crash can only drop the last batches' commits
    (well under a second of them) whole, rows and walk progress together, and never
    a later commit made durable (the WAL is flushed in order; the run's end, which
    advances the watermark, commits normally), so the next sync reads them again.
    Must run inside a transaction; a no-op on other databases.
    """
    db = connections[router.db_for_write(resource_get(resource).model)]
    if db.vendor == "postgresql" and db.in_atomic_block:
        with db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def refresh_statistics(
    *, resource: str, counts: Mapping[str, int] | None, vacuum: bool = False
) -> bool:
    """Have PostgreSQL re-read a table's statistics while an import rewrites much of it.

    Until autovacuum gets round to the table (minutes later, longer on a large shared
    table), the planner believes a new connection has a handful of rows. During the
    import each batch's lookup of existing rows may then use the connection-only index
    and scan all of them (an import of 200,000 items slowed to about 150 records/s);
    after it, the Items tab's search filters every row instead of walking the name
    index (959 ms for a page instead of 29 ms; docs/benchmarks.md, cases 3 and 7).
    ANALYZE samples the table (a fraction of a second) and is skipped for small
    changes, which autovacuum keeps up with.

    `vacuum` (at the end of an import): VACUUM (ANALYZE) instead, outside a transaction
    (VACUUM cannot run in one; inside, ANALYZE alone). It marks the written pages
    all-visible, so the tabs' counts and capped searches read the indexes alone rather
    than every row's page too (the Items tab's counts over 200,000 new items: 20 ms
    before, 7 ms after); autovacuum would do it, but only minutes later. It reads the
    pages an import just wrote, a fraction of a second for 200,000 items. Returns
    whether it ran.
    """
    changed = sum((counts or {}).get(k, 0) for k in ("created", "updated", "deactivated"))
    if changed < settings.COUPA_ANALYZE_AFTER_ROWS:
        return False
    model = resource_get(resource).model
    db = connections[router.db_for_write(model)]
    if db.vendor != "postgresql":
        return False
    table = db.ops.quote_name(model._meta.db_table)
    with db.cursor() as cursor:
        if vacuum and not db.in_atomic_block:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        else:
            cursor.execute(f"ANALYZE {table}")
    return True


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to the database as JSON")


@cache
def _postgres_sql(
    model: type[CoupaRecordModel], columns: tuple[str, ...], defaults: tuple[str, ...], alias: str
) -> str:
    """The statement of `_upsert_postgres` (built once per model).

    - `d`: the batch, unpacked from the JSON parameter and typed like the table's columns.
    - `batch`: each record with its existing row's old `active` and whether every
      Coupa-owned column is the same (IS NOT DISTINCT FROM: NULLs are equal, as None is
      in Python). The CTEs of a statement share one snapshot, so this is the state
      before `written`. LIMIT 1 (the key is unique) keeps the planner from flattening the
      lateral join: it stays one index lookup per record, also on a table without
      statistics yet (a first import), where a flattened join scans all the
      connection's rows.
    - `written`: new and changed rows (with mark_seen unchanged ones too, which then only
      get a new `synced_at`); on conflict only the Coupa-owned columns and `synced_at`
      are set, so `show_to_users`, `imported_at` and a chart's `selected` stay.
    - the outer SELECT counts created, updated, deactivated and unchanged records.
    """
    db = connections[alias]
    qn = db.ops.quote_name
    table = qn(model._meta.db_table)

    def db_type(name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field)
        db_type = field.db_type(db)
        assert db_type is not None
        return db_type

    record = ", ".join(f"{qn(c)} {db_type(c)}" for c in ("external_id", *columns))
    values = ", ".join(qn(c) for c in columns)
    old_values = ", ".join(f"old.{qn(c)}" for c in columns)
    d_values = ", ".join(f"d.{qn(c)}" for c in columns)
    insert = ", ".join(qn(c) for c in ("connection_id", "external_id", *columns, *defaults))
    default_values = ", ".join(f"%(default_{c})s" for c in defaults)
    assignments = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in (*columns, "synced_at"))
    # Identifiers come from model metadata, quoted; every value is a parameter.
    return f"""
        WITH d AS MATERIALIZED (
            SELECT * FROM json_to_recordset(%(rows)s::json) AS d({record})
        ), batch AS MATERIALIZED (
            SELECT d.*, old.external_id IS NULL AS is_new, old.active AS was_active,
                old.external_id IS NOT NULL
                AND ({old_values}) IS NOT DISTINCT FROM ({d_values}) AS same
            FROM d LEFT JOIN LATERAL (
                SELECT external_id, {values} FROM {table} t
                WHERE t.connection_id = %(connection)s AND t.external_id = d.external_id
                LIMIT 1
            ) old ON true
        ), written AS (
            INSERT INTO {table} ({insert})
            SELECT %(connection)s, external_id, {values}, {default_values}
            FROM batch WHERE NOT same OR %(mark_seen)s
            ON CONFLICT (connection_id, external_id) DO UPDATE SET {assignments}
        )
        SELECT
            count(*) FILTER (WHERE is_new),
            count(*) FILTER (WHERE NOT is_new AND NOT same AND NOT (was_active AND NOT active)),
            count(*) FILTER (WHERE NOT is_new AND NOT same AND was_active AND NOT active),
            count(*) FILTER (WHERE same)
        FROM batch
    """  # noqa: S608


def deactivate_unseen(
    *,
    connection: Connection,
    resource: str,
    before: datetime,
    chart_external_ids: Collection[int] | None = None,
) -> int:
    """Mark active rows an active walk did not return (`synced_at < before`) inactive.

    Call only after the whole active walk of the resource succeeded (coupa-api.md §9.10:
    a partial walk proves nothing). For accounts, `chart_external_ids` limits it to the
    charts walked. Returns how many rows were deactivated. Never deletes.
    """
    model = resource_get(resource).model
    scope: dict[str, Any] = {}
    if chart_external_ids is not None:
        scope["chart_external_id__in"] = list(chart_external_ids)
    qs = model._default_manager.filter(
        connection=connection, active=True, synced_at__lt=before, **scope
    )
    with transaction.atomic(using=router.db_for_write(model), savepoint=False):
        counts_stale(connection_id=connection.pk, resources=[resource])
        return int(qs.update(active=False, synced_at=timezone.now()))


def import_charts(
    *, connection: Connection, records: Iterable[types.AccountType]
) -> ResourceCounts:
    """Upsert charts of accounts (Coupa account types) of the connection.

    Keeps each chart's `selected` choice and first import time. Called by the sync and by
    the connection validation (so the chart slider can list charts right after
    connecting). Idempotent; never deactivates charts that are not in `records`.
    """
    return import_records(connection=connection, resource="charts", records=records)
