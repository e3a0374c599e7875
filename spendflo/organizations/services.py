from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from spendflo.organizations.models import Organization
from spendflo.users.models import User
from spendflo.users.services import user_create


class OrganizationExistsError(Exception):
    """An organization with that slug already exists."""


@dataclass(frozen=True)
class CreatedOrganization:
    organization: Organization
    admin: User
    password: str


@transaction.atomic
def organization_create(*, slug: str, name: str, admin_email: str) -> CreatedOrganization:
    """Create an organization with its first admin; return the admin's one-time password."""
    if Organization.objects.filter(slug=slug).exists():
        raise OrganizationExistsError(f"An organization with the slug {slug!r} already exists.")
    organization = Organization.objects.create(slug=slug, name=name)
    admin, password = user_create(
        organization=organization, email=admin_email, role=User.Role.ADMIN
    )
    return CreatedOrganization(organization=organization, admin=admin, password=password)
