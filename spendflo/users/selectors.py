from __future__ import annotations

from django.db.models import QuerySet

from spendflo.organizations.models import Organization
from spendflo.users.models import User


def user_list(*, organization: Organization) -> QuerySet[User]:
    """The organization's users, admins first."""
    return User.objects.filter(organization=organization).order_by("role", "email")
