from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from spendflo.users.roles import Capability, capabilities_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Expose the signed-in user's capabilities so the layout shows only usable links."""
    user = getattr(request, "user", None)
    caps = capabilities_for(user) if user is not None and user.is_authenticated else frozenset()
    return {"can": {c.value: (c in caps) for c in Capability}}
