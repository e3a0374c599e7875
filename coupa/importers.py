"""Map Coupa records to rows: bulk upserts keyed by (connection, Coupa id).

One `ResourceSpec` per imported resource says which Coupa collection it comes from, which
fields to ask for (only what is stored: default payloads are huge, coupa-api.md §9.13),
how to filter the active set (§5) and how a record becomes row values. Importers never
delete (Coupa deactivates, §4) and never overwrite what belongs to the admin on an
existing row: `show_to_users`, `imported_at`, and a chart's `selected`.

Unknown keys (custom fields, coupa-api.md §9b) are ignored: rows are built from the typed
attributes of `coupa.types`, never from the raw payload (except the supplier's primary
contact, which the typed record does not carry).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from coupa import types
from coupa.client import FieldSpec
from coupa.models import (
    Account,
    Address,
    ChartOfAccounts,
    Commodity,
    CoupaRecordModel,
    CoupaUser,
    Currency,
    Department,
    Item,
    PickableRecordModel,
    Uom,
    Vendor,
)
from integrations.models import Connection

__all__ = [
    "RESOURCES",
    "RESOURCE_ORDER",
    "ResourceCounts",
    "ResourceSpec",
    "deactivate_unseen",
    "import_charts",
    "import_records",
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
        return cls(**{k: int(data.get(k, 0)) for k in ("created", "updated", "deactivated", "unchanged")})


Row = dict[str, Any]


@dataclass(frozen=True)
class ResourceSpec:
    """How one resource is fetched and stored."""

    name: str  # our name, used in SyncRun.resources, progress, counts and watermarks
    coupa_resource: str  # the collection path under /api/
    record_type: type[types.CoupaRecord]
    model: type[CoupaRecordModel]
    fields: Sequence[FieldSpec]  # the `fields` parameter: only what is stored
    active_filter: tuple[str, str]  # the "active set" query (coupa-api.md §5)
    to_row: Callable[[Any], Row]  # typed record -> model values (besides the common ones)
    # Walk the whole active set on every run: collections without `updated-at` (R39
    # Currency has none) and tiny ones whose every walk doubles as a reconcile (charts).
    always_full: bool = False

    @property
    def pickable(self) -> bool:
        """Whether rows carry the admin's Show to Users choice."""
        return issubclass(self.model, PickableRecordModel)


_AUDIT: list[FieldSpec] = ["id", "updated-at"]


def _active(value: bool | None) -> bool:
    # A record without the flag is taken as active: the field is requested on every call,
    # so None only happens on instances that omit it for active records.
    return True if value is None else bool(value)


def _chart_row(r: types.AccountType) -> Row:
    return {
        "name": r.name,
        "currency_code": r.currency_code,
        "legal_entity_name": r.legal_entity_name,
        "dynamic": bool(r.dynamic_flag),
        "active": _active(r.active),
    }


def _account_row(r: types.Account) -> Row:
    return {
        "chart_external_id": r.account_type_id,
        "code": r.code,
        "name": r.name,
        "segments": list(r.segments),
        "active": _active(r.active),
    }


def _vendor_row(r: types.Supplier) -> Row:
    contact = r.raw.get("primary-contact")
    email = contact.get("email") if isinstance(contact, Mapping) else None
    return {
        "name": r.name,
        "display_name": r.display_name,
        "number": r.number,
        "status": r.status,
        "primary_contact_email": str(email) if email else "",
        "payment_term": r.payment_term_code,
        # Suppliers have a status, not an active flag; only "active" may be used (§5).
        "active": r.status == "active",
    }


def _item_row(r: types.Item) -> Row:
    return {
        "name": r.name,
        "item_number": r.item_number,
        "description": r.description,
        "uom_code": r.uom_code,
        "commodity_name": r.commodity_name,
        "active": _active(r.active),
    }


def _user_row(r: types.User) -> Row:
    return {
        "login": r.login,
        "email": r.email,
        "firstname": r.firstname,
        "lastname": r.lastname,
        "employee_number": r.employee_number,
        "active": _active(r.active),
    }


def _address_row(r: types.Address) -> Row:
    return {
        "name": r.name,
        "location_code": r.location_code,
        "lines": [s for s in (r.street1, r.street2, r.street3, r.street4) if s],
        "city": r.city,
        "state": r.state,
        "postal_code": r.postal_code,
        "country_code": r.country_code,
        "active": _active(r.active),
    }


def _commodity_row(r: types.Commodity) -> Row:
    return {"name": r.name, "code": r.code, "category": r.category, "active": _active(r.active)}


def _uom_row(r: types.Uom) -> Row:
    return {"code": r.code, "name": r.name, "active": _active(r.active)}


def _currency_row(r: types.Currency) -> Row:
    # Currencies are "enabled", spelled `enabled` or `enabled-flag` (coupa-api.md §10).
    return {"code": r.code, "name": r.name, "active": _active(r.enabled)}


def _department_row(r: types.Department) -> Row:
    return {"name": r.name, "active": _active(r.active)}


_ACTIVE = ("active", "true")

RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in (
        ResourceSpec(
            "charts", "account_types", types.AccountType, ChartOfAccounts,
            [*_AUDIT, "name", "active", "dynamic-flag", "legal-entity-name", {"currency": ["code"]}],
            _ACTIVE, _chart_row, always_full=True,
        ),
        ResourceSpec(
            "accounts", "accounts", types.Account, Account,
            [
                *_AUDIT, "code", "name", "active",
                *[f"segment-{n}" for n in range(1, 21)], {"account-type": ["id"]},
            ],
            _ACTIVE, _account_row,
        ),
        ResourceSpec(
            "vendors", "suppliers", types.Supplier, Vendor,
            [
                *_AUDIT, "name", "display-name", "number", "status",
                "primary-contact", {"payment-term": ["code"]},
            ],
            ("status", "active"), _vendor_row,
        ),
        ResourceSpec(
            "items", "items", types.Item, Item,
            [
                *_AUDIT, "name", "item-number", "description", "active",
                {"uom": ["code"]}, {"commodity": ["name"]},
            ],
            _ACTIVE, _item_row,
        ),
        ResourceSpec(
            "users", "users", types.User, CoupaUser,
            [*_AUDIT, "login", "email", "firstname", "lastname", "employee-number", "active"],
            _ACTIVE, _user_row,
        ),
        ResourceSpec(
            "addresses", "addresses", types.Address, Address,
            [
                # street3/4 are in the R39 spec but refused by the sandbox (and thus,
                # presumably, by some instances): lines 1-2 are what forms show.
                *_AUDIT, "name", "location-code", "street1", "street2",
                "city", "state", "postal-code", "active", {"country": ["code"]},
            ],
            _ACTIVE, _address_row,
        ),
        ResourceSpec(
            "commodities", "commodities", types.Commodity, Commodity,
            [*_AUDIT, "name", "code", "category", "active"], _ACTIVE, _commodity_row,
        ),
        ResourceSpec(
            "uoms", "uoms", types.Uom, Uom, [*_AUDIT, "code", "name", "active"],
            _ACTIVE, _uom_row,
        ),
        ResourceSpec(
            "currencies", "currencies", types.Currency, Currency,
            ["id", "code", "name", "enabled"], ("enabled", "true"), _currency_row,
            always_full=True,
        ),
        ResourceSpec(
            "departments", "departments", types.Department, Department,
            [*_AUDIT, "name", "active"], _ACTIVE, _department_row,
        ),
    )
}

# The order a sync walks resources in: charts first (accounts link to them), then what
# requesters pick, then the supporting lists.
RESOURCE_ORDER: list[str] = list(RESOURCES)

# Row keys per resource, without "active" (written separately in update_fields).
_ROW_KEYS: dict[str, list[str]] = {
    "charts": ["name", "currency_code", "legal_entity_name", "dynamic"],
    "accounts": ["chart", "chart_external_id", "code", "name", "segments"],
    "vendors": ["name", "display_name", "number", "status", "primary_contact_email", "payment_term"],
    "items": ["name", "item_number", "description", "uom_code", "commodity_name"],
    "users": ["login", "email", "firstname", "lastname", "employee_number"],
    "addresses": ["name", "location_code", "lines", "city", "state", "postal_code", "country_code"],
    "commodities": ["name", "code", "category"],
    "uoms": ["code", "name"],
    "currencies": ["code", "name"],
    "departments": ["name"],
}

_MAX_LENGTHS: dict[type[models.Model], dict[str, int]] = {}


def _max_lengths(model: type[models.Model]) -> dict[str, int]:
    cached = _MAX_LENGTHS.get(model)
    if cached is None:
        cached = {
            f.name: f.max_length
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField) and f.max_length
        }
        _MAX_LENGTHS[model] = cached
    return cached


def _clip(model: type[models.Model], row: Row) -> Row:
    # One over-long value must not fail a whole page on Postgres; Coupa's own limits
    # (coupa-api.md §5) are below ours, so this only trims corrupt data.
    limits = _max_lengths(model)
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
) -> ResourceCounts:
    """Upsert one batch of records of `resource`; return what changed.

    New rows get `imported_at` now and `show_to_users` from the organization's
    `show_new_records_by_default`; existing rows keep both. Unchanged rows are not
    written, except that `mark_seen` stamps their `synced_at` (an active walk marks what
    Coupa still returns, see `deactivate_unseen`). Accounts link to their chart through
    `charts` ({Coupa id: pk}; loaded when not given). Duplicate ids in a batch: the last
    wins. Side effects: one SELECT and at most one INSERT … ON CONFLICT and one UPDATE,
    in one transaction. Idempotent.
    """
    spec = RESOURCES[resource]
    model = spec.model
    rows: dict[int, Row] = {}
    updated_at: dict[int, datetime | None] = {}
    for record in records:
        row = _clip(model, spec.to_row(record))
        rows[record.id] = row
        updated_at[record.id] = record.updated_at
    counts = ResourceCounts()
    if not rows:
        return counts
    if resource == "accounts":
        chart_map = charts if charts is not None else chart_pks(connection=connection)
        for row in rows.values():
            ext = row["chart_external_id"]
            row["chart_id"] = chart_map.get(ext) if ext is not None else None
    compare = [("chart_id" if k == "chart" else k) for k in _ROW_KEYS[resource]]
    compare += ["active", "coupa_updated_at"]
    now = timezone.now()
    with transaction.atomic():
        existing = {
            values[0]: values[1:]
            for values in model._default_manager.filter(
                connection=connection, external_id__in=list(rows)
            ).values_list("external_id", *compare)
        }
        to_write: list[CoupaRecordModel] = []
        unchanged: list[int] = []
        default_shown = connection.organization.show_new_records_by_default
        for ext_id, row in rows.items():
            values = {**row, "coupa_updated_at": updated_at[ext_id]}
            old = existing.get(ext_id)
            if old is not None:
                if tuple(values[k] for k in compare) == tuple(old):
                    unchanged.append(ext_id)
                    continue
                was_active = old[compare.index("active")]
                if was_active and not values["active"]:
                    counts.deactivated += 1
                else:
                    counts.updated += 1
            else:
                counts.created += 1
            extra: Row = {}
            if spec.pickable:
                extra["show_to_users"] = default_shown
            to_write.append(
                model(
                    connection=connection,
                    external_id=ext_id,
                    imported_at=now,
                    synced_at=now,
                    **values,
                    **extra,
                )
            )
        counts.unchanged = len(unchanged)
        if to_write:
            # ON CONFLICT DO UPDATE writes only the Coupa-owned columns: show_to_users,
            # imported_at and a chart's `selected` stay as they are (Postgres and SQLite).
            model._default_manager.bulk_create(
                to_write,
                update_conflicts=True,
                unique_fields=["connection", "external_id"],
                update_fields=[*compare, "synced_at"],
            )
        if mark_seen and unchanged:
            model._default_manager.filter(connection=connection, external_id__in=unchanged).update(
                synced_at=now
            )
    return counts


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
    model = RESOURCES[resource].model
    scope: dict[str, Any] = {}
    if chart_external_ids is not None:
        scope["chart_external_id__in"] = list(chart_external_ids)
    qs = model._default_manager.filter(
        connection=connection, active=True, synced_at__lt=before, **scope
    )
    return qs.update(active=False, synced_at=timezone.now())


def import_charts(
    *, connection: Connection, records: Iterable[types.AccountType]
) -> ResourceCounts:
    """Upsert charts of accounts (Coupa account types) of the connection.

    Keeps each chart's `selected` choice and first import time. Called by the sync and by
    the connection validation (so the chart slider can list charts right after
    connecting). Idempotent; never deactivates charts that are not in `records`.
    """
    return import_records(connection=connection, resource="charts", records=records)
