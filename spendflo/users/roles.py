"""What each role may do. Pages and API endpoints check capabilities, never role names."""

from __future__ import annotations

import enum
from typing import Any


class Capability(enum.StrEnum):
    MANAGE_USERS = "manage_users"
    CONFIGURE_INTEGRATIONS = "configure_integrations"
    VIEW_INTEGRATIONS = "view_integrations"
    TRIGGER_SYNC = "trigger_sync"
    VIEW_SYNC_ACTIVITY = "view_sync_activity"
    SUBMIT_REQUESTS = "submit_requests"
    MANAGE_WORKFLOWS = "manage_workflows"
    VIEW_ALL_REQUESTS = "view_all_requests"  # every request of the organization
    MANAGE_REQUESTS = "manage_requests"  # retry a request whose document failed


_ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "admin": frozenset(Capability),
    "ops": frozenset(
        {
            Capability.VIEW_INTEGRATIONS,
            Capability.TRIGGER_SYNC,
            Capability.VIEW_SYNC_ACTIVITY,
            Capability.VIEW_ALL_REQUESTS,
        }
    ),
    "requester": frozenset({Capability.SUBMIT_REQUESTS}),
}


def user_can(user: Any, capability: Capability) -> bool:
    """Whether an authenticated, active organization member holds a capability."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.organization_id is None:
        return False
    return capability in _ROLE_CAPABILITIES.get(user.role, frozenset())


def capabilities_for(user: Any) -> frozenset[Capability]:
    return frozenset(c for c in Capability if user_can(user, c))


# What each capability lets a user do, as the sentence of a refusal says it.
_CAPABILITY_WORDS: dict[Capability, str] = {
    Capability.MANAGE_USERS: "manage users",
    Capability.CONFIGURE_INTEGRATIONS: "change the integrations' configuration",
    Capability.VIEW_INTEGRATIONS: "open the integration settings",
    Capability.TRIGGER_SYNC: "start syncs",
    Capability.VIEW_SYNC_ACTIVITY: "see the sync activity",
    Capability.SUBMIT_REQUESTS: "submit purchase requests",
    Capability.MANAGE_WORKFLOWS: "manage workflows",
    Capability.VIEW_ALL_REQUESTS: "see every request of the organization",
    Capability.MANAGE_REQUESTS: "retry failed requests",
}
_ROLE_PLURALS = {"admin": "admins", "ops": "ops users", "requester": "requesters"}


def capability_refusal(user: Any, capability: Capability) -> str:
    """Why `user` may not do what `capability` allows, in one sentence naming who may."""
    holders = [
        _ROLE_PLURALS.get(role, role)
        for role, caps in _ROLE_CAPABILITIES.items()
        if capability in caps
    ]
    who = " and ".join(holders) or "nobody"
    what = _CAPABILITY_WORDS.get(capability, capability.value.replace("_", " "))
    role = user.get_role_display() if hasattr(user, "get_role_display") else ""
    return f"Only {who} can {what}" + (f"; your role is {role}." if role else ".")
