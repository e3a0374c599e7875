"""Pages of a workflow version's Coupa side: the field mapping, its preview, custom fields."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from coupa.requisitions.mapping import mapping_problems, mapping_table
from spendflo.users.context import request_organization
from spendflo.users.permissions import CapabilityRequiredMixin
from spendflo.users.roles import Capability
from spendflo.workflows.models import WorkflowVersion


def _version(request: HttpRequest, workflow_id: int, number: int) -> WorkflowVersion:
    version = (
        WorkflowVersion.objects.select_related("workflow")
        .filter(
            workflow_id=workflow_id,
            number=number,
            workflow__organization=request_organization(request),
        )
        .first()
    )
    if version is None:
        raise Http404("No such workflow version.")
    return version


class MappingView(CapabilityRequiredMixin, View):
    """The mapping table of one version (read-only until the editing page lands)."""

    capability = Capability.CONFIGURE_INTEGRATIONS

    def get(self, request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
        version = _version(request, workflow_id, number)
        return render(
            request,
            "coupa/mapping.html",
            {
                "version": version,
                "rows": mapping_table(version),
                "problems": mapping_problems(version),
            },
        )
