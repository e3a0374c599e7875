"""Coupa pages: connect, edit, disconnect, validation progress. Thin: form, permission, service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from coupa.domains import CoupaDomainError
from coupa.forms import ConnectForm, EditConnectionForm
from coupa.services.connections import (
    ConnectionChangeError,
    ConnectionInput,
    coupa_connect,
    coupa_connection_update,
    coupa_disconnect,
    coupa_validate,
)
from integrations.selectors import connection_current, connection_validation_get
from spendflo.users.context import request_organization, request_user
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability


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
            else:
                return redirect("coupa:validation", pk=validation.pk)
        return render(request, self.template, {"form": form}, status=400)

    def save(self, request: HttpRequest, form: ConnectForm) -> Any:
        return coupa_connect(
            organization=request_organization(request), user=request_user(request), data=ConnectionInput.from_mapping(form.cleaned_data)
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
            "client_id": connection.client_id,
            "rate_limit": connection.rate_limit,
        }

    def save(self, request: HttpRequest, form: ConnectForm) -> Any:
        return coupa_connection_update(
            organization=request_organization(request), user=request_user(request), data=ConnectionInput.from_mapping(form.cleaned_data)
        )


class DisconnectView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest) -> HttpResponse:
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


class ValidateView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE_INTEGRATIONS

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            validation = coupa_validate(
                organization=request_organization(request), user=request_user(request)
            )
        except ConnectionChangeError as exc:
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
