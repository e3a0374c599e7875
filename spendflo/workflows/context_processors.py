from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from spendflo.workflows.selectors import notice_list


def notices(request: HttpRequest) -> dict[str, Any]:
    """The signed-in member's unread notice count, for the navigation.

    Counted when a template first shows it: fragments that render no navigation (a toggled
    row, a polled panel) issue no query for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "organization_id", None) is None:
        return {"unread_notices": 0}
    return {"unread_notices": SimpleLazyObject(lambda: notice_list(user=user, unread=True).count())}
