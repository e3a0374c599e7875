"""Reads of a Coupa connection: its Coupa settings and what pages, API and commands show."""

from __future__ import annotations

from typing import Any

from coupa.client.connection import coupa_settings
from integrations.models import Connection


def connection_summary(connection: Connection) -> dict[str, Any]:
    """What pages, the API and `coupa_status` show about a connection (never the secret)."""
    coupa = coupa_settings(connection)
    return {
        "state": connection.state,
        "state_label": connection.get_state_display(),
        "state_reason": connection.state_reason,
        "base_url": connection.base_url,
        "host": connection.host,
        "client_id": coupa.client_id,
        "granted_scopes": list(coupa.granted_scopes),
        "missing_scopes": list(coupa.missing_scopes),
        "rate_limit": connection.rate_limit,
        "last_validated_at": connection.last_validated_at.isoformat()
        if connection.last_validated_at
        else None,
    }
