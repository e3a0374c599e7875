"""Coupa data pages: tabs of imported records, Show to Users, charts slider, Sync Data."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from coupa.selectors import (
    PICKABLE_MODELS,
    SUPPORTING_MODELS,
    RecordFilter,
    chart_list,
    parse_filter,
    record_counts,
    record_list,
)
from coupa.services.charts import charts_select
from coupa.services.sync import SyncRequestError, sync_cancel, sync_request
from coupa.services.visibility import records_bulk_set_shown, records_set_shown
from integrations.models import Connection, SyncRun
from integrations.selectors import connection_current, sync_run_list
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability, user_can

TABS = [("accounts", "Accounts"), ("vendors", "Vendors"), ("items", "Items"), ("supporting", "Supporting data")]
SUPPORTING_LABELS = {
    "users": "Users", "addresses": "Addresses", "commodities": "Commodities",
    "uoms": "Units of measure", "currencies": "Currencies", "departments": "Departments",
}
PAGE_SIZE = 50


def current_connection(request: HttpRequest) -> Connection:
    connection = connection_current(organization=request_organization(request))
    if connection is None:
        raise Http404("Coupa is not connected.")
    return connection



class RecordsView(CapabilityRequiredMixin, View):
    """One tab: server-side paging, search, filters, sort, counts, Show to Users toggles."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        connection = current_connection(request)
        supporting_kind = ""
        if kind == "supporting":
            supporting_kind = request.GET.get("type", "users")
            if supporting_kind not in SUPPORTING_MODELS:
                raise Http404
            list_kind = supporting_kind
        elif kind in PICKABLE_MODELS:
            list_kind = kind
        else:
            raise Http404
        filters = parse_filter(request.GET)
        rows = record_list(
            organization=request_organization(request), connection=connection,
            kind=list_kind, filters=filters,
        )
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "connection": connection,
            "kind": kind,
            "supporting_kind": supporting_kind,
            "supporting_labels": SUPPORTING_LABELS,
            "tabs": TABS,
            "count_rows": [(k, record_counts(connection=connection, kind=k)) for k in PICKABLE_MODELS],
            "page_obj": page,
            "filters": filters,
            "charts": list(chart_list(connection=connection, active_only=False)) if kind == "accounts" else [],
            "query": query.urlencode(),
            "can_toggle": user_can(request.user, Capability.CONFIGURE_INTEGRATIONS),
            "read_only": not connection.offers_records,
        }
        return render(request, "coupa/records.html", context)


class ToggleView(CapabilityRequiredMixin, View):
    """Show or hide one record; saves at once (htmx swaps the row)."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest, kind: str, pk: int) -> HttpResponse:
        if kind not in PICKABLE_MODELS:
            raise Http404
        connection = current_connection(request)
        shown = request.POST.get("show_to_users") == "1"
        records_set_shown(
            connection=connection, user=request_user(request), kind=kind, ids=[pk], shown=shown
        )
        row = record_list(
            organization=request_organization(request), connection=connection, kind=kind,
            filters=RecordFilter(),
        ).filter(pk=pk).first()
        if row is None:
            raise Http404
        if getattr(request, "htmx", False):
            return render(request, "coupa/_record_row.html", {"r": row, "kind": kind, "can_toggle": True})
        return redirect(reverse("coupa:records", args=[kind]))


class BulkToggleView(CapabilityRequiredMixin, View):
    """Show or hide every record matching the current filter."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest, kind: str) -> HttpResponse:
        if kind not in PICKABLE_MODELS:
            raise Http404
        connection = current_connection(request)
        shown = request.POST.get("show_to_users") == "1"
        changed = records_bulk_set_shown(
            connection=connection, user=request_user(request), kind=kind,
            filters=parse_filter(request.POST), shown=shown,
        )
        messages.success(
            request, f"{changed} record{'s' if changed != 1 else ''} {'shown to' if shown else 'hidden from'} requesters."
        )
        query = request.POST.get("query", "")
        return redirect(reverse("coupa:records", args=[kind]) + (f"?{query}" if query else ""))


class ChartsView(CapabilityRequiredMixin, View):
    """The charts-of-accounts slider: choose which charts' accounts are imported."""

    capability = Capability.VIEW_INTEGRATIONS
    write_capability = Capability.CONFIGURE_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        connection = current_connection(request)
        return render(request, "coupa/charts.html", {
            "connection": connection,
            "charts": list(chart_list(connection=connection)),
            "can_configure": user_can(request.user, Capability.CONFIGURE_INTEGRATIONS),
        })

    def post(self, request: HttpRequest) -> HttpResponse:
        connection = current_connection(request)
        valid = set(chart_list(connection=connection).values_list("pk", flat=True))
        chosen = {int(v) for v in request.POST.getlist("charts") if v.isdigit()} & valid
        if not chosen:
            messages.error(request, "Select at least one chart of accounts.")
            return redirect("coupa:charts")
        run = charts_select(connection=connection, chart_ids=chosen, user=request_user(request))
        messages.success(
            request,
            f"{len(chosen)} chart{'s' if len(chosen) != 1 else ''} of accounts selected."
            + (" Importing their accounts now." if run is not None else ""),
        )
        return redirect("integrations:procurement")


class SyncView(CapabilityRequiredMixin, View):
    """The Sync Data button (admins and ops): start a sync, or attach to the running one."""

    capability = Capability.TRIGGER_SYNC

    def post(self, request: HttpRequest) -> HttpResponse:
        connection = current_connection(request)
        try:
            run = sync_request(
                connection=connection, trigger=SyncRun.Trigger.MANUAL, user=request_user(request)
            )
        except SyncRequestError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Sync {run.pk} is {run.get_state_display().lower()}.")
        return redirect("integrations:procurement")


class SyncCancelView(CapabilityRequiredMixin, View):
    capability = Capability.TRIGGER_SYNC

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = sync_run_list(organization=request_organization(request)).filter(pk=pk).first()
        if run is None:
            raise Http404
        sync_cancel(run=run, user=request_user(request))
        messages.success(request, f"Sync {run.pk} is being cancelled.")
        return redirect("integrations:procurement")


RESOURCE_ORDER = [
    "charts", "accounts", "vendors", "items", "users", "addresses", "commodities", "uoms",
    "currencies", "departments",
]


def progress_percent(run: SyncRun) -> int:
    """A rough share of the run done, by the resource it is on (for the progress bar)."""
    order = [r for r in RESOURCE_ORDER if not run.resources or r in run.resources]
    resource = run.progress.get("resource")
    if resource not in order:
        return 3
    return max(3, int(100 * order.index(resource) / len(order)))


class SyncProgressView(CapabilityRequiredMixin, View):
    """The progress panel fragment, polled while a sync runs."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        connection = connection_current(organization=request_organization(request))
        runs = list(sync_run_list(organization=request_organization(request)).filter(connection=connection)[:5]) if connection else []
        live = next((r for r in runs if r.is_live), None)
        return render(request, "coupa/_sync_progress.html", {
            "live": live, "percent": progress_percent(live) if live else 0,
            "runs": runs, "connection": connection,
            "can_sync": user_can(request.user, Capability.TRIGGER_SYNC),
        })
