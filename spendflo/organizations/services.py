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


@transaction.atomic
def organization_set_show_new_records(
    *, organization: Organization, user: User | None, shown: bool
) -> Organization:
    """Choose whether newly imported Coupa records are offered to requesters by default.

    Applies to records imported from now on; existing records keep their own choice.
    """
    from integrations.models import AuditEvent
    from integrations.services import audit_record

    if organization.show_new_records_by_default != shown:
        organization.show_new_records_by_default = shown
        organization.save(update_fields=["show_new_records_by_default"])
        audit_record(
            organization=organization,
            action=AuditEvent.Action.TOGGLE,
            summary="New Coupa records are "
            + ("shown to users by default" if shown else "hidden from users by default"),
            actor=user,
            details={"show_new_records_by_default": shown},
        )
    return organization
