"""Coupa as an `integrations.providers.IntegrationProvider` (named in INTEGRATION_PROVIDERS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.urls import reverse

from coupa.connections.selectors import connection_summary
from coupa.reference.selectors import chart_list, record_counts_all
from coupa.requisitions.mapping import Problem, connection_problems, mapping_problems
from coupa.requisitions.push import (
    requisition_document,
    requisition_documents,
    requisition_problems,
    requisition_retry,
    requisition_send,
)
from coupa.requisitions.services import answer_labels
from integrations.models import Connection, Provider
from integrations.providers import Blocker, ProviderCard
from integrations.selectors import (
    connection_current,
    connection_sync_blocker,
    connection_validation_latest,
)
from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.users.roles import Capability, user_can
from spendflo.workflows.models import PurchaseRequest, WorkflowVersion


class CoupaProvider:
    key = Provider.COUPA.value
    name = "Coupa"

    def procurement_card(self, *, organization: Organization, user: User) -> ProviderCard:
        """Coupa's card: state, configuration, tab counts, selected charts, syncs."""
        connection = connection_current(organization=organization, provider=self.key)
        state = connection.state if connection else Connection.State.NOT_CONNECTED
        context: dict[str, Any] = {
            "name": self.name,
            "connection": connection,
            "state": state,
            "state_label": Connection.State(state).label,
            "counts": {},
            "selected_charts": [],
            "summary": None,
            "validation": None,
            "actions": ["connect"],
        }
        if connection is not None:
            summary = connection_summary(connection)
            context.update(
                counts=record_counts_all(connection=connection),
                selected_charts=[c.name for c in chart_list(connection=connection) if c.selected],
                summary=summary,
                validation=connection_validation_latest(connection=connection),
                actions=summary["actions"],
            )
        return ProviderCard(template="coupa/_procurement_card.html", context=context)

    def workflow_blockers(self, *, version: WorkflowVersion) -> list[Blocker]:
        """The mapping's problems and the connection's, as the publish gate lists them.

        Each links to where it is fixed: its row of the mapping page, or the connection.
        """
        mapping = _mapping_url(version)
        connection = reverse("integrations:procurement")
        about_connection = set(connection_problems(version))
        return [
            Blocker(p.target, p.message, _blocker_url(p, mapping, connection, about_connection))
            for p in mapping_problems(version)
        ]

    def workflow_links(self, *, version: WorkflowVersion) -> list[tuple[str, str]]:
        """The version's Coupa field mapping and its preview."""
        kwargs = {"workflow_id": version.workflow_id, "number": version.number}
        return [
            ("Coupa field mapping", _mapping_url(version)),
            ("Preview the Coupa requisition", reverse("coupa:preview", kwargs=kwargs)),
        ]

    def sync_activity_actions(
        self, *, organization: Organization, user: User
    ) -> list[tuple[str, str]]:
        """Ops and admins can refresh the PRs' statuses and POs now (of a usable connection)."""
        connection = connection_current(organization=organization, provider=self.key)
        if connection is None or not user_can(user, Capability.TRIGGER_SYNC):
            return []
        if connection_sync_blocker(connection) is not None:
            return []
        return [("Sync Coupa PR statuses now", reverse("coupa:pr_sync"))]

    # -- requests ---------------------------------------------------------------------

    def request_problems(
        self, *, version: WorkflowVersion, answers: Any, requester: User
    ) -> list[Blocker]:
        """The mapping's problems, the answers' (against imported data) and R39's."""
        return [
            Blocker(target, message)
            for target, message in requisition_problems(
                version=version, answers=answers, requester=requester
            )
        ]

    def request_send(self, *, request: PurchaseRequest) -> None:
        """Record the requisition and queue its creation on commit (exactly once)."""
        requisition_send(request=request)

    def request_retry(self, *, request: PurchaseRequest, user: User | None) -> None:
        """Queue a failed requisition again (the payload is rebuilt from the mapping)."""
        requisition_retry(request=request, user=user)

    def request_document(self, *, request: PurchaseRequest) -> dict[str, Any] | None:
        """The PR: id, status, link, state, error, attempts and its purchase orders."""
        return requisition_document(request=request)

    def request_labels(self, *, request: PurchaseRequest) -> dict[str, Any] | None:
        """The names of the picked records, from imported data (not from the browser)."""
        return answer_labels(request=request)

    def request_documents(
        self, *, requests: Sequence[PurchaseRequest]
    ) -> dict[int, dict[str, Any]]:
        """The PRs of many requests at once (the request lists), by request pk."""
        return requisition_documents(requests=requests)


def _blocker_url(problem: Problem, mapping: str, connection: str, about: set[Problem]) -> str:
    """A mapping row's problem links to its row; the connection's to the Procurement page;
    the form's (no line fields) to nothing: it is fixed on the workflow page itself."""
    if problem.target:
        return f"{mapping}#row-{problem.target}"
    return connection if problem in about else ""


def _mapping_url(version: WorkflowVersion) -> str:
    return reverse(
        "coupa:mapping", kwargs={"workflow_id": version.workflow_id, "number": version.number}
    )
