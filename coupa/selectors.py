"""Shared reads of imported Coupa data: admin tabs, and what requesters may pick."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Case, CharField, Q, QuerySet, Value, When

from coupa.models import (
    Account,
    Address,
    ChartOfAccounts,
    Commodity,
    CoupaUser,
    Currency,
    Department,
    Item,
    Uom,
    Vendor,
)
from integrations.models import Connection
from spendflo.organizations.models import Organization

PickableKind = Literal["accounts", "vendors", "items"]
PICKABLE_MODELS: dict[str, type[Account | Vendor | Item]] = {
    "accounts": Account,
    "vendors": Vendor,
    "items": Item,
}
SUPPORTING_MODELS: dict[str, type[CoupaUser | Address | Commodity | Uom | Currency | Department]] = {
    "users": CoupaUser,
    "addresses": Address,
    "commodities": Commodity,
    "uoms": Uom,
    "currencies": Currency,
    "departments": Department,
}
# Columns searched by the tabs' and the pickers' search box.
SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "accounts": ("code", "name"),
    "vendors": ("name", "display_name", "number"),
    "items": ("name", "item_number", "description"),
    "users": ("login", "email", "firstname", "lastname"),
    "addresses": ("name", "location_code", "city"),
    "commodities": ("name", "code"),
    "uoms": ("code", "name"),
    "currencies": ("code", "name"),
    "departments": ("name",),
}
SORTS: dict[str, dict[str, str]] = {
    "accounts": {"code": "code", "name": "name", "chart": "chart__name", "imported": "imported_at"},
    "vendors": {"name": "name", "number": "number", "status": "status", "imported": "imported_at"},
    "items": {"name": "name", "number": "item_number", "imported": "imported_at"},
}


def _search(qs: QuerySet[Any], kind: str, text: str) -> QuerySet[Any]:
    text = text.strip()
    if not text:
        return qs
    condition = Q()
    for field in SEARCH_FIELDS[kind]:
        condition |= Q(**{f"{field}__icontains": text})
    return qs.filter(condition)


def _usable_connections(organization: Organization) -> QuerySet[Connection]:
    return Connection.objects.filter(
        organization=organization,
        archived_at__isnull=True,
        state__in=Connection.OFFERING_STATES,
    )


def pickable_q(kind: str) -> Q:
    """The one rule of what a requester may pick: shown, active, and (accounts) chart selected.

    The connection's own state is checked by `pickable_list`: a disconnected or archived
    instance offers nothing whatever the toggles say.
    """
    condition = Q(show_to_users=True, active=True)
    if kind == "accounts":
        condition &= Q(chart__selected=True, chart__active=True)
    return condition


def pickable_list(
    *, organization: Organization, kind: str, search: str = ""
) -> QuerySet[Any]:
    """What requesters of the organization may pick of accounts, vendors or items."""
    model: type[Any] = PICKABLE_MODELS[kind]
    qs: QuerySet[Any] = model.objects.filter(
        connection__in=_usable_connections(organization)
    ).filter(pickable_q(kind))
    if kind == "accounts":
        qs = qs.select_related("chart")
    return _search(qs, kind, search).order_by(*(model._meta.ordering or []), "pk")


@dataclass(frozen=True)
class RecordFilter:
    search: str = ""
    chart: int | None = None  # our ChartOfAccounts pk
    visibility: Literal["", "shown", "hidden"] = ""
    active: Literal["", "active", "inactive"] = ""
    sort: str = ""


def parse_filter(params: Any) -> RecordFilter:
    """A RecordFilter from query parameters or a form; unknown values are ignored."""
    chart = params.get("chart") or ""
    visibility = params.get("visibility") or ""
    active = params.get("active") or ""
    return RecordFilter(
        search=(params.get("search") or "")[:200],
        chart=int(chart) if str(chart).isdigit() else None,
        visibility="shown" if visibility == "shown" else "hidden" if visibility == "hidden" else "",
        active="active" if active == "active" else "inactive" if active == "inactive" else "",
        sort=(params.get("sort") or "")[:32],
    )


def record_list(
    *, organization: Organization, connection: Connection | None, kind: str, filters: RecordFilter
) -> QuerySet[Any]:
    """A tab's rows: the connection's records filtered, sorted, annotated with why hidden.

    `offered` is "yes" when requesters can pick the record, else the reason it is not.
    """
    model: type[Any] = PICKABLE_MODELS.get(kind) or SUPPORTING_MODELS[kind]
    if connection is None or connection.organization_id != organization.pk:
        none: QuerySet[Any] = model.objects.none()
        return none
    qs: QuerySet[Any] = model.objects.filter(connection=connection)
    if kind == "accounts":
        qs = qs.select_related("chart")
        if filters.chart:
            qs = qs.filter(chart_id=filters.chart)
    qs = _search(qs, kind, filters.search)
    if kind in PICKABLE_MODELS:
        if filters.visibility == "shown":
            qs = qs.filter(show_to_users=True)
        elif filters.visibility == "hidden":
            qs = qs.filter(show_to_users=False)
        qs = qs.annotate(offered=offered_annotation(kind, connection))
    if filters.active == "active":
        qs = qs.filter(active=True)
    elif filters.active == "inactive":
        qs = qs.filter(active=False)
    sort = filters.sort.lstrip("-")
    field = SORTS.get(kind, {}).get(sort)
    if field:
        qs = qs.order_by(f"-{field}" if filters.sort.startswith("-") else field, "pk")
    else:
        qs = qs.order_by(*(model._meta.ordering or []), "pk")
    return qs


def offered_annotation(kind: str, connection: Connection) -> Case | Value:
    """Why a record is (not) offered to requesters, as a short label for the tabs.

    Mirrors `pickable_q` condition by condition, so the label and the picker agree.
    """
    if not connection.offers_records:
        return Value("Coupa disconnected", output_field=CharField())
    whens = [When(active=False, then=Value("Inactive in Coupa"))]
    if kind == "accounts":
        whens += [
            When(Q(chart__isnull=True) | Q(chart__selected=False), then=Value("Chart not selected")),
            When(chart__active=False, then=Value("Chart inactive in Coupa")),
        ]
    whens.append(When(show_to_users=False, then=Value("Hidden")))
    return Case(*whens, default=Value("yes"), output_field=CharField())


def record_counts(*, connection: Connection, kind: str) -> dict[str, int]:
    """Imported, active and offered counts of a tab (for the tab headers and coupa_status)."""
    model = PICKABLE_MODELS[kind]
    qs = model.objects.filter(connection=connection)
    offered = qs.filter(pickable_q(kind)).count() if connection.offers_records else 0
    return {
        "imported": qs.count(),
        "active": qs.filter(active=True).count(),
        "offered": offered,
    }


def chart_list(*, connection: Connection, active_only: bool = True) -> QuerySet[ChartOfAccounts]:
    """The instance's charts of accounts (active ones by default), for the slider."""
    qs = ChartOfAccounts.objects.filter(connection=connection)
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("name", "pk")
