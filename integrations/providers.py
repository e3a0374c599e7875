"""The small interface a provider (Coupa today) offers to the provider-neutral pages.

Providers are named in the `INTEGRATION_PROVIDERS` setting (dotted paths of classes, as
Django names authentication backends), so this package never imports a provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from spendflo.organizations.models import Organization
from spendflo.users.models import User

if TYPE_CHECKING:
    from spendflo.workflows.models import PurchaseRequest, WorkflowVersion


@dataclass(frozen=True)
class ProviderCard:
    """What the Procurement page shows for one provider: a template and its context."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Blocker:
    """One reason a workflow version cannot be published.

    `target` names the row to fix (a provider field key such as `line.currency`), or is
    empty for the form, the steps or the connection.
    """

    target: str
    message: str
    url: str = ""  # where to fix it (the mapping row), when the provider has a page for it


class IntegrationProvider(Protocol):
    key: str  # the `Connection.provider` value
    name: str  # shown to admins

    def procurement_card(self, *, organization: Organization, user: User) -> ProviderCard:
        """The provider's card on Settings → Integrations → Procurement."""
        ...

    def workflow_blockers(self, *, version: WorkflowVersion) -> list[Blocker]:
        """What keeps a workflow version from being published (its mapping, the connection)."""
        ...

    def workflow_links(self, *, version: WorkflowVersion) -> list[tuple[str, str]]:
        """(label, URL) of the provider's pages for a version, e.g. its field mapping."""
        ...

    def sync_activity_actions(
        self, *, organization: Organization, user: User
    ) -> list[tuple[str, str]]:
        """(label, URL to POST) of the provider's buttons on the Sync activity page."""
        ...

    # -- requests (the provider's document for a request: Coupa's PR and its POs) -------

    def request_problems(
        self, *, version: WorkflowVersion, answers: Any, requester: User
    ) -> list[Blocker]:
        """Why these answers cannot become the provider's document, before anything is sent."""
        ...

    def request_send(self, *, request: PurchaseRequest) -> None:
        """Queue the creation of the request's document (exactly once); inside a transaction."""
        ...

    def request_retry(self, *, request: PurchaseRequest, user: User | None) -> None:
        """Try again a creation that failed (after the admin fixed the cause)."""
        ...

    def request_document(self, *, request: PurchaseRequest) -> dict[str, Any] | None:
        """What to show of the request's document: id, status, link, orders; None if none."""
        ...


@cache
def _load(paths: tuple[str, ...]) -> tuple[IntegrationProvider, ...]:
    return tuple(import_string(path)() for path in paths)


def provider_list() -> tuple[IntegrationProvider, ...]:
    """The configured providers, in the order the setting names them."""
    return _load(tuple(settings.INTEGRATION_PROVIDERS))


def procurement_cards(*, organization: Organization, user: User) -> list[ProviderCard]:
    """Every provider's card of the Procurement page (the page, and panels opened over it)."""
    return [p.procurement_card(organization=organization, user=user) for p in provider_list()]
