from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from spendflo.organizations.models import Organization
from spendflo.users.models import User


class UserError(Exception):
    """A user change that cannot be made; the message is shown to the admin."""


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def user_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
) -> tuple[User, str]:
    """Create an active user in an organization; return it and its initial password."""
    email = email.strip().lower()
    limit = User._meta.get_field("username").max_length or 0
    if len(email) > limit:
        # The username mirrors the email; a longer one would fail in the database.
        raise UserError(f"Email addresses longer than {limit} characters are not supported.")
    if User.objects.filter(email__iexact=email).exists():
        raise UserError(f"A user with the email {email} already exists.")
    if role not in User.Role.values:
        raise UserError(f"Unknown role {role!r}.")
    password = password or generate_password()
    user = User.objects.create_user(
        email=email,
        password=password,
        organization=organization,
        role=role,
        first_name=first_name,
        last_name=last_name,
    )
    return user, password


def _ensure_another_admin_remains(user: User) -> None:
    others = User.objects.filter(
        organization=user.organization, role=User.Role.ADMIN, is_active=True
    ).exclude(pk=user.pk)
    if user.role == User.Role.ADMIN and not others.exists():
        raise UserError("An organization needs at least one active admin.")


@transaction.atomic
def user_change_role(*, user: User, role: str) -> User:
    """Give a user another role; the last active admin keeps theirs."""
    if role not in User.Role.values:
        raise UserError(f"Unknown role {role!r}.")
    if role != User.Role.ADMIN:
        _ensure_another_admin_remains(user)
    user.role = role
    user.save(update_fields=["role"])
    return user


@transaction.atomic
def user_set_active(*, user: User, active: bool) -> User:
    """Deactivate (or reactivate) a user; deactivated users cannot sign in."""
    if not active:
        _ensure_another_admin_remains(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user


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
