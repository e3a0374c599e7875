"""One declaration per imported Coupa resource; everything else derives from it.

A `Resource` says where the records come from (the collection path and its R39
definition), what the sync asks for (`fields`, only what is stored: default payloads are
huge, coupa-api.md §9.13), how the active set is filtered (§5), whether `updated-at`
allows incremental syncs, how a record becomes row values, and how the product names it.
The client's queries, the importers' columns, the sync order, the tabs, the status counts,
the labels in sentences and the conformance tests all read `RESOURCES`; no other table of
resources exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import models

from coupa.client import types
from coupa.client.base import FieldSpec
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

__all__ = ["PICKABLE", "RESOURCES", "SUPPORTING", "Resource", "Row", "resource_get"]

Row = dict[str, Any]

# Columns every imported row has, written by the importer itself (not by `to_row`).
_COMMON_COLUMNS = frozenset(
    {"id", "connection", "external_id", "active", "coupa_updated_at", "imported_at", "synced_at"}
)


@dataclass(frozen=True)
class Resource:
    """How one Coupa resource is fetched, stored, shown and named."""

    name: str  # ours: SyncRun.resources, progress, counts, watermarks, URLs (`vendors`)
    definition: str  # the R39 definition its records follow (`Supplier`)
    record_type: type[types.CoupaRecord]  # its `resource` is the collection path
    model: type[CoupaRecordModel]
    fields: tuple[FieldSpec, ...]  # the `fields` parameter every sync sends
    to_row: Callable[[Any], Row]  # typed record -> the row's Coupa-owned values
    label: str  # plural, in sentences: "The sync stopped while reading suppliers"
    singular: str  # "supplier"
    title: str  # a tab or column heading: "Vendors"
    active_filter: tuple[str, str] = ("active", "true")  # the "active set" query (§5)
    # False: walk the whole active set on every run. Collections without `updated-at`
    # (R39 Currency has none) and tiny ones whose every walk doubles as a reconcile
    # (charts) are not incremental.
    incremental: bool = True
    search_fields: tuple[str, ...] = ()  # searched by the tabs' and pickers' search box
    sorts: Mapping[str, str] = field(default_factory=dict, compare=False)  # ?sort= -> field

    @property
    def path(self) -> str:
        """The collection under /api/ (`suppliers`), as the typed record names it."""
        return self.record_type.resource

    @property
    def pickable(self) -> bool:
        """Whether rows carry the admin's Show to Users choice (requesters pick them)."""
        return issubclass(self.model, PickableRecordModel)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The Coupa-owned columns (attnames): compared on import and written on update.

        Derived from the model: every concrete field but the common ones and those the
        admin owns (`ADMIN_FIELDS`: Show to Users, a chart's selection), then `active`
        and `coupa_updated_at`.
        """
        admin = set(getattr(self.model, "ADMIN_FIELDS", ()))
        own = [
            f.attname
            for f in self.model._meta.concrete_fields
            if f.name not in _COMMON_COLUMNS and f.name not in admin
        ]
        return (*own, "active", "coupa_updated_at")

    def active_params(self) -> dict[str, str]:
        """The query parameters of the active set."""
        key, value = self.active_filter
        return {key: value}

    @cached_property
    def char_limits(self) -> dict[str, int]:
        """max_length of the model's text columns (over-long values are clipped)."""
        return {
            f.name: f.max_length
            for f in self.model._meta.concrete_fields
            if isinstance(f, models.CharField) and f.max_length
        }


def _audit(*names: FieldSpec) -> tuple[FieldSpec, ...]:
    return ("id", "updated-at", *names)


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
    # `chart_id` (our chart's pk) is filled in by the importer from `chart_external_id`.
    return {
        "chart_external_id": r.account_type_id,
        "code": r.code,
        "name": r.name,
        "segments": list(r.segments),
        "active": _active(r.active),
    }


def _vendor_row(r: types.Supplier) -> Row:
    return {
        "name": r.name,
        "display_name": r.display_name,
        "number": r.number,
        "status": r.status,
        "primary_contact_email": r.primary_contact_email,
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


_DECLARED: Sequence[Resource] = (
    # Order matters: it is the order a sync walks them in. Charts first (accounts link to
    # them), then what requesters pick, then the supporting lists.
    Resource(
        name="charts",
        definition="AccountType",
        record_type=types.AccountType,
        model=ChartOfAccounts,
        fields=_audit(
            "name", "active", "dynamic-flag", "legal-entity-name", {"currency": ["code"]}
        ),
        to_row=_chart_row,
        label="charts of accounts",
        singular="chart of accounts",
        title="Charts of accounts",
        incremental=False,
    ),
    Resource(
        name="accounts",
        definition="Account",
        record_type=types.Account,
        model=Account,
        fields=_audit(
            "code",
            "name",
            "active",
            *[f"segment-{n}" for n in range(1, 21)],
            {"account-type": ["id"]},
        ),
        to_row=_account_row,
        label="accounts",
        singular="account",
        title="Accounts",
        search_fields=("code", "name"),
        sorts={"code": "code", "name": "name", "chart": "chart__name", "imported": "imported_at"},
    ),
    Resource(
        name="vendors",
        definition="Supplier",
        record_type=types.Supplier,
        model=Vendor,
        fields=_audit(
            "name",
            "display-name",
            "number",
            "status",
            "primary-contact",
            {"payment-term": ["code"]},
        ),
        to_row=_vendor_row,
        label="suppliers",
        singular="vendor",
        title="Vendors",
        active_filter=("status", "active"),
        search_fields=("name", "display_name", "number"),
        sorts={"name": "name", "number": "number", "status": "status", "imported": "imported_at"},
    ),
    Resource(
        name="items",
        definition="Item",
        record_type=types.Item,
        model=Item,
        fields=_audit(
            "name",
            "item-number",
            "description",
            "active",
            {"uom": ["code"]},
            {"commodity": ["name"]},
        ),
        to_row=_item_row,
        label="items",
        singular="item",
        title="Items",
        search_fields=("name", "item_number", "description"),
        sorts={"name": "name", "number": "item_number", "imported": "imported_at"},
    ),
    Resource(
        name="users",
        definition="User",
        record_type=types.User,
        model=CoupaUser,
        fields=_audit("login", "email", "firstname", "lastname", "employee-number", "active"),
        to_row=_user_row,
        label="users",
        singular="user",
        title="Users",
        search_fields=("login", "email", "firstname", "lastname"),
    ),
    Resource(
        name="addresses",
        definition="Address",
        record_type=types.Address,
        model=Address,
        # street3/4 are in the R39 spec but Coupa's published address examples have only
        # lines 1-2, and the sandbox refuses them: lines 1-2 are what forms show.
        fields=_audit(
            "name",
            "location-code",
            "street1",
            "street2",
            "city",
            "state",
            "postal-code",
            "active",
            {"country": ["code"]},
        ),
        to_row=_address_row,
        label="addresses",
        singular="address",
        title="Addresses",
        search_fields=("name", "location_code", "city"),
    ),
    Resource(
        name="commodities",
        definition="Commodity",
        record_type=types.Commodity,
        model=Commodity,
        fields=_audit("name", "code", "category", "active"),
        to_row=_commodity_row,
        label="commodities",
        singular="commodity",
        title="Commodities",
        search_fields=("name", "code"),
    ),
    Resource(
        name="uoms",
        definition="Uom",
        record_type=types.Uom,
        model=Uom,
        fields=_audit("code", "name", "active"),
        to_row=_uom_row,
        label="units of measure",
        singular="unit of measure",
        title="Units of measure",
        search_fields=("code", "name"),
    ),
    Resource(
        name="currencies",
        definition="Currency",
        record_type=types.Currency,
        model=Currency,
        # R39 Currency has no created-at/updated-at: walked in full on every run.
        fields=("id", "code", "name", "enabled"),
        to_row=_currency_row,
        label="currencies",
        singular="currency",
        title="Currencies",
        active_filter=("enabled", "true"),
        incremental=False,
        search_fields=("code", "name"),
    ),
    Resource(
        name="departments",
        definition="Department",
        record_type=types.Department,
        model=Department,
        fields=_audit("name", "active"),
        to_row=_department_row,
        label="departments",
        singular="department",
        title="Departments",
        search_fields=("name",),
    ),
)

RESOURCES: dict[str, Resource] = {r.name: r for r in _DECLARED}
# What requesters pick (a Show to Users toggle each) and the read-only supporting lists.
PICKABLE: tuple[str, ...] = tuple(r.name for r in _DECLARED if r.pickable)
SUPPORTING: tuple[str, ...] = tuple(
    r.name for r in _DECLARED if not r.pickable and r.name != "charts"
)


def resource_get(name: str) -> Resource:
    """The resource declared under `name`; KeyError for an unknown one."""
    return RESOURCES[name]
