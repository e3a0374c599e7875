"""Shared reads of connections and their runs, and the two rules about a connection's state.

- **Offers records**: requesters may pick a connection's imported records (subject to each
  record's own rule) while it is current and connected, validating or needing attention:
  data of a connection that needs attention is still valid. A disconnected or archived
  connection offers nothing. `connection_offering_q` (for queries) and
  `connection_offers_records` (for one row) are the same rule.
- **Syncable**: a connection may be synced only while it is current and connected.
  `connection_sync_blocker` says why not, in one sentence; `connection_syncable_list` is the
  same rule as a query.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from integrations.models import Connection, ConnectionValidation, Provider, SyncRun
from spendflo.organizations.models import Organization

OFFERING_STATES = (
    Connection.State.CONNECTED,
    Connection.State.VALIDATING,
    Connection.State.NEEDS_ATTENTION,
)


def connection_offering_q(prefix: str = "") -> Q:
    """Connections whose records are on offer; `prefix` reaches them through a relation."""
    return Q(**{f"{prefix}archived_at__isnull": True, f"{prefix}state__in": OFFERING_STATES})


def connection_offers_records(connection: Connection) -> bool:
    """Whether requesters may pick this connection's records (subject to each record)."""
    return connection.archived_at is None and connection.state in OFFERING_STATES


def connection_sync_blocker(connection: Connection) -> str | None:
    """Why the connection cannot be synced now, as a sentence for the admin; None if it can."""
    name = connection.get_provider_display()
    if connection.archived_at is not None:
        return (
            f"This {name} instance was replaced by another connection; its data is kept "
            "read-only and no longer synced."
        )
    state = connection.state
    if state == Connection.State.CONNECTED:
        return None
    if state == Connection.State.NEEDS_ATTENTION:
        reason = connection.state_reason.strip()
        return (
            f"The {name} connection needs attention"
            + (f" ({reason.rstrip('.')})" if reason else "")
            + "; fix it and validate the connection to resume syncing."
        )
    if state == Connection.State.DRAFT:
        return (
            f"The {name} connection is a draft: it has never validated. Edit its "
            "configuration and validate it before syncing data."
        )
    if state == Connection.State.DISCONNECTED:
        return f"{name} is disconnected; connect it again to sync data."
    return f"{name} is not connected yet; finish connecting before syncing data."


def connection_syncable_list(*, provider: str) -> QuerySet[Connection]:
    """Every connection of `provider` that `connection_sync_blocker` lets sync."""
    return Connection.objects.filter(
        provider=provider, archived_at__isnull=True, state=Connection.State.CONNECTED
    ).order_by("pk")


def connection_current(
    *, organization: Organization, provider: str = Provider.COUPA
) -> Connection | None:
    """The organization's current (not archived) connection to a provider, if any.

    Read through the organization's relation, so the connection's `organization` is the
    instance in hand (services and audit events that read it issue no second query).
    """
    return organization.connections.filter(provider=provider, archived_at__isnull=True).first()


def connection_has_validated(*, connection: Connection) -> bool:
    """Whether a validation of the connection ever succeeded."""
    return connection.validations.filter(state=ConnectionValidation.State.SUCCEEDED).exists()


def connection_validation_latest(*, connection: Connection) -> ConnectionValidation | None:
    return connection.validations.order_by("-created_at", "-pk").first()


def connection_validation_get(
    *, organization: Organization, validation_id: int
) -> ConnectionValidation | None:
    """A validation run, only if it belongs to the organization (tenant isolation)."""
    return (
        ConnectionValidation.objects.select_related("connection")
        .filter(pk=validation_id, connection__organization=organization)
        .first()
    )


def sync_run_list(*, organization: Organization) -> QuerySet[SyncRun]:
    """The organization's sync runs across its connections, newest first."""
    return (
        SyncRun.objects.filter(connection__organization=organization)
        .select_related("connection", "requested_by")
        .order_by("-created_at", "-pk")
    )
