"""Reads of a Coupa connection: its Coupa settings and what pages, API and commands show."""

from __future__ import annotations

from typing import Any

from coupa.client.connection import coupa_settings
from integrations.models import Connection
from integrations.selectors import connection_sync_blocker

# What can be done with a connection, in the order the card offers it.
ACTIONS = ("sync", "edit", "configure_charts", "validate", "disconnect", "connect")


def connection_actions(connection: Connection | None) -> list[str]:
    """The actions that make sense for a connection now (pages and API alike).

    A draft (never validated) can only be edited and validated; Sync Data only while
    the connection can sync; a disconnected or missing connection can be connected.
    """
    if connection is None or connection.state == Connection.State.DISCONNECTED:
        return ["connect"]
    if connection.state == Connection.State.DRAFT:
        return ["edit", "validate"]
    allowed = {"edit", "configure_charts", "validate", "disconnect"}
    if connection_sync_blocker(connection) is None:
        allowed.add("sync")
    return [a for a in ACTIONS if a in allowed]


def connection_summary(connection: Connection) -> dict[str, Any]:
    """What pages, the API and `coupa_status` show about a connection (never the secret).

    `is_draft`: the connection never validated, so nothing is imported or offered yet.
    `scopes_checked`: a validation got as far as checking the scopes; until then the
    missing scopes are unknown, not "none".
    """
    coupa = coupa_settings(connection)
    return {
        "state": connection.state,
        "state_label": connection.get_state_display(),
        "state_reason": connection.state_reason,
        "is_draft": connection.state == Connection.State.DRAFT,
        "actions": connection_actions(connection),
        "base_url": connection.base_url,
        "host": connection.host,
        "client_id": coupa.client_id,
        "scopes_checked": bool(coupa.granted_scopes or coupa.missing_scopes),
        "granted_scopes": list(coupa.granted_scopes),
        "missing_scopes": list(coupa.missing_scopes),
        "rate_limit": connection.rate_limit,
        "last_validated_at": connection.last_validated_at.isoformat()
        if connection.last_validated_at
        else None,
    }
