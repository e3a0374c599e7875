"""Coupa pages: connect, edit, validate, disconnect; the data tabs, Show to Users, the charts
slider and Sync Data. Thin: form, permission, one service call, render or redirect."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from coupa.client.connection import coupa_settings
from coupa.client.domains import CoupaDomainError
from coupa.connections.services import (
    ConnectionChangeError,
    ConnectionInput,
    coupa_connect,
    coupa_connection_update,
    coupa_disconnect,
    coupa_validate,
)
from coupa.reference.registry import PICKABLE, RESOURCES, SUPPORTING
from coupa.reference.selectors import (
    CappedPaginator,
    RecordFilter,
    RecordFilterError,
    chart_list,
    parse_filter,
    record_counts,
    record_counts_all,
    record_list,
)
from coupa.reference.services import (
    ChartSelectionError,
    charts_select,
    records_bulk_set_shown,
    records_set_shown,
)
from coupa.reference.sync import SyncRequestError, sync_cancel, sync_request
from coupa.requisitions.status_sync import requisition_sync_request
from coupa.web.forms import ConnectForm, EditConnectionForm
from integrations.jobs import JobQueueUnavailableError
from integrations.models import Connection, SyncRun
from integrations.providers import procurement_cards
from integrations.selectors import (
    connection_current,
    connection_offers_records,
    connection_sync_blocker,
    connection_validation_get,
    sync_run_list,
)
from spendflo.confirm import confirmation_page, is_confirmed
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability, user_can


class ConnectView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE_INTEGRATIONS
    form_class: type[ConnectForm] = ConnectForm
    template = "coupa/connect.html"

    def initial(self, request: HttpRequest) -> dict[str, Any]:
        return {"rate_limit": 20}

    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.form_class(initial=self.initial(request))
        return render(request, self.template, {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                validation = self.save(request, form)
            except CoupaDomainError as exc:
                # The services check the domain (normalisation, allow-list, DNS) once.
                form.add_error("domain", str(exc))
            except ConnectionChangeError as exc:
                form.add_error(None, str(exc))
            except JobQueueUnavailableError as exc:
                # Saved, but not validated: the integration page offers Validate.
                messages.error(request, str(exc))
                return redirect("integrations:procurement")
            else:
                return redirect("coupa:validation", pk=validation.pk)
        return render(request, self.template, {"form": form}, status=400)

    def save(self, request: HttpRequest, form: ConnectForm) -> Any:
        return coupa_connect(
            organization=request_organization(request),
            user=request_user(request),
            data=ConnectionInput.from_mapping(form.cleaned_data),
        )


class EditView(ConnectView):
    form_class = EditConnectionForm
    template = "coupa/edit.html"

    def initial(self, request: HttpRequest) -> dict[str, Any]:
        connection = connection_current(organization=request_organization(request))
        if connection is None:
            raise Http404("Coupa is not connected.")
        return {
            "domain": connection.base_url,
            "client_id": coupa_settings(connection).client_id,
            "rate_limit": connection.rate_limit,
        }

    def save(self, request: HttpRequest, form: ConnectForm) -> Any:
        return coupa_connection_update(
            organization=request_organization(request),
            user=request_user(request),
            data=ConnectionInput.from_mapping(form.cleaned_data),
        )


class DisconnectView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_confirmed(request):
            current = connection_current(organization=request_organization(request))
            if current is not None:
                return self.confirm(request, current)
        try:
            connection = coupa_disconnect(
                organization=request_organization(request), user=request_user(request)
            )
        except ConnectionChangeError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Coupa at {connection.host} is disconnected. Imported data is kept, read-only.",
            )
        return redirect("integrations:procurement")

    def confirm(self, request: HttpRequest, connection: Connection) -> HttpResponse:
        counts = [
            f"{c['imported']} {RESOURCES[k].title.lower()}"
            for k, c in record_counts_all(connection=connection).items()
        ]
        return confirmation_page(
            request,
            question=f"Disconnect Coupa at {connection.host}?",
            details=[
                "Syncs stop, requesters can no longer pick its "
                f"{', '.join(counts[:-1])} and {counts[-1]}, and no request is sent to Coupa "
                "until it is connected again.",
                f"The imported data is kept, read-only; connecting {connection.host} again "
                "picks it up.",
            ],
            confirm_label="Disconnect",
            cancel_url=reverse("integrations:procurement"),
        )


class ValidateView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            validation = coupa_validate(
                organization=request_organization(request), user=request_user(request)
            )
        except (ConnectionChangeError, JobQueueUnavailableError) as exc:
            messages.error(request, str(exc))
            return redirect("integrations:procurement")
        return redirect("coupa:validation", pk=validation.pk)


class ValidationView(CapabilityRequiredMixin, View):
    """A validation run's steps; the page polls its own fragment until the run finishes."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        validation = connection_validation_get(
            organization=request_organization(request), validation_id=pk
        )
        if validation is None:
            raise Http404
        context = {"validation": validation, "connection": validation.connection}
        if getattr(request, "htmx", False):
            return render(request, "coupa/_validation_steps.html", context)
        return render(request, "coupa/validation.html", context)


# -- reference data -------------------------------------------------------------------

TABS = [*((k, RESOURCES[k].title) for k in PICKABLE), ("supporting", "Supporting data")]
SUPPORTING_LABELS = {k: RESOURCES[k].title for k in SUPPORTING}
PAGE_SIZE = 50
# Message tags of a run's messages: the progress panel keeps the state of SYNC_STATE_TAG
# messages current and removes SYNC_RUN_TAG messages once no run is live.
SYNC_RUN_TAG = "sync-run"
SYNC_STATE_TAG = "sync-state"


def current_connection(request: HttpRequest) -> Connection:
    connection = connection_current(organization=request_organization(request))
    if connection is None:
        raise Http404("Coupa is not connected.")
    return connection


class RecordsView(CapabilityRequiredMixin, View):
    """One tab: server-side paging, search, filters, sort, counts, Show to Users toggles."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        return render_records(request, kind, request.GET)


def render_records(
    request: HttpRequest, kind: str, params: QueryDict, *, error: str = ""
) -> HttpResponse:
    """A tab with the filter `params`; a filter that does not parse (or `error`) is a 400
    that says why and lists nothing, so no bulk action can apply to an unintended set."""
    connection = current_connection(request)
    supporting_kind = ""
    if kind == "supporting":
        supporting_kind = params.get("type", "users")
        if supporting_kind not in SUPPORTING:
            raise Http404
        list_kind = supporting_kind
    elif kind in PICKABLE:
        list_kind = kind
    else:
        raise Http404
    try:
        filters = parse_filter(params, kind=list_kind)
    except RecordFilterError as exc:
        filters, error = RecordFilter(), error or exc.message
    rows = record_list(
        organization=request_organization(request),
        connection=connection,
        kind=list_kind,
        filters=filters,
    )
    if error:
        rows = rows.none()
    page = CappedPaginator(rows, PAGE_SIZE, search=filters.search).get_page(params.get("page"))
    can_toggle = user_can(request.user, Capability.CONFIGURE_INTEGRATIONS)
    if can_toggle and kind in PICKABLE:
        _set_toggle_urls(kind, page)
    query = params.copy()
    query.pop("page", None)
    for name in ("csrfmiddlewaretoken", "query", "show_to_users"):
        query.pop(name, None)
    context = {
        "connection": connection,
        "kind": kind,
        "supporting_kind": supporting_kind,
        "supporting_labels": SUPPORTING_LABELS,
        "tabs": TABS,
        "count_rows": list(record_counts_all(connection=connection).items()),
        "page_obj": page,
        "filters": filters,
        "filter_error": error,
        "charts": list(chart_list(connection=connection, active_only=False))
        if kind == "accounts"
        else [],
        "query": query.urlencode(),
        "can_toggle": can_toggle,
        "read_only": _read_only_reason(connection),
    }
    return render(request, "coupa/records.html", context, status=400 if error else 200)


#: A pk no row has, marking where a row's own pk goes in its toggle URL (`_set_toggle_urls`).
_PK_MARK = 9_000_000_000_000_000_001


def _set_toggle_urls(kind: str, rows: Iterable[Any]) -> None:
    """Give each row its Show to Users URL (`toggle_url`), reversed once for all of them:
    the URLs differ only by the pk, and reversing one costs about as much as rendering the
    rest of its row (a tab shows 50)."""
    before, after = reverse("coupa:toggle", args=[kind, _PK_MARK]).split(str(_PK_MARK))
    for row in rows:
        row.toggle_url = f"{before}{row.pk}{after}"


def _read_only_reason(connection: Connection) -> str:
    """Why the tabs offer nothing to requesters, as a banner; empty when they do."""
    if connection_offers_records(connection):
        return ""
    if connection.state == Connection.State.DRAFT:
        return (
            "Coupa is a draft: it has not validated yet, so nothing is imported or offered "
            "to requesters."
        )
    return "Coupa is disconnected: this data is kept read-only and offered to nobody."


class ToggleView(CapabilityRequiredMixin, View):
    """Show or hide one record; saves at once (htmx swaps the row)."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest, kind: str, pk: int) -> HttpResponse:
        if kind not in PICKABLE:
            raise Http404
        connection = current_connection(request)
        shown = request.POST.get("show_to_users") == "1"
        records_set_shown(
            connection=connection, user=request_user(request), kind=kind, ids=[pk], shown=shown
        )
        row = (
            record_list(
                organization=request_organization(request),
                connection=connection,
                kind=kind,
                filters=RecordFilter(),
            )
            .filter(pk=pk)
            .first()
        )
        if row is None:
            raise Http404
        if getattr(request, "htmx", False):
            _set_toggle_urls(kind, [row])
            # The row, and the tab's counts out of band: "N offered" follows the toggle.
            return render(
                request,
                "coupa/_record_toggled.html",
                {
                    "r": row,
                    "kind": kind,
                    "can_toggle": True,
                    "c": record_counts(connection=connection, kind=kind),
                },
            )
        return redirect(reverse("coupa:records", args=[kind]))


class BulkToggleView(CapabilityRequiredMixin, View):
    """Show or hide every record matching the current filter."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest, kind: str) -> HttpResponse:
        if kind not in PICKABLE:
            raise Http404
        connection = current_connection(request)
        shown = request.POST.get("show_to_users") == "1"
        try:
            filters = parse_filter(request.POST, kind=kind)
        except RecordFilterError as exc:
            return render_records(
                request, kind, request.POST, error=f"Nothing was changed. {exc.message}"
            )
        query = request.POST.get("query", "")
        back = reverse("coupa:records", args=[kind]) + (f"?{query}" if query else "")
        if not is_confirmed(request):
            matching = record_list(
                organization=request_organization(request),
                connection=connection,
                kind=kind,
                filters=filters,
            ).count()
            if matching:
                return _bulk_confirmation(
                    request, kind=kind, count=matching, shown=shown, back=back
                )
        changed = records_bulk_set_shown(
            connection=connection,
            user=request_user(request),
            kind=kind,
            filters=filters,
            shown=shown,
        )
        messages.success(
            request,
            f"{changed} record{'s' if changed != 1 else ''} {'shown to' if shown else 'hidden from'} requesters.",
        )
        return redirect(back)


def _bulk_confirmation(
    request: HttpRequest, *, kind: str, count: int, shown: bool, back: str
) -> HttpResponse:
    noun = RESOURCES[kind].title.lower()
    if count == 1:
        noun = noun.removesuffix("s")
    every = (
        f"This applies to all {count} {noun} matching the current filter, on every page, "
        "not only the page shown."
        if count != 1
        else f"This applies to the one {noun} matching the current filter."
    )
    if shown:
        question = f"Show {count} {noun} to requesters?"
        effect = (
            "Requesters can then pick those that are active in Coupa (and, for accounts, "
            "of a selected chart)."
        )
    else:
        question = f"Hide {count} {noun} from requesters?"
        effect = "Requesters can no longer pick them; show them again at any time."
    return confirmation_page(
        request,
        question=question,
        details=[every, effect],
        confirm_label=f"{'Show' if shown else 'Hide'} {count} {noun}",
        cancel_url=back,
    )


class ChartsView(CapabilityRequiredMixin, View):
    """The charts-of-accounts slider: choose which charts' accounts are imported."""

    capability = Capability.VIEW_INTEGRATIONS
    write_capability = Capability.CONFIGURE_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        connection = current_connection(request)
        organization, user = request_organization(request), request_user(request)
        return render(
            request,
            "coupa/charts.html",
            {
                "connection": connection,
                "is_draft": connection.state == Connection.State.DRAFT,
                "can_sync": connection_sync_blocker(connection) is None
                and user_can(user, Capability.TRIGGER_SYNC),
                "charts": list(chart_list(connection=connection)),
                "can_configure": user_can(user, Capability.CONFIGURE_INTEGRATIONS),
                # The panel opens over the integration page it belongs to.
                "cards": procurement_cards(organization=organization, user=user),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        connection = current_connection(request)
        chosen = {int(v) for v in request.POST.getlist("charts") if v.isdigit()}
        try:
            run = charts_select(connection=connection, chart_ids=chosen, user=request_user(request))
        except ChartSelectionError as exc:
            messages.error(request, str(exc))
            return redirect("coupa:charts")
        messages.success(
            request, f"{len(chosen)} chart{'s' if len(chosen) != 1 else ''} of accounts selected."
        )
        if run is not None:
            # Tagged so the progress panel removes it once the run is over.
            messages.info(request, f"Importing their accounts now (sync {run.pk}).", SYNC_RUN_TAG)
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
        except (SyncRequestError, JobQueueUnavailableError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Sync {run.pk} is {run.get_state_display().lower()}.",
                f"{SYNC_RUN_TAG} {SYNC_STATE_TAG}",
            )
        return redirect("integrations:procurement")


class PrSyncView(CapabilityRequiredMixin, View):
    """Sync activity's ops button: refresh the PRs' statuses and POs now (a daily pass)."""

    capability = Capability.TRIGGER_SYNC

    def post(self, request: HttpRequest) -> HttpResponse:
        requisition_sync_request(connection=current_connection(request))
        messages.success(
            request, "Coupa PR statuses are being synced; the run appears below when done."
        )
        return redirect("integrations:sync_activity")


class SyncCancelView(CapabilityRequiredMixin, View):
    capability = Capability.TRIGGER_SYNC

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = sync_run_list(organization=request_organization(request)).filter(pk=pk).first()
        if run is None:
            raise Http404
        sync_cancel(run=run, user=request_user(request))
        messages.success(request, f"Sync {run.pk} is being cancelled.", SYNC_RUN_TAG)
        return redirect("integrations:procurement")


def _run_order(run: SyncRun) -> list[str]:
    return [r for r in RESOURCES if not run.resources or r in run.resources]


def progress_percent(run: SyncRun) -> int:
    """A rough share of the run done, by the resource it is on (for the progress bar)."""
    order = _run_order(run)
    resource = run.progress.get("resource")
    if resource not in order:
        return 3
    return max(3, int(100 * order.index(resource) / len(order)))


def progress_step(run: SyncRun) -> dict[str, Any] | None:
    """The resource a running sync is on, as "step 4 of 10: Items" (None before it starts)."""
    order = _run_order(run)
    resource = run.progress.get("resource")
    if resource not in order:
        return None
    return {
        "number": order.index(resource) + 1,
        "of": len(order),
        "title": RESOURCES[resource].title,
    }


class SyncProgressView(CapabilityRequiredMixin, View):
    """The progress panel fragment, polled while a sync runs."""

    capability = Capability.VIEW_INTEGRATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        connection = connection_current(organization=request_organization(request))
        runs = (
            list(
                sync_run_list(organization=request_organization(request)).filter(
                    connection=connection
                )[:5]
            )
            if connection
            else []
        )
        live = next((r for r in runs if r.is_live), None)
        return render(
            request,
            "coupa/_sync_progress.html",
            {
                "live": live,
                "percent": progress_percent(live) if live else 0,
                "step": progress_step(live) if live else None,
                "runs": runs,
                "counts": list(record_counts_all(connection=connection).items())
                if connection
                else [],
                "connection": connection,
                "can_sync": user_can(request.user, Capability.TRIGGER_SYNC),
            },
        )
